#!/usr/bin/env python3
"""A real SMTP/IMAP client for the mail end-to-end tests.

Runs on the controller against a lab host's address (Python's smtplib and
imaplib, nothing installed), and prints one JSON object per command so that
the Rust tests can assert on exact outcomes.

  mail_client.py send HOST PORT FROM TO SUBJECT [--starttls] [--login USER PW] [--header K:V]
  mail_client.py fetch HOST USER PW FOLDER SUBJECT [--wait SECONDS]
  mail_client.py login HOST USER PW
  mail_client.py quota HOST USER PW
  mail_client.py folders HOST USER PW
  mail_client.py move HOST USER PW FROM_FOLDER TO_FOLDER SUBJECT
"""
import argparse
import imaplib
import json
import smtplib
import ssl
import sys
import time

CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE  # the lab's certificates are self-signed


def out(**kw):
    print(json.dumps(kw))


def send(a):
    msg = f"From: {a.sender}\r\nTo: {a.to}\r\nSubject: {a.subject}\r\n"
    for h in a.header:
        msg += h.replace(":", ": ", 1) + "\r\n"
    # Long enough for rspamd's Bayes classifier, which refuses to learn
    # from fewer than 11 tokens.
    msg += (
        f"\r\nA test message from mailplay's tests about {a.subject}.\r\n"
        "It carries a few ordinary sentences so that a spam filter has words\r\n"
        "to look at when somebody files it as spam or as a wanted message.\r\n"
    )
    stage = "connect"
    try:
        s = smtplib.SMTP(a.host, a.port, timeout=60)
        stage = "ehlo"
        s.ehlo("client.test.invalid")
        if a.starttls:
            stage = "starttls"
            s.starttls(context=CTX)
            s.ehlo("client.test.invalid")
        if a.login:
            stage = "auth"
            s.login(a.login[0], a.login[1])
        stage = "mail"
        code, resp = s.mail(a.sender)
        if code >= 400:
            return out(ok=False, stage=stage, code=code, text=resp.decode())
        stage = "rcpt"
        code, resp = s.rcpt(a.to)
        if code >= 400:
            return out(ok=False, stage=stage, code=code, text=resp.decode())
        stage = "data"
        code, resp = s.data(msg)
        s.quit()
        out(ok=code < 400, stage=stage, code=code, text=resp.decode())
    except smtplib.SMTPResponseException as e:
        out(ok=False, stage=stage, code=e.smtp_code, text=e.smtp_error.decode(errors="replace"))
    except smtplib.SMTPException as e:
        out(ok=False, stage=stage, code=0, text=str(e))


def imap(host, user, pw, tls_port=None):
    if tls_port:
        m = imaplib.IMAP4_SSL(host, tls_port, ssl_context=CTX)
    else:
        m = imaplib.IMAP4(host, 143)
        m.starttls(ssl_context=CTX)
    m.login(user, pw)
    return m


def login(a):
    try:
        m = imap(a.host, a.user, a.pw, 993 if a.imaps else None)
        m.logout()
        out(ok=True)
    except imaplib.IMAP4.error as e:
        out(ok=False, text=str(e))


def fetch(a):
    m = imap(a.host, a.user, a.pw)
    deadline = time.time() + a.wait
    while True:
        typ, _ = m.select(f'"{a.folder}"')
        if typ != "OK":
            return out(ok=False, text=f"cannot select {a.folder}")
        typ, data = m.search(None, "SUBJECT", f'"{a.subject}"')
        ids = data[0].split()
        if ids or time.time() > deadline:
            break
        time.sleep(0.5)
    if not ids:
        return out(ok=False, text=f"no message '{a.subject}' in {a.folder}")
    typ, data = m.fetch(ids[-1], "(BODY.PEEK[HEADER])")
    headers = data[0][1].decode(errors="replace")
    m.logout()
    out(ok=True, headers=headers)


def quota(a):
    m = imap(a.host, a.user, a.pw)
    typ, data = m.getquotaroot("INBOX")
    m.logout()
    out(ok=typ == "OK", text=" ".join(x.decode() if isinstance(x, bytes) else str(x) for part in data for x in part))


def folders(a):
    m = imap(a.host, a.user, a.pw)
    typ, data = m.lsub()
    m.logout()
    out(ok=typ == "OK", subscribed=sorted(line.decode().rsplit(" ", 1)[-1].strip('"') for line in data if line))


def move(a):
    m = imap(a.host, a.user, a.pw)
    m.select(f'"{a.source}"')
    typ, data = m.search(None, "SUBJECT", f'"{a.subject}"')
    ids = data[0].split()
    if not ids:
        return out(ok=False, text=f"no message '{a.subject}' in {a.source}")
    typ, resp = m._simple_command("MOVE", ids[-1].decode(), f'"{a.target}"')
    m.logout()
    out(ok=typ == "OK", text=str(resp))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    for n in ("host", "port", "sender", "to", "subject"):
        s.add_argument(n)
    s.add_argument("--starttls", action="store_true")
    s.add_argument("--login", nargs=2)
    s.add_argument("--header", action="append", default=[])
    f = sub.add_parser("fetch")
    for n in ("host", "user", "pw", "folder", "subject"):
        f.add_argument(n)
    f.add_argument("--wait", type=float, default=20)
    for name in ("login", "quota", "folders"):
        x = sub.add_parser(name)
        for n in ("host", "user", "pw"):
            x.add_argument(n)
        if name == "login":
            x.add_argument("--imaps", action="store_true")
    mv = sub.add_parser("move")
    for n in ("host", "user", "pw", "source", "target", "subject"):
        mv.add_argument(n)
    a = p.parse_args()
    if a.cmd == "send":
        a.port = int(a.port)
    {"send": send, "fetch": fetch, "login": login, "quota": quota, "folders": folders, "move": move}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
