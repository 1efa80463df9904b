//! What the executor knows about one host during a play.
//!
//! Each variable level is an `Arc<Map>` so that building a task's scope is a
//! handful of pointer copies, and a change (a fact, a registered result)
//! copies only the one level it touches.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Map, Value};

pub type Layer = Arc<Map<String, Value>>;

#[derive(Debug, Clone)]
pub struct HostState {
    pub name: String,
    /// Inventory, group_vars/ and host_vars/ variables, merged.
    pub inventory_vars: Layer,
    /// Gathered facts, both as `ansible_facts` and as top-level `ansible_*`.
    pub facts: Layer,
    /// `set_fact` and `register` results: data, never rendered again.
    pub set_facts: Layer,
    /// `include_vars`: template source (a vars file), just below
    /// `set_facts`: as in Ansible (its vars cache under the non-persistent
    /// facts), a set_fact wins over include_vars whatever their order.
    pub included_vars: Layer,
    /// Per-play variables that need the host: vars_files, magic variables.
    pub play_vars_files: Layer,
    /// The magic variables every host of the batch shares (`groups`,
    /// `ansible_play_hosts`, `ansible_play_batch`, ...): one map for the
    /// whole batch, since each holds lists of every host and a copy per
    /// host would grow with the square of the hosts (hundreds of MB at
    /// 1,000 hosts).
    pub play_magic: Layer,
    /// The host's own magic variables (`inventory_hostname`, `group_names`).
    pub magic: Layer,
    pub failed: bool,
    /// Failed by another host's `any_errors_fatal` (Ansible's TQM
    /// `_failed_hosts`): out of later plays and failing the run even if
    /// its rescue ran; `meta: clear_host_errors` clears it.
    pub marked_failed: bool,
    pub unreachable: bool,
    /// `meta: end_host` was run.
    pub ended: bool,
    /// Handler names (and `listen` topics) notified and not yet run.
    pub notified: BTreeSet<String>,
}

impl HostState {
    pub fn new(name: &str, inventory_vars: Map<String, Value>) -> Self {
        HostState {
            name: name.to_string(),
            inventory_vars: Arc::new(inventory_vars),
            facts: Arc::new(Map::new()),
            set_facts: Arc::new(Map::new()),
            included_vars: Arc::new(Map::new()),
            play_vars_files: Arc::new(Map::new()),
            play_magic: Arc::new(Map::new()),
            magic: Arc::new(Map::new()),
            failed: false,
            marked_failed: false,
            unreachable: false,
            ended: false,
            notified: BTreeSet::new(),
        }
    }

    /// Still taking part in the play.
    pub fn is_active(&self) -> bool {
        !self.failed && !self.unreachable && !self.ended
    }

    /// A value produced at run time (`set_fact`, `register`): data.
    pub fn set_fact(&mut self, key: String, value: Value) {
        Arc::make_mut(&mut self.set_facts).insert(key, value);
    }

    /// A variable read from a vars file by `include_vars`: template source.
    pub fn include_var(&mut self, key: String, value: Value) {
        Arc::make_mut(&mut self.included_vars).insert(key, value);
    }

    /// Merge gathered facts: `ansible_facts.x` and top-level `ansible_x`.
    pub fn add_facts(&mut self, facts: &Map<String, Value>) {
        let layer = Arc::make_mut(&mut self.facts);
        let mut nested = layer.get("ansible_facts").and_then(Value::as_object).cloned().unwrap_or_default();
        for (k, v) in facts {
            let short = k.strip_prefix("ansible_").unwrap_or(k);
            nested.insert(short.to_string(), v.clone());
            if k.starts_with("ansible_") {
                layer.insert(k.clone(), v.clone());
            }
        }
        layer.insert("ansible_facts".into(), Value::Object(nested));
    }

    /// Facts read back from the fact cache: `ansible_facts` holds them
    /// without their `ansible_` prefix (Ansible's `namespace_facts`), and
    /// each is a variable under its own name (`INJECT_FACTS_AS_VARS`).
    pub fn add_cached_facts(&mut self, facts: &Map<String, Value>) {
        let layer = Arc::make_mut(&mut self.facts);
        let mut nested = layer.get("ansible_facts").and_then(Value::as_object).cloned().unwrap_or_default();
        for (k, v) in facts {
            let short = if k == "ansible_local" { k.as_str() } else { k.strip_prefix("ansible_").unwrap_or(k) };
            nested.insert(short.to_string(), v.clone());
            layer.insert(k.clone(), v.clone());
        }
        layer.insert("ansible_facts".into(), Value::Object(nested));
    }

    pub fn clear_facts(&mut self) {
        self.facts = Arc::new(Map::new());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn facts_are_visible_both_ways() {
        let mut h = HostState::new("a", Map::new());
        let facts = json!({"ansible_hostname": "a", "ansible_fqdn": "a.example"});
        h.add_facts(facts.as_object().unwrap());
        assert_eq!(h.facts["ansible_hostname"], json!("a"));
        assert_eq!(h.facts["ansible_facts"]["fqdn"], json!("a.example"));
    }
}
