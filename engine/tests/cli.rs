//! The command line as users meet it: listing flags (compared with
//! ansible-playbook), tags, --start-at-task, --limit, JSON output, exit
//! codes, become, no_log, doc and inventory commands.

mod common;

use common::*;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = mailplay().args(args).current_dir(fixture("cli")).output().expect("mailplay");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn tasks_run(stdout: &str) -> Vec<String> {
    stdout.lines().filter_map(|l| l.strip_prefix("TASK [")).map(|l| l.split("] ").next().unwrap_or("").to_string()).collect()
}

#[test]
fn list_tasks_and_tags_match_ansible_playbook() {
    for fx in ["differential", "features", "cli"] {
        let dir = fixture(fx);
        for flags in [vec!["--list-tasks"], vec!["--list-tags"], vec!["--list-tasks", "--tags", "web"]] {
            let theirs =
                ansible("ansible-playbook").args(["site.yml", "-i", "inventory.ini"]).args(&flags).current_dir(&dir).output().unwrap();
            let ours = mailplay().args(["run", "site.yml", "-i", "inventory.ini"]).args(&flags).current_dir(&dir).output().unwrap();
            assert_eq!(String::from_utf8_lossy(&ours.stdout), String::from_utf8_lossy(&theirs.stdout), "{fx} {flags:?}");
        }
    }
}

#[test]
fn templated_tags_are_listed_and_selected_like_ansible_playbook() {
    let dir = fixture("cli");
    for flags in
        [vec!["--list-tasks"], vec!["--list-tags"], vec!["--list-tasks", "--tags", "tag3"], vec!["--list-tasks", "--skip-tags", "tag4"]]
    {
        let theirs = ansible("ansible-playbook")
            .args(["templated_tags.yml", "-i", "inventory.ini"])
            .args(&flags)
            .current_dir(&dir)
            .output()
            .unwrap();
        let ours = mailplay().args(["run", "templated_tags.yml", "-i", "inventory.ini"]).args(&flags).current_dir(&dir).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&ours.stdout), String::from_utf8_lossy(&theirs.stdout), "{flags:?}");
    }
    let (_, out, _) = run(&["run", "templated_tags.yml", "-i", "inventory.ini", "--tags", "tag3"]);
    assert_eq!(tasks_run(&out), vec!["from a list variable", "inside the block"]);
    let (_, out, _) = run(&["run", "templated_tags.yml", "-i", "inventory.ini", "--skip-tags", "tag1"]);
    assert_eq!(tasks_run(&out), Vec::<String>::new());
}

#[test]
fn arguments_that_do_not_template_fail_with_ansibles_message() {
    let dir = fixture("cli");
    let msgs = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.starts_with("fatal:"))
            .map(|l| {
                let msg = l.split("\"msg\": \"").nth(1).unwrap_or("");
                msg.split("\\n\\nThe error appears").next().unwrap_or("").trim_end_matches("\"}").to_string()
            })
            .collect()
    };
    let theirs = ansible("ansible-playbook").args(["undefined_args.yml", "-i", "inventory.ini"]).current_dir(&dir).output().unwrap();
    let (_, ours, _) = run(&["run", "undefined_args.yml", "-i", "inventory.ini"]);
    let theirs = msgs(&text(&theirs));
    assert_eq!(theirs.len(), 6, "{theirs:?}");
    assert_eq!(msgs(&ours), theirs, "{ours}");
}

#[test]
fn list_hosts_honours_limit() {
    let (code, out, _) = run(&["run", "site.yml", "-i", "inventory.ini", "--list-hosts", "--limit", "h2"]);
    assert_eq!(code, 0);
    assert!(out.contains("    hosts (1):\n      h2\n"), "{out}");
}

