//! Reading playbook files into plays. Errors are collected, not thrown, so
//! one run of `--syntax-check` shows every problem it can find.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mailplay_modules::args::closest;
use serde_json::{Map, Value};

use crate::diag::{Diagnostic, Pos};
use crate::yaml::{Node, NodeKind};

use super::ast::{BecomeOpts, Play, Playbook, Role, SerialStep, Task, TaskKind};
use super::keywords::*;
use super::task::{tags, vars_map};

/// The names `import_playbook` goes by at a playbook's top level.
const IMPORT_PLAYBOOK: [&str; 3] = ["import_playbook", "ansible.builtin.import_playbook", "ansible.legacy.import_playbook"];

#[derive(Default)]
pub struct Loader {
    pub errors: Vec<Diagnostic>,
    /// Handlers of roles imported while loading the current play.
    pub extra_handlers: Vec<Task>,
    /// Import stack, to refuse recursive imports.
    pub(crate) stack: Vec<PathBuf>,
    /// Folders searched for roles (beside the playbook first).
    pub role_dirs: Vec<PathBuf>,
    /// Roles of the current play's `roles:` and their dependencies, with
    /// their parameters: Ansible runs each once per play unless the role
    /// allows duplicates (`allow_duplicates: true` in its meta).
    pub(crate) play_roles: Vec<(PathBuf, Map<String, Value>)>,
    /// The folder of the playbook of the play being loaded: the last place
    /// a role's `import_tasks` looks, as Ansible's search path ends there.
    pub(crate) playbook_dir: Option<PathBuf>,
    /// The parameters of the roles whose dependencies are being loaded,
    /// merged outermost first: a dependency sees them under its own, as
    /// Ansible's `Role.get_role_params(dep_chain)` gives them.
    pub(crate) dep_chain_params: Map<String, Value>,
    /// Loading a play's handlers: a file imported there is loaded as a
    /// handler list (a block inside its blocks is refused).
    pub(crate) loading_handlers: bool,
    /// The vars of the `import_playbook`s being loaded, outermost first.
    pub(crate) import_vars: Map<String, Value>,
    /// What a name templated at load time (`import_role`'s) may use: the
    /// vars of the play being loaded over its imports' (no host's).
    pub(crate) load_vars: Map<String, Value>,
}

impl Loader {
    pub fn err(&mut self, d: Diagnostic) {
        self.errors.push(d);
    }

    fn parse(&mut self, path: &Path) -> Option<Node> {
        match crate::yaml::parse_file(path) {
            Ok(n) => Some(n),
            Err(d) => {
                self.err(d);
                None
            }
        }
    }

    pub fn playbook(&mut self, path: &Path) -> Vec<Play> {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if self.stack.contains(&canonical) {
            self.err(Diagnostic::in_file(path, "recursive import_playbook"));
            return Vec::new();
        }
        self.stack.push(canonical);
        let plays = self.playbook_inner(path);
        self.stack.pop();
        plays
    }

    fn playbook_inner(&mut self, path: &Path) -> Vec<Play> {
        let Some(root) = self.parse(path) else { return Vec::new() };
        self.plays_of(&root, path)
    }

    /// The plays of a playbook's document, as if read from `path` (its
    /// folder is the plays' base folder).
    pub fn plays_of(&mut self, root: &Node, path: &Path) -> Vec<Play> {
        let dir = path.parent().map(Path::to_path_buf).filter(|d| !d.as_os_str().is_empty()).unwrap_or_else(|| PathBuf::from("."));
        super::library::add_plugin_dirs(&dir);
        let items = match &root.kind {
            NodeKind::Seq(items) => items.clone(),
            NodeKind::Null => {
                self.err(Diagnostic::new(root.pos.clone(), "Empty playbook, nothing to do"));
                return Vec::new();
            }
            _ => {
                self.err(Diagnostic::new(
                    root.pos.clone(),
                    format!("A playbook must be a list of plays, got a {} instead", root.type_name()),
                ));
                return Vec::new();
            }
        };
        let mut plays = Vec::new();
        for item in &items {
            let import = IMPORT_PLAYBOOK.iter().find_map(|k| item.get(k));
            if let Some(target) = import {
                plays.extend(self.import_playbook(item, target, &dir));
                continue;
            }
            if let Some(p) = self.play(item, &dir) {
                plays.push(p);
            }
        }
        plays
    }

