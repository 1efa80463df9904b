//! mailplay against ansible-playbook 2.19 on the same playbook and
//! inventory (two local hosts): the same files with the same modes, and the
//! same PLAY RECAP counts. Then mailplay's own promises: a second run
//! changes nothing, and check mode on a fresh target touches nothing and
//! predicts exactly what the real run changes.

mod common;

use common::*;

fn run_mailplay(fixture_name: &str, dest: &std::path::Path, extra: &[&str]) -> String {
    let fx = fixture(fixture_name);
    let out = mailplay()
        .args(["run", "site.yml", "-i", "inventory.ini", "-e"])
        .arg(format!("dest_root={}", dest.display()))
        .args(extra)
        .current_dir(&fx)
        .output()
        .expect("run mailplay");
    let t = text(&out);
    assert!(out.status.success(), "mailplay failed ({:?}):\n{t}", out.status.code());
    t
}

/// Roles, handlers, loops, when, register, block/rescue/always and the file modules.
#[test]
fn basics_match_ansible_then_idempotent() {
    same_as_ansible_then_idempotent("differential");
}

/// serial, run_once, delegate_to, include_tasks/include_role, handlers with
/// listen and flush_handlers, until/retries, loop_control, with_dict,
/// hostvars, failed_when/changed_when, vars_files, group_vars, environment.
#[test]
fn features_match_ansible_then_idempotent() {
    same_as_ansible_then_idempotent("features");
}

/// Plays and `delegate_to` naming `localhost` with an inventory that lacks
/// it get Ansible's implicit localhost (the controller, local connection,
/// `all`'s variables), which `hosts: all` and `local*` do not match and
/// `127.0.0.1` names too.
#[test]
fn implicit_localhost_matches_ansible_then_idempotent() {
    same_as_ansible_then_idempotent("implicit_localhost");
}

/// A command that check mode skips registers what Ansible registers, and
/// changed_when/failed_when are not evaluated on a skipped result (the mail
/// playbook's `changed_when` on a command's stderr failed check mode).
#[test]
fn a_command_skipped_in_check_mode_registers_what_ansible_does() {
    let fx = fixture("check_results");
    let registered = |o: &std::process::Output| -> Vec<String> {
        text(o).lines().filter(|l| l.contains("\"msg\": \"keys=")).map(|l| l.trim().to_string()).collect()
    };
    let ans = ansible("ansible-playbook").args(["site.yml", "-i", "inventory.ini", "--check"]).current_dir(&fx).output().unwrap();
    assert!(ans.status.success(), "{}", text(&ans));
    let mp = mailplay().args(["run", "site.yml", "-i", "inventory.ini", "--check"]).current_dir(&fx).output().unwrap();
    assert!(mp.status.success(), "{}", text(&mp));
    assert_eq!(registered(&mp), registered(&ans), "mailplay:\n{}\nansible:\n{}", text(&mp), text(&ans));
    assert_eq!(recap(&text(&mp)), recap(&text(&ans)));
}

fn same_as_ansible_then_idempotent(name: &str) {
    let fx = fixture(name);
    let a = tempfile::tempdir().unwrap();
    let m = tempfile::tempdir().unwrap();

    let ans = ansible("ansible-playbook")
        .args(["site.yml", "-i", "inventory.ini", "-e"])
        .arg(format!("dest_root={}", a.path().display()))
        .current_dir(&fx)
        .output()
        .expect("run ansible-playbook");
    let ans_text = text(&ans);
    assert!(ans.status.success(), "ansible-playbook failed:\n{ans_text}");

    let first = run_mailplay(name, m.path(), &[]);
    assert_eq!(snapshot(m.path()), snapshot(a.path()), "files differ from ansible's\nmailplay output:\n{first}");
    assert_eq!(recap(&first), recap(&ans_text), "recap differs\nmailplay:\n{first}\nansible:\n{ans_text}");

    let second = run_mailplay(name, m.path(), &[]);
    for (host, counts) in recap(&second) {
        assert_eq!(counts["changed"], 0, "second run changed something on {host}:\n{second}");
        assert_eq!(counts["failed"], 0, "{second}");
    }
}

#[test]
fn check_mode_touches_nothing_and_predicts_the_real_run() {
    let parent = tempfile::tempdir().unwrap();
    let target = parent.path().join("fresh");
    let check = run_mailplay("differential", &target, &["--check", "--diff"]);
    assert!(!target.exists(), "check mode created files:\n{check}");
    let real = run_mailplay("differential", &target, &[]);
    let (c, r) = (recap(&check), recap(&real));
    assert!(!r.is_empty());
    for (host, counts) in &r {
        assert_eq!(
            c[host]["changed"], counts["changed"],
            "check mode predicted a different number of changes on {host}\ncheck:\n{check}\nreal:\n{real}"
        );
    }
    // Per task too: the names of changed tasks must be the same.
    assert_eq!(changed_tasks(&check), changed_tasks(&real));
}
