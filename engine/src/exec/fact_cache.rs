//! Ansible's fact cache with its `jsonfile` plugin: `set_fact` with
//! `cacheable: true` and gathered facts are written to
//! `<connection>/<prefix>s1_<host>`, as ansible-core 2.19 writes it: its
//! cache interposer adds the schema id (`s1_`) to the key and stores
//! `{"__payload__": "<the facts as JSON>"}`, both with Python's
//! `json.dumps` separators. A later run reads them back as the host's
//! facts while younger than the timeout; Ansible's tagged values
//! (`{"__ansible_type": ..., "value": ..., "tags": ...}`) are read as their
//! plain value. Values read back are host data: they go to the facts
//! layer, never rendered as templates.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// ansible-core's `_cache_persistence._Profile.schema_id`.
const SCHEMA_ID: u32 = 1;
const PAYLOAD_KEY: &str = "__payload__";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactCache {
    pub dir: PathBuf,
    pub prefix: String,
    /// Seconds; 0: never expires.
    pub timeout: u64,
}

impl FactCache {
    fn path(&self, host: &str) -> PathBuf {
        self.dir.join(format!("{}s{SCHEMA_ID}_{host}", self.prefix))
    }

    /// The host's cached facts, if present and not expired.
    pub fn get(&self, host: &str) -> Option<Map<String, Value>> {
        let path = self.path(host);
        let meta = std::fs::metadata(&path).ok()?;
        if self.timeout > 0 {
            let age = meta.modified().ok()?.elapsed().map(|d| d.as_secs()).unwrap_or(0);
            if age > self.timeout {
                return None;
            }
        }
        let text = std::fs::read_to_string(&path).ok()?;
        let envelope: Value = serde_json::from_str(&text).ok()?;
        let payload: Value = serde_json::from_str(envelope.get(PAYLOAD_KEY)?.as_str()?).ok()?;
        match untag(payload) {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// Merge `facts` into the host's cache entry and write it.
    pub fn update(&self, host: &str, facts: &Map<String, Value>) -> Result<(), String> {
        let mut m = self.get(host).unwrap_or_default();
        for (k, v) in facts {
            m.insert(k.clone(), v.clone());
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("error in 'jsonfile' cache plugin while trying to create cache dir {}: {e}", self.dir.display()))?;
        write_envelope(&self.path(host), &Value::Object(m))
    }

    /// `--flush-cache`: the hosts' entries removed.
    pub fn flush<'a>(&self, hosts: impl IntoIterator<Item = &'a str>) {
        for h in hosts {
            let _ = std::fs::remove_file(self.path(h));
        }
    }
}

/// Ansible's tagged values as their plain value.
fn untag(v: Value) -> Value {
    match v {
        Value::Object(mut m) => {
            if m.get("__ansible_type").and_then(Value::as_str).is_some_and(|t| t.starts_with("_AnsibleTagged")) {
                if let Some(inner) = m.remove("value") {
                    return untag(inner);
                }
            }
            Value::Object(m.into_iter().map(|(k, v)| (k, untag(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(untag).collect()),
        other => other,
    }
}

/// Python's `json.dumps(v)`, as ansible-core writes the cache file.
fn python_json(v: &Value) -> String {
    crate::template::filters_json::python_dumps(v)
}

fn write_envelope(path: &Path, v: &Value) -> Result<(), String> {
    let mut envelope = Map::new();
    envelope.insert(PAYLOAD_KEY.into(), Value::String(python_json(v)));
    std::fs::write(path, python_json(&Value::Object(envelope)))
        .map_err(|e| format!("error in 'jsonfile' cache plugin while trying to write to '{}': {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn facts_round_trip_in_ansibles_envelope() {
        let dir = tempfile::tempdir().unwrap();
        let c = FactCache { dir: dir.path().join("cache"), prefix: "prefix_".into(), timeout: 86400 };
        assert_eq!(c.get("h"), None);
        let mut f = Map::new();
        f.insert("ansible_foobar".into(), json!(["{{ not rendered }}", 1, "é\"\n"]));
        c.update("h", &f).unwrap();
        let text = std::fs::read_to_string(dir.path().join("cache/prefix_s1_h")).unwrap();
        assert_eq!(text, r#"{"__payload__": "{\"ansible_foobar\": [\"{{ not rendered }}\", 1, \"\\u00e9\\\"\\n\"]}"}"#);
        let mut g = Map::new();
        g.insert("a".into(), json!({"b": null}));
        c.update("h", &g).unwrap();
        let got = c.get("h").unwrap();
        assert_eq!(got["ansible_foobar"], json!(["{{ not rendered }}", 1, "é\"\n"]));
        assert_eq!(got["a"], json!({"b": null}));
        c.flush(["h"]);
        assert_eq!(c.get("h"), None);
    }

    #[test]
    fn ansibles_tagged_values_read_as_plain_values() {
        let dir = tempfile::tempdir().unwrap();
        let c = FactCache { dir: dir.path().to_path_buf(), prefix: "p_".into(), timeout: 0 };
        // As ansible-playbook 2.19 writes a `set_fact: {x: "{{ t }}", cacheable: true}`.
        let payload = r#"{"x": {"value": "{{ t }}", "tags": [{"path": "/pb.yml", "line_num": 5, "col_num": 25, "__ansible_type": "Origin"}, {"__ansible_type": "TrustedAsTemplate"}], "__ansible_type": "_AnsibleTaggedStr"}, "n": {"value": [{"value": 1, "tags": [], "__ansible_type": "_AnsibleTaggedInt"}], "tags": [], "__ansible_type": "_AnsibleTaggedList"}}"#;
        let envelope = json!({ "__payload__": payload });
        std::fs::write(dir.path().join("p_s1_h"), envelope.to_string()).unwrap();
        let got = c.get("h").unwrap();
        assert_eq!(Value::Object(got), json!({"x": "{{ t }}", "n": [1]}));
    }
}
