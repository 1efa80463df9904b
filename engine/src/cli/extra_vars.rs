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

/// `a=1 b='two words'`: values stay strings, as Ansible's key=value extra vars do.
fn parse_kv(s: &str) -> Result<Vec<(String, String)>, String> {
    let words = shell_words::split(s).map_err(|e| format!("cannot parse extra vars '{s}': {e}"))?;
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("extra vars must be key=value, a JSON/YAML mapping or @file, got '{w}'")),
        })
        .collect()
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
