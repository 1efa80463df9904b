//! One play: pick its hosts, cut them into `serial` batches, and for each
//! batch gather facts and run pre_tasks, roles, tasks, post_tasks, each
//! section followed by a flush of notified handlers.

use futures::StreamExt;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::playbook::ast::{Play, SerialStep, Task, TaskKind};
use crate::template::Scope;

use super::host_state::{HostState, Layer};
use super::host_task::{keyword_bool, where_};
use super::inherited::Inherited;
use super::options::Gathering;
use super::run::RunContext;
use super::strategy::Strategy;

#[derive(Clone)]
pub struct PlayRunner<'a> {
    pub ctx: &'a Arc<RunContext>,
    pub play: &'a Play,
    /// The hosts of the current batch.
    pub hosts: Vec<HostState>,
    pub play_vars: Layer,
    pub play_role_defaults: Layer,
    pub play_role_vars: Layer,
    pub search_paths: Arc<Vec<PathBuf>>,
    pub handlers: Vec<(Task, Inherited)>,
    pub root: Inherited,
    /// `meta: end_play`, `any_errors_fatal` or `max_fail_percentage` ended the play.
    pub end_play: bool,
    /// An error that ends the whole run, as an AnsibleError raised by
    /// Ansible's strategy does (a notified handler that does not exist).
    pub abort: Option<String>,
    /// Roles `include_role` brought into this play (for `allow_duplicates: false`).
    pub included_roles: std::collections::HashSet<PathBuf>,
    pub play_hosts: Vec<String>,
    /// The play's `gather_facts` and `force_handlers`, templated with the
    /// play's variables when it starts.
    pub gather_facts: bool,
    pub force_handlers: bool,
    /// The play's strategy, templated when it starts.
    pub strategy: Strategy,
    /// With the free strategy: the one host of the batch being walked now
    /// (`active` sees only it).
    pub pinned: Option<usize>,
    /// Warnings already given in this play: Ansible says each once.
    pub warned: std::collections::BTreeSet<String>,
    /// How many times `meta: clear_host_errors` ran in this play: a block's
    /// `always` that cleared them must not restore its hosts' failures.
    pub errors_cleared: usize,
    /// Hosts out of `ansible_play_hosts`/`ansible_play_batch` for the rest
    /// of the play (Ansible's `play._removed_hosts`): failed outside a
    /// rescue, unreachable, failed by `any_errors_fatal`, ended by `meta`.
    /// `clear_host_errors` does not bring them back, as in Ansible.
    pub removed: std::collections::BTreeSet<String>,
    /// The hosts the play's pattern names, those failed in earlier plays
    /// included (`meta: clear_host_errors` clears them too).
    pub pattern_hosts: Vec<String>,
}

/// Split `n` hosts into batches as `serial:` says; the last step repeats.
pub fn serial_batches(steps: &[SerialStep], n: usize) -> Vec<usize> {
    if steps.is_empty() || n == 0 {
        return vec![n];
    }
    let mut sizes = Vec::new();
    let mut left = n;
    let mut i = 0;
    while left > 0 {
        let step = &steps[i.min(steps.len() - 1)];
        let size = match step {
            SerialStep::Count(c) => *c,
            SerialStep::Percent(p) => ((n as f64) * p / 100.0) as usize,
        }
        .max(1)
        .min(left);
        sizes.push(size);
        left -= size;
        i += 1;
    }
    sizes
}

