//! `mailplay run --lab` without a lab: a crafted lab state (MAILPLAY_LAB_DIR)
//! with missing, stopped and "running" twins. The refusal must come before
//! anything is contacted, and a run against a running twin must reach the
//! twin's address, never the inventory's (a ProxyCommand in the lab's
//! ssh_config records what ssh was asked to reach, without any network).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;

const INVENTORY: &str = "\
[mail_db]
db1 ansible_host=192.0.2.1 ansible_port=2222 ansible_user=deploy

[mail_mx]
mx1 ansible_host=192.0.2.2

[mail:children]
mail_db
mail_mx

[mail:vars]
ansible_ssh_common_args='-o ProxyJump=192.0.2.3'
";

const PLAYBOOK: &str = "\
- hosts: all
  gather_facts: no
  tasks:
    - name: reach the host
      ping:
";

/// A project folder with the inventory and playbook, and a lab folder.
fn project() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inventory.ini"), INVENTORY).unwrap();
    std::fs::write(dir.path().join("site.yml"), PLAYBOOK).unwrap();
    let lab = dir.path().join("lab");
    std::fs::create_dir(&lab).unwrap();
    (dir, lab)
}

/// A pid that is surely not running: a child that has exited and been reaped.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// Write `state.json` as `lab up` does: one entry per (name, address, pid).
fn write_state(lab: &Path, twins: &[(&str, &str, u32)]) {
    let hosts: Vec<serde_json::Value> = twins
        .iter()
        .enumerate()
        .map(|(i, (name, address, pid))| {
            serde_json::json!({
                "name": name, "index": i + 1, "address": address, "booted": true,
                "netns": format!("mplab-{}", i + 1), "veth": format!("mplabv{}", i + 1),
                "dir": lab.join("hosts").join(name), "pid": pid, "host_key_pub": "ssh-ed25519 AAAA"
            })
        })
        .collect();
    std::fs::write(lab.join("state.json"), serde_json::to_string_pretty(&serde_json::json!({ "hosts": hosts })).unwrap()).unwrap();
}

fn run_lab(dir: &Path, lab: &Path, extra: &[&str]) -> (i32, String, Duration) {
    let start = Instant::now();
    let out = mailplay()
        .args(["run", "site.yml", "-i", "inventory.ini", "--lab"])
        .args(extra)
        .env("MAILPLAY_LAB_DIR", lab)
        .env_remove("MAILPLAY_HOST_KEY_CHECKING")
        .current_dir(dir)
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), text(&out), start.elapsed())
}

