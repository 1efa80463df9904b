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

/// The lines a task printed (after its `TASK [name]` banner, before the next banner).
fn task_lines<'a>(text: &'a str, task: &str) -> Vec<&'a str> {
    let banner = format!("TASK [{task}] ");
    text.lines().skip_while(|l| !l.starts_with(&banner)).skip(1).take_while(|l| !l.ends_with("***")).collect()
}

const TWO_LOCAL_HOSTS: &str = "[all]\nh1 ansible_connection=local\nh2 ansible_connection=local\n";

/// Text with `-vvv --diff` and `--output json` of the same run, each with its exit code.
fn text_and_json(dir: &Path, playbook: &str, extra: &[&str]) -> ((i32, String), (i32, String)) {
    let mut args = vec!["run", playbook, "-i", "inventory.ini"];
    args.extend_from_slice(extra);
    let mut text_args = args.clone();
    text_args.extend(["-vvv", "--diff"]);
    let (tc, to, te) = run_in(dir, &text_args);
    let mut json_args = args.clone();
    json_args.extend(["--diff", "--output", "json"]);
    let (jc, jo, je) = run_in(dir, &json_args);
    ((tc, format!("{to}{te}")), (jc, format!("{jo}{je}")))
}

/// `no_log` and every boolean keyword are templated; a `no_log` task shows
/// nothing but its status and Ansible's message (no output, no loop item,
/// no diff) in text at -vvv and in JSON, while `register` keeps the real value.
#[test]
fn boolean_keywords_are_templated_and_no_log_hides_everything() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("inventory.ini"), format!("{TWO_LOCAL_HOSTS}h3 ansible_connection=local\n")).unwrap();
    std::fs::write(
        d.join("keywords.yml"),
        r#"- hosts: all
  gather_facts: "{{ gather }}"
  force_handlers: "{{ 'yes' }}"
  vars:
    gather: "{{ 1 == 2 }}"
    hide: "{{ 'yes' }}"
    show: "{{ 'no' }}"
    strict: "{{ 1 == 1 }}"
    t: "{{ true }}"
    secret: Wq9-nolog-secret
  tasks:
    - name: hidden command
      command: echo {{ secret }}
      no_log: "{{ hide }}"
      register: hidden
    - name: hidden loop
      command: echo {{ item }}
      loop: ["{{ secret }}-item"]
      no_log: "{{ hide }}"
    - name: hidden diff
      copy:
        content: "{{ secret }}-in-a-file\n"
        dest: "{{ playbook_dir }}/out-{{ inventory_hostname }}.txt"
      no_log: "{{ hide }}"
    - name: register keeps the real value
      copy:
        content: "{{ hidden.stdout }}\n"
        dest: "{{ playbook_dir }}/registered-{{ inventory_hostname }}.txt"
      no_log: true
    - name: shown when no_log is false
      command: echo visible-{{ inventory_hostname }}
      no_log: "{{ show }}"
    - name: extended loop
      debug:
        msg: "position {{ ansible_loop.index }} of {{ ansible_loop.length }}"
      loop: [a, b]
      loop_control:
        extended: "{{ t }}"
    - name: ignore errors templated
      command: /bin/false
      ignore_errors: "{{ t }}"
    - name: check mode templated
      copy:
        content: x
        dest: "{{ playbook_dir }}/check-{{ inventory_hostname }}.txt"
      check_mode: "{{ t }}"
    - name: diff templated off
      copy:
        content: "diff-off-content\n"
        dest: "{{ playbook_dir }}/diff-off-{{ inventory_hostname }}.txt"
      diff: "{{ not t }}"
    - name: run once templated
      command: echo once
      run_once: "{{ t }}"
    - name: become templated
      command: id -un
      become: "{{ t }}"
      become_user: nobody
      register: who
      changed_when: false
    - name: notify the handler
      command: echo notify
      notify: forced handler
    - name: fails on h3, not fatal
      command: /bin/false
      when: inventory_hostname == 'h3'
      any_errors_fatal: "{{ not strict }}"
    - meta: flush_handlers
    - name: fails on h2, fatal for the play
      command: /bin/false
      when: inventory_hostname == 'h2'
      any_errors_fatal: "{{ strict }}"
    - name: never reached
      command: touch {{ playbook_dir }}/never-{{ inventory_hostname }}
  handlers:
    - name: forced handler
      command: touch {{ playbook_dir }}/handler-{{ inventory_hostname }}
"#,
    )
    .unwrap();
    let ((text_code, text), (json_code, json)) = text_and_json(d, "keywords.yml", &[]);
    assert_eq!((text_code, json_code), (2, 2), "{text}\n{json}");
    for out in [&text, &json] {
        assert!(!out.contains("Wq9-nolog-secret"), "no_log output leaked:\n{out}");
        assert!(out.contains("the output has been hidden due to the fact that 'no_log: true' was specified for this result"), "{out}");
        assert!(out.contains("visible-h1"), "no_log: \"{{{{ show }}}}\" is false:\n{out}");
        assert!(!out.contains("Gathering Facts"), "gather_facts: \"{{{{ gather }}}}\" is false:\n{out}");
        assert!(!out.contains("diff-off-content"), "diff: is false for that task:\n{out}");
    }
    assert!(text.contains("(item=(censored due to no_log))"), "{text}");
    assert!(text.contains("position 2 of 2"), "loop_control.extended is true:\n{text}");
    assert!(text.contains("...ignoring"), "{text}");
    assert_eq!(task_lines(&text, "run once templated").iter().filter(|l| l.starts_with("changed: [")).count(), 1, "run_once:\n{text}");
    assert!(text.contains("\"stdout\": \"nobody\""), "become: \"{{{{ t }}}}\" is true:\n{text}");
    assert!(text.contains("fatal: [h3]") && d.join("handler-h3").exists(), "force_handlers runs h3's handler:\n{text}");
    assert!(text.contains("fatal: [h2]") && !d.join("never-h1").exists(), "any_errors_fatal ends the play for h1 too:\n{text}");
    assert!(!d.join("check-h1.txt").exists(), "check_mode: \"{{{{ t }}}}\" is true");
    assert_eq!(std::fs::read_to_string(d.join("registered-h1.txt")).unwrap(), "Wq9-nolog-secret\n", "register keeps the real value");
    let doc: serde_json::Value = serde_json::from_str(json.split("\nERROR!").next().unwrap()).unwrap_or_else(|e| panic!("{e}\n{json}"));
    let hidden = &doc["plays"][0]["tasks"][0]["hosts"]["h1"];
    assert_eq!(
        hidden,
        &serde_json::json!({"censored": "the output has been hidden due to the fact that 'no_log: true' was specified for this result", "changed": true}),
        "{doc:#}"
    );
}