impl<'a> PlayRunner<'a> {
    pub fn new(ctx: &'a Arc<RunContext>, play: &'a Play) -> Self {
        let mut root = Inherited { tags: play.tags.clone(), become_opts: play.become_opts.clone(), ..Default::default() };
        if let Some(env) = &play.environment {
            root.environment.push(env.clone());
        }
        root.when = play.import_when.clone();
        root.check_mode = play.check_mode.clone();
        root.diff = play.diff.clone();
        root.no_log = play.no_log.clone();
        root.timeout = play.timeout.clone();
        root.ignore_errors = play.ignore_errors.clone();
        root.run_once = play.run_once.clone();
        // Ansible's `any_errors_fatal` setting is the plays' default.
        root.any_errors_fatal =
            play.any_errors_fatal.clone().or_else(|| ctx.opts.any_errors_fatal.then_some(serde_json::Value::Bool(true)));
        root.ignore_unreachable = play.ignore_unreachable.clone();
        root.throttle = play.throttle.clone();
        root.module_defaults.extend(play.module_defaults.iter().cloned());
        let mut handlers = Vec::new();
        let mut handler_root = root.clone();
        handler_root.is_handler = true;
        flatten_handlers(&play.handlers, &handler_root, &mut handlers);
        let (play_role_defaults, play_role_vars) = role_layers(play);
        PlayRunner {
            ctx,
            play,
            hosts: Vec::new(),
            play_vars: Arc::new(play.vars.clone()),
            play_role_defaults,
            play_role_vars,
            search_paths: Arc::new(vec![play.base_dir.clone()]),
            handlers,
            root,
            end_play: false,
            abort: None,
            included_roles: Default::default(),
            play_hosts: Vec::new(),
            gather_facts: true,
            force_handlers: false,
            strategy: ctx.opts.strategy,
            pinned: None,
            warned: Default::default(),
            errors_cleared: 0,
            removed: Default::default(),
            pattern_hosts: Vec::new(),
        }
    }

    /// A scope with only play-level variables, for `hosts:` and task names.
    pub fn play_scope(&self) -> Scope {
        let mut s = Scope::new().with_search_paths(self.search_paths.clone());
        s.push(self.play_vars.clone());
        s.push(self.ctx.extra_vars.clone());
        s
    }

    pub(super) fn select_hosts(&self) -> Result<Vec<String>, String> {
        let pattern = self
            .ctx
            .templar
            .render_string(&self.play.hosts, &self.play_scope())
            .map_err(|e| format!("cannot template hosts '{}': {e}", self.play.hosts))?;
        let mut hosts = self.ctx.inventory().select(&pattern)?;
        if let Some(limit) = &self.ctx.opts.limit {
            let allowed = self.ctx.inventory().select(limit)?;
            hosts.retain(|h| allowed.contains(h));
        }
        Ok(hosts)
    }

    pub async fn run(&mut self) -> Result<(), String> {
        let name = match &self.play.name {
            Some(n) => self.ctx.templar.render_string(n, &self.play_scope()).unwrap_or_else(|_| n.clone()),
            None => self.play.hosts.clone(),
        };
        self.ctx.reporter.play_start(&name);
        let scope = self.play_scope();
        let at = where_(&self.play.pos);
        let t = &self.ctx.templar;
        self.gather_facts =
            keyword_bool(t, "gather_facts", self.play.gather_facts.as_ref(), &scope, self.ctx.opts.gathering != Gathering::Explicit)
                .map_err(|e| format!("{e}{at}"))?;
        self.force_handlers =
            // The play's setting wins over --force-handlers and the config.
            keyword_bool(t, "force_handlers", self.play.force_handlers.as_ref(), &scope, self.ctx.opts.force_handlers)
                .map_err(|e| format!("{e}{at}"))?;
        let strategy = match &self.play.strategy {
            Some(v) => t.render_value(v, &scope).map_err(|e| format!("{e}{at}"))?,
            None => Value::Null,
        };
        self.strategy = Strategy::of_play(Some(&strategy), self.ctx.opts.strategy).map_err(|e| format!("{e}{at}"))?;
        if self.strategy == Strategy::Free && self.play.max_fail_percentage.is_some() {
            self.warn_once(
                "Using max_fail_percentage with the free strategy is not supported, as tasks are executed independently on each host",
            );
        }
        self.render_handler_names();
        let mut hosts = self.select_hosts()?;
        self.pattern_hosts = hosts.clone();
        hosts.retain(|h| !self.ctx.is_dead(h));
        self.play.order.arrange(&mut hosts);
        if hosts.is_empty() {
            self.ctx.reporter.no_hosts_matched();
            return Ok(());
        }
        self.play_hosts = hosts.clone();
        let mut offset = 0;
        for size in serial_batches(&self.play.serial, hosts.len()) {
            if self.end_play || self.ctx.is_interrupted() {
                break;
            }
            // Ansible prints the play's banner again for each later batch.
            if offset > 0 {
                self.ctx.reporter.play_start(&name);
            }
            let batch = &hosts[offset..offset + size];
            offset += size;
            let play_magic = Arc::new(self.play_magic_vars(&name, batch));
            self.hosts = batch.iter().map(|h| self.load_host_state(h, &play_magic)).collect::<Result<_, _>>()?;
            self.run_batch().await;
            let mut states = self.ctx.host_states.lock().expect("host states");
            for h in self.hosts.drain(..) {
                states.insert(h.name.clone(), h);
            }
            if let Some(msg) = self.abort.take() {
                return Err(msg);
            }
            let failed_all = batch.iter().all(|h| states.get(h).map(|s| s.failed || s.unreachable).unwrap_or(false));
            drop(states);
            if failed_all && !self.play.serial.is_empty() {
                // Ansible stops a serial play when a whole batch failed.
                self.end_play = true;
            }
        }
        Ok(())
    }

