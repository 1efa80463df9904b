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

fn debug_msgs(output: &str) -> Vec<String> {
    output.lines().filter_map(|l| l.trim().strip_prefix("\"msg\": \"")).map(|l| l.trim_end_matches('"').to_string()).collect()
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
fn templates_in_playbook_vars_still_render() {
    let (code, out) = run_fixture("trusted_still_renders.yml", &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(debug_msgs(&out), ["mail.example.org mail.example.org MAIL", "mail.example.org-x"], "{out}");
}
