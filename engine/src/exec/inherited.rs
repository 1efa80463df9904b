//! Keywords that flow from a play and its blocks down to each task.
//!
//! Ansible lets `when`, `tags`, `vars`, `become*`, `environment`,
//! `check_mode`, `ignore_errors` ... be set on a play, a block, a role or an
//! include, and applies them to every task inside. `Inherited` accumulates
//! them while the executor walks down the task tree; a task's own setting
//! wins over an inherited one.

use std::sync::Arc;

use serde_json::Value;

use crate::playbook::ast::{BecomeOpts, Expr, Role, Task};

use super::host_state::Layer;

#[derive(Clone, Default)]
pub struct Inherited {
    pub when: Vec<Expr>,
    pub tags: Vec<String>,
    /// Block vars, outermost first.
    pub vars: Vec<Layer>,
    /// The `vars` of the dynamic includes (`include_tasks`, `include_role`)
    /// the task is in, outermost first: Ansible's include params, above
    /// set_fact, include_vars and role params.
    pub include_params: Vec<Layer>,
    pub become_opts: BecomeOpts,
    /// `environment:` values, outermost first (merged at run time).
    pub environment: Vec<Value>,
    pub role: Option<Arc<Role>>,
    /// The roles whose tasks included the current role (`include_role`
    /// inside a role), outermost first: Ansible's dep chain, whose defaults
    /// and vars the included role's tasks and handlers see below its own.
    pub dep_chain: Vec<Arc<Role>>,
    pub check_mode: Option<Value>,
    pub diff: Option<Value>,
    pub no_log: Option<Value>,
    pub ignore_errors: Option<Value>,
    pub ignore_unreachable: Option<Value>,
    pub run_once: Option<Value>,
    pub delegate_to: Option<Value>,
    pub any_errors_fatal: Option<Value>,
    pub throttle: Option<Value>,
    /// `module_defaults` of the play and enclosing blocks, outermost first.
    pub module_defaults: Vec<Value>,
    pub timeout: Option<Value>,
    /// Inside a block that has a `rescue:` section: a failure here is
    /// handled, so the host is not counted as failed if rescue succeeds.
    pub rescuable: bool,
    /// Inside the block or rescue of a block with `always:`: a failed host
    /// still has tasks to run, so the play has hosts left.
    pub always_pending: bool,
    pub is_handler: bool,
    /// `notify:` of the nearest block, import or `apply:` that sets it: a
    /// task without its own takes it (Ansible's parent attribute).
    pub notify: Vec<String>,
}

fn pick(own: &Option<Value>, inherited: &Option<Value>) -> Option<Value> {
    own.clone().or_else(|| inherited.clone())
}

impl Inherited {
    /// What the children of `task` (a block, or a role or import loaded as
    /// one) inherit. A dynamic include passes none of its keywords on
    /// (`include.rs`).
    pub fn enter(&self, task: &Task) -> Inherited {
        let mut next = self.clone();
        next.when.extend(task.when.iter().cloned());
        next.tags.extend(task.tags.iter().cloned());
        if !task.vars.is_empty() {
            next.vars.push(task.vars.clone());
        }
        next.become_opts = merge_become(&self.become_opts, &task.become_opts);
        if let Some(env) = &task.environment {
            next.environment.push(env.clone());
        }
        if task.role.is_some() {
            next.role = task.role.clone();
        }
        next.check_mode = pick(&task.check_mode, &self.check_mode);
        next.diff = pick(&task.diff, &self.diff);
        next.no_log = pick(&task.no_log, &self.no_log);
        next.ignore_errors = pick(&task.ignore_errors, &self.ignore_errors);
        next.ignore_unreachable = pick(&task.ignore_unreachable, &self.ignore_unreachable);
        next.run_once = pick(&task.run_once, &self.run_once);
        next.delegate_to = pick(&task.delegate_to, &self.delegate_to);
        next.any_errors_fatal = pick(&task.any_errors_fatal, &self.any_errors_fatal);
        next.throttle = pick(&task.throttle, &self.throttle);
        if let Some(d) = &task.module_defaults {
            next.module_defaults.push(d.clone());
        }
        next.timeout = pick(&task.timeout, &self.timeout);
        if !task.notify.is_empty() {
            next.notify = task.notify.clone();
        }
        next
    }