    fn load_host_state(&self, host: &str, play_magic: &Layer) -> Result<HostState, String> {
        let existing = self.ctx.host_states.lock().expect("host states").get(host).cloned();
        let mut state = match existing {
            Some(s) => s,
            None => {
                let vars = crate::inventory::vars_with_playbook_dirs(&self.ctx.inventory(), &self.ctx.playbook_dir, host)
                    .map_err(|d| d.render())?;
                let mut s = HostState::new(host, vars);
                // Facts a previous run cached: host data, as gathered facts.
                if let Some(cached) = self.ctx.opts.fact_cache.as_ref().and_then(|c| c.get(host)) {
                    s.add_cached_facts(&cached);
                }
                s
            }
        };
        state.notified.clear();
        state.ended = false;
        state.play_magic = play_magic.clone();
        state.magic = Arc::new(self.host_magic_vars(host));
        state.play_vars_files = Arc::new(self.load_vars_files(&state)?);
        Ok(state)
    }

    /// The magic variables of one host (the rest it shares with its batch).
    fn host_magic_vars(&self, host: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("inventory_hostname".into(), Value::from(host));
        m.insert("inventory_hostname_short".into(), Value::from(host.split('.').next().unwrap_or(host)));
        m.insert("group_names".into(), Value::from(self.ctx.inventory().group_names_of(host)));
        m
    }

    /// The magic variables all hosts of a batch share, made once per batch.
    fn play_magic_vars(&self, play_name: &str, batch: &[String]) -> Map<String, Value> {
        let inv = self.ctx.inventory();
        let opts = &self.ctx.opts;
        let mut m = Map::new();
        m.insert("groups".into(), Value::Object(inv.groups_map()));
        m.insert("play_hosts".into(), Value::from(batch.to_vec()));
        m.insert("ansible_play_batch".into(), Value::from(batch.to_vec()));
        m.insert("ansible_play_hosts".into(), Value::from(self.play_hosts.clone()));
        m.insert("ansible_play_hosts_all".into(), Value::from(self.play_hosts.clone()));
        m.insert("ansible_play_name".into(), Value::from(play_name));
        m.insert("playbook_dir".into(), Value::from(self.ctx.playbook_dir.display().to_string()));
        m.insert("ansible_check_mode".into(), Value::Bool(opts.check));
        m.insert("ansible_diff_mode".into(), Value::Bool(opts.diff));
        m.insert("ansible_verbosity".into(), Value::from(opts.verbosity));
        m.insert("ansible_forks".into(), Value::from(opts.forks));
        m.insert(
            "ansible_run_tags".into(),
            Value::from(if opts.tags.only.is_empty() { vec!["all".to_string()] } else { opts.tags.only.iter().cloned().collect() }),
        );
        m.insert("ansible_skip_tags".into(), Value::from(opts.tags.skip.iter().cloned().collect::<Vec<_>>()));
        m.insert(
            "ansible_version".into(),
            json!({"full": "2.19.0", "major": 2, "minor": 19, "revision": 0, "string": "2.19.0 (mailplay)"}),
        );
        m
    }

