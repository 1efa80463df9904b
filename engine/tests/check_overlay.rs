//! Check mode carries its own planned changes forward (issue 10): a task
//! that depends on what an earlier task only planned predicts what the
//! real run then does. Through the real binary, on the local connection,
//! in a temporary folder: `--check` changes nothing and reports, task by
//! task, exactly what the real run that follows reports; a second run
//! changes nothing.

mod common;

use std::path::Path;

use common::*;

/// Each task's (or handler's) results in order: the header and the sorted
/// status words of its result lines (`ok`, `changed`, `skipping`, ...).
fn task_results(output: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in output.lines() {
        if let Some(rest) = line.strip_prefix("TASK [").or_else(|| line.strip_prefix("RUNNING HANDLER [")) {
            out.push((rest.split("] ").next().unwrap_or("").to_string(), Vec::new()));
        } else if let Some((status, _)) = line.split_once(": [") {
            if let (Some(last), true) = (out.last_mut(), matches!(status, "ok" | "changed" | "skipping" | "fatal" | "failed")) {
                last.1.push(format!("{status}{}", line.split_once("(item=").map(|(_, i)| format!(" {i}")).unwrap_or_default()));
                last.1.sort();
            }
        }
    }
    out
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A role the way the mail playbook has mail_sasl: a dependency of two
/// roles in two plays, so it runs twice; its second pass changes nothing.
fn playbook(dir: &Path, target: &Path) {
    let t = target.display();
    write(&dir.join("inv"), "here ansible_connection=local\n");
    write(&dir.join("roles/shared/templates/app.conf.j2"), "name = {{ inventory_hostname }}\nport = 25\n");
    write(
        &dir.join("roles/shared/tasks/main.yml"),
        &format!(
            r##"- name: the folders
  file: {{path: "{t}/{{{{ item }}}}", state: directory, mode: "0755"}}
  loop: [etc, bin, pam]
- name: a template, private
  template: {{src: app.conf.j2, dest: "{t}/etc/app.conf", mode: "0600"}}
- name: a program
  copy: {{content: "#!/bin/sh\necho hi\n", dest: "{t}/bin/tool", mode: "0755"}}
- name: files in a loop
  copy: {{content: "auth required pam_permit.so\n", dest: "{t}/pam/{{{{ item }}}}", mode: "0644"}}
  loop: [imap, smtp, sieve]
- name: a folder
  file: {{path: "{t}/run/sock", state: directory, mode: "0710"}}
- name: a file in that folder
  copy: {{content: "START=yes\n", dest: "{t}/run/sock/settings", mode: "0640"}}
  notify: settings changed
- name: a file only created, then edited
  copy: {{content: "# local settings\n", dest: "{t}/etc/local.conf", force: no}}
- name: a line in it
  lineinfile: {{path: "{t}/etc/local.conf", regexp: "^port", line: "port = 587"}}
- name: a link to it
  file: {{src: "{t}/etc/local.conf", dest: "{t}/etc/local-link", state: link}}
- name: a stamp a command creates
  command: touch {t}/stamp
  args: {{creates: "{t}/stamp"}}
"##
        ),
    );
    write(
        &dir.join("roles/shared/handlers/main.yml"),
        &format!("- name: settings changed\n  copy: {{content: \"handled\\n\", dest: \"{t}/handled\"}}\n"),
    );
    for (role, task) in [
        ("first", format!("- name: first's own file\n  copy: {{content: \"one\\n\", dest: \"{t}/etc/first\"}}\n")),
        (
            "second",
            format!(
                "- name: a line into the file the shared role made\n  lineinfile: {{path: \"{t}/etc/local.conf\", line: \"relay = yes\"}}\n\
                 - name: the program's mode again (already planned)\n  file: {{path: \"{t}/bin/tool\", mode: \"0755\"}}\n\
                 - name: through the link\n  lineinfile: {{path: \"{t}/etc/local-link\", line: \"via = link\"}}\n"
            ),
        ),
    ] {
        write(&dir.join(format!("roles/{role}/meta/main.yml")), "dependencies:\n  - role: shared\n");
        write(&dir.join(format!("roles/{role}/tasks/main.yml")), &task);
    }
    write(
        &dir.join("site.yml"),
        "- name: one\n  hosts: here\n  gather_facts: no\n  roles: [first]\n- name: two\n  hosts: here\n  gather_facts: no\n  roles: [second]\n",
    );
}

fn run(dir: &Path, extra: &[&str]) -> (String, bool) {
    let out = mailplay().current_dir(dir).args(["run", "site.yml", "-i", "inv"]).args(extra).output().unwrap();
    (text(&out), out.status.success())
}

#[test]
fn check_mode_predicts_a_role_run_twice_task_by_task() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    std::fs::create_dir(&target).unwrap();
    playbook(dir.path(), &target);

    let before = snapshot(&target);
    let (check, ok) = run(dir.path(), &["--check", "--diff"]);
    assert!(ok, "{check}");
    assert_eq!(snapshot(&target), before, "check mode changed files:\n{check}");

    let (real, ok) = run(dir.path(), &[]);
    assert!(ok, "{real}");
    let (predicted, happened) = (task_results(&check), task_results(&real));
    assert_eq!(predicted, happened, "check:\n{check}\nreal:\n{real}");
    // The point of it: the shared role's second pass is all ok in both.
    let second_pass = happened.iter().filter(|(t, _)| t == "shared : a template, private").nth(1).unwrap();
    assert_eq!(second_pass.1, vec!["ok".to_string()]);
    assert_eq!(recap(&check), recap(&real));

    let (again, ok) = run(dir.path(), &[]);
    assert!(ok, "{again}");
    assert_eq!(recap(&again)["here"]["changed"], 0, "{again}");
    let (check_again, _) = run(dir.path(), &["--check"]);
    assert_eq!(recap(&check_again)["here"]["changed"], 0, "{check_again}");
}

