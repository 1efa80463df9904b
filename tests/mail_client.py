#!/usr/bin/env python3
"""A real SMTP/IMAP client for the mail end-to-end tests.

Runs on the controller against a lab host's address (Python's smtplib and
imaplib, nothing installed), and prints one JSON object per command so that
the Rust tests can assert on exact outcomes.

  mail_client.py send HOST PORT FROM TO SUBJECT [--starttls] [--login USER PW] [--header K:V] [--size BYTES]
  mail_client.py fetch HOST USER PW FOLDER SUBJECT [--wait SECONDS] [--at-least N]
    (waits for N messages whose subject contains SUBJECT; prints how many came)
  mail_client.py login HOST USER PW [--imaps | --cleartext] [--plain]
  mail_client.py quota HOST USER PW
  mail_client.py folders HOST USER PW   (subscribed, listed with special-use flags, each selectable)
  mail_client.py append HOST USER PW FOLDER SUBJECT
  mail_client.py share HOST USER PW FOLDER WHO RIGHTS   (the folder, made if missing, with WHO's rights)
  mail_client.py greeting HOST PORT   (what the server says before a login)
  mail_client.py move HOST USER PW FROM_FOLDER TO_FOLDER SUBJECT
  mail_client.py sieve HOST USER PW [--cleartext]   (ManageSieve on 4190: the user's scripts)
  mail_client.py certs HOST PORT...   (each port's certificate as PEM: 993 direct, 25/587 after STARTTLS)
  mail_client.py relay-server PORT USER PW [--timeout SECONDS]
  mail_client.py dav HOST USER PW PATH   (CalDAV/CardDAV: PROPFIND Depth 1 over HTTPS on 443, Basic auth)
  mail_client.py lmtp HOST PORT RCPT   (a delivery over LMTP without authenticating: how far it gets)
  mail_client.py rspamd-stat HOST [--password PW]   (rspamd's controller on 11334: HTTP status, or refused)

A password argument `env:NAME` is read from the environment variable NAME.

`relay-server` plays an authenticated relay (runs on a lab host, whose
python3 reads this file from stdin): an SMTP server that demands AUTH PLAIN
or LOGIN with USER/PW, prints `listening`, then one JSON object describing
the first message it was given (or why none came), and exits.
"""
import argparse
import base64
import os
import imaplib
import socket
import json
import smtplib
import ssl
import sys
import time
import warnings

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
        # --size announces a message size (ESMTP SIZE) without sending it.
        code, resp = s.mail(a.sender, [f"SIZE={a.size}"] if a.size else [])
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


def smtp_rules(a):
    """VRFY and a MAIL before HELO, as a harvester or a bot would try."""
    s = smtplib.SMTP(a.host, 25, timeout=60)
    vrfy = s.docmd("VRFY", "alice@example.org")
    s.close()
    s = smtplib.SMTP(a.host, 25, timeout=60)
    no_helo = s.docmd("MAIL", "FROM:<someone@outside.invalid>")
    s.close()
    out(vrfy=vrfy[0], no_helo=no_helo[0], no_helo_text=no_helo[1].decode())


