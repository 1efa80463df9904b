//! Walking a play's task tree: each task runs on every live host in
//! parallel (bounded by `--forks`) before the next one (the linear
//! strategy; with the free one the walk is pinned to one host, `strategy.rs`).
//! Blocks route failed hosts to `rescue:` and everyone to `always:`;
//! includes are resolved per host; handlers run at flush points.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use futures::future::join_all;
use serde_json::{Map, Value};

use crate::output::HostStatus;
use crate::playbook::ast::{Task, TaskKind};
use crate::template::{HostvarsSource, Origin, Scope};

use super::host_state::{HostState, Layer};
use super::host_task::{keyword_bool, where_, HostTaskOutcome, TaskEnv};
use super::inherited::{Effective, Inherited};
use super::play::PlayRunner;
use super::result::{Outcome, Status};
use super::scope::{build_scope, ScopeParts};
use super::strategy::Strategy;

type Boxed<'b> = Pin<Box<dyn Future<Output = ()> + 'b>>;

/// Other hosts' variables as of the start of a task (`hostvars[...]`).
struct HostvarsSnapshot {
    scopes: HashMap<String, Scope>,
    inventory: Arc<crate::inventory::Inventory>,
    playbook_dir: PathBuf,
}

impl HostvarsSource for HostvarsSnapshot {
    fn host_names(&self) -> Vec<String> {
        self.inventory.host_names()
    }
    fn scope_for(&self, host: &str) -> Option<Scope> {
        if let Some(s) = self.scopes.get(host) {
            return Some(s.clone());
        }
        // `hostvars['localhost']` is the inventory's localhost or the
        // implicit one, as in Ansible (which creates it on this access too).
        let resolved = self.inventory.resolve_host(host)?;
        let host = resolved.as_str();
        if let Some(s) = self.scopes.get(host) {
            return Some(s.clone());
        }
        // A host outside the play: as in Ansible, its inventory and
        // playbook group_vars/host_vars and the names the inventory gives it.
        let mut vars = crate::inventory::vars_with_playbook_dirs(&self.inventory, &self.playbook_dir, host)
            .unwrap_or_else(|_| self.inventory.host_vars(host));
        vars.insert("inventory_hostname".into(), Value::from(host));
        vars.insert("inventory_hostname_short".into(), Value::from(host.split('.').next().unwrap_or(host)));
        vars.insert("group_names".into(), Value::from(self.inventory.group_names_of(host)));
        vars.insert("groups".into(), Value::Object(self.inventory.groups_map()));
        let mut s = Scope::new();
        s.push(Arc::new(vars));
        Some(s)
    }
}