/// A boolean keyword that is not a boolean fails the task with an error
/// naming the keyword and the value; an undecidable `no_log` hides the task.
#[test]
fn a_keyword_that_is_not_a_boolean_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("inventory.ini"), TWO_LOCAL_HOSTS).unwrap();
    std::fs::write(
        d.join("bad_no_log.yml"),
        "- hosts: h1\n  gather_facts: no\n  tasks:\n    - name: bad no_log\n      command: echo Wq9-undecided\n      no_log: \"{{ 'maybe' }}\"\n",
    )
    .unwrap();
    std::fs::write(
        d.join("bad_ignore.yml"),
        "- hosts: h1\n  gather_facts: no\n  vars:\n    often: sometimes\n  tasks:\n    - name: bad ignore_errors\n      command: echo x\n      ignore_errors: \"{{ often }}\"\n",
    )
    .unwrap();
    let ((code, text), (_, json)) = text_and_json(d, "bad_no_log.yml", &[]);
    assert_eq!(code, 2, "{text}");
    for out in [&text, &json] {
        assert!(!out.contains("Wq9-undecided"), "the task did not run: {out}");
        assert!(out.contains("the keyword 'no_log' must be a boolean (true/false, yes/no, on/off, 1/0), got 'maybe'"), "{out}");
    }
    let ((code, text), _) = text_and_json(d, "bad_ignore.yml", &[]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("the keyword 'ignore_errors' must be a boolean (true/false, yes/no, on/off, 1/0), got 'sometimes'"), "{text}");
    assert!(text.contains("bad_ignore.yml': line 6"), "the error names where: {text}");
    // Written literally, a non-boolean is refused before anything runs.
    std::fs::write(
        d.join("literal_task.yml"),
        "- hosts: h1\n  gather_facts: no\n  tasks:\n    - name: literal\n      command: touch ran\n      no_log: sometimes\n",
    )
    .unwrap();
    std::fs::write(d.join("literal_play.yml"), "- hosts: h1\n  gather_facts: perhaps\n  tasks:\n    - command: touch ran\n").unwrap();
    for (file, keyword, at) in
        [("literal_task.yml", "no_log", "literal_task.yml:4:7"), ("literal_play.yml", "gather_facts", "literal_play.yml:1:3")]
    {
        let (code, _, err) = run_in(d, &["run", file, "-i", "inventory.ini"]);
        assert_eq!(code, 4, "{err}");
        assert!(err.contains(&format!("{at}: the keyword '{keyword}' must be a boolean")), "{err}");
        assert!(!d.join("ran").exists());
    }
}

