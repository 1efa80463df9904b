//! One task (or block) from its YAML mapping.

use std::path::Path;
use std::sync::Arc;

use mailplay_modules::args::closest;
use mailplay_modules::registry::Registry;
use serde_json::{Map, Value};

use crate::diag::{Diagnostic, Pos};
use crate::yaml::{Node, NodeKind};

use super::ast::{BecomeOpts, Expr, LoopControl, LoopKind, LoopSpec, Role, Task, TaskKind};
use super::free_form::parse_kv;
use super::keywords::*;
use super::load::Loader;

/// A keyword value that is a condition: a string, a bool, or a list of them.
pub fn exprs(node: &Node) -> Result<Vec<Expr>, Diagnostic> {
    let one = |n: &Node| -> Result<Expr, Diagnostic> {
        let text = match &n.kind {
            NodeKind::Str(s) => s.clone(),
            NodeKind::Bool(b) => {
                if *b {
                    "True".into()
                } else {
                    "False".into()
                }
            }
            NodeKind::Int(i) => i.to_string(),
            NodeKind::Float(f) => f.to_string(),
            _ => return Err(Diagnostic::new(n.pos.clone(), format!("a condition must be a string or a boolean, not a {}", n.type_name()))),
        };
        let literal = match &n.kind {
            NodeKind::Str(_) => None,
            _ => Some(n.to_value()),
        };
        Ok(Expr { text, pos: n.pos.clone(), literal })
    };
    match &n_kind(node) {
        NodeKind::Seq(items) => items.iter().map(one).collect(),
        NodeKind::Null => Ok(Vec::new()),
        _ => Ok(vec![one(node)?]),
    }
}

fn n_kind(n: &Node) -> &NodeKind {
    &n.kind
}

/// Tags: a string (comma-separated), a number, or a list.
pub fn tags(node: &Node) -> Result<Vec<String>, Diagnostic> {
    let scalar = |n: &Node| -> Result<Vec<String>, Diagnostic> {
        match &n.kind {
            NodeKind::Str(s) => Ok(s.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect()),
            NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_) => Ok(vec![n.key_string()]),
            _ => Err(Diagnostic::new(n.pos.clone(), format!("tags must be strings, not a {}", n.type_name()))),
        }
    };
    match &node.kind {
        NodeKind::Seq(items) => Ok(items.iter().map(scalar).collect::<Result<Vec<_>, _>>()?.concat()),
        NodeKind::Null => Ok(Vec::new()),
        _ => scalar(node),
    }
}

fn string_list(node: &Node, what: &str) -> Result<Vec<String>, Diagnostic> {
    match &node.kind {
        NodeKind::Str(s) => Ok(vec![s.clone()]),
        NodeKind::Seq(items) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_string).ok_or_else(|| Diagnostic::new(i.pos.clone(), format!("{what} entries must be strings")))
            })
            .collect(),
        NodeKind::Null => Ok(Vec::new()),
        _ => Err(Diagnostic::new(node.pos.clone(), format!("{what} must be a string or a list of strings"))),
    }
}

pub fn vars_map(node: &Node, what: &str) -> Result<Map<String, Value>, Diagnostic> {
    match node.to_value() {
        Value::Object(m) => {
            for (k, v) in node.as_map().unwrap_or_default() {
                let name = k.key_string();
                if !valid_var_name(&name) {
                    return Err(Diagnostic::new(k.pos.clone(), format!("invalid variable name '{name}' in {what}")));
                }
                let _ = v;
            }
            Ok(m)
        }
        Value::Null => Ok(Map::new()),
        _ => Err(Diagnostic::new(node.pos.clone(), format!("{what} must be a mapping, not a {}", node.type_name()))),
    }
}

/// `register:`'s variable, checked as ansible-core's `validate_variable_name`
/// does (an identifier, not a Jinja keyword, a string); `null` registers nothing.
fn register_name(v: &Node) -> Result<Option<String>, Diagnostic> {
    let why = match &v.kind {
        NodeKind::Null => return Ok(None),
        NodeKind::Str(s) if mailplay_modules::args::valid_variable_name(s) => return Ok(Some(s.clone())),
        NodeKind::Str(s) => format!("Invalid variable name '{s}'."),
        NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_) => {
            let ty = match v.kind {
                NodeKind::Int(_) => "int",
                NodeKind::Float(_) => "float",
                _ => "bool",
            };
            format!("Invalid variable name '{}' of type '{ty}'.", v.key_string())
        }
        _ => format!("Invalid variable name of type '{}'.", if matches!(v.kind, NodeKind::Seq(_)) { "list" } else { "dict" }),
    };
    Err(Diagnostic::new(v.pos.clone(), format!("Invalid 'register' specified: {why}")))
}