impl PlayRunner<'_> {
    pub fn run_tasks<'b>(&'b mut self, tasks: &'b [Task], inh: &'b Inherited, subset: Option<&'b [usize]>) -> Boxed<'b> {
        Box::pin(async move {
            for t in tasks {
                if self.end_play || self.ctx.is_interrupted() {
                    return;
                }
                self.run_node(t, inh, subset).await;
            }
        })
    }

    fn run_node<'b>(&'b mut self, task: &'b Task, inh: &'b Inherited, subset: Option<&'b [usize]>) -> Boxed<'b> {
        Box::pin(async move {
            match &task.kind {
                TaskKind::Block { block, rescue, always } => self.run_block(task, block, rescue, always, inh, subset).await,
                TaskKind::Module { .. } => self.run_leaf(task, inh, subset).await,
                TaskKind::Meta(action) => self.run_meta(task, action, inh, subset).await,
                TaskKind::IncludeTasks { .. } | TaskKind::IncludeRole { .. } => self.run_include(task, inh, subset).await,
            }
        })
    }

    async fn run_block(
        &mut self,
        task: &Task,
        block: &[Task],
        rescue: &[Task],
        always: &[Task],
        inh: &Inherited,
        subset: Option<&[usize]>,
    ) {
        let child = inh.enter(task);
        let entered = self.active(subset);
        if entered.is_empty() {
            return;
        }
        let mut in_block = child.clone();
        in_block.rescuable = !rescue.is_empty() || inh.rescuable;
        in_block.always_pending = !always.is_empty() || inh.always_pending;
        self.run_tasks(block, &in_block, Some(&entered)).await;

        let failed: Vec<usize> = entered.iter().copied().filter(|&i| self.hosts[i].failed && !self.hosts[i].unreachable).collect();
        if !rescue.is_empty() && !failed.is_empty() {
            for &i in &failed {
                let h = &mut self.hosts[i];
                h.failed = false;
                // A host another's any_errors_fatal failed is not counted
                // as rescued (no task of its own failed), as in Ansible.
                if !h.marked_failed {
                    self.ctx.stats.lock().expect("stats").rescued(&h.name);
                    self.removed.remove(&h.name);
                }
            }
            let mut in_rescue = child.clone();
            in_rescue.always_pending = !always.is_empty() || inh.always_pending;
            self.run_tasks(rescue, &in_rescue, Some(&failed)).await;
        }
        if !always.is_empty() {
            // `always` runs for hosts that failed in the block or rescue too;
            // they stay failed afterwards.
            let still_failed: Vec<usize> = entered.iter().copied().filter(|&i| self.hosts[i].failed).collect();
            for &i in &still_failed {
                self.hosts[i].failed = false;
            }
            let runnable: Vec<usize> = entered.iter().copied().filter(|&i| !self.hosts[i].unreachable && !self.hosts[i].ended).collect();
            let cleared = self.errors_cleared;
            self.run_tasks(always, &child, Some(&runnable)).await;
            if self.errors_cleared == cleared {
                for &i in &still_failed {
                    self.hosts[i].failed = true;
                }
            }
        }
    }

    /// `--start-at-task`: skip until a task with that name (or glob) comes.
    fn start_reached(&self, task: &Task) -> bool {
        let mut waiting = self.ctx.waiting_for_start.lock().expect("start lock");
        let Some(wanted) = waiting.as_ref() else { return true };
        let name = task.name.clone().unwrap_or_default();
        let full = task.display_name();
        let matches = |n: &str| n == wanted || globset::Glob::new(wanted).map(|g| g.compile_matcher().is_match(n)).unwrap_or(false);
        if matches(&name) || matches(&full) {
            *waiting = None;
            true
        } else {
            false
        }
    }

    pub(super) fn task_title(&self, task: &Task) -> String {
        let name = task.display_name();
        if crate::template::Templar::is_template(&name) {
            self.ctx.templar.render_string(&name, &self.play_scope()).unwrap_or(name)
        } else {
            name
        }
    }

    pub(super) fn task_magic(&self, eff: &Effective) -> Layer {
        let mut m = Map::new();
        if let Some(role) = &eff.role {
            m.insert("role_name".into(), Value::from(role.name.clone()));
            m.insert("ansible_role_name".into(), Value::from(role.name.clone()));
            m.insert("role_path".into(), Value::from(role.path.display().to_string()));
        }
        Arc::new(m)
    }

    pub(super) fn search_roots(&self, eff: &Effective) -> Arc<Vec<PathBuf>> {
        match &eff.role {
            Some(role) => {
                let mut v = vec![role.path.clone()];
                v.extend(self.search_paths.iter().cloned());
                Arc::new(v)
            }
            None => self.search_paths.clone(),
        }
    }

    /// Where lookups (`file`, `template`, `first_found`) and includes look,
    /// as Ansible's task search path: the role's folder, the folder of the
    /// task's file, then the playbook's (each `<dir>/<kind>/` before `<dir>/`).
    fn lookup_paths(&self, eff: &Effective, task: &Task) -> Arc<Vec<PathBuf>> {
        let mut v: Vec<PathBuf> = eff.role.iter().map(|r| r.path.clone()).collect();
        if let Some(dir) = task.pos.file.as_deref().and_then(|f| f.parent()).filter(|d| !d.as_os_str().is_empty()) {
            let dir = dir.to_path_buf();
            if !v.contains(&dir) && !self.search_paths.contains(&dir) {
                v.push(dir);
            }
        }
        if v.is_empty() {
            return self.search_paths.clone();
        }
        v.extend(self.search_paths.iter().filter(|p| !v.contains(p)).cloned().collect::<Vec<_>>());
        Arc::new(v)
    }

    /// `--tags`/`--skip-tags` on a task's tags, templated ones rendered
    /// with the play's variables as Ansible's play iterator does.
    pub(super) fn tags_selected(&self, tags: &[String]) -> bool {
        let layers = [&self.play_role_defaults, &self.play_vars, &self.play_role_vars, &self.ctx.extra_vars];
        let scope = super::tags::play_scope(&layers, self.search_paths.clone());
        self.ctx.opts.tags.selects(&super::tags::resolve(tags, &self.ctx.templar, &scope))
    }

    pub(super) fn scope_of(
        &self,
        i: usize,
        eff: &Effective,
        inh: &Inherited,
        task: &Task,
        task_magic: &Layer,
        hostvars: &Arc<dyn HostvarsSource>,
    ) -> Scope {
        let search_paths = self.lookup_paths(eff, task);
        let parts = ScopeParts {
            play_vars: &self.play_vars,
            play_role_defaults: &self.play_role_defaults,
            play_role_vars: &self.play_role_vars,
            extra_vars: &self.ctx.extra_vars,
            search_paths: &search_paths,
        };
        let mut s = build_scope(&parts, &self.hosts[i], eff, (&inh.vars, &inh.include_params), task, task_magic.clone())
            .with_hostvars(hostvars.clone());
        s.push_data(super::scope::search_path_layer(&search_paths));
        s
    }

    pub(super) fn hostvars_snapshot(&self) -> Arc<dyn HostvarsSource> {
        let mut scopes = HashMap::new();
        // The batch's hosts as they are now, and every other host the run
        // has met (another batch of a serial play, an earlier play) as it
        // was left: its facts and set_facts are hostvars too, as in Ansible.
        let others: Vec<HostState> = {
            let states = self.ctx.host_states.lock().expect("host states");
            states.values().filter(|s| !self.hosts.iter().any(|h| h.name == s.name)).cloned().collect()
        };
        for h in self.hosts.iter().chain(others.iter()) {
            let mut s = Scope::new();
            for (layer, origin) in [
                (&self.play_role_defaults, Origin::Source),
                (&h.inventory_vars, Origin::Source),
                (&h.facts, Origin::Data),
                (&self.play_vars, Origin::Source),
                (&h.play_vars_files, Origin::Source),
                (&self.play_role_vars, Origin::Source),
                (&h.included_vars, Origin::Source),
                (&h.set_facts, Origin::Data),
                (&h.play_magic, Origin::Source),
                (&h.magic, Origin::Source),
                (&self.ctx.extra_vars, Origin::Source),
            ] {
                s.push_layer(layer.clone(), origin);
            }
            scopes.insert(h.name.clone(), s);
        }
        Arc::new(HostvarsSnapshot { scopes, inventory: self.ctx.inventory(), playbook_dir: self.ctx.playbook_dir.clone() })
    }

    pub async fn run_leaf(&mut self, task: &Task, inh: &Inherited, subset: Option<&[usize]>) {
        if self.end_play || self.ctx.is_interrupted() {
            return;
        }
        let eff = inh.effective(task);
        if !inh.is_handler && !self.tags_selected(&eff.tags) {
            return;
        }
        if !inh.is_handler && !self.start_reached(task) {
            return;
        }
        let targets = self.active(subset);
        if targets.is_empty() {
            return;
        }
        self.refresh_play_hosts();
        let names: Vec<String> = targets.iter().map(|&i| self.hosts[i].name.clone()).collect();
        self.ctx.reporter.task_start(&self.task_title(task), inh.is_handler, &names);

        let play_scope = self.play_scope();
        let mut run_once = keyword_bool(&self.ctx.templar, "run_once", eff.run_once.as_ref(), &play_scope, false);
        if self.strategy == Strategy::Free && run_once == Ok(true) {
            self.warn_once(
                "Using run_once with the free strategy is not currently supported. This task will still be executed for every host in the inventory list.",
            );
            run_once = Ok(false);
        }
        // add_host runs once for the task, not per host (and its result is
        // the first host's only).
        let inventory_action = super::inventory_actions::action_of(task);
        let runners: Vec<usize> = match run_once {
            Ok(true) => vec![targets[0]],
            _ if inventory_action == Some("add_host") => vec![targets[0]],
            _ => targets.clone(),
        };
        let task_magic = self.task_magic(&eff);
        let hostvars = self.hostvars_snapshot();
        let env = TaskEnv::new(self.ctx, task, &eff, self.search_roots(&eff), inh.rescuable);
        let throttle = match &eff.throttle {
            None => None,
            Some(v) => {
                match self.ctx.templar.render_value(v, &play_scope).ok().and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok())) {
                    Some(n) => Some(n as usize),
                    None => {
                        let msg = format!("throttle must be a whole number, got {v}{}", where_(&task.pos));
                        self.ctx.reporter.error(&msg);
                        self.end_play = true;
                        return;
                    }
                }
            }
        };
        // `throttle: 0` means no limit, as in Ansible.
        let parallel = match throttle {
            Some(n) if n > 0 => n.min(self.ctx.opts.forks),
            _ => self.ctx.opts.forks,
        };
        let forks = tokio::sync::Semaphore::new(parallel.max(1));
        let handler_names = self.handler_names();

        let jobs = runners.iter().map(|&i| {
            let scope = self.scope_of(i, &eff, inh, task, &task_magic, &hostvars);
            let host = &self.hosts[i];
            let env = &env;
            let forks = &forks;
            let run_once = &run_once;
            let handler_names = &handler_names;
            let notify = env.rendered_notify(&scope);
            let error_on_missing = self.ctx.opts.error_on_missing_handler;
            async move {
                let _permit = forks.acquire().await.expect("semaphore open");
                let mut out = match run_once {
                    Err(e) => HostTaskOutcome::failed(format!("{e}{}", where_(&task.pos))),
                    Ok(_) => match super::isolate::isolate(env.run_on_host(host, scope)).await {
                        Ok(out) => out,
                        Err(panic) => HostTaskOutcome::failed(super::isolate::panic_failure(&task.display_name(), &panic)),
                    },
                };
                out.notify = notify;
                let notify = &out.notify;
                let o = &mut out.outcome;
                // A missing handler is a warning, or (Ansible's default) an
                // error that ends the run once the task's results are in.
                if o.changed && o.status != Status::Failed && !error_on_missing {
                    for n in notify.iter().filter(|n| !handler_names.contains_key(n.as_str())) {
                        env.run.reporter.warning(&missing_handler(n));
                    }
                }
                // Every result reaches the reporters, a loop's own included
                // (the text stream shows what Ansible shows of it; JSON
                // carries it with its items). A loop that failed before its
                // items (bad loop data) is a plain failure.
                let is_loop_summary = out.outcome.items.is_some();
                env.report(host, out.delegated_to.as_deref(), &out.outcome, None, &out.keywords(), is_loop_summary);
                (i, out)
            }
        });
        let results = join_all(jobs).await;

        if self.ctx.opts.error_on_missing_handler {
            let known = self.handler_names();
            let missing = results.iter().find_map(|(_, out)| {
                let o = &out.outcome;
                (o.changed && o.status != Status::Failed).then(|| out.notify.iter().find(|n| !known.contains_key(n.as_str()))).flatten()
            });
            if let Some(n) = missing {
                self.abort = Some(missing_handler(n));
                self.end_play = true;
                return;
            }
        }
        let mut failed_now = 0usize;
        let mut fatal = false;
        // A run_once result is every play host's, even those an include
        // left out (Ansible's strategy applies it to all of them).
        let play_hosts = self.active(None);
        for (i, out) in &results {
            let applies_to: Vec<usize> = if run_once == Ok(true) { play_hosts.clone() } else { vec![*i] };
            for j in applies_to {
                if self.apply_outcome(j, task, out, inh, j == *i) {
                    failed_now += 1;
                    if out.any_errors_fatal && self.strategy == Strategy::Free {
                        self.warn_once(
                            "Using any_errors_fatal with the free strategy is not supported, as tasks are executed independently on each host",
                        );
                    } else {
                        fatal |= out.any_errors_fatal;
                    }
                }
            }
        }
        if inventory_action.is_some() {
            self.refresh_groups();
        }
        self.check_fatal(fatal, failed_now, &targets, inh.rescuable || inh.always_pending);
    }

    /// After `add_host`/`group_by`: the play's hosts see the new `groups`
    /// and their `group_names` from the next task on.
    pub(super) fn refresh_groups(&mut self) {
        let inv = self.ctx.inventory();
        let groups = Value::Object(inv.groups_map());
        let mut shared: Option<Layer> = None;
        for h in &mut self.hosts {
            // Every host of the batch holds the same play-level map: make
            // the new one once and share it.
            let play_magic = shared.get_or_insert_with(|| {
                let mut m = (*h.play_magic).clone();
                m.insert("groups".into(), groups.clone());
                Arc::new(m)
            });
            h.play_magic = play_magic.clone();
            Arc::make_mut(&mut h.magic).insert("group_names".into(), Value::from(inv.group_names_of(&h.name)));
        }
    }

    /// Record a host's outcome: stats, host status, register, facts,
    /// notifications. Returns true when the host failed on this task.
    /// `counted`: the host whose result was reported (with `run_once` the
    /// others share the outcome but, as in Ansible, not the count).
    pub(super) fn apply_outcome(&mut self, i: usize, task: &Task, out: &HostTaskOutcome, inh: &Inherited, counted: bool) -> bool {
        let o: &Outcome = &out.outcome;
        let changed = o.changed;
        let h = &mut self.hosts[i];
        let mut failed = false;
        let counted_as = match o.status {
            Status::Unreachable if !out.ignore_unreachable => {
                h.unreachable = true;
                self.removed.insert(h.name.clone());
                failed = true;
                Some((HostStatus::Unreachable, false))
            }
            Status::Unreachable => Some((HostStatus::Skipped, false)),
            Status::Failed if out.ignored => Some((HostStatus::Failed, true)),
            Status::Failed => {
                h.failed = true;
                // A rescue that runs next brings the host back.
                if !inh.rescuable {
                    self.removed.insert(h.name.clone());
                }
                failed = true;
                Arc::make_mut(&mut h.set_facts).insert(
                    "ansible_failed_task".into(),
                    serde_json::json!({"name": task.name.clone().unwrap_or_default(), "action": action_name(task)}),
                );
                Arc::make_mut(&mut h.set_facts).insert("ansible_failed_result".into(), Value::Object(o.registered()));
                // In a block with rescue: counted as rescued when the rescue starts.
                (!inh.rescuable).then_some((HostStatus::Failed, false))
            }
            Status::Skipped => Some((HostStatus::Skipped, false)),
            Status::Ok => Some((HostStatus::Ok, false)),
            Status::Changed => Some((HostStatus::Changed, false)),
        };
        if let (Some((status, ignored)), true) = (counted_as, counted) {
            self.ctx.stats.lock().expect("stats").record(&h.name, status, ignored, changed);
        }
        if let Some(reg) = &task.register {
            h.set_fact(reg.clone(), Value::Object(o.registered()));
        }
        if !o.facts.is_empty() && o.status != Status::Failed {
            let action = action_name(task);
            let gathered = matches!(action.as_str(), "setup" | "gather_facts" | "ansible.builtin.setup" | "ansible.builtin.gather_facts");
            if let (true, Some(cache)) = (gathered || o.facts_cacheable, &self.ctx.opts.fact_cache) {
                if let Err(e) = cache.update(&h.name, &o.facts) {
                    self.ctx.reporter.warning(&e);
                }
            }
            match action.as_str() {
                "setup" | "gather_facts" => h.add_facts(&o.facts),
                // A vars file's text is template source, like vars_files.
                "include_vars" | "ansible.builtin.include_vars" => {
                    for (k, v) in &o.facts {
                        h.include_var(k.clone(), v.clone());
                    }
                }
                _ => {
                    // A library module's facts are host facts too (under
                    // `ansible_facts`), as a module's are in Ansible.
                    if crate::playbook::library::resolve(&action).is_some() {
                        h.add_facts(&o.facts);
                    }
                    for (k, v) in &o.facts {
                        h.set_fact(k.clone(), v.clone());
                    }
                }
            }
        }
        if changed && o.status != Status::Failed {
            // Unknown handlers already failed the task (before it was reported).
            for n in &out.notify {
                h.notified.insert(n.clone());
            }
        }
        failed
    }

    /// Every name a handler answers to: its name, `role : name`, and `listen` topics.
    fn handler_names(&self) -> BTreeMap<String, ()> {
        let mut m = BTreeMap::new();
        for (t, _) in &self.handlers {
            for n in handler_answers_to(t).0 {
                m.insert(n, ());
            }
            for l in handler_answers_to(t).1 {
                m.insert(l, ());
            }
        }
        m
    }

    /// `fatal`: a host failed on this task with `any_errors_fatal` on.
    /// `rescuable`: the failures are in a block with `rescue` or `always`, which runs next.
    pub(super) fn check_fatal(&mut self, fatal: bool, failed_now: usize, targets: &[usize], rescuable: bool) {
        if failed_now == 0 {
            return;
        }
        if fatal {
            // As Ansible's linear strategy: every other host of the batch
            // fails too (not counted in the recap); each goes on to its
            // block's `rescue`/`always` like a host that failed itself.
            for h in self.hosts.iter_mut().filter(|h| h.is_active()) {
                h.failed = true;
                h.marked_failed = true;
                self.removed.insert(h.name.clone());
            }
        }
        if let Some(pct) = self.play.max_fail_percentage.filter(|_| self.strategy == Strategy::Linear) {
            let total = self.hosts.len().max(1);
            let failed = self.hosts.iter().filter(|h| h.failed || h.unreachable).count();
            if (failed as f64) * 100.0 / (total as f64) > pct {
                self.ctx.reporter.no_more_hosts();
                self.end_play = true;
            }
        }
        // Every host of the batch, whichever one a free walk is pinned to.
        let any_left = self.hosts.iter().any(|h| h.is_active());
        if !any_left && !targets.is_empty() && !rescuable {
            self.ctx.reporter.no_more_hosts();
        }
    }

    /// Run the handlers notified so far, in the order they are defined.
    /// A handler's own notifications are picked up in the same flush (one
    /// that notifies an earlier handler runs it next pass); a handler runs
    /// at most once per host and flush, so handlers notifying each other
    /// end.
    pub async fn flush_handlers(&mut self) {
        let force = self.force_handlers;
        let handlers = self.handlers.clone();
        let mut ran: std::collections::BTreeSet<(usize, usize)> = Default::default();
        loop {
            let eligible = |h: &HostState, i: usize, pinned: Option<usize>| {
                pinned.is_none_or(|p| p == i) && (h.is_active() || (force && h.failed && !h.unreachable))
            };
            // Each host's notifications, resolved to handlers and consumed.
            let mut pending: Vec<std::collections::BTreeSet<usize>> = vec![Default::default(); self.hosts.len()];
            for (i, want) in pending.iter_mut().enumerate() {
                if !eligible(&self.hosts[i], i, self.pinned) {
                    continue;
                }
                let names = std::mem::take(&mut self.hosts[i].notified);
                for n in &names {
                    want.extend(self.handlers_for(n).into_iter().filter(|&idx| !ran.contains(&(i, idx))));
                }
            }
            if pending.iter().all(|p| p.is_empty()) {
                return;
            }
            for (idx, (handler, inh)) in handlers.iter().enumerate() {
                let hosts: Vec<usize> =
                    (0..self.hosts.len()).filter(|&i| pending[i].contains(&idx) && eligible(&self.hosts[i], i, self.pinned)).collect();
                if hosts.is_empty() {
                    continue;
                }
                ran.extend(hosts.iter().map(|&i| (i, idx)));
                let was_failed: Vec<usize> = hosts.iter().copied().filter(|&i| self.hosts[i].failed).collect();
                for &i in &was_failed {
                    self.hosts[i].failed = false;
                }
                // A handler may be a module, a block or an include_tasks.
                self.run_node(handler, inh, Some(&hosts)).await;
                for &i in &was_failed {
                    self.hosts[i].failed = true;
                }
            }
        }
    }

    /// The handlers a notification runs, as Ansible's
    /// `search_handlers_by_notification`: the handler of that name (or
    /// `role : name`) found first when the play's handler blocks (here: the
    /// play's own, each role's) are searched last block first, and every
    /// handler that listens to it (one per name).
    fn handlers_for(&self, notification: &str) -> Vec<usize> {
        let mut groups: Vec<Option<PathBuf>> = Vec::new();
        for (t, _) in &self.handlers {
            let g = t.role.as_ref().map(|r| r.path.clone());
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        let mut search: Vec<usize> = Vec::with_capacity(self.handlers.len());
        for g in groups.iter().rev() {
            search.extend((0..self.handlers.len()).filter(|&i| &self.handlers[i].0.role.as_ref().map(|r| r.path.clone()) == g));
        }
        let mut out = Vec::new();
        if let Some(&i) = search.iter().find(|&&i| handler_answers_to(&self.handlers[i].0).0.iter().any(|n| n == notification)) {
            out.push(i);
        }
        let mut seen = std::collections::BTreeSet::new();
        for &i in &search {
            let t = &self.handlers[i].0;
            if !handler_answers_to(t).1.iter().any(|l| l == notification) {
                continue;
            }
            if let Some(n) = &t.name {
                if !seen.insert(n.clone()) {
                    continue;
                }
            }
            if !out.contains(&i) {
                out.push(i);
            }
        }
        out
    }

    pub(super) fn when_holds(&self, i: usize, task: &Task, inh: &Inherited) -> bool {
        let eff = inh.effective(task);
        let magic = self.task_magic(&eff);
        let hv = self.hostvars_snapshot();
        let scope = self.scope_of(i, &eff, inh, task, &magic, &hv);
        eff.when.iter().all(|c| self.ctx.templar.eval_condition(&c.text, &scope).unwrap_or(false))
    }
}