    fn import_playbook(&mut self, item: &Node, target: &Node, dir: &Path) -> Vec<Play> {
        let Some(written) = target.as_str() else {
            self.err(Diagnostic::new(target.pos.clone(), "import_playbook needs a file name"));
            return Vec::new();
        };
        // Ansible templates the name when it loads the playbook, with the
        // import's own vars (no host's: none is known yet).
        let file = match self.import_name(item, written) {
            Ok(f) => f,
            Err(e) => {
                self.err(Diagnostic::new(target.pos.clone(), format!("import_playbook: {e}")));
                return Vec::new();
            }
        };
        let path = dir.join(file);
        if !path.is_file() {
            self.err(Diagnostic::new(target.pos.clone(), format!("Unable to retrieve file contents: could not find '{}'", path.display())));
            return Vec::new();
        }
        let mut extra_vars = Map::new();
        let mut extra_tags = Vec::new();
        let mut when = Vec::new();
        for (k, v) in item.as_map().unwrap_or_default() {
            match k.key_string().as_str() {
                k if IMPORT_PLAYBOOK.contains(&k) || k == "name" => {}
                "when" => match super::task::exprs(v) {
                    Ok(w) => when = w,
                    Err(d) => self.err(d),
                },
                "vars" => match vars_map(v, "vars") {
                    Ok(m) => extra_vars = m,
                    Err(d) => self.err(d),
                },
                "tags" => match tags(v) {
                    Ok(t) => extra_tags = t,
                    Err(d) => self.err(d),
                },
                other => self.err(Diagnostic::new(
                    k.pos.clone(),
                    format!("'{other}' is not supported on import_playbook (only vars, tags and when)"),
                )),
            }
        }
        let outer = self.import_vars.clone();
        for (k, v) in &extra_vars {
            self.import_vars.insert(k.clone(), v.clone());
        }
        let mut plays = self.playbook(&path);
        self.import_vars = outer;
        for p in &mut plays {
            for (k, v) in &extra_vars {
                p.vars.entry(k.clone()).or_insert(v.clone());
            }
            p.tags.extend(extra_tags.iter().cloned());
            p.import_when.splice(0..0, when.iter().cloned());
        }
        plays
    }

    /// The imported file's name, rendered when it is a template.
    fn import_name(&self, item: &Node, written: &str) -> Result<String, String> {
        if !crate::template::Templar::is_template(written) {
            return Ok(written.to_string());
        }
        let own = item.get("vars").and_then(|v| vars_map(v, "vars").ok());
        let scope = self.load_scope(own);
        match crate::template::Templar::new().render_value(&Value::from(written), &scope).map_err(|e| e.message)? {
            Value::String(s) => Ok(s),
            other => Err(format!("the file name must be a string, got {other}")),
        }
    }