pub fn valid_var_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !s.chars().next().is_some_and(|c| c.is_ascii_digit())
}

fn loop_control(node: &Node) -> Result<LoopControl, Diagnostic> {
    let entries = node.as_map().ok_or_else(|| Diagnostic::new(node.pos.clone(), "loop_control must be a mapping"))?;
    let mut lc = LoopControl::default();
    const KEYS: &[&str] = &["loop_var", "index_var", "label", "pause", "extended", "extended_allitems", "break_when"];
    for (k, v) in entries {
        let key = k.key_string();
        match key.as_str() {
            "loop_var" => {
                lc.loop_var = Some(v.as_str().ok_or_else(|| Diagnostic::new(v.pos.clone(), "loop_var must be a string"))?.to_string())
            }
            "index_var" => {
                lc.index_var = Some(v.as_str().ok_or_else(|| Diagnostic::new(v.pos.clone(), "index_var must be a string"))?.to_string())
            }
            "label" => lc.label = Some(v.to_value()),
            "pause" => lc.pause = Some(v.to_value()),
            "extended" => lc.extended = Some(v.to_value()),
            "extended_allitems" => lc.extended_allitems = Some(v.to_value()),
            "break_when" => lc.break_when = exprs(v)?,
            other => {
                let d = Diagnostic::new(k.pos.clone(), format!("'{other}' is not a valid attribute for a LoopControl"));
                return Err(match closest(other, KEYS.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean '{s}'?")),
                    None => d,
                });
            }
        }
    }
    Ok(lc)
}

/// Ansible's words for a task file that is not there (AnsibleFileNotFound
/// as its strategy reports it); `is_file_not_found` recognises them.
pub fn file_not_found(path: &Path) -> String {
    let p = absolute(path);
    let p = p.display();
    format!(
        "Could not find or access '{p}' on the Ansible Controller: Unable to retrieve file contents.\nCould not find or access '{p}' on the Ansible Controller."
    )
}

pub fn is_file_not_found(message: &str) -> bool {
    message.starts_with("Could not find or access '")
}

/// `p` from the root, without `.` steps (as Ansible shows the paths it tried).
fn absolute(p: &Path) -> std::path::PathBuf {
    let full =
        if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf()) };
    full.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect()
}

/// Ansible's TaskInclude/IncludeRole option checks: an include or import
/// takes only its own options, and `apply` only on `include_*`.
fn include_options_error(module: &str, short: &str, args: &Map<String, Value>) -> Option<String> {
    let valid: &[&str] = match short {
        "include_tasks" | "import_tasks" => &["file", "_raw_params", "apply"],
        "include_role" | "import_role" => &[
            "name",
            "role",
            "tasks_from",
            "vars_from",
            "defaults_from",
            "handlers_from",
            "apply",
            "public",
            "allow_duplicates",
            "rolespec_validate",
        ],
        _ => return None,
    };
    let bad: Vec<&str> = args.keys().map(String::as_str).filter(|k| !valid.contains(k)).collect();
    if !bad.is_empty() {
        return Some(format!("Invalid options for {module}: {}", bad.join(",")));
    }
    match args.get("apply") {
        Some(a) if short.starts_with("import_") && !a.is_null() && a.as_object().is_none_or(|m| !m.is_empty()) => {
            Some(format!("Invalid options for {module}: apply"))
        }
        _ => None,
    }
}