#[test]
fn syntax_check_passes_a_good_playbook() {
    let (code, out, err) = run(&["run", "site.yml", "-i", "inventory.ini", "--syntax-check"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "\nplaybook: site.yml\n");
}

#[test]
fn a_failed_host_gives_exit_2_and_the_others_go_on() {
    let (code, out, _) = run(&["run", "site.yml", "-i", "inventory.ini"]);
    assert_eq!(code, 2, "{out}");
    let r = recap(&out);
    assert_eq!(r["h2"]["failed"], 1);
    assert_eq!(r["h1"]["failed"], 0);
    // h1 carried on after h2 failed: it ran the become and assert tasks.
    assert!(out.contains("TASK [check the user]"), "{out}");
    assert_eq!((r["h1"]["ok"], r["h1"]["skipped"]), (6, 1), "{out}");
}

#[test]
fn become_user_runs_as_that_user() {
    assert_eq!(unsafe { libc::geteuid() }, 0, "this test runs as root (tests/run-all.sh), so become uses runuser");
    let (_, out, _) = run(&["run", "site.yml", "-i", "inventory.ini", "--limit", "h1"]);
    assert!(out.contains("TASK [check the user]"));
    assert_eq!(recap(&out)["h1"]["failed"], 0, "{out}");
}

#[test]
fn tags_select_and_skip_like_ansible() {
    let (_, out, _) = run(&["run", "site.yml", "-i", "inventory.ini", "-l", "h1", "--tags", "web"]);
    assert_eq!(tasks_run(&out), vec!["always runs", "tagged web"]);
    let (_, out, _) = run(&["run", "site.yml", "-i", "inventory.ini", "-l", "h1", "--tags", "debug"]);
    assert_eq!(tasks_run(&out), vec!["always runs", "only when asked"]);
    let (_, out, _) = run(&["run", "site.yml", "-i", "inventory.ini", "-l", "h1", "--skip-tags", "data,always"]);
    assert_eq!(tasks_run(&out), vec!["tagged web", "fails on h2", "runs as nobody", "check the user", "secret output is hidden"]);
}

#[test]
fn start_at_task_skips_what_comes_before() {
    let (_, out, _) = run(&["run", "site.yml", "-i", "inventory.ini", "-l", "h1", "--start-at-task", "runs as nobody"]);
    assert_eq!(tasks_run(&out), vec!["runs as nobody", "check the user", "secret output is hidden"]);
}

#[test]
fn no_log_hides_the_result() {
    let (_, out, _) = run(&["run", "site.yml", "-i", "inventory.ini", "-l", "h1", "-v"]);
    assert!(!out.contains("s3cr3t-value"), "{out}");
    assert!(out.contains("the output has been hidden"), "{out}");
    let (_, json, _) = run(&["run", "site.yml", "-i", "inventory.ini", "-l", "h1", "--output", "json"]);
    assert!(!json.contains("s3cr3t-value"));
}

#[test]
fn json_output_is_one_document_with_stats() {
    let (code, out, _) = run(&["run", "site.yml", "-i", "inventory.ini", "--output", "json"]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(&out).expect("stdout is one JSON document");
    assert_eq!(v["stats"]["h2"]["failures"], 1);
    assert_eq!(v["stats"]["h1"]["failures"], 0);
    let tasks = v["plays"][0]["tasks"].as_array().unwrap();
    assert_eq!(tasks[0]["task"]["name"], "always runs");
    assert_eq!(tasks[0]["hosts"]["h1"]["stdout"], "always");
}

#[test]
fn extra_vars_win_over_everything() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.yml"), "- hosts: all\n  gather_facts: no\n  vars:\n    v: play\n  tasks:\n    - copy:\n        content: \"{{ v }}\"\n        dest: \"{{ out }}\"\n      vars:\n        v: task\n").unwrap();
    let out_file = dir.path().join("out.txt");
    let o = mailplay()
        .args(["run", "p.yml", "-i", "localhost,", "-c", "local", "-e", "v=cli"])
        .arg("-e")
        .arg(format!("out={}", out_file.display()))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(out_file).unwrap(), "cli");
}

#[test]
fn doc_is_generated_from_the_module_definitions() {
    let (code, out, _) = run(&["doc", "--list"]);
    assert_eq!(code, 0);
    for m in [
        "copy",
        "template",
        "file",
        "lineinfile",
        "blockinfile",
        "stat",
        "command",
        "shell",
        "debug",
        "set_fact",
        "assert",
        "fail",
        "setup",
    ] {
        assert!(out.lines().any(|l| l.starts_with(m)), "{m} missing from doc --list:\n{out}");
    }
    let (code, out, _) = run(&["doc", "copy"]);
    assert_eq!(code, 0);
    assert!(out.contains("= dest") && out.contains("- validate") && out.contains("EXAMPLES"), "{out}");
    let (code, _, err) = run(&["doc", "coppy"]);
    assert_eq!(code, 1);
    assert!(err.contains("Did you mean 'copy'?"), "{err}");
}

