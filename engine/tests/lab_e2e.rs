//! End-to-end over SSH in the lab (issue 3): three real Debian hosts booted
//! with systemd-nspawn, converged by `mailplay run` over SSH with strict
//! host key checking. Needs root; the test command installs the tools.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The lab is one per machine: tests take turns.
static LAB: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Lab {
    inventory: PathBuf,
    ssh_config: PathBuf,
}

impl Lab {
    /// Fresh hosts: whatever a previous run left is removed first.
    fn up(hosts_ini: &Path) -> Lab {
        let _ = mailplay().args(["lab", "down"]).output();
        let out = mailplay().args(["lab", "up", "-i"]).arg(hosts_ini).output().expect("mailplay lab up");
        let t = text(&out);
        assert!(out.status.success(), "lab up failed:\n{t}");
        let find = |prefix: &str| -> PathBuf {
            t.lines()
                .find_map(|l| l.strip_prefix(prefix))
                .map(|p| PathBuf::from(p.trim()))
                .unwrap_or_else(|| panic!("no '{prefix}' line in:\n{t}"))
        };
        Lab { inventory: find("inventory: "), ssh_config: find("ssh config: ") }
    }

    fn ssh(&self, host: &str, cmd: &str) -> (i32, String) {
        let out = Command::new("ssh").arg("-F").arg(&self.ssh_config).arg(host).arg(cmd).output().expect("ssh");
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = mailplay().args(["lab", "down"]).output();
    }
}

fn run(lab: &Lab, extra: &[&str]) -> (i32, String) {
    let out = mailplay()
        .args(["run", "site.yml", "-i"])
        .arg(&lab.inventory)
        .args(extra)
        .current_dir(fixture("lab3"))
        .output()
        .expect("mailplay run");
    (out.status.code().unwrap_or(-1), text(&out))
}

