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

/// Recursive copies: a controller folder (`dir` and `dir/`, with and
/// without `local_follow`, `directory_mode`, `mode: preserve`), a folder
/// on the host (`remote_src`) into a missing and an existing one, a file
/// into folders a trailing slash makes.
#[test]
fn recursive_copy_matches_ansible_then_idempotent() {
    same_as_ansible_then_idempotent("copy_tree");
}

/// Plays and `delegate_to` naming `localhost` with an inventory that lacks
/// it get Ansible's implicit localhost (the controller, local connection,
/// `all`'s variables), which `hosts: all` and `local*` do not match and
/// `127.0.0.1` names too.
#[test]
fn implicit_localhost_matches_ansible_then_idempotent() {
    same_as_ansible_then_idempotent("implicit_localhost");
}

/// The template module's Jinja options, a `#jinja2:` header, output
/// encodings and newline sequences, trailing newlines with includes.
#[test]
fn template_options_match_ansible_then_idempotent() {
    same_as_ansible_then_idempotent("template_options");
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
    check_predicts_the_real_run("differential");
}

/// The same for recursive copies: folders a copy makes, a host folder an
/// earlier task only plans (its copy predicted, with the assumption said).
#[test]
fn check_mode_predicts_recursive_copies() {
    check_predicts_the_real_run("copy_tree");
}

fn check_predicts_the_real_run(name: &str) {
    let parent = tempfile::tempdir().unwrap();
    let target = parent.path().join("fresh");
    let check = run_mailplay(name, &target, &["--check", "--diff"]);
    assert!(!target.exists(), "check mode created files:\n{check}");
    let real = run_mailplay(name, &target, &[]);
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

/// Ansible's configuration: a role found only through `ANSIBLE_ROLES_PATH`
/// (relative to the current folder) or through `roles_path` and `inventory`
/// in `./ansible.cfg` (relative to the file's folder); `forks` from the
/// environment or the file. Both tools: the same file, recap and forks.
#[test]
fn roles_path_and_settings_from_the_environment_and_ansible_cfg_match_ansible() {
    let fx = fixture("config");
    let empty_cfg = fx.join("empty.cfg");
    // (what, folder, environment, arguments, expected forks)
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, String)>, &'a [&'a str], &'a str);
    let cases: [Case; 2] = [
        (
            "ANSIBLE_ROLES_PATH",
            "play",
            vec![
                ("ANSIBLE_CONFIG", empty_cfg.display().to_string()),
                ("ANSIBLE_ROLES_PATH", "../shared_roles".into()),
                ("ANSIBLE_FORKS", "3".into()),
            ],
            &["site.yml", "-i", "../inventory.ini"],
            "forks=3",
        ),
        ("./ansible.cfg", "with_cfg", vec![], &["../play/site.yml"], "forks=7"),
    ];
    for (what, dir, env, args, forks) in cases {
        let cwd = fx.join(dir);
        let mut outputs = Vec::new();
        for tool in ["ansible-playbook", "mailplay"] {
            let dest = tempfile::tempdir().unwrap();
            let mut cmd = if tool == "mailplay" {
                let mut c = mailplay();
                c.arg("run");
                c
            } else {
                ansible(tool)
            };
            cmd.env_remove("ANSIBLE_CONFIG").env_remove("ANSIBLE_ROLES_PATH").env_remove("ANSIBLE_INVENTORY").env_remove("ANSIBLE_FORKS");
            for (k, v) in &env {
                cmd.env(k, v);
            }
            let out = cmd.args(args).arg("-e").arg(format!("dest_root={}", dest.path().display())).current_dir(&cwd).output().unwrap();
            let t = text(&out);
            assert!(out.status.success(), "{tool} with {what} failed:\n{t}");
            assert!(t.contains(forks), "{tool} with {what}: no {forks}:\n{t}");
            outputs.push((snapshot(dest.path()), recap(&t), t));
        }
        let (m, a) = (&outputs[1], &outputs[0]);
        assert_eq!(m.0, a.0, "{what}: files differ\nmailplay:\n{}\nansible:\n{}", m.2, a.2);
        assert_eq!(m.1, a.1, "{what}: recap differs\nmailplay:\n{}\nansible:\n{}", m.2, a.2);
        assert!(m.0.contains_key("greeting.txt"), "{what}: the role did not run\n{}", m.2);
    }
}