/// A builtin Ansible module mailplay lacks (`dnf`, `ansible.legacy.yum`)
/// loads, is listed and passes --syntax-check; a task with it that is
/// skipped counts as skipped, as with ansible-playbook.
#[test]
fn a_builtin_module_mailplay_lacks_loads_and_can_be_skipped() {
    let (code, out, err) = run(&["run", "unimplemented.yml", "-i", "inventory.ini", "--syntax-check"]);
    assert_eq!((code, out.as_str()), (0, "\nplaybook: unimplemented.yml\n"), "{err}");
    let (code, out, err) = run(&["run", "unimplemented.yml", "-i", "inventory.ini", "--list-tasks"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("      Install on Red Hat\tTAGS: []\n"), "{out}");
    let (code, out, err) = run(&["run", "unimplemented.yml", "-i", "inventory.ini"]);
    assert_eq!(code, 0, "{out}{err}");
    let theirs =
        ansible("ansible-playbook").args(["unimplemented.yml", "-i", "inventory.ini"]).current_dir(fixture("cli")).output().unwrap();
    assert!(theirs.status.success(), "{}", text(&theirs));
    assert_eq!(recap(&out), recap(&text(&theirs)), "{out}");
    assert_eq!((recap(&out)["h1"]["skipped"], recap(&out)["h1"]["ok"]), (2, 1), "{out}");
}

/// The embedded list of ansible.builtin names is what the generator makes
/// from the reference ansible-core installed for the tests.
#[test]
fn the_embedded_ansible_builtin_names_are_the_installed_ansible_cores() {
    let out = std::process::Command::new(repo_root().join("tests/tools/gen_ansible_builtins.py"))
        .arg(ansible_bin("python3"))
        .output()
        .expect("run the generator");
    assert!(out.status.success(), "{}", text(&out));
    let embedded = std::fs::read_to_string(repo_root().join("engine/src/playbook/ansible_builtins.rs")).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), embedded, "regenerate engine/src/playbook/ansible_builtins.rs");
}

/// The same task when it runs fails on each host where it runs, naming
/// the module; the run goes on for the others and exits 2.
#[test]
fn a_builtin_module_mailplay_lacks_fails_where_it_runs() {
    let (code, out, _) = run(&["run", "unimplemented.yml", "-i", "inventory.ini", "-e", "pkg_mgr=dnf", "--limit", "h1"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("fatal: [h1]: FAILED!") && out.contains("the module dnf is not implemented by mailplay"), "{out}");
    assert_eq!((recap(&out)["h1"]["failed"], recap(&out)["h1"]["ok"]), (1, 0), "{out}");
    let (code, out, _) = run(&["run", "unimplemented.yml", "-i", "inventory.ini", "-e", "pkg_mgr=yum"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("the module ansible.legacy.yum is not implemented by mailplay"), "{out}");
    for h in ["h1", "h2"] {
        assert_eq!((recap(&out)[h]["failed"], recap(&out)[h]["skipped"]), (1, 1), "{out}");
    }
}

/// `hosts: localhost` with an inventory that lacks it runs on the
/// controller, with ansible-playbook's warnings when there are no hosts.
#[test]
fn implicit_localhost_with_an_empty_inventory_warns_like_ansible() {
    let (code, out, err) = run(&["run", "implicit_localhost.yml", "-i", "empty.ini"]);
    assert_eq!(code, 0, "{out}{err}");
    let warning = "[WARNING]: provided hosts list is empty, only localhost is available. \
                   Note that the implicit localhost does not match 'all'";
    assert!(out.contains(warning), "{out}");
    assert!(!out.contains("No inventory was parsed"), "{out}");
    assert!(out.contains("\"msg\": \"localhost local\""), "{out}");
    assert!(out.contains("PLAY [all] ***") && out.contains("skipping: no hosts matched"), "{out}");
    assert_eq!(recap(&out).keys().collect::<Vec<_>>(), ["localhost"], "{out}");
    assert_eq!(recap(&out)["localhost"]["ok"], 1, "{out}");
    // Without -i and without /etc/ansible/hosts no inventory is parsed.
    if !std::path::Path::new("/etc/ansible/hosts").exists() {
        let (code, out, err) = run(&["run", "implicit_localhost.yml"]);
        assert_eq!(code, 0, "{out}{err}");
        let first = out.find("[WARNING]: No inventory was parsed, only implicit localhost is available").expect(&out);
        assert!(out.find(warning).is_some_and(|second| second > first), "{out}");
    }
    // Ansible's switches for both warnings.
    let out = mailplay()
        .args(["run", "implicit_localhost.yml"])
        .env("ANSIBLE_LOCALHOST_WARNING", "false")
        .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "no")
        .current_dir(fixture("cli"))
        .output()
        .unwrap();
    assert!(out.status.success() && !text(&out).contains("[WARNING]"), "{}", text(&out));
}

#[test]
fn inventory_command_prints_ansible_inventory_json() {
    let dir = fixture("inventory");
    let ours = mailplay().args(["inventory", "-i", "nested.ini", "--list"]).current_dir(&dir).output().unwrap();
    let expected: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("nested.expected.json")).unwrap()).unwrap();
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&ours.stdout).unwrap(), expected);
    let host = mailplay().args(["inventory", "-i", "nested.ini", "--host", "mx1"]).current_dir(&dir).output().unwrap();
    let hv: serde_json::Value = serde_json::from_slice(&host.stdout).unwrap();
    assert_eq!(hv["engine"], "none");
    let graph = mailplay().args(["inventory", "-i", "tricky.ini", "--graph"]).current_dir(&dir).output().unwrap();
    let theirs = ansible("ansible-inventory").args(["-i", "tricky.ini", "--graph"]).current_dir(&dir).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&graph.stdout), String::from_utf8_lossy(&theirs.stdout));
}