    /// What a name templated at load time sees: the play's vars over its
    /// imports', then the task's own `vars`, then `-e`.
    pub(crate) fn load_scope(&self, own: Option<Map<String, Value>>) -> crate::template::Scope {
        let mut scope = crate::template::Scope::new();
        let mut base = self.import_vars.clone();
        base.extend(self.load_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        scope.push(std::sync::Arc::new(base));
        if let Some(own) = own {
            scope.push(std::sync::Arc::new(own));
        }
        if let Some(extra) = super::load_extra_vars() {
            scope.push(extra);
        }
        scope
    }

    fn play(&mut self, node: &Node, dir: &Path) -> Option<Play> {
        let Some(entries) = node.as_map() else {
            self.err(Diagnostic::new(node.pos.clone(), format!("a play must be a mapping, got a {}", node.type_name())));
            return None;
        };
        self.role_dirs = vec![dir.join("roles"), dir.to_path_buf()];
        self.playbook_dir = Some(dir.to_path_buf());
        self.extra_handlers.clear();
        self.play_roles.clear();
        self.load_vars = self.import_vars.clone();
        if let Some(Ok(vars)) = node.get("vars").map(|v| vars_map(v, "vars")) {
            self.load_vars.extend(vars);
        }
        let mut play = Play {
            name: None,
            import_when: Vec::new(),
            hosts: String::new(),
            pos: node.pos.clone(),
            base_dir: dir.to_path_buf(),
            vars: Map::new(),
            vars_files: Vec::new(),
            gather_facts: None,
            pre_tasks: Vec::new(),
            roles: Vec::new(),
            tasks: Vec::new(),
            post_tasks: Vec::new(),
            handlers: Vec::new(),
            become_opts: BecomeOpts::default(),
            serial: Vec::new(),
            any_errors_fatal: None,
            max_fail_percentage: None,
            tags: Vec::new(),
            environment: None,
            check_mode: None,
            diff: None,
            force_handlers: None,
            ignore_errors: None,
            run_once: None,
            no_log: None,
            ignore_unreachable: None,
            throttle: None,
            module_defaults: None,
            order: Default::default(),
            gather_subset: None,
            gather_timeout: None,
            timeout: None,
            strategy: None,
        };
        let mut has_hosts = false;
        let mut role_handlers = Vec::new();
        for (k, v) in entries {
            let key = k.key_string();
            let val = || Some(v.to_value());
            match key.as_str() {
                "name" => play.name = Some(v.as_str().map(str::to_string).unwrap_or_else(|| v.key_string())),
                "hosts" => {
                    has_hosts = true;
                    play.hosts = match &v.kind {
                        NodeKind::Str(s) => s.clone(),
                        NodeKind::Seq(items) => items.iter().map(|i| i.key_string()).collect::<Vec<_>>().join(","),
                        _ => {
                            self.err(Diagnostic::new(v.pos.clone(), "hosts must be a string or a list"));
                            String::new()
                        }
                    }
                }
                "vars" => match vars_map(v, "vars") {
                    Ok(m) => play.vars = m,
                    Err(d) => self.err(d),
                },
                "vars_files" => {
                    play.vars_files = match v.to_value() {
                        Value::Array(a) => a,
                        Value::Null => Vec::new(),
                        other => vec![other],
                    }
                }
                "gather_facts" => play.gather_facts = val(),
                "pre_tasks" => play.pre_tasks = self.tasks(v, dir, &None),
                "tasks" => play.tasks = self.tasks(v, dir, &None),
                "post_tasks" => play.post_tasks = self.tasks(v, dir, &None),
                "handlers" => {
                    self.refuse_role_handlers(v, false);
                    self.loading_handlers = true;
                    play.handlers = self.tasks(v, dir, &None);
                    self.loading_handlers = false;
                }
                "roles" => {
                    for entry in v.as_seq().unwrap_or_default() {
                        if let Some((block, handlers)) = self.role_entry(entry, dir) {
                            play.roles.push(block);
                            role_handlers.extend(handlers);
                        }
                    }
                    if !v.is_null() && v.as_seq().is_none() {
                        self.err(Diagnostic::new(v.pos.clone(), "roles must be a list"));
                    }
                }
                "become" => play.become_opts.become_ = val(),
                "become_user" => play.become_opts.become_user = val(),
                "become_method" => play.become_opts.become_method = val(),
                "become_flags" => play.become_opts.become_flags = val(),
                "serial" => match serial(v) {
                    Ok(s) => play.serial = s,
                    Err(d) => self.err(d),
                },
                "any_errors_fatal" => play.any_errors_fatal = val(),
                "max_fail_percentage" => match v.to_value() {
                    Value::Number(n) => play.max_fail_percentage = n.as_f64(),
                    Value::String(s) => match s.trim_end_matches('%').parse() {
                        Ok(f) => play.max_fail_percentage = Some(f),
                        Err(_) => self.err(Diagnostic::new(v.pos.clone(), format!("max_fail_percentage must be a number, got '{s}'"))),
                    },
                    _ => self.err(Diagnostic::new(v.pos.clone(), "max_fail_percentage must be a number")),
                },
                "tags" => match tags(v) {
                    Ok(t) => play.tags = t,
                    Err(d) => self.err(d),
                },
                "environment" => play.environment = val(),
                "check_mode" => play.check_mode = val(),
                "diff" => play.diff = val(),
                "force_handlers" => play.force_handlers = val(),
                "ignore_errors" => play.ignore_errors = val(),
                "run_once" => play.run_once = val(),
                "no_log" => play.no_log = val(),
                "timeout" => play.timeout = val(),
                "strategy" => match v.as_str() {
                    // A template is resolved when the play starts.
                    Some(s) if crate::template::Templar::is_template(s) => play.strategy = val(),
                    Some(s) if crate::exec::strategy::Strategy::parse(s).is_some() => play.strategy = val(),
                    _ => self.err(Diagnostic::new(
                        v.pos.clone(),
                        format!("strategy '{}' is not supported; mailplay has linear, free and host_pinned", v.key_string()),
                    )),
                },
                "ignore_unreachable" => play.ignore_unreachable = val(),
                "throttle" => play.throttle = val(),
                "module_defaults" => match super::task::module_defaults(v) {
                    Ok(d) => play.module_defaults = Some(d),
                    Err(d) => self.err(d),
                },
                "order" => match v.as_str().and_then(crate::playbook::ast::HostOrder::parse) {
                    Some(o) => play.order = o,
                    None => self.err(Diagnostic::new(
                        v.pos.clone(),
                        format!("invalid order '{}': one of inventory, reverse_inventory, sorted, reverse_sorted, shuffle", v.key_string()),
                    )),
                },
                "gather_subset" => play.gather_subset = val(),
                "gather_timeout" => play.gather_timeout = val(),
                "collections" => {
                    if let Err(d) = super::task::builtin_collections_only(v) {
                        self.err(d);
                    }
                }
                "debugger" | "fact_path" => {
                    self.err(Diagnostic::new(k.pos.clone(), format!("'{key}' on a play is not supported by mailplay")));
                }
                "remote_user" => play.become_opts.remote_user = val(),
                "connection" | "port" => {
                    self.err(Diagnostic::new(
                        k.pos.clone(),
                        format!("'{key}' on a play is not supported by mailplay yet; set ansible_connection/ansible_port in the inventory"),
                    ));
                }
                "vars_prompt" => self.err(Diagnostic::new(k.pos.clone(), "vars_prompt is not supported: pass the values with -e")),
                other => {
                    let d = Diagnostic::new(k.pos.clone(), format!("'{other}' is not a valid attribute for a Play"));
                    self.err(match closest(other, PLAY_KEYWORDS.iter().copied()) {
                        Some(s) => d.with_help(format!("did you mean '{s}'?")),
                        None => d,
                    });
                }
            }
        }
        if !has_hosts {
            self.err(Diagnostic::new(node.pos.clone(), "the field 'hosts' is required but was not set"));
            return None;
        }
        play.handlers.extend(role_handlers);
        play.handlers.extend(std::mem::take(&mut self.extra_handlers));
        Some(play)
    }

    /// A `roles:` entry: `- name` or `- role: name` with params and keywords.
    fn role_entry(&mut self, entry: &Node, dir: &Path) -> Option<(Task, Vec<Task>)> {
        let (name, params, keywords): (String, Map<String, Value>, Vec<(Node, Node)>) = match &entry.kind {
            NodeKind::Str(s) => (s.clone(), Map::new(), Vec::new()),
            NodeKind::Map(m) => {
                let name = entry.get("role").or_else(|| entry.get("name")).and_then(|n| n.as_str()).map(str::to_string);
                let Some(name) = name else {
                    self.err(Diagnostic::new(entry.pos.clone(), "a roles: entry needs 'role:' (or 'name:')"));
                    return None;
                };
                let mut params = Map::new();
                let mut kw = Vec::new();
                for (k, v) in m {
                    let key = k.key_string();
                    if key == "role" || key == "name" {
                        continue;
                    }
                    if ROLE_ENTRY_KEYWORDS.contains(&key.as_str()) {
                        kw.push((k.clone(), v.clone()));
                    } else {
                        params.insert(key, v.to_value());
                    }
                }
                (name, params, kw)
            }
            _ => {
                self.err(Diagnostic::new(entry.pos.clone(), "a roles: entry must be a name or a mapping"));
                return None;
            }
        };
        if let Some(path) = self.find_role(&name, dir) {
            let key = (path.clone(), params.clone());
            if self.play_roles.contains(&key) && !self.allows_duplicates(&path) {
                return None;
            }
            self.play_roles.push(key);
        }
        let (role, tasks, handlers) = self.role(&name, dir, params, &super::RoleFrom::default(), &entry.pos)?;
        let mut block = Task::new(TaskKind::Block { block: tasks, rescue: vec![], always: vec![] }, entry.pos.clone());
        // The block is the role's, so that a role with no tasks (defaults
        // only, a dependency that carries settings) still counts as used in
        // the play and its defaults are seen, as in Ansible.
        block.role = Some(role);
        for (k, v) in &keywords {
            let val = || Some(v.to_value());
            match k.key_string().as_str() {
                "when" => match super::task::exprs(v) {
                    Ok(e) => block.when = e,
                    Err(d) => self.err(d),
                },
                "tags" => match tags(v) {
                    Ok(t) => block.tags = t,
                    Err(d) => self.err(d),
                },
                "vars" => match vars_map(v, "vars") {
                    Ok(m) => block.vars = Arc::new(m),
                    Err(d) => self.err(d),
                },
                "become" => block.become_opts.become_ = val(),
                "become_user" => block.become_opts.become_user = val(),
                "become_method" => block.become_opts.become_method = val(),
                "become_flags" => block.become_opts.become_flags = val(),
                "become_exe" => block.become_opts.become_exe = val(),
                "remote_user" => block.become_opts.remote_user = val(),
                "environment" => block.environment = val(),
                "delegate_to" => block.delegate_to = val(),
                "ignore_errors" => block.ignore_errors = val(),
                "no_log" => block.no_log = val(),
                "check_mode" => block.check_mode = val(),
                "diff" => block.diff = val(),
                "any_errors_fatal" => block.any_errors_fatal = val(),
                "run_once" => block.run_once = val(),
                _ => {}
            }
        }
        Some((block, handlers))
    }

    /// Ansible refuses, when it loads the play, `include_role` and
    /// `import_role` as a handler, and a block inside a handlers block (a
    /// block in the handlers list is only a group of handlers).
    fn refuse_role_handlers(&mut self, handlers: &Node, in_block: bool) {
        for h in handlers.as_seq().unwrap_or_default() {
            for (k, v) in h.as_map().unwrap_or_default() {
                let key = k.key_string();
                let short = key.strip_prefix("ansible.builtin.").or_else(|| key.strip_prefix("ansible.legacy.")).unwrap_or(&key);
                if short == "include_role" || short == "import_role" {
                    self.err(Diagnostic::new(k.pos.clone(), format!("Using '{key}' as a handler is not supported.")));
                }
                if key == "block" && in_block {
                    self.err(Diagnostic::new(h.pos.clone(), "Using a block as a handler is not supported."));
                }
                if matches!(key.as_str(), "block" | "rescue" | "always") {
                    self.refuse_role_handlers(v, true);
                }
            }
        }
    }

    /// `allow_duplicates: true` in the role's meta/main.yml.
    fn allows_duplicates(&mut self, path: &Path) -> bool {
        let Some(meta) = Self::main_file(&path.join("meta"), "main").and_then(|p| self.parse(&p)) else { return false };
        meta.get("allow_duplicates").map(|v| super::keywords::ansible_bool(&v.to_value()) == Some(true)).unwrap_or(false)
    }

    pub(crate) fn find_role(&self, name: &str, dir: &Path) -> Option<PathBuf> {
        let p = Path::new(name);
        if p.is_absolute() && p.is_dir() {
            return Some(p.to_path_buf());
        }
        self.role_search_dirs(dir).into_iter().map(|d| d.join(name)).find(|c| c.is_dir()).or_else(|| self.collection_role(name))
    }

    /// `namespace.collection.role`: a role of a collection installed beside
    /// the playbook (`collections/ansible_collections/`), which Ansible
    /// always searches first. Configured collection paths are not followed
    /// (the config warns that `COLLECTIONS_PATHS` is not followed).
    fn collection_role(&self, name: &str) -> Option<PathBuf> {
        let mut parts = name.splitn(3, '.');
        let (ns, col, role) = (parts.next()?, parts.next()?, parts.next()?);
        if [ns, col, role].iter().any(|p| p.is_empty() || p.contains('/')) {
            return None;
        }
        let base = self.playbook_dir.as_ref()?;
        let p = base.join("collections/ansible_collections").join(ns).join(col).join("roles").join(role);
        p.is_dir().then_some(p)
    }

    /// Where roles are looked for, in Ansible's order: `roles/` beside the
    /// playbook (or the depending role), the configured roles path, the
    /// folder itself, then the play's folders.
    fn role_search_dirs(&self, dir: &Path) -> Vec<PathBuf> {
        let mut dirs = vec![dir.join("roles")];
        dirs.extend(super::roles_path());
        dirs.push(dir.to_path_buf());
        for d in &self.role_dirs {
            if !dirs.contains(d) {
                dirs.push(d.clone());
            }
        }
        dirs
    }

    fn main_file(dir: &Path, name: &str) -> Option<PathBuf> {
        [format!("{name}.yml"), format!("{name}.yaml"), name.to_string()].into_iter().map(|f| dir.join(f)).find(|p| p.is_file())
    }

    /// A role's `vars/`/`defaults/` file: `main`, or the one `*_from`
    /// names (which must exist).
    fn vars_file(&mut self, dir: &Path, from: Option<&str>, pos: &Pos) -> Map<String, Value> {
        let found = Self::main_file(dir, from.unwrap_or("main"));
        if let (None, Some(f)) = (&found, from) {
            self.err(Diagnostic::new(pos.clone(), format!("Could not find specified file in role: {}/{f}", dir.display())));
        }
        match found {
            Some(p) => match self.parse(&p) {
                Some(n) => vars_map(&n, &p.display().to_string()).unwrap_or_else(|d| {
                    self.err(d);
                    Map::new()
                }),
                None => Map::new(),
            },
            None => Map::new(),
        }
    }

    /// Load a role: its dependencies' tasks (each a block), then its own.
    pub fn role(
        &mut self,
        name: &str,
        dir: &Path,
        params: Map<String, Value>,
        from: &super::RoleFrom,
        pos: &Pos,
    ) -> Option<super::LoadedRole> {
        let tasks_from = from.tasks.as_deref();
        // A static import's name is rendered when the play loads, with the
        // play's vars (Ansible's RoleDefinition does the same).
        let rendered;
        let name = if crate::template::Templar::is_template(name) {
            let scope = self.load_scope(None);
            match crate::template::Templar::new().render_value(&Value::from(name), &scope) {
                Ok(Value::String(s)) => {
                    rendered = s;
                    rendered.as_str()
                }
                Ok(other) => {
                    self.err(Diagnostic::new(pos.clone(), format!("a role name must be a string, got {other}")));
                    return None;
                }
                Err(e) => {
                    self.err(Diagnostic::new(pos.clone(), format!("the role name '{name}': {}", e.message)));
                    return None;
                }
            }
        } else {
            name
        };
        let Some(path) = self.find_role(name, dir) else {
            let searched: Vec<String> = self.role_search_dirs(dir).iter().map(|d| d.display().to_string()).collect();
            self.err(
                Diagnostic::new(pos.clone(), format!("the role '{name}' was not found"))
                    .with_help(format!("searched in {}", searched.join(", "))),
            );
            return None;
        };
        if self.stack.contains(&path) {
            self.err(Diagnostic::new(pos.clone(), format!("role '{name}' depends on itself")));
            return None;
        }
        self.stack.push(path.clone());
        super::library::add_plugin_dirs(&path);
        let defaults = self.vars_file(&path.join("defaults"), from.defaults.as_deref(), pos);
        let vars = self.vars_file(&path.join("vars"), from.vars.as_deref(), pos);
        let mut chain_params = self.dep_chain_params.clone();
        chain_params.extend(params);
        let params = chain_params;
        let role = Arc::new(Role {
            name: Path::new(name).file_name().and_then(|n| n.to_str()).unwrap_or(name).to_string(),
            path: path.clone(),
            defaults: Arc::new(defaults),
            vars: Arc::new(vars),
            params: Arc::new(params),
        });
        let mut tasks = Vec::new();
        let mut handlers = Vec::new();
        // meta/main.yml dependencies run first, with this role's
        // parameters (and its parents') under their own.
        if let Some(meta) = Self::main_file(&path.join("meta"), "main").and_then(|p| self.parse(&p)) {
            if let Some(deps) = meta.get("dependencies").and_then(|d| d.as_seq()).map(|d| d.to_vec()) {
                let outer = std::mem::replace(&mut self.dep_chain_params, (*role.params).clone());
                for dep in &deps {
                    if let Some((block, hs)) = self.role_entry(dep, path.parent().unwrap_or(dir)) {
                        tasks.push(block);
                        handlers.extend(hs);
                    }
                }
                self.dep_chain_params = outer;
            }
        }
        let some_role = Some(role.clone());
        let tasks_dir = path.join("tasks");
        match Self::main_file(&tasks_dir, tasks_from.unwrap_or("main")) {
            Some(f) => tasks.extend(self.task_file(&f, &some_role).unwrap_or_default()),
            None if tasks_from.is_some() => {
                self.err(Diagnostic::new(pos.clone(), format!("role '{name}' has no tasks file '{}'", tasks_from.unwrap_or("main"))))
            }
            None => {}
        }
        match Self::main_file(&path.join("handlers"), from.handlers.as_deref().unwrap_or("main")) {
            Some(f) => handlers.extend(self.task_file(&f, &some_role).unwrap_or_default()),
            None if from.handlers.is_some() => self.err(Diagnostic::new(
                pos.clone(),
                format!("role '{name}' has no handlers file '{}'", from.handlers.as_deref().unwrap_or_default()),
            )),
            None => {}
        }
        self.stack.pop();
        Some((role, tasks, handlers))
    }

    pub fn task_file(&mut self, path: &Path, role: &Option<Arc<Role>>) -> Option<Vec<Task>> {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if self.stack.contains(&canonical) {
            self.err(Diagnostic::in_file(path, "recursive import of a task file"));
            return None;
        }
        let node = self.parse(path)?;
        self.stack.push(canonical);
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let tasks = self.tasks(&node, &dir, role);
        self.stack.pop();
        Some(tasks)
    }
}

fn serial(v: &Node) -> Result<Vec<SerialStep>, Diagnostic> {
    let one = |n: &Node| -> Result<SerialStep, Diagnostic> {
        match n.to_value() {
            Value::Number(num) => num
                .as_u64()
                .map(|c| SerialStep::Count(c as usize))
                .ok_or_else(|| Diagnostic::new(n.pos.clone(), "serial must be a positive number or a percentage")),
            Value::String(s) => {
                if let Some(p) = s.trim().strip_suffix('%') {
                    p.trim()
                        .parse::<f64>()
                        .map(SerialStep::Percent)
                        .map_err(|_| Diagnostic::new(n.pos.clone(), format!("invalid serial percentage '{s}'")))
                } else {
                    s.trim().parse::<usize>().map(SerialStep::Count).map_err(|_| {
                        Diagnostic::new(n.pos.clone(), format!("serial must be a number or a percentage like '30%', got '{s}'"))
                    })
                }
            }
            _ => Err(Diagnostic::new(n.pos.clone(), "serial must be a number, a percentage or a list of them")),
        }
    };
    match &v.kind {
        NodeKind::Seq(items) => items.iter().map(one).collect(),
        NodeKind::Null => Ok(Vec::new()),
        _ => Ok(vec![one(v)?]),
    }
}

pub fn into_playbook(path: &Path, loader: Loader, plays: Vec<Play>) -> Result<Playbook, Vec<Diagnostic>> {
    if loader.errors.is_empty() {
        Ok(Playbook { path: path.to_path_buf(), plays })
    } else {
        Err(loader.errors)
    }
}