/// The `ok:` and `skipping:` lines printed (with their loop item), a
/// result's block after `=> {`, `NO MORE HOSTS LEFT` and `FAILED -
/// RETRYING`, in order.
fn printed_results(output: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = output.lines();
    while let Some(line) = lines.next() {
        let shown = ["ok: [", "skipping: [", "NO MORE HOSTS", "FAILED - RETRYING"];
        if !shown.iter().any(|p| line.starts_with(p)) {
            continue;
        }
        let mut block = vec![line];
        if line.ends_with("=> {") {
            block.extend(lines.by_ref().take_while(|l| *l != "}"));
        }
        out.push(block.join("\n"));
    }
    out
}

/// A playbook's printed results and PLAY RECAP are ansible-playbook's.
fn prints_what_ansible_prints(name: &str) {
    prints_what_ansible_prints_with(name, "inventory.ini")
}

fn prints_what_ansible_prints_with(name: &str, inventory: &str) {
    let fx = fixture(name);
    let ans = ansible("ansible-playbook").args(["site.yml", "-i", inventory]).current_dir(&fx).output().unwrap();
    let mp = mailplay().args(["run", "site.yml", "-i", inventory]).current_dir(&fx).output().unwrap();
    let (a, m) = (text(&ans), text(&mp));
    assert!(ans.status.success(), "{a}");
    assert!(mp.status.success(), "{m}");
    assert_eq!(printed_results(&m), printed_results(&a), "mailplay:\n{m}\nansible:\n{a}");
    assert_eq!(recap(&m), recap(&a), "mailplay:\n{m}\nansible:\n{a}");
}

/// As `prints_what_ansible_prints`, in any order: under the free strategy
/// Ansible interleaves the hosts' results as they come; each host's lines,
/// the warnings, the recap and the exit code must still be the same.
fn prints_what_ansible_prints_in_any_order(name: &str) {
    prints_what_ansible_prints_in_any_order_with(name, &[])
}

fn prints_what_ansible_prints_in_any_order_with(name: &str, env: &[(&str, &std::path::Path)]) {
    let fx = fixture(name);
    let ans = ansible("ansible-playbook").args(["site.yml", "-i", "inventory.ini"]).current_dir(&fx).output().unwrap();
    let mut cmd = mailplay();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mp = cmd.args(["run", "site.yml", "-i", "inventory.ini"]).current_dir(&fx).output().unwrap();
    let (a, m) = (text(&ans), text(&mp));
    assert_eq!(mp.status.code(), ans.status.code(), "exit codes differ\nmailplay:\n{m}\nansible:\n{a}");
    let sorted = |t: &str| {
        let mut v = printed_results(t);
        v.extend(t.lines().filter(|l| l.starts_with("[WARNING]")).map(str::to_string));
        v.sort();
        v
    };
    assert_eq!(sorted(&m), sorted(&a), "mailplay:\n{m}\nansible:\n{a}");
    assert_eq!(recap(&m), recap(&a), "mailplay:\n{m}\nansible:\n{a}");
}

/// Ansible modules from `library/` folders (AnsibleModule with its argument
/// spec, check mode and facts; WANT_JSON; old style; output around the
/// JSON) and Python filter plugins from `filter_plugins/` folders, beside
/// the playbook and in a role brought in by include_role. mailplay sends
/// the module_utils of the ansible-core beside it (the reference's python).
#[test]
fn library_modules_and_filter_plugins_print_what_ansible_prints() {
    let python = ansible_bin("python3");
    prints_what_ansible_prints_in_any_order_with("ansible_plugins", &[("MAILPLAY_ANSIBLE_PYTHON", python.as_path())]);
}