fn action_name(task: &Task) -> String {
    match &task.kind {
        TaskKind::Module { module, .. } => module.rsplit('.').next().unwrap_or(module).to_string(),
        _ => String::new(),
    }
}

/// The names a handler answers to, and its listen topics: a role's
/// handler also as `role : name` and `role : topic`, with the role's short
/// name and, for a collection's role, its `ns.col.role` name (Ansible's
/// `Handler._validate_listen` and `get_name`).
fn handler_answers_to(t: &Task) -> (Vec<String>, Vec<String>) {
    let mut roles: Vec<String> = Vec::new();
    if let Some(r) = &t.role {
        roles.push(r.name.clone());
        if let Some(short) = r.name.rsplit('.').next().filter(|s| *s != r.name) {
            roles.push(short.to_string());
        }
    }
    let mut names = Vec::new();
    if let Some(n) = &t.name {
        names.push(n.clone());
        names.extend(roles.iter().map(|r| format!("{r} : {n}")));
    }
    let mut topics = t.listen.clone();
    for l in &t.listen {
        topics.extend(roles.iter().map(|r| format!("{r} : {l}")));
    }
    (names, topics)
}

fn missing_handler(name: &str) -> String {
    format!("The requested handler '{name}' was not found in either the main handlers list nor in the listening handlers list")
}
