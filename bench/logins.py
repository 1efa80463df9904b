#!/usr/bin/env python3
"""Logins per second against a converged mail host: N IMAP logins one after
the other (STARTTLS, LOGIN, LOGOUT), as a mail client makes them, and the
median time of one. Each login goes Cyrus -> the password checker
(mail-auth, one query on its kept connection) -> the database.

  bench/logins.py HOST USER PASSWORD [-n 50]

Used for the numbers in bench/results/logins.md (issue 10's per-login cost).
"""
import argparse
import imaplib
import ssl
import statistics
import time

CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def one_login(host, user, password):
    start = time.perf_counter()
    m = imaplib.IMAP4(host, 143)
    m.starttls(ssl_context=CTX)
    m.login(user, password)
    m.logout()
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("user")
    p.add_argument("password")
    p.add_argument("-n", type=int, default=50)
    a = p.parse_args()
    one_login(a.host, a.user, a.password)  # a warm connection path
    times = [one_login(a.host, a.user, a.password) for _ in range(a.n)]
    total = sum(times)
    print(f"{a.n} logins in {total:.2f} s: {a.n / total:.1f} logins/s, median {statistics.median(times) * 1000:.1f} ms per login")


if __name__ == "__main__":
    main()
