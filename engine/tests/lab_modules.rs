//! Mail modules against the real software on a lab host: first run
//! changes, second run is `ok`, check mode on a fresh host changes nothing
//! and predicts the change, diff mode shows it.

mod common;

use common::lab::Lab;
use common::*;

#[test]
fn postconf_sets_main_cf_once_and_check_mode_predicts_it() {
    let lab = Lab::preinstalled(&fixture("postconf").join("hosts.ini").display().to_string());
    let (code, check) = lab.run("postconf", &["--check", "--diff"]);
    assert_eq!(code, 0, "{check}");
    assert_eq!(lab.ssh("mx1", "test -e /etc/postfix/main.cf && echo yes || echo no").trim(), "no", "check mode wrote main.cf");
    assert!(check.contains("+myhostname = mx1.lab.invalid"), "{check}");
    let (code, first) = lab.run("postconf", &[]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(changed_tasks(&check), changed_tasks(&first));
    assert!(first.contains("RUNNING HANDLER [check postfix]"), "{first}");
    assert_eq!(lab.ssh("mx1", "postconf -h myhostname message_size_limit mydestination"), "mx1.lab.invalid\n102428800\nlocalhost\n");
    assert_eq!(
        lab.ssh("mx1", "postconf -h smtpd_tls_exclude_ciphers"),
        "aNULL, eNULL, EXPORT, DES, RC4, MD5, PSK, aECDH, EDH-DSS-DES-CBC3-SHA, EDH-RSA-DES-CBC3-SHA, KRB5-DES, CBC3-SHA\n"
    );
    assert_eq!(
        lab.ssh("mx1", "postconf -M submission/inet wks/unix uucp/unix 2>/dev/null"),
        "submission inet  n       -       y       -       -       smtpd -o syslog_name=postfix/submission -o smtpd_tls_security_level=encrypt -o smtpd_sasl_auth_enable=yes -o {smtpd_client_restrictions=permit_sasl_authenticated, reject}\n\
         wks        unix  -       n       n       -       -       pipe flags=DRhu user=webkey argv=/usr/bin/gpg-wks-server -v --receive --header X-Original-Delivered-To --from ${sender} --recipient ${original_recipient}\n"
    );
    assert!(check.contains("+wks unix - n n - - pipe flags=DRhu"), "{check}");
    let before = lab.ssh("mx1", "stat -c %i:%Y /etc/postfix/main.cf /etc/postfix/master.cf");
    let (_, second) = lab.run("postconf", &[]);
    assert_eq!(recap(&second)["mx1"]["changed"], 0, "{second}");
    assert_eq!(
        lab.ssh("mx1", "stat -c %i:%Y /etc/postfix/main.cf /etc/postfix/master.cf"),
        before,
        "an unchanged run rewrote main.cf or master.cf"
    );
    let (_, check_again) = lab.run("postconf", &["--check", "--diff"]);
    assert!(changed_tasks(&check_again).is_empty(), "{check_again}");
}

#[test]
fn service_starts_and_enables_once_and_check_mode_predicts_it() {
    let lab = Lab::preinstalled(&fixture("postconf").join("hosts.ini").display().to_string());
    let (code, check) = lab.run("service", &["--check", "--diff"]);
    assert_eq!(code, 0, "{check}");
    assert_eq!(lab.ssh("mx1", "systemctl is-active redis-server").trim(), "inactive", "check mode started redis");
    assert!(check.contains("+state: started"), "{check}");
    let (code, first) = lab.run("service", &[]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(changed_tasks(&check), changed_tasks(&first));
    assert_eq!(lab.ssh("mx1", "systemctl is-active redis-server; systemctl is-enabled redis-server"), "active\nenabled\n");
    let (_, second) = lab.run("service", &[]);
    assert_eq!(recap(&second)["mx1"]["changed"], 0, "{second}");
}

/// A flat apt repository on the host (no mirror is reachable from the lab):
/// real .deb packages built with dpkg-deb, indexed as dpkg-scanpackages
/// would. `probe` recommends `probe-extra`.
fn lab_repository(lab: &Lab, probe_version: &str) {
    let script = format!(
        r#"set -e
rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources
mkdir -p /srv/repo && cd /srv/repo
mk() {{
  d=$(mktemp -d); mkdir -p "$d/DEBIAN" "$d/usr/share/doc/$1"
  printf 'Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: mailplay tests <tests@lab.invalid>\nDescription: a package of the lab repository\n' "$1" "$2" > "$d/DEBIAN/control"
  if [ -n "$3" ]; then echo "Recommends: $3" >> "$d/DEBIAN/control"; fi
  echo "$1 $2" > "$d/usr/share/doc/$1/version"
  dpkg-deb -Zgzip -b "$d" "$1_$2_all.deb" >/dev/null; rm -rf "$d"
}}
[ -e probe-extra_1.0_all.deb ] || mk probe-extra 1.0
mk probe {probe_version} probe-extra
for f in *.deb; do dpkg-deb -f "$f"; echo "Filename: ./$f"; echo "Size: $(stat -c %s "$f")"; echo "SHA256: $(sha256sum "$f" | cut -d' ' -f1)"; echo; done > Packages
echo 'deb [trusted=yes] file:/srv/repo ./' > /etc/apt/sources.list.d/lab.list
echo ready"#
    );
    assert_eq!(lab.ssh("mx1", &script).trim(), "ready");
}

#[test]
fn apt_installs_upgrades_and_removes_once_and_check_mode_predicts_it() {
    let lab = Lab::preinstalled(&fixture("postconf").join("hosts.ini").display().to_string());
    lab_repository(&lab, "1.0");
    // `ii VERSION` when installed, else `-` (dpkg says `un` or nothing).
    let versions = "for p in probe probe-extra less; do echo \"$p $(dpkg-query -W -f='${db:Status-Abbrev}${Version}' $p 2>/dev/null | grep '^ii' || echo -)\"; done";
    let before = lab.ssh("mx1", versions);
    assert!(before.starts_with("probe -\nprobe-extra -\nless ii"), "{before}");

    let (code, check) = lab.run("apt", &["--check", "--diff"]);
    assert_eq!(code, 0, "{check}");
    assert_eq!(lab.ssh("mx1", versions), before, "check mode changed packages");
    assert!(check.contains("+installed: probe 1.0") && check.contains("-installed: less"), "{check}");
    let (code, first) = lab.run("apt", &[]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(changed_tasks(&check), changed_tasks(&first));
    assert_eq!(
        changed_tasks(&first),
        vec![
            ("a package that must go".to_string(), "mx1".to_string()),
            ("the probe at its newest version, without its recommends".to_string(), "mx1".to_string())
        ]
    );
    assert_eq!(lab.ssh("mx1", versions), "probe ii 1.0\nprobe-extra -\nless -\n", "{first}");
    let (_, second) = lab.run("apt", &[]);
    assert_eq!(recap(&second)["mx1"]["changed"], 0, "{second}");

    // A newer probe in the repository: check mode shows it (apt-get -s)
    // without touching the host's lists, the run installs it, the next run
    // has nothing to do.
    lab_repository(&lab, "2.0");
    let lists = "ls -l --time-style=+%s /var/lib/apt/lists /var/cache/apt | md5sum";
    let lists_before = lab.ssh("mx1", lists);
    let (code, check) = lab.run("apt", &["--check", "--diff"]);
    assert_eq!(code, 0, "{check}");
    assert_eq!(lab.ssh("mx1", lists), lists_before, "check mode touched the host's package lists");
    assert!(check.contains("+installed: probe 2.0"), "{check}");
    assert_eq!(lab.ssh("mx1", versions), "probe ii 1.0\nprobe-extra -\nless -\n");
    let (code, upgrade) = lab.run("apt", &[]);
    assert_eq!(code, 0, "{upgrade}");
    assert_eq!(changed_tasks(&check), changed_tasks(&upgrade));
    assert_eq!(changed_tasks(&upgrade), vec![("the probe at its newest version, without its recommends".to_string(), "mx1".to_string())]);
    assert_eq!(lab.ssh("mx1", versions), "probe ii 2.0\nprobe-extra -\nless -\n");
    let (_, again) = lab.run("apt", &[]);
    assert_eq!(recap(&again)["mx1"]["changed"], 0, "{again}");
}

/// `role|object|privilege|column` lines of every privilege the mail roles
/// hold in PostgreSQL's database `mail`, from the catalogs.
const PG_GRANTS: &str = "psql -XAtq -d mail -c \"SELECT r.rolname||'|'||c.relname||'|'||e.privilege_type||'|' FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) e JOIN pg_roles r ON r.oid = e.grantee WHERE c.relnamespace = 'public'::regnamespace AND r.rolname LIKE 'mail_%' UNION ALL SELECT r.rolname||'|'||c.relname||'|'||e.privilege_type||'|'||a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attacl IS NOT NULL CROSS JOIN LATERAL aclexplode(a.attacl) e JOIN pg_roles r ON r.oid = e.grantee WHERE c.relnamespace = 'public'::regnamespace AND r.rolname LIKE 'mail_%' UNION ALL SELECT r.rolname||'|public|'||e.privilege_type||'|' FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) e JOIN pg_roles r ON r.oid = e.grantee WHERE n.nspname = 'public' AND r.rolname LIKE 'mail_%' ORDER BY 1\"";

/// The same for MariaDB, from information_schema.
const MY_GRANTS: &str = "mariadb -N -B -e \"SELECT CONCAT(SUBSTRING_INDEX(SUBSTRING(GRANTEE, 2), '''', 1), '|', TABLE_NAME, '|', PRIVILEGE_TYPE, '|') AS l FROM information_schema.TABLE_PRIVILEGES WHERE TABLE_SCHEMA = 'mail' UNION ALL SELECT CONCAT(SUBSTRING_INDEX(SUBSTRING(GRANTEE, 2), '''', 1), '|', TABLE_NAME, '|', PRIVILEGE_TYPE, '|', COLUMN_NAME) FROM information_schema.COLUMN_PRIVILEGES WHERE TABLE_SCHEMA = 'mail' ORDER BY l\"";

/// The tutorial's grants, column by column (schema USAGE only in PostgreSQL).
fn tutorial_grants(pg: bool) -> String {
    let mut lines = vec![
        "mail_access|forwardings|SELECT|destination",
        "mail_access|forwardings|SELECT|source",
        "mail_access|users|SELECT|email",
        "mail_access|users|SELECT|password",
        "mail_roundcube|userpref|DELETE|",
        "mail_roundcube|userpref|INSERT|",
        "mail_roundcube|userpref|SELECT|",
        "mail_roundcube|userpref|UPDATE|",
        "mail_roundcube|users|SELECT|email",
        "mail_roundcube|users|UPDATE|password",
        "mail_transfer|domains|SELECT|domain",
        "mail_transfer|forwardings|SELECT|destination",
        "mail_transfer|forwardings|SELECT|source",
        "mail_transfer|relay_auth|SELECT|password",
        "mail_transfer|relay_auth|SELECT|source",
        "mail_transfer|relay_auth|SELECT|username",
        "mail_transfer|sender_relays|SELECT|relay",
        "mail_transfer|sender_relays|SELECT|source",
        "mail_transfer|transports|SELECT|domain",
        "mail_transfer|transports|SELECT|transport",
        "mail_transfer|users|SELECT|email",
    ];
    if pg {
        lines.extend(["mail_access|public|USAGE|", "mail_roundcube|public|USAGE|", "mail_transfer|public|USAGE|"]);
    }
    lines.sort();
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn sorted_lines(s: &str) -> String {
    let mut l: Vec<&str> = s.lines().filter(|l| !l.is_empty()).collect();
    l.sort();
    l.iter().map(|l| format!("{l}\n")).collect()
}

const TEST_PASSWORDS: &[&str] = &["Tr4nsfer-PW-xyzzy", "Acc3ss-PW-plugh", "R0undcube-PW-frob", "Us3r-PW-quux", "Cyrus-PW-grault"];

#[test]
fn sql_modules_apply_the_tutorials_grants_exactly_and_revoke_hand_made_ones() {
    let lab = Lab::preinstalled(&fixture("sql").join("hosts.ini").display().to_string());
    // The servers are installed but not running in a fresh lab host.
    lab.ssh("db1", "systemctl start postgresql mariadb");
    let pg = |sql: &str| lab.ssh("db1", &format!("cd / && runuser -u postgres -- psql -XAtq -d mail -c \"{sql}\" 2>&1"));
    let my = |sql: &str| lab.ssh("db1", &format!("mariadb -N -B mail -e \"{sql}\" 2>&1"));
    let mut all_output = String::new();

    let (code, check) = lab.run("sql", &["--check", "--diff"]);
    all_output += &check;
    assert_eq!(code, 0, "{check}");
    assert_eq!(
        lab.ssh("db1", "runuser -u postgres -- psql -XAtq -c \"SELECT count(*) FROM pg_database WHERE datname = 'mail'\""),
        "0\n",
        "check mode created the database"
    );
    assert_eq!(lab.ssh("db1", "mariadb -N -e \"SHOW DATABASES LIKE 'mail'\""), "", "check mode created the database");
    assert!(
        check.contains("+mail_transfer: SELECT (domain) ON domains") || check.contains("assuming an earlier task of this run creates it"),
        "{check}"
    );
    assert!(check.contains("+role: mail_access"), "{check}");

    let (code, first) = lab.run("sql", &["--diff"]);
    all_output += &first;
    assert_eq!(code, 0, "{first}");
    assert_eq!(changed_tasks(&check), changed_tasks(&first), "check mode did not predict the run\n{check}\n{first}");
    assert!(first.contains("RUNNING HANDLER [restart postgresql]"), "{first}");
    assert!(first.contains("+mail_transfer: SELECT (domain) ON domains"), "{first}");
    assert_eq!(sorted_lines(&lab.ssh("db1", &format!("runuser -u postgres -- {PG_GRANTS}"))), tutorial_grants(true));
    assert_eq!(sorted_lines(&lab.ssh("db1", MY_GRANTS)), tutorial_grants(false));

    // The roles' passwords work, and the grants bite.
    let as_pg = |user: &str, pw: &str, sql: &str| {
        lab.ssh("db1", &format!("PGPASSWORD='{pw}' psql -XAtq -h 127.0.0.1 -U {user} -d mail -c \"{sql}\" 2>&1"))
    };
    let as_my = |user: &str, pw: &str, sql: &str| lab.ssh("db1", &format!("mariadb -N -B -u {user} -p'{pw}' mail -e \"{sql}\" 2>&1"));
    assert_eq!(as_pg("mail_access", "Acc3ss-PW-plugh", "SELECT email FROM users ORDER BY 1"), "cyrus\nuser@example.org\n");
    assert!(as_pg("mail_transfer", "Tr4nsfer-PW-xyzzy", "SELECT password FROM users").contains("permission denied"));
    assert!(as_pg("mail_access", "wrong", "SELECT 1").contains("password authentication failed"));
    assert_eq!(as_my("mail_access", "Acc3ss-PW-plugh", "SELECT email FROM users ORDER BY 1"), "cyrus\nuser@example.org\n");
    assert!(as_my("mail_transfer", "Tr4nsfer-PW-xyzzy", "SELECT password FROM users").contains("denied"));
    // Rows: passwords stored as SHA-512 crypt hashes of the given values.
    for hash in [
        pg("SELECT password FROM users WHERE email = 'user@example.org'"),
        my("SELECT password FROM users WHERE email = 'user@example.org'"),
    ] {
        assert!(hash.starts_with("$6$"), "{hash}");
        let check = lab.ssh(
            "db1",
            &format!(
                "python3 -W ignore -c 'import crypt,sys; print(crypt.crypt(\"Us3r-PW-quux\", sys.argv[1]) == sys.argv[1])' '{}'",
                hash.trim()
            ),
        );
        assert_eq!(check, "True\n");
    }
    assert_eq!(pg("SELECT transport FROM transports"), "wks:\n");
    assert_eq!(my("SELECT COUNT(*) FROM forwardings"), "3\n");
    assert_eq!(pg("SHOW max_connections"), "120\n", "the handler restarted PostgreSQL");

    let (_, second) = lab.run("sql", &[]);
    all_output += &second;
    assert_eq!(recap(&second)["db1"]["changed"], 0, "{second}");
    let (_, check_again) = lab.run("sql", &["--check", "--diff"]);
    assert!(changed_tasks(&check_again).is_empty(), "{check_again}");

    // Grants added by hand are revoked: the task lists are exhaustive.
    pg("GRANT SELECT (password) ON users TO mail_transfer; GRANT INSERT ON userpref TO mail_transfer; GRANT SELECT ON domains TO mail_access");
    my("GRANT SELECT (password) ON users TO mail_transfer@localhost; GRANT INSERT ON userpref TO mail_transfer@localhost");
    // A changed password and a changed quota are put right.
    pg("ALTER ROLE mail_access PASSWORD 'changed-by-hand'; UPDATE users SET quota_kb = 5 WHERE email = 'user@example.org'");
    let (code, third) = lab.run("sql", &["-v", "--diff"]);
    all_output += &third;
    assert_eq!(code, 0, "{third}");
    let changed: Vec<String> = changed_tasks(&third).into_iter().map(|(t, _)| t).collect();
    assert_eq!(changed, vec!["my grants", "pg grants mail_access", "pg grants mail_transfer", "pg roles", "pg rows"], "{third}");
    assert!(
        third.contains("-mail_transfer: SELECT (password) ON users") || third.contains("-mail_transfer: SELECT (email, password) ON users"),
        "{third}"
    );
    assert_eq!(sorted_lines(&lab.ssh("db1", &format!("runuser -u postgres -- {PG_GRANTS}"))), tutorial_grants(true));
    assert_eq!(sorted_lines(&lab.ssh("db1", MY_GRANTS)), tutorial_grants(false));
    assert!(
        as_pg("mail_access", "Acc3ss-PW-plugh", "SELECT quota_kb FROM users").contains("permission denied"),
        "mail_access may not read quota_kb"
    );
    assert_eq!(pg("SELECT quota_kb FROM users WHERE email = 'user@example.org'"), "1024\n");

    for pw in TEST_PASSWORDS {
        assert!(!all_output.contains(pw), "password {pw} leaked into the output:\n{all_output}");
    }

    // Bad input: a clear error naming the task, nothing applied.
    let bad = |tag: &str| {
        let o = mailplay().args(["run", &format!("bad_{tag}.yml"), "-i", &lab.inventory]).current_dir(fixture("sql")).output().unwrap();
        (o.status.code().unwrap_or(-1), text(&o))
    };
    let (code, out) = bad("misspelled");
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("exaustive") && out.contains("did you mean 'exhaustive'"), "{out}");
    // Caught before any host is contacted, with the task's position.
    let (code, out) = bad("privilege");
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("bad_privilege.yml:6:7") && out.contains("'UPSERT' is not a privilege"), "{out}");
    let (code, out) = bad("column");
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("TASK [no such column]") && out.contains("column mail does not exist in table public.users"), "{out}");
    let (code, out) = bad("table");
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("TASK [no such table]") && out.contains("table mail.userz does not exist"), "{out}");
    assert_eq!(
        sorted_lines(&lab.ssh("db1", &format!("runuser -u postgres -- {PG_GRANTS}"))),
        tutorial_grants(true),
        "a failed task applied part of its grants"
    );
    assert_eq!(sorted_lines(&lab.ssh("db1", MY_GRANTS)), tutorial_grants(false), "a failed task applied part of its grants");
    lab.ssh("db1", "systemctl stop postgresql");
    let (code, out) = bad("down");
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("TASK [database down]") && out.contains("Is the server running"), "{out}");
}

