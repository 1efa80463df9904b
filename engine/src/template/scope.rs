//! The variables of one host and task: layers from lowest to highest
//! precedence, looked up from the top. Layers are `Arc`s shared with the
//! executor's host state, so a scope is cheap to build and to clone.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};

pub type Layer = Arc<Map<String, Value>>;

/// `hostvars[...]`: other hosts' scopes, looked up lazily.
pub trait HostvarsSource: Send + Sync {
    fn host_names(&self) -> Vec<String>;
    fn scope_for(&self, host: &str) -> Option<Scope>;
}

#[derive(Clone, Default)]
pub struct Scope {
    layers: Vec<Layer>,
    /// Small values set on top (loop items, registered results in
    /// `changed_when`), kept apart so setting one does not copy a layer.
    top: Map<String, Value>,
    pub(crate) search_paths: Arc<Vec<PathBuf>>,
    pub(crate) hostvars: Option<Arc<dyn HostvarsSource>>,
}

impl Scope {
    pub fn new() -> Self {
        Scope::default()
    }

    /// Add a layer above all existing ones.
    pub fn push(&mut self, layer: Layer) {
        if !layer.is_empty() {
            self.layers.push(layer);
        }
    }

    /// Set one variable above everything else.
    pub fn set(&mut self, key: &str, value: Value) {
        self.top.insert(key.to_string(), value);
    }

    /// The raw (untemplated) value of a variable.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.top.get(key).or_else(|| self.layers.iter().rev().find_map(|l| l.get(key)))
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// All variables merged, raw.
    pub fn flatten(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for l in &self.layers {
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
        for l in &self.layers {
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
