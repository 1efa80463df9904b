//! `--list`, `--host` and `--graph`, shaped exactly like ansible-inventory's.

use serde_json::{json, Map, Value};

use super::Inventory;

pub fn sorted(m: Map<String, Value>) -> Map<String, Value> {
    let mut entries: Vec<(String, Value)> = m.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().collect()
}

pub fn list(inv: &Inventory) -> Value {
    let mut hostvars = Map::new();
    for h in inv.hosts.keys() {
        let vars = inv.host_vars(h);
        if !vars.is_empty() {
            hostvars.insert(h.clone(), Value::Object(sorted(vars)));
        }
    }
    let mut out = Map::new();
    out.insert("_meta".into(), json!({"hostvars": Value::Object(hostvars), "profile": "inventory_legacy"}));
    for g in inv.groups.values() {
        let mut entry = Map::new();
        if !g.hosts.is_empty() {
            entry.insert("hosts".into(), Value::from(g.hosts.clone()));
        }
        if !g.children.is_empty() {
            entry.insert("children".into(), Value::from(g.children.clone()));
        }
        if !entry.is_empty() {
            out.insert(g.name.clone(), Value::Object(entry));
        }
    }
    Value::Object(sorted(out))
}

pub fn graph(inv: &Inventory, with_vars: bool) -> String {
    let mut out = String::new();
    fn group(inv: &Inventory, name: &str, depth: usize, with_vars: bool, out: &mut String) {
        let indent = |d: usize| if d == 0 { String::new() } else { format!("{}|--", "  |".repeat(d - 1) + "  ") };
        out.push_str(&format!("{}@{}:\n", indent(depth), name));
        let Some(g) = inv.groups.get(name) else { return };
        if with_vars {
            for (k, v) in sorted(g.vars.clone()) {
                out.push_str(&format!("{}{{{k} = {}}}\n", indent(depth + 1), v.as_str().map(str::to_string).unwrap_or(v.to_string())));
            }
        }
        for c in &g.children {
            group(inv, c, depth + 1, with_vars, out);
        }
        for h in &g.hosts {
            out.push_str(&format!("{}{}\n", indent(depth + 1), h));
            if with_vars {
                if let Some(entry) = inv.hosts.get(h) {
                    for (k, v) in sorted(entry.vars.clone()) {
                        out.push_str(&format!(
                            "{}{{{k} = {}}}\n",
                            indent(depth + 2),
                            v.as_str().map(str::to_string).unwrap_or(v.to_string())
                        ));
                    }
                }
            }
        }
    }
    group(inv, "all", 0, with_vars, &mut out);
    out
}
