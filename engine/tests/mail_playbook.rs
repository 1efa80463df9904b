//! The mail playbook (playbooks/site.yml) proven by real mail: converge a
//! fresh lab (one host, or three in the split layout), then send with SMTP and read with IMAP from the
//! controller (tests/mail_client.py), for each database engine.

mod common;

use std::process::Command;

use common::lab::Lab;
use common::*;
use serde_json::Value;

/// The lab host's address, as the lab's inventory gives it.
fn address(lab: &Lab, host: &str) -> String {
    let inv = std::fs::read_to_string(&lab.inventory).unwrap();
    inv.lines()
        .find(|l| l.starts_with(&format!("{host} ")))
        .and_then(|l| l.split_whitespace().find_map(|w| w.strip_prefix("ansible_host=")))
        .unwrap_or_else(|| panic!("{host} has no address in {inv}"))
        .to_string()
}

/// One command of the mail client, its JSON answer.
fn client(args: &[&str]) -> Value {
    let o = Command::new("python3").arg(repo_root().join("tests/mail_client.py")).args(args).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("mail client {args:?}: {e}\n{out}\n{}", String::from_utf8_lossy(&o.stderr)))
}

/// tests/mail_client.py run on a lab host as an unprivileged local user
/// (its python3 reading the script from stdin).
fn client_on_host_as_nobody(lab: &Lab, host: &str, args: &str) -> Value {
    let o = Command::new("ssh")
        .args(["-F", &lab.ssh_config, host, &format!("runuser -u nobody -- python3 - {args}")])
        .stdin(std::fs::File::open(repo_root().join("tests/mail_client.py")).unwrap())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("mail client on {host} {args}: {e}\n{out}\n{}", String::from_utf8_lossy(&o.stderr)))
}

/// A relay that demands a login, on a lab host (tests/mail_client.py
/// relay-server, its python3 reading the script from stdin).
struct RelayServer {
    child: std::process::Child,
    output: std::io::BufReader<std::process::ChildStdout>,
}

fn relay_server(lab: &Lab, host: &str, user: &str, pw: &str) -> RelayServer {
    use std::io::BufRead;
    let mut child = Command::new("ssh")
        .args(["-F", &lab.ssh_config, host, &format!("python3 - relay-server 2525 {user} {pw} --timeout 60")])
        .stdin(std::fs::File::open(repo_root().join("tests/mail_client.py")).unwrap())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut output = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    output.read_line(&mut first).unwrap();
    assert_eq!(first.trim(), "listening", "the relay server did not start");
    RelayServer { child, output }
}

impl RelayServer {
    /// What the first message brought, once the server has finished.
    fn received(mut self) -> Value {
        use std::io::Read;
        let mut out = String::new();
        self.output.read_to_string(&mut out).unwrap();
        self.child.wait().unwrap();
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("relay server: {e}\n{out}"))
    }
}

/// Where the mail system lives: one host with everything, or three; on
/// plain Debian hosts (the playbook installs every package) or on hosts
/// with the mail stack preinstalled.
struct Layout {
    inventory: &'static str,
    bare: bool,
    db: &'static str,
    mx: &'static str,
    store: &'static str,
}

const SINGLE: Layout = Layout { inventory: "inventories/lab.ini", bare: true, db: "mail1", mx: "mail1", store: "mail1" };
const SPLIT: Layout = Layout { inventory: "inventories/lab-split.ini", bare: false, db: "db1", mx: "mx1", store: "store1" };

impl Layout {
    fn hosts(&self) -> Vec<&'static str> {
        let mut hosts = vec![self.db, self.mx, self.store];
        hosts.sort();
        hosts.dedup();
        hosts
    }
}

fn converge(lab: &Lab, layout: &Layout, engine: &str, extra: &[&str]) -> (i32, String) {
    let engine = format!("mail_db_engine={engine}");
    run_site(lab, layout.inventory, &[&["-e", engine.as_str()][..], extra].concat())
}

const SECRETS: &[&str] = &[
    "Alice-lab-pw-1",
    "Bob-lab-pw-1",
    "Carol-lab-pw-1",
    "Cyrus-lab-admin-pw",
    "Transfer-lab-pw",
    "Access-lab-pw",
    "Bob-new-pw-2",
    "Dave-lab-pw-1",
    "Relay-lab-pw-1",
    "Relay-lab-pw-2",
    "Bob-lab-pw-3",
    "Erin-lab-pw-1",
    "Rspamd-lab-pw-1",
];

fn hostile_logins_are_refused(lab: &Lab, layout: &Layout, engine: &str, mx: &str, store: &str) {
    if engine == "mysql" {
        let set = lab.ssh(
            layout.db,
            "mariadb -N -e \"SET GLOBAL sql_mode = CONCAT(@@GLOBAL.sql_mode, ',NO_BACKSLASH_ESCAPES'); SELECT @@GLOBAL.sql_mode\"",
        );
        assert!(set.contains("NO_BACKSLASH_ESCAPES"), "{set}");
        // The password checker's kept connections take the new mode.
        for host in [layout.mx, layout.store] {
            lab.ssh(host, "systemctl restart mail-auth");
        }
    }
    let chosen = "Attacker-pw-1";
    let out = std::process::Command::new("openssl").args(["passwd", "-6", "-salt", "mailplaytest", chosen]).output().unwrap();
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(hash.starts_with("$6$"), "{hash}");
    // One quote ends the string; the hash comes as a hex literal (a second
    // quote would reach the mariadb client as a backslash command).
    let hex: String = hash.bytes().map(|b| format!("{b:02x}")).collect();
    for user in [
        format!("x' UNION SELECT 0x{hex} -- @example.org"),
        format!("x' UNION SELECT 0x{hex} -- "),
        "nobody@example.org' OR '1'='1".to_string(),
    ] {
        let smtp = client(&["send", mx, "587", "alice@example.org", "bob@example.org", "hostile", "--starttls", "--login", &user, chosen]);
        assert_eq!((smtp["ok"].as_bool(), smtp["stage"].as_str()), (Some(false), Some("auth")), "SMTP AUTH as {user:?}: {smtp}");
        let imap = client(&["login", store, &user, chosen, "--plain"]);
        assert_eq!(imap["ok"], false, "IMAP AUTHENTICATE as {user:?}: {imap}");
    }
    // The same setting does not stop real users.
    assert_eq!(client(&["login", store, "alice@example.org", "Alice-lab-pw-1", "--plain"])["ok"], true, "alice with SASL PLAIN");
}

/// The password checker speaks saslauthd's protocol (Debian's own
/// `testsaslauthd` talks to it, with the realm apart or in the name), only
/// to group sasl, refuses services that are not for mail users, and a
/// request cut short or with a lying length gets no answer and does not
/// stop it.
fn the_password_checker_speaks_saslauthds_protocol(lab: &Lab, host: &str) {
    let mux = "/var/spool/postfix/var/run/mail-auth/mux";
    let test = |args: &str| lab.ssh(host, &format!("testsaslauthd -f {mux} {args} 2>&1; true"));
    assert!(test("-u alice@example.org -p Alice-lab-pw-1 -s imap").starts_with("0: OK"));
    assert!(test("-u alice -r example.org -p Alice-lab-pw-1 -s smtp").starts_with("0: OK"));
    assert!(test("-u alice@example.org -p Alice-lab-pw-1 -s pop").starts_with("0: NO"), "a service not listed");
    assert!(test("-u alice@example.org -p Alice-lab-pw-1 -s lmtp").starts_with("0: NO"), "a mail user on LMTP");
    // Empty, one byte, a length larger than what follows, a valid request.
    let script = r#"
import socket, sys
for p in [b"", b"\x00", b"\xff\xff" + b"a" * 10, b"\x00\x01a\x00\x00\x00\x00\x00\x00"]:
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(p)
    s.shutdown(socket.SHUT_WR)
    print(s.recv(100).hex() or "-")
"#;
    assert_eq!(lab.ssh(host, &format!("python3 -c '{script}' {mux}")), "-\n-\n-\n00024e4f\n", "answers to cut and empty requests");
    assert!(test("-u alice@example.org -p Alice-lab-pw-1 -s imap").starts_with("0: OK"), "it stopped answering");
    let connect = format!(
        "runuser -u nobody -- python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' {mux} 2>&1 | tail -1"
    );
    let nobody = lab.ssh(host, &connect);
    assert!(nobody.contains("PermissionError"), "a local user reaches the password checker: {nobody}");
}