#[test]
fn the_readme_example_gathers_facts_and_converges() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("hello");
    let run = || {
        mailplay()
            .args(["run", "playbooks/hello.yml", "-i", "inventories/local.ini", "-e"])
            .arg(format!("hello_dir={}", target.display()))
            .current_dir(repo_root())
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{}", text(&first));
    let about = std::fs::read_to_string(target.join("about.txt")).unwrap();
    let hostname = std::process::Command::new("hostname").output().unwrap();
    let short = String::from_utf8_lossy(&hostname.stdout).trim().split('.').next().unwrap_or("").to_string();
    assert!(about.starts_with(&format!("host {short} runs ")), "{about}");
    let second = run();
    assert_eq!(recap(&text(&second))["localhost"]["changed"], 0, "{}", text(&second));
}

#[test]
fn ctrl_c_stops_new_tasks_prints_the_recap_and_exits_99() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("slow.yml"),
        "- hosts: all\n  gather_facts: no\n  tasks:\n    - name: first\n      command: sleep 1\n    - name: second\n      command: sleep 1\n    - name: never started\n      command: touch never\n",
    )
    .unwrap();
    let child = mailplay()
        .args(["run", "slow.yml", "-i", "localhost,", "-c", "local"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(99), "{t}");
    assert!(t.contains("User interrupted execution"), "{t}");
    assert!(t.contains("PLAY RECAP"), "{t}");
    assert!(!t.contains("TASK [never started]"), "{t}");
    assert!(!dir.path().join("never").exists());
}