#[test]
fn three_hosts_converge_over_ssh_idempotently_and_check_mode_is_truthful() {
    assert_eq!(unsafe { libc::geteuid() }, 0, "the lab needs root: run tests/run-all.sh as root");
    let _turn = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::up(&fixture("lab3").join("hosts.ini"));

    // Lab hosts reach each other and the controller's bridge address (the
    // package proxy), and nothing beyond: a rehearsal cannot touch a
    // production address.
    assert!(lab.ssh("lab1", "ip route get 192.0.2.10 2>&1").1.contains("unreachable"), "a lab host has a route out");
    assert_eq!(lab.ssh("lab1", "timeout 3 bash -c 'echo > /dev/tcp/lab2/22' && echo reached").1.trim(), "reached");

    // Check mode on fresh hosts changes nothing on them.
    let (code, check) = run(&lab, &["--check", "--diff"]);
    assert_eq!(code, 0, "{check}");
    for h in ["lab1", "lab2", "lab3"] {
        assert_eq!(lab.ssh(h, "test -e /srv/app && echo present || echo absent").1.trim(), "absent", "check mode touched {h}");
    }
    assert!(check.contains("+++ after"), "diff mode shows diffs:\n{check}");

    let (code, first) = run(&lab, &[]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(changed_tasks(&check), changed_tasks(&first), "check mode predicted other changes\ncheck:\n{check}\nreal:\n{first}");

    // What the play did, seen on the hosts.
    for h in ["lab1", "lab2", "lab3"] {
        let (_, conf) = lab.ssh(h, "cat /srv/app/app.conf");
        assert!(conf.contains(&format!("hostname = {h}")), "{h}: {conf}");
        assert!(conf.contains("listen submission 587"));
        assert_eq!(lab.ssh(h, "stat -c %a /srv/app/app.conf").1.trim(), "640");
        assert!(lab.ssh(h, "cat /srv/app/reloaded").1.contains(h), "handler ran on {h}");
        assert_eq!(lab.ssh(h, "stat -c %U /tmp/nobody-file").1.trim(), "nobody");
    }
    let (_, registry) = lab.ssh("lab1", "cat /srv/registry");
    for h in ["lab1", "lab2", "lab3"] {
        assert!(registry.contains(h), "delegate_to wrote {h} on lab1: {registry}");
    }
    assert_eq!(lab.ssh("lab2", "test -e /srv/registry && echo yes || echo no").1.trim(), "no");
    assert_eq!(lab.ssh("lab1", "cat /srv/once-global").1.trim(), "global marker");
    assert_eq!(lab.ssh("lab2", "test -e /srv/once-global && echo yes || echo no").1.trim(), "no");

    let (code, second) = run(&lab, &[]);
    assert_eq!(code, 0, "{second}");
    for (host, counts) in recap(&second) {
        assert_eq!(counts["changed"], 0, "second run changed {host}:\n{second}");
    }
    let (_, converged_check) = run(&lab, &["--check", "--diff"]);
    assert!(changed_tasks(&converged_check).is_empty(), "check on a converged lab predicts changes:\n{converged_check}");
}

fn lab_leftovers() -> Vec<String> {
    let mut left = Vec::new();
    let netns = std::process::Command::new("ip").args(["netns", "list"]).output().unwrap();
    left.extend(String::from_utf8_lossy(&netns.stdout).lines().filter(|l| l.starts_with("mplab-")).map(str::to_string));
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    left.extend(mounts.lines().filter(|l| l.contains("mailplay/lab/hosts")).map(str::to_string));
    let link = std::process::Command::new("ip").args(["link", "show", "mailplay0"]).output().unwrap();
    if link.status.success() {
        left.push("bridge mailplay0".into());
    }
    left
}

#[test]
fn light_hosts_run_sshd_without_systemd_and_down_leaves_nothing() {
    assert_eq!(unsafe { libc::geteuid() }, 0, "the lab needs root: run tests/run-all.sh as root");
    let _turn = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let _ = mailplay().args(["lab", "down"]).output();
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("light.ini");
    std::fs::write(&inv, "light1\nlight2\n").unwrap();
    let out = mailplay().args(["lab", "up", "--light", "-i"]).arg(&inv).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    let cfg = t.lines().find_map(|l| l.strip_prefix("ssh config: ")).unwrap().trim().to_string();
    for h in ["light1", "light2"] {
        let o = Command::new("ssh").args(["-F", &cfg, h, "echo $(hostname) $(cat /proc/1/comm)"]).output().unwrap();
        let s = String::from_utf8_lossy(&o.stdout);
        assert!(s.starts_with(h) && !s.contains("systemd"), "{h}: {s} {}", String::from_utf8_lossy(&o.stderr));
    }
    let status = mailplay().args(["lab", "status"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&status.stdout).lines().filter(|l| l.ends_with(" up")).count(), 2);
    let down = mailplay().args(["lab", "down"]).output().unwrap();
    assert!(down.status.success(), "{}", text(&down));
    assert!(lab_leftovers().is_empty(), "left behind: {:?}", lab_leftovers());
}

#[test]
fn unreachable_lab_hosts_are_reported_while_the_others_converge() {
    assert_eq!(unsafe { libc::geteuid() }, 0, "the lab needs root: run tests/run-all.sh as root");
    let _turn = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::up(&fixture("lab3").join("hosts.ini"));
    let inv_text = std::fs::read_to_string(&lab.inventory).unwrap();
    let line_of = |h: &str| inv_text.lines().find(|l| l.starts_with(&format!("{h} "))).unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    // A key lab3 does not accept, and a known_hosts with a wrong key for lab2.
    let other_key = dir.path().join("other");
    Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&other_key).status().unwrap();
    let wrong_known = dir.path().join("wrong_known_hosts");
    std::fs::write(&wrong_known, format!("lab2 {}", std::fs::read_to_string(other_key.with_extension("pub")).unwrap())).unwrap();
    let good = line_of("lab1");
    let known = inv_text.split("UserKnownHostsFile=").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    let badkey = line_of("lab2").replace(&known, &wrong_known.display().to_string());
    let refused = line_of("lab3").replace(&lab_key(&inv_text), &other_key.display().to_string());
    // An address on the lab bridge that no host has.
    let down = "down ansible_host=10.231.0.250 ansible_user=root ansible_ssh_timeout=3".to_string();
    let inv = dir.path().join("mixed.ini");
    std::fs::write(&inv, format!("{good}\n{badkey}\n{refused}\n{down}\n")).unwrap();
    std::fs::write(
        dir.path().join("p.yml"),
        "- hosts: all\n  gather_facts: no\n  tasks:\n    - copy:\n        content: converged\n        dest: /srv/mixed\n",
    )
    .unwrap();
    let out = mailplay().args(["run", "p.yml", "-i"]).arg(&inv).current_dir(dir.path()).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(4), "{t}");
    let r = recap(&t);
    assert_eq!((r["lab1"]["changed"], r["lab1"]["unreachable"]), (1, 0), "{t}");
    for h in ["lab2", "lab3", "down"] {
        assert_eq!(r[h]["unreachable"], 1, "{h}\n{t}");
    }
    assert!(
        t.contains("fatal: [lab2]: UNREACHABLE!")
            && (t.contains("Host key verification failed") || t.contains("IDENTIFICATION HAS CHANGED")),
        "{t}"
    );
    assert!(t.contains("fatal: [lab3]: UNREACHABLE!") && t.contains("Permission denied"), "{t}");
    assert!(t.contains("fatal: [down]: UNREACHABLE!"), "{t}");
    assert_eq!(lab.ssh("lab1", "cat /srv/mixed").1, "converged");
    assert_eq!(lab.ssh("lab3", "test -e /srv/mixed && echo yes || echo no").1.trim(), "no");
}

/// The lab's private key path, from a generated inventory line.
fn lab_key(inv: &str) -> String {
    inv.split("ansible_ssh_private_key_file=").nth(1).unwrap().split_whitespace().next().unwrap().to_string()
}
