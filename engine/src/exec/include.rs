//! `include_tasks` / `include_role`: decided per host at run time (its
//! `when`, the file or role its name renders to, and for a loop each
//! item), then each distinct inclusion runs for the hosts that chose it,
//! in the order Ansible's `IncludedFile.process_include_results` gives:
//! the first host's inclusions in item order, then the others' new ones.
//! A loop's variables (`item`, `loop_control`'s `loop_var`, `index_var`,
//! `extended`) are the included tasks' variables.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::output::HostStatus;
use crate::playbook::ast::{Task, TaskKind};

use super::host_task::{display_item, keyword_bool, where_, HostKeywords, HostTaskOutcome, TaskEnv};
use super::inherited::{Effective, Inherited};
use super::loops::{items_of, LoopVars};
use super::play::PlayRunner;
use super::result::Outcome;
use super::strategy::Strategy;

/// One inclusion: the file (or role) and the loop variables it runs with.
struct Inclusion {
    key: String,
    vars: Map<String, Value>,
    /// `include_role`'s arguments as this host rendered them (`tasks_from`, ...).
    args: Option<Value>,
    /// The loop item's label, shown as `=> (item=...)`.
    label: Option<String>,
    hosts: Vec<usize>,
}

/// What one host decided for an include.
enum Choice {
    /// `result`: the include task's own result (Ansible's `include_args`).
    Include {
        key: String,
        vars: Map<String, Value>,
        label: Option<String>,
        result: Map<String, Value>,
    },
    Skip {
        label: Option<String>,
        condition: Value,
    },
    Fail(String),
}