/// The strategies (blocks, includes, meta_tasks targets): a templated
/// `strategy:`, `free` and `host_pinned` with rescue/always, handlers,
/// `serial`, `throttle`, `run_once` run by every host under free (with
/// Ansible's warning), `meta: end_host`.
#[test]
fn strategies_print_what_ansible_prints() {
    prints_what_ansible_prints_in_any_order("strategies");
}

/// Loops over `include_tasks` (loop_control's `label`, `index_var`,
/// `loop_var`, `extended`; `when` per item; an empty loop), `apply:`, and
/// `notify` inherited from a block and an `import_tasks` (blocks,
/// includes, loop_control, import_tasks targets).
#[test]
fn include_loops_and_inherited_notify_print_what_ansible_prints() {
    prints_what_ansible_prints_in_any_order("include_loops");
}

/// Failures in blocks (blocks, any_errors_fatal targets): any_errors_fatal
/// fails every host into its rescue/always (not counted as rescued, out of
/// the next play), clear_host_errors in an always, `ansible_play_hosts` and
/// `ansible_play_batch` without removed hosts, a shared role dependency run
/// once, the exit code from the hosts still failed.
#[test]
fn block_failures_print_what_ansible_prints() {
    prints_what_ansible_prints_in_any_order("blocks_fatal");
}

/// What ansible-core's own integration targets check (tests/conformance):
/// its path and set tests (`directory`, `link_exists`, `same_file`,
/// `subset`, `contains`, `nan`, ...), `urlsplit`, `urldecode`, Jinja2's
/// `urlencode`, `debug: var=` failing on a filter's error (test_files,
/// test_mathstuff, filter_url*); ping's `data=crash`, `set_fact` with
/// templated free-form keys and invalid names, an undefined loop under a
/// false `when`, loop items labelled as Python prints them (ping,
/// lookup_list, lookup_items, set_fact); failed_when/changed_when results,
/// command times, map's keyword arguments and missing attributes
/// (failed_when, undefined); lookup('vars'/'env', default=), a default
/// `ansible_host`, `raw`, rescue after a lookup error (lookup_vars);
/// `first_found`, the task file's folder on the lookup path, `tempfile`, a
/// handler that includes tasks, `file` `recurse` without `state`
/// (setup_remote_tmp_dir, which lineinfile, stat, blockinfile use);
/// facts an item sets seen by the next, `until` after `failed_when`,
/// `attempts`, an exhausted `until` cleared by `failed_when`, the result
/// tests' other names, the python facts (loop-until).
/// Variable precedence and showing values (the var_precedence and
/// var_blending targets): group_vars/host_vars beside the inventory and the
/// playbook, vars_files lists found under vars/, dependencies' role
/// defaults and their parents' params, set_fact over include_vars, include
/// params, `debug: var=` of undefined values and of values holding them.
#[test]
fn variable_precedence_and_shown_values_print_what_ansible_prints() {
    prints_what_ansible_prints_with("variables", "inventory/hosts");
}

#[test]
fn upstream_target_behaviours_print_what_ansible_prints() {
    prints_what_ansible_prints("upstream");
}

/// Ansible's chainable undefined (an attribute or item of an undefined
/// value is undefined; using it still fails, naming the variable) and
/// ansible-core's core filters as the filter_core target uses them:
/// `flatten`'s nulls, `combine` and `merge_hash`, `subelements`,
/// `from_yaml_all`, `hash`, `to_uuid`, `b64encode`'s encodings, `comment`,
/// `regex_escape`, `regex_search`'s groups, `bool`, seeded `random` and
/// `shuffle` (Python's generator), `strftime`, `to_datetime`, and the
/// misuses' messages.
#[test]
fn chained_undefined_and_core_filters_print_what_ansible_prints() {
    prints_what_ansible_prints("filters");
}