/// A database outage is a temporary failure, never a wrong password: SMTP
/// AUTH answers 454 (a mail client keeps the password and tries later),
/// Cyrus "generic failure" on IMAP (Cyrus 3.6 has no `[UNAVAILABLE]` code
/// for LOGIN) and 500 on CalDAV, instead of "authentication failure" and
/// 401. The password checker says why in the journal, and logins work again
/// as soon as the database is back (its kept connections are replaced).
fn database_outages_are_temporary_failures(lab: &Lab, layout: &Layout, engine: &str, mx: &str, store: &str) {
    let database = if engine == "pgsql" { "postgresql" } else { "mariadb" };
    let submit = |pw: &str| {
        client(&["send", mx, "587", "alice@example.org", "bob@example.org", "outage", "--starttls", "--login", "alice@example.org", pw])
    };
    let wrong = submit("wrong");
    assert_eq!((wrong["stage"].as_str(), wrong["code"].as_i64()), (Some("auth"), Some(535)), "{wrong}");
    assert_eq!(client(&["login", store, "alice@example.org", "wrong"])["text"], "b'Login failed: authentication failure'");

    lab.ssh(layout.db, &format!("systemctl stop {database}"));
    let during = submit("Alice-lab-pw-1");
    let imap = client(&["login", store, "alice@example.org", "Alice-lab-pw-1"]);
    let dav = client(&["dav", store, "alice@example.org", "Alice-lab-pw-1", "/dav/calendars/user/alice@example.org/"]);
    let journal = lab.ssh(layout.store, "journalctl -t mail-auth --no-pager -n 20");
    lab.ssh(layout.db, &format!("systemctl start {database}"));
    assert_eq!((during["stage"].as_str(), during["code"].as_i64()), (Some("auth"), Some(454)), "SMTP AUTH: {during}");
    assert!(during["text"].as_str().unwrap().starts_with("4.7.0 Temporary authentication failure"), "{during}");
    assert_eq!(imap["text"], "b'Login failed: generic failure'", "IMAP LOGIN: {imap}");
    assert_eq!(dav["status"], 500, "CalDAV: {dav}");
    assert!(journal.contains("database unavailable checking alice@example.org (imap)"), "{journal}");
    assert!(!journal.contains("Alice-lab-pw-1"), "{journal}");

    assert_eq!(client(&["login", store, "alice@example.org", "Alice-lab-pw-1"])["ok"], true, "IMAP LOGIN after the outage");
    // Postfix's own maps keep a failed database aside for a minute (their
    // lookups answer 451 meanwhile, senders retry): only the login is
    // checked here, which is why this runs last.
    let after = submit("Alice-lab-pw-1");
    assert_ne!(after["stage"], "auth", "SMTP AUTH after the outage: {after}");
}

/// The playbook installed Postfix through the lab's caching proxy, and the
/// next host to fetch it gets it from the cache (fetched upstream once).
fn packages_come_through_the_lab_proxy(lab: &Lab, host: &str) {
    let log = std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/mailplay/lab/apt-proxy/log/apt-cacher.log");
    let count = |dir: &str| {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("/pool/main/p/postfix/postfix_") && l.split('|').nth(1) == Some(dir))
            .count()
    };
    let (fetched, served) = (count("I"), count("O"));
    assert!(fetched >= 1 && served >= 1, "postfix did not come through the proxy ({})", log.display());
    lab.ssh(host, "cd /tmp && apt-get download -q postfix && rm -f postfix_*.deb");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!((count("I"), count("O")), (fetched, served + 1), "the second download of postfix did not come from the cache");
}

