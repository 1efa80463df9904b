//! Issue 9's engine-core guarantees, through the binary: data read from
//! hosts is never rendered as a template, and variables belong to the task
//! they are written on.

mod common;

use common::*;

fn run_fixture(playbook: &str, extra: &[&str]) -> (i32, String) {
    let out =
        mailplay().args(["run", playbook, "-i", "inventory.ini"]).args(extra).current_dir(fixture("safety")).output().expect("mailplay");
    (out.status.code().unwrap_or(-1), text(&out))
}

/// The non-empty `"msg"` lines (a command's own result says `"msg": ""`).
fn debug_msgs(output: &str) -> Vec<String> {
    output
        .lines()
        .map(str::trim)
        .filter(|l| !matches!(*l, "\"msg\": \"\"" | "\"msg\": \"\","))
        .filter_map(|l| l.strip_prefix("\"msg\": \""))
        .map(|l| l.trim_end_matches('"').to_string())
        .collect()
}

#[test]
fn each_included_task_keeps_its_own_vars() {
    let (code, out) = run_fixture("task_vars.yml", &[]);
    assert_eq!(code, 0, "{out}");
    let expected: Vec<String> = "a b a b  a b a b a a b b a b b a".split_whitespace().map(|f| format!("v=from-{f}")).collect();
    assert_eq!(debug_msgs(&out), expected, "{out}");
}

#[test]
fn text_from_a_host_is_never_rendered() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("rendered");
    let (code, out) = run_fixture("host_data.yml", &["-e", &format!("marker={}", marker.display()), "-v"]);
    assert_eq!(code, 0, "{out}");
    assert!(!marker.exists(), "a lookup inside host data ran on the controller:\n{out}");
    let jinja = format!("{{{{ lookup('pipe', 'touch {}') }}}}", marker.display());
    let msgs = debug_msgs(&out);
    // registered, via a play var, fact list, hostvars, loop item, and the two lookups: the text as it came.
    for (i, m) in msgs.iter().enumerate() {
        if m == "compared" {
            continue;
        }
        assert!(m.contains(&jinja), "message {i} is not the host's text: {m}\n{out}");
    }
    assert!(msgs.len() >= 7, "{out}");
    assert!(out.contains(&format!("\"kept\": \"{jinja}\"")), "{out}");
}

#[test]
fn expressions_a_host_prints_are_refused_unless_the_playbook_wrote_them() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("rendered");
    let (code, out) = run_fixture("host_expressions.yml", &["-e", &format!("marker={}", marker.display())]);
    assert_eq!(code, 0, "{out}");
    assert!(!marker.exists(), "a lookup a host printed ran on the controller:\n{out}");
    let msgs = debug_msgs(&out);
    let summary = msgs.iter().find(|m| m.starts_with("refused=")).unwrap_or_else(|| panic!("{out}"));
    // assert, arg splat, when and debug var each refused it.
    assert_eq!(summary.matches("Encountered untrusted template or expression.").count(), 4, "{summary}\n{out}");
    // The text the playbook wrote, printed back by the host, was evaluated.
    assert!(out.contains("TASK [which is evaluated]") && !out.contains("Assertion failed"), "{out}");
}