/// What a handler of an imported role takes from the `import_role` task
/// that it does not set itself; the import's `when` comes first.
fn inherit_import_keywords(import: &Task, h: &mut Task) {
    fn fill(own: &mut Option<Value>, parent: &Option<Value>) {
        if own.is_none() {
            own.clone_from(parent);
        }
    }
    fill(&mut h.delegate_to, &import.delegate_to);
    fill(&mut h.delegate_facts, &import.delegate_facts);
    fill(&mut h.environment, &import.environment);
    fill(&mut h.check_mode, &import.check_mode);
    fill(&mut h.diff, &import.diff);
    fill(&mut h.no_log, &import.no_log);
    h.become_opts = crate::exec::inherited::merge_become(&import.become_opts, &h.become_opts);
    if !import.when.is_empty() {
        let mut when = import.when.clone();
        when.append(&mut h.when);
        h.when = when;
    }
    if !import.vars.is_empty() {
        let mut vars = (*import.vars).clone();
        vars.extend(h.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        h.vars = Arc::new(vars);
    }
}

/// Is `name` something a task can call?
/// A name a task may use as its action: an engine action, a module mailplay
/// implements, or any of Ansible's builtin modules and actions (one mailplay
/// lacks fails only where a task using it runs).
pub fn known_action(name: &str) -> bool {
    is_own_action(name) || is_ansible_builtin(name) || super::library::resolve(name).is_some()
}

/// An action mailplay carries out itself: an engine action or one of its modules.
pub(crate) fn is_own_action(name: &str) -> bool {
    is_engine_action(name) || Registry::global().contains(name)
}

fn suggest_action(name: &str) -> Option<String> {
    let short = short_name(name);
    let mut candidates: Vec<&str> = Registry::global().names().collect();
    candidates.extend(ENGINE_ACTIONS.iter().copied());
    candidates.extend(super::ansible_builtins::ANSIBLE_BUILTIN_NAMES.iter().copied());
    closest(short, candidates)
}

impl Loader {
    /// A list of tasks (a file, `tasks:`, `block:` ...).
    pub fn tasks(&mut self, node: &Node, dir: &Path, role: &Option<Arc<Role>>) -> Vec<Task> {
        match &node.kind {
            NodeKind::Null => Vec::new(),
            NodeKind::Seq(items) => items.iter().filter_map(|t| self.task(t, dir, role)).flatten().collect(),
            _ => {
                self.err(Diagnostic::new(node.pos.clone(), format!("a list of tasks is expected here, not a {}", node.type_name())));
                Vec::new()
            }
        }
    }

    /// One entry of a task list. Static imports may expand to nothing on error.
    fn task(&mut self, node: &Node, dir: &Path, role: &Option<Arc<Role>>) -> Option<Vec<Task>> {
        let Some(entries) = node.as_map() else {
            self.err(Diagnostic::new(node.pos.clone(), format!("a task must be a mapping, not a {}", node.type_name())));
            return None;
        };
        let has = |k: &str| entries.iter().any(|(key, _)| key.key_string() == k);
        let handlers_before = self.extra_handlers.len();
        let mut task = if has("block") {
            let get = |k: &str| entries.iter().find(|(key, _)| key.key_string() == k).map(|(_, v)| v);
            let block = self.tasks(get("block").expect("has block"), dir, role);
            let rescue = get("rescue").map(|n| self.tasks(n, dir, role)).unwrap_or_default();
            let always = get("always").map(|n| self.tasks(n, dir, role)).unwrap_or_default();
            Task::new(TaskKind::Block { block, rescue, always }, node.pos.clone())
        } else {
            self.action(node, entries, dir, role)?
        };
        task.role = role.clone();
        let is_block = matches!(task.kind, TaskKind::Block { .. });
        for (k, v) in entries {
            let key = k.key_string();
            if let Err(d) = self.keyword(&mut task, &key, k, v, is_block) {
                self.err(d);
            }
        }
        // Static imports: the imported tasks become a block carrying the
        // import's keywords. An imported role's handlers carry them too
        // (Ansible makes the import their parent).
        if has("import_role") || has("ansible.builtin.import_role") || has("ansible.legacy.import_role") {
            for h in &mut self.extra_handlers[handlers_before..] {
                inherit_import_keywords(&task, h);
            }
        }
        Some(vec![task])
    }

    /// A value of a static import rendered when the play loads, with the
    /// play's vars (no host's); left as written if it cannot be.
    fn render_at_load(&self, v: &Value, own: Option<Map<String, Value>>) -> Value {
        let scope = self.load_scope(own);
        crate::template::Templar::new().render_value(v, &scope).unwrap_or_else(|_| v.clone())
    }

    /// An include's `apply:`: its keywords on a block the included tasks
    /// go into (`Ok(None)` without one; `Err` after reporting a bad one).
    fn apply_block(&mut self, v: &Node, action: &str) -> Option<Option<Box<Task>>> {
        match v.get("apply") {
            None => Some(None),
            Some(a) if a.as_map().is_some() => {
                let mut block = Task::new(TaskKind::Block { block: vec![], rescue: vec![], always: vec![] }, a.pos.clone());
                for (k, kv) in a.as_map().unwrap_or_default() {
                    if let Err(d) = self.keyword(&mut block, &k.key_string(), k, kv, true) {
                        self.err(d);
                    }
                }
                Some(Some(Box::new(block)))
            }
            Some(a) => {
                self.err(Diagnostic::new(a.pos.clone(), format!("{action}: apply must be a mapping of keywords")));
                None
            }
        }
    }

    fn keyword(&mut self, task: &mut Task, key: &str, k: &Node, v: &Node, is_block: bool) -> Result<(), Diagnostic> {
        let val = || Some(v.to_value());
        match key {
            "name" => task.name = Some(v.as_str().map(str::to_string).unwrap_or_else(|| v.key_string())),
            "when" => task.when = exprs(v)?,
            "changed_when" => task.changed_when = Some(exprs(v)?),
            "failed_when" => task.failed_when = Some(exprs(v)?),
            "until" => {
                task.until =
                    exprs(v)?.into_iter().reduce(|a, b| Expr { text: format!("({}) and ({})", a.text, b.text), pos: a.pos, literal: None })
            }
            "loop" => task.loop_ = Some(LoopSpec { kind: LoopKind::Loop, items: v.to_value(), pos: v.pos.clone() }),
            k2 if k2.starts_with("with_") => {
                task.loop_ =
                    Some(LoopSpec { kind: LoopKind::With(k2["with_".len()..].to_string()), items: v.to_value(), pos: v.pos.clone() })
            }
            "loop_control" => task.loop_control = loop_control(v)?,
            "register" => task.register = register_name(v)?,
            "ignore_errors" => task.ignore_errors = val(),
            "ignore_unreachable" => task.ignore_unreachable = val(),
            "notify" => task.notify = string_list(v, "notify")?,
            "listen" => task.listen = string_list(v, "listen")?,
            "tags" => task.tags = tags(v)?,
            "become" => task.become_opts.become_ = val(),
            "become_user" => task.become_opts.become_user = val(),
            "become_method" => task.become_opts.become_method = val(),
            "become_flags" => task.become_opts.become_flags = val(),
            "become_exe" => task.become_opts.become_exe = val(),
            "delegate_to" => task.delegate_to = val(),
            "delegate_facts" => task.delegate_facts = val(),
            "run_once" => task.run_once = val(),
            "check_mode" => task.check_mode = val(),
            "diff" => task.diff = val(),
            "no_log" => task.no_log = val(),
            "vars" => task.vars = std::sync::Arc::new(vars_map(v, "vars")?),
            "environment" => task.environment = val(),
            "retries" => task.retries = val(),
            "delay" => task.delay = val(),
            "timeout" => task.timeout = val(),
            "any_errors_fatal" => task.any_errors_fatal = val(),
            "args" | "block" | "rescue" | "always" => {}
            // Imports become blocks; their own key is the action, not an attribute.
            "import_tasks" | "import_role" | "ansible.builtin.import_tasks" | "ansible.builtin.import_role" => {}
            "throttle" => task.throttle = val(),
            "module_defaults" => task.module_defaults = Some(module_defaults(v)?),
            "collections" => builtin_collections_only(v)?,
            // Empty or `never` asks for no debugger, which is what mailplay
            // has; any other value is refused.
            "debugger" if v.is_null() || v.as_str() == Some("never") => {}
            "debugger" => {
                return Err(Diagnostic::new(k.pos.clone(), format!("'{key}' is not supported by mailplay (there is no task debugger)")));
            }
            "async" => task.async_ = val(),
            "poll" => task.poll = val(),
            "remote_user" => task.become_opts.remote_user = val(),
            "connection" | "port" => {
                return Err(Diagnostic::new(
                    k.pos.clone(),
                    format!("'{key}' on a task is not supported by mailplay yet; set it in the inventory"),
                ));
            }
            _ if is_block => {
                let d = Diagnostic::new(k.pos.clone(), format!("'{key}' is not a valid attribute for a Block"));
                return Err(match closest(key, TASK_KEYWORDS.iter().chain(BLOCK_KEYWORDS).copied()) {
                    Some(s) => d.with_help(format!("did you mean '{s}'?")),
                    None => d,
                });
            }
            _ => {} // the action key, handled by `action`
        }
        Ok(())
    }

    /// Find the task's action (module or engine action) and its args.
    fn action(&mut self, node: &Node, entries: &[(Node, Node)], dir: &Path, role: &Option<Arc<Role>>) -> Option<Task> {
        let candidates: Vec<&(Node, Node)> = entries
            .iter()
            .filter(|(k, _)| {
                let key = k.key_string();
                !TASK_KEYWORDS.contains(&key.as_str()) && !key.starts_with("with_") && !BLOCK_KEYWORDS.contains(&key.as_str())
            })
            .collect();
        let actions: Vec<&(Node, Node)> = candidates
            .iter()
            .copied()
            .filter(|(k, _)| {
                let key = k.key_string();
                key == "action" || key == "local_action" || known_action(&key)
            })
            .collect();
        let unknown: Vec<&(Node, Node)> = candidates.iter().copied().filter(|c| !actions.iter().any(|a| std::ptr::eq(*a, *c))).collect();
        if actions.len() > 1 {
            let names: Vec<String> = actions.iter().map(|(k, _)| k.key_string()).collect();
            self.err(Diagnostic::new(actions[1].0.pos.clone(), format!("conflicting action statements: {}", names.join(", "))));
            return None;
        }
        if let Some((k, _)) = unknown.first() {
            let key = k.key_string();
            if actions.is_empty() {
                // At the task, as ansible-playbook points.
                let mut d = Diagnostic::new(node.pos.clone(), format!("couldn't resolve module/action '{key}'. This often indicates a misspelling, missing collection, or incorrect module path."));
                if let Some(s) = suggest_action(&key).or_else(|| closest(&key, TASK_KEYWORDS.iter().copied())) {
                    d = d.with_help(format!("did you mean '{s}'?"));
                }
                self.err(d);
            } else {
                let mut d = Diagnostic::new(k.pos.clone(), format!("'{key}' is not a valid attribute for a Task"));
                if let Some(s) = closest(&key, TASK_KEYWORDS.iter().copied()) {
                    d = d.with_help(format!("did you mean '{s}'?"));
                }
                self.err(d);
            }
            return None;
        }
        let Some((k, v)) = actions.first().copied() else {
            self.err(Diagnostic::new(node.pos.clone(), "no module/action detected in task"));
            return None;
        };
        let key = k.key_string();
        let args_node = entries.iter().find(|(k, _)| k.key_string() == "args").map(|(_, v)| v);
        let (module, mut args, arg_source) = if key == "action" || key == "local_action" {
            match self.action_form(v) {
                Some((m, a)) => (m, a, v.clone()),
                None => return None,
            }
        } else {
            match self.module_args(&key, v) {
                Some(a) => (key.clone(), a, v.clone()),
                None => return None,
            }
        };
        if let Some(extra) = args_node {
            match extra.to_value() {
                Value::Object(m) => {
                    for (ak, av) in m {
                        args.entry(ak).or_insert(av);
                    }
                }
                Value::Null => {}
                // `args: '{{ mapping }}'`: arguments a template gives (an
                // arg splat, under the task's own), as Ansible takes them.
                Value::String(s)
                    if !args.contains_key("_raw_params")
                        && !RAW_PARAMS_MODULES.contains(&short_name(&module))
                        && crate::exec::arg_splat::is_whole_template(&s) =>
                {
                    args.insert("_raw_params".into(), Value::String(s));
                }
                _ => self.err(Diagnostic::new(extra.pos.clone(), "args must be a mapping")),
            }
        }
        // Ansible's ModuleArgsParser: `_ansible_` arguments are its own.
        if let Some(reserved) = args.keys().find(|k| k.starts_with("_ansible_")) {
            self.err(Diagnostic::new(
                v.pos.clone(),
                format!(
                    "Invalid parameter specified beginning with keyword '_ansible_' for action '{module}': '{reserved}'. \
                     The prefix '_ansible_' is reserved for internal use only."
                ),
            ));
            return None;
        }
        let short = short_name(&module).to_string();
        let pos = node.pos.clone();
        // The task's own `vars`, for names a static import renders now.
        let task_vars = entries.iter().find(|(k, _)| k.key_string() == "vars").and_then(|(_, v)| vars_map(v, "vars").ok());
        if let Some(msg) = include_options_error(&module, &short, &args) {
            self.err(Diagnostic::new(node.pos.clone(), msg));
            return None;
        }
        let args_v = Value::Object(args);
        let task = match short.as_str() {
            "meta" => {
                let action = args_v.get("_raw_params").and_then(Value::as_str).unwrap_or_default().trim().to_string();
                if !META_ACTIONS.contains(&action.as_str()) {
                    let d = Diagnostic::new(v.pos.clone(), format!("invalid meta action requested: '{action}'"));
                    self.err(match closest(&action, META_ACTIONS.iter().copied()) {
                        Some(s) => d.with_help(format!("did you mean '{s}'?")),
                        None => d,
                    });
                    return None;
                }
                Task::new(TaskKind::Meta(action), pos)
            }
            "include_tasks" => {
                let file = args_v.get("file").or_else(|| args_v.get("_raw_params")).cloned();
                let Some(file) = file else {
                    // Ansible's words, at the task.
                    self.err(Diagnostic::new(node.pos.clone(), format!("No file specified for {module}")));
                    return None;
                };
                // `apply:` keywords go on a block around the included tasks.
                let apply = self.apply_block(v, "include_tasks")?;
                Task::new(TaskKind::IncludeTasks { file, apply }, pos)
            }
            "import_tasks" => {
                let file = args_v.get("file").or_else(|| args_v.get("_raw_params")).and_then(Value::as_str).map(str::to_string);
                let Some(file) = file else {
                    self.err(Diagnostic::new(node.pos.clone(), format!("No file specified for {module}")));
                    return None;
                };
                // A template is rendered now, with what is known when the
                // play loads (its vars, the task's, -e); a host's are not.
                let file = if crate::template::Templar::is_template(&file) {
                    let scope = self.load_scope(task_vars.clone());
                    match crate::template::Templar::new().render_value(&Value::from(file.as_str()), &scope) {
                        Ok(Value::String(s)) => s,
                        Ok(other) => {
                            self.err(Diagnostic::new(v.pos.clone(), format!("import_tasks: the file name must be a string, got {other}")));
                            return None;
                        }
                        Err(e) => {
                            self.err(
                                Diagnostic::new(v.pos.clone(), format!("import_tasks: {}", e.message))
                                    .with_help("import_tasks is static: its name can use play vars, the task's vars and -e; use include_tasks for a name chosen per host"),
                            );
                            return None;
                        }
                    }
                } else {
                    file
                };
                let tasks = self.import_tasks(&file, dir, role, &v.pos)?;
                if self.loading_handlers {
                    if let Some(nested) = nested_handler_block(&tasks) {
                        self.err(Diagnostic::new(nested.pos.clone(), "Using a block as a handler is not supported."));
                        return None;
                    }
                }
                Task::new(TaskKind::Block { block: tasks, rescue: vec![], always: vec![] }, pos)
            }
            "include_role" | "import_role" => {
                let name = args_v.get("name").or_else(|| args_v.get("role")).cloned();
                let Some(name) = name else {
                    self.err(Diagnostic::new(v.pos.clone(), format!("{short} needs a role name")));
                    return None;
                };
                let get = |k: &str| args_v.get(k).cloned();
                // As Ansible's IncludeRole.load: the `*_from` files are strings.
                for key in ["tasks_from", "vars_from", "defaults_from", "handlers_from"] {
                    if let Some(other) = args_v.get(key).filter(|v| !v.is_string()) {
                        let class = match other {
                            Value::Array(_) => "list",
                            Value::Object(_) => "dict",
                            Value::Bool(_) => "bool",
                            Value::Number(n) if n.is_f64() => "float",
                            Value::Number(_) => "int",
                            _ => "NoneType",
                        };
                        self.err(Diagnostic::new(v.pos.clone(), format!("Expected a string for {key} but got <class '{class}'> instead")));
                        return None;
                    }
                }
                if short == "import_role" {
                    let role_name = name.as_str().unwrap_or_default().to_string();
                    let from_file =
                        |k: &str| get(k).map(|v| self.render_at_load(&v, task_vars.clone())).and_then(|v| v.as_str().map(str::to_string));
                    let from = super::RoleFrom {
                        tasks: from_file("tasks_from"),
                        vars: from_file("vars_from"),
                        defaults: from_file("defaults_from"),
                        handlers: from_file("handlers_from"),
                    };
                    // `allow_duplicates: false`: not again if the play already has the role.
                    // (A template there is rendered now, with the play's vars, as the role name is.)
                    let no_dups = args_v
                        .get("allow_duplicates")
                        .map(|v| self.render_at_load(v, task_vars.clone()))
                        .as_ref()
                        .and_then(super::keywords::ansible_bool)
                        == Some(false);
                    if let Some(path) = self.find_role(&role_name, dir) {
                        if no_dups && self.play_roles.iter().any(|(p, _)| *p == path) {
                            return Some(Task::new(TaskKind::Block { block: vec![], rescue: vec![], always: vec![] }, pos));
                        }
                        self.play_roles.push((path, Map::new()));
                    }
                    let (_r, tasks, handlers) = self.role(&role_name, dir, Map::new(), &from, &v.pos)?;
                    self.extra_handlers.extend(handlers);
                    Task::new(TaskKind::Block { block: tasks, rescue: vec![], always: vec![] }, pos)
                } else {
                    let apply = self.apply_block(v, "include_role")?;
                    Task::new(
                        TaskKind::IncludeRole {
                            apply,
                            name,
                            tasks_from: get("tasks_from"),
                            vars_from: get("vars_from"),
                            defaults_from: get("defaults_from"),
                            handlers_from: get("handlers_from"),
                            public: get("public"),
                            allow_duplicates: get("allow_duplicates"),
                        },
                        pos,
                    )
                }
            }
            "import_playbook" => {
                self.err(Diagnostic::new(
                    k.pos.clone(),
                    "import_playbook is only allowed at the top level of a playbook, not in a task list",
                ));
                return None;
            }
            _ => Task::new(
                TaskKind::Module { module: module.clone(), args: args_v, args_node: Some(arg_source), args_pos: k.pos.clone() },
                pos,
            ),
        };
        let _ = BecomeOpts::default();
        Some(task)
    }

    /// `module: {args}` / `module: k=v free text` / `module:`.
    fn module_args(&mut self, module: &str, v: &Node) -> Option<Map<String, Value>> {
        match &v.kind {
            NodeKind::Map(_) => match v.to_value() {
                Value::Object(m) => Some(m),
                _ => unreachable!("a map node converts to an object"),
            },
            NodeKind::Null => Some(Map::new()),
            NodeKind::Str(s) => {
                let only = RAW_PARAMS_MODULES.contains(&short_name(module)).then_some(COMMAND_KV);
                match parse_kv(s, only) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        self.err(Diagnostic::new(v.pos.clone(), e));
                        None
                    }
                }
            }
            _ => {
                let mut m = Map::new();
                m.insert("_raw_params".into(), Value::String(v.key_string()));
                Some(m)
            }
        }
    }

    /// `action: copy src=a dest=b` or `action: {module: copy, src: a}`.
    fn action_form(&mut self, v: &Node) -> Option<(String, Map<String, Value>)> {
        match &v.kind {
            // `action: "{{ ansible_facts.pkg_mgr }}"` (with `args:`): the
            // module is named when the task runs.
            NodeKind::Str(s) if crate::exec::arg_splat::is_whole_template(s) => Some((s.trim().to_string(), Map::new())),
            NodeKind::Str(s) => {
                let (module, rest) = s.trim().split_once(char::is_whitespace).unwrap_or((s.trim(), ""));
                if !known_action(module) {
                    self.err(Diagnostic::new(v.pos.clone(), format!("couldn't resolve module/action '{module}'")));
                    return None;
                }
                let node = Node::new(NodeKind::Str(rest.to_string()), v.pos.clone());
                self.module_args(module, &node).map(|a| (module.to_string(), a))
            }
            NodeKind::Map(_) => {
                let mut m = v.to_value().as_object().cloned().unwrap_or_default();
                let Some(Value::String(module)) = m.remove("module") else {
                    self.err(Diagnostic::new(v.pos.clone(), "action: needs a 'module' key"));
                    return None;
                };
                // `module: "{{ name }}"` is named when the task runs, as the string form.
                if crate::exec::arg_splat::is_whole_template(&module) {
                    return Some((module.trim().to_string(), m));
                }
                if !known_action(&module) {
                    self.err(Diagnostic::new(v.pos.clone(), format!("couldn't resolve module/action '{module}'")));
                    return None;
                }
                Some((module, m))
            }
            _ => {
                self.err(Diagnostic::new(v.pos.clone(), "action: must be a string or a mapping"));
                None
            }
        }
    }

    fn import_tasks(&mut self, file: &str, dir: &Path, role: &Option<Arc<Role>>, pos: &Pos) -> Option<Vec<Task>> {
        let mut candidates = vec![dir.join(file)];
        if let Some(r) = role {
            candidates.insert(0, r.path.join("tasks").join(file));
            // `import_tasks: tasks/x.yml` (from handlers/, say) names a file
            // from the role's own folder.
            candidates.insert(1, r.path.join(file));
            if let Some(base) = &self.playbook_dir {
                candidates.push(base.join(file));
            }
        }
        let Some(path) = candidates.iter().find(|c| c.is_file()).cloned() else {
            let last = candidates.last().cloned().unwrap_or_else(|| std::path::PathBuf::from(file));
            self.err(
                Diagnostic::new(pos.clone(), file_not_found(&last))
                    .with_help(format!("looked in {}", candidates.iter().map(|c| c.display().to_string()).collect::<Vec<_>>().join(", "))),
            );
            return None;
        };
        self.task_file(&path, role)
    }
}