/// `mailplay run` in `tests/fixtures/config/DIR` with only the given Ansible
/// variables (the caller's ANSIBLE_* ones removed).
fn run_config(dir: &str, env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let mut cmd = mailplay();
    for (k, _) in std::env::vars() {
        if k.starts_with("ANSIBLE_") {
            cmd.env_remove(k);
        }
    }
    let dest = tempfile::tempdir().unwrap();
    let out = cmd
        .arg("run")
        .args(args)
        .arg("-e")
        .arg(format!("dest_root={}", dest.path().display()))
        .envs(env.iter().copied())
        .current_dir(fixture("config").join(dir))
        .output()
        .expect("mailplay");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn ansible_roles_path_and_ansible_cfg_find_roles() {
    let empty = fixture("config").join("empty.cfg");
    let empty = empty.to_str().unwrap();
    // Without a roles path the role is not found, and the error lists
    // where it was looked for.
    let (code, out, err) = run_config("play", &[("ANSIBLE_CONFIG", empty)], &["site.yml", "-i", "../inventory.ini"]);
    assert_eq!(code, 4, "{out}{err}");
    assert!(format!("{out}{err}").contains("the role 'greeter' was not found"), "{out}{err}");
    // ANSIBLE_ROLES_PATH, relative to the current folder, several entries.
    let (code, out, err) = run_config(
        "play",
        &[("ANSIBLE_CONFIG", empty), ("ANSIBLE_ROLES_PATH", "/nonexistent:../shared_roles")],
        &["site.yml", "-i", "../inventory.ini"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("TASK [greeter : Greet from a role found on the roles path]"), "{out}");
    // ./ansible.cfg: roles_path and inventory relative to its folder; -v
    // names it as ansible-playbook does.
    let (code, out, err) = run_config("with_cfg", &[], &["../play/site.yml", "-v"]);
    assert_eq!(code, 0, "{out}{err}");
    let cfg = fixture("config").join("with_cfg/ansible.cfg");
    assert!(out.starts_with(&format!("Using {} as config file\n", cfg.display())), "{out}");
    assert!(out.contains("forks=7") && out.contains("TASK [greeter : "), "{out}");
}

#[test]
fn settings_precedence_flag_then_environment_then_file() {
    let (_, out, _) = run_config("with_cfg", &[], &["../play/site.yml"]);
    assert!(out.contains("forks=7"), "{out}");
    let (_, out, _) = run_config("with_cfg", &[("ANSIBLE_FORKS", "3")], &["../play/site.yml"]);
    assert!(out.contains("forks=3"), "{out}");
    let (_, out, _) = run_config("with_cfg", &[("ANSIBLE_FORKS", "3")], &["../play/site.yml", "-f", "2"]);
    assert!(out.contains("forks=2"), "{out}");
    // ANSIBLE_CONFIG wins over ./ansible.cfg: nothing configured then.
    let empty = fixture("config").join("empty.cfg");
    let (code, out, err) = run_config("with_cfg", &[("ANSIBLE_CONFIG", empty.to_str().unwrap())], &["../play/site.yml", "-v"]);
    assert_ne!(code, 0);
    assert!(out.contains(&format!("Using {} as config file", empty.display())), "{out}{err}");
}

#[test]
fn unsupported_settings_warn_and_bad_ones_stop_the_run() {
    // A known setting mailplay does not follow: one warning naming it.
    let (code, out, err) =
        run_config("with_cfg", &[("ANSIBLE_HASH_BEHAVIOUR", "merge"), ("ANSIBLE_PIPELINING", "yes")], &["../play/site.yml"]);
    assert_eq!(code, 0, "{out}{err}");
    let all = format!("{out}{err}");
    assert_eq!(all.matches("DEFAULT_HASH_BEHAVIOUR (ANSIBLE_HASH_BEHAVIOUR=merge)").count(), 1, "{all}");
    // Pipelining changes nothing mailplay does: no warning.
    assert!(!all.contains("PIPELINING"), "{all}");
    // A strategy mailplay does not have (it has linear, free, host_pinned)
    // is refused by name, exit 5.
    let (code, out, err) = run_config("with_cfg", &[("ANSIBLE_STRATEGY", "debug")], &["../play/site.yml"]);
    assert_eq!(code, 5, "{out}{err}");
    assert!(format!("{out}{err}").contains("the strategy 'debug'"), "{out}{err}");
    // A value that is not a number, as Ansible says it.
    let (code, out, err) = run_config("with_cfg", &[("ANSIBLE_FORKS", "many")], &["../play/site.yml"]);
    assert_eq!(code, 5, "{out}{err}");
    assert!(format!("{out}{err}").contains("DEFAULT_FORKS"), "{out}{err}");
    // ANSIBLE_HOST_PATTERN_MISMATCH=error: a pattern matching nothing fails.
    let (code, out, err) =
        run_config("with_cfg", &[("ANSIBLE_HOST_PATTERN_MISMATCH", "error")], &["../play/site.yml", "--limit", "nosuchhost"]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(format!("{out}{err}").contains("Could not match supplied host pattern, ignoring: nosuchhost"), "{out}{err}");
}

#[test]
fn a_block_in_a_file_included_as_a_handler_is_refused_like_ansible() {
    let (code, out, err) = run(&["run", "handler_include_nested_block.yml", "-i", "inventory.ini"]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        out.contains("Using a block as a handler is not supported.") || err.contains("Using a block as a handler is not supported."),
        "{out}{err}"
    );
    assert!(out.contains("handler_include_nested_block_tasks.yml:5:7"), "{out}");
}

#[test]
fn a_block_in_a_file_imported_as_a_handler_is_refused_when_the_playbook_loads() {
    let (code, out, err) = run(&["run", "handler_import_nested_block.yml", "-i", "inventory.ini"]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.contains("handler_include_nested_block_tasks.yml:5:7: Using a block as a handler is not supported."), "{out}{err}");
    assert!(!out.contains("TASK [command]"), "nothing runs: {out}");
}

#[test]
fn cacheable_facts_go_to_the_jsonfile_cache_and_come_back_as_data() {
    let cache = tempfile::tempdir().unwrap();
    let run_with_cache = |args: &[&str]| {
        let out = mailplay()
            .args(args)
            .env("ANSIBLE_CACHE_PLUGIN", "jsonfile")
            .env("ANSIBLE_CACHE_PLUGIN_CONNECTION", cache.path())
            .env("ANSIBLE_CACHE_PLUGIN_PREFIX", "prefix_")
            .current_dir(fixture("cli"))
            .output()
            .expect("mailplay");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run_with_cache(&["run", "fact_cache_set.yml", "-i", "inventory.ini"]);
    // ansible-core 2.19's file: schema id in the name, the facts as a JSON payload.
    let file = std::fs::read_to_string(cache.path().join("prefix_s1_localhost")).unwrap();
    let envelope: serde_json::Value = serde_json::from_str(&file).unwrap();
    let payload: serde_json::Value = serde_json::from_str(envelope["__payload__"].as_str().unwrap()).unwrap();
    assert_eq!(payload, serde_json::json!({"ansible_foobar": "cached", "looks_like_a_template": "{{ lookup('env', 'HOME') }}"}));

    let out = run_with_cache(&["run", "fact_cache_read.yml", "-i", "inventory.ini"]);
    assert!(out.contains("\"ansible_foobar\": \"cached\""), "{out}");
    assert!(out.contains("\"ansible_facts.foobar\": \"cached\""), "{out}");
    // Read back from the cache: host data, never rendered again.
    assert!(out.contains("\"looks_like_a_template\": \"{{ lookup('env', 'HOME') }}\""), "{out}");
    assert!(out.contains("'not_cached' is undefined"), "{out}");

    let out = run_with_cache(&["run", "--flush-cache", "fact_cache_read.yml", "-i", "inventory.ini"]);
    assert!(out.contains("'ansible_foobar' is undefined"), "{out}");
    assert!(!cache.path().join("prefix_s1_localhost").exists());
}

/// `mail_murder_mode: unified` is refused by name before the store is
/// touched (issue 11: Cyrus 3.6's unified mode loses mailbox unique ids).
/// Check mode on the local host, starting at that task: nothing before it
/// runs, nothing is changed.
#[test]
fn the_mail_playbook_refuses_a_unified_murder_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inv.ini");
    std::fs::write(&inv, "[mail_mupdate]\nmup1 ansible_connection=local\n\n[mail_store]\nstore1 ansible_connection=local\n").unwrap();
    let out = mailplay()
        .args(["run", "playbooks/site.yml", "-i"])
        .arg(&inv)
        .args(["--check", "--limit", "store1", "-e", "mail_murder_mode=unified", "-e", "@inventories/group_vars/lab.yml"])
        .args(["--start-at-task", "the murder's mode is one this Cyrus runs safely"])
        .current_dir(repo_root())
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("fatal: [store1]"), "{t}");
    assert!(t.contains("mail_murder_mode unified is not supported"), "{t}");
    assert_eq!(recap(&t)["store1"]["changed"], 0, "{t}");
}

/// A `meta: refresh_inventory` whose inventory no longer reads fails the
/// task for the host that ran it, naming the source.
#[test]
fn a_refresh_inventory_that_cannot_read_the_inventory_fails_its_task() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("hosts.ini");
    std::fs::write(&inv, "h1 ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n").unwrap();
    std::fs::write(
        dir.path().join("p.yml"),
        "- hosts: all\n  gather_facts: no\n  tasks:\n    - file:\n        path: \"{{ inv }}\"\n        state: absent\n    - meta: refresh_inventory\n    - debug:\n        msg: \"{{ 'after' ~ '-refresh' }}\"\n",
    )
    .unwrap();
    let o = mailplay()
        .args(["run", "p.yml", "-i", "hosts.ini", "-e"])
        .arg(format!("inv={}", inv.display()))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("meta: refresh_inventory failed:") && t.contains("hosts.ini"), "{t}");
    assert!(!t.contains("after-refresh"), "the play stops for the host: {t}");
}