/// Everything of the machine's package state check mode could touch.
fn package_state() -> (Vec<u8>, Vec<String>) {
    let status = std::fs::read("/var/lib/dpkg/status").unwrap();
    let mut archives: Vec<String> =
        std::fs::read_dir("/var/cache/apt/archives").unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    archives.sort();
    (status, archives)
}

/// apt in check mode reads the package it would install (here the
/// controller's own apt, for `hello`, which is not installed): a later task
/// about a file the package ships plans from it, and the machine's
/// packages stay as they were. Needs Debian's mirror.
#[test]
fn check_mode_knows_what_a_planned_package_ships() {
    if Path::new("/usr/bin/hello").exists() || !Path::new("/usr/bin/apt-get").exists() {
        eprintln!("skipped: needs apt and the package hello not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("inv"), "here ansible_connection=local\n");
    write(
        &dir.path().join("site.yml"),
        r#"- hosts: here
  gather_facts: no
  tasks:
    - name: hello is installed
      apt: {name: hello}
    - name: its program, as the package ships it
      file: {path: /usr/bin/hello, state: file, mode: "0755", owner: root}
    - name: installed by now
      apt: {name: hello}
    - name: a file beside it is new
      copy: {content: "hi\n", dest: /usr/share/doc/hello/mailplay-test}
"#,
    );
    let before = package_state();
    let (check, ok) = run(dir.path(), &["--check"]);
    assert!(ok, "{check}");
    assert_eq!(package_state(), before, "check mode changed the machine's packages:\n{check}");
    assert!(!Path::new("/usr/bin/hello").exists() && !Path::new("/usr/share/doc/hello").exists());
    assert_eq!(
        task_results(&check),
        [
            ("hello is installed", "changed"),
            ("its program, as the package ships it", "ok"),
            ("installed by now", "ok"),
            ("a file beside it is new", "changed")
        ]
        .map(|(t, s)| (t.to_string(), vec![s.to_string()]))
        .to_vec(),
        "{check}"
    );
}

/// A task run for real within a --check run (`check_mode: false`) is what
/// later rehearsed tasks see, not the plan made before it.
#[test]
fn a_task_run_for_real_in_check_mode_replaces_the_earlier_plan() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.conf");
    write(&dir.path().join("inv"), "here ansible_connection=local\n");
    write(
        &dir.path().join("site.yml"),
        &format!(
            concat!(
                "- hosts: here\n  gather_facts: no\n  tasks:\n",
                "    - {{name: planned, copy: {{content: \"1\\n\", dest: \"{f}\"}}}}\n",
                "    - {{name: for real, copy: {{content: \"2\\n\", dest: \"{f}\"}}, check_mode: false}}\n",
                "    - {{name: as it really is, copy: {{content: \"2\\n\", dest: \"{f}\"}}}}\n",
            ),
            f = f.display()
        ),
    );
    let (check, ok) = run(dir.path(), &["--check"]);
    assert!(ok, "{check}");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "2\n");
    assert_eq!(
        task_results(&check),
        [("planned", "changed"), ("for real", "changed"), ("as it really is", "ok")]
            .map(|(t, s)| (t.to_string(), vec![s.to_string()]))
            .to_vec(),
        "{check}"
    );
}

