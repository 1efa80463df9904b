//! The YAML inventory format: `all: {hosts: {h: {vars}}, vars: {}, children: {g: ...}}`.

use std::path::Path;

use crate::diag::Diagnostic;
use crate::yaml::{Node, NodeKind};

use super::ranges;
use super::Inventory;

const GROUP_KEYS: &[&str] = &["hosts", "vars", "children"];

pub fn parse(inv: &mut Inventory, text: &str, path: &Path) -> Result<(), Diagnostic> {
    let root = crate::yaml::parse_str(text, path)?;
    crate::template::trust::remember_node(&root);
    if root.is_null() {
        return Ok(());
    }
    let entries = root.as_map().ok_or_else(|| Diagnostic::new(root.pos.clone(), "a YAML inventory must be a mapping of groups"))?;
    for (k, v) in entries {
        group(inv, &k.key_string(), v, None)?;
    }
    Ok(())
}

fn group(inv: &mut Inventory, name: &str, node: &Node, parent: Option<&str>) -> Result<(), Diagnostic> {
    inv.ensure_group(name);
    if let Some(p) = parent {
        inv.add_child(p, name).map_err(|m| Diagnostic::new(node.pos.clone(), m))?;
    }
    if node.is_null() {
        return Ok(());
    }
    let Some(entries) = node.as_map() else {
        return Err(Diagnostic::new(
            node.pos.clone(),
            format!("group '{name}' must be a mapping with hosts, vars or children, not a {}", node.type_name()),
        ));
    };
    for (k, v) in entries {
        let key = k.key_string();
        match key.as_str() {
            // Hosts listed directly under `all` belong to `ungrouped`.
            "hosts" => hosts(inv, if name == "all" { "ungrouped" } else { name }, v)?,
            "vars" => match v.to_value() {
                serde_json::Value::Object(m) => inv.ensure_group(name).vars.extend(m),
                serde_json::Value::Null => {}
                _ => return Err(Diagnostic::new(v.pos.clone(), format!("vars of group '{name}' must be a mapping"))),
            },
            "children" => {
                if let Some(children) = v.as_map() {
                    for (ck, cv) in children {
                        group(inv, &ck.key_string(), cv, Some(name))?;
                    }
                } else if !v.is_null() {
                    return Err(Diagnostic::new(v.pos.clone(), format!("children of group '{name}' must be a mapping")));
                }
            }
            other => {
                let hint = mailplay_modules::args::closest(other, GROUP_KEYS.iter().copied())
                    .map(|s| format!("did you mean '{s}'?"))
                    .unwrap_or_else(|| "a group has hosts, vars and children".into());
                return Err(Diagnostic::new(k.pos.clone(), format!("unknown key '{other}' in group '{name}'")).with_help(hint));
            }
        }
    }
    Ok(())
}

fn hosts(inv: &mut Inventory, group: &str, node: &Node) -> Result<(), Diagnostic> {
    let Some(entries) = node.as_map() else {
        if node.is_null() {
            return Ok(());
        }
        return Err(Diagnostic::new(node.pos.clone(), format!("hosts of group '{group}' must be a mapping of host names")));
    };
    for (k, v) in entries {
        let pattern = k.key_string();
        let (name, port) = match pattern.rsplit_once(':') {
            Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') => (h.to_string(), p.parse::<u16>().ok()),
            _ => (pattern.clone(), None),
        };
        let vars = match &v.kind {
            NodeKind::Null => serde_json::Map::new(),
            NodeKind::Map(_) => v.to_value().as_object().cloned().unwrap_or_default(),
            _ => return Err(Diagnostic::new(v.pos.clone(), format!("variables of host '{pattern}' must be a mapping"))),
        };
        let hosts = ranges::expand(&name).map_err(|m| Diagnostic::new(k.pos.clone(), m))?;
        let var_bytes = name.len() + if hosts.len() > 1 { serde_json::to_string(&vars).map_or(0, |t| t.len()) } else { 0 };
        ranges::check_copies(&name, hosts.len(), var_bytes).map_err(|m| Diagnostic::new(k.pos.clone(), m))?;
        for h in hosts {
            let entry = inv.add_host(&h, group);
            if let Some(p) = port {
                entry.vars.insert("ansible_port".into(), serde_json::Value::from(p));
            }
            entry.vars.extend(vars.clone());
        }
    }
    Ok(())
}
