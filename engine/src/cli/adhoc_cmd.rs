//! `mailplay adhoc PATTERN -m MODULE -a ARGS`: Ansible's ad-hoc command.
//! As ansible-core 2.19's `cli/adhoc.py`: a play of one task (`hosts:
//! PATTERN`, `gather_facts: false`, `MODULE: ARGS`) run like a playbook
//! (`run_cmd`'s configuration, inventory and executor), its results shown
//! by the minimal (or with `-o` oneline) stream.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use crate::diag::Pos;
use crate::exec::run::exit;
use crate::exec::tags::TagFilter;
use crate::output::{Guarded, MinimalReporter, Reporter};
use crate::playbook::keywords::short_name;
use crate::template::Templar;
use crate::yaml::{Node, NodeKind};

use super::args::{AdhocArgs, OutputFormat, PlayOpts, RunArgs};
use super::run_cmd::{execute, localhost_warnings, prepare, Prepared};

/// Modules Ansible refuses to run without arguments (`C.MODULE_REQUIRE_ARGS`).
const REQUIRE_ARGS: &[&str] = &["command", "raw", "script", "shell", "win_command", "win_shell"];

/// The name Ansible gives the play's file (`playbook._file_name`).
const ADHOC_PLAYBOOK: &str = "__adhoc_playbook__";

pub async fn run(args: AdhocArgs) -> i32 {
    let reporter: Arc<dyn Reporter> = Arc::new(Guarded::new(MinimalReporter::stdout(args.one_line)));
    let code = run_with(&args, &reporter).await;
    reporter.finish();
    code
}

/// The options of the ad-hoc command that a run has too, as `mailplay run`'s.
fn run_args(a: &AdhocArgs) -> RunArgs {
    RunArgs {
        playbooks: Vec::new(),
        inventory: a.inventory.clone(),
        check: a.check,
        diff: a.diff,
        list_hosts: false,
        list_tasks: false,
        list_tags: false,
        syntax_check: false,
        start_at_task: None,
        output: OutputFormat::Text,
        json_file: None,
        ask_become_pass: a.ask_become_pass,
        user: a.user.clone(),
        private_key: a.private_key.clone(),
        connection: a.connection.clone(),
        lab: false,
        play: PlayOpts {
            limit: a.limit.clone(),
            tags: Vec::new(),
            skip_tags: Vec::new(),
            extra_vars: a.extra_vars.clone(),
            forks: a.forks,
            verbose: a.verbose,
            force_handlers: false,
            flush_cache: false,
            become_: a.become_,
            become_user: a.become_user.clone(),
            become_method: a.become_method.clone(),
            timeout: a.timeout,
        },
        vault: a.vault.clone(),
    }
}

