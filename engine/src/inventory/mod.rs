//! Ansible-compatible inventories: INI and YAML files, directories of them,
//! `host1,host2,` lists, and `group_vars/` / `host_vars/` beside them.
//!
//! Variable merging for a host follows Ansible: group variables ordered by
//! depth (`all` first), then `ansible_group_priority`, then name; the
//! inventory files' group vars below the `group_vars/` folder's; host vars
//! above group vars, `host_vars/` above the inventory file's host vars.

mod dynamic;
mod export;
mod ini;
mod literal;
mod pattern;
pub use pattern::{set_pattern_mismatch, PatternMismatch};
mod ranges;
mod vars_dirs;
mod yaml_inventory;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::diag::Diagnostic;

pub use literal::parse_value;
pub use vars_dirs::vars_with_playbook_dirs;

#[derive(Debug, Clone, Default)]
pub struct Group {
    pub name: String,
    pub hosts: Vec<String>,
    pub children: Vec<String>,
    pub parents: Vec<String>,
    /// Variables from inventory files.
    pub vars: Map<String, Value>,
}

#[derive(Debug, Clone, Default)]
pub struct HostEntry {
    pub name: String,
    /// Variables from inventory files.
    pub vars: Map<String, Value>,
}

#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub hosts: IndexMap<String, HostEntry>,
    pub groups: IndexMap<String, Group>,
    /// `group_vars/NAME` and `host_vars/NAME` found beside the sources.
    pub(crate) dir_group_vars: IndexMap<String, Map<String, Value>>,
    pub(crate) dir_host_vars: IndexMap<String, Map<String, Value>>,
    /// The implicit localhost, once a pattern, `delegate_to` or `hostvars`
    /// named it: its name is the first localhost name used (Ansible's
    /// `InventoryData._create_implicit_localhost`).
    implicit_localhost: OnceLock<String>,
}

/// The names Ansible takes for the controller (`C.LOCALHOST`).
pub const LOCALHOST_NAMES: &[&str] = &["127.0.0.1", "localhost", "::1"];

/// The controller's Python, for the implicit localhost's
/// `ansible_python_interpreter` (Ansible gives its own `sys.executable`).
fn controller_python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let path = std::env::var_os("PATH").unwrap_or_default();
        ["python3", "python"]
            .iter()
            .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
            .find(|p| {
                use std::os::unix::fs::PermissionsExt;
                p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "/usr/bin/python3".into())
    })
}

/// Extensions Ansible skips in inventory directories.
const IGNORED_EXTENSIONS: &[&str] = &["~", ".orig", ".bak", ".ini~", ".cfg", ".retry", ".pyc", ".pyo", ".md", ".txt", ".rst", ".json~"];

impl Inventory {
    fn empty() -> Self {
        let mut inv = Inventory::default();
        inv.ensure_group("all");
        // `ungrouped` is always the first child of `all`, as in Ansible.
        inv.add_child("all", "ungrouped").expect("no loop in a new inventory");
        inv
    }

    /// Load `-i` sources: files, directories, or `a,b,` host lists.
    pub fn load(sources: &[String]) -> Result<Inventory, Diagnostic> {
        let mut inv = Inventory::empty();
        for src in sources {
            let path = Path::new(src);
            if !path.exists() && src.contains(',') {
                for h in src.split(',').map(str::trim).filter(|h| !h.is_empty()) {
                    inv.add_host(h, "ungrouped");
                }
                continue;
            }
            if !path.exists() {
                return Err(Diagnostic::in_file(path, "Unable to parse inventory: the file or directory does not exist"));
            }
            inv.load_path(path)?;
        }
        inv.reconcile();
        Ok(inv)
    }

    fn load_path(&mut self, path: &Path) -> Result<(), Diagnostic> {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| Diagnostic::in_file(path, format!("cannot read directory: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for e in entries {
                let name = e.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.starts_with('.')
                    || name == "group_vars"
                    || name == "host_vars"
                    || IGNORED_EXTENSIONS.iter().any(|x| name.ends_with(x))
                {
                    continue;
                }
                if e.is_dir() {
                    self.load_path(&e)?;
                } else {
                    self.load_file(&e)?;
                }
            }
            vars_dirs::load_inventory_dirs(self, path)?;
        } else {
            self.load_file(path)?;
            if let Some(dir) = path.parent() {
                vars_dirs::load_inventory_dirs(self, if dir.as_os_str().is_empty() { Path::new(".") } else { dir })?;
            }
        }
        Ok(())
    }

