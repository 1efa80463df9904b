//! Changes a run makes to the inventory: `add_host` and `group_by`, as
//! ansible-core's `InventoryManager.add_dynamic_host/add_dynamic_group`.
//! Each says whether anything changed (the task's `changed`). They are
//! remembered in order so that `meta: refresh_inventory` can replay them on
//! the inventory read again, as Ansible's `refresh_inventory` does.

use serde_json::{Map, Value};

use super::Inventory;
use crate::diag::Diagnostic;

/// One `add_host` or `group_by` of the run.
#[derive(Debug, Clone)]
pub(crate) enum DynamicChange {
    Host { name: String, groups: Vec<String>, vars: Map<String, Value> },
    Group { host: String, group: String, parents: Vec<String> },
}

impl Inventory {
    /// `add_host`: the host (new ones join `all`), its variables merged
    /// over what it has, and its groups (made when new).
    pub fn add_dynamic_host(&mut self, name: &str, groups: &[String], vars: &Map<String, Value>) -> bool {
        self.dynamic.push(DynamicChange::Host { name: name.to_string(), groups: groups.to_vec(), vars: vars.clone() });
        self.apply_dynamic_host(name, groups, vars)
    }

    fn apply_dynamic_host(&mut self, name: &str, groups: &[String], vars: &Map<String, Value>) -> bool {
        let mut changed = false;
        if !self.hosts.contains_key(name) {
            self.add_host(name, "ungrouped");
            changed = true;
        }
        let entry = self.hosts.get_mut(name).expect("host exists");
        for (k, v) in vars {
            if entry.vars.get(k) != Some(v) {
                entry.vars.insert(k.clone(), v.clone());
                changed = true;
            }
        }
        for g in groups {
            if !self.groups.contains_key(g) {
                self.ensure_group(g);
                changed = true;
            }
            let group = self.groups.get_mut(g).expect("group exists");
            if !group.hosts.iter().any(|h| h == name) {
                group.hosts.push(name.to_string());
                changed = true;
            }
        }
        if changed {
            self.reconcile();
        }
        changed
    }

    /// `group_by`: `host` into `group` (made when new) under `parents`.
    pub fn add_dynamic_group(&mut self, host: &str, group: &str, parents: &[String]) -> Result<bool, String> {
        // Remembered before it is checked, as Ansible caches it.
        self.dynamic.push(DynamicChange::Group { host: host.to_string(), group: group.to_string(), parents: parents.to_vec() });
        if !self.has_host(host) && !self.is_implicit_localhost(host) {
            return Err(format!("{host} cannot be matched in inventory"));
        }
        self.apply_dynamic_group(host, group, parents)
    }

    fn apply_dynamic_group(&mut self, host: &str, group: &str, parents: &[String]) -> Result<bool, String> {
        let mut changed = false;
        self.ensure_group(group);
        for p in parents {
            if !self.groups.contains_key(p) {
                self.ensure_group(p);
                changed = true;
            }
            if !self.groups[p].children.iter().any(|c| c == group) {
                self.add_child(p, group)?;
                changed = true;
            }
        }
        let g = self.groups.get_mut(group).expect("group exists");
        if !g.hosts.iter().any(|h| h == host) {
            g.hosts.push(host.to_string());
            changed = true;
        }
        self.reconcile();
        Ok(changed)
    }

    /// `meta: refresh_inventory` (Ansible's `InventoryManager.refresh_inventory`):
    /// every source read again from scratch, then the run's `add_host` and
    /// `group_by` changes replayed on it in order; a `group_by` of a host
    /// the sources no longer have is dropped. A source that no longer
    /// reads is an error (mailplay refuses a broken inventory at the start
    /// of a run too).
    pub fn refreshed(&self) -> Result<Inventory, Diagnostic> {
        let mut inv = Inventory::load(&self.sources)?;
        if let Some(name) = self.implicit_localhost.get().filter(|n| !inv.hosts.contains_key(*n)) {
            let _ = inv.implicit_localhost.set(name.clone());
        }
        for change in &self.dynamic {
            match change {
                DynamicChange::Host { name, groups, vars } => {
                    inv.apply_dynamic_host(name, groups, vars);
                }
                DynamicChange::Group { host, group, parents } => {
                    if inv.has_host(host) || inv.is_implicit_localhost(host) {
                        let _ = inv.apply_dynamic_group(host, group, parents);
                    }
                }
            }
        }
        inv.dynamic = self.dynamic.clone();
        Ok(inv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inv() -> Inventory {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("hosts.ini");
        std::fs::write(&p, "[web]\nw1 a=1\n").unwrap();
        Inventory::load(&[p.display().to_string()]).unwrap()
    }

    #[test]
    fn add_host_like_ansible() {
        let mut i = inv();
        let vars = json!({"b": 2}).as_object().unwrap().clone();
        assert!(i.add_dynamic_host("new", &["dyn".into()], &vars));
        assert!(!i.add_dynamic_host("new", &["dyn".into()], &vars), "nothing new the second time");
        assert_eq!(i.group_names_of("new"), ["dyn"]);
        assert_eq!(i.host_vars("new")["b"], json!(2));
        assert!(i.select("all").unwrap().contains(&"new".to_string()));
        assert!(i.add_dynamic_host("plain", &[], &Map::new()));
        assert_eq!(i.hosts_below("ungrouped"), ["plain"]);
        // As Ansible's group_names: `ungrouped` is listed, `all` is not.
        assert_eq!(i.group_names_of("plain"), ["ungrouped"]);
    }

    #[test]
    fn group_by_like_ansible() {
        let mut i = inv();
        assert_eq!(i.add_dynamic_group("w1", "os_debian", &["all".into()]), Ok(true));
        assert_eq!(i.add_dynamic_group("w1", "os_debian", &["all".into()]), Ok(false));
        assert_eq!(i.group_names_of("w1"), ["os_debian", "web"]);
        assert_eq!(i.add_dynamic_group("w1", "leaf", &["mid".into()]), Ok(true));
        assert!(i.groups_of("w1").contains(&"mid".to_string()));
        assert!(i.add_dynamic_group("nope", "g", &[]).is_err());
    }

    #[test]
    fn a_refresh_reads_the_sources_again_and_replays_the_runs_changes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("hosts.ini");
        std::fs::write(&p, "[web]\nw1 a=one\nw2\n").unwrap();
        let mut i = Inventory::load(&[p.display().to_string()]).unwrap();
        let vars = json!({"b": 2}).as_object().unwrap().clone();
        i.add_dynamic_host("dyn", &["extra".into()], &vars);
        i.add_dynamic_group("w1", "g1", &["all".into()]).unwrap();
        i.add_dynamic_group("w2", "g1", &["all".into()]).unwrap();
        std::fs::write(&p, "[web]\nw1 a=three\nw3\n").unwrap();
        let r = i.refreshed().unwrap();
        assert_eq!(r.host_names(), ["w1", "w3", "dyn"]);
        assert_eq!(r.host_vars("w1")["a"], json!("three"));
        assert_eq!(r.host_vars("dyn")["b"], json!(2));
        assert_eq!(r.group_names_of("dyn"), ["extra"]);
        // w2 is gone: its group_by is not replayed.
        assert_eq!(r.hosts_below("g1"), ["w1"]);
        // A second refresh still knows the run's changes.
        assert_eq!(r.refreshed().unwrap().hosts_below("g1"), ["w1"]);
        std::fs::remove_file(&p).unwrap();
        assert!(r.refreshed().is_err(), "a source that no longer reads fails the refresh");
    }
}