#[test]
fn a_missing_or_stopped_twin_stops_the_run_before_anything_is_contacted() {
    let (dir, lab) = project();
    write_state(&lab, &[("db1", "10.231.0.11", dead_pid())]);
    let (code, out, took) = run_lab(dir.path(), &lab, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no lab twin for mx1"), "{out}");
    assert!(out.contains("the lab twin of db1 is not running"), "{out}");
    assert!(out.contains("mailplay lab up -i inventory.ini"), "{out}");
    // Nothing started: no play, no task, and no connection timeout waited out
    // (a TEST-NET address would take the 10 s connect timeout).
    assert!(!out.contains("PLAY [") && !out.contains("TASK ["), "{out}");
    assert!(took < Duration::from_secs(5), "took {took:?}: {out}");
}

#[test]
fn only_the_hosts_left_by_limit_need_a_twin() {
    let (dir, lab) = project();
    write_state(&lab, &[("db1", "10.231.0.11", dead_pid())]);
    let (code, out, _) = run_lab(dir.path(), &lab, &["--limit", "mx1"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no lab twin for mx1") && !out.contains("db1"), "{out}");
    // Without a lab state at all, every targeted host is named.
    std::fs::remove_file(lab.join("state.json")).unwrap();
    let (code, out, _) = run_lab(dir.path(), &lab, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no lab twin for db1, mx1"), "{out}");
}

#[test]
fn a_running_twin_is_reached_with_its_own_settings_whatever_the_inventory_and_command_line_say() {
    let (dir, lab) = project();
    // This test's own process stands in for the twin's systemd-nspawn.
    write_state(&lab, &[("db1", "127.0.0.1", std::process::id())]);
    let marker = lab.join("reached");
    // ssh runs the lab's ssh_config (`-F`); instead of connecting, it records
    // the address, port and user it was asked for, and fails.
    std::fs::write(lab.join("ssh_config"), format!("Host *\n  ProxyCommand /bin/sh -c 'echo %h %p %r >> {}; exit 1'\n", marker.display()))
        .unwrap();
    let (code, out, took) =
        run_lab(dir.path(), &lab, &["--limit", "db1", "-e", "ansible_host=192.0.2.4 ansible_port=2200", "-u", "admin", "-c", "local"]);
    assert_eq!(code, 4, "unreachable expected: {out}");
    assert!(out.contains("UNREACHABLE!"), "{out}");
    assert_eq!(std::fs::read_to_string(&marker).unwrap_or_default(), "127.0.0.1 22 root\n", "{out}");
    assert!(took < Duration::from_secs(8), "took {took:?}: {out}");
}

#[test]
fn json_file_writes_the_document_beside_the_text_output() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inventory.ini"), "h1 ansible_connection=local\n").unwrap();
    std::fs::write(
        dir.path().join("site.yml"),
        format!(
            "- hosts: all\n  gather_facts: no\n  tasks:\n    - name: a file\n      copy: {{content: hi, dest: {}/f.txt}}\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let out =
        mailplay().args(["run", "site.yml", "-i", "inventory.ini", "--json-file", "run.json"]).current_dir(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(recap(&text(&out))["h1"]["changed"], 1, "the text stream stays on stdout");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("run.json")).unwrap()).unwrap();
    assert_eq!(doc["plays"][0]["tasks"][0]["task"]["name"], "a file");
    assert_eq!(doc["plays"][0]["tasks"][0]["hosts"]["h1"]["changed"], true);
    assert_eq!(doc["stats"]["h1"]["changed"], 1);
}

/// `mailplay rehearse` up to the lab, never into it: PATH has none of the
/// lab's tools, so `lab up` would stop at its preflight before touching
/// anything even if the rehearsal reached it.
fn rehearse(dir: &Path, lab: &Path, args: &[&str]) -> (i32, String) {
    let out =
        mailplay().arg("rehearse").args(args).env("MAILPLAY_LAB_DIR", lab).env("PATH", "/nonexistent").current_dir(dir).output().unwrap();
    (out.status.code().unwrap_or(-1), text(&out))
}

#[test]
fn rehearse_stops_before_the_lab_on_a_missing_or_broken_playbook() {
    let (dir, lab) = project();
    let (code, out) = rehearse(dir.path(), &lab, &["site.yml", "-i", "inventory.ini", "--verify", "verify.yml"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the playbook: verify.yml could not be found"), "{out}");
    std::fs::write(dir.path().join("verify.yml"), "- hosts: all\n  tasks:\n    - no_such_module: {}\n").unwrap();
    let (code, out) = rehearse(dir.path(), &lab, &["site.yml", "-i", "inventory.ini", "--verify", "verify.yml"]);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("no_such_module") && !out.contains("REHEARSE [fresh twins"), "{out}");
    assert_eq!(std::fs::read_dir(&lab).unwrap().count(), 0, "the lab was not touched");
}

#[test]
fn rehearse_says_why_it_cannot_bring_up_the_twins() {
    let (dir, lab) = project();
    let (code, out) = rehearse(dir.path(), &lab, &["site.yml", "-i", "inventory.ini", "-e", "x=1"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("REHEARSE [fresh twins of db1, mx1]"), "{out}");
    assert!(out.contains("ERROR! cannot bring up the twins: "), "{out}");
    assert!(!out.contains("REHEARSE [check"), "no run started: {out}");
    assert_eq!(std::fs::read_dir(&lab).unwrap().count(), 0, "the lab was not touched");
}