    /// The effective keywords of a leaf task.
    pub fn effective(&self, task: &Task) -> Effective {
        let mut when = self.when.clone();
        when.extend(task.when.iter().cloned());
        let mut tags = self.tags.clone();
        tags.extend(task.tags.iter().cloned());
        let mut environment = self.environment.clone();
        if let Some(env) = &task.environment {
            environment.push(env.clone());
        }
        Effective {
            when,
            tags,
            become_opts: merge_become(&self.become_opts, &task.become_opts),
            environment,
            role: task.role.clone().or_else(|| self.role.clone()),
            dep_chain: self.dep_chain.clone(),
            check_mode: pick(&task.check_mode, &self.check_mode),
            diff: pick(&task.diff, &self.diff),
            no_log: pick(&task.no_log, &self.no_log),
            ignore_errors: pick(&task.ignore_errors, &self.ignore_errors),
            ignore_unreachable: pick(&task.ignore_unreachable, &self.ignore_unreachable),
            run_once: pick(&task.run_once, &self.run_once),
            delegate_to: pick(&task.delegate_to, &self.delegate_to),
            any_errors_fatal: pick(&task.any_errors_fatal, &self.any_errors_fatal),
            throttle: pick(&task.throttle, &self.throttle),
            module_defaults: self.module_defaults.iter().chain(task.module_defaults.iter()).cloned().collect(),
            timeout: pick(&task.timeout, &self.timeout),
            notify: if task.notify.is_empty() { self.notify.clone() } else { task.notify.clone() },
        }
    }
}

/// The keywords in force for one task after inheritance.
#[derive(Clone)]
pub struct Effective {
    pub when: Vec<Expr>,
    pub tags: Vec<String>,
    pub become_opts: BecomeOpts,
    pub environment: Vec<Value>,
    pub role: Option<Arc<Role>>,
    /// See [`Inherited::dep_chain`].
    pub dep_chain: Vec<Arc<Role>>,
    pub check_mode: Option<Value>,
    pub diff: Option<Value>,
    pub no_log: Option<Value>,
    pub ignore_errors: Option<Value>,
    pub ignore_unreachable: Option<Value>,
    pub run_once: Option<Value>,
    pub delegate_to: Option<Value>,
    pub any_errors_fatal: Option<Value>,
    pub throttle: Option<Value>,
    /// Outermost first; the innermost setting of an argument wins.
    pub module_defaults: Vec<Value>,
    pub timeout: Option<Value>,
    /// The handlers a change notifies: the task's own, else inherited.
    pub notify: Vec<String>,
}

impl Effective {
    /// The default arguments `module_defaults` gives `module` (short name).
    pub fn defaults_for(&self, module: &str) -> serde_json::Map<String, Value> {
        let short = module.strip_prefix("ansible.builtin.").or_else(|| module.strip_prefix("ansible.legacy.")).unwrap_or(module);
        let mut out = serde_json::Map::new();
        for level in &self.module_defaults {
            if let Some(Value::Object(args)) = level.get(short) {
                out.extend(args.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        out
    }
}

pub fn merge_become(outer: &BecomeOpts, inner: &BecomeOpts) -> BecomeOpts {
    BecomeOpts {
        become_: inner.become_.clone().or_else(|| outer.become_.clone()),
        become_user: inner.become_user.clone().or_else(|| outer.become_user.clone()),
        become_method: inner.become_method.clone().or_else(|| outer.become_method.clone()),
        become_flags: inner.become_flags.clone().or_else(|| outer.become_flags.clone()),
        become_exe: inner.become_exe.clone().or_else(|| outer.become_exe.clone()),
        remote_user: inner.remote_user.clone().or_else(|| outer.remote_user.clone()),
    }
}
