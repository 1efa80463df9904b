//! `-e/--extra-vars`: `k=v` pairs, an inline JSON/YAML mapping, or `@file`.

use std::path::Path;

use serde_json::{Map, Value};

pub fn parse_extra_vars(items: &[String]) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for item in items {
        let item = item.trim();
        if let Some(file) = item.strip_prefix('@') {
            let node = crate::yaml::parse_file(Path::new(file)).map_err(|d| d.render())?;
            match node.to_value() {
                Value::Object(m) => out.extend(m),
                Value::Null => {}
                _ => return Err(format!("extra vars file {file} must contain a mapping")),
            }
        } else if item.starts_with('{') || item.starts_with('[') {
            let node = crate::yaml::parse_str(item, Path::new("<extra vars>")).map_err(|d| d.render())?;
            crate::template::trust::remember_node(&node);
            match node.to_value() {
                Value::Object(m) => out.extend(m),
                _ => return Err(format!("extra vars must be a mapping: {item}")),
            }
        } else if !item.is_empty() {
            for (k, v) in parse_kv(item)? {
                crate::template::trust::remember(&v);
                out.insert(k, Value::String(v));
            }
        }
    }
    Ok(out)
}

/// `a=1 b='two words' c={{ x | default(1) }}`, split as Ansible's
/// `parse_kv` splits it (quotes and Jinja blocks keep their spaces); values
/// stay strings, as Ansible's key=value extra vars do. A word without `=`
/// is refused.
fn parse_kv(s: &str) -> Result<Vec<(String, String)>, String> {
    let m = crate::playbook::parse_kv(s, None).map_err(|e| format!("cannot parse extra vars '{s}': {e}"))?;
    if let Some(raw) = m.get("_raw_params") {
        return Err(format!("extra vars must be key=value, a JSON/YAML mapping or @file, got '{}'", raw.as_str().unwrap_or_default()));
    }
    Ok(m.into_iter().map(|(k, v)| (k, v.as_str().map(str::to_string).unwrap_or_default())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_value_json_and_yaml() {
        let v = parse_extra_vars(&["a=1 b='x y'".into(), "{\"c\": [1, 2]}".into(), "{d: yes}".into()]).unwrap();
        assert_eq!(Value::Object(v), json!({"a": "1", "b": "x y", "c": [1, 2], "d": true}));
    }

    /// As ansible's `-e "vars1={{ bogus_var }}"` (the template target).
    #[test]
    fn templates_keep_their_spaces() {
        let v = parse_extra_vars(&["vars1={{ bogus_var }}".into(), "var2={{ var1 }} x='a b'".into()]).unwrap();
        assert_eq!(Value::Object(v), json!({"vars1": "{{ bogus_var }}", "var2": "{{ var1 }}", "x": "a b"}));
    }

    #[test]
    fn from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("v.yml");
        std::fs::write(&f, "x: 5\n").unwrap();
        let v = parse_extra_vars(&[format!("@{}", f.display())]).unwrap();
        assert_eq!(v["x"], json!(5));
        assert!(parse_extra_vars(&["novalue".into()]).is_err());
    }
}
