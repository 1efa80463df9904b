//! Turning a task's `loop:` / `with_*:` value (already templated) into the
//! list of items, the way Ansible's lookup plugins shape them.

use serde_json::{json, Map, Value};

use crate::playbook::ast::LoopKind;

/// The variables a loop gives each item, as Ansible's task executor sets
/// them (and copies them into the item's result): the loop variable,
/// `ansible_loop_var`, `index_var` with `ansible_index_var`, and with
/// `extended` the `ansible_loop` dictionary.
pub struct LoopVars {
    pub loop_var: String,
    pub index_var: Option<String>,
    pub extended: bool,
    /// `extended_allitems` (true unless set false): `allitems` in `ansible_loop`.
    pub allitems: bool,
}

impl LoopVars {
    /// `loop_control`'s `loop_var` and `index_var`, templated with the
    /// task's variables as Ansible's `_run_loop` post-validates them
    /// (`loop_var: "{{ name }}"` names the variable `name` holds).
    pub fn names(
        templar: &crate::template::Templar,
        lc: &crate::playbook::ast::LoopControl,
        scope: &crate::template::Scope,
    ) -> Result<(String, Option<String>), String> {
        let render = |what: &str, v: &str| -> Result<String, String> {
            if !crate::template::Templar::is_template(v) {
                return Ok(v.to_string());
            }
            match templar.render_value(&Value::String(v.to_string()), scope) {
                Ok(Value::String(s)) => Ok(s),
                Ok(other) => Ok(other.to_string()),
                Err(e) => Err(format!("loop_control.{what} could not be templated: {e}")),
            }
        };
        let loop_var = render("loop_var", lc.loop_var.as_deref().unwrap_or("item"))?;
        let index_var = lc.index_var.as_deref().map(|v| render("index_var", v)).transpose()?;
        Ok((loop_var, index_var))
    }

    pub fn for_item(&self, items: &[Value], idx: usize) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(self.loop_var.clone(), items[idx].clone());
        m.insert("ansible_loop_var".into(), Value::from(self.loop_var.clone()));
        if let Some(iv) = &self.index_var {
            m.insert(iv.clone(), Value::from(idx));
            m.insert("ansible_index_var".into(), Value::from(iv.clone()));
        }
        if self.extended {
            let total = items.len();
            // In Ansible's order (a dictionary printed whole shows it).
            let mut l = json!({
                "index": idx + 1, "index0": idx, "first": idx == 0, "last": idx + 1 == total, "length": total,
                "revindex": total - idx, "revindex0": total - idx - 1,
            });
            let l_map = l.as_object_mut().expect("an object");
            if self.allitems {
                l_map.insert("allitems".into(), Value::Array(items.to_vec()));
            }
            if let Some(next) = items.get(idx + 1) {
                l_map.insert("nextitem".into(), next.clone());
            }
            if idx > 0 {
                l_map.insert("previtem".into(), items[idx - 1].clone());
            }
            m.insert("ansible_loop".into(), l);
        }
        m
    }
}

/// The `with_*` loops shaped here; any other `with_<lookup>` runs that lookup.
const SHAPED: &[&str] =
    &["items", "list", "flattened", "indexed_items", "dict", "together", "nested", "cartesian", "sequence", "subelements"];

/// The items of a loop: shaped here, or for `with_<lookup>` of another
/// lookup, what Ansible does: the lookup run with the rendered terms
/// (`query(name, *terms)`). The terms are passed as data, never rendered.
pub fn items_of(
    templar: &crate::template::Templar,
    kind: &LoopKind,
    value: Value,
    scope: &crate::template::Scope,
) -> Result<Vec<Value>, String> {
    let LoopKind::With(name) = kind else { return loop_items(kind, value) };
    if SHAPED.contains(&name.as_str()) {
        return loop_items(kind, value);
    }
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("'with_{name}' names no lookup plugin"));
    }
    let terms = as_list(value);
    let mut s = scope.clone();
    s.set("__mailplay_with_terms", Value::Array(terms.clone()));
    let args: String = (0..terms.len()).map(|i| format!(", __mailplay_with_terms[{i}]")).collect();
    match templar.eval_expression(&format!("query('{name}'{args})"), &s) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(Value::Null) => Ok(Vec::new()),
        Ok(other) => Ok(vec![other]),
        Err(e) => Err(e.to_string()),
    }
}

