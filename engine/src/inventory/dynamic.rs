//! Changes a run makes to the inventory: `add_host` and `group_by`, as
//! ansible-core's `InventoryManager.add_dynamic_host/add_dynamic_group`.
//! Each says whether anything changed (the task's `changed`).

use serde_json::{Map, Value};

use super::Inventory;

impl Inventory {
    /// `add_host`: the host (new ones join `all`), its variables merged
    /// over what it has, and its groups (made when new).
    pub fn add_dynamic_host(&mut self, name: &str, groups: &[String], vars: &Map<String, Value>) -> bool {
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
        if !self.has_host(host) && !self.is_implicit_localhost(host) {
            return Err(format!("{host} cannot be matched in inventory"));
        }
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
}