/// `mailplay adhoc` (Ansible's `ansible`) against local hosts prints on
/// stdout what ansible 2.19 prints, one result per task run (an included
/// role's tasks and handlers too), and exits as it does.
#[test]
fn adhoc_prints_what_ansible_prints() {
    let dir = fixture("cli");
    // A task's `[ERROR]:` block: its first line; the rest names Ansible's
    // ad-hoc task (`Origin: <adhoc 'command' task>` and its repr), which
    // mailplay's has no file position to show.
    let stdout = |o: &std::process::Output| {
        let mut shown = Vec::new();
        let mut in_error = false;
        for line in String::from_utf8_lossy(&o.stdout).lines() {
            if line.starts_with("[ERROR]: ") {
                in_error = true;
                shown.push(line.to_string());
            } else if in_error && !line.contains(" | ") {
                continue;
            } else {
                in_error = false;
                shown.push(line.to_string());
            }
        }
        shown.join("\n")
    };
    let cases: Vec<Vec<&str>> = vec![
        vec!["h1", "-i", "inventory.ini", "-m", "include_role", "-a", "name=adhoc_role"],
        vec!["h1", "-i", "inventory.ini", "-m", "include_role", "-a", "name=adhoc_role", "-o"],
        vec!["h1", "-i", "inventory.ini", "-m", "import_role", "-a", "name=adhoc_role"],
        vec!["h1", "-i", "inventory.ini", "-a", "echo hi"],
        vec!["h1", "-i", "inventory.ini", "-a", "sh -c 'echo out; echo err >&2; exit 3'"],
        vec!["h1", "-i", "inventory.ini", "-m", "debug", "-a", r#"{"msg": "{{ 1 + 1 }} {{ inventory_hostname }}"}"#],
        vec!["h1", "-i", "inventory.ini", "-m", "assert", "-a", "that=1==2"],
        vec!["localhost", "-i", "empty.ini", "-m", "debug", "-a", "msg={{ inventory_hostname }}"],
        vec!["h2", "-i", "h2,", "-c", "local", "-m", "assert", "-a", r#"that=x=="1""#, "-e", "x=1"],
    ];
    for args in cases {
        let interpreter = ["-e", "ansible_python_interpreter=/usr/bin/python3"];
        let theirs = ansible("ansible").args(&args).args(interpreter).current_dir(&dir).output().unwrap();
        let ours = mailplay().arg("adhoc").args(&args).args(interpreter).current_dir(&dir).output().unwrap();
        assert_eq!(stdout(&ours), stdout(&theirs), "{args:?}\n{}", text(&ours));
        assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}\n{}", text(&ours));
    }
}

#[test]
fn adhoc_refuses_and_warns_like_ansible() {
    // A command without a command line, import_playbook: bad options (5).
    let (code, _, err) = run(&["adhoc", "h1", "-i", "inventory.ini", "-m", "command"]);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("No argument passed to command module"), "{err}");
    let (code, _, err) = run(&["adhoc", "h1", "-i", "inventory.ini", "-m", "import_playbook", "-a", "site.yml"]);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("'import_playbook' is not a valid action for ad-hoc commands"), "{err}");
    // A pattern that matches nothing: warnings, nothing run, success.
    let (code, out, err) = run(&["adhoc", "nosuch", "-i", "inventory.ini", "-m", "ping"]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert!(err.contains("Could not match supplied host pattern, ignoring: nosuch"), "{err}");
    assert!(err.contains("[WARNING]: No hosts matched, nothing to do"), "{err}");
    // --list-hosts with --limit.
    let (code, out, _) = run(&["adhoc", "all", "-i", "inventory.ini", "--list-hosts", "-l", "h2"]);
    assert_eq!((code, out.as_str()), (0, "  hosts (1):\n    h2\n"));
    // The module from Ansible's `module_name` setting; -v names the file.
    let cfg = fixture("cli").join("adhoc.cfg");
    let out = mailplay()
        .args(["adhoc", "h1", "-i", "inventory.ini", "-v"])
        .env("ANSIBLE_CONFIG", &cfg)
        .current_dir(fixture("cli"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with(&format!("Using {} as config file\nh1 | SUCCESS => {{\n", cfg.display())), "{stdout}");
    assert!(stdout.contains("\"ping\": \"pong\""), "{stdout}");
}

/// `mailplay config dump` prints the settings mailplay follows as
/// ansible-config 2.19 prints them: each of its lines is one of ansible-config's.
#[test]
fn config_dump_lines_are_ansible_configs() {
    let dir = fixture("cli");
    let cfg = dir.join("adhoc.cfg");
    let env = [("ANSIBLE_FORKS", "9"), ("ANSIBLE_ROLES_PATH", "/a:/b"), ("ANSIBLE_HOST_PATTERN_MISMATCH", "error")];
    for flags in [vec!["dump", "--only-changed"], vec!["dump"]] {
        let mut ours = mailplay();
        let mut theirs = ansible("ansible-config");
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("ANSIBLE_")) {
            ours.env_remove(&k);
            theirs.env_remove(&k);
        }
        for c in [&mut ours, &mut theirs] {
            c.env_remove("ANSIBLE_NOCOLOR").env_remove("ANSIBLE_LOCALHOST_WARNING").env_remove("ANSIBLE_INVENTORY_UNPARSED_WARNING");
            c.env_remove("ANSIBLE_HOST_KEY_CHECKING").env_remove("ANSIBLE_RETRY_FILES_ENABLED").env_remove("NO_COLOR");
            c.env("ANSIBLE_CONFIG", &cfg).envs(env).current_dir(&dir);
        }
        let ours = ours.arg("config").args(&flags).output().unwrap();
        let theirs = theirs.args(&flags).output().unwrap();
        assert!(ours.status.success() && theirs.status.success(), "{}{}", text(&ours), text(&theirs));
        let theirs = String::from_utf8_lossy(&theirs.stdout).into_owned();
        let ours = String::from_utf8_lossy(&ours.stdout).into_owned();
        for line in ours.lines() {
            assert!(theirs.lines().any(|l| l == line), "{line}\nnot in ansible-config's\n{theirs}");
        }
        assert!(ours.contains("DEFAULT_FORKS(env: ANSIBLE_FORKS) = 9\n"), "{ours}");
        assert!(ours.contains(&format!("DEFAULT_MODULE_NAME({}) = ping\n", cfg.display())), "{ours}");
        assert!(ours.contains("DEFAULT_ROLES_PATH(env: ANSIBLE_ROLES_PATH) = ['/a', '/b']\n"), "{ours}");
        // Settings mailplay does not read are not listed.
        assert!(!ours.contains("NULL_REPRESENTATION"), "{ours}");
        assert_eq!(ours.contains("(default)"), flags.len() == 1, "{ours}");
    }
}