/// The items of a loop, or an error naming what was wrong.
pub fn loop_items(kind: &LoopKind, value: Value) -> Result<Vec<Value>, String> {
    match kind {
        LoopKind::Loop => match value {
            Value::Array(items) => Ok(items),
            Value::Null => Ok(Vec::new()),
            other => Err(format!("Invalid data passed to 'loop', it requires a list, got this instead: {other}. Hint: If you passed a list/dict of just one element, try adding wantlist=True to your lookup invocation or use q/query instead of lookup.")),
        },
        LoopKind::With(name) => with_lookup(name, value),
    }
}

fn as_list(v: Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

fn with_lookup(name: &str, value: Value) -> Result<Vec<Value>, String> {
    match name {
        // with_items flattens one level.
        "items" => Ok(as_list(value).into_iter().flat_map(as_list).collect()),
        "list" => Ok(as_list(value)),
        "flattened" => Ok(flatten_all(value)),
        "indexed_items" => Ok(as_list(value).into_iter().enumerate().map(|(i, v)| json!([i, v])).collect()),
        "dict" => match value {
            Value::Object(m) => Ok(m.into_iter().map(|(k, v)| json!({"key": k, "value": v})).collect()),
            // Ansible's message, its stray closing parenthesis included.
            other => Err(format!(
                "the 'dict' lookup plugin expects a dictionary, got '{}' of type <class '{}'>)",
                crate::output::py_repr::py_repr(&other),
                match &other {
                    Value::Array(_) => "list",
                    Value::String(_) => "str",
                    Value::Bool(_) => "bool",
                    Value::Number(n) if n.is_f64() => "float",
                    Value::Number(_) => "int",
                    _ => "NoneType",
                }
            )),
        },
        "together" => {
            let lists: Vec<Vec<Value>> = as_list(value).into_iter().map(as_list).collect();
            let len = lists.iter().map(Vec::len).max().unwrap_or(0);
            Ok((0..len).map(|i| Value::Array(lists.iter().map(|l| l.get(i).cloned().unwrap_or(Value::Null)).collect())).collect())
        }
        "nested" | "cartesian" => {
            let lists: Vec<Vec<Value>> = as_list(value).into_iter().map(as_list).collect();
            let mut acc: Vec<Vec<Value>> = vec![Vec::new()];
            for l in lists {
                acc = acc
                    .into_iter()
                    .flat_map(|prefix| {
                        l.iter().map(move |x| {
                            let mut p = prefix.clone();
                            p.push(x.clone());
                            p
                        })
                    })
                    .collect();
            }
            Ok(acc.into_iter().map(Value::Array).collect())
        }
        "sequence" => sequence(&value),
        "subelements" => subelements(value),
        other => Err(format!("lookup plugin 'with_{other}' is not supported by mailplay; use loop: with a filter instead")),
    }
}

fn flatten_all(v: Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.into_iter().flat_map(flatten_all).collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// `with_sequence: start=1 end=5 format=host%02d` or `count=3`.
fn sequence(v: &Value) -> Result<Vec<Value>, String> {
    let mut start = 1i64;
    let mut end: Option<i64> = None;
    let mut count: Option<i64> = None;
    let mut stride = 1i64;
    let mut format = "%d".to_string();
    let spec = match v {
        Value::String(s) => s.clone(),
        Value::Object(m) => {
            m.iter().map(|(k, v)| format!("{k}={}", v.as_str().map(str::to_string).unwrap_or(v.to_string()))).collect::<Vec<_>>().join(" ")
        }
        other => return Err(format!("with_sequence expects 'start=N end=M', got {other}")),
    };
    for word in spec.split_whitespace() {
        let (k, val) = word.split_once('=').ok_or_else(|| format!("with_sequence: cannot parse '{word}'"))?;
        let num = || parse_int(val).ok_or_else(|| format!("with_sequence: '{val}' is not a number"));
        match k {
            "start" => start = num()?,
            "end" => end = Some(num()?),
            "count" => count = Some(num()?),
            "stride" => stride = num()?,
            "format" => format = val.to_string(),
            _ => return Err(format!("with_sequence: unknown option '{k}'")),
        }
    }
    let end = match (end, count) {
        (Some(e), None) => e,
        (None, Some(c)) => start + (c - 1) * stride,
        _ => return Err("with_sequence: give exactly one of end= and count=".into()),
    };
    if stride == 0 {
        return Err("with_sequence: stride must not be 0".into());
    }
    let mut out = Vec::new();
    let mut i = start;
    while (stride > 0 && i <= end) || (stride < 0 && i >= end) {
        out.push(Value::String(printf_int(&format, i)));
        i += stride;
    }
    Ok(out)
}

fn parse_int(s: &str) -> Option<i64> {
    if let Some(h) = s.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = s.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else {
        s.parse().ok()
    }
}

/// A tiny printf for the one `%d`/`%0Nd`/`%x` conversion with_sequence uses.
fn printf_int(format: &str, n: i64) -> String {
    let re = regex::Regex::new(r"%(0?)(\d*)([dxXo])").expect("valid regex");
    re.replace(format, |c: &regex::Captures| {
        let width: usize = c[2].parse().unwrap_or(0);
        let body = match &c[3] {
            "x" => format!("{n:x}"),
            "X" => format!("{n:X}"),
            "o" => format!("{n:o}"),
            _ => n.to_string(),
        };
        let pad = if &c[1] == "0" { '0' } else { ' ' };
        let mut s = String::new();
        for _ in body.len()..width {
            s.push(pad);
        }
        s + &body
    })
    .into_owned()
}

/// `with_subelements: [users, authorized_keys]` → `[user, key]` pairs.
fn subelements(v: Value) -> Result<Vec<Value>, String> {
    let parts = as_list(v);
    let (list, key) = match parts.as_slice() {
        [list, Value::String(key), ..] => (as_list(list.clone()), key.clone()),
        _ => return Err("with_subelements expects [list, 'key']".into()),
    };
    let mut out = Vec::new();
    for elem in list {
        let subs = elem.get(&key).cloned().ok_or_else(|| format!("could not find '{key}' key in iterated item {elem}"))?;
        for s in as_list(subs) {
            out.push(json!([elem.clone(), s]));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_items_flattens_one_level() {
        let items = loop_items(&LoopKind::With("items".into()), json!([1, [2, 3], [[4]]])).unwrap();
        assert_eq!(items, vec![json!(1), json!(2), json!(3), json!([4])]);
    }

    #[test]
    fn loop_requires_a_list() {
        assert!(loop_items(&LoopKind::Loop, json!("a")).unwrap_err().contains("requires a list"));
        assert_eq!(loop_items(&LoopKind::Loop, json!([1, [2]])).unwrap(), vec![json!(1), json!([2])]);
    }

    #[test]
    fn with_dict_gives_key_value_pairs_in_order() {
        let items = loop_items(&LoopKind::With("dict".into()), json!({"b": 1, "a": 2})).unwrap();
        assert_eq!(items, vec![json!({"key": "b", "value": 1}), json!({"key": "a", "value": 2})]);
    }

    #[test]
    fn with_sequence_formats_numbers() {
        let items = loop_items(&LoopKind::With("sequence".into()), json!("start=1 end=3 format=db%02d")).unwrap();
        assert_eq!(items, vec![json!("db01"), json!("db02"), json!("db03")]);
        assert_eq!(loop_items(&LoopKind::With("sequence".into()), json!("count=2")).unwrap(), vec![json!("1"), json!("2")]);
    }

    #[test]
    fn nested_and_together() {
        let n = loop_items(&LoopKind::With("nested".into()), json!([["a", "b"], [1, 2]])).unwrap();
        assert_eq!(n.len(), 4);
        assert_eq!(n[1], json!(["a", 2]));
        let t = loop_items(&LoopKind::With("together".into()), json!([["a", "b"], [1]])).unwrap();
        assert_eq!(t, vec![json!(["a", 1]), json!(["b", null])]);
    }

    #[test]
    fn subelements_pairs_parent_and_child() {
        let v = json!([[{"name": "u", "keys": ["k1", "k2"]}], "keys"]);
        let items = loop_items(&LoopKind::With("subelements".into()), v).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1][1], json!("k2"));
    }
}