def tls_handshake(a):
    """Whether a port completes a TLS handshake with one version and cipher."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    # Offer exactly this (security level 0 lets the client offer old
    # things at all), so that the server decides.
    ctx.set_ciphers(f"{a.cipher}:@SECLEVEL=0")
    # TLS 1.1 is deprecated in Python too: asking for it is the point here.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    version = {"TLSv1.1": ssl.TLSVersion.TLSv1_1, "TLSv1.2": ssl.TLSVersion.TLSv1_2}[a.version]
    ctx.minimum_version = version
    ctx.maximum_version = version
    try:
        if a.starttls == "smtp":
            s = smtplib.SMTP(a.host, a.port, timeout=30)
            s.ehlo("client.test.invalid")
            s.starttls(context=ctx)
            s.quit()
        else:
            with socket.create_connection((a.host, a.port), timeout=30) as raw:
                with ctx.wrap_socket(raw) as t:
                    t.cipher()
        out(ok=True)
    except (ssl.SSLError, smtplib.SMTPException, OSError) as e:
        out(ok=False, text=str(e))


def imap(host, user, pw, tls_port=None, plain=False, cleartext=False):
    if tls_port:
        m = imaplib.IMAP4_SSL(host, tls_port, ssl_context=CTX)
    else:
        m = imaplib.IMAP4(host, 143)
        if not cleartext:
            m.starttls(ssl_context=CTX)
    if plain:
        # SASL PLAIN carries any user name (quotes, spaces) byte for byte.
        m.authenticate("PLAIN", lambda _: b"\0" + user.encode() + b"\0" + pw.encode())
    else:
        m.login(user, pw)
    return m


def login(a):
    try:
        m = imap(a.host, a.user, a.pw, 993 if a.imaps else None, plain=a.plain, cleartext=a.cleartext)
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
        if len(ids) >= a.at_least or time.time() > deadline:
            break
        time.sleep(0.5)
    if len(ids) < a.at_least:
        return out(ok=False, count=len(ids), text=f"{len(ids)} of {a.at_least} messages '{a.subject}' in {a.folder}")
    typ, data = m.fetch(ids[-1], "(BODY.PEEK[HEADER])")
    headers = data[0][1].decode(errors="replace")
    m.logout()
    out(ok=True, count=len(ids), headers=headers)


def quota(a):
    m = imap(a.host, a.user, a.pw)
    typ, data = m.getquotaroot("INBOX")
    m.logout()
    out(ok=typ == "OK", text=" ".join(x.decode() if isinstance(x, bytes) else str(x) for part in data for x in part))


def list_names(data):
    """(name, flags) of LIST/LSUB replies: `(\\HasNoChildren \\Sent) "/" "Sent"`."""
    found = []
    for line in data:
        if not line:
            continue
        text = line.decode() if isinstance(line, bytes) else str(line)
        flags, rest = text[1:].split(")", 1)
        name = rest.strip().split(" ", 1)[1].strip('"')
        found.append((name, sorted(f for f in flags.split() if f not in ("\\HasChildren", "\\HasNoChildren"))))
    return found


def folders(a):
    m = imap(a.host, a.user, a.pw)
    typ, data = m.lsub()
    subscribed = sorted(name for name, _ in list_names(data))
    typ2, listed = m._simple_command("LIST", '""', '"*"', "RETURN", "(SPECIAL-USE)")
    _, listed = m._untagged_response(typ2, listed, "LIST")
    listed = {name: flags for name, flags in list_names(listed)}
    selectable = sorted(name for name in listed if m.select(f'"{name}"')[0] == "OK")
    m.logout()
    out(ok=typ == "OK" and typ2 == "OK", subscribed=subscribed, listed=listed, selectable=selectable)


def append(a):
    m = imap(a.host, a.user, a.pw)
    msg = f"From: {a.user}\r\nTo: {a.user}\r\nSubject: {a.subject}\r\n\r\nappended\r\n".encode()
    typ, data = m.append(f'"{a.folder}"', None, None, msg)
    m.logout()
    out(ok=typ == "OK", text=str(data))


def share(a):
    m = imap(a.host, a.user, a.pw)
    if m.select(f'"{a.folder}"')[0] != "OK":
        typ, data = m.create(f'"{a.folder}"')
        if typ != "OK":
            return out(ok=False, text=f"CREATE: {data}")
    typ, data = m.setacl(f'"{a.folder}"', f'"{a.who}"', a.rights)
    m.logout()
    out(ok=typ == "OK", text=str(data))


def dav(a):
    """A PROPFIND as a calendar or address book client makes it: the HTTP
    status and the hrefs of the collections found."""
    import http.client
    import re
    conn = http.client.HTTPSConnection(a.host, 443, timeout=30, context=CTX)
    token = base64.b64encode(f"{a.user}:{a.pw}".encode()).decode()
    body = '<?xml version="1.0"?><propfind xmlns="DAV:"><prop><resourcetype/><displayname/></prop></propfind>'
    try:
        conn.request("PROPFIND", a.path, body=body, headers={"Depth": "1", "Content-Type": "application/xml", "Authorization": f"Basic {token}"})
        r = conn.getresponse()
        text = r.read().decode(errors="replace")
    except OSError as e:
        return out(ok=False, status=None, text=str(e))
    hrefs = re.findall(r"<(?:\w+:)?href>([^<]*)</(?:\w+:)?href>", text)
    out(ok=r.status == 207, status=r.status, hrefs=hrefs)


def lmtp(a):
    """LHLO, MAIL, RCPT, DATA with no AUTH, as a stranger on the network
    would: ok only when the message was taken."""
    try:
        s = smtplib.LMTP(a.host, int(a.port), timeout=30)
    except OSError as e:
        return out(ok=False, stage="connect", code=None, text=str(e))
    try:
        s.ehlo_or_helo_if_needed()
        for stage, cmd in (("mail", "MAIL FROM:<someone@outside.invalid>"), ("rcpt", f"RCPT TO:<{a.rcpt}>")):
            code, msg = s.docmd(cmd)
            if code >= 400:
                return out(ok=False, stage=stage, code=code, text=msg.decode(errors="replace"))
        code, msg = s.data(b"Subject: straight to LMTP\r\n\r\nno filter saw this\r\n")
        out(ok=code < 400, stage="data", code=code, text=msg.decode(errors="replace"))
    except smtplib.SMTPException as e:
        out(ok=False, stage="data", code=getattr(e, "smtp_code", None), text=str(e))
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            pass


def rspamd_stat(a):
    import urllib.error
    import urllib.request
    req = urllib.request.Request(f"http://{a.host}:11334/stat", headers={"Password": a.password} if a.password else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            out(ok=True, status=r.status)
    except urllib.error.HTTPError as e:
        out(ok=False, status=e.code)
    except (urllib.error.URLError, OSError) as e:
        out(ok=False, status=None, text=str(e))


def greeting(a):
    """The greeting line(s) before any command: IMAP's one line, ManageSieve's
    capabilities up to its OK."""
    sock = socket.create_connection((a.host, a.port), timeout=30)
    f = sock.makefile("rb")
    lines = []
    while True:
        line = f.readline().decode(errors="replace").rstrip("\r\n")
        lines.append(line)
        if not line or a.port != 4190 or line.startswith(("OK", "NO", "BYE")):
            break
    sock.close()
    out(ok=True, text="\n".join(lines))


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


def sieve(a):
    """LISTSCRIPTS over ManageSieve (RFC 5804) after STARTTLS and AUTHENTICATE PLAIN;
    with a.script, first PUTSCRIPT and SETACTIVE it, as a user's mail client does."""
    sock = socket.create_connection((a.host, 4190), timeout=30)
    f = sock.makefile("rb")

    def until_ok():
        lines = []
        while True:
            line = f.readline().decode(errors="replace").rstrip("\r\n")
            if line.startswith(("OK", "NO", "BYE")):
                return lines, line
            lines.append(line)

    until_ok()
    if not getattr(a, "cleartext", False):
        sock.sendall(b"STARTTLS\r\n")
        _, status = until_ok()
        if not status.startswith("OK"):
            return out(ok=False, text=status)
        sock = CTX.wrap_socket(sock)
        f = sock.makefile("rb")
        until_ok()  # the capabilities again, now over TLS
    token = base64.b64encode(f"\0{a.user}\0{a.pw}".encode()).decode()
    sock.sendall(f'AUTHENTICATE "PLAIN" "{token}"\r\n'.encode())
    _, status = until_ok()
    if not status.startswith("OK"):
        return out(ok=False, text=status)
    script = getattr(a, "script", None)
    if script:
        body = a.content.encode()
        sock.sendall(f'PUTSCRIPT "{script}" {{{len(body)}+}}\r\n'.encode() + body + b"\r\n")
        _, status = until_ok()
        if not status.startswith("OK"):
            return out(ok=False, text=status)
        sock.sendall(f'SETACTIVE "{script}"\r\n'.encode())
        _, status = until_ok()
        if not status.startswith("OK"):
            return out(ok=False, text=status)
    sock.sendall(b"LISTSCRIPTS\r\n")
    lines, status = until_ok()
    sock.sendall(b"LOGOUT\r\n")
    scripts = {l.split('"')[1]: l.endswith("ACTIVE") for l in lines if l.startswith('"')}
    out(ok=status.startswith("OK"), scripts=scripts)