/// `module_defaults:` a mapping of module name to a mapping of default
/// arguments (or a list of such mappings, merged). Names are checked now, so
/// a misspelt module is an error at load time; `group/...` action groups
/// name collections mailplay does not have.
pub fn module_defaults(v: &Node) -> Result<Value, Diagnostic> {
    let mut merged = serde_json::Map::new();
    let parts: Vec<&Node> = match &v.kind {
        NodeKind::Seq(items) => items.iter().collect(),
        _ => vec![v],
    };
    for part in parts {
        let Some(entries) = part.as_map() else {
            return Err(Diagnostic::new(part.pos.clone(), "module_defaults must be a mapping of module names to their default arguments"));
        };
        for (name, args) in entries {
            let module = name.key_string();
            if module.starts_with("group/") {
                return Err(Diagnostic::new(
                    name.pos.clone(),
                    format!("module_defaults: action group '{module}' is not supported by mailplay; name the modules"),
                ));
            }
            let short = module.strip_prefix("ansible.builtin.").or_else(|| module.strip_prefix("ansible.legacy.")).unwrap_or(&module);
            // Defaults for a builtin mailplay lacks are kept: they matter
            // only if a task with that module runs, and that task fails.
            if Registry::global().get(short).is_none() && !is_ansible_builtin(&module) && super::library::resolve(&module).is_none() {
                let d = Diagnostic::new(name.pos.clone(), format!("module_defaults: unknown module '{module}'"));
                return Err(match closest(short, Registry::global().names()) {
                    Some(s) => d.with_help(format!("did you mean '{s}'?")),
                    None => d,
                });
            }
            match args.to_value() {
                Value::Object(a) => {
                    let slot = merged.entry(short.to_string()).or_insert_with(|| Value::Object(serde_json::Map::new()));
                    if let Value::Object(m) = slot {
                        m.extend(a);
                    }
                }
                Value::Null => {}
                _ => {
                    return Err(Diagnostic::new(args.pos.clone(), format!("module_defaults for '{module}' must be a mapping of arguments")))
                }
            }
        }
    }
    Ok(Value::Object(merged))
}