/// `ANSIBLE_DEBUG`: the implicit handler flush says `META: triggered
/// running handlers for HOST` for a host with notifications, as
/// ansible-playbook's debug display does (the handlers target counts it).
#[test]
fn ansible_debug_says_the_implicit_handler_flush_like_ansible() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inventory.ini"), "h1 ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n").unwrap();
    std::fs::write(
        dir.path().join("p.yml"),
        "- hosts: all\n  gather_facts: false\n  tags: the_whole_play\n  tasks:\n    - debug:\n      changed_when: true\n      notify: h\n    - debug:\n      changed_when: true\n      notify: h1\n      tags: task_tag\n  handlers:\n    - name: h\n      debug:\n        msg: handler_ran\n    - name: h1\n      debug:\n        msg: handler1_ran\n",
    )
    .unwrap();
    let count = |mut c: std::process::Command, tags: &[&str]| {
        let o = c.args(["p.yml", "-i", "inventory.ini"]).args(tags).env("ANSIBLE_DEBUG", "1").current_dir(dir.path()).output().unwrap();
        let t = text(&o);
        (t.matches("META: triggered running handlers for h1").count(), t.matches("handler1_ran").count(), t.matches("handler_ran").count())
    };
    for tags in [&["--tags", "task_tag"][..], &["--skip-tags", "the_whole_play"][..], &[][..]] {
        let mut ours = mailplay();
        ours.arg("run");
        assert_eq!(count(ours, tags), count(ansible("ansible-playbook"), tags), "{tags:?}");
    }
}