    fn load_file(&mut self, path: &Path) -> Result<(), Diagnostic> {
        let bytes = std::fs::read(path).map_err(|e| Diagnostic::in_file(path, format!("cannot read inventory: {e}")))?;
        // An inventory file may be a whole-file vault.
        let (text, _) = crate::vault::open_text(path, bytes, &crate::vault::context())?;
        let is_yaml = matches!(path.extension().and_then(|e| e.to_str()), Some("yml" | "yaml" | "json"));
        if is_yaml {
            yaml_inventory::parse(self, &text, path)
        } else {
            ini::parse(self, &text, path)
        }
    }

    pub(crate) fn ensure_group(&mut self, name: &str) -> &mut Group {
        self.groups.entry(name.to_string()).or_insert_with(|| Group { name: name.to_string(), ..Default::default() })
    }

    pub(crate) fn add_host(&mut self, host: &str, group: &str) -> &mut HostEntry {
        self.ensure_group(group);
        // A host not yet known is in no group: no scan (a range of 100000
        // new hosts would otherwise cost 5 billion comparisons).
        let known = self.hosts.contains_key(host);
        let g = self.groups.get_mut(group).expect("group exists");
        if !known || !g.hosts.iter().any(|h| h == host) {
            g.hosts.push(host.to_string());
        }
        self.hosts.entry(host.to_string()).or_insert_with(|| HostEntry { name: host.to_string(), vars: Map::new() })
    }

    pub(crate) fn add_child(&mut self, parent: &str, child: &str) -> Result<(), String> {
        if parent == child || self.ancestors(parent).iter().any(|a| a == child) {
            return Err(format!("adding group '{child}' as a child of '{parent}' would create a loop"));
        }
        self.ensure_group(child);
        let p = self.ensure_group(parent);
        if !p.children.iter().any(|c| c == child) {
            p.children.push(child.to_string());
        }
        let c = self.groups.get_mut(child).expect("child exists");
        if !c.parents.iter().any(|x| x == parent) {
            c.parents.push(parent.to_string());
        }
        Ok(())
    }

    /// Ansible's reconcile step: top-level groups become children of `all`,
    /// and `ungrouped` holds exactly the hosts in no other group.
    fn reconcile(&mut self) {
        let names: Vec<String> = self.groups.keys().cloned().collect();
        for g in &names {
            if g != "all" && self.groups[g].parents.is_empty() {
                let _ = self.add_child("all", g);
            }
        }
        let hosts: Vec<String> = self.hosts.keys().cloned().collect();
        for h in hosts {
            let in_other = self.groups.values().any(|g| g.name != "all" && g.name != "ungrouped" && g.hosts.contains(&h));
            let ungrouped = &mut self.groups.get_mut("ungrouped").expect("ungrouped exists").hosts;
            if in_other {
                ungrouped.retain(|x| x != &h);
            } else if !ungrouped.contains(&h) {
                ungrouped.push(h);
            }
        }
    }

    pub fn host_names(&self) -> Vec<String> {
        self.hosts.keys().cloned().collect()
    }

    /// Whether the inventory defines `name` (the implicit localhost is
    /// not defined: see [`Inventory::resolve_host`]).
    pub fn has_host(&self, name: &str) -> bool {
        self.hosts.contains_key(name)
    }

    /// The host `name` stands for, as Ansible's `InventoryData.get_host`: an
    /// inventory host; else, for `localhost`, `127.0.0.1` or `::1`, the
    /// inventory's first host with such a name, or the implicit localhost
    /// (the controller with `ansible_connection=local`, in no group, not
    /// matched by `all`), created on first use.
    pub fn resolve_host(&self, name: &str) -> Option<String> {
        if self.hosts.contains_key(name) {
            return Some(name.to_string());
        }
        if !LOCALHOST_NAMES.contains(&name) {
            return None;
        }
        if let Some(defined) = self.hosts.keys().find(|h| LOCALHOST_NAMES.contains(&h.as_str())) {
            return Some(defined.clone());
        }
        Some(self.implicit_localhost.get_or_init(|| name.to_string()).clone())
    }

    /// Whether `host` is the implicit localhost (already used).
    pub fn is_implicit_localhost(&self, host: &str) -> bool {
        !self.hosts.contains_key(host) && self.implicit_localhost.get().is_some_and(|h| h == host)
    }

