//! Running one task on one host: `when`, loops, `delegate_to`, `become`,
//! `environment`, the module itself, `until`/`retries`, `changed_when` and
//! `failed_when`. Everything here is read-only with respect to the play's
//! host states; the caller applies the returned outcome.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mailplay_modules::args::ArgsError;
use mailplay_modules::become_::{Become, BecomeMethod};
use mailplay_modules::host::HostError;
use mailplay_modules::module::{Context, ModuleError};
use mailplay_modules::registry::Registry;
use mailplay_modules::secret::Secret;
use serde_json::{json, Map, Value};

use crate::diag::Pos;
use crate::output::{HostResult, HostStatus};
use crate::playbook::ast::{Expr, Task, TaskKind};
use crate::playbook::keywords::{ansible_bool, not_a_boolean, short_name};
use crate::template::{Scope, Templar};

use super::controller::TaskController;
use super::host_state::HostState;
use super::inherited::Effective;
use super::loops::items_of;
use super::result::{aggregate_loop, Outcome, Status, NO_TRACEBACK};
use super::run::RunContext;

/// What one host's run of a task produced.
pub struct HostTaskOutcome {
    pub outcome: Outcome,
    pub ignored: bool,
    pub ignore_unreachable: bool,
    pub delegated_to: Option<String>,
    /// The task's `no_log` and `any_errors_fatal` for this host.
    pub no_log: bool,
    pub any_errors_fatal: bool,
    /// The handlers a change notifies, `notify:` templated for this host.
    pub notify: Vec<String>,
}

impl HostTaskOutcome {
    /// The keywords the reporter needs.
    pub fn keywords(&self) -> HostKeywords {
        HostKeywords {
            no_log: self.no_log,
            ignore_errors: self.ignored,
            ignore_unreachable: self.ignore_unreachable,
            any_errors_fatal: self.any_errors_fatal,
        }
    }

    /// A failure before the task could run (nothing else known).
    pub fn failed(msg: impl Into<String>) -> Self {
        HostTaskOutcome {
            outcome: Outcome::failed(msg),
            ignored: false,
            ignore_unreachable: false,
            delegated_to: None,
            no_log: false,
            any_errors_fatal: false,
            notify: Vec::new(),
        }
    }
}

/// Shared, read-only inputs of a task's run on every host.
pub struct TaskEnv<'a> {
    pub run: &'a RunContext,
    pub task: &'a Task,
    pub eff: &'a Effective,
    pub search_roots: Arc<Vec<PathBuf>>,
    pub verbosity: u8,
    /// The task is inside a block with `rescue:`: a failure here is rescued.
    pub rescuable: bool,
    /// Values of this task's secret arguments (passwords given to modules,
    /// possibly through a loop item): masked wherever results are shown.
    pub secrets: std::sync::Mutex<Vec<String>>,
}

impl<'a> TaskEnv<'a> {
    pub fn new(run: &'a RunContext, task: &'a Task, eff: &'a Effective, search_roots: Arc<Vec<PathBuf>>, rescuable: bool) -> Self {
        TaskEnv { run, task, eff, search_roots, verbosity: run.opts.verbosity, rescuable, secrets: Default::default() }
    }
}

pub fn where_(pos: &Pos) -> String {
    match &pos.file {
        Some(f) => format!("\n\nThe error appears to be in '{}': line {}, column {}", f.display(), pos.line, pos.column),
        None => String::new(),
    }
}

/// A boolean keyword (`no_log`, `ignore_errors`, `become`, `run_once`,
/// `any_errors_fatal`, `loop_control.extended`, ...): templated in `scope`
/// like any other keyword, then converted as Ansible does. Unset or null
/// means `default`; anything else that is not a boolean is an error naming
/// the keyword and the value.
pub fn keyword_bool(templar: &Templar, keyword: &str, v: Option<&Value>, scope: &Scope, default: bool) -> Result<bool, String> {
    let Some(v) = v else { return Ok(default) };
    let rendered = templar.render_value(v, scope).map_err(|e| format!("the keyword '{keyword}' could not be templated: {e}"))?;
    if rendered.is_null() {
        return Ok(default);
    }
    ansible_bool(&rendered).ok_or_else(|| not_a_boolean(keyword, &rendered))
}

/// The boolean keywords of a task, evaluated for one host.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostKeywords {
    pub no_log: bool,
    pub ignore_errors: bool,
    pub ignore_unreachable: bool,
    pub any_errors_fatal: bool,
}