/// A module's secret arguments, 1 and 3 characters long too, are masked
/// in loop labels, results at -vvv and JSON; and the engine masks them in
/// diffs, also where the module's own masking does not reach.
#[test]
fn module_secrets_of_any_length_are_masked_in_labels_results_and_diffs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("inventory.ini"), "[all]\nh1 ansible_connection=local\n").unwrap();
    std::fs::write(
        d.join("secrets.yml"),
        r#"- hosts: all
  gather_facts: no
  tasks:
    - name: debconf passwords
      debconf:
        name: mailplay-masking-test
        question: "mailplay-masking-test/{{ item.q }}"
        vtype: password
        value: "{{ item.pw }}"
      loop:
        - {q: one, pw: "§"}
        - {q: three, pw: "Zq9"}
      check_mode: true
    - name: imapd.conf with a secret used twice
      cyrus_imapd_conf:
        path: "{{ playbook_dir }}/imapd.conf"
        validate: no
        params:
          ldap_password: Wq9-diff-secret
          ldap_filter: "(secretless=Wq9-diff-secret)"
"#,
    )
    .unwrap();
    let ((code, text), (json_code, json)) = text_and_json(d, "secrets.yml", &[]);
    assert_eq!((code, json_code), (0, 0), "{text}\n{json}");
    for out in [&text, &json] {
        for secret in ["§", "Zq9", "Wq9-diff-secret"] {
            assert!(!out.contains(secret), "{secret} leaked:\n{out}");
        }
    }
    assert!(text.contains("+ldap_filter: (secretless=********)"), "the engine masks diffs:\n{text}");
    let conf = std::fs::read_to_string(d.join("imapd.conf")).unwrap();
    assert!(conf.contains("ldap_password: Wq9-diff-secret"), "the file itself has the real value: {conf}");
}

