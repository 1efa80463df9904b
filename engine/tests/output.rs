//! What the reporters show, through the binary on local hosts: `--output
//! json` is always one complete document (errors included), `no_log` and
//! secrets never reach any output, and the JSON carries every result the
//! PLAY RECAP counts.

mod common;

use std::path::Path;

use common::*;

/// Run mailplay in `dir`: (exit code, stdout, stderr).
fn run_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = mailplay().args(args).current_dir(dir).output().expect("mailplay");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn json_doc(stdout: &str, stderr: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{stdout}\nstderr:\n{stderr}"))
}

fn errors_of(doc: &serde_json::Value) -> String {
    doc["errors"].as_array().expect("errors list").iter().map(|e| e.as_str().unwrap_or_default().to_string()).collect::<Vec<_>>().join("\n")
}

#[test]
fn json_is_written_when_a_play_level_error_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.yml"),
        "- hosts: all\n  gather_facts: no\n  tasks:\n    - name: first play runs\n      command: echo one\n\
- hosts: all\n  gather_facts: no\n  vars_files: [missing-vars.yml]\n  tasks:\n    - debug: msg=never\n",
    )
    .unwrap();
    let (text_code, _, _) = run_in(dir.path(), &["run", "p.yml", "-i", "localhost,", "-c", "local"]);
    let (code, out, err) = run_in(dir.path(), &["run", "p.yml", "-i", "localhost,", "-c", "local", "--output", "json"]);
    assert_eq!(code, text_code, "the exit code does not depend on the output format");
    assert_eq!(code, 1);
    let doc = json_doc(&out, &err);
    assert!(errors_of(&doc).contains("missing-vars.yml"), "{doc:#}");
    // What ran before the error is in the document too.
    assert_eq!(doc["plays"][0]["tasks"][0]["task"]["name"], "first play runs", "{doc:#}");
    assert_eq!(doc["plays"][0]["tasks"][0]["hosts"]["localhost"]["stdout"], "one", "{doc:#}");
    // And a human still sees the error.
    assert!(err.contains("missing-vars.yml"), "{err}");
}

#[test]
fn json_is_written_for_errors_before_any_play() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.yml"), "- hosts: all\n  tasks:\n    - debug: msg=hi\n   bad: [\n").unwrap();
    std::fs::write(dir.path().join("unknown.yml"), "- hosts: all\n  tasks:\n    - no_such_module: {}\n").unwrap();
    std::fs::write(dir.path().join("bad.ini"), "[g\nh1\n").unwrap();
    std::fs::write(dir.path().join("ok.yml"), "- hosts: all\n  gather_facts: no\n  tasks:\n    - debug: msg=hi\n").unwrap();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["run", "bad.yml", "-i", "localhost,"], 4, "bad.yml:4"),
        (&["run", "unknown.yml", "-i", "localhost,"], 4, "no_such_module"),
        (&["run", "absent.yml", "-i", "localhost,"], 1, "absent.yml could not be found"),
        (&["run", "ok.yml", "-i", "bad.ini"], 4, "bad.ini"),
        (&["run", "ok.yml", "-i", "localhost,", "-e", "@no-such-vars.yml"], 5, "no-such-vars.yml"),
    ];
    for (args, want_code, want_msg) in cases {
        let (text_code, _, _) = run_in(dir.path(), args);
        let mut json_args = args.to_vec();
        json_args.extend(["--output", "json"]);
        let (code, out, err) = run_in(dir.path(), &json_args);
        assert_eq!((code, text_code), (*want_code, *want_code), "{args:?}: {err}");
        let doc = json_doc(&out, &err);
        assert!(errors_of(&doc).contains(want_msg), "{args:?}: {doc:#}");
        assert_eq!(doc["plays"], serde_json::json!([]), "{args:?}");
        assert!(err.contains(want_msg), "{args:?}: stderr still names the problem: {err}");
    }
}

#[test]
fn json_is_written_when_the_run_is_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("slow.yml"),
        "- hosts: all\n  gather_facts: no\n  tasks:\n    - name: first\n      command: sleep 1\n    - name: never started\n      command: touch never\n",
    )
    .unwrap();
    let child = mailplay()
        .args(["run", "slow.yml", "-i", "localhost,", "-c", "local", "--output", "json"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first task has started (its `sleep` is running).
    let mut started = false;
    for _ in 0..200 {
        let ps = std::process::Command::new("pgrep").args(["-P", &child.id().to_string(), "-x", "sleep"]).output().unwrap();
        if ps.status.success() {
            started = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(started, "the first task never started");
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(99), "{stderr}");
    let doc = json_doc(&stdout, &stderr);
    assert!(errors_of(&doc).contains("User interrupted execution"), "{doc:#}");
    assert_eq!(doc["interrupted"], true, "{doc:#}");
    assert_eq!(doc["plays"][0]["tasks"][0]["task"]["name"], "first");
    assert!(doc["stats"]["localhost"].is_object(), "{doc:#}");
}