def certs(a):
    """The certificate each port shows: 993 at once, SMTP ports after STARTTLS."""
    def smtp(port):
        s = smtplib.SMTP(a.host, port, timeout=60)
        s.ehlo("client.test.invalid")
        s.starttls(context=CTX)
        der = s.sock.getpeercert(binary_form=True)
        s.quit()
        return der

    def direct(port):
        with socket.create_connection((a.host, port), timeout=60) as raw, CTX.wrap_socket(raw) as tls:
            return tls.getpeercert(binary_form=True)

    out(ok=True, **{str(p): ssl.DER_cert_to_PEM_cert(direct(p) if p == 993 else smtp(p)) for p in a.ports})


def relay_server(a):
    srv = socket.create_server(("0.0.0.0", a.port), reuse_port=False)
    srv.settimeout(a.timeout)
    print("listening", flush=True)
    seen = {"ok": False, "auth_user": None, "auth_ok": False, "mail_from": None, "rcpt": [], "data": ""}
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        return out(text="nobody came", **seen)
    conn.settimeout(a.timeout)
    f = conn.makefile("rwb")

    def say(line):
        f.write(line.encode() + b"\r\n")
        f.flush()

    def hear():
        return f.readline().decode(errors="replace").rstrip("\r\n")

    def check(user, pw):
        seen["auth_user"], seen["auth_ok"] = user, (user, pw) == (a.user, a.pw)
        say("235 2.7.0 Authentication successful" if seen["auth_ok"] else "535 5.7.8 Authentication failed")

    say("220 relay.test ESMTP")
    while True:
        line = hear()
        verb = line.split(" ", 1)[0].upper()
        if verb == "EHLO":
            say("250-relay.test")
            say("250-AUTH PLAIN LOGIN")
            say("250 8BITMIME")
        elif verb == "AUTH":
            parts = line.split()
            if parts[1].upper() == "PLAIN":
                if len(parts) < 3:
                    say("334 ")
                    parts.append(hear())
                _, user, pw = base64.b64decode(parts[2]).decode().split("\0")
                check(user, pw)
            else:
                say("334 VXNlcm5hbWU6")
                user = base64.b64decode(hear()).decode()
                say("334 UGFzc3dvcmQ6")
                check(user, base64.b64decode(hear()).decode())
        elif verb == "MAIL":
            if not seen["auth_ok"]:
                say("530 5.7.0 Authentication required")
                continue
            seen["mail_from"] = line.split(":", 1)[1].split()[0].strip("<>")
            say("250 2.1.0 Ok")
        elif verb == "RCPT":
            seen["rcpt"].append(line.split(":", 1)[1].split()[0].strip("<>"))
            say("250 2.1.5 Ok")
        elif verb == "DATA":
            say("354 End data with <CR><LF>.<CR><LF>")
            body = []
            while (l := hear()) != ".":
                body.append(l)
            seen["data"], seen["ok"] = "\n".join(body), True
            say("250 2.0.0 Ok: queued")
        elif verb == "QUIT" or not line:
            say("221 2.0.0 Bye")
            break
        else:
            say("250 2.0.0 Ok")
    conn.close()
    out(**seen)