/// Run IMAP commands as the Cyrus admin on a lab host (tags t1.., after
/// authentication) and return the server's replies.
fn imap_as_admin(lab: &Lab, host: &str, password: &str, commands: &[&str]) -> String {
    let mut input = format!("a AUTHENTICATE PLAIN $(printf '\\0cyrus\\0{password}' | base64)\\r\\n");
    for (i, c) in commands.iter().enumerate() {
        input.push_str(&format!("t{} {}\\r\\n", i + 1, c.replace('"', "\\\"")));
    }
    input.push_str("z LOGOUT\\r\\n");
    let script = "coproc S { exec timeout 20 openssl s_client -quiet -ign_eof -connect 127.0.0.1:143 -starttls imap 2>/dev/null; }; \
                  exec 3<&\"${S[0]}\" 4>&\"${S[1]}\"; \
                  IFS= read -r auth; printf '%s\\n' \"$auth\" >&4; \
                  while IFS= read -r line <&3; do case \"$line\" in 'a '*) break;; esac; done; \
                  cat >&4; cat <&3";
    lab.ssh(host, &format!("printf \"{input}\" | bash -c '{}' | tr -d '\\r'", script.replace('\'', "'\\''")))
}

#[test]
fn cyrus_mailboxes_and_sieve_are_set_once_over_imap_and_managesieve() {
    let lab = Lab::preinstalled(&fixture("cyrus").join("hosts.ini").display().to_string());
    let setup = |extra: &[&str]| {
        let o = mailplay().args(["run", "setup.yml", "-i", &lab.inventory]).args(extra).current_dir(fixture("cyrus")).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
        text(&o)
    };
    // imapd.conf and cyrus.conf through cyrus_imapd_conf and cyrus_service.
    let conf_before = lab.ssh("store1", "md5sum /etc/imapd.conf /etc/cyrus.conf");
    let check = setup(&["--check", "--diff"]);
    assert_eq!(lab.ssh("store1", "md5sum /etc/imapd.conf /etc/cyrus.conf"), conf_before, "check mode changed the files");
    assert!(check.contains("+virtdomains: userid") && check.contains("-\tpop3\t\tcmd=\"pop3d -U 30\""), "{check}");
    let first = setup(&[]);
    assert_eq!(changed_tasks(&check), changed_tasks(&first));
    assert!(
        lab.ssh(
            "store1",
            "grep -c '^admins: cyrus' /etc/imapd.conf; grep -c pop3d /etc/cyrus.conf; grep delprune /etc/cyrus.conf | grep -v '^#'"
        )
        .starts_with("1\n1\n"),
        "only the commented pop3s line stays"
    );
    assert!(lab.ssh("store1", "grep '^\tdelprune' /etc/cyrus.conf").contains("cmd=\"/usr/sbin/cyrus expire -E 3\" at=0400"));
    let files = lab.ssh("store1", "stat -c %i:%Y /etc/imapd.conf /etc/cyrus.conf");
    assert_eq!(recap(&setup(&[]))["store1"]["changed"], 0);
    assert_eq!(lab.ssh("store1", "stat -c %i:%Y /etc/imapd.conf /etc/cyrus.conf"), files, "an unchanged run rewrote a file");
    let o = mailplay().args(["run", "bad_imapd.yml", "-i", &lab.inventory]).current_dir(fixture("cyrus")).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("unknown or bad keys") && text(&o).contains("virtdomain"), "{}", text(&o));
    assert_eq!(lab.ssh("store1", "stat -c %i:%Y /etc/imapd.conf /etc/cyrus.conf"), files, "a rejected change touched the file");
    let pw = "Cyrus-Adm1n-PW-waldo";
    // ctl_mboxlist names them internally: example.org!user.u.Junk.
    let mailboxes = || {
        lab.ssh("store1", "cd / && runuser -u cyrus -- /usr/lib/cyrus/bin/ctl_mboxlist -d | grep -o '^\"example.org!user\\.u[A-Za-z.]*\"' | tr -d '\"' | sort")
    };
    let mut all_output = String::new();

    let (code, check) = lab.run("cyrus", &["--check", "--diff"]);
    all_output += &check;
    assert_eq!(code, 0, "{check}");
    assert_eq!(mailboxes(), "", "check mode created mailboxes");
    assert!(check.contains("+mailbox: user.u.Junk@example.org (\\Junk)") && check.contains("+quota: 1024 KiB"), "{check}");
    assert!(check.contains("+  fileinto \"Junk\";"), "{check}");

    let (code, first) = lab.run("cyrus", &["--diff"]);
    all_output += &first;
    assert_eq!(code, 0, "{first}");
    assert_eq!(changed_tasks(&check), changed_tasks(&first), "check mode did not predict the run\n{check}\n{first}");
    assert_eq!(
        mailboxes(),
        "example.org!user.u\nexample.org!user.u.Drafts\nexample.org!user.u.Junk\nexample.org!user.u.Sent\nexample.org!user.u.Trash\n"
    );
    let seen = imap_as_admin(
        &lab,
        "store1",
        pw,
        &[
            "GETQUOTAROOT \"user.u.Junk@example.org\"",
            "GETMETADATA \"user.u.Junk@example.org\" (\"/shared/vendor/cmu/cyrus-imapd/expire\")",
            "GETACL \"user.u@example.org\"",
        ],
    );
    assert!(seen.contains("* QUOTA user.u@example.org (STORAGE 0 1024)"), "{seen}");
    assert!(seen.contains("* METADATA user.u.Junk@example.org (\"/shared/vendor/cmu/cyrus-imapd/expire\" \"7\")"), "{seen}");
    assert!(seen.contains(" anyone p"), "{seen}");
    // The user's special-use flags (private to the user), seen as the user through proxy authorisation would need
    // the user's login; the admin's LIST shows that the folders exist, the flags were given at CREATE.
    // Active: timsieved points the user's defaultbc at the compiled script.
    let active =
        lab.ssh("store1", "d=$(dirname $(find /var/spool/sieve -name junk.bc)); readlink $d/defaultbc; grep -c -a Junk $d/junk.bc");
    assert_eq!(active, "junk.bc\n1\n", "script not stored and activated");

    let (_, second) = lab.run("cyrus", &[]);
    all_output += &second;
    assert_eq!(recap(&second)["store1"]["changed"], 0, "{second}");

    // A right changed by hand and a removed expiry are put back, nothing else.
    imap_as_admin(
        &lab,
        "store1",
        pw,
        &[
            "SETACL \"user.u@example.org\" anyone lrs",
            "SETMETADATA \"user.u.Junk@example.org\" (\"/shared/vendor/cmu/cyrus-imapd/expire\" NIL)",
        ],
    );
    let (code, third) = lab.run("cyrus", &["-v", "--diff"]);
    all_output += &third;
    assert_eq!(code, 0, "{third}");
    let changed: Vec<String> = changed_tasks(&third).into_iter().map(|(t, _)| t).collect();
    assert_eq!(changed, vec!["Junk expires after 7 days", "the user's mailbox with a quota"], "{third}");
    assert!(third.contains("-acl anyone: lrs") && third.contains("+acl anyone: p"), "{third}");
    assert!(!all_output.contains(pw), "the admin password leaked:\n{all_output}");
}

