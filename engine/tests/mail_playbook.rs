//! The mail playbook (playbooks/site.yml) proven by real mail: converge a
//! fresh lab host, then send with SMTP and read with IMAP from the
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

fn converge(lab: &Lab, engine: &str, extra: &[&str]) -> (i32, String) {
    converge_with(lab, "inventories/lab.ini", engine, extra)
}

fn converge_with(lab: &Lab, inventory: &str, engine: &str, extra: &[&str]) -> (i32, String) {
    let o = mailplay()
        .args(["run", "playbooks/site.yml", "-i", &lab.inventory, "-i", inventory, "-e", &format!("mail_db_engine={engine}")])
        .args(extra)
        .current_dir(repo_root())
        .output()
        .unwrap();
    (o.status.code().unwrap_or(-1), text(&o))
}

const SECRETS: &[&str] = &["Alice-lab-pw-1", "Bob-lab-pw-1", "Carol-lab-pw-1", "Cyrus-lab-admin-pw", "Transfer-lab-pw", "Access-lab-pw", "Bob-new-pw-2", "Dave-lab-pw-1"];

fn single_host(engine: &str) {
    let lab = Lab::fresh(&repo_root().join("inventories/lab.ini").display().to_string());
    let h = address(&lab, "mail1");
    let h = h.as_str();
    let mut all_output = String::new();

    // Check mode on the fresh host: nothing changes, the run is predicted.
    let untouched = "test -e /etc/postfix/main.cf && echo main.cf; test -e /etc/mail-auth.conf && echo auth; systemctl is-active postgresql mariadb cyrus-imapd | sort | uniq -c";
    let before = lab.ssh("mail1", untouched);
    let (code, check) = converge(&lab, engine, &["--check", "--diff"]);
    all_output += &check;
    assert_eq!(code, 0, "{check}");
    assert_eq!(lab.ssh("mail1", untouched), before, "check mode changed the host");
    assert!(check.contains("+message_size_limit = 102428800"), "{check}");

    let (code, first) = converge(&lab, engine, &["--diff"]);
    all_output += &first;
    assert_eq!(code, 0, "{first}");
    assert_eq!(changed_tasks(&check), changed_tasks(&first), "check mode did not predict the run\n--- check\n{check}\n--- run\n{first}");

    // Delivery to a user, read back over IMAP with the user's password.
    let sent = client(&["send", h, "25", "someone@outside.invalid", "alice@example.org", "hello alice"]);
    assert_eq!(sent["ok"], true, "{sent}");
    let got = client(&["fetch", h, "alice@example.org", "Alice-lab-pw-1", "INBOX", "hello alice"]);
    assert_eq!(got["ok"], true, "{got}");
    let headers = got["headers"].as_str().unwrap();
    assert!(headers.contains("X-Spamd-Result:") && headers.contains("X-Rspamd-Queue-Id:"), "rspamd's headers are missing:\n{headers}");
    assert!(headers.contains("with LMTPA"), "not delivered by Cyrus's lmtpd:\n{headers}");
    assert_eq!(client(&["login", h, "alice@example.org", "Alice-lab-pw-1", "--imaps"])["ok"], true, "IMAPS on 993");
    assert_eq!(client(&["login", h, "alice@example.org", "wrong"])["ok"], false);

    // Spam goes to Junk; unknown recipients are refused; forwardings arrive.
    assert_eq!(client(&["send", h, "25", "someone@outside.invalid", "alice@example.org", "spammy", "--header", "X-Spam:YES"])["ok"], true);
    assert_eq!(client(&["fetch", h, "alice@example.org", "Alice-lab-pw-1", "Junk", "spammy"])["ok"], true);
    let refused = client(&["send", h, "25", "someone@outside.invalid", "nobody@example.org", "lost"]);
    assert_eq!((refused["stage"].as_str(), refused["code"].as_i64()), (Some("rcpt"), Some(550)), "{refused}");
    assert_eq!(client(&["send", h, "25", "someone@outside.invalid", "postmaster@example.org", "to the postmaster"])["ok"], true);
    assert_eq!(client(&["fetch", h, "alice@example.org", "Alice-lab-pw-1", "INBOX", "to the postmaster"])["ok"], true);

    // Submission: TLS and a login, and only as oneself.
    let no_tls = client(&["send", h, "587", "alice@example.org", "bob@example.org", "s1"]);
    assert_eq!((no_tls["ok"].as_bool(), no_tls["code"].as_i64()), (Some(false), Some(530)), "{no_tls}");
    let no_auth = client(&["send", h, "587", "alice@example.org", "bob@example.org", "s2", "--starttls"]);
    assert_eq!((no_auth["ok"].as_bool(), no_auth["stage"].as_str()), (Some(false), Some("rcpt")), "{no_auth}");
    let forged = client(&["send", h, "587", "bob@example.org", "carol@example.net", "s3", "--starttls", "--login", "alice@example.org", "Alice-lab-pw-1"]);
    assert_eq!((forged["ok"].as_bool(), forged["code"].as_i64()), (Some(false), Some(553)), "{forged}");
    let own = client(&["send", h, "587", "alice@example.org", "bob@example.org", "from alice", "--starttls", "--login", "alice@example.org", "Alice-lab-pw-1"]);
    assert_eq!(own["ok"], true, "{own}");
    assert_eq!(client(&["fetch", h, "bob@example.org", "Bob-lab-pw-1", "INBOX", "from alice"])["ok"], true);

    // Moving a message into Junk teaches rspamd spam, out of Junk ham.
    let learned = |class: &str| -> u64 {
        let stat = lab.ssh("mail1", "rspamc stat");
        stat.lines()
            .skip_while(|l| !l.contains(&format!("Statfile: {class}")))
            .next()
            .and_then(|l| l.split("learned: ").nth(1))
            .and_then(|n| n.split(',').next())
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    let (spam0, ham0) = (learned("BAYES_SPAM"), learned("BAYES_HAM"));
    assert_eq!(client(&["move", h, "alice@example.org", "Alice-lab-pw-1", "INBOX", "Junk", "hello alice"])["ok"], true);
    assert_eq!(client(&["move", h, "alice@example.org", "Alice-lab-pw-1", "Junk", "INBOX", "spammy"])["ok"], true);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while (learned("BAYES_SPAM"), learned("BAYES_HAM")) != (spam0 + 1, ham0 + 1) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert_eq!((learned("BAYES_SPAM"), learned("BAYES_HAM")), (spam0 + 1, ham0 + 1), "rspamd did not learn from the moves:\n{}", lab.ssh("mail1", "rspamc stat; journalctl --no-pager | grep -i -E 'notify|rspamd_learn' | tail -5"));

    // Folders autocreated and subscribed; quota from quota_kb.
    let folders = client(&["folders", h, "carol@example.net", "Carol-lab-pw-1"]);
    assert_eq!(folders["subscribed"], serde_json::json!(["Drafts", "INBOX", "Junk", "Sent", "Trash"]), "{folders}");
    let quota = client(&["quota", h, "carol@example.net", "Carol-lab-pw-1"]);
    assert!(quota["text"].as_str().unwrap().contains("(STORAGE 0 2048)"), "{quota}");

    // Converged: the second run changes nothing, check mode agrees.
    let (_, second) = converge(&lab, engine, &[]);
    all_output += &second;
    assert_eq!(recap(&second)["mail1"]["changed"], 0, "{second}");
    let (_, check_again) = converge(&lab, engine, &["--check", "--diff"]);
    assert!(changed_tasks(&check_again).is_empty(), "{check_again}");

    // One variable changes: a new user, a new password, a new forwarding.
    let vars = std::env::temp_dir().join(format!("mailplay-mail-{engine}.yml"));
    std::fs::write(
        &vars,
        "mail_users:\n  - {email: alice@example.org, password: Alice-lab-pw-1, quota_kb: 1024}\n  - {email: bob@example.org, password: Bob-new-pw-2}\n  - {email: carol@example.net, password: Carol-lab-pw-1, quota_kb: 2048}\n  - {email: dave@example.net, password: Dave-lab-pw-1}\n\
         mail_forwardings:\n  - {source: postmaster@example.org, destination: alice@example.org}\n  - {source: info@example.net, destination: carol@example.net}\n  - {source: sales@example.net, destination: dave@example.net}\n",
    )
    .unwrap();
    let (code, changed) = converge(&lab, engine, &["-e", &format!("@{}", vars.display())]);
    all_output += &changed;
    assert_eq!(code, 0, "{changed}");
    let tasks: Vec<String> = changed_tasks(&changed).into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        tasks,
        vec![
            "mail_db : the rows of domains, users, forwardings and transports",
            "mail_store : each user's INBOX (Cyrus creates the folders and the sieve script at the first login)",
            "mail_store : each user's active sieve script is the default one (for users made before it existed, too)",
            "mail_store : Junk expires",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>()
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>(),
        "{changed}"
    );
    assert_eq!(client(&["login", h, "dave@example.net", "Dave-lab-pw-1"])["ok"], true, "the new user logs in");
    assert_eq!(client(&["login", h, "bob@example.org", "Bob-lab-pw-1"])["ok"], false, "the old password still works");
    assert_eq!(client(&["login", h, "bob@example.org", "Bob-new-pw-2"])["ok"], true, "the new password does not work");
    assert_eq!(client(&["send", h, "25", "someone@outside.invalid", "sales@example.net", "to sales"])["ok"], true);
    assert_eq!(client(&["fetch", h, "dave@example.net", "Dave-lab-pw-1", "INBOX", "to sales"])["ok"], true);

    for s in SECRETS {
        assert!(!all_output.contains(s), "the password {s} appears in the output:\n{all_output}");
    }
}

#[test]
fn single_host_with_postgresql_delivers_real_mail() {
    single_host("pgsql");
}

#[test]
fn single_host_with_mariadb_delivers_real_mail() {
    single_host("mysql");
}

/// Database, MX and store on three hosts, talking over the lab network.
fn split(engine: &str) {
    let lab = Lab::fresh(&repo_root().join("inventories/lab-split.ini").display().to_string());
    let (mx, store) = (address(&lab, "mx1"), address(&lab, "store1"));
    let (code, check) = converge_with(&lab, "inventories/lab-split.ini", engine, &["--check"]);
    assert_eq!(code, 0, "{check}");
    let (code, first) = converge_with(&lab, "inventories/lab-split.ini", engine, &[]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(changed_tasks(&check), changed_tasks(&first), "check mode did not predict the run\n--- check\n{check}\n--- run\n{first}");

    // Mail into the MX comes out of the store; logins are checked against db1.
    assert_eq!(client(&["send", &mx, "25", "someone@outside.invalid", "alice@example.org", "across hosts"])["ok"], true);
    let got = client(&["fetch", &store, "alice@example.org", "Alice-lab-pw-1", "INBOX", "across hosts"]);
    assert_eq!(got["ok"], true, "{got}");
    assert!(got["headers"].as_str().unwrap().contains("X-Rspamd-Queue-Id:"), "{got}");
    let own = client(&["send", &mx, "587", "alice@example.org", "carol@example.net", "submitted", "--starttls", "--login", "alice@example.org", "Alice-lab-pw-1"]);
    assert_eq!(own["ok"], true, "{own}");
    assert_eq!(client(&["fetch", &store, "carol@example.net", "Carol-lab-pw-1", "INBOX", "submitted"])["ok"], true);
    assert_eq!(client(&["send", &mx, "25", "someone@outside.invalid", "bob@example.org", "spam across", "--header", "X-Spam:YES"])["ok"], true);
    assert_eq!(client(&["fetch", &store, "bob@example.org", "Bob-lab-pw-1", "Junk", "spam across"])["ok"], true);
    let forged = client(&["send", &mx, "587", "bob@example.org", "carol@example.net", "forged", "--starttls", "--login", "alice@example.org", "Alice-lab-pw-1"]);
    assert_eq!(forged["code"], 553, "{forged}");

    let (_, second) = converge_with(&lab, "inventories/lab-split.ini", engine, &[]);
    for host in ["db1", "mx1", "store1"] {
        assert_eq!(recap(&second)[host]["changed"], 0, "{second}");
    }
}

#[test]
fn split_hosts_with_postgresql_deliver_real_mail() {
    split("pgsql");
}

#[test]
fn split_hosts_with_mariadb_deliver_real_mail() {
    split("mysql");
}
