//! `group_vars/` and `host_vars/`: a file `NAME`, `NAME.yml`, `NAME.yaml` or
//! `NAME.json`, or a folder `NAME/` whose files load in sorted order.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::diag::Diagnostic;

use super::Inventory;

fn load_file(path: &Path) -> Result<Map<String, Value>, Diagnostic> {
    let node = crate::yaml::parse_file(path)?;
    match node.to_value() {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        _ => Err(Diagnostic::new(node.pos, "a vars file must contain a mapping")),
    }
}

/// The files that hold `name`'s variables in `dir`, in load order.
fn files_for(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for ext in ["", ".yml", ".yaml", ".json"] {
        let p = dir.join(format!("{name}{ext}"));
        if p.is_file() {
            out.push(p);
        }
    }
    let sub = dir.join(name);
    if sub.is_dir() {
        let mut files: Vec<PathBuf> = walk(&sub);
        files.sort();
        out.extend(files.into_iter().filter(|f| {
            let n = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !n.starts_with('.')
                && (f.extension().is_none() || matches!(f.extension().and_then(|e| e.to_str()), Some("yml" | "yaml" | "json")))
        }));
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn load_all(dir: &Path, name: &str) -> Result<Map<String, Value>, Diagnostic> {
    let mut m = Map::new();
    for f in files_for(dir, name) {
        m.extend(load_file(&f)?);
    }
    Ok(m)
}

/// Variables from `group_vars/`/`host_vars/` beside an inventory source.
pub(crate) fn load_inventory_dirs(inv: &mut Inventory, dir: &Path) -> Result<(), Diagnostic> {
    let gdir = dir.join("group_vars");
    if gdir.is_dir() {
        let groups: Vec<String> = inv.groups.keys().cloned().collect();
        for g in groups {
            let vars = load_all(&gdir, &g)?;
            if !vars.is_empty() {
                inv.dir_group_vars.entry(g).or_default().extend(vars);
            }
        }
    }
    let hdir = dir.join("host_vars");
    if hdir.is_dir() {
        // And the localhost names, for the implicit localhost (Ansible's
        // host_vars plugin reads them when that host is used).
        let mut hosts: Vec<String> = inv.hosts.keys().cloned().collect();
        hosts.extend(super::LOCALHOST_NAMES.iter().filter(|h| !inv.hosts.contains_key(**h)).map(|h| h.to_string()));
        for h in hosts {
            let vars = load_all(&hdir, &h)?;
            if !vars.is_empty() {
                inv.dir_host_vars.entry(h).or_default().extend(vars);
            }
        }
    }
    Ok(())
}

/// A host's inventory variables together with the `group_vars/` and
/// `host_vars/` beside the playbook (`dir`), in Ansible's precedence
/// (`VARIABLE_PRECEDENCE`'s default, then the host's own): the inventory
/// file's group vars (`all` first); `group_vars/all` beside the inventory,
/// then beside the playbook; the other groups' `group_vars/` beside the
/// inventory, then beside the playbook; the inventory's host vars, its
/// `host_vars/`, the playbook's `host_vars/`. So any host variable wins
/// over any group variable.
pub fn vars_with_playbook_dirs(inv: &Inventory, dir: &Path, host: &str) -> Result<Map<String, Value>, Diagnostic> {
    let groups = inv.groups_in_precedence(host);
    let (all, others): (Vec<&String>, Vec<&String>) = groups.iter().partition(|g| *g == "all");
    let gdir = dir.join("group_vars");
    let play_group_vars = |g: &str| if gdir.is_dir() { load_all(&gdir, g) } else { Ok(Map::new()) };
    let mut out = Map::new();
    for g in &groups {
        if let Some(grp) = inv.groups.get(g) {
            out.extend(grp.vars.clone());
        }
    }
    for set in [all, others] {
        for g in &set {
            if let Some(v) = inv.dir_group_vars.get(g.as_str()) {
                out.extend(v.clone());
            }
        }
        for g in &set {
            out.extend(play_group_vars(g)?);
        }
    }
    if let Some(h) = inv.hosts.get(host) {
        out.extend(h.vars.clone());
    } else if inv.is_implicit_localhost(host) {
        out.extend(Inventory::implicit_localhost_vars());
    }
    if let Some(v) = inv.dir_host_vars.get(host) {
        out.extend(v.clone());
    }
    let hdir = dir.join("host_vars");
    if hdir.is_dir() {
        out.extend(load_all(&hdir, host)?);
    }
    Ok(out)
}