    /// The implicit localhost's own variables.
    fn implicit_localhost_vars() -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("ansible_python_interpreter".into(), Value::from(controller_python()));
        m.insert("ansible_connection".into(), Value::from("local"));
        m
    }

    /// All groups above `group` (parents, grandparents, ...).
    pub fn ancestors(&self, group: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut stack = vec![group.to_string()];
        while let Some(g) = stack.pop() {
            if let Some(grp) = self.groups.get(&g) {
                for p in &grp.parents {
                    if !out.contains(p) {
                        out.push(p.clone());
                        stack.push(p.clone());
                    }
                }
            }
        }
        out
    }

    /// Every group the host is in, directly or through children, with `all`.
    pub fn groups_of(&self, host: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for g in self.groups.values().filter(|g| g.hosts.iter().any(|h| h == host)) {
            for name in std::iter::once(g.name.clone()).chain(self.ancestors(&g.name)) {
                if !out.contains(&name) {
                    out.push(name);
                }
            }
        }
        // The implicit localhost is in no group, but takes `all`'s variables.
        if !out.iter().any(|g| g == "all") && (self.has_host(host) || self.is_implicit_localhost(host)) {
            out.push("all".into());
        }
        out
    }

    /// Ansible's `group_names`: sorted, without `all`; a host in no other
    /// group has `ungrouped` (as ansible 2.19 shows it).
    pub fn group_names_of(&self, host: &str) -> Vec<String> {
        let mut g: Vec<String> = self.groups_of(host).into_iter().filter(|g| g != "all").collect();
        g.sort();
        g
    }

    /// The `groups` magic variable: every group with all hosts below it.
    pub fn groups_map(&self) -> Map<String, Value> {
        let mut m = Map::new();
        for g in self.groups.keys() {
            m.insert(g.clone(), Value::from(self.hosts_below(g)));
        }
        m
    }

    /// Hosts of a group and of its children, in inventory order.
    pub fn hosts_below(&self, group: &str) -> Vec<String> {
        if group == "all" {
            return self.host_names();
        }
        let mut set: Vec<String> = Vec::new();
        let mut stack = vec![group.to_string()];
        let mut seen = Vec::new();
        while let Some(g) = stack.pop() {
            if seen.contains(&g) {
                continue;
            }
            seen.push(g.clone());
            if let Some(grp) = self.groups.get(&g) {
                set.extend(grp.hosts.iter().cloned());
                stack.extend(grp.children.iter().cloned());
            }
        }
        self.hosts.keys().filter(|h| set.contains(h)).cloned().collect()
    }

    fn depth(&self, group: &str) -> usize {
        if group == "all" {
            return 0;
        }
        self.groups.get(group).map(|g| g.parents.iter().map(|p| self.depth(p) + 1).max().unwrap_or(1)).unwrap_or(1)
    }

    fn priority(&self, group: &str) -> i64 {
        let from = |m: &Map<String, Value>| {
            m.get("ansible_group_priority").and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
        };
        self.groups.get(group).and_then(|g| from(&g.vars)).or_else(|| self.dir_group_vars.get(group).and_then(from)).unwrap_or(1)
    }

    /// The host's groups in the order their variables apply.
    fn groups_in_precedence(&self, host: &str) -> Vec<String> {
        let mut groups = self.groups_of(host);
        groups.sort_by(|a, b| (self.depth(a), self.priority(a), a.as_str()).cmp(&(self.depth(b), self.priority(b), b.as_str())));
        groups
    }

    /// All inventory-level variables of a host, merged.
    pub fn host_vars(&self, host: &str) -> Map<String, Value> {
        let mut out = Map::new();
        let groups = self.groups_in_precedence(host);
        for g in &groups {
            if let Some(grp) = self.groups.get(g) {
                out.extend(grp.vars.clone());
            }
        }
        for g in &groups {
            if let Some(v) = self.dir_group_vars.get(g) {
                out.extend(v.clone());
            }
        }
        if let Some(h) = self.hosts.get(host) {
            out.extend(h.vars.clone());
        } else if self.is_implicit_localhost(host) {
            out.extend(Self::implicit_localhost_vars());
        }
        if let Some(v) = self.dir_host_vars.get(host) {
            out.extend(v.clone());
        }
        out
    }

    pub fn select(&self, pattern: &str) -> Result<Vec<String>, String> {
        pattern::select(self, pattern)
    }

    pub fn to_list_json(&self) -> Value {
        export::list(self)
    }

    pub fn host_json(&self, host: &str) -> Option<Value> {
        self.has_host(host).then(|| Value::Object(export::sorted(self.host_vars(host))))
    }

    pub fn graph(&self, with_vars: bool) -> String {
        export::graph(self, with_vars)
    }
}