/// The whole proof of issue 5 for one engine and layout: check mode on fresh
/// hosts, the run, real mail through SMTP and IMAP, spam learning, re-run,
/// and a change of variables.
fn prove(layout: &Layout, engine: &str) {
    let hosts_ini = repo_root().join(layout.inventory).display().to_string();
    let lab = if layout.bare { Lab::fresh(&hosts_ini) } else { Lab::preinstalled(&hosts_ini) };
    let (mx, store) = (address(&lab, layout.mx), address(&lab, layout.store));
    let (mx, store) = (mx.as_str(), store.as_str());
    let mut all_output = String::new();

    // Check mode on fresh hosts: nothing changes, the run is predicted.
    let untouched = "test -e /etc/postfix/main.cf && echo main.cf; test -e /etc/mail-auth.conf && echo auth; systemctl is-active postgresql mariadb cyrus-imapd | sort | uniq -c";
    let state = |lab: &Lab| layout.hosts().iter().map(|h| lab.ssh(h, untouched)).collect::<Vec<_>>();
    let before = state(&lab);
    let (code, check) = converge(&lab, layout, engine, &["--check", "--diff"]);
    all_output += &check;
    assert_eq!(state(&lab), before, "check mode changed a host");
    assert_eq!(code, 0, "{check}");
    assert!(check.contains("+message_size_limit = 102428800"), "{check}");
    // The same rehearsal as JSON carries every result: its counts (from the
    // task results and from its stats) equal the PLAY RECAP, loops included.
    let json = mailplay()
        .args(["run", "playbooks/site.yml", "-i", &lab.inventory, "-i", layout.inventory, "-e", &format!("mail_db_engine={engine}")])
        .args(["--check", "--diff", "--output", "json"])
        .current_dir(repo_root())
        .output()
        .unwrap();
    let json_stdout = String::from_utf8_lossy(&json.stdout).into_owned();
    all_output += &text(&json);
    json_counts_match_recap(&json_stdout, &check);

    let (code, first) = converge(&lab, layout, engine, &["--diff"]);
    all_output += &first;
    assert_eq!(code, 0, "{first}");
    // Also on a bare host: check mode carries what earlier tasks would have
    // done (packages with their files, units and users included) forward.
    assert_eq!(changed_tasks(&check), changed_tasks(&first), "check mode did not predict the run\n--- check\n{check}\n--- run\n{first}");
    // rspamd compiles its rules for minutes on a loaded machine: it started
    // once, with its final settings, not a second time by a handler.
    let starts = lab.ssh(layout.mx, "journalctl -u rspamd --no-pager | grep -c 'Started rspamd'");
    assert_eq!(starts.trim(), "1", "rspamd started more than once:\n{first}");
    if layout.bare {
        packages_come_through_the_lab_proxy(&lab, layout.mx);
    }

    // Delivery to a user, read back over IMAP with the user's password.
    let sent = client(&["send", mx, "25", "someone@outside.invalid", "alice@example.org", "hello alice"]);
    assert_eq!(sent["ok"], true, "{sent}");
    let got = client(&["fetch", store, "alice@example.org", "Alice-lab-pw-1", "INBOX", "hello alice"]);
    assert_eq!(got["ok"], true, "{got}");
    let headers = got["headers"].as_str().unwrap();
    assert!(headers.contains("X-Spamd-Result:") && headers.contains("X-Rspamd-Queue-Id:"), "rspamd's headers are missing:\n{headers}");
    // Over LMTP: on one host through the socket, with MX and store apart
    // after STARTTLS and Postfix's login (LMTPSA).
    let lmtp = if layout.mx == layout.store { "with LMTP" } else { "with LMTPSA" };
    assert!(headers.contains(lmtp), "not delivered by Cyrus's lmtpd ({lmtp}):\n{headers}");
    assert_eq!(client(&["login", store, "alice@example.org", "Alice-lab-pw-1", "--imaps"])["ok"], true, "IMAPS on 993");
    assert_eq!(client(&["login", store, "alice@example.org", "wrong"])["ok"], false);

    // Spam goes to Junk; unknown recipients are refused; forwardings arrive.
    assert_eq!(client(&["send", mx, "25", "someone@outside.invalid", "alice@example.org", "spammy", "--header", "X-Spam:YES"])["ok"], true);
    assert_eq!(client(&["fetch", store, "alice@example.org", "Alice-lab-pw-1", "Junk", "spammy"])["ok"], true);
    let refused = client(&["send", mx, "25", "someone@outside.invalid", "nobody@example.org", "lost"]);
    assert_eq!((refused["stage"].as_str(), refused["code"].as_i64()), (Some("rcpt"), Some(550)), "{refused}");
    let too_big = client(&["send", mx, "25", "someone@outside.invalid", "alice@example.org", "huge", "--size", "102428801"]);
    assert_eq!((too_big["stage"].as_str(), too_big["code"].as_i64()), (Some("mail"), Some(552)), "the 100 MB limit: {too_big}");
    assert_eq!(client(&["send", mx, "25", "someone@outside.invalid", "postmaster@example.org", "to the postmaster"])["ok"], true);
    assert_eq!(client(&["fetch", store, "alice@example.org", "Alice-lab-pw-1", "INBOX", "to the postmaster"])["ok"], true);

    // A login name is data, never SQL: a name that would close the quoted
    // string and bring its own password hash is refused over SMTP AUTH and
    // IMAP, also when MariaDB does not treat backslashes as escapes.
    hostile_logins_are_refused(&lab, layout, engine, mx, store);
    the_password_checker_speaks_saslauthds_protocol(&lab, layout.store);

    // System mail reaches the admin (postmaster@example.org, forwarded to
    // alice in the lab) instead of going nowhere.
    lab.ssh(layout.mx, "printf 'Subject: a notice for root\\n\\nfrom cron\\n' | /usr/sbin/sendmail root");
    let notice = client(&["fetch", store, "alice@example.org", "Alice-lab-pw-1", "INBOX", "a notice for root"]);
    assert_eq!(notice["ok"], true, "mail to root did not reach the admin: {notice}");

    // Hardening beyond the tutorial (playbooks/README.md): no VRFY, HELO
    // first, Cyrus with forward-secret AEAD ciphers only, nothing below TLS
    // 1.2 on submission and IMAPS, an AUTH rate limit.
    let rules = client(&["smtp-rules", mx]);
    assert_eq!((rules["vrfy"].as_i64(), rules["no_helo"].as_i64()), (Some(502), Some(503)), "{rules}");
    let cbc = client(&["tls-handshake", store, "993", "TLSv1.2", "AES128-SHA"]);
    assert_eq!(cbc["ok"], false, "Cyrus took a cipher without forward secrecy: {cbc}");
    assert_eq!(client(&["tls-handshake", store, "993", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"])["ok"], true);
    assert_eq!(client(&["tls-handshake", store, "993", "TLSv1.1", "DEFAULT"])["ok"], false, "TLS 1.1 on 993");
    assert_eq!(client(&["tls-handshake", mx, "587", "TLSv1.1", "DEFAULT", "--starttls", "smtp"])["ok"], false, "TLS 1.1 on 587");
    assert_eq!(client(&["tls-handshake", mx, "587", "TLSv1.2", "DEFAULT", "--starttls", "smtp"])["ok"], true, "TLS 1.2 on 587");
    let settings = lab.ssh(
        layout.mx,
        "postconf -h smtpd_client_auth_rate_limit mailbox_size_limit; postconf -P submission/inet/smtpd_tls_mandatory_protocols",
    );
    assert_eq!(settings, "60\n0\nsubmission/inet/smtpd_tls_mandatory_protocols = >=TLSv1.2\n", "{settings}");

    // Submission: TLS and a login, and only as oneself.
    let no_tls = client(&["send", mx, "587", "alice@example.org", "bob@example.org", "s1"]);
    assert_eq!((no_tls["ok"].as_bool(), no_tls["code"].as_i64()), (Some(false), Some(530)), "{no_tls}");
    let no_auth = client(&["send", mx, "587", "alice@example.org", "bob@example.org", "s2", "--starttls"]);
    assert_eq!((no_auth["ok"].as_bool(), no_auth["stage"].as_str()), (Some(false), Some("rcpt")), "{no_auth}");
    let forged = client(&[
        "send",
        mx,
        "587",
        "bob@example.org",
        "carol@example.net",
        "s3",
        "--starttls",
        "--login",
        "alice@example.org",
        "Alice-lab-pw-1",
    ]);
    assert_eq!((forged["ok"].as_bool(), forged["code"].as_i64()), (Some(false), Some(553)), "{forged}");
    let own = client(&[
        "send",
        mx,
        "587",
        "alice@example.org",
        "bob@example.org",
        "from alice",
        "--starttls",
        "--login",
        "alice@example.org",
        "Alice-lab-pw-1",
    ]);
    assert_eq!(own["ok"], true, "{own}");
    assert_eq!(client(&["fetch", store, "bob@example.org", "Bob-lab-pw-1", "INBOX", "from alice"])["ok"], true);

    // Web Key Service: each domain's submission key is in its Web Key
    // Directory, and a key sent to the submission address is answered with
    // gpg-wks-server's confirmation request.
    let published = "runuser -u webkey -- env GNUPGHOME=/var/lib/gnupg/wks/.gnupg gpg-wks-server -C /var/lib/gnupg/wks --check key-submission@example.net && echo published";
    assert_eq!(lab.ssh(layout.mx, published).trim(), "published");
    let submit = "export GNUPGHOME=$(mktemp -d); gpg --batch --passphrase '' --quick-gen-key bob@example.org default default never 2>/dev/null; \
                  { printf 'From: bob@example.org\nTo: key-submission@example.org\nSubject: Key publishing request\nMIME-Version: 1.0\nContent-Type: application/pgp-keys\n\n'; gpg --export --armor bob@example.org; } \
                  | /usr/sbin/sendmail -t -f bob@example.org && echo submitted; gpgconf --kill gpg-agent; rm -rf \"$GNUPGHOME\"";
    assert_eq!(lab.ssh(layout.mx, submit).trim(), "submitted");
    let confirm = client(&["fetch", store, "bob@example.org", "Bob-lab-pw-1", "INBOX", "Confirm your key publication"]);
    assert_eq!(
        confirm["ok"],
        true,
        "no confirmation request from the WKS: {confirm}\n{}",
        lab.ssh(layout.mx, "journalctl --no-pager -t postfix/pipe | tail -3")
    );
    let headers = confirm["headers"].as_str().unwrap();
    assert!(headers.contains("Wks-Phase: confirm") && headers.contains("From: key-submission@example.org"), "{headers}");
    assert!(headers.contains("Return-Path: <key-submission@example.org>"), "bounces of the answer would not reach the service:\n{headers}");

    // Moving a message into Junk teaches rspamd spam, out of Junk ham.
    // Counted where the classifier keeps them (rspamd's Bayes statistics in
    // Redis, hash RS): `rspamc stat` refreshes its copy only every half
    // minute or so. Redis wants its password (read on the host, not shown).
    let learned = |class: &str| -> u64 {
        let cmd = format!(
            "REDISCLI_AUTH=\"$(sed -n 's/^requirepass \"\\(.*\\)\"$/\\1/p' /etc/redis/redis.conf)\" redis-cli hget RS learns_{class}"
        );
        lab.ssh(layout.mx, &cmd).trim().parse().unwrap_or(0)
    };
    let (spam0, ham0) = (learned("spam"), learned("ham"));
    // Into Junk by a user with a dot in the name (the notifier reads the
    // mailbox names of Cyrus's events), out of Junk by alice.
    assert_eq!(client(&["send", mx, "25", "someone@outside.invalid", "erin.doe@example.net", "hello erin"])["ok"], true);
    assert_eq!(client(&["fetch", store, "erin.doe@example.net", "Erin-lab-pw-1", "INBOX", "hello erin"])["ok"], true);
    assert_eq!(client(&["move", store, "erin.doe@example.net", "Erin-lab-pw-1", "INBOX", "Junk", "hello erin"])["ok"], true);
    assert_eq!(client(&["move", store, "alice@example.org", "Alice-lab-pw-1", "Junk", "INBOX", "spammy"])["ok"], true);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while (learned("spam"), learned("ham")) != (spam0 + 1, ham0 + 1) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert_eq!(
        (learned("spam"), learned("ham")),
        (spam0 + 1, ham0 + 1),
        "rspamd did not learn from the moves:\n{}",
        lab.ssh(layout.mx, "grep -i learn /var/log/rspamd/rspamd.log | tail")
    );

    // A user with a dot in the name sees every folder (with the tutorial's
    // `unixhierarchysep: no` Cyrus 3.6 listed nothing at all, not even
    // INBOX), each with its special-use flag, selectable, and takes a
    // message into each; the sieve script files spam into Junk.
    let erin = client(&["folders", store, "erin.doe@example.net", "Erin-lab-pw-1"]);
    let specials = ["Drafts", "Junk", "Sent", "Trash"];
    assert_eq!(erin["subscribed"], serde_json::json!(["Drafts", "INBOX", "Junk", "Sent", "Trash"]), "{erin}");
    assert_eq!(erin["selectable"], serde_json::json!(["Drafts", "INBOX", "Junk", "Sent", "Trash"]), "{erin}");
    for folder in specials {
        // RFC 6154 attributes are case-insensitive; Cyrus writes them as its
        // xlist-* option names, lowercase.
        let flag = format!("\\{}", folder.to_lowercase());
        assert_eq!(
            erin["listed"][folder].as_array().map(|f| f.iter().map(|x| x.as_str().unwrap().to_lowercase()).collect::<Vec<_>>()),
            Some(vec![flag]),
            "{erin}"
        );
        let subject = format!("kept in {folder}");
        assert_eq!(client(&["append", store, "erin.doe@example.net", "Erin-lab-pw-1", folder, &subject])["ok"], true);
        assert_eq!(client(&["fetch", store, "erin.doe@example.net", "Erin-lab-pw-1", folder, &subject])["ok"], true);
    }
    assert_eq!(
        client(&["send", mx, "25", "someone@outside.invalid", "erin.doe@example.net", "spam for erin", "--header", "X-Spam:YES"])["ok"],
        true
    );
    assert_eq!(client(&["fetch", store, "erin.doe@example.net", "Erin-lab-pw-1", "Junk", "spam for erin"])["ok"], true);

    // Passwords only over TLS: IMAP on 143 and ManageSieve on 4190 refuse a
    // login before STARTTLS. The greeting names mail_fqdn, not Cyrus's
    // version or the inventory name.
    let cleartext = client(&["login", store, "alice@example.org", "Alice-lab-pw-1", "--cleartext"]);
    assert_eq!(cleartext["ok"], false, "IMAP took a password before STARTTLS: {cleartext}");
    let cleartext = client(&["sieve", store, "alice@example.org", "Alice-lab-pw-1", "--cleartext"]);
    assert_eq!(cleartext["ok"], false, "ManageSieve took a password before STARTTLS: {cleartext}");
    let greeting = client(&["greeting", store, "143"])["text"].as_str().unwrap().to_string();
    let fqdn = format!("{}.lab.invalid", layout.store);
    assert!(greeting.contains(&format!(" {fqdn} ")) && !greeting.contains("Cyrus IMAP") && !greeting.contains("3.6"), "{greeting}");
    let sieve_greeting = client(&["greeting", store, "4190"])["text"].as_str().unwrap().to_string();
    assert!(!sieve_greeting.contains("3.6"), "{sieve_greeting}");

    // rspamd's controller: loopback only on one host; in the split layout
    // also on the MX's address, where only the stores pass without the
    // password (they teach spam and ham, proven above).
    let stat = |pw: Option<&str>| {
        let mut args = vec!["rspamd-stat", mx];
        args.extend(pw.map(|p| ["--password", p]).into_iter().flatten());
        client(&args)["status"].clone()
    };
    if layout.mx == layout.store {
        assert_eq!(stat(None), Value::Null, "rspamd's controller answers outside the host");
    } else {
        assert_eq!(
            (stat(None), stat(Some("wrong"))),
            (serde_json::json!(401), serde_json::json!(401)),
            "the controller without its password"
        );
        assert_eq!(stat(Some("Rspamd-lab-pw-1")), serde_json::json!(200));
    }

    // Nobody but Postfix delivers straight into mailboxes (past rspamd):
    // with MX and store apart, LMTP on the network wants Postfix's login;
    // on one host there is no LMTP on TCP, and the socket is for group mail
    // only (a local user reaches neither).
    if layout.mx == layout.store {
        let direct = client(&["lmtp", store, "24", "alice@example.org"]);
        assert_eq!(direct["stage"], "connect", "LMTP on the network: {direct}");
        for target in ["127.0.0.1 24", "/var/spool/postfix/var/run/cyrus/lmtp 0"] {
            let local = client_on_host_as_nobody(&lab, layout.store, &format!("lmtp {target} alice@example.org"));
            assert_eq!(local["stage"], "connect", "a local user delivered over LMTP ({target}): {local}");
        }
    } else {
        let direct = client(&["lmtp", store, "24", "alice@example.org"]);
        assert!(direct["ok"] == false && direct["stage"] != "connect", "LMTP without a login: {direct}");
    }
    assert_eq!(client(&["fetch", store, "alice@example.org", "Alice-lab-pw-1", "INBOX", "straight to LMTP", "--wait", "0"])["ok"], false);

    // CalDAV and CardDAV (cyrus-caldav, HTTPS on 443) with the mail
    // password: a PROPFIND lists the user's calendars and address books.
    let calendars = client(&["dav", store, "alice@example.org", "Alice-lab-pw-1", "/dav/calendars/user/alice@example.org/"]);
    assert_eq!(calendars["status"], 207, "{calendars}");
    assert!(calendars["hrefs"].as_array().unwrap().len() > 1, "no calendar: {calendars}");
    let books = client(&["dav", store, "alice@example.org", "Alice-lab-pw-1", "/dav/addressbooks/user/alice@example.org/"]);
    assert_eq!(books["status"], 207, "{books}");
    let wrong = client(&["dav", store, "alice@example.org", "wrong", "/dav/calendars/user/alice@example.org/"]);
    assert_eq!(wrong["status"], 401, "{wrong}");

    // Folders autocreated and subscribed; the sieve script active (seen over
    // ManageSieve); quota from quota_kb.
    let folders = client(&["folders", store, "carol@example.net", "Carol-lab-pw-1"]);
    assert_eq!(folders["subscribed"], serde_json::json!(["Drafts", "INBOX", "Junk", "Sent", "Trash"]), "{folders}");
    let sieve = client(&["sieve", store, "carol@example.net", "Carol-lab-pw-1"]);
    assert_eq!(sieve["scripts"], serde_json::json!({"default": true}), "ManageSieve on 4190: {sieve}");
    let quota = client(&["quota", store, "carol@example.net", "Carol-lab-pw-1"]);
    assert!(quota["text"].as_str().unwrap().contains("(STORAGE 0 2048)"), "{quota}");

    // A user's own active sieve script is their choice: the playbook keeps it.
    let own = client(&["sieve-put", store, "carol@example.net", "Carol-lab-pw-1", "mine", "keep;\n"]);
    assert_eq!(own["ok"], true, "{own}");

    // Converged: the second run changes nothing, check mode agrees.
    let (_, second) = converge(&lab, layout, engine, &[]);
    all_output += &second;
    for host in layout.hosts() {
        assert_eq!(recap(&second)[host]["changed"], 0, "{second}");
    }
    let kept = client(&["sieve", store, "carol@example.net", "Carol-lab-pw-1"]);
    assert_eq!(kept["scripts"], serde_json::json!({"default": false, "mine": true}), "carol's own script was switched off: {kept}");
    let (_, check_again) = converge(&lab, layout, engine, &["--check", "--diff"]);
    assert!(changed_tasks(&check_again).is_empty(), "{check_again}");

    // An invalid TLS level is refused before main.cf is written: smtpd
    // takes only none/may/encrypt (dane there made every smtpd exit).
    let main_cf = |lab: &Lab| lab.ssh(layout.mx, "postconf -h smtpd_tls_security_level; md5sum /etc/postfix/main.cf");
    let before = main_cf(&lab);
    let (code, bad) = converge(&lab, layout, engine, &["-e", "mail_smtpd_tls_security_level=dane"]);
    assert_eq!(code, 2, "{bad}");
    assert!(bad.contains("mail_smtpd_tls_security_level must be none, may or encrypt (got dane)"), "{bad}");
    assert_eq!(main_cf(&lab), before, "main.cf was touched:\n{bad}");
    assert!(before.starts_with("may\n"), "{before}");

    // One variable changes: a new user, a new password, a new forwarding.
    let vars = std::env::temp_dir().join(format!("mailplay-mail-{engine}.yml"));
    std::fs::write(
        &vars,
        "mail_users:\n  - {email: alice@example.org, password: Alice-lab-pw-1, quota_kb: 1024}\n  - {email: bob@example.org, password: Bob-new-pw-2}\n  - {email: carol@example.net, password: Carol-lab-pw-1, quota_kb: 2048}\n  - {email: erin.doe@example.net, password: Erin-lab-pw-1}\n  - {email: dave@example.net, password: Dave-lab-pw-1}\n\
         mail_forwardings:\n  - {source: postmaster@example.org, destination: alice@example.org}\n  - {source: info@example.net, destination: carol@example.net}\n  - {source: sales@example.net, destination: dave@example.net}\n",
    )
    .unwrap();
    let (code, changed) = converge(&lab, layout, engine, &["-e", &format!("@{}", vars.display())]);
    all_output += &changed;
    assert_eq!(code, 0, "{changed}");
    let tasks: Vec<(String, String)> = changed_tasks(&changed);
    // The password checker keeps no passwords: nothing of it changes.
    let mut expected: Vec<(String, String)> = vec![
        ("mail_db : the rows of domains, users, forwardings and transports", layout.db),
        ("mail_store_users : Junk expires", layout.store),
        ("mail_store_users : each user's INBOX (Cyrus creates it and its folders at a login as the user)", layout.store),
        ("mail_store_users : each user's sieve script is the default one, unless they chose their own", layout.store),
    ]
    .into_iter()
    .map(|(t, h)| (t.to_string(), h.to_string()))
    .collect();
    expected.sort();
    assert_eq!(tasks, expected, "{changed}");
    assert_eq!(client(&["login", store, "dave@example.net", "Dave-lab-pw-1"])["ok"], true, "the new user logs in");
    assert_eq!(client(&["login", store, "bob@example.org", "Bob-lab-pw-1"])["ok"], false, "the old password still works");
    assert_eq!(client(&["login", store, "bob@example.org", "Bob-new-pw-2"])["ok"], true, "the new password does not work");
    assert_eq!(client(&["send", mx, "25", "someone@outside.invalid", "sales@example.net", "to sales"])["ok"], true);
    assert_eq!(client(&["fetch", store, "dave@example.net", "Dave-lab-pw-1", "INBOX", "to sales"])["ok"], true);

    // Alice's and Bob's mail leave through one authenticated relay
    // (mail_relays), each with an account of their own: a relay server on
    // the store host demands the credentials that Postfix finds in the
    // database for the sender (the tutorial keyed them by the relay).
    let relay_vars = std::env::temp_dir().join(format!("mailplay-relay-{engine}.yml"));
    let users = std::fs::read_to_string(&vars).unwrap();
    std::fs::write(
        &relay_vars,
        format!(
            "{users}mail_relays:\n  - {{source: alice@example.org, relay: \"[{store}]:2525\", username: relay-user, password: Relay-lab-pw-1}}\n  \
             - {{source: bob@example.org, relay: \"[{store}]:2525\", username: bob-at-relay, password: Relay-lab-pw-2}}\n"
        ),
    )
    .unwrap();
    let (code, relayed) = converge(&lab, layout, engine, &["-e", &format!("@{}", relay_vars.display())]);
    all_output += &relayed;
    assert_eq!(code, 0, "{relayed}");
    assert_eq!(
        changed_tasks(&relayed),
        vec![
            ("mail_db : relay credentials".to_string(), layout.db.to_string()),
            ("mail_db : sender-dependent relays".to_string(), layout.db.to_string())
        ],
        "{relayed}"
    );
    let server = relay_server(&lab, layout.store, "relay-user", "Relay-lab-pw-1");
    let sent = client(&[
        "send",
        mx,
        "587",
        "alice@example.org",
        "someone@outside.invalid",
        "via the relay",
        "--starttls",
        "--login",
        "alice@example.org",
        "Alice-lab-pw-1",
    ]);
    assert_eq!(sent["ok"], true, "{sent}");
    let got = server.received();
    assert_eq!(
        (&got["auth_user"], &got["auth_ok"], &got["mail_from"], &got["rcpt"]),
        (
            &serde_json::json!("relay-user"),
            &serde_json::json!(true),
            &serde_json::json!("alice@example.org"),
            &serde_json::json!(["someone@outside.invalid"])
        ),
        "{got}"
    );
    assert!(got["data"].as_str().unwrap().contains("Subject: via the relay"), "{got}");
    let server = relay_server(&lab, layout.store, "bob-at-relay", "Relay-lab-pw-2");
    let sent = client(&[
        "send",
        mx,
        "587",
        "bob@example.org",
        "someone@outside.invalid",
        "bob via the relay",
        "--starttls",
        "--login",
        "bob@example.org",
        "Bob-new-pw-2",
    ]);
    assert_eq!(sent["ok"], true, "{sent}");
    let got = server.received();
    assert_eq!((&got["auth_user"], &got["auth_ok"]), (&serde_json::json!("bob-at-relay"), &serde_json::json!(true)), "{got}");

    // A certificate of one's own (mail_tls_cert/mail_tls_key) replaces the
    // self-signed one on every host, and the running services show it.
    let tls = tempfile::tempdir().unwrap();
    let (cert, key) = (tls.path().join("cert.pem"), tls.path().join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=mail.example.org", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let (cert_pem, key_pem) = (std::fs::read_to_string(&cert).unwrap(), std::fs::read_to_string(&key).unwrap());
    let block = |pem: &str| pem.lines().map(|l| format!("  {l}\n")).collect::<String>();
    let tls_vars = tls.path().join("tls.yml");
    std::fs::write(
        &tls_vars,
        format!(
            "{}mail_tls_cert: |\n{}mail_tls_key: |\n{}",
            std::fs::read_to_string(&relay_vars).unwrap(),
            block(&cert_pem),
            block(&key_pem)
        ),
    )
    .unwrap();
    let (code, replaced) = converge(&lab, layout, engine, &["-e", &format!("@{}", tls_vars.display())]);
    all_output += &replaced;
    assert_eq!(code, 0, "{replaced}");
    let mut expected: Vec<(String, String)> = Vec::new();
    for task in ["mail_tls : the given TLS certificate", "mail_tls : the given TLS key, readable by ssl-cert members only"] {
        expected.extend(layout.hosts().iter().map(|h| (task.to_string(), h.to_string())));
    }
    expected.extend([
        ("mail_mx : Postfix takes up a new TLS certificate (running smtpd processes keep the old one)".to_string(), layout.mx.to_string()),
        ("mail_mx : reload postfix".to_string(), layout.mx.to_string()),
        ("mail_store : Cyrus takes up a new TLS certificate (its processes keep the old one)".to_string(), layout.store.to_string()),
        ("mail_store : restart cyrus".to_string(), layout.store.to_string()),
    ]);
    expected.sort();
    assert_eq!(changed_tasks(&replaced), expected, "{replaced}");
    assert!(!replaced.contains("PRIVATE KEY"), "the key appears in the output:\n{replaced}");
    let shown = client(&["certs", mx, "25", "587"]);
    assert_eq!(
        (shown["25"].as_str(), shown["587"].as_str()),
        (Some(cert_pem.as_str()), Some(cert_pem.as_str())),
        "Postfix does not show the new certificate"
    );
    assert_eq!(client(&["certs", store, "993"])["993"].as_str(), Some(cert_pem.as_str()), "Cyrus does not show the new certificate");
    assert_eq!(client(&["login", store, "alice@example.org", "Alice-lab-pw-1", "--imaps"])["ok"], true, "IMAPS with the new certificate");

    // Users who leave: bob, listed in mail_users_absent, loses his row and
    // his mailbox with every folder; carol, only dropped from mail_users,
    // can no longer log in but keeps her mailbox (no mail is lost by a
    // slip), and every run names it. Bob back later starts afresh.
    let users_vars = |users: &str, absent: &str| {
        let path = tls.path().join(format!("users-{}.yml", absent.len()));
        std::fs::write(
            &path,
            format!(
                "mail_users:\n{users}mail_users_absent: [{absent}]\n\
                 mail_forwardings:\n  - {{source: postmaster@example.org, destination: alice@example.org}}\n"
            ),
        )
        .unwrap();
        path
    };
    let alice_erin = "  - {email: alice@example.org, password: Alice-lab-pw-1, quota_kb: 1024}\n  - {email: erin.doe@example.net, password: Erin-lab-pw-1}\n";
    let (code, left) = converge(&lab, layout, engine, &["-e", &format!("@{}", users_vars(alice_erin, "bob@example.org").display())]);
    all_output += &left;
    assert_eq!(code, 0, "{left}");
    assert!(left.contains("no longer in mail_users: carol@example.net"), "carol's kept mailbox is not named:\n{left}");
    assert!(!left.contains("no longer in mail_users: bob"), "{left}");
    assert_eq!(client(&["login", store, "bob@example.org", "Bob-new-pw-2"])["ok"], false, "bob still logs in");
    assert_eq!(client(&["login", store, "carol@example.net", "Carol-lab-pw-1"])["ok"], false, "carol still logs in");
    let bob_back = format!("{alice_erin}  - {{email: bob@example.org, password: Bob-lab-pw-3}}\n");
    let (code, back) = converge(&lab, layout, engine, &["-e", &format!("@{}", users_vars(&bob_back, "").display())]);
    all_output += &back;
    assert_eq!(code, 0, "{back}");
    assert_eq!(
        client(&["fetch", store, "bob@example.org", "Bob-lab-pw-3", "INBOX", "from alice", "--wait", "0"])["ok"],
        false,
        "bob got his old mail back"
    );
    let fresh = client(&["folders", store, "bob@example.org", "Bob-lab-pw-3"]);
    assert_eq!(fresh["subscribed"], serde_json::json!(["Drafts", "INBOX", "Junk", "Sent", "Trash"]), "{fresh}");

    // Last, since Postfix's maps take a minute to use the database again.
    database_outages_are_temporary_failures(&lab, layout, engine, mx, store);

    for s in SECRETS {
        assert!(!all_output.contains(s), "the password {s} appears in the output:\n{all_output}");
    }
}

#[test]
fn single_host_with_postgresql_delivers_real_mail() {
    prove(&SINGLE, "pgsql");
}

#[test]
fn single_host_with_mariadb_delivers_real_mail() {
    prove(&SINGLE, "mysql");
}

/// Database, MX and store on three hosts, talking over the lab network.
#[test]
fn split_hosts_with_postgresql_deliver_real_mail() {
    prove(&SPLIT, "pgsql");
}

#[test]
fn split_hosts_with_mariadb_deliver_real_mail() {
    prove(&SPLIT, "mysql");
}

/// A production inventory rehearsed on lab twins in one command (issue 10):
/// fresh plain-Debian twins of inventories/cluster.ini's three hosts (same
/// names and variables, the twins' addresses), the check, the real run, a
/// second run and playbooks/verify.yml (mail through the MX twin, read on
/// the store twin with the user's password), one report, the twins removed.
#[test]
fn the_cluster_inventory_is_rehearsed_on_lab_twins() {
    let _turn = common::lab::exclusive();
    let _ = mailplay().args(["lab", "down"]).output();
    let o = mailplay()
        .args(["rehearse", "playbooks/site.yml", "-i", "inventories/cluster.ini", "--verify", "playbooks/verify.yml"])
        .current_dir(repo_root())
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "the rehearsal failed:\n{t}");
    let report = &t[t.rfind("REHEARSAL REPORT").expect("no report")..];
    assert!(report.contains("Prediction mismatches: 0\n"), "{report}");
    assert!(report.contains("Second run: changed=0\n"), "{report}");
    assert!(report.contains("Verify: passed (exit 0)\n"), "{report}");
    for host in [
        "db1.example.org",
        "db2.example.org",
        "mx1.example.org",
        "mx2.example.org",
        "mupdate.example.org",
        "imap.example.org",
        "store1.example.org",
        "store2.example.org",
    ] {
        assert!(report.contains(host), "{host} is not in the report:\n{report}");
    }
    assert!(
        report
            .contains("\nVERDICT: PASSED: the check predicted the real run, the second run changed nothing, the verify playbook passed\n"),
        "{report}"
    );
    assert!(!t.contains("change me"), "a password appears in the output");
    let status = mailplay().args(["lab", "status"]).output().unwrap();
    assert_eq!(text(&status).trim(), "", "the twins were not removed");
}

/// playbooks/site.yml on the lab with one of the lab's inventories.
fn run_site(lab: &Lab, inventory: &str, extra: &[&str]) -> (i32, String) {
    let o = mailplay()
        .args(["run", "playbooks/site.yml", "-i", &lab.inventory, "-i", inventory])
        .args(extra)
        .current_dir(repo_root())
        .output()
        .unwrap();
    (o.status.code().unwrap_or(-1), text(&o))
}

/// Check mode on the fresh hosts, then the run: both succeed and the check
/// predicted exactly what the run changed. The run's output.
fn first_run_as_predicted(converge: &dyn Fn(&[&str]) -> (i32, String)) -> String {
    let (code, check) = converge(&["--check"]);
    assert_eq!(code, 0, "{check}");
    let (code, first) = converge(&[]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(changed_tasks(&check), changed_tasks(&first), "check mode did not predict the run\n--- check\n{check}\n--- run\n{first}");
    first
}

/// PostgreSQL on two hosts (issue 11): db1 the primary, db2 a hot standby
/// fed by streaming replication over TLS through its own slot; Postfix and
/// the password checker on mail1 ask both. Writes go to the primary only,
/// and with the primary stopped mail is still accepted and users still log
/// in (read from the standby); back, the standby follows it again. Then
/// playbooks/pg-failover.yml makes db2 the primary and site.yml makes db1
/// its standby.
#[test]
fn a_postgresql_primary_and_its_standby_serve_the_mail_host() {
    let hosts_ini = repo_root().join("inventories/lab-replica.ini").display().to_string();
    let lab = Lab::preinstalled(&hosts_ini);
    let mail = address(&lab, "mail1");
    let converge = |extra: &[&str]| run_site(&lab, "inventories/lab-replica.ini", extra);
    first_run_as_predicted(&converge);

    let psql = |host: &str, sql: &str| lab.ssh(host, &format!("runuser -u postgres -- psql -d mail -Atc \"{sql}\""));
    assert_eq!(psql("db2", "SELECT pg_is_in_recovery()"), "t\n", "db2 is not a standby");
    assert_eq!(psql("db1", "SELECT slot_name, active FROM pg_replication_slots"), "db2|t\n");
    assert_eq!(psql("db1", "SELECT s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)"), "t\n", "replication without TLS");
    let users = "SELECT email FROM users ORDER BY email";
    assert_eq!(psql("db2", users), psql("db1", users), "the standby does not have the primary's rows");
    assert!(psql("db2", users).contains("alice@example.org"));

    assert_eq!(client(&["send", &mail, "25", "someone@outside.invalid", "alice@example.org", "both up"])["ok"], true);
    assert_eq!(client(&["fetch", &mail, "alice@example.org", "Alice-lab-pw-1", "INBOX", "both up"])["ok"], true);

    let (_, second) = converge(&[]);
    for host in ["db1", "db2", "mail1"] {
        assert_eq!(recap(&second)[host]["changed"], 0, "{second}");
    }

    // The primary stops: the standby answers the lookups and the logins.
    lab.ssh("db1", "systemctl stop postgresql");
    let sent = client(&["send", &mail, "25", "someone@outside.invalid", "alice@example.org", "primary down"]);
    let login = client(&["login", &mail, "alice@example.org", "Alice-lab-pw-1"]);
    lab.ssh("db1", "systemctl start postgresql");
    assert_eq!(sent["ok"], true, "mail refused with the primary down: {sent}");
    assert_eq!(login["ok"], true, "login refused with the primary down: {login}");
    assert_eq!(client(&["fetch", &mail, "alice@example.org", "Alice-lab-pw-1", "INBOX", "primary down"])["ok"], true);

    // Back, the primary takes a new user, and the standby has it at once.
    let vars = std::env::temp_dir().join("mailplay-replica-users.yml");
    std::fs::write(
        &vars,
        "mail_users:\n  - {email: alice@example.org, password: Alice-lab-pw-1}\n  - {email: dave@example.net, password: Dave-lab-pw-1}\n",
    )
    .unwrap();
    let (code, added) = converge(&["-e", &format!("@{}", vars.display())]);
    assert_eq!(code, 0, "{added}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !psql("db2", users).contains("dave@example.net") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(psql("db2", users), psql("db1", users), "the standby did not follow the primary");
    assert_eq!(client(&["login", &mail, "dave@example.net", "Dave-lab-pw-1"])["ok"], true, "the new user logs in");

    // Failover: db2 is promoted (playbooks/pg-failover.yml), the old
    // primary stopped; mail goes on. site.yml with db2 as the primary then
    // makes db1 a standby of it, and the run after that changes nothing.
    let o = mailplay()
        .args([
            "run",
            "playbooks/pg-failover.yml",
            "-i",
            &lab.inventory,
            "-i",
            "inventories/lab-replica.ini",
            "-e",
            "mail_db_new_primary=db2",
        ])
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(psql("db2", "SELECT pg_is_in_recovery()"), "f\n", "db2 was not promoted");
    assert_eq!(lab.ssh("db1", "systemctl is-active postgresql; systemctl is-enabled postgresql"), "inactive\ndisabled\n");
    assert_eq!(client(&["login", &mail, "dave@example.net", "Dave-lab-pw-1"])["ok"], true, "login after the failover");
    let users_on_db2 = format!("@{}", vars.display());
    let (code, rejoined) = converge(&["-e", "mail_db_primary_host=db2", "-e", &users_on_db2]);
    assert_eq!(code, 0, "{rejoined}");
    assert_eq!(psql("db1", "SELECT pg_is_in_recovery()"), "t\n", "the old primary is not a standby");
    assert_eq!(psql("db2", "SELECT slot_name, active FROM pg_replication_slots"), "db1|t\n");
    assert_eq!(psql("db1", users), psql("db2", users));
    let (_, again) = converge(&["-e", "mail_db_primary_host=db2", "-e", &users_on_db2]);
    for host in ["db1", "db2", "mail1"] {
        assert_eq!(recap(&again)[host]["changed"], 0, "{again}");
    }
}

/// Sends mail to alice and logs her in over and over on another thread,
/// counting what fails, until dropped.
struct MailLoop {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    worker: Option<std::thread::JoinHandle<(u32, Vec<String>)>>,
}

impl MailLoop {
    fn start(host: &str) -> MailLoop {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (flag, host) = (stop.clone(), host.to_string());
        let worker = std::thread::spawn(move || {
            let (mut rounds, mut failures) = (0, Vec::new());
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                rounds += 1;
                let subject = format!("during the change {rounds}");
                let sent = client(&["send", &host, "25", "someone@outside.invalid", "alice@example.org", &subject]);
                if sent["ok"] != true {
                    failures.push(format!("send {rounds}: {sent}"));
                }
                let login = client(&["login", &host, "alice@example.org", "Alice-lab-pw-1"]);
                if login["ok"] != true {
                    failures.push(format!("login {rounds}: {login}"));
                }
            }
            (rounds, failures)
        });
        MailLoop { stop, worker: Some(worker) }
    }

    /// How many rounds ran, and what failed.
    fn finish(mut self) -> (u32, Vec<String>) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.worker.take().unwrap().join().unwrap()
    }
}

/// MariaDB on two hosts and an arbitrator (issue 11): a Galera cluster started once from
/// db1 (galera_new_cluster) and db2 joined, with arb1's garbd as the third
/// vote; mail1's Postfix and password checker ask both nodes. With db1
/// stopped, db2 and garbd keep the quorum: mail and logins go on and the
/// playbook brings db1 back into the cluster; a setting changed on the
/// running cluster restarts the nodes one at a time while mail is
/// delivered and users log in, none of it refused. (Three nodes without an
/// arbitrator: `a_cyrus_murder_over_a_galera_cluster`.)
#[test]
fn a_galera_cluster_serves_the_mail_host_and_restarts_one_node_at_a_time() {
    let hosts_ini = repo_root().join("inventories/lab-galera.ini").display().to_string();
    let lab = Lab::preinstalled(&hosts_ini);
    let mail = address(&lab, "mail1");
    let converge = |extra: &[&str]| run_site(&lab, "inventories/lab-galera.ini", &[&["-e", "mail_db_engine=mysql"][..], extra].concat());
    let first = first_run_as_predicted(&converge);
    let bootstraps: Vec<(String, String)> =
        changed_tasks(&first).into_iter().filter(|(t, _)| t.contains("a new cluster starts on the writer node")).collect();
    assert_eq!(bootstraps.len(), 1, "{first}");

    let sql = |host: &str, q: &str| lab.ssh(host, &format!("mariadb -NBe \"{q}\""));
    let users = "SELECT email FROM mail.users ORDER BY email";
    // Two nodes and garbd: three members.
    for host in ["db1", "db2"] {
        assert_eq!(sql(host, "SHOW GLOBAL STATUS LIKE 'wsrep_cluster_size'"), "wsrep_cluster_size\t3\n", "{host}");
        assert_eq!(sql(host, users), sql("db1", users), "{host} does not have db1's rows");
    }
    assert_eq!(lab.ssh("arb1", "systemctl is-active garb").trim(), "active");
    assert!(lab.ssh("arb1", "pgrep -a garbd").contains("gcomm://"), "garbd does not run on arb1");
    assert_eq!(client(&["send", &mail, "25", "someone@outside.invalid", "alice@example.org", "three nodes"])["ok"], true);
    assert_eq!(client(&["fetch", &mail, "alice@example.org", "Alice-lab-pw-1", "INBOX", "three nodes"])["ok"], true);
    let (_, second) = converge(&[]);
    for host in ["db1", "db2", "arb1", "mail1"] {
        assert_eq!(recap(&second)[host]["changed"], 0, "{second}");
    }

    // One node down: the other and garbd are a majority, so the other
    // stays Primary and answers; the playbook starts it again and it
    // rejoins (no new cluster).
    lab.ssh("db1", "systemctl stop mariadb");
    assert_eq!(sql("db2", "SHOW GLOBAL STATUS LIKE 'wsrep_cluster_status'"), "wsrep_cluster_status\tPrimary\n", "db2 lost the quorum");
    assert_eq!(client(&["send", &mail, "25", "someone@outside.invalid", "alice@example.org", "db1 down"])["ok"], true);
    assert_eq!(client(&["login", &mail, "alice@example.org", "Alice-lab-pw-1"])["ok"], true, "login with db1 down");
    let (code, back) = converge(&[]);
    assert_eq!(code, 0, "{back}");
    assert_eq!(changed_tasks(&back), vec![("mail_db : MariaDB runs".to_string(), "db1".to_string())], "{back}");
    assert_eq!(sql("db1", "SHOW GLOBAL STATUS LIKE 'wsrep_cluster_size'"), "wsrep_cluster_size\t3\n");

    // A setting changes on the running cluster, with mail flowing.
    let change_began = lab.ssh("mail1", "date +%s").trim().to_string();
    let during = MailLoop::start(&mail);
    let (code, changed) = converge(&["-e", r#"{"mail_db_galera_settings": {"wsrep_slave_threads": 2}}"#]);
    let (rounds, failures) = during.finish();
    assert_eq!(code, 0, "{changed}");
    assert!(rounds >= 3, "the mail loop ran only {rounds} rounds");
    assert!(failures.is_empty(), "refused during the rolling restart:\n{}", failures.join("\n"));
    // The nodes share the kernel's monotonic clock: each started again
    // well after the one before (a node takes seconds to be Synced).
    let started: Vec<u64> = ["db1", "db2"]
        .iter()
        .map(|h| lab.ssh(h, "systemctl show mariadb -p ActiveEnterTimestampMonotonic").trim().rsplit('=').next().unwrap().parse().unwrap())
        .collect();
    assert!(started.windows(2).all(|w| w[1] > w[0] + 1_000_000), "the nodes did not restart one after the other: {started:?} (µs)");
    for host in ["db1", "db2"] {
        assert_eq!(sql(host, "SHOW GLOBAL VARIABLES LIKE 'wsrep_slave_threads'"), "wsrep_slave_threads\t2\n", "{host}");
    }
    // Every message accepted during the change is delivered at once: none
    // lost, none deferred to a later queue run (a deferral is how a map
    // lookup that found no database shows).
    let all = rounds.to_string();
    let arrived = client(&["fetch", &mail, "alice@example.org", "Alice-lab-pw-1", "INBOX", "during the change", "--at-least", &all]);
    assert_eq!(
        arrived["ok"],
        true,
        "{arrived}\nqueue on mail1:\n{}\nmail1's log:\n{}",
        lab.ssh("mail1", "postqueue -p | tail -20"),
        lab.ssh("mail1", "journalctl --no-pager | grep -E 'status=deferred|warning|error' | tail -40 || true")
    );
    let deferred = lab.ssh("mail1", &format!("journalctl --no-pager --since @{change_began} -t postfix/lmtp -t postfix/error -t postfix/qmgr -t postfix/smtp | grep status=deferred || true"));
    assert!(deferred.is_empty(), "deferred during the change (a map found no database):\n{deferred}");

    // A user added on the writer logs in at once (every node has the row).
    let vars = std::env::temp_dir().join("mailplay-galera-users.yml");
    std::fs::write(
        &vars,
        "mail_users:\n  - {email: alice@example.org, password: Alice-lab-pw-1}\n  - {email: dave@example.net, password: Dave-lab-pw-1}\n",
    )
    .unwrap();
    let (code, added) =
        converge(&["-e", &format!("@{}", vars.display()), "-e", r#"{"mail_db_galera_settings": {"wsrep_slave_threads": 2}}"#]);
    assert_eq!(code, 0, "{added}");
    assert!(sql("db2", users).contains("dave@example.net"), "db2 lacks the new user");
    assert_eq!(client(&["login", &mail, "dave@example.net", "Dave-lab-pw-1"])["ok"], true, "the new user logs in");
}

/// The Cyrus mailboxes a murder backend holds itself (mbtype "e"; moved or
/// deleted ones stay listed a while as "ed"), as user addresses.
fn users_on(lab: &Lab, store: &str) -> Vec<String> {
    let dump = lab.ssh(store, "runuser -u cyrus -- /usr/lib/cyrus/bin/ctl_mboxlist -d");
    let list: serde_json::Map<String, Value> = serde_json::from_str(&dump).unwrap_or_else(|e| panic!("{store}: {e}\n{dump}"));
    let mut users: Vec<String> = list
        .iter()
        .filter(|(_, v)| v["mbtype"] == "e")
        .filter_map(|(k, _)| {
            let (domain, rest) = k.split_once('!')?;
            let local = rest.strip_prefix("user.").filter(|l| !l.contains('.'))?;
            Some(format!("{}@{domain}", local.replace('^', ".")))
        })
        .collect();
    users.sort();
    users
}

/// A Cyrus murder (issue 11, inventories/lab-murder.ini): mup1 the mupdate
/// master, store1 and store2 the backends, front1 the frontend, two MX and
/// the PostgreSQL user database. Users live on one backend each (store: or
/// a hash); mail through either MX reaches them through the frontend, they
/// log in, list and share folders and run sieve there; a user whose store:
/// changes moves with mail and sieve script (XFER); a backend or the
/// mupdate master down keeps the others' mail flowing; rspamd's Bayes data
/// is one Redis for both MX.
#[test]
fn a_cyrus_murder_serves_users_on_two_backends_through_its_frontend() {
    murder_proof("inventories/lab-murder.ini", "pgsql");
}

/// The same murder over a Galera cluster of three MariaDB nodes
/// (inventories/lab-murder-galera.ini). Not in the README's test command
/// (it would add about six minutes): run it with
/// `MAILPLAY_LAB_MURDER_GALERA=1 cargo test --test mail_playbook murder`.
#[test]
fn a_cyrus_murder_over_a_galera_cluster() {
    if std::env::var_os("MAILPLAY_LAB_MURDER_GALERA").is_none() {
        eprintln!("skipped: set MAILPLAY_LAB_MURDER_GALERA=1 to run it");
        return;
    }
    murder_proof("inventories/lab-murder-galera.ini", "mysql");
}

fn murder_proof(inventory: &str, engine: &str) {
    let hosts_ini = repo_root().join(inventory).display().to_string();
    let lab = Lab::preinstalled(&hosts_ini);
    let (front, mx1, mx2) = (address(&lab, "front1"), address(&lab, "mx1"), address(&lab, "mx2"));
    let engine_var = format!("mail_db_engine={engine}");
    let converge = |extra: &[&str]| run_site(&lab, inventory, &[&["-e", engine_var.as_str()][..], extra].concat());
    let first = first_run_as_predicted(&converge);
    for secret in ["Murder-lab-pw-1", "Murder-admin-lab-pw-1", "Redis-lab-pw-1"] {
        assert!(!first.contains(secret), "{secret} is in the output");
    }

    // Each user on one backend: store: put alice and carol on store1, the
    // hash bob and erin on store2.
    assert_eq!(users_on(&lab, "store1"), ["alice@example.org", "carol@example.net"]);
    assert_eq!(users_on(&lab, "store2"), ["bob@example.org", "erin.doe@example.net"]);
    for host in ["front1", "store1", "store2"] {
        assert_eq!(lab.ssh(host, "stat -c '%U:%G %a' /etc/imapd.conf"), "root:cyrus 640\n", "{host}");
        assert!(lab.ssh(host, "cat /etc/imapd.conf").contains("Murder-lab-pw-1"), "{host}");
    }
    assert!(!lab.ssh("front1", "cat /etc/imapd.conf").contains("Murder-admin-lab-pw-1"), "a frontend holds the backends' admin password");

    // Mail through each MX to a user on each backend, read through the frontend.
    for mx in [&mx1, &mx2] {
        for (user, pw) in [("alice@example.org", "Alice-lab-pw-1"), ("bob@example.org", "Bob-lab-pw-1")] {
            let subject = format!("from {mx} to {user}");
            assert_eq!(client(&["send", mx, "25", "someone@outside.invalid", user, &subject])["ok"], true, "{subject}");
            assert_eq!(client(&["fetch", &front, user, pw, "INBOX", &subject])["ok"], true, "{subject}");
        }
    }
    let folders = client(&["folders", &front, "bob@example.org", "Bob-lab-pw-1"]);
    assert_eq!(folders["selectable"], serde_json::json!(["Drafts", "INBOX", "Junk", "Sent", "Trash"]), "{folders}");
    // A folder of alice (store1) shared with bob (store2), read through the frontend.
    assert_eq!(client(&["share", &front, "alice@example.org", "Alice-lab-pw-1", "Shared", "bob@example.org", "lrs"])["ok"], true);
    assert_eq!(client(&["append", &front, "alice@example.org", "Alice-lab-pw-1", "Shared", "for bob"])["ok"], true);
    assert_eq!(client(&["fetch", &front, "bob@example.org", "Bob-lab-pw-1", "Other Users/alice/Shared", "for bob"])["ok"], true);
    // Sieve on the backend, reached through the frontend.
    let spam = client(&["send", &mx2, "25", "someone@outside.invalid", "bob@example.org", "spammy", "--header", "X-Spam:YES"]);
    assert_eq!(spam["ok"], true);
    assert_eq!(client(&["fetch", &front, "bob@example.org", "Bob-lab-pw-1", "Junk", "spammy"])["ok"], true);
    assert_eq!(client(&["sieve", &front, "bob@example.org", "Bob-lab-pw-1"])["scripts"], serde_json::json!({"default": true}));
    // Both MX learn into one Redis (on mx1): its spam counter counts what
    // each of them learns. (rspamd writes it just after answering.)
    let redis_learns = || -> u64 {
        let cmd = "REDISCLI_AUTH=\"$(sed -n 's/^requirepass \"\\(.*\\)\"$/\\1/p' /etc/redis/redis.conf)\" redis-cli hget RS learns_spam";
        lab.ssh("mx1", cmd).trim().parse().unwrap_or(0)
    };
    let wait_for_learns = |n: u64| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while redis_learns() < n && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        redis_learns()
    };
    let before = redis_learns();
    for (n, mx) in ["mx1", "mx2"].into_iter().enumerate() {
        let learn = format!(
            "printf 'From: a@b.invalid\\nSubject: cheap pills {mx}\\n\\nCheap pills for everyone reading this today on {mx}, a great offer, click now friend.\\n' > /tmp/spam.eml; rspamc -h 127.0.0.1:11334 learn_spam /tmp/spam.eml"
        );
        let said = lab.ssh(mx, &learn);
        assert!(said.contains("success = true;"), "{mx} did not learn: {said}");
        assert_eq!(wait_for_learns(before + n as u64 + 1), before + n as u64 + 1, "what {mx} learned is not in the shared Redis");
    }

    let (_, second) = converge(&[]);
    for (host, counts) in recap(&second) {
        assert_eq!(counts["changed"], 0, "{host}: {second}");
    }

    // bob's store: becomes store1: his mailbox moves with its mail and his
    // sieve script, and he reads them through the frontend as before.
    let moved = std::env::temp_dir().join("mailplay-murder-users.yml");
    std::fs::write(
        &moved,
        "mail_users:\n  - {email: alice@example.org, password: Alice-lab-pw-1, store: store1}\n  - {email: bob@example.org, password: Bob-lab-pw-1, store: store1}\n  \
         - {email: carol@example.net, password: Carol-lab-pw-1, store: store1}\n  - {email: erin.doe@example.net, password: Erin-lab-pw-1}\n  \
         - {email: dave@example.net, password: Dave-lab-pw-1, store: store2}\n",
    )
    .unwrap();
    let users_file = format!("@{}", moved.display());
    let (code, check) = converge(&["-e", &users_file, "--check"]);
    assert_eq!(code, 0, "{check}");
    let (code, move_run) = converge(&["-e", &users_file]);
    assert_eq!(code, 0, "{move_run}");
    assert_eq!(changed_tasks(&check), changed_tasks(&move_run), "check mode did not predict the move\n{check}\n{move_run}");
    assert!(changed_tasks(&move_run).contains(&(
        "mail_store_users : users whose store changed move there with their mail and sieve scripts".to_string(),
        "store2".to_string()
    )));
    assert_eq!(users_on(&lab, "store1"), ["alice@example.org", "bob@example.org", "carol@example.net"]);
    assert_eq!(users_on(&lab, "store2"), ["dave@example.net", "erin.doe@example.net"]);
    let subject = format!("from {mx1} to bob@example.org");
    assert_eq!(client(&["fetch", &front, "bob@example.org", "Bob-lab-pw-1", "INBOX", &subject])["ok"], true, "bob's mail stayed behind");
    assert_eq!(client(&["fetch", &front, "bob@example.org", "Bob-lab-pw-1", "Junk", "spammy"])["ok"], true);
    assert_eq!(client(&["sieve", &front, "bob@example.org", "Bob-lab-pw-1"])["scripts"], serde_json::json!({"default": true}));
    assert_eq!(client(&["login", &front, "dave@example.net", "Dave-lab-pw-1"])["ok"], true, "the new user logs in through the frontend");
    let (_, again) = converge(&["-e", &users_file]);
    for (host, counts) in recap(&again) {
        assert_eq!(counts["changed"], 0, "{host}: {again}");
    }

    // A backend down: the users of the other one keep their mail.
    lab.ssh("store2", "systemctl stop cyrus-imapd");
    let sent = client(&["send", &mx1, "25", "someone@outside.invalid", "alice@example.org", "store2 down"]);
    let login = client(&["login", &front, "alice@example.org", "Alice-lab-pw-1"]);
    lab.ssh("store2", "systemctl start cyrus-imapd");
    assert_eq!(sent["ok"], true, "{sent}");
    assert_eq!(login["ok"], true, "{login}");
    assert_eq!(client(&["fetch", &front, "alice@example.org", "Alice-lab-pw-1", "INBOX", "store2 down"])["ok"], true);
    // The mupdate master down: the frontend knows where every mailbox is.
    lab.ssh("mup1", "systemctl stop cyrus-imapd");
    let sent = client(&["send", &mx2, "25", "someone@outside.invalid", "erin.doe@example.net", "mupdate down"]);
    let fetched = client(&["fetch", &front, "erin.doe@example.net", "Erin-lab-pw-1", "INBOX", "mupdate down"]);
    lab.ssh("mup1", "systemctl start cyrus-imapd");
    assert_eq!(sent["ok"], true, "{sent}");
    assert_eq!(fetched["ok"], true, "{fetched}");

    // Cyrus's services change (CalDAV off) with mail flowing through both
    // MX to users on both backends: the frontend and the backends restart
    // one after the other, and nothing is lost (what a restarting server
    // defers waits in the MX's queue).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (flag, mxs) = (stop.clone(), [mx1.clone(), mx2.clone()]);
    let sender = std::thread::spawn(move || {
        let mut sent = Vec::new();
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            for (mx, user) in [(&mxs[0], "alice@example.org"), (&mxs[1], "bob@example.org")] {
                let subject = format!("during the restart {} {user}", sent.len());
                let answer = client(&["send", mx, "25", "someone@outside.invalid", user, &subject]);
                assert_eq!(answer["ok"], true, "{mx} refused {subject}: {answer}");
                sent.push((user, subject));
            }
        }
        sent
    });
    let (code, changed) = converge(&["-e", &users_file, "-e", r#"{"mail_caldav": false}"#]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = sender.join().unwrap();
    assert_eq!(code, 0, "{changed}");
    assert!(sent.len() >= 6, "the mail loop sent only {} messages", sent.len());
    let restarted: Vec<String> =
        changed_tasks(&changed).into_iter().filter(|(t, _)| t == "mail_store : restart cyrus").map(|(_, h)| h).collect();
    assert_eq!(restarted, ["front1", "store1", "store2"], "{changed}");
    let mut started: Vec<u64> = ["front1", "store1", "store2"]
        .iter()
        .map(|h| {
            lab.ssh(h, "systemctl show cyrus-imapd -p ActiveEnterTimestampMonotonic").trim().rsplit('=').next().unwrap().parse().unwrap()
        })
        .collect();
    started.sort();
    assert!(started.windows(2).all(|w| w[1] > w[0]), "two Cyrus servers started at once: {started:?} (µs)");
    for mx in ["mx1", "mx2"] {
        lab.ssh(mx, "postqueue -f");
    }
    for (user, subject) in &sent {
        let pw = if *user == "alice@example.org" { "Alice-lab-pw-1" } else { "Bob-lab-pw-1" };
        assert_eq!(client(&["fetch", &front, user, pw, "INBOX", subject, "--wait", "40"])["ok"], true, "{subject} was lost");
    }

    // A host that does not answer fails alone: the rest converge.
    lab.ssh("store2", "systemd-run --on-active=60 systemctl start ssh.service; systemctl stop ssh.service");
    let (code, partial) = converge(&["-e", &users_file, "-e", r#"{"mail_caldav": false}"#]);
    assert_ne!(code, 0, "{partial}");
    let counts = recap(&partial);
    assert_eq!(counts["store2"]["unreachable"], 1, "{partial}");
    for (host, c) in counts.iter().filter(|(h, _)| h.as_str() != "store2") {
        assert_eq!((c["failed"], c["unreachable"], c["changed"]), (0, 0, 0), "{host}: {partial}");
    }
}
