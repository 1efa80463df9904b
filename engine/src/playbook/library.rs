//! Ansible modules in `library/` folders, found as Ansible's module loader
//! finds them: the `library/` beside each playbook loaded and inside each
//! role loaded (in the order they were loaded), then the configured path
//! (`library` in ansible.cfg, `ANSIBLE_LIBRARY`). Like Ansible's loader the
//! list is one for the whole run: a role's library serves the plays after it.
//!
//! mailplay's own modules and actions keep their names: a library module
//! of the same name is not used, and the run says so once
//! (`shadowed_warnings`). The same folders' `filter_plugins/` are handed to
//! the templates (`template::python_filters`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

#[derive(Default)]
struct Library {
    /// `library/` folders of playbooks and roles, in load order.
    found: Vec<PathBuf>,
    /// The configured module path.
    configured: Vec<PathBuf>,
    /// Names resolved so far (cleared when a folder is added).
    cache: BTreeMap<String, Option<PathBuf>>,
    /// Library modules named like one of mailplay's (reported once).
    shadowed: BTreeMap<String, PathBuf>,
    /// Plugin folders that could not be used (reported once).
    warnings: Vec<String>,
}

static LIBRARY: RwLock<Option<Library>> = RwLock::new(None);

fn with<T>(f: impl FnOnce(&mut Library) -> T) -> T {
    let mut guard = LIBRARY.write().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(Library::default))
}

/// The configured module path (set once by the command line).
pub fn set_configured(dirs: Vec<PathBuf>) {
    with(|l| {
        l.configured = dirs;
        l.cache.clear();
    });
}

/// A playbook's or role's folder was loaded: its `library/`, if any, is
/// searched for modules, and its `filter_plugins/` gives templates their
/// filters (`template::python_filters`).
pub fn add_plugin_dirs(base: &Path) {
    if let Err(e) = crate::template::python_filters::add_dir(&base.join("filter_plugins")) {
        with(|l| l.warnings.push(e));
    }
    let dir = base.join("library");
    if !dir.is_dir() {
        return;
    }
    let dir = dir.canonicalize().unwrap_or(dir);
    with(|l| {
        if !l.found.contains(&dir) {
            l.found.push(dir);
            l.cache.clear();
        }
    });
}

/// Extensions Ansible's module loader passes over (`MODULE_IGNORE_EXTS`),
/// and Windows modules, which do not run on a POSIX host.
const IGNORED_EXTS: &[&str] = &["pyc", "pyo", "swp", "bak", "rpm", "md", "txt", "rst", "yaml", "yml", "ini", "ps1", "psm1", "cs"];

/// The file of module `name` in `dir`: `name.py`, then `name`, then `name.*`.
fn in_dir(dir: &Path, name: &str) -> Option<PathBuf> {
    let py = dir.join(format!("{name}.py"));
    if py.is_file() {
        return Some(py);
    }
    let bare = dir.join(name);
    if bare.is_file() {
        return Some(bare);
    }
    let mut others: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            let file = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            match file.rsplit_once('.') {
                Some((stem, ext)) => stem == name && !IGNORED_EXTS.contains(&ext) && !file.ends_with('~'),
                None => false,
            }
        })
        .collect();
    others.sort();
    others.into_iter().next()
}

/// The library module a task's action names, if one exists and mailplay
/// has no module or action of that name. `ansible.legacy.X` is searched
/// as `X`; other qualified names (`ansible.builtin.X`, collections) are not
/// library modules.
pub fn resolve(name: &str) -> Option<PathBuf> {
    let short = name.strip_prefix("ansible.legacy.").unwrap_or(name);
    if short.is_empty() || short.contains('.') || short.contains('/') || short.starts_with('_') {
        return None;
    }
    let own = super::task::is_own_action(short);
    // Names resolved before (every task of every host asks): a read lock.
    if let Some(Some(hit)) = LIBRARY.read().unwrap_or_else(|e| e.into_inner()).as_ref().map(|l| l.cache.get(short).cloned()) {
        return hit.filter(|_| !own);
    }
    with(|l| {
        if let Some(hit) = l.cache.get(short) {
            return hit.clone().filter(|_| !own);
        }
        let found = l.found.iter().chain(l.configured.iter()).find_map(|d| in_dir(d, short));
        l.cache.insert(short.to_string(), found.clone());
        if own {
            if let Some(p) = &found {
                l.shadowed.entry(short.to_string()).or_insert_with(|| p.clone());
            }
            return None;
        }
        found
    })
}

/// One warning per library module that mailplay's own module of the same
/// name replaces (taken once).
pub fn shadowed_warnings() -> Vec<String> {
    with(|l| {
        let mut out: Vec<String> = std::mem::take(&mut l.shadowed)
            .into_iter()
            .map(|(name, path)| {
                format!("the library module {} is not used: '{name}' is mailplay's own module, which runs instead", path.display())
            })
            .collect();
        out.append(&mut l.warnings);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_file_is_found_by_its_name_with_or_without_an_extension() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("hello.py"), "").unwrap();
        std::fs::write(d.path().join("plain"), "").unwrap();
        std::fs::write(d.path().join("shell.sh"), "").unwrap();
        std::fs::write(d.path().join("notes.md"), "").unwrap();
        std::fs::write(d.path().join("win.ps1"), "").unwrap();
        assert_eq!(in_dir(d.path(), "hello"), Some(d.path().join("hello.py")));
        assert_eq!(in_dir(d.path(), "plain"), Some(d.path().join("plain")));
        assert_eq!(in_dir(d.path(), "shell"), Some(d.path().join("shell.sh")));
        assert_eq!(in_dir(d.path(), "notes"), None);
        assert_eq!(in_dir(d.path(), "win"), None);
        assert_eq!(in_dir(d.path(), "missing"), None);
    }
}
