//! No run can hang: the `timeout:` keyword ends the command on the host
//! (locally and over a real sshd on loopback), a host whose connection
//! stalls is given up on while the others finish, and a second Ctrl-C
//! ends the run at once.

mod common;

#[path = "common/sshd.rs"]
mod sshd;

#[path = "common/bounded.rs"]
mod bounded;

use std::process::Command;
use std::time::{Duration, Instant};

use bounded::run_bounded;
use common::*;
use sshd::Sshd;

/// A sleep of ~300 s whose command line is unique to this test (`n`).
fn long_sleep(n: u32) -> String {
    format!("300.{}0{n}", std::process::id())
}

fn running(pattern: &str) -> bool {
    Command::new("pgrep").args(["-f", pattern]).output().map(|o| o.status.success()).unwrap_or(false)
}

/// Wait (bounded) until `f` holds.
fn eventually(what: &str, limit: Duration, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn write(dir: &std::path::Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn a_task_timeout_ends_the_command_locally_and_over_ssh() {
    let s = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let nap = long_sleep(1);
    write(dir.path(), "inv", &format!("local ansible_connection=local\nremote {}\n", s.host_vars()));
    write(
        dir.path(),
        "p.yml",
        &format!(
            "- hosts: all\n  gather_facts: no\n  tasks:\n    - command: sleep {nap}\n      timeout: 2\n      register: r\n      ignore_errors: yes\n    - debug:\n        var: r.timedout.period\n\
             - hosts: local\n  gather_facts: no\n  timeout: 1\n  tasks:\n    - command: sleep {nap}\n      ignore_errors: yes\n"
        ),
    );
    let f = run_bounded(mailplay().args(["run", "p.yml", "-i", "inv"]).current_dir(dir.path()), Duration::from_secs(120), |_| {});
    let out = &f.output;
    assert_eq!(f.code, Some(0), "{out}");
    assert!(f.elapsed < Duration::from_secs(60), "the 300 s command was not cut short: {:?}\n{out}", f.elapsed);
    for (h, n) in [("local", 2), ("remote", 1)] {
        assert!(out.contains(&format!("fatal: [{h}]: FAILED!")), "{h}: {out}");
        assert_eq!(recap(out)[h]["ignored"], n, "{h}: {out}");
    }
    // Each said in the failure's `[ERROR]:` summary and in its result.
    let fatal = |needle: &str| out.lines().filter(|l| l.starts_with("fatal:") && l.contains(needle)).count();
    assert_eq!(fatal("Task failed: Timed out after 2 second(s)."), 2, "{out}");
    assert_eq!(out.matches("[ERROR]: Task failed: Timed out after 2 second(s).").count(), 2, "{out}");
    // A play's timeout applies to its tasks.
    assert_eq!(fatal("Task failed: Timed out after 1 second(s)."), 1, "{out}");
    assert_eq!(out.matches("\"r.timedout.period\": 2").count(), 2, "{out}");
    // The commands are gone from the host, not left running.
    eventually("the timed-out sleeps end", Duration::from_secs(15), || !running(&format!("sleep {nap}")));
}

#[test]
fn every_request_has_an_upper_bound() {
    let s = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let nap = long_sleep(4);
    write(dir.path(), "inv", &format!("remote {} mailplay_request_timeout=2\n", s.host_vars()));
    write(dir.path(), "p.yml", &format!("- hosts: all\n  gather_facts: no\n  tasks:\n    - command: sleep {nap}\n"));
    let f = run_bounded(mailplay().args(["run", "p.yml", "-i", "inv"]).current_dir(dir.path()), Duration::from_secs(120), |_| {});
    let out = &f.output;
    assert_eq!(f.code, Some(2), "{out}");
    assert!(f.elapsed < Duration::from_secs(60), "{:?}\n{out}", f.elapsed);
    assert!(out.contains("remote did not answer within 2 s (mailplay_request_timeout)"), "{out}");
    eventually("the stopped sleep ends", Duration::from_secs(15), || !running(&format!("sleep {nap}")));
}

/// Every sshd process below `listener` (the ones serving connections).
fn sshd_children(listener: u32) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![listener.to_string()];
    while let Some(p) = todo.pop() {
        let kids = Command::new("pgrep").args(["-P", &p]).output().unwrap();
        for k in String::from_utf8_lossy(&kids.stdout).split_whitespace() {
            let comm = std::fs::read_to_string(format!("/proc/{k}/comm")).unwrap_or_default();
            if comm.trim() == "sshd" {
                out.push(k.to_string());
            }
            todo.push(k.to_string());
        }
    }
    out
}

#[test]
fn a_stalled_host_is_given_up_and_the_others_finish() {
    let good = Sshd::start();
    let stalled = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let nap = long_sleep(2);
    let stalled_vars =
        stalled.host_vars().replace("-o UserKnownHostsFile=", "-o ServerAliveInterval=1 -o ServerAliveCountMax=2 -o UserKnownHostsFile=");
    write(dir.path(), "inv", &format!("good {} nap=3\nstalled {stalled_vars} nap={nap}\n", good.host_vars()));
    write(
        dir.path(),
        "p.yml",
        &format!(
            "- hosts: all\n  gather_facts: no\n  tasks:\n    - command: \"sleep {{{{ nap }}}}\"\n    - copy:\n        content: done\n        dest: \"{}/{{{{ inventory_hostname }}}}\"\n",
            dir.path().display()
        ),
    );
    let mut frozen = Vec::new();
    let f = run_bounded(mailplay().args(["run", "p.yml", "-i", "inv"]).current_dir(dir.path()), Duration::from_secs(200), |_| {
        // Once the stalled host runs its command, freeze its sshd: the
        // TCP connection stays open but nothing answers any more.
        eventually("the command starts on the stalled host", Duration::from_secs(60), || running(&format!("sleep {nap}")));
        frozen = sshd_children(stalled.child.id());
        assert!(!frozen.is_empty());
        for p in &frozen {
            Command::new("kill").args(["-STOP", p]).status().unwrap();
        }
    });
    for p in &frozen {
        let _ = Command::new("kill").args(["-KILL", p]).status();
    }
    let _ = Command::new("pkill").args(["-f", &format!("sleep {nap}")]).status();
    let out = &f.output;
    assert_eq!(f.code, Some(4), "{out}");
    // ServerAliveInterval=1, ServerAliveCountMax=2: gone after ~3 s; the
    // good host's own work takes 3 s. (On a host whose settings are
    // ignored the master's default would take 45 s, and a stalled command
    // 300 s.)
    assert!(f.elapsed < Duration::from_secs(30), "the stalled host held the run for {:?}\n{out}", f.elapsed);
    let r = recap(out);
    assert_eq!((r["good"]["changed"], r["good"]["failed"], r["good"]["unreachable"]), (2, 0, 0), "{out}");
    assert_eq!(r["stalled"]["unreachable"], 1, "{out}");
    assert!(out.contains("fatal: [stalled]: UNREACHABLE!") && out.contains("host stalled stopped responding"), "{out}");
    assert_eq!(std::fs::read_to_string(dir.path().join("good")).unwrap(), "done");
    assert!(!dir.path().join("stalled").exists());
}

#[test]
fn a_second_ctrl_c_ends_the_run_at_once() {
    let s = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let nap = long_sleep(3);
    write(dir.path(), "inv", &format!("local ansible_connection=local\nremote {}\n", s.host_vars()));
    write(
        dir.path(),
        "p.yml",
        &format!("- hosts: all\n  gather_facts: no\n  tasks:\n    - command: sleep {nap}\n    - debug:\n        msg: never\n"),
    );
    let pattern = format!("sleep {nap}");
    let f = run_bounded(mailplay().args(["run", "p.yml", "-i", "inv"]).current_dir(dir.path()), Duration::from_secs(120), |child| {
        // Both hosts run the command.
        eventually("both sleeps start", Duration::from_secs(60), || {
            let o = Command::new("pgrep").args(["-f", &pattern]).output().unwrap();
            String::from_utf8_lossy(&o.stdout).split_whitespace().count() >= 2
        });
        let pid = child.id().to_string();
        Command::new("kill").args(["-INT", &pid]).status().unwrap();
        // The first Ctrl-C lets the running task go on.
        std::thread::sleep(Duration::from_millis(500));
        assert!(child.try_wait().unwrap().is_none(), "one Ctrl-C must not end the run at once");
        Command::new("kill").args(["-INT", &pid]).status().unwrap();
    });
    let out = &f.output;
    assert_eq!(f.code, Some(99), "{out}");
    assert!(f.elapsed < Duration::from_secs(60), "{:?}\n{out}", f.elapsed);
    assert!(out.contains("User interrupted execution"), "{out}");
    assert!(!out.contains("never"), "{out}");
    eventually("the commands end with the run", Duration::from_secs(15), || !running(&pattern));
}

#[test]
fn a_first_ctrl_c_lets_running_tasks_finish_then_prints_the_recap() {
    let dir = tempfile::tempdir().unwrap();
    let nap = format!("3.{}06", std::process::id());
    write(
        dir.path(),
        "p.yml",
        &format!("- hosts: localhost\n  gather_facts: no\n  tasks:\n    - command: sleep {nap}\n    - debug:\n        msg: never\n"),
    );
    let pattern = format!("sleep {nap}");
    let f = run_bounded(
        mailplay().args(["run", "p.yml", "-i", "localhost,", "-c", "local"]).current_dir(dir.path()),
        Duration::from_secs(120),
        |child| {
            eventually("the command starts", Duration::from_secs(60), || running(&pattern));
            Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
        },
    );
    let out = &f.output;
    assert_eq!(f.code, Some(99), "{out}");
    assert!(out.contains("User interrupted execution") && out.contains("PLAY RECAP"), "{out}");
    assert!(out.contains("changed: [localhost]"), "the running task finishes: {out}");
    assert!(!out.contains("never"), "no new task starts: {out}");
}