#[test]
fn templates_in_playbook_vars_still_render() {
    let (code, out) = run_fixture("trusted_still_renders.yml", &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(debug_msgs(&out), ["mail.example.org mail.example.org MAIL", "mail.example.org-x"], "{out}");
}

fn run_in(dir: &std::path::Path, playbook: &str, inventory: &str, extra: &[&str]) -> (i32, String) {
    let out = mailplay().args(["run", playbook, "-i", inventory]).args(extra).current_dir(dir).output().expect("mailplay");
    (out.status.code().unwrap_or(-1), text(&out))
}

fn mode_of(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn order_throttle_module_defaults_and_ignore_unreachable_act() {
    let out_dir = tempfile::tempdir().unwrap();
    let o = out_dir.path();
    let (code, out) = run_in(&fixture("safety"), "keywords.yml", "inventory3.ini", &["-e", &format!("out={}", o.display())]);
    // The unreachable host is ignored, so the run succeeds.
    assert_eq!(code, 0, "{out}");
    assert!(debug_msgs(&out).contains(&"first=n3".to_string()), "order: reverse_sorted puts n3 first:\n{out}");
    assert!(!o.join("overlaps").exists(), "throttle: 1 let hosts overlap:\n{out}");
    for h in ["n1", "n2", "n3"] {
        assert_eq!(mode_of(&o.join(format!("{h}.default"))), 0o640, "play module_defaults\n{out}");
        assert_eq!(mode_of(&o.join(format!("{h}.block"))), 0o600, "block module_defaults\n{out}");
        assert_eq!(mode_of(&o.join(format!("{h}.own"))), 0o604, "the task's own argument\n{out}");
    }
    // ignore_unreachable on the play: the host is tried again by the second task.
    assert!(out.contains("TASK [second try]"), "{out}");
    assert_eq!(out.matches("fatal: [nowhere]: UNREACHABLE!").count(), 2, "{out}");
}

#[test]
fn keywords_mailplay_does_not_carry_out_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inv.ini"), "h1 ansible_connection=local\n").unwrap();
    for (keyword, level) in [
        ("debugger: always", "task"),
        ("collections: [community.general]", "task"),
        ("fact_path: /etc/ansible/facts.d", "play"),
        ("debugger: on_failed", "play"),
        ("order: backwards", "play"),
        ("module_defaults: {group/aws: {region: x}}", "play"),
        ("module_defaults: {cpoy: {mode: '0600'}}", "task"),
    ] {
        let play = match level {
            "play" => format!("- hosts: all\n  gather_facts: false\n  {keyword}\n  tasks:\n    - ping:\n"),
            _ => format!("- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n      {keyword}\n"),
        };
        std::fs::write(dir.path().join("p.yml"), play).unwrap();
        let (code, out) = run_in(dir.path(), "p.yml", "inv.ini", &[]);
        let name = keyword.split(':').next().unwrap();
        assert_ne!(code, 0, "{keyword} was accepted:\n{out}");
        assert!(out.contains(name) && out.contains("p.yml:"), "{keyword}: the error names neither keyword nor place:\n{out}");
    }
    // Module arguments Ansible has and mailplay does not carry out.
    for args in [
        "copy: {content: x, dest: /tmp/x, seuser: system_u}",
        "copy: {content: x, dest: /tmp/x, unsafe_writes: true}",
        "lineinfile: {path: /tmp/x, line: y, follow: true}",
        "template: {src: t.j2, dest: /tmp/x, output_encoding: utf-16}",
    ] {
        std::fs::write(dir.path().join("p.yml"), format!("- hosts: all\n  gather_facts: false\n  tasks:\n    - {args}\n")).unwrap();
        let (code, out) = run_in(dir.path(), "p.yml", "inv.ini", &["--syntax-check"]);
        let arg = args.split(", ").last().unwrap().split(':').next().unwrap();
        assert_ne!(code, 0, "{args} was accepted:\n{out}");
        assert!(out.contains(arg), "{args}: the error does not name {arg}:\n{out}");
    }
}

#[test]
fn copy_follow_and_checksum_act() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path();
    for (link, target) in [("link", "t1"), ("link2", "t2"), ("link3", "t3")] {
        std::fs::write(o.join(target), "old\n").unwrap();
        std::os::unix::fs::symlink(o.join(target), o.join(link)).unwrap();
    }
    std::fs::create_dir(o.join("folder")).unwrap();
    std::os::unix::fs::symlink(o.join("folder"), o.join("dirlink")).unwrap();
    let (code, out) = run_fixture("copy_args.yml", &["-e", &format!("out={}", o.display())]);
    assert!(o.join("dirlink").is_symlink() && o.join("folder/copy_args.yml").is_file(), "a link to a folder was replaced:\n{out}");
    assert_eq!(code, 0, "{out}");
    assert!(!o.join("link").is_symlink(), "follow: false (default) replaces the link with the file");
    assert_eq!(std::fs::read_to_string(o.join("link")).unwrap(), "new\n");
    assert_eq!(std::fs::read_to_string(o.join("t1")).unwrap(), "old\n");
    assert!(o.join("link2").is_symlink(), "follow: true keeps the link");
    assert_eq!(std::fs::read_to_string(o.join("t2")).unwrap(), "via link\n");
    assert!(o.join("link3").is_symlink(), "lineinfile edits the target, as Ansible does");
    assert_eq!(std::fs::read_to_string(o.join("t3")).unwrap(), "old\nadded\n");
    assert_eq!(std::fs::read_to_string(o.join("sum")).unwrap(), "abc");
    assert!(!o.join("sum2").exists(), "a checksum mismatch must write nothing:\n{out}");
    assert!(out.contains("checksum mismatch"), "{out}");
}

#[test]
fn a_panic_on_one_host_fails_that_host_alone_and_the_recap_prints() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inv.ini"), "h1 ansible_connection=local\nh2 ansible_connection=local\n").unwrap();
    std::fs::write(
        dir.path().join("p.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: first\n      ping:\n    - name: second\n      debug:\n        msg: still here\n",
    )
    .unwrap();
    // A debug build panics inside h2's module call (a test-only fault
    // injection standing for a parser bug on a host's reply).
    let out = mailplay()
        .args(["run", "p.yml", "-i", "inv.ini"])
        .env("MAILPLAY_TEST_PANIC_ON_HOST", "h2")
        .current_dir(dir.path())
        .output()
        .expect("mailplay");
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("fatal: [h2]") && all.contains("internal error while running task 'first'"), "{all}");
    let r = recap(&all);
    assert_eq!((r["h1"]["ok"], r["h1"]["failed"]), (2, 0), "{all}");
    assert_eq!(r["h2"]["failed"], 1, "{all}");
}