/// `collections:` only the built-in namespace exists in mailplay, so a list
/// naming anything else would silently change nothing: refuse it.
pub fn builtin_collections_only(v: &Node) -> Result<(), Diagnostic> {
    for c in v.as_seq().unwrap_or_default() {
        let name = c.key_string();
        if !matches!(name.as_str(), "ansible.builtin" | "ansible.legacy") {
            return Err(Diagnostic::new(
                c.pos.clone(),
                format!("collection '{name}' is not available: mailplay has only the built-in modules (ansible.builtin)"),
            ));
        }
    }
    if !v.is_null() && v.as_seq().is_none() {
        return Err(Diagnostic::new(v.pos.clone(), "collections must be a list"));
    }
    Ok(())
}

/// The first block inside a top-level block of a task list loaded as
/// handlers: Ansible's `load_list_of_tasks(use_handlers=True)` refuses it
/// (a block at the top of the list is only the group every list is
/// wrapped in).
pub(crate) fn nested_handler_block(tasks: &[Task]) -> Option<&Task> {
    tasks.iter().find_map(|t| match &t.kind {
        TaskKind::Block { block, rescue, always } => {
            block.iter().chain(rescue).chain(always).find(|c| matches!(c.kind, TaskKind::Block { .. }))
        }
        _ => None,
    })
}
