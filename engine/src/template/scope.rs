//! The variables of one host and task: layers from lowest to highest
//! precedence, looked up from the top. Layers are `Arc`s shared with the
//! executor's host state, so a scope is cheap to build and to clone.
//!
//! Each layer is either template source (playbook, role, inventory, vars
//! files, extra vars: a value holding `{{ }}` is rendered when read) or data
//! (anything that came back from a host or out of a template: registered
//! results, facts, `set_fact`, loop items). Data is substituted as it is and
//! never rendered again, like Ansible's `AnsibleUnsafe` values.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};

pub type Layer = Arc<Map<String, Value>>;

/// `hostvars[...]`: other hosts' scopes, looked up lazily.
pub trait HostvarsSource: Send + Sync {
    fn host_names(&self) -> Vec<String>;
    fn scope_for(&self, host: &str) -> Option<Scope>;
}

/// Where a layer's values come from, which decides whether a `{{ }}` inside
/// them is a template or just text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Written by the user in a playbook, role, inventory or vars file.
    Source,
    /// Produced at run time (read from a host, or the result of a template).
    Data,
}

#[derive(Clone, Default)]
pub struct Scope {
    layers: Vec<(Layer, Origin)>,
    /// Small values set on top (loop items, registered results in
    /// `changed_when`), kept apart so setting one does not copy a layer.
    /// They are always data: each was produced by a host or a template.
    top: Map<String, Value>,
    pub(crate) search_paths: Arc<Vec<PathBuf>>,
    pub(crate) hostvars: Option<Arc<dyn HostvarsSource>>,
}

impl Scope {
    pub fn new() -> Self {
        Scope::default()
    }

    /// Add a layer of template source above all existing ones.
    pub fn push(&mut self, layer: Layer) {
        self.push_layer(layer, Origin::Source);
    }

    /// Add a layer of data (never rendered) above all existing ones.
    pub fn push_data(&mut self, layer: Layer) {
        self.push_layer(layer, Origin::Data);
    }

    pub fn push_layer(&mut self, layer: Layer, origin: Origin) {
        if !layer.is_empty() {
            self.layers.push((layer, origin));
        }
    }

    /// Set one variable above everything else.
    pub fn set(&mut self, key: &str, value: Value) {
        self.top.insert(key.to_string(), value);
    }

    /// The raw (untemplated) value of a variable.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.lookup(key).map(|(v, _)| v)
    }

    /// The raw value of a variable and where it comes from.
    pub fn lookup(&self, key: &str) -> Option<(&Value, Origin)> {
        if let Some(v) = self.top.get(key) {
            return Some((v, Origin::Data));
        }
        self.layers.iter().rev().find_map(|(l, origin)| l.get(key).map(|v| (v, *origin)))
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// All variables merged, raw.
    pub fn flatten(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for (l, _) in &self.layers {
            for (k, v) in l.iter() {
                out.insert(k.clone(), v.clone());
            }
        }
        for (k, v) in &self.top {
            out.insert(k.clone(), v.clone());
        }
        out
    }

    /// Every variable name, each once.
    pub fn keys(&self) -> Vec<String> {
        let mut seen = std::collections::BTreeSet::new();
        for (l, _) in &self.layers {
            seen.extend(l.keys().cloned());
        }
        seen.extend(self.top.keys().cloned());
        seen.into_iter().collect()
    }

    pub fn with_search_paths(mut self, paths: Arc<Vec<PathBuf>>) -> Self {
        self.search_paths = paths;
        self
    }

    pub fn with_hostvars(mut self, src: Arc<dyn HostvarsSource>) -> Self {
        self.hostvars = Some(src);
        self
    }

    pub fn search_paths(&self) -> &[PathBuf] {
        &self.search_paths
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn higher_layers_win_and_top_wins_over_all() {
        let mut s = Scope::new();
        s.push(Arc::new(json!({"a": 1, "b": 1}).as_object().unwrap().clone()));
        s.push(Arc::new(json!({"b": 2}).as_object().unwrap().clone()));
        assert_eq!(s.get("a"), Some(&json!(1)));
        assert_eq!(s.get("b"), Some(&json!(2)));
        s.set("b", json!(3));
        assert_eq!(s.get("b"), Some(&json!(3)));
        assert_eq!(s.flatten()["b"], json!(3));
    }
}
