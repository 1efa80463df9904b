//! Building the variable scope of one task on one host, in Ansible's
//! precedence order (lowest first):
//!
//! `ansible_host` = the inventory name < role defaults (all of the play's roles, then the task's own) < inventory vars (group, then host; inventory files, then
//! group_vars/ and host_vars/ dirs, then the playbook's) < facts < play vars
//! < vars_files < role vars < block vars < task vars < set_fact / register /
//! include_vars < role params < include params (an include's `vars`) <
//! magic variables < extra vars (`-e`).
//!
//! Every level is an `Arc<Map>`, so a scope costs a few pointer copies.

use std::path::PathBuf;
use std::sync::Arc;

use crate::playbook::ast::Task;
use crate::template::Scope;

use super::host_state::{HostState, Layer};
use super::inherited::Effective;

/// Everything the scope of a task depends on besides the host.
pub struct ScopeParts<'a> {
    pub play_vars: &'a Layer,
    /// Defaults and vars of every role in the play: Ansible exposes them to
    /// the whole play (roles are not private by default).
    pub play_role_defaults: &'a Layer,
    pub play_role_vars: &'a Layer,
    pub extra_vars: &'a Layer,
    pub search_paths: &'a Arc<Vec<PathBuf>>,
}

/// Ansible's `ansible_search_path` (the TaskExecutor puts it in every
/// task's variables, over all others): the folders the task's lookups,
/// `first_found` and templates search, as absolute normalized paths: the
/// role's folder, the folder of the task's file, then the playbook's.
/// Data, never rendered (a folder name may hold `{{`). mailplay's roles
/// know no parent role, so a dependency's parents are not listed.
pub fn search_path_layer(paths: &[PathBuf]) -> Layer {
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut list: Vec<serde_json::Value> = Vec::new();
    for p in paths {
        let abs = if p.is_absolute() { p.clone() } else { cwd.join(p) };
        let v = serde_json::Value::from(crate::template::filters_path::normpath(&abs.to_string_lossy()));
        if !list.contains(&v) {
            list.push(v);
        }
    }
    let mut m = serde_json::Map::new();
    m.insert("ansible_search_path".into(), serde_json::Value::Array(list));
    Arc::new(m)
}

pub fn build_scope(
    parts: &ScopeParts<'_>,
    host: &HostState,
    eff: &Effective,
    (inherited_vars, include_params): (&[Layer], &[Layer]),
    task: &Task,
    task_magic: Layer,
) -> Scope {
    let mut s = Scope::new().with_search_paths(parts.search_paths.clone());
    // Below everything: the connection's address, the inventory name unless
    // a variable says otherwise (Ansible's play context adds it so).
    let mut connection = serde_json::Map::new();
    connection.insert("ansible_host".into(), serde_json::Value::from(host.name.clone()));
    s.push(Arc::new(connection));
    s.push(parts.play_role_defaults.clone());
    for parent in &eff.dep_chain {
        s.push(parent.defaults.clone());
    }
    if let Some(role) = &eff.role {
        s.push(role.defaults.clone());
    }
    s.push(host.inventory_vars.clone());
    s.push_data(host.facts.clone());
    s.push(parts.play_vars.clone());
    s.push(host.play_vars_files.clone());
    s.push(parts.play_role_vars.clone());
    for parent in &eff.dep_chain {
        s.push(parent.vars.clone());
    }
    if let Some(role) = &eff.role {
        s.push(role.vars.clone());
    }
    for layer in inherited_vars {
        s.push(layer.clone());
    }
    if !task.vars.is_empty() {
        s.push(task.vars.clone());
    }
    s.push(host.included_vars.clone());
    s.push_data(host.set_facts.clone());
    if let Some(role) = &eff.role {
        if !role.params.is_empty() {
            s.push(role.params.clone());
        }
    }
    for layer in include_params {
        s.push(layer.clone());
    }
    s.push(host.play_magic.clone());
    s.push(host.magic.clone());
    s.push(task_magic);
    s.push(parts.extra_vars.clone());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_path_variable_is_absolute_normalized_and_without_repeats() {
        let cwd = std::env::current_dir().unwrap();
        let paths = ["/r/role", "/r/role/tasks/../tasks", "/r/role/tasks", "pb"].map(PathBuf::from);
        let l = search_path_layer(&paths);
        let expected = serde_json::json!(["/r/role", "/r/role/tasks", cwd.join("pb").display().to_string()]);
        assert_eq!(l["ansible_search_path"], expected);
    }
}