/// What the template module registers (the template target): copy's keys
/// on a change (`md5sum`, `src`, ...), the file module's when unchanged
/// (`path`), `template_destpath`, `mode: preserve`, a folder as `dest`.
#[test]
fn template_results_print_what_ansible_prints() {
    prints_what_ansible_prints("template_results");
}

/// Jinja's native concat as Ansible 2.19 has it (the template target): a
/// macro's body, `caller()`, `{% set %}` and `{% filter %}` blocks and a
/// recursive `loop()` give the one value they output with its type (a
/// template lookup of a macro returning a dict is that dict), None when
/// they output nothing, else their text. Jinja's unary plus (`+2.5`).
/// Ansible's messages for an item a variable lacks (`foo[0]`,
/// `one[5]`), a variable's render error reported as it is; a variable
/// whose template is undefined is undefined (`is undefined`, `default`),
/// using it fails with why; a template a macro includes sees the
/// template's variables; an undefined variable in an imported template;
/// a host's variables (`hostvars[host]`) holding such a variable.
#[test]
fn native_macros_and_blocks_print_what_ansible_prints() {
    prints_what_ansible_prints("template_native");
}

/// `ansible_managed` from ansible.cfg (the template target's
/// ansible_managed playbooks): Python's `str.format` of `{file}`, `{uid}`,
/// `{host}` as template expressions, `strftime` with the template's
/// modification time, rendered where used, in the lookup and the module;
/// a play's own `ansible_managed` wins.
#[test]
fn ansible_managed_from_the_configuration_prints_what_ansible_prints() {
    prints_what_ansible_prints("template_managed");
}

/// `group_by` and `add_host` (the changed_when and failed_when targets):
/// the inventory they change (`groups`, `group_names`, a later play's
/// hosts), their registered results and `changed`, `add_host` once per
/// task, `changed_when`/`failed_when` on them; a serial play's banner per batch.
#[test]
fn group_by_and_add_host_print_what_ansible_prints() {
    prints_what_ansible_prints("upstream_inventory");
}

/// `[WARNING]:` lines a module's result printed (not mailplay's own notes
/// about settings it does not follow).
fn module_warnings(output: &str) -> Vec<&str> {
    output.lines().filter(|l| l.starts_with("[WARNING]: ") && !l.contains("mailplay does not support")).collect()
}

/// What the module targets of ansible-core check (lineinfile, command_shell,
/// assert, debug, stat, file, copy): Python `re` backreferences in
/// lineinfile's patterns, Ansible's match order, module warnings both
/// registered and printed.
#[test]
fn upstream_module_behaviours_print_what_ansible_prints() {
    prints_what_ansible_prints("upstream_modules");
    let fx = fixture("upstream_modules");
    let ans = ansible("ansible-playbook").args(["site.yml", "-i", "inventory.ini"]).current_dir(&fx).output().unwrap();
    let mp = mailplay().args(["run", "site.yml", "-i", "inventory.ini"]).current_dir(&fx).output().unwrap();
    let (a, m) = (text(&ans), text(&mp));
    assert_eq!(module_warnings(&m), module_warnings(&a), "mailplay:\n{m}\nansible:\n{a}");
}

/// Text the user wrote stays trusted through templates (assert, debug,
/// set_fact, include_vars targets): loops and arg splats over
/// playbook-written expressions, `debug: var` through a loop item, a list
/// `that` resolves to, string constants holding templates in a
/// conditional, `tagged_with('TrustedAsTemplate')`; a host's text and
/// meta-templating refused as untrusted.
#[test]
fn trusted_text_prints_what_ansible_prints() {
    prints_what_ansible_prints("trust");
}

/// debug's arguments (the debug target): `args:` as one template (an arg
/// splat, omitted entries dropped, the task's own winning, a non-mapping
/// refused), a `var` giving omit or undefined, with their warnings, a
/// division by zero named as Python names it.
#[test]
fn debug_arguments_print_what_ansible_prints() {
    prints_what_ansible_prints("debug_args");
}