    /// `vars_files:` entries, templated per host; a list entry means "the
    /// first of these that exists".
    fn load_vars_files(&self, host: &HostState) -> Result<Map<String, Value>, String> {
        let mut out = Map::new();
        if self.play.vars_files.is_empty() {
            return Ok(out);
        }
        let mut scope = Scope::new();
        scope.push(host.inventory_vars.clone());
        scope.push_data(host.facts.clone());
        scope.push(self.play_vars.clone());
        scope.push(host.play_magic.clone());
        scope.push(host.magic.clone());
        scope.push(self.ctx.extra_vars.clone());
        for entry in &self.play.vars_files {
            let candidates: Vec<Value> = match entry {
                Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            let mut loaded = false;
            let mut tried = Vec::new();
            for c in candidates {
                let name = self.ctx.templar.render_value(&c, &scope).map_err(|e| format!("vars_files: {e}"))?;
                let name = name.as_str().map(str::to_string).unwrap_or_else(|| name.to_string());
                // Ansible's path_dwim_relative_stack: `vars/<name>` first
                // (unless the name starts with it), then `<name>`.
                let mut paths = Vec::new();
                if name.split('/').next() != Some("vars") {
                    paths.push(self.play.base_dir.join("vars").join(&name));
                }
                paths.push(self.play.base_dir.join(&name));
                if let Some(path) = paths.iter().find(|p| p.exists()) {
                    let node = crate::yaml::parse_file(path).map_err(|d| d.render())?;
                    // A mapping, or a list of mappings merged in order
                    // (Ansible's preprocess_vars).
                    let items = match node.to_value() {
                        Value::Array(items) => items,
                        Value::Null => Vec::new(),
                        other => vec![other],
                    };
                    for item in items {
                        match item {
                            Value::Object(m) => out.extend(m),
                            _ => {
                                return Err(format!(
                                    "{}: Invalid variable file contents. Variable files must contain either a dictionary of variables, or a list of dictionaries.",
                                    path.display()
                                ))
                            }
                        }
                    }
                    loaded = true;
                    break;
                }
                tried.extend(paths.iter().map(|p| p.display().to_string()));
            }
            if !loaded {
                return Err(format!("vars file {} was not found", tried.join(", ")));
            }
        }
        Ok(out)
    }

    async fn run_batch(&mut self) {
        match self.strategy {
            Strategy::Linear => self.run_batch_hosts().await,
            Strategy::Free => {
                // Each host through the whole play on its own, at the same
                // time as the others (`strategy.rs`): one walker per host,
                // pinned to it, at most `forks` walking at once.
                let mut walkers: Vec<PlayRunner<'a>> = (0..self.hosts.len())
                    .map(|i| {
                        let mut w = self.clone();
                        w.pinned = Some(i);
                        w
                    })
                    .collect();
                let forks = self.ctx.opts.forks.max(1);
                futures::stream::iter(walkers.iter_mut().map(|w| w.run_batch_hosts())).buffer_unordered(forks).collect::<Vec<()>>().await;
                for (i, w) in walkers.into_iter().enumerate() {
                    self.end_play |= w.end_play;
                    if self.abort.is_none() {
                        self.abort = w.abort;
                    }
                    self.warned.extend(w.warned);
                    self.removed.extend(w.removed);
                    self.errors_cleared = self.errors_cleared.max(w.errors_cleared);
                    self.included_roles.extend(w.included_roles);
                    if let Some(h) = w.hosts.into_iter().nth(i) {
                        self.hosts[i] = h;
                    }
                }
                self.pinned = None;
            }
        }
    }

    /// Facts, then the play's sections, for the batch's active hosts.
    async fn run_batch_hosts(&mut self) {
        if self.gather_facts {
            let mut setup_args = Map::new();
            if let Some(subset) = &self.play.gather_subset {
                setup_args.insert("gather_subset".into(), subset.clone());
            }
            if let Some(timeout) = &self.play.gather_timeout {
                setup_args.insert("gather_timeout".into(), timeout.clone());
            }
            let mut t = Task::new(
                TaskKind::Module {
                    module: "setup".into(),
                    args: Value::Object(setup_args),
                    args_node: None,
                    args_pos: self.play.pos.clone(),
                },
                self.play.pos.clone(),
            );
            t.name = Some("Gathering Facts".into());
            t.tags = vec!["always".into()];
            let root = self.root.clone();
            if self.ctx.opts.gathering == Gathering::Smart {
                // Only the hosts without facts from an earlier play.
                let fresh: Vec<usize> = self.active(None).into_iter().filter(|&i| self.hosts[i].facts.is_empty()).collect();
                if !fresh.is_empty() {
                    self.run_leaf(&t, &root, Some(&fresh)).await;
                }
            } else {
                self.run_leaf(&t, &root, None).await;
            }
        }
        let root = self.root.clone();
        let sections: [&[Task]; 3] = [&self.play.pre_tasks, &[], &self.play.post_tasks];
        let play = self.play;
        self.run_tasks(sections[0], &root, None).await;
        self.implicit_flush().await;
        self.run_tasks(&play.roles, &root, None).await;
        self.run_tasks(&play.tasks, &root, None).await;
        self.implicit_flush().await;
        self.run_tasks(sections[2], &root, None).await;
        self.implicit_flush().await;
    }

    /// The flush Ansible adds after pre_tasks, tasks and post_tasks. Its
    /// linear strategy runs it only for hosts with notifications, and says
    /// so on its debug display (`ANSIBLE_DEBUG`).
    async fn implicit_flush(&mut self) {
        if self.ctx.opts.debug {
            for h in
                self.hosts.iter().enumerate().filter(|(i, h)| self.pinned.is_none_or(|p| p == *i) && !h.notified.is_empty()).map(|(_, h)| h)
            {
                self.ctx.reporter.display(&format!("META: triggered running handlers for {}", h.name));
            }
        }
        self.flush_handlers().await;
    }

    /// `ansible_play_hosts`, `ansible_play_batch` and `play_hosts` leave
    /// out the play's removed hosts; `ansible_play_hosts_all` keeps every
    /// host. Called before a task's scopes are built; a map is copied only
    /// when its lists changed.
    pub fn refresh_play_hosts(&mut self) {
        let removed = &self.removed;
        let play_hosts: Vec<Value> = self.play_hosts.iter().filter(|h| !removed.contains(*h)).map(|h| Value::from(h.as_str())).collect();
        let batch: Vec<Value> = self.hosts.iter().filter(|h| !removed.contains(&h.name)).map(|h| Value::from(h.name.as_str())).collect();
        let (play_hosts, batch) = (Value::Array(play_hosts), Value::Array(batch));
        let mut shared: Option<Layer> = None;
        for h in &mut self.hosts {
            if h.play_magic.get("ansible_play_hosts") == Some(&play_hosts) && h.play_magic.get("ansible_play_batch") == Some(&batch) {
                continue;
            }
            // One new map for the whole batch, not one per host.
            let play_magic = shared.get_or_insert_with(|| {
                let mut m = (*h.play_magic).clone();
                m.insert("ansible_play_hosts".into(), play_hosts.clone());
                m.insert("ansible_play_batch".into(), batch.clone());
                m.insert("play_hosts".into(), batch.clone());
                Arc::new(m)
            });
            h.play_magic = play_magic.clone();
        }
    }

    /// Handler names are templates of the play's variables (not a host's),
    /// rendered once as Ansible caches them; one that cannot be rendered
    /// answers only to its `listen` topics, with Ansible's warning when it
    /// has none.
    pub fn render_handler_names(&mut self) {
        let scope = self.play_scope();
        let mut warnings = Vec::new();
        for (t, _) in &mut self.handlers {
            let Some(name) = t.name.clone().filter(|n| crate::template::Templar::is_template(n)) else { continue };
            match self.ctx.templar.render_string(&name, &scope) {
                Ok(n) => t.name = Some(n),
                Err(e) => {
                    if t.listen.is_empty() {
                        warnings.push(format!("Handler '{name}' is unusable because it has no listen topics and the name could not be templated (host-specific variables are not supported in handler names). The error: {e}"));
                    }
                    t.name = None;
                }
            }
        }
        for w in warnings {
            self.warn_once(&w);
        }
    }

    /// A warning, unless this play gave it already (as Ansible's display
    /// does with the strategy's warnings, repeated per host and task).
    pub fn warn_once(&mut self, msg: &str) {
        if self.warned.insert(msg.to_string()) {
            self.ctx.reporter.warning(msg);
        }
    }

    /// Indexes of hosts still in the play, optionally within `subset`.
    /// With the free strategy, only the host being walked.
    pub fn active(&self, subset: Option<&[usize]>) -> Vec<usize> {
        let mine = |i: &usize| self.hosts[*i].is_active() && self.pinned.is_none_or(|p| p == *i);
        match subset {
            Some(s) => s.iter().copied().filter(mine).collect(),
            None => (0..self.hosts.len()).filter(mine).collect(),
        }
    }
}

/// Every role used in the play, in order, each once.
/// The play's roles in the order their defaults and vars apply: a role's
/// dependencies (the blocks inside it) before the role itself, as
/// Ansible's `Role.get_default_vars` combines them.
fn collect_roles(tasks: &[Task], out: &mut Vec<Arc<crate::playbook::ast::Role>>) {
    for t in tasks {
        if let TaskKind::Block { block, rescue, always } = &t.kind {
            collect_roles(block, out);
            collect_roles(rescue, out);
            collect_roles(always, out);
        }
        if let Some(r) = &t.role {
            // Both Arcs are alive in the AST here, so pointer equality is identity.
            if !out.iter().any(|o| Arc::ptr_eq(o, r)) {
                out.push(r.clone());
            }
        }
    }
}

/// The play-wide layers of role defaults and role vars.
fn role_layers(play: &Play) -> (Layer, Layer) {
    let mut roles = Vec::new();
    for list in [&play.pre_tasks, &play.roles, &play.tasks, &play.post_tasks, &play.handlers] {
        collect_roles(list, &mut roles);
    }
    let mut defaults = Map::new();
    let mut vars = Map::new();
    for r in roles {
        defaults.extend(r.defaults.iter().map(|(k, v)| (k.clone(), v.clone())));
        vars.extend(r.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    (Arc::new(defaults), Arc::new(vars))
}

/// Handlers may be written inside blocks; run them as a flat list with
/// what their blocks pass down.
fn flatten_handlers(tasks: &[Task], inh: &Inherited, out: &mut Vec<(Task, Inherited)>) {
    for t in tasks {
        match &t.kind {
            TaskKind::Block { block, rescue, always } => {
                let child = inh.enter(t);
                flatten_handlers(block, &child, out);
                flatten_handlers(rescue, &child, out);
                flatten_handlers(always, &child, out);
            }
            _ => out.push((t.clone(), inh.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_cuts_batches_and_repeats_the_last_step() {
        assert_eq!(serial_batches(&[], 5), vec![5]);
        assert_eq!(serial_batches(&[SerialStep::Count(2)], 5), vec![2, 2, 1]);
        assert_eq!(serial_batches(&[SerialStep::Count(1), SerialStep::Percent(50.0)], 5), vec![1, 2, 2]);
        assert_eq!(serial_batches(&[SerialStep::Percent(10.0)], 5), vec![1, 1, 1, 1, 1]);
    }
}