/// A library module that imports ansible.module_utils needs ansible-core
/// on the controller: without it the task fails saying so (and how to
/// point mailplay at one), and the other hosts' results still print.
#[test]
fn a_library_module_without_ansible_core_on_the_controller_fails_clearly() {
    let out = mailplay()
        .env("MAILPLAY_ANSIBLE_PYTHON", "/nonexistent/python3")
        .args(["run", "site.yml", "-i", "inventory.ini"])
        .current_dir(fixture("ansible_plugins"))
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("imports ansible.module_utils") && t.contains("MAILPLAY_ANSIBLE_PYTHON"), "{t}");
    assert!(t.contains("cannot start /nonexistent/python3 for the Python filter plugins"), "{t}");
    assert!(t.contains("PLAY RECAP"), "{t}");
}

/// `strategy: free` runs the hosts at the same time (not one after
/// another): a host that waits for another's task finishes.
#[test]
fn the_free_strategy_runs_hosts_at_the_same_time() {
    let dest = tempfile::tempdir().unwrap();
    let out = mailplay()
        .args(["run", "site.yml", "-i", "inventory.ini", "-e"])
        .arg(format!("dest_root={}", dest.path().display()))
        .current_dir(fixture("free_concurrent"))
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert_eq!(recap(&t)["h1"]["changed"], 1, "{t}");
}
