//! `--syntax-check` (and the check before every run): module arguments
//! that can be validated without variables, and the Jinja syntax of every
//! template and condition. Nothing here touches a host.

use mailplay_modules::args::ArgsError;
use mailplay_modules::registry::Registry;
use serde_json::Value;

use crate::diag::{Diagnostic, Pos};
use crate::template::Templar;
use crate::yaml::Node;

use super::ast::{Expr, Playbook, Task, TaskKind};
use super::keywords::{ansible_bool, not_a_boolean, short_name};

pub fn check(pb: &Playbook) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let templar = Templar::new();
    for play in &pb.plays {
        check_value(&templar, &Value::String(play.hosts.clone()), &play.pos, &mut out);
        for (k, v) in &play.vars {
            let _ = k;
            check_value(&templar, v, &play.pos, &mut out);
        }
        for (k, v) in [
            ("gather_facts", &play.gather_facts),
            ("force_handlers", &play.force_handlers),
            ("any_errors_fatal", &play.any_errors_fatal),
            ("check_mode", &play.check_mode),
            ("diff", &play.diff),
            ("ignore_errors", &play.ignore_errors),
            ("run_once", &play.run_once),
            ("no_log", &play.no_log),
            ("become", &play.become_opts.become_),
        ] {
            check_bool(k, v.as_ref(), &play.pos, &mut out);
        }
        let handled = may_be_true(play.ignore_errors.as_ref());
        let judged_later = play.module_defaults.is_some();
        for list in [&play.pre_tasks, &play.roles, &play.tasks, &play.post_tasks, &play.handlers] {
            for t in list {
                check_task(&templar, t, handled, judged_later, &mut out);
            }
        }
    }
    out
}

fn check_value(templar: &Templar, v: &Value, pos: &Pos, out: &mut Vec<Diagnostic>) {
    match v {
        Value::String(s) if Templar::is_template(s) => {
            if let Err(e) = templar.check_syntax(s) {
                out.push(Diagnostic::new(pos.clone(), format!("template error while templating string: {} in '{s}'", e.message)));
            }
        }
        Value::Array(a) => a.iter().for_each(|i| check_value(templar, i, pos, out)),
        Value::Object(m) => m.values().for_each(|i| check_value(templar, i, pos, out)),
        _ => {}
    }
}

fn check_exprs(templar: &Templar, exprs: &[Expr], out: &mut Vec<Diagnostic>) {
    for e in exprs {
        if let Err(err) = templar.check_expression(&e.text) {
            out.push(Diagnostic::new(e.pos.clone(), format!("invalid conditional '{}': {}", e.text, err.message)));
        }
    }
}

/// Where an argument's key is written, for pointing at a bad field.
fn arg_pos(node: &Option<Node>, field: &str, fallback: &Pos) -> Pos {
    node.as_ref()
        .and_then(|n| n.as_map())
        .and_then(|m| m.iter().find(|(k, _)| k.key_string() == field))
        .map(|(k, _)| k.pos.clone())
        .unwrap_or_else(|| fallback.clone())
}

/// A boolean keyword written literally must be a boolean (a template is
/// judged when the task runs, with the host's variables).
fn check_bool(keyword: &str, v: Option<&Value>, pos: &Pos, out: &mut Vec<Diagnostic>) {
    let Some(v) = v else { return };
    let templated = matches!(v, Value::String(s) if Templar::is_template(s));
    if !templated && !v.is_null() && ansible_bool(v).is_none() {
        out.push(Diagnostic::new(pos.clone(), not_a_boolean(keyword, v)));
    }
}

/// `ignore_errors` that is, or may be once templated, true.
fn may_be_true(v: Option<&Value>) -> bool {
    match v {
        Some(Value::String(s)) if Templar::is_template(s) => true,
        Some(v) => ansible_bool(v) == Some(true),
        None => false,
    }
}

/// `handled`: a failure of this task would not stop the play (it ignores
/// errors, has `failed_when`, or sits in a block with `rescue`). Ansible
/// validates module arguments when the task runs, so such a task with
/// arguments Ansible would refuse fails then, as there, and the play goes
/// on; refusing the playbook at load would stop a run Ansible completes.
/// An unhandled one cannot succeed, so it is refused before any host is
/// touched. Arguments mailplay does not carry out are refused either way.
///
/// `judged_later`: the task, or a block or play around it, has a `when`
/// (Ansible never validates the arguments of a skipped task) or
/// `module_defaults` (which may supply a missing argument when the task
/// runs): its argument values are judged then, only the field names now.
fn check_task(templar: &Templar, t: &Task, handled: bool, judged_later: bool, out: &mut Vec<Diagnostic>) {
    let handled = handled || may_be_true(t.ignore_errors.as_ref()) || t.failed_when.is_some();
    let judged_later = judged_later || !t.when.is_empty() || t.module_defaults.is_some();
    if let Some(name) = &t.name {
        check_value(templar, &Value::String(name.clone()), &t.pos, out);
    }
    for (k, v) in [
        ("ignore_errors", &t.ignore_errors),
        ("ignore_unreachable", &t.ignore_unreachable),
        ("run_once", &t.run_once),
        ("check_mode", &t.check_mode),
        ("diff", &t.diff),
        ("no_log", &t.no_log),
        ("any_errors_fatal", &t.any_errors_fatal),
        ("become", &t.become_opts.become_),
        ("loop_control.extended", &t.loop_control.extended),
    ] {
        check_bool(k, v.as_ref(), &t.pos, out);
    }
    check_exprs(templar, &t.when, out);
    if let Some(c) = &t.changed_when {
        check_exprs(templar, c, out);
    }
    if let Some(c) = &t.failed_when {
        check_exprs(templar, c, out);
    }
    if let Some(u) = &t.until {
        check_exprs(templar, std::slice::from_ref(u), out);
    }
    if let Some(l) = &t.loop_ {
        check_value(templar, &l.items, &l.pos, out);
    }
    for v in t.vars.values() {
        check_value(templar, v, &t.pos, out);
    }
    match &t.kind {
        TaskKind::Block { block, rescue, always } => {
            for c in block {
                check_task(templar, c, handled || !rescue.is_empty(), judged_later, out);
            }
            for c in rescue.iter().chain(always) {
                check_task(templar, c, handled, judged_later, out);
            }
        }
        TaskKind::Module { module, args, args_node, args_pos } => {
            let before = out.len();
            check_value(templar, args, args_pos, out);
            if out.len() > before {
                return;
            }
            let Some(runner) = Registry::global().get(short_name(module)) else { return };
            // Arguments a template gives (`assert: '{{ item }}'`) are known
            // only when the task runs.
            if crate::exec::arg_splat::splatted_text(short_name(module), args).is_some() {
                return;
            }
            let templated = Templar::value_has_template(args);
            match runner.check_args(args) {
                Ok(()) => {}
                // With templates in the values only the field names can be
                // judged now; values are checked when the task runs.
                Err(e @ ArgsError::UnknownField { .. }) => {
                    let pos = arg_pos(args_node, e.field().unwrap_or(""), args_pos);
                    out.push(Diagnostic::new(pos, e.to_string()));
                }
                Err(e) if !templated && !handled && !judged_later => out.push(Diagnostic::new(args_pos.clone(), e.to_string())),
                Err(_) => {}
            }
        }
        TaskKind::IncludeTasks { file, .. } => check_value(templar, file, &t.pos, out),
        TaskKind::IncludeRole { name, .. } => check_value(templar, name, &t.pos, out),
        TaskKind::Meta(_) => {}
    }
}
