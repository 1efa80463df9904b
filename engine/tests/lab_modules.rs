//! Mail modules against the real software on a lab host: first run
//! changes, second run is `ok`, check mode on a fresh host changes nothing
//! and predicts the change, diff mode shows it.

mod common;

use std::process::Command;

use common::*;

static LAB: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Lab {
    _turn: std::sync::MutexGuard<'static, ()>,
    inventory: String,
    ssh_config: String,
}

impl Lab {
    fn fresh(hosts: &str) -> Lab {
        assert_eq!(unsafe { libc::geteuid() }, 0, "the lab needs root: run tests/run-all.sh as root");
        let turn = LAB.lock().unwrap_or_else(|e| e.into_inner());
        let _ = mailplay().args(["lab", "down"]).output();
        let out = mailplay().args(["lab", "up", "-i", hosts]).output().unwrap();
        let t = text(&out);
        assert!(out.status.success(), "{t}");
        let get = |p: &str| t.lines().find_map(|l| l.strip_prefix(p)).unwrap().trim().to_string();
        Lab { _turn: turn, inventory: get("inventory: "), ssh_config: get("ssh config: ") }
    }

    fn ssh(&self, host: &str, cmd: &str) -> String {
        let o = Command::new("ssh").args(["-F", &self.ssh_config, host, cmd]).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn run(&self, dir: &str, extra: &[&str]) -> (i32, String) {
        let o = mailplay().args(["run", "site.yml", "-i", &self.inventory]).args(extra).current_dir(fixture(dir)).output().unwrap();
        (o.status.code().unwrap_or(-1), text(&o))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = mailplay().args(["lab", "down"]).output();
    }
}

#[test]
fn postconf_sets_main_cf_once_and_check_mode_predicts_it() {
    let lab = Lab::fresh(&fixture("postconf").join("hosts.ini").display().to_string());
    let (code, check) = lab.run("postconf", &["--check", "--diff"]);
    assert_eq!(code, 0, "{check}");
    assert_eq!(lab.ssh("mx1", "test -e /etc/postfix/main.cf && echo yes || echo no").trim(), "no", "check mode wrote main.cf");
    assert!(check.contains("+myhostname = mx1.lab.invalid"), "{check}");
    let (code, first) = lab.run("postconf", &[]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(changed_tasks(&check), changed_tasks(&first));
    assert!(first.contains("RUNNING HANDLER [check postfix]"), "{first}");
    assert_eq!(lab.ssh("mx1", "postconf -h myhostname message_size_limit mydestination"), "mx1.lab.invalid\n102428800\nlocalhost\n");
    assert_eq!(lab.ssh("mx1", "postconf -h smtpd_tls_exclude_ciphers"), "aNULL, eNULL, EXPORT, DES, RC4, MD5, PSK, aECDH, EDH-DSS-DES-CBC3-SHA, EDH-RSA-DES-CBC3-SHA, KRB5-DES, CBC3-SHA\n");
    let before = lab.ssh("mx1", "stat -c %i:%Y /etc/postfix/main.cf");
    let (_, second) = lab.run("postconf", &[]);
    assert_eq!(recap(&second)["mx1"]["changed"], 0, "{second}");
    assert_eq!(lab.ssh("mx1", "stat -c %i:%Y /etc/postfix/main.cf"), before, "an unchanged run rewrote main.cf");
    let (_, check_again) = lab.run("postconf", &["--check", "--diff"]);
    assert!(changed_tasks(&check_again).is_empty(), "{check_again}");
}

#[test]
fn service_starts_and_enables_once_and_check_mode_predicts_it() {
    let lab = Lab::fresh(&fixture("postconf").join("hosts.ini").display().to_string());
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

#[test]
fn apt_removes_once_and_check_mode_predicts_it() {
    let lab = Lab::fresh(&fixture("postconf").join("hosts.ini").display().to_string());
    let (code, check) = lab.run("apt", &["--check", "--diff"]);
    assert_eq!(code, 0, "{check}");
    assert_eq!(lab.ssh("mx1", "dpkg-query -W -f='${db:Status-Abbrev}' less 2>/dev/null; echo"), "ii \n", "check mode changed packages");
    assert!(check.contains("-installed: less"), "{check}");
    let (code, first) = lab.run("apt", &[]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(changed_tasks(&check), changed_tasks(&first));
    assert_eq!(changed_tasks(&first), vec![("a package that must go".to_string(), "mx1".to_string())]);
    assert_eq!(lab.ssh("mx1", "dpkg-query -W -f='${db:Status-Abbrev}' less 2>/dev/null; echo"), "un \n");
    let (_, second) = lab.run("apt", &[]);
    assert_eq!(recap(&second)["mx1"]["changed"], 0, "{second}");
}