/// What the copy, file, loops, test_core and debug targets use:
/// `remote_user` on plays, blocks and tasks (no login on a local
/// connection, so the user stays the controller's).
#[test]
fn h13_keywords_print_what_ansible_prints() {
    prints_what_ansible_prints("h13_keywords");
}

/// `ansible_search_path` on every task (the loops target): the role's
/// folder, the task file's folder, the playbook's, as absolute paths; a
/// role's lookups search its `files/` first.
#[test]
fn search_path_prints_what_ansible_prints() {
    prints_what_ansible_prints("search_path");
}

/// A fresh copy of a flat fixture folder, for a playbook that changes its
/// own files.
fn fresh_copy(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(fixture(name)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    dir
}

/// `meta: refresh_inventory` (the meta_tasks target): the inventory file
/// becomes a link to another one and is read again; the rest of the play
/// sees the new hosts (a host gone stops, not failed), `add_host` and
/// `group_by` changes are kept, later plays run on the new hosts with
/// their new variables.
#[test]
fn refresh_inventory_prints_what_ansible_prints() {
    let run = |mut c: std::process::Command| {
        let dir = fresh_copy("refresh_inventory");
        let o = c.args(["site.yml", "-i", "inventory.yml"]).current_dir(dir.path()).output().unwrap();
        (o.status.code(), text(&o))
    };
    let mut mp = mailplay();
    mp.arg("run");
    let (mcode, m) = run(mp);
    let (acode, a) = run(ansible("ansible-playbook"));
    assert_eq!(acode, Some(0), "{a}");
    assert_eq!(mcode, Some(0), "{m}");
    // Ansible prints a task's hosts as they finish.
    let sorted = |t: &str| {
        let mut v = printed_results(t);
        v.sort();
        v
    };
    assert_eq!(sorted(&m), sorted(&a), "mailplay:\n{m}\nansible:\n{a}");
    assert_eq!(recap(&m), recap(&a), "mailplay:\n{m}\nansible:\n{a}");
}

/// `loop_control.label` templated after the item ran, the registered
/// variable holding the item's own result; an undefined label fails the
/// item with Ansible's message (the loops target).
#[test]
fn loop_labels_print_what_ansible_prints() {
    prints_what_ansible_prints("loop_label");
}

/// A role included by an included role sees the including role's defaults
/// and vars (Ansible's dep chain) in its tasks and handlers; outside the
/// roles they stay private (the handlers target's dep_chain-vars roles).
#[test]
fn include_role_dep_chain_prints_what_ansible_prints() {
    prints_what_ansible_prints("include_role_chain");
}

/// `import_playbook` with a templated name (the import's vars), `when`
/// (every task of the imported plays, gathering too) and the
/// `ansible.legacy.` name (the include_import target).
#[test]
fn import_playbook_forms_print_what_ansible_prints() {
    prints_what_ansible_prints("import_playbook_forms");
}

/// file's modification_time/access_time with strptime formats, its data
/// diff (kept unchanged), link checks and messages, and pause.
#[test]
fn file_times_and_links_print_what_ansible_prints() {
    prints_what_ansible_prints("file_times");
}

/// file's `_diff_peek` (the file target): appears_binary, nothing changed.
#[test]
fn file_diff_peek_prints_what_ansible_prints() {
    prints_what_ansible_prints("file_diff_peek");
}

/// Missing arguments are judged when a task runs: a skipped task (its own
/// `when` or its block's) is never judged, and `module_defaults` of the
/// task or the play may give them (the group, service and systemd targets).
#[test]
fn args_judged_when_run_print_what_ansible_prints() {
    prints_what_ansible_prints("args_judged_when_run");
}

/// `action: "{{ ... }}"`: the module is named when the task runs (a
/// skipped task is never resolved; an unknown name fails that task).
#[test]
fn templated_action_prints_what_ansible_prints() {
    prints_what_ansible_prints("templated_action");
}