async fn run_with(a: &AdhocArgs, reporter: &Arc<dyn Reporter>) -> i32 {
    let ra = run_args(a);
    let Prepared { mut opts, inventory, sources, cfg } = match prepare(&ra, reporter) {
        Ok(p) => p,
        Err(code) => return code,
    };
    // Tags select nothing in an ad-hoc run (its task has none), whatever
    // Ansible's `tags` settings say: ansible has no tag options.
    opts.tags = TagFilter::new(&[], &[]);
    for w in localhost_warnings(&sources, &inventory, Some(&a.pattern)) {
        reporter.warning(w);
    }
    let module = a.module_name.clone().or_else(|| cfg.string("DEFAULT_MODULE_NAME")).unwrap_or_else(|| "command".into());
    let raw_args = a.module_args.clone().or_else(|| cfg.string("DEFAULT_MODULE_ARGS")).unwrap_or_default();
    if short_name(&module) == "import_playbook" {
        reporter.error(&format!("'{module}' is not a valid action for ad-hoc commands"));
        return exit::BAD_OPTIONS;
    }
    let root = match adhoc_play(&a.pattern, &module, &raw_args, a) {
        Ok(n) => n,
        Err(e) => {
            reporter.error(&e);
            return exit::BAD_OPTIONS;
        }
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let pb = match crate::playbook::load_playbook_node(&root, &cwd.join(ADHOC_PLAYBOOK)) {
        Ok(pb) => pb,
        Err(ds) => {
            for d in &ds {
                reporter.error(&d.render());
            }
            return exit::PARSE_ERROR;
        }
    };
    let templar = Arc::new(Templar::new());
    // The hosts, as Ansible's `get_host_list`: none is only a warning
    // (unless --limit made it so), and with an empty inventory not even that.
    let no_hosts = inventory.hosts.is_empty();
    let Some(play) = pb.plays.first() else { return exit::PARSE_ERROR };
    let hosts = match super::lab_run::play_hosts(play, &inventory, &opts, &templar) {
        Ok((_, h)) if !h.is_empty() || no_hosts => Ok(h),
        Ok(_) => Err("Specified inventory, host pattern and/or --limit leaves us with no hosts to target.".to_string()),
        Err(e) => Err(e),
    };
    let hosts = match hosts {
        Ok(h) => h,
        Err(e) if a.limit.is_some() => {
            reporter.error(&e);
            return exit::ERROR;
        }
        Err(_) => {
            reporter.warning("No hosts matched, nothing to do");
            Vec::new()
        }
    };
    if a.list_hosts {
        println!("  hosts ({}):", hosts.len());
        for h in hosts {
            println!("    {h}");
        }
        return exit::OK;
    }
    if REQUIRE_ARGS.contains(&short_name(&module)) && raw_args.is_empty() {
        let hint = if a.pattern.ends_with(".yml") { " (did you mean to run ansible-playbook?)" } else { "" };
        reporter.error(&format!("No argument passed to {module} module{hint}"));
        return exit::BAD_OPTIONS;
    }
    execute(&ra, opts, inventory, std::slice::from_ref(&pb), &templar, reporter, &sources).await
}

/// The one-task play: `[{name: Ansible Ad-Hoc, hosts: PATTERN,
/// gather_facts: false, tasks: [{MODULE: ARGS, ...}]}]`. ARGS in braces
/// are a JSON mapping; otherwise the text is the task's free-form
/// arguments, split by the loader as in a playbook (`k=v` words, the
/// command line of command/shell/raw/script).
fn adhoc_play(pattern: &str, module: &str, raw_args: &str, a: &AdhocArgs) -> Result<Node, String> {
    let args = if raw_args.starts_with('{') && raw_args.ends_with('}') {
        let v: Value = serde_json::from_str(raw_args).map_err(|e| format!("the module arguments are not valid JSON: {e}: {raw_args}"))?;
        node(&v)
    } else if raw_args.is_empty() {
        node(&Value::Null)
    } else {
        node(&Value::String(raw_args.to_string()))
    };
    let mut task = vec![(key(module), args)];
    // As Ansible: -B makes the task async, polled every -P seconds (by
    // default 15, Ansible's poll interval); never an include.
    let include = matches!(short_name(module), "include_role" | "import_role" | "include_tasks" | "import_tasks");
    if let (Some(seconds), false) = (a.background.filter(|s| *s > 0), include) {
        task.push((key("async"), node(&Value::from(seconds))));
        task.push((key("poll"), node(&Value::from(a.poll.unwrap_or(15)))));
    }
    if let Some(t) = a.task_timeout.filter(|t| *t > 0) {
        task.push((key("timeout"), node(&Value::from(t))));
    }
    let play = vec![
        (key("name"), node(&Value::from("Ansible Ad-Hoc"))),
        (key("hosts"), node(&Value::from(pattern))),
        (key("gather_facts"), node(&Value::Bool(false))),
        (key("tasks"), Node::new(NodeKind::Seq(vec![Node::new(NodeKind::Map(task), Pos::unknown())]), Pos::unknown())),
    ];
    Ok(Node::new(NodeKind::Seq(vec![Node::new(NodeKind::Map(play), Pos::unknown())]), Pos::unknown()))
}

fn key(s: &str) -> Node {
    Node::new(NodeKind::Str(s.to_string()), Pos::unknown())
}

/// A value as a document node (no position: it was not read from a file).
fn node(v: &Value) -> Node {
    let kind = match v {
        Value::Null => NodeKind::Null,
        Value::Bool(b) => NodeKind::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => NodeKind::Int(i),
            None => NodeKind::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => NodeKind::Str(s.clone()),
        Value::Array(a) => NodeKind::Seq(a.iter().map(node).collect()),
        Value::Object(m) => NodeKind::Map(m.iter().map(|(k, v)| (key(k), node(v))).collect()),
    };
    Node::new(kind, Pos::unknown())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn adhoc(argv: &[&str]) -> AdhocArgs {
        match super::super::args::Cli::try_parse_from(argv).unwrap().command {
            super::super::args::Command::Adhoc(a) => a,
            other => panic!("{other:?}"),
        }
    }

    fn task_of(root: &Node) -> Value {
        root.to_value()[0]["tasks"][0].clone()
    }

    #[test]
    fn one_task_play_as_ansible_builds_it() {
        let a = adhoc(&["mailplay", "adhoc", "-m", "include_role", "-a", "name=role1", "localhost"]);
        let root = adhoc_play(&a.pattern, "include_role", "name=role1", &a).unwrap();
        let play = &root.to_value()[0];
        assert_eq!((play["hosts"].as_str(), play["gather_facts"].as_bool()), (Some("localhost"), Some(false)));
        assert_eq!(task_of(&root), serde_json::json!({"include_role": "name=role1"}));
        let json = adhoc_play("all", "debug", r#"{"msg": "x {{ 1 + 1 }}"}"#, &a).unwrap();
        assert_eq!(task_of(&json), serde_json::json!({"debug": {"msg": "x {{ 1 + 1 }}"}}));
        assert!(adhoc_play("all", "debug", "{msg: x}", &a).is_err());
        assert_eq!(task_of(&adhoc_play("all", "ping", "", &a).unwrap()), serde_json::json!({"ping": null}));
    }

    #[test]
    fn background_and_poll_as_ansible() {
        let a = adhoc(&["mailplay", "adhoc", "all", "-a", "sleep 1", "-B", "10"]);
        let t = task_of(&adhoc_play("all", "command", "sleep 1", &a).unwrap());
        assert_eq!((t["async"].as_u64(), t["poll"].as_u64()), (Some(10), Some(15)));
        let a = adhoc(&["mailplay", "adhoc", "all", "-B", "10", "-P", "0", "--task-timeout", "5"]);
        let t = task_of(&adhoc_play("all", "command", "sleep 1", &a).unwrap());
        assert_eq!((t["async"].as_u64(), t["poll"].as_u64(), t["timeout"].as_u64()), (Some(10), Some(0), Some(5)));
        let t = task_of(&adhoc_play("all", "include_role", "name=x", &a).unwrap());
        assert!(t.get("async").is_none(), "{t}");
        let a = adhoc(&["mailplay", "adhoc", "all"]);
        assert!(task_of(&adhoc_play("all", "command", "true", &a).unwrap()).get("async").is_none());
    }
}