def password_from_env(a):
    """A password given as env:NAME is read from the environment, so that it
    is not on a command line (playbooks/verify.yml passes it so)."""
    pw = getattr(a, "pw", None)
    if isinstance(pw, str) and pw.startswith("env:"):
        a.pw = os.environ.get(pw[4:], "")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    for n in ("host", "port", "sender", "to", "subject"):
        s.add_argument(n)
    s.add_argument("--starttls", action="store_true")
    s.add_argument("--login", nargs=2)
    s.add_argument("--header", action="append", default=[])
    s.add_argument("--size", type=int)
    f = sub.add_parser("fetch")
    for n in ("host", "user", "pw", "folder", "subject"):
        f.add_argument(n)
    f.add_argument("--wait", type=float, default=20)
    f.add_argument("--at-least", type=int, default=1)
    for name in ("login", "quota", "folders", "sieve"):
        x = sub.add_parser(name)
        for n in ("host", "user", "pw"):
            x.add_argument(n)
        if name == "login":
            x.add_argument("--imaps", action="store_true")
            x.add_argument("--plain", action="store_true")
        if name in ("login", "sieve"):
            x.add_argument("--cleartext", action="store_true", help="no STARTTLS before the password")
    ap = sub.add_parser("append")
    for n in ("host", "user", "pw", "folder", "subject"):
        ap.add_argument(n)
    sh = sub.add_parser("share")
    for n in ("host", "user", "pw", "folder", "who", "rights"):
        sh.add_argument(n)
    dv = sub.add_parser("dav")
    for n in ("host", "user", "pw", "path"):
        dv.add_argument(n)
    lm = sub.add_parser("lmtp")
    for n in ("host", "port", "rcpt"):
        lm.add_argument(n)
    rs = sub.add_parser("rspamd-stat")
    rs.add_argument("host")
    rs.add_argument("--password")
    gr = sub.add_parser("greeting")
    gr.add_argument("host")
    gr.add_argument("port", type=int)
    sp = sub.add_parser("sieve-put")
    for n in ("host", "user", "pw", "script", "content"):
        sp.add_argument(n)
    sr = sub.add_parser("smtp-rules")
    sr.add_argument("host")
    tv = sub.add_parser("tls-handshake")
    tv.add_argument("host")
    tv.add_argument("port", type=int)
    tv.add_argument("version", choices=["TLSv1.1", "TLSv1.2"])
    tv.add_argument("cipher")
    tv.add_argument("--starttls", choices=["smtp"])
    mv = sub.add_parser("move")
    for n in ("host", "user", "pw", "source", "target", "subject"):
        mv.add_argument(n)
    c = sub.add_parser("certs")
    c.add_argument("host")
    c.add_argument("ports", nargs="+", type=int)
    r = sub.add_parser("relay-server")
    r.add_argument("port", type=int)
    r.add_argument("user")
    r.add_argument("pw")
    r.add_argument("--timeout", type=float, default=60)
    a = p.parse_args()
    password_from_env(a)
    if a.cmd == "send":
        a.port = int(a.port)
    {"send": send, "fetch": fetch, "login": login, "quota": quota, "folders": folders, "move": move, "sieve": sieve, "certs": certs, "relay-server": relay_server, "smtp-rules": smtp_rules, "sieve-put": sieve, "tls-handshake": tls_handshake, "append": append, "share": share, "greeting": greeting, "rspamd-stat": rspamd_stat, "lmtp": lmtp, "dav": dav}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