/// A file's owner or group that does not exist fails the real run ("no
/// such group"); check mode fails that task the same way instead of
/// predicting a change, unless an earlier task of the run makes the
/// account.
#[test]
fn check_mode_fails_where_the_real_run_fails_on_an_unknown_owner_or_group() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.conf");
    write(&dir.path().join("inv"), "here ansible_connection=local\n");
    let play = |tasks: &str| {
        write(&dir.path().join("site.yml"), &format!("- hosts: here\n  gather_facts: no\n  tasks:\n{tasks}"));
    };
    let unknown = format!(
        concat!(
            "    - {{name: known, copy: {{content: \"1\\n\", dest: \"{f}\", owner: root, group: root}}}}\n",
            "    - {{name: unknown group, copy: {{content: \"2\\n\", dest: \"{f}\", group: no-such-group-mp}}, ignore_errors: true}}\n",
            "    - {{name: unknown owner, file: {{path: \"{f}\", owner: no-such-user-mp}}, ignore_errors: true}}\n",
        ),
        f = f.display()
    );
    play(&unknown);
    let (check, ok) = run(dir.path(), &["--check"]);
    assert!(ok, "{check}");
    assert!(!f.exists(), "check mode wrote the file");
    assert!(check.contains("no such group: no-such-group-mp"), "{check}");
    assert!(check.contains("no such user: no-such-user-mp"), "{check}");
    let (real, ok) = run(dir.path(), &[]);
    assert!(ok, "{real}");
    assert_eq!(task_results(&check), task_results(&real), "check:\n{check}\nreal:\n{real}");
    assert_eq!(
        task_results(&real),
        [("known", "changed"), ("unknown group", "fatal"), ("unknown owner", "fatal")]
            .map(|(t, s)| (t.to_string(), vec![s.to_string()]))
            .to_vec(),
        "{real}"
    );

    // A group an earlier task makes is there when the file is written.
    std::fs::remove_file(&f).unwrap();
    play(&format!(
        concat!(
            "    - {{name: the group, group: {{name: no-such-group-mp}}}}\n",
            "    - {{name: its file, copy: {{content: \"2\\n\", dest: \"{f}\", group: no-such-group-mp}}}}\n",
        ),
        f = f.display()
    ));
    let (check, ok) = run(dir.path(), &["--check"]);
    assert!(ok, "{check}");
    assert_eq!(
        task_results(&check),
        [("the group", "changed"), ("its file", "changed")].map(|(t, s)| (t.to_string(), vec![s.to_string()])).to_vec(),
        "{check}"
    );
}