#[test]
fn system_modules_converge_once_and_check_mode_predicts_them() {
    let lab = Lab::preinstalled(&fixture("system").join("hosts.ini").display().to_string());
    let state = || {
        lab.ssh("sys1", "hostname; cat /etc/hostname; getent passwd webkey | cut -d: -f6,7; id -nG webkey; id -nG postfix; echo 'GET postfix/main_mailer_type' | debconf-communicate postfix; dpkg-statoverride --list /var/spool/postfix/var/run/saslauthd; stat -c %U:%G:%a /var/spool/postfix/var/run/saslauthd 2>&1")
    };
    let before = state();
    let hash = "$6$mailplay0$0KwO0iWg559gd4ZnqxojdBsJFuSwU8qTH2GiDnlqb4qkNjK4/ZjtlMKAOAPUCvxlZSfSHksP9/C1jC6E5xV00/";

    let (code, check) = lab.run("system", &["--check", "--diff"]);
    assert_eq!(code, 0, "{check}");
    assert_eq!(state(), before, "check mode changed the host");
    assert!(
        check.contains("+hostname = mx-one")
            && check.contains("+user: webkey")
            && check.contains("+root sasl 710 /var/spool/postfix/var/run/saslauthd"),
        "{check}"
    );

    let (code, first) = lab.run("system", &["--diff"]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(changed_tasks(&check), changed_tasks(&first), "check mode did not predict the run\n{check}\n{first}");
    assert_eq!(
        state(),
        "mx-one\nmx-one\n/var/lib/webkey:/usr/sbin/nologin\nwebkey\npostfix sasl\n0 Internet Site\nroot sasl 710 /var/spool/postfix/var/run/saslauthd\nroot:sasl:710\n"
    );
    assert_eq!(lab.ssh("sys1", "getent shadow webkey | cut -d: -f2"), format!("{hash}\n"));
    assert_eq!(lab.ssh("sys1", "echo 'GET mailplay-test/secret' | debconf-communicate mailplay-test"), "0 Debconf-PW-plugh\n");

    let (_, second) = lab.run("system", &["-v"]);
    assert_eq!(recap(&second)["sys1"]["changed"], 0, "{second}");
    for out in [&check, &first, &second] {
        assert!(!out.contains("Debconf-PW-plugh") && !out.contains(hash), "a secret leaked:\n{out}");
    }
}
