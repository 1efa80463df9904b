//! Playbooks: loading YAML into the [`ast`] the executor runs, and
//! checking it without touching a host.

mod ansible_builtins;
pub mod ast;
mod free_form;
pub mod keywords;
pub mod library;
mod load;
mod syntax_check;
mod task;
pub(crate) use free_form::parse_kv;
pub(crate) use task::{file_not_found, is_file_not_found, known_action, nested_handler_block};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::{Diagnostic, Pos};

use ast::{Playbook, Role, Task, Vars};
use load::Loader;

/// Ansible's roles path (`roles_path` / `ANSIBLE_ROLES_PATH`), searched for
/// roles after the `roles/` folder beside the playbook (or the role that
/// depends on them). Set once by the command line from Ansible's
/// configuration (`crate::config`), before anything is loaded.
static ROLES_PATH: std::sync::RwLock<Vec<PathBuf>> = std::sync::RwLock::new(Vec::new());

pub fn set_roles_path(dirs: Vec<PathBuf>) {
    *ROLES_PATH.write().unwrap_or_else(|e| e.into_inner()) = dirs;
}

pub(crate) fn roles_path() -> Vec<PathBuf> {
    ROLES_PATH.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// `-e` extra vars, which the names of static imports may use (the
/// highest precedence there as everywhere). Set once by the command line.
static LOAD_EXTRA_VARS: std::sync::RwLock<Option<Arc<serde_json::Map<String, serde_json::Value>>>> = std::sync::RwLock::new(None);

pub fn set_load_extra_vars(vars: serde_json::Map<String, serde_json::Value>) {
    *LOAD_EXTRA_VARS.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(vars));
}

pub(crate) fn load_extra_vars() -> Option<Arc<serde_json::Map<String, serde_json::Value>>> {
    LOAD_EXTRA_VARS.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Load a playbook and everything it imports statically. All errors found
/// are returned, each with its position.
pub fn load_playbook(path: &Path) -> Result<Playbook, Vec<Diagnostic>> {
    let mut loader = Loader::default();
    let plays = loader.playbook(path);
    load::into_playbook(path, loader, plays)
}

/// A playbook built in memory (`mailplay adhoc`'s one-task play), loaded
/// as the same document read from `path` would be: relative names (roles,
/// task files) are found from `path`'s folder.
pub fn load_playbook_node(root: &crate::yaml::Node, path: &Path) -> Result<Playbook, Vec<Diagnostic>> {
    let mut loader = Loader::default();
    let plays = loader.plays_of(root, path);
    load::into_playbook(path, loader, plays)
}

/// Load a task file at run time (`include_tasks`).
pub fn load_task_file(path: &Path, role: Option<Arc<Role>>) -> Result<Vec<Task>, Vec<Diagnostic>> {
    let mut loader = Loader::default();
    let tasks = loader.task_file(path, &role).unwrap_or_default();
    if loader.errors.is_empty() {
        Ok(tasks)
    } else {
        Err(loader.errors)
    }
}

/// A loaded role with its tasks and its handlers.
pub type LoadedRole = (Arc<Role>, Vec<Task>, Vec<Task>);

/// Load a role at run time (`include_role`): its tasks and handlers.
/// The files `tasks_from`, `vars_from`, `defaults_from` and
/// `handlers_from` choose in a role's folders instead of `main`.
#[derive(Debug, Clone, Default)]
pub struct RoleFrom {
    pub tasks: Option<String>,
    pub vars: Option<String>,
    pub defaults: Option<String>,
    pub handlers: Option<String>,
}

pub fn load_role(name: &str, search_dirs: &[PathBuf], params: Vars, from: &RoleFrom) -> Result<LoadedRole, Vec<Diagnostic>> {
    // The play's folder is the last of the search folders.
    let mut loader = Loader { role_dirs: search_dirs.to_vec(), playbook_dir: search_dirs.last().cloned(), ..Default::default() };
    let base = search_dirs.first().cloned().unwrap_or_default();
    let found = loader.role(name, &base, params, from, &Pos::unknown());
    match (found, loader.errors.is_empty()) {
        // Handlers of roles the role imports come with it.
        (Some((role, tasks, mut handlers)), true) => {
            handlers.append(&mut loader.extra_handlers);
            Ok((role, tasks, handlers))
        }
        _ => Err(loader.errors),
    }
}

/// Problems that can be found without variables or hosts.
pub fn syntax_check(pb: &Playbook) -> Vec<Diagnostic> {
    syntax_check::check(pb)
}