/// One typed outcome reaches every reporter: the JSON carries every result
/// (a loop's own result with its per-item `results`, includes, run_once,
/// rescued and ignored failures) and its counts equal the PLAY RECAP of
/// the same run in text mode, which equals ansible-playbook's.
#[test]
fn json_carries_every_result_and_adds_up_to_the_recap() {
    let fx = fixture("outcome");
    let text_run = mailplay().args(["run", "site.yml", "-i", "inventory.ini"]).current_dir(&fx).output().unwrap();
    let text_out = text(&text_run);
    assert_eq!(text_run.status.code(), Some(0), "{text_out}");
    let json_run = mailplay().args(["run", "site.yml", "-i", "inventory.ini", "--output", "json"]).current_dir(&fx).output().unwrap();
    let json_out = String::from_utf8_lossy(&json_run.stdout).into_owned();
    assert_eq!(json_run.status.code(), Some(0), "{}", text(&json_run));
    json_counts_match_recap(&json_out, &text_out);

    let doc: serde_json::Value = serde_json::from_str(&json_out).unwrap();
    let task = |name: &str| {
        doc["plays"][0]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["task"]["name"] == name)
            .unwrap_or_else(|| panic!("no task {name}"))
            .clone()
    };
    // A loop whose items all succeeded is there, with its items.
    let all_ok = &task("loop all ok")["hosts"]["h1"];
    assert_eq!(all_ok["changed"], false, "{all_ok:#}");
    assert_eq!(all_ok["msg"], "All items completed");
    let items = all_ok["results"].as_array().unwrap();
    assert_eq!(items.iter().map(|i| i["stdout"].clone()).collect::<Vec<_>>(), vec!["a", "b"]);
    assert_eq!(items[1]["item"], "b");
    let some = &task("loop some changed")["hosts"]["h2"];
    assert_eq!(some["changed"], true);
    assert_eq!(some["results"].as_array().unwrap().iter().filter(|i| i["changed"] == true).count(), 1);
    let failed = &task("loop with one failed item, ignored")["hosts"]["h1"];
    assert_eq!((failed["failed"].clone(), failed["ignored"].clone()), (true.into(), true.into()), "{failed:#}");
    assert_eq!(failed["results"][1]["failed"], true);
    let empty = &task("loop over nothing")["hosts"]["h1"];
    assert_eq!((empty["skipped"].clone(), empty["results"].clone()), (true.into(), serde_json::json!([])), "{empty:#}");
    assert_eq!(task("fails on h1")["hosts"]["h1"]["rescued"], true);
    assert_eq!(task("include")["hosts"]["h2"]["include"].as_str().map(|f| f.ends_with("extra.yml")), Some(true));

    // The text stream says `skipping:` for a loop over nothing, as Ansible does.
    let mut lines = task_lines(&text_out, "loop over nothing").into_iter().filter(|l| !l.is_empty()).collect::<Vec<_>>();
    lines.sort();
    assert_eq!(lines, vec!["skipping: [h1]", "skipping: [h2]"], "{text_out}");

    // And the recap is ansible-playbook's.
    let ans = ansible("ansible-playbook").args(["site.yml", "-i", "inventory.ini"]).current_dir(&fx).output().unwrap();
    assert!(ans.status.success(), "{}", text(&ans));
    assert_eq!(recap(&text_out), recap(&text(&ans)), "mailplay:\n{text_out}\nansible:\n{}", text(&ans));
}

/// The same agreement on the differential fixtures (roles, serial,
/// include_role, handlers with listen, until, delegate_to, ...), fresh
/// targets each run.
#[test]
fn json_adds_up_to_the_recap_on_the_differential_fixtures() {
    for name in ["differential", "features"] {
        let fx = fixture(name);
        let run = |json: bool| {
            let dest = tempfile::tempdir().unwrap();
            let mut c = mailplay();
            c.args(["run", "site.yml", "-i", "inventory.ini", "-e"]).arg(format!("dest_root={}", dest.path().display()));
            if json {
                c.args(["--output", "json"]);
            }
            let out = c.current_dir(&fx).output().unwrap();
            assert!(out.status.success(), "{name}: {}", text(&out));
            (String::from_utf8_lossy(&out.stdout).into_owned(), text(&out))
        };
        let (_, text_out) = run(false);
        let (json_out, _) = run(true);
        json_counts_match_recap(&json_out, &text_out);
    }
}

/// Several playbooks in one run give one JSON document, as one
/// ansible-playbook run gives one recap.
#[test]
fn several_playbooks_give_one_json_document() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("inventory.ini"), TWO_LOCAL_HOSTS).unwrap();
    std::fs::write(d.join("a.yml"), "- name: A\n  hosts: all\n  gather_facts: no\n  tasks:\n    - command: echo a\n").unwrap();
    std::fs::write(d.join("b.yml"), "- name: B\n  hosts: h1\n  gather_facts: no\n  tasks:\n    - command: echo b\n").unwrap();
    let (code, out, err) = run_in(d, &["run", "a.yml", "b.yml", "-i", "inventory.ini", "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    let doc = json_doc(&out, &err);
    let plays: Vec<_> = doc["plays"].as_array().unwrap().iter().map(|p| p["play"]["name"].clone()).collect();
    assert_eq!(plays, vec!["A", "B"]);
    assert_eq!((doc["stats"]["h1"]["changed"].clone(), doc["stats"]["h2"]["changed"].clone()), (2.into(), 1.into()), "{doc:#}");
    assert_eq!(json_task_counts(&doc)["h1"]["changed"], 2);
}