impl PlayRunner<'_> {
    pub(super) async fn run_include(&mut self, task: &Task, inh: &Inherited, subset: Option<&[usize]>) {
        let eff = inh.effective(task);
        if !self.tags_selected(&eff.tags) {
            return;
        }
        let mut targets = self.active(subset);
        if targets.is_empty() {
            return;
        }
        self.refresh_play_hosts();
        // `run_once` on an include: only the first host includes (so only
        // it runs what is included), as Ansible's linear strategy does.
        let play_scope = self.play_scope();
        let run_once = keyword_bool(&self.ctx.templar, "run_once", task.run_once.as_ref(), &play_scope, false);
        if run_once == Ok(true) && self.strategy != super::strategy::Strategy::Free {
            targets.truncate(1);
        }
        let magic = self.task_magic(&eff);
        let hv = self.hostvars_snapshot();
        let names: Vec<String> = targets.iter().map(|&i| self.hosts[i].name.clone()).collect();
        self.ctx.reporter.task_start(&self.task_title(task), inh.is_handler, &names);
        let env = TaskEnv::new(self.ctx, task, &eff, self.search_roots(&eff), inh.rescuable);
        let mut inclusions: Vec<Inclusion> = Vec::new();
        let mut failures = 0usize;
        for &i in &targets {
            let scope = self.scope_of(i, &eff, inh, task, &magic, &hv);
            // `ignore_errors` covers an include that fails to decide (its
            // `when` cannot be evaluated, its file name cannot be rendered).
            let ignore_errors =
                keyword_bool(&self.ctx.templar, "ignore_errors", eff.ignore_errors.as_ref(), &scope, false).unwrap_or(false);
            let choices = self.include_choices(task, &eff, scope);
            let looped = task.loop_.is_some();
            let all_skipped = !choices.is_empty() && choices.iter().all(|c| matches!(c, Choice::Skip { .. }));
            let mut failed = None;
            let mut results = Vec::new();
            // What `register` gets: the included and the skipped alike.
            let mut registered = Vec::new();
            let mut whole_skip = false;
            for c in choices {
                match c {
                    Choice::Include { key, vars, label, result } => {
                        let args = match task.kind {
                            TaskKind::IncludeRole { .. } => result.get("include_args").cloned(),
                            _ => None,
                        };
                        let mut item = Outcome::new(super::result::Status::Ok, result);
                        if looped {
                            item.data.extend(vars.clone());
                        }
                        registered.push(item.clone());
                        results.push(item);
                        match inclusions.iter_mut().find(|inc| inc.key == key && inc.vars == vars && inc.args == args) {
                            Some(inc) => inc.hosts.push(i),
                            None => inclusions.push(Inclusion { key, vars, args, label, hosts: vec![i] }),
                        }
                    }
                    Choice::Skip { label, condition } => {
                        // A loop skipped as a whole (before its items) registers as one task.
                        whole_skip |= label.is_none();
                        let mut o = Outcome::skipped("Conditional result was False");
                        o.data.insert("false_condition".into(), condition);
                        env.report(&self.hosts[i], None, &o, label, &HostKeywords::default(), false);
                        registered.push(o);
                    }
                    Choice::Fail(msg) => failed = Some(msg),
                }
            }
            if let (None, Some(reg), false) = (&failed, &task.register, registered.is_empty()) {
                let o = if looped && !whole_skip { super::result::aggregate_loop(registered) } else { registered.remove(0) };
                self.hosts[i].set_fact(reg.clone(), Value::Object(o.registered()));
            }
            // The include task's own result, for the callbacks that show it.
            if failed.is_none() && !results.is_empty() {
                let o = if looped { super::result::aggregate_loop(results) } else { results.remove(0) };
                env.report_include(&self.hosts[i], &o);
            }
            if let Some(msg) = failed {
                let out = HostTaskOutcome { ignored: ignore_errors, ..HostTaskOutcome::failed(msg) };
                env.report(&self.hosts[i], None, &out.outcome, None, &out.keywords(), false);
                failures += usize::from(self.apply_outcome(i, task, &out, inh, true));
            } else if all_skipped || (looped && self.loop_was_empty(&inclusions, i)) {
                if looped {
                    let o = Outcome::skipped("No items in the list");
                    if !all_skipped {
                        env.report(&self.hosts[i], None, &o, None, &HostKeywords::default(), true);
                    }
                }
                self.ctx.stats.lock().expect("stats").record(&self.hosts[i].name, HostStatus::Skipped, false, false);
            }
        }
        // A dynamic include's keywords (when, tags, become, ignore_errors,
        // run_once, no_log, ...) are its own: what it includes inherits from
        // the include's parents only (Ansible's Task._get_parent_attribute
        // skips a parent that is not statically loaded); `apply:` is the way
        // to give them keywords. Only its `vars` pass, as include params.
        let mut child = inh.clone();
        // A role included from a role's task has that role in its dep chain.
        if let (TaskKind::IncludeRole { .. }, Some(parent)) = (&task.kind, &eff.role) {
            child.dep_chain.push(parent.clone());
        }
        if !task.vars.is_empty() {
            child.include_params.push(task.vars.clone());
        }
        // Every inclusion's `included:` line first (as Ansible prints them
        // after the include task), then the included tasks, in order.
        let mut to_run = Vec::new();
        for inc in inclusions {
            let hosts: Vec<usize> = inc.hosts.iter().copied().filter(|&i| self.hosts[i].is_active()).collect();
            if hosts.is_empty() {
                continue;
            }
            let loaded = match &task.kind {
                TaskKind::IncludeTasks { apply, .. } => {
                    self.load_included_tasks(task, &eff, &inc.key, inh.is_handler).map(|(path, t)| match apply {
                        // `apply:`: the included tasks inside a block with its keywords.
                        Some(block) => {
                            let mut b = (**block).clone();
                            b.kind = TaskKind::Block { block: t, rescue: vec![], always: vec![] };
                            (path, vec![b], None)
                        }
                        None => (path, t, None),
                    })
                }
                TaskKind::IncludeRole { .. } => {
                    // The file names as this host's scope rendered them.
                    let file = |k: &str| inc.args.as_ref().and_then(|a| a.get(k)).and_then(Value::as_str).map(str::to_string);
                    let from = crate::playbook::RoleFrom {
                        tasks: file("tasks_from"),
                        vars: file("vars_from"),
                        defaults: file("defaults_from"),
                        handlers: file("handlers_from"),
                    };
                    let apply = match &task.kind {
                        TaskKind::IncludeRole { apply, .. } => apply.clone(),
                        _ => None,
                    };
                    // `public: true`: the role's defaults and vars are the
                    // play's from now on, as for a role of `roles:`.
                    let public =
                        inc.args.as_ref().and_then(|a| a.get("public")).and_then(crate::playbook::keywords::ansible_bool).unwrap_or(false);
                    // `allow_duplicates: false`: nothing when the play already included the role.
                    let no_dups =
                        inc.args.as_ref().and_then(|a| a.get("allow_duplicates")).and_then(crate::playbook::keywords::ansible_bool)
                            == Some(false);
                    self.load_included_role(task, &inc.key, &from)
                        .map_err(|e| (e, false))
                        .map(|(role, t, h)| {
                            let again = !self.included_roles.insert(role.path.clone());
                            if no_dups && again {
                                return (Vec::new(), None);
                            }
                            if public {
                                std::sync::Arc::make_mut(&mut self.play_role_defaults)
                                    .extend(role.defaults.iter().map(|(k, v)| (k.clone(), v.clone())));
                                std::sync::Arc::make_mut(&mut self.play_role_vars)
                                    .extend(role.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
                            }
                            (t, Some(h))
                        })
                        .map(|(t, h)| match apply {
                            Some(block) => {
                                let mut b = *block;
                                b.kind = TaskKind::Block { block: t, rescue: vec![], always: vec![] };
                                (inc.key.clone(), vec![b], h)
                            }
                            None => (inc.key.clone(), t, h),
                        })
                }
                _ => unreachable!("run_include is only called for includes"),
            };
            match loaded {
                Ok((shown, tasks, role_handlers)) => {
                    let host_names: Vec<String> = hosts.iter().map(|&i| self.hosts[i].name.clone()).collect();
                    self.ctx.reporter.included(&shown, &host_names, inc.label.as_deref());
                    for &i in &hosts {
                        self.ctx.stats.lock().expect("stats").record(&self.hosts[i].name, HostStatus::Ok, false, false);
                    }
                    if let Some(hs) = role_handlers {
                        let mut hinh = self.root.clone();
                        hinh.is_handler = true;
                        hinh.dep_chain = child.dep_chain.clone();
                        for h in hs {
                            // A role included again (another batch, another
                            // host group) must not register its handlers twice.
                            let known = self.handlers.iter().any(|(t, _)| t.display_name() == h.display_name() && same_role(t, &h));
                            if !known {
                                self.handlers.push((h, hinh.clone()));
                            }
                        }
                        self.render_handler_names();
                    }
                    let mut inc_inh = child.clone();
                    if !inc.vars.is_empty() {
                        inc_inh.vars.push(Arc::new(inc.vars.clone()));
                    }
                    to_run.push((tasks, hosts, inc_inh));
                }
                Err((msg, true)) => {
                    self.abort = Some(msg);
                    self.end_play = true;
                    return;
                }
                Err((msg, false)) => {
                    for i in hosts {
                        let out = HostTaskOutcome::failed(msg.clone());
                        env.report(&self.hosts[i], None, &out.outcome, inc.label.clone(), &out.keywords(), false);
                        failures += usize::from(self.apply_outcome(i, task, &out, inh, true));
                    }
                }
            }
        }
        if failures > 0 {
            // A failed include stops the play under any_errors_fatal too
            // (not with the free strategy, as for any task).
            let fatal = keyword_bool(&self.ctx.templar, "any_errors_fatal", eff.any_errors_fatal.as_ref(), &self.play_scope(), false)
                .unwrap_or(false)
                && self.strategy == Strategy::Linear;
            self.check_fatal(fatal, failures, &targets, inh.rescuable || inh.always_pending);
        }
        for (tasks, hosts, inc_inh) in to_run {
            let hosts: Vec<usize> = hosts.into_iter().filter(|&i| self.hosts[i].is_active()).collect();
            self.run_tasks(&tasks, &inc_inh, Some(&hosts)).await;
        }
    }

    /// A looped include whose loop had no items includes nothing.
    fn loop_was_empty(&self, inclusions: &[Inclusion], i: usize) -> bool {
        !inclusions.iter().any(|inc| inc.hosts.contains(&i))
    }

    /// What one host includes: once, or once per loop item whose `when` holds.
    fn include_choices(&self, task: &Task, eff: &Effective, scope: crate::template::Scope) -> Vec<Choice> {
        let Some(spec) = &task.loop_ else {
            return vec![self.include_choice(task, eff, &scope, Map::new(), None)];
        };
        let t = &self.ctx.templar;
        let rendered = match t.render_value(&spec.items, &scope) {
            Ok(v) => v,
            // As for a task: an undefined loop is an error only if the
            // `when` (without an item) does not skip the include.
            Err(e) if e.undefined => {
                let skip = eff.when.iter().find(|c| t.eval_condition(&c.text, &scope) == Ok(false));
                return match skip {
                    Some(c) => vec![Choice::Skip { label: None, condition: c.as_written() }],
                    None => vec![Choice::Fail(format!("{e}{}", where_(&spec.pos)))],
                };
            }
            Err(e) => return vec![Choice::Fail(format!("{e}{}", where_(&spec.pos)))],
        };
        let items = match items_of(t, &spec.kind, rendered, &scope) {
            Ok(items) => items,
            Err(e) => return vec![Choice::Fail(format!("{e}{}", where_(&spec.pos)))],
        };
        let lc = &task.loop_control;
        let extended = keyword_bool(t, "loop_control.extended", lc.extended.as_ref(), &scope, false);
        let allitems = keyword_bool(t, "loop_control.extended_allitems", lc.extended_allitems.as_ref(), &scope, true);
        let (extended, allitems) = match (extended, allitems) {
            (Ok(e), Ok(a)) => (e, a),
            (Err(e), _) | (_, Err(e)) => return vec![Choice::Fail(format!("{e}{}", where_(&task.pos)))],
        };
        let (loop_var, index_var) = match LoopVars::names(t, lc, &scope) {
            Ok(names) => names,
            Err(e) => return vec![Choice::Fail(format!("{e}{}", where_(&task.pos)))],
        };
        let loop_vars = LoopVars { loop_var, index_var, extended, allitems };
        let mut out = Vec::with_capacity(items.len());
        for (idx, item) in items.iter().enumerate() {
            let vars = loop_vars.for_item(&items, idx);
            let mut s = scope.clone();
            for (k, v) in &vars {
                s.set(k, v.clone());
            }
            let label = match &lc.label {
                Some(l) => t.render_value(l, &s).map(|v| display_item(&v)).unwrap_or_else(|_| display_item(item)),
                None => display_item(item),
            };
            out.push(self.include_choice(task, eff, &s, vars, Some(label)));
        }
        out
    }

    /// The host's `when` (per item in a loop), then the name the include renders to.
    fn include_choice(
        &self,
        task: &Task,
        eff: &Effective,
        scope: &crate::template::Scope,
        vars: Map<String, Value>,
        label: Option<String>,
    ) -> Choice {
        for c in &eff.when {
            match self.ctx.templar.eval_condition(&c.text, scope) {
                Ok(true) => {}
                Ok(false) => return Choice::Skip { label, condition: c.as_written() },
                Err(e) => return Choice::Fail(format!("The conditional check '{}' failed. The error was: {e}{}", c.text, where_(&c.pos))),
            }
        }
        let name = match &task.kind {
            TaskKind::IncludeTasks { file, .. } => file,
            TaskKind::IncludeRole { name, .. } => name,
            _ => unreachable!("include_choice is only called for includes"),
        };
        let key = match self.ctx.templar.render_value(name, scope) {
            Ok(v) => v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()),
            Err(e) => return Choice::Fail(format!("{e}{}", where_(&task.pos))),
        };
        let result = self.include_result(task, &key, scope);
        Choice::Include { key, vars, label, result }
    }

    /// The include task's own result as Ansible's task executor gives it:
    /// `include` (the file) and the other arguments as `include_args` for
    /// `include_tasks`; every argument as `include_args` for `include_role`,
    /// templated.
    fn include_result(&self, task: &Task, key: &str, scope: &crate::template::Scope) -> Map<String, Value> {
        let mut out = Map::new();
        match &task.kind {
            TaskKind::IncludeRole { tasks_from, vars_from, defaults_from, handlers_from, public, allow_duplicates, .. } => {
                let mut args = Map::new();
                args.insert("name".into(), Value::from(key));
                let given = [
                    ("tasks_from", tasks_from),
                    ("vars_from", vars_from),
                    ("defaults_from", defaults_from),
                    ("handlers_from", handlers_from),
                    ("public", public),
                    ("allow_duplicates", allow_duplicates),
                ];
                for (k, v) in given {
                    if let Some(v) = v {
                        let rendered = self.ctx.templar.render_value(v, scope).unwrap_or_else(|_| v.clone());
                        // `tasks_from: "{{ omit }}"` is as if not given.
                        if rendered.as_str() != Some(crate::template::OMIT_TOKEN) {
                            args.insert(k.into(), rendered);
                        }
                    }
                }
                out.insert("include_args".into(), Value::Object(args));
            }
            _ => {
                out.insert("include".into(), Value::from(key));
                out.insert("include_args".into(), Value::Object(Map::new()));
            }
        }
        out
    }

    /// The task file an include names, found and loaded: (absolute path, tasks).
    /// Included as a handler, a block inside one of the file's blocks is
    /// refused when the file is loaded, as Ansible's
    /// `load_list_of_tasks(use_handlers=True)` does (a block at the top of
    /// the file is only the group every task list is wrapped in).
    /// `Err((message, fatal))`: a file that is not there fails the hosts
    /// that include it; one that cannot be loaded (YAML, an unknown module)
    /// ends the run, as Ansible's parser error does.
    fn load_included_tasks(
        &self,
        task: &Task,
        eff: &Effective,
        file: &str,
        is_handler: bool,
    ) -> Result<(String, Vec<Task>), (String, bool)> {
        let p = std::path::Path::new(file);
        let mut candidates = Vec::new();
        if p.is_absolute() {
            candidates.push(p.to_path_buf());
        } else {
            if let Some(role) = &eff.role {
                candidates.push(role.path.join("tasks").join(file));
                candidates.push(role.path.join(file));
            }
            if let Some(dir) = task.pos.file.as_ref().and_then(|f| f.parent().map(|d| d.to_path_buf())) {
                candidates.push(dir.join(file));
            }
            candidates.push(self.play.base_dir.join(file));
        }
        let path = candidates.iter().find(|c| c.exists()).ok_or_else(|| {
            let last = candidates.last().cloned().unwrap_or_else(|| p.to_path_buf());
            (format!("{}{}", crate::playbook::file_not_found(&last), where_(&task.pos)), false)
        })?;
        let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
        let shown = canonical.display().to_string();
        // A file it imports that is not there fails the hosts (Ansible's
        // AnsibleFileNotFound); any other problem ends the run.
        let tasks = crate::playbook::load_task_file(&canonical, eff.role.clone()).map_err(|ds| {
            match ds.iter().all(|d| crate::playbook::is_file_not_found(&d.message)) {
                true => (ds.iter().map(|d| d.message.clone()).collect::<Vec<_>>().join("\n"), false),
                false => (ds.iter().map(|d| d.render()).collect::<Vec<_>>().join("\n"), true),
            }
        })?;
        if is_handler {
            if let Some(nested) = crate::playbook::nested_handler_block(&tasks) {
                let d = crate::diag::Diagnostic::new(nested.pos.clone(), "Using a block as a handler is not supported.");
                return Err((d.render(), false));
            }
        }
        Ok((shown, tasks))
    }

    fn load_included_role(&self, task: &Task, name: &str, from: &crate::playbook::RoleFrom) -> Result<crate::playbook::LoadedRole, String> {
        let dirs = vec![self.play.base_dir.join("roles"), self.play.base_dir.clone()];
        let (role, tasks, handlers) = crate::playbook::load_role(name, &dirs, (*task.vars).clone(), from)
            .map_err(|ds| ds.iter().map(|d| d.render()).collect::<Vec<_>>().join("\n"))?;
        Ok((role, tasks, handlers))
    }
}

fn same_role(a: &Task, b: &Task) -> bool {
    match (&a.role, &b.role) {
        (Some(x), Some(y)) => x.path == y.path,
        (None, None) => true,
        _ => false,
    }
}