impl TaskEnv<'_> {
    /// The task's boolean keywords for this host (`Err`: whether the task
    /// is `no_log`, and the error).
    pub fn keywords(&self, scope: &Scope) -> Result<HostKeywords, (bool, String)> {
        let t = &self.run.templar;
        let e = self.eff;
        let at = where_(&self.task.pos);
        // The task has not run when a keyword fails: its error shows no output.
        let no_log = keyword_bool(t, "no_log", e.no_log.as_ref(), scope, false).map_err(|m| (false, format!("{m}{at}")))?;
        let get = |k: &str, v: &Option<Value>| keyword_bool(t, k, v.as_ref(), scope, false).map_err(|m| (no_log, format!("{m}{at}")));
        Ok(HostKeywords {
            no_log,
            ignore_errors: get("ignore_errors", &e.ignore_errors)?,
            ignore_unreachable: get("ignore_unreachable", &e.ignore_unreachable)?,
            any_errors_fatal: get("any_errors_fatal", &e.any_errors_fatal)?,
        })
    }

    pub async fn run_on_host(&self, host: &HostState, scope: Scope) -> HostTaskOutcome {
        let kw = match self.keywords(&scope) {
            Ok(k) => k,
            Err((no_log, msg)) => return HostTaskOutcome { no_log, ..HostTaskOutcome::failed(msg) },
        };
        let done = |outcome: Outcome, delegated_to: Option<String>| HostTaskOutcome {
            outcome,
            ignored: kw.ignore_errors,
            ignore_unreachable: kw.ignore_unreachable,
            delegated_to,
            no_log: kw.no_log,
            any_errors_fatal: kw.any_errors_fatal,
            notify: Vec::new(),
        };
        let delegated_to = match &self.eff.delegate_to {
            Some(d) => match self.run.templar.render_value(d, &scope) {
                Ok(Value::String(s)) if !s.is_empty() => Some(s),
                Ok(_) => None,
                Err(e) => return done(Outcome::failed(format!("cannot template delegate_to: {e}{}", where_(&self.task.pos))), None),
            },
            None => None,
        };
        // As Ansible: a delegated task sees the delegate's variables as
        // `ansible_delegated_vars[<delegate>]`.
        let mut scope = scope;
        if let Some(d) = &delegated_to {
            let mut vars = self.run.inventory().resolve_host(d).map(|h| self.run.inventory().host_vars(&h)).unwrap_or_default();
            vars.insert("inventory_hostname".into(), Value::String(d.clone()));
            let mut delegated = Map::new();
            delegated.insert(d.clone(), Value::Object(vars));
            scope.set("ansible_delegated_vars", Value::Object(delegated));
        }
        let outcome = match &self.task.loop_ {
            Some(_) => self.run_loop(host, scope, delegated_to.as_deref(), &kw).await,
            None => self.run_once(host, &scope, delegated_to.as_deref()).await,
        };
        done(outcome, delegated_to)
    }

    async fn run_loop(&self, host: &HostState, mut scope: Scope, delegated_to: Option<&str>, kw: &HostKeywords) -> Outcome {
        let spec = self.task.loop_.as_ref().expect("called for loops");
        let rendered = match self.run.templar.render_value(&spec.items, &scope) {
            Ok(v) => v,
            // Like Ansible, an undefined variable in the loop is an error
            // only if the task's `when` (without an item) does not skip it.
            Err(e) if e.undefined => {
                return match self.skipped_by_when(&scope) {
                    Some(skipped) => skipped,
                    None => Outcome::failed(format!("{e}{}", where_(&spec.pos))),
                }
            }
            Err(e) => return Outcome::failed(format!("{e}{}", where_(&spec.pos))),
        };
        let items = match items_of(&self.run.templar, &spec.kind, rendered, &scope) {
            Ok(items) => items,
            Err(e) => return Outcome::failed(format!("{e}{}", where_(&spec.pos))),
        };
        let lc = &self.task.loop_control;
        let (vars, pause) = match self.loop_settings(&scope) {
            Ok(v) => v,
            Err(e) => return Outcome::failed(format!("{e}{}", where_(&self.task.pos))),
        };
        let mut outcomes = Vec::with_capacity(items.len());
        for idx in 0..items.len() {
            if idx > 0 && pause > 0.0 {
                tokio::time::sleep(Duration::from_secs_f64(pause)).await;
            }
            let item_vars = vars.for_item(&items, idx);
            let mut s = scope.clone();
            for (k, v) in &item_vars {
                s.set(k, v.clone());
            }
            let mut o = self.run_once(host, &s, delegated_to).await;
            let label = self.item_label(&s, &mut o, &items[idx]);
            // As Ansible's loop: facts an item sets (set_fact) are seen by
            // the next items (a list built up item by item).
            for (k, v) in &o.facts {
                scope.set(k, v.clone());
            }
            o.data.extend(item_vars);
            // "...ignoring" follows the loop's own result, once.
            let item_kw = HostKeywords { ignore_errors: false, ignore_unreachable: false, ..*kw };
            self.report(host, delegated_to, &o, Some(label), &item_kw, false);
            outcomes.push(o);
            // `break_when`: judged with the item's variables, after its result.
            if !lc.break_when.is_empty() {
                match lc.break_when.iter().try_fold(true, |all, c| self.run.templar.eval_condition(&c.text, &s).map(|b| all && b)) {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(e) => {
                        outcomes.push(Outcome::failed(format!("break_when: {e}{}", where_(&lc.break_when[0].pos))));
                        break;
                    }
                }
            }
        }
        aggregate_loop(outcomes)
    }

    /// A loop item's label, templated after the item ran as Ansible's
    /// `_run_loop` does: with `register`, the registered variable is the
    /// item's own result by then (a label may show `r.stdout`). A label
    /// naming something undefined fails the item (Ansible's "Failed to
    /// template loop_control.label"), which then shows the item itself.
    fn item_label(&self, item_scope: &Scope, o: &mut Outcome, item: &Value) -> String {
        let Some(l) = &self.task.loop_control.label else { return display_item(item) };
        let mut s = item_scope.clone();
        if let Some(reg) = &self.task.register {
            s.set(reg, Value::Object(o.registered()));
        }
        match self.run.templar.render_value(l, &s) {
            Ok(v) => display_item(&v),
            Err(e) if e.undefined => {
                o.status = Status::Failed;
                o.data.insert("msg".into(), Value::from(format!("Failed to template loop_control.label: {e}")));
                display_item(item)
            }
            Err(_) => display_item(item),
        }
    }

    /// `notify:` for this host: each entry templated; one that renders
    /// to a list names several handlers. An entry that does not render
    /// stays as written (and then names no handler).
    pub fn rendered_notify(&self, scope: &Scope) -> Vec<String> {
        let mut out = Vec::new();
        for n in &self.eff.notify {
            if !Templar::is_template(n) {
                out.push(n.clone());
                continue;
            }
            match self.run.templar.render_value(&Value::String(n.clone()), scope) {
                Ok(Value::Array(items)) => {
                    out.extend(items.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                }
                Ok(Value::String(s)) => out.push(s),
                Ok(other) => out.push(other.to_string()),
                Err(_) => out.push(n.clone()),
            }
        }
        out
    }

    /// `loop_control`'s variables and pause, templated in `scope`.
    pub fn loop_settings(&self, scope: &Scope) -> Result<(super::loops::LoopVars, f64), String> {
        let lc = &self.task.loop_control;
        let t = &self.run.templar;
        let extended = keyword_bool(t, "loop_control.extended", lc.extended.as_ref(), scope, false)?;
        let allitems = keyword_bool(t, "loop_control.extended_allitems", lc.extended_allitems.as_ref(), scope, true)?;
        let pause = lc.pause.as_ref().and_then(Value::as_f64).unwrap_or(0.0);
        let (loop_var, index_var) = super::loops::LoopVars::names(t, lc, scope)?;
        let vars = super::loops::LoopVars { loop_var, index_var, extended, allitems };
        Ok((vars, pause))
    }

    /// The skipped outcome when a `when` condition is false; `None` when
    /// they all hold or one cannot be evaluated.
    fn skipped_by_when(&self, scope: &Scope) -> Option<Outcome> {
        let cond = self.eff.when.iter().find(|c| !matches!(self.run.templar.eval_condition(&c.text, scope), Ok(true)))?;
        self.run.templar.eval_condition(&cond.text, scope).ok()?;
        let mut o = Outcome::skipped("Conditional result was False");
        o.data.insert("false_condition".into(), cond.as_written());
        Some(o)
    }

    /// `when`, then the action with retries and result conditions.
    async fn run_once(&self, host: &HostState, scope: &Scope, delegated_to: Option<&str>) -> Outcome {
        for cond in &self.eff.when {
            match self.run.templar.eval_condition(&cond.text, scope) {
                Ok(true) => {}
                Ok(false) => {
                    let mut o = Outcome::skipped("Conditional result was False");
                    o.data.insert("false_condition".into(), cond.as_written());
                    return o;
                }
                Err(e) => {
                    return Outcome::failed(format!(
                        "The conditional check '{}' failed. The error was: {e}{}",
                        cond.text,
                        where_(&cond.pos)
                    ));
                }
            }
        }
        match &self.task.kind {
            // `action: "{{ ansible_facts.pkg_mgr }}"`: the module is named
            // when the task runs (from trusted playbook text, rendered with
            // the host's variables), and must be one mailplay knows.
            TaskKind::Module { module, args, .. } if Templar::is_template(module) => {
                let name = match self.run.templar.render_value(&Value::String(module.clone()), scope) {
                    Ok(Value::String(name)) => name.trim().to_string(),
                    Ok(other) => {
                        return Outcome::failed(format!("the action must be a module name, got {other}{}", where_(&self.task.pos)))
                    }
                    Err(e) => return Outcome::failed(format!("{}{}", e.message, where_(&self.task.pos))),
                };
                if !crate::playbook::known_action(&name) || Templar::is_template(&name) {
                    return Outcome::failed(format!(
                        "Task failed: Cannot resolve '{name}' to an action or module.{}",
                        where_(&self.task.pos)
                    ));
                }
                self.run_module(host, scope, delegated_to, &name, args).await
            }
            TaskKind::Module { module, args, .. } => self.run_module(host, scope, delegated_to, module, args).await,
            _ => Outcome::failed("internal error: not a module task"),
        }
    }

    async fn run_module(&self, host: &HostState, scope: &Scope, delegated_to: Option<&str>, module: &str, raw_args: &Value) -> Outcome {
        let task = self.task;
        // Fault injection for the test of the per-host panic boundary
        // (engine/tests/safety_core.rs): debug builds only, never in a
        // release binary.
        #[cfg(debug_assertions)]
        if std::env::var("MAILPLAY_TEST_PANIC_ON_HOST").is_ok_and(|h| h == host.name) {
            let reply: Vec<u8> = b"* OK".to_vec();
            let _ = reply[reply.len() + 1];
        }
        // A builtin Ansible module mailplay lacks loads (a role for several
        // distributions names them in tasks skipped here) and fails only
        // where it runs.
        let is_include_vars = crate::playbook::keywords::short_name(module) == "include_vars";
        let inventory_action = super::inventory_actions::action_of(task);
        // A module from a `library/` folder, else mailplay's own.
        let runner: Option<&dyn mailplay_modules::module::ModuleRunner> = match crate::playbook::library::resolve(module) {
            Some(path) => match mailplay_modules::foreign::ForeignModule::load(short_name(module), &path) {
                Ok(m) => Some(m),
                Err(e) => return Outcome::failed(format!("{e}{}", where_(&task.pos))),
            },
            None => Registry::global().get(module),
        };
        // `async_status` asks the run's background jobs (async_jobs.rs).
        let is_async_status = crate::playbook::keywords::short_name(module) == "async_status";
        if runner.is_none() && !is_include_vars && inventory_action.is_none() && !is_async_status {
            return Outcome::failed(format!("the module {module} is not implemented by mailplay{}", where_(&task.pos)));
        }
        // module_defaults sit under the task's own arguments. `service`
        // runs the host's service manager's module, as Ansible's service
        // action does: that module's defaults sit under service's own.
        let defaults = match short_name(module) {
            "service" => {
                let manager = host.facts.get("ansible_service_mgr").and_then(Value::as_str);
                let backend = if manager == Some("systemd") { "systemd" } else { "sysvinit" };
                let mut d = if manager.is_some() { self.eff.defaults_for(backend) } else { Map::new() };
                d.extend(self.eff.defaults_for(module));
                d
            }
            _ => self.eff.defaults_for(module),
        };
        let with_defaults;
        let raw_args = match raw_args {
            Value::Object(own) if !defaults.is_empty() => {
                let mut merged = defaults;
                merged.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
                with_defaults = Value::Object(merged);
                &with_defaults
            }
            _ => raw_args,
        };
        if short_name(module) == "set_fact" {
            if let Err(msg) = set_fact_key_types(&self.run.templar, raw_args, scope) {
                return Outcome::failed(format!("Task failed: {msg}{}", where_(&task.pos)));
            }
        }
        let short = crate::playbook::keywords::short_name(module);
        // Expressions the action evaluates itself are not rendered (untrusted.rs).
        let (to_render, expressions) = super::untrusted::take_expressions(short, raw_args);
        let args = match self.run.templar.render_value(&to_render, scope) {
            Ok(a) => a,
            Err(e) => return Outcome::failed(format!("{}{}", self.args_error(module, raw_args, scope, e), where_(&task.pos))),
        };
        let splatted = super::arg_splat::splatted_text(short, raw_args).is_some();
        let args = if splatted {
            // Ansible's display shows each warning once per run.
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| self.run.reporter.warning(super::arg_splat::WARNING));
            match super::arg_splat::spread(args) {
                Ok(a) => a,
                Err(e) => return Outcome::failed(format!("Task failed: Finalization of task args for '{}' failed: {e}", fqcn(module))),
            }
        } else {
            args
        };
        let args = super::untrusted::put_back(&self.run.templar, scope, args, expressions);
        if let Err(e) = super::untrusted::check(short, raw_args, &args) {
            return Outcome::failed(e);
        }
        if let Some(action) = inventory_action {
            let mut o = super::inventory_actions::run(action, &args, self.run, &host.name);
            let mut result_scope = scope.clone();
            if let Some(reg) = &task.register {
                result_scope.set(reg, Value::Object(o.registered()));
            }
            self.apply_result_conditions(&mut o, &result_scope);
            return o;
        }
        if runner.is_none() && !is_async_status {
            let task_dir = task.pos.file.as_deref().and_then(|f| f.parent());
            let ctx = super::include_vars::IncludeVarsCtx {
                roots: &self.search_roots,
                role: task.role.as_deref(),
                task_dir,
                templar: &self.run.templar,
                scope,
            };
            return super::include_vars::run(&args, &ctx);
        }
        let check_mode = match keyword_bool(&self.run.templar, "check_mode", self.eff.check_mode.as_ref(), scope, self.run.opts.check) {
            Ok(b) => b,
            Err(e) => return Outcome::failed(format!("{e}{}", where_(&task.pos))),
        };
        let diff = match keyword_bool(&self.run.templar, "diff", self.eff.diff.as_ref(), scope, self.run.opts.diff) {
            Ok(b) => b,
            Err(e) => return Outcome::failed(format!("{e}{}", where_(&task.pos))),
        };

        // Connection: the delegated host's, else this host's, with the
        // connection variables rendered in this task's scope.
        let conn_host = delegated_to.unwrap_or(&host.name);
        let mut conn_vars = match self.connection_vars(conn_host, delegated_to.is_some(), scope) {
            Ok(v) => v,
            Err(e) => return Outcome::failed(e),
        };
        if let Err(e) = self.apply_remote_user(scope, &mut conn_vars) {
            return Outcome::failed(format!("{e}{}", where_(&task.pos)));
        }
        let action = match &task.kind {
            TaskKind::Module { module, .. } => short_name(module),
            _ => "",
        };
        let controller_only = super::controller_host::CONTROLLER_ACTIONS.contains(&action);
        let conn = if controller_only {
            None
        } else {
            match self.run.pool.get(conn_host, &conn_vars, &self.run.opts).await {
                Ok(c) => Some(c),
                Err(e) => return Outcome::unreachable(e.to_string()),
            }
        };
        let become_ = match self.resolve_become(scope, &conn_vars) {
            Ok(b) => b,
            Err(e) => return Outcome::failed(e),
        };
        let environment = match self.render_environment(scope) {
            Ok(e) => e,
            Err(e) => return Outcome::failed(e),
        };
        if let Some(r) = runner {
            self.remember_secrets(r.secret_values(&args));
        }
        let handle: Box<dyn mailplay_modules::host::Host> = match &conn {
            Some(conn) => conn.host(&host.name, become_, environment),
            None => Box::new(super::controller_host::ControllerOnly { name: host.name.clone(), action: action.to_string() }),
        };
        let controller = TaskController {
            templar: self.run.templar.clone(),
            scope: scope.clone(),
            search_roots: self.search_roots.to_vec(),
            deprecations: Default::default(),
        };
        // The overlay of a --check run (a `check_mode: yes` task of a real
        // run probes the host as it is).
        let planned = self.run.opts.check.then(|| self.run.planned_for(conn_host));
        let asynchronous = match super::async_jobs::settings(task.async_.as_ref(), task.poll.as_ref(), |v| {
            self.run.templar.render_value(v, scope).map_err(|e| e.to_string())
        }) {
            Ok(a) => a.filter(|_| runner.is_some()),
            Err(e) => return Outcome::failed(format!("{e}{}", where_(&task.pos))),
        };
        if let (Some((secs, 0)), Some(runner)) = (asynchronous, runner) {
            // Fire and forget: the job runs in the background, bounded by
            // its time limit; the task returns its id.
            let jid = super::async_jobs::new_job_id();
            let (job_id, args, verbosity) = (jid.clone(), args.clone(), self.verbosity);
            let job = async move {
                let ctx = Context {
                    host: handle.as_ref(),
                    controller: &controller,
                    check_mode,
                    diff,
                    verbosity,
                    planned: planned.as_deref(),
                    notes: None,
                };
                match tokio::time::timeout(Duration::from_secs(secs), runner.run(&args, &ctx)).await {
                    Ok(r) => module_outcome(r, &task_pos_text(&job_id)),
                    Err(_) => super::async_jobs::timed_out(&job_id, secs),
                }
            };
            self.run.jobs.start(&jid, job);
            let mut o = Outcome::new(Status::Changed, Map::new());
            super::async_jobs::mark(&mut o, &jid, false);
            let mut result_scope = scope.clone();
            if let Some(reg) = &task.register {
                result_scope.set(reg, Value::Object(o.registered()));
            }
            self.apply_result_conditions(&mut o, &result_scope);
            return o;
        }
        let ctx = Context {
            host: handle.as_ref(),
            controller: &controller,
            check_mode,
            diff,
            verbosity: self.verbosity,
            planned: planned.as_deref(),
            notes: None,
        };

        // As ansible-core 2.19: `retries` alone retries until the task
        // succeeds, `until` alone retries 3 times; 0 runs once, unjudged.
        let retries = match (&task.retries, task.until.is_some()) {
            (Some(r), _) => self
                .run
                .templar
                .render_value(r, scope)
                .ok()
                .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
                .unwrap_or(3),
            (None, true) => 3,
            (None, false) => 0,
        };
        let delay = task
            .delay
            .as_ref()
            .and_then(|d| self.run.templar.render_value(d, scope).ok())
            .and_then(|v| v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
            .unwrap_or(5.0);
        let timeout = match self.task_timeout(scope) {
            Ok(t) => t,
            Err(e) => return Outcome::failed(format!("{e}{}", where_(&task.pos))),
        };
        let mut attempt = 0u64;
        loop {
            attempt += 1;
            // A timeout drops the module's future: the connection then ends
            // the command it was running on the host (its process group).
            let mut o = match runner {
                // async_status: the job's state now (`until: r is finished` polls it).
                None => self.run.jobs.status(&args),
                Some(runner) => {
                    if let Some((secs, _)) = asynchronous {
                        return self.run_polled(host, scope, runner, &args, &ctx, secs).await;
                    }
                    let run = match timeout {
                        Some(secs) => tokio::time::timeout(Duration::from_secs(secs), runner.run(&args, &ctx)).await.ok(),
                        None => Some(runner.run(&args, &ctx).await),
                    };
                    let Some(run) = run else {
                        let secs = timeout.unwrap_or_default();
                        let mut o = Outcome::failed(format!("Task failed: Timed out after {secs} second(s)."));
                        o.data.insert("timedout".into(), json!({ "period": secs }));
                        return o;
                    };
                    let mut o = module_outcome(run, &where_(&task.pos));
                    let noted = std::mem::take(&mut *controller.deprecations.lock().unwrap_or_else(|e| e.into_inner()));
                    self.add_deprecations(&mut o, noted, scope);
                    o
                }
            };
            if o.status == Status::Unreachable {
                return o;
            }
            // As Ansible: `attempts` is there for changed_when/failed_when,
            // and `until` sees the result they judged.
            if retries > 0 {
                o.data.insert("attempts".into(), Value::from(attempt));
            }
            let mut result_scope = scope.clone();
            if let Some(reg) = &task.register {
                result_scope.set(reg, Value::Object(o.registered()));
            }
            self.apply_result_conditions(&mut o, &result_scope);
            if retries == 0 {
                return o;
            }
            let mut until_scope = scope.clone();
            if let Some(reg) = &task.register {
                until_scope.set(reg, Value::Object(o.registered()));
            }
            until_scope.set("attempts", Value::from(attempt));
            let done = match &task.until {
                None => o.status != Status::Failed,
                Some(until) => match self.run.templar.eval_condition(&until.text, &until_scope) {
                    Ok(b) => b,
                    Err(e) => {
                        return Outcome::failed(format!(
                            "The conditional check '{}' failed. The error was: {e}{}",
                            until.text,
                            where_(&until.pos)
                        ))
                    }
                },
            };
            if done || attempt > retries {
                if !done {
                    // As ansible-core 2.19: out of attempts, the result is
                    // failed with attempts = retries; but where failed_when
                    // judged it, its verdict stands (TaskResult.is_failed).
                    o.data.insert("attempts".into(), Value::from(retries));
                    let cleared = o.data.get("failed_when_result") == Some(&Value::Bool(false));
                    if cleared {
                        o.data.insert("failed".into(), Value::Bool(true));
                    } else {
                        o.set_failed(true);
                        let why = match &task.until {
                            Some(until) => format!("the until condition '{}' never became true", until.text),
                            None => "it never succeeded".into(),
                        };
                        o.data.entry("msg").or_insert_with(|| Value::from(format!("Task failed after {attempt} attempts: {why}")));
                    }
                }
                return o;
            }
            // As Ansible's callback: the task's own name (no role prefix).
            self.run.reporter.retrying(&format!(
                "FAILED - RETRYING: [{}]: {} ({} retries left).",
                host.name,
                task.name.clone().unwrap_or_else(|| task.display_name()),
                retries + 1 - attempt
            ));
            tokio::time::sleep(Duration::from_secs_f64(delay)).await;
        }
    }

    /// `async: secs` with polling: the module within its time limit
    /// (Ansible sees the end at its next poll, mailplay at once).
    async fn run_polled(
        &self,
        host: &HostState,
        scope: &Scope,
        runner: &dyn mailplay_modules::module::ModuleRunner,
        args: &Value,
        ctx: &Context<'_>,
        secs: u64,
    ) -> Outcome {
        let jid = super::async_jobs::new_job_id();
        let mut o = match tokio::time::timeout(Duration::from_secs(secs), runner.run(args, ctx)).await {
            Ok(r) => module_outcome(r, &where_(&self.task.pos)),
            Err(_) => super::async_jobs::timed_out(&jid, secs),
        };
        if o.status == Status::Unreachable {
            return o;
        }
        if o.data.get("ansible_job_id").is_none() {
            super::async_jobs::mark(&mut o, &jid, true);
        }
        // Ansible's callback says how the job ended before its result.
        let word = if o.status == Status::Failed { "FAILED" } else { "OK" };
        self.run.reporter.display(&format!("ASYNC {word} on {}: jid={jid}", host.name));
        let mut result_scope = scope.clone();
        if let Some(reg) = &self.task.register {
            result_scope.set(reg, Value::Object(o.registered()));
        }
        self.apply_result_conditions(&mut o, &result_scope);
        o
    }

    /// `timeout:` in seconds; 0 or unset means none, as in Ansible.
    fn task_timeout(&self, scope: &Scope) -> Result<Option<u64>, String> {
        let Some(v) = &self.eff.timeout else { return Ok(None) };
        let rendered = self.run.templar.render_value(v, scope).map_err(|e| format!("cannot template timeout: {e}"))?;
        let secs = rendered
            .as_u64()
            .or_else(|| rendered.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| format!("timeout must be a whole number of seconds, got {rendered}"))?;
        Ok((secs > 0).then_some(secs))
    }

    /// `changed_when`, then `failed_when`, as ansible-core 2.19's
    /// TaskExecutor: an error in one fails the task with the result kept
    /// and the error in `<changed|failed>_when_result`; a module failure
    /// that `failed_when` clears keeps its exception aside.
    fn apply_result_conditions(&self, o: &mut Outcome, scope: &Scope) {
        // A skipped result (check mode, creates=) is not judged; its fields
        // may not be there to judge by.
        if o.status == Status::Skipped {
            return;
        }
        let judge = |conds: &[Expr]| -> Result<bool, String> {
            for c in conds {
                let ok = self.run.templar.eval_condition(&c.text, scope).map_err(|e| format!("Error while evaluating conditional: {e}"))?;
                if !ok {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        for (name, conds) in [("changed", &self.task.changed_when), ("failed", &self.task.failed_when)] {
            let Some(conds) = conds else { continue };
            match judge(conds) {
                Ok(b) if name == "changed" => o.set_changed(b),
                Ok(failed) => {
                    o.data.insert("failed_when_result".into(), Value::Bool(failed));
                    if !failed && o.status == Status::Failed && !is_action_plugin(&self.task.kind) {
                        o.data.insert("failed_when_suppressed_exception".into(), Value::from(NO_TRACEBACK));
                    }
                    o.set_failed(failed);
                }
                Err(e) => {
                    o.data.insert(format!("{name}_when_result"), Value::from(e));
                    o.set_failed(true);
                    return;
                }
            }
        }
    }

    fn connection_vars(&self, conn_host: &str, delegated: bool, scope: &Scope) -> Result<Map<String, Value>, String> {
        let mut out = Map::new();
        if delegated {
            // A delegated task connects with the delegate's own variables.
            // `delegate_to: localhost` without one in the inventory is the
            // implicit localhost: the controller, `ansible_connection=local`.
            if let Some(h) = self.run.inventory().resolve_host(conn_host) {
                out = self.run.inventory().host_vars(&h);
            }
            return Ok(out);
        }
        super::connection::rendered_connection_vars(&self.run.templar, scope)
    }

    /// The `remote_user` keyword (play, block, task, inherited): the login
    /// user of this task's connection, as in Ansible below the
    /// `ansible_user`/`ansible_ssh_user` variables and above `-u` and the
    /// configured default. The pool keeps one connection per login user
    /// (`ConnectionPool::get`); a local connection has no login, so there
    /// it changes nothing, as in Ansible.
    fn apply_remote_user(&self, scope: &Scope, conn_vars: &mut Map<String, Value>) -> Result<(), String> {
        let Some(v) = &self.eff.become_opts.remote_user else { return Ok(()) };
        if conn_vars.contains_key("ansible_user") || conn_vars.contains_key("ansible_ssh_user") {
            return Ok(());
        }
        let user = match self.run.templar.render_value(v, scope).map_err(|e| format!("cannot template remote_user: {e}"))? {
            Value::String(s) => s,
            Value::Null => return Ok(()),
            other => return Err(format!("remote_user must be a string, got {other}")),
        };
        conn_vars.insert("ansible_user".into(), Value::String(user));
        Ok(())
    }

    fn resolve_become(&self, scope: &Scope, conn_vars: &Map<String, Value>) -> Result<Option<Become>, String> {
        let opts = &self.run.opts;
        let b = &self.eff.become_opts;
        let render_str = |v: &Option<Value>| -> Result<Option<String>, String> {
            match v {
                Some(v) => self
                    .run
                    .templar
                    .render_value(v, scope)
                    .map(|r| r.as_str().map(str::to_string).or_else(|| Some(r.to_string())))
                    .map_err(|e| e.to_string()),
                None => Ok(None),
            }
        };
        let var = |k: &str| scope.get(k).cloned();
        let (keyword, value) = match (&b.become_, var("ansible_become")) {
            (Some(v), _) => ("become", Some(v.clone())),
            (None, v) => ("ansible_become", v),
        };
        let enabled = keyword_bool(&self.run.templar, keyword, value.as_ref(), scope, opts.become_.unwrap_or(false))
            .map_err(|e| format!("{e}{}", where_(&self.task.pos)))?;
        if !enabled {
            return Ok(None);
        }
        let user = render_str(&b.become_user.clone().or_else(|| var("ansible_become_user")))?
            .or_else(|| opts.become_user.clone())
            .unwrap_or_else(|| "root".into());
        let method_name = render_str(&b.become_method.clone().or_else(|| var("ansible_become_method")))?
            .or_else(|| opts.become_method.clone())
            .unwrap_or_else(|| "sudo".into());
        let method = BecomeMethod::parse(&method_name)
            .ok_or_else(|| format!("Invalid become method specified: '{method_name}' (mailplay supports sudo, su and runuser)"))?;
        let password = conn_vars
            .get("ansible_become_password")
            .or_else(|| conn_vars.get("ansible_become_pass"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| opts.become_password.as_ref().map(|s| s.expose().to_string()))
            .filter(|p| !p.is_empty());
        if let Some(p) = &password {
            // Whatever path it might take into a result, it is masked.
            mailplay_modules::secret::register_run_secret(p);
        }
        let flags = render_str(&b.become_flags.clone().or_else(|| var("ansible_become_flags")))?;
        let exe = render_str(&b.become_exe.clone().or_else(|| var("ansible_become_exe")))?.filter(|e| !e.is_empty());
        Ok(Some(Become { method, user, password: password.map(Secret::new), flags, exe }))
    }

    fn render_environment(&self, scope: &Scope) -> Result<Vec<(String, String)>, String> {
        let mut env = Map::new();
        for e in &self.eff.environment {
            match self.run.templar.render_value(e, scope).map_err(|e| format!("cannot template environment: {e}"))? {
                Value::Object(m) => env.extend(m),
                Value::Null => {}
                other => return Err(format!("environment must be a mapping, got {other}")),
            }
        }
        Ok(env.into_iter().map(|(k, v)| (k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))).collect())
    }

    fn remember_secrets(&self, values: Vec<String>) {
        let mut s = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        for v in values {
            // Every length: a short password is still a password.
            if !v.is_empty() && !s.contains(&v) {
                s.push(v);
            }
        }
    }

    /// Ansible 2.19's message for arguments that do not template: the
    /// module's full name and the argument whose value failed.
    /// Ansible keeps the deprecations an action noted in its result when
    /// deprecation warnings are on for the task: `ansible_deprecation_warnings`,
    /// else `ANSIBLE_DEPRECATION_WARNINGS` from the environment (ansible.cfg's
    /// `deprecation_warnings` is not read here), else on. mailplay does not
    /// print them.
    fn add_deprecations(&self, o: &mut Outcome, noted: Vec<String>, scope: &crate::template::Scope) {
        if noted.is_empty() {
            return;
        }
        let on = match scope.get("ansible_deprecation_warnings") {
            Some(v) => self.run.templar.render_value(v, scope).ok().and_then(|v| mailplay_modules::args::parse_bool(&v)).unwrap_or(true),
            None => std::env::var("ANSIBLE_DEPRECATION_WARNINGS").map(|v| crate::config::parse_bool(&v)).unwrap_or(true),
        };
        if on {
            let list: Vec<Value> = noted.into_iter().map(|msg| json!({"msg": msg, "version": "2.23"})).collect();
            o.data.insert("deprecations".into(), Value::Array(list));
        }
    }

    fn args_error(&self, module: &str, raw_args: &Value, scope: &crate::template::Scope, e: crate::template::TemplateError) -> String {
        let fqcn = fqcn(module);
        let failing = raw_args
            .as_object()
            .and_then(|m| m.iter().find(|(_, v)| self.run.templar.render_value(v, scope).is_err()).map(|(k, _)| k.clone()));
        match failing {
            Some(arg) => {
                format!("Task failed: Finalization of task args for '{fqcn}' failed: Error while resolving value for '{arg}': {e}")
            }
            None => format!("Task failed: Finalization of task args for '{fqcn}' failed: {e}"),
        }
    }

    /// Hand one result (a loop item, or the task's own result) to the
    /// reporter. The reporters see the typed status and Ansible's
    /// dictionary built from the same outcome; masking and `no_log`
    /// censoring happen in their guard (`output::Guarded`).
    pub fn report(
        &self,
        host: &HostState,
        delegated_to: Option<&str>,
        o: &Outcome,
        item_label: Option<String>,
        kw: &HostKeywords,
        is_loop_summary: bool,
    ) {
        let r = self.host_result(host, delegated_to, o, item_label, kw, is_loop_summary);
        self.run.reporter.host_result(&r, self.verbosity);
    }

    /// An include task's own result (`include_args`), for the reporters
    /// that show it (the ad-hoc stream).
    pub fn report_include(&self, host: &HostState, o: &Outcome) {
        let r = self.host_result(host, None, o, None, &HostKeywords::default(), false);
        self.run.reporter.include_result(&r, self.verbosity);
    }

    fn host_result(
        &self,
        host: &HostState,
        delegated_to: Option<&str>,
        o: &Outcome,
        item_label: Option<String>,
        kw: &HostKeywords,
        is_loop_summary: bool,
    ) -> HostResult {
        let secrets = self.secrets.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let status = match o.status {
            Status::Ok => HostStatus::Ok,
            Status::Changed => HostStatus::Changed,
            Status::Skipped => HostStatus::Skipped,
            Status::Failed => HostStatus::Failed,
            Status::Unreachable => HostStatus::Unreachable,
        };
        let ignored = (kw.ignore_errors && o.status == Status::Failed) || (kw.ignore_unreachable && o.status == Status::Unreachable);
        HostResult {
            host: host.name.clone(),
            delegated_to: delegated_to.map(str::to_string),
            status,
            ignored,
            rescued: self.rescuable && o.status == Status::Failed && !ignored && item_label.is_none(),
            item_label,
            always_show: o.always_show,
            action: match &self.task.kind {
                TaskKind::Module { module, .. } => short_name(module).to_string(),
                _ => String::new(),
            },
            result: Value::Object(o.registered()),
            diffs: o.diffs.clone(),
            no_log: kw.no_log || o.censored,
            is_loop_summary,
            secrets,
            error: (o.status == Status::Failed && !is_loop_summary).then(|| self.error_summary(o)),
        }
    }

    /// ansible-core 2.19's summary of a failure: the module's (run on the
    /// target) or the action's (on the controller) message, and where the
    /// task is.
    fn error_summary(&self, o: &Outcome) -> String {
        let kind = if is_action_plugin(&self.task.kind) { "Action" } else { "Module" };
        let mut s = match o.data.get("msg") {
            // An error of the task itself (a timeout), not of its action.
            Some(Value::String(m)) if m.starts_with("Task failed") => m.clone(),
            Some(Value::String(m)) if !m.is_empty() => format!("Task failed: {kind} failed: {m}"),
            Some(m) if !m.is_null() => format!("Task failed: {kind} failed: {m}"),
            _ => format!("Task failed: {kind} failed."),
        };
        if let Some(origin) = crate::diag::ansible_origin(&self.task.pos) {
            s.push('\n');
            s.push_str(&origin);
        }
        s
    }
}

/// How a loop item is shown in `(item=...)`: strings bare, the rest as JSON.
/// Ansible's actions that run no module (their failures carry no module
/// exception for `failed_when` to set aside).
fn is_action_plugin(kind: &TaskKind) -> bool {
    const ACTIONS: &[&str] = &["assert", "fail", "debug", "set_fact", "include_vars", "group_by", "add_host", "pause", "set_stats"];
    matches!(kind, TaskKind::Module { module, .. } if ACTIONS.contains(&short_name(module)))
}

/// set_fact's keys may be templates (Ansible renders them natively); one
/// that renders to something other than a string is refused naming its
/// type, as Ansible's `validate_variable_name` does. Names that are
/// strings are checked by the module.
fn set_fact_key_types(templar: &crate::template::Templar, raw_args: &Value, scope: &crate::template::Scope) -> Result<(), String> {
    let Some(m) = raw_args.as_object() else { return Ok(()) };
    for k in m.keys().filter(|k| crate::template::Templar::is_template(k)) {
        let Ok(v) = templar.render_value(&Value::String(k.clone()), scope) else { continue };
        let described = match &v {
            Value::String(_) => continue,
            Value::Array(_) => "name of type 'list'".to_string(),
            Value::Object(_) => "name of type 'dict'".to_string(),
            Value::Number(n) => format!("name '{}' of type '{}'", crate::output::py_str(&v), if n.is_f64() { "float" } else { "int" }),
            Value::Bool(_) => format!("name '{}' of type 'bool'", crate::output::py_str(&v)),
            Value::Null => "name 'None' of type 'NoneType'".to_string(),
        };
        return Err(format!("Invalid variable {described}."));
    }
    Ok(())
}

/// A loop item's label as ansible-core 2.19 shows it: Python's `str()`.
pub fn display_item(v: &Value) -> String {
    crate::output::py_str(v)
}

/// A module's result as an outcome; `at` says where the task is (for an
/// argument error).
fn module_outcome(run: Result<mailplay_modules::module::ModuleResult, ModuleError>, at: &str) -> Outcome {
    match run {
        Ok(r) => Outcome::from_module(r),
        Err(ModuleError::Host(HostError::Unreachable(m))) => Outcome::unreachable(m),
        // Ansible's own validation failures say only what is wrong
        // (a registered `msg` the upstream targets compare), as the
        // module says it; a field mailplay cannot place is located.
        Err(ModuleError::Args(ArgsError::Invalid { msg, .. })) => Outcome::failed(msg),
        Err(ModuleError::Args(ArgsError::Missing { field, .. })) => Outcome::failed(format!("missing required arguments: {field}")),
        Err(ModuleError::Args(e)) => Outcome::failed(format!("{e}{at}")),
        Err(e) => Outcome::failed(e.to_string()),
    }
}

/// A background job has no task position to show in an argument error.
fn task_pos_text(jid: &str) -> String {
    format!(" (async job {jid})")
}

/// The name Ansible's messages give a module: its full name for a builtin.
fn fqcn(module: &str) -> String {
    if module == short_name(module) && crate::playbook::keywords::is_ansible_builtin(module) {
        format!("ansible.builtin.{module}")
    } else {
        module.to_string()
    }
}
