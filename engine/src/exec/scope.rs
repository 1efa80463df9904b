//! Building the variable scope of one task on one host, in Ansible's
//! precedence order (lowest first):
//!
//! role defaults (all of the play's roles, then the task's own) < inventory vars (group, then host; inventory files, then
//! group_vars/ and host_vars/ dirs, then the playbook's) < facts < play vars
//! < vars_files < role vars < block vars < task vars < set_fact / register /
//! include_vars < role params < magic variables < extra vars (`-e`).
//!
//! Every level is an `Arc<Map>`, so a scope costs a few pointer copies.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::playbook::ast::{Role, Task};
use crate::template::Scope;

use super::host_state::{HostState, Layer};
use super::inherited::Effective;

/// Arc'd copies of the variable maps held by roles and tasks in the AST,
/// made once per run instead of once per host and task.
#[derive(Default)]
pub struct LayerCache {
    by_ptr: Mutex<HashMap<usize, Layer>>,
}

impl LayerCache {
    fn get(&self, key: usize, make: impl FnOnce() -> Map<String, Value>) -> Layer {
        let mut map = self.by_ptr.lock().expect("layer cache lock");
        map.entry(key).or_insert_with(|| Arc::new(make())).clone()
    }

    pub fn role_defaults(&self, role: &Arc<Role>) -> Layer {
        self.get(Arc::as_ptr(role) as usize, || role.defaults.clone())
    }
    pub fn role_vars(&self, role: &Arc<Role>) -> Layer {
        self.get(Arc::as_ptr(role) as usize + 1, || role.vars.clone())
    }
    pub fn role_params(&self, role: &Arc<Role>) -> Layer {
        self.get(Arc::as_ptr(role) as usize + 2, || role.params.clone())
    }
    pub fn task_vars(&self, task: &Task) -> Layer {
        self.get(task as *const Task as usize, || task.vars.clone())
    }
}

/// Everything the scope of a task depends on besides the host.
pub struct ScopeParts<'a> {
    pub play_vars: &'a Layer,
    /// Defaults and vars of every role in the play: Ansible exposes them to
    /// the whole play (roles are not private by default).
    pub play_role_defaults: &'a Layer,
    pub play_role_vars: &'a Layer,
    pub extra_vars: &'a Layer,
    pub cache: &'a LayerCache,
    pub search_paths: &'a Arc<Vec<PathBuf>>,
}

pub fn build_scope(
    parts: &ScopeParts<'_>,
    host: &HostState,
    eff: &Effective,
    inherited_vars: &[Layer],
    task: &Task,
    task_magic: Layer,
) -> Scope {
    let mut s = Scope::new().with_search_paths(parts.search_paths.clone());
    s.push(parts.play_role_defaults.clone());
    if let Some(role) = &eff.role {
        s.push(parts.cache.role_defaults(role));
    }
    s.push(host.inventory_vars.clone());
    s.push(host.facts.clone());
    s.push(parts.play_vars.clone());
    s.push(host.play_vars_files.clone());
    s.push(parts.play_role_vars.clone());
    if let Some(role) = &eff.role {
        s.push(parts.cache.role_vars(role));
    }
    for layer in inherited_vars {
        s.push(layer.clone());
    }
    if !task.vars.is_empty() {
        s.push(parts.cache.task_vars(task));
    }
    s.push(host.set_facts.clone());
    if let Some(role) = &eff.role {
        if !role.params.is_empty() {
            s.push(parts.cache.role_params(role));
        }
    }
    s.push(host.magic.clone());
    s.push(task_magic);
    s.push(parts.extra_vars.clone());
    s
}
