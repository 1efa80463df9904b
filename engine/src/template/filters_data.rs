//! ansible-core's data structure filters (`plugins/filter/core.py`):
//! `combine` (with `merge_hash`), `flatten`, `dict2items`, `items2dict`,
//! `subelements`, `from_yaml`, `from_yaml_all`, with Ansible's messages.

use minijinja::value::{Kwargs, Rest, Tuple, ValueKind};
use minijinja::{Environment, Error, ErrorKind, Value as JValue};
use serde_json::{Map, Value};

use super::filters::python_type;
use super::{from_json, to_json};

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// The value as data; an undefined part is an undefined error (named by
/// the caller's error handling, as Ansible names it).
pub(super) fn json(v: &JValue) -> Result<Value, Error> {
    to_json(v).map_err(|e| Error::new(if e.undefined { ErrorKind::UndefinedError } else { ErrorKind::InvalidOperation }, e.message))
}

/// An undefined input is an undefined error (so a loop over
/// `undefined | dict2items` under a false `when` is skipped, as in Ansible).
fn defined(v: &JValue) -> Result<(), Error> {
    if v.is_undefined() {
        return Err(Error::new(ErrorKind::UndefinedError, "undefined value"));
    }
    Ok(())
}

/// Python's `type(x)` as printed: `<class 'bool'>`.
fn py_class(v: &JValue) -> String {
    format!("<class '{}'>", python_type(v))
}

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("combine", combine);
    env.add_filter("flatten", flatten_filter);
    env.add_filter("dict2items", dict2items);
    env.add_filter("items2dict", items2dict);
    env.add_filter("subelements", subelements);
    env.add_filter("from_yaml", |v: JValue| -> Result<JValue, Error> {
        match v.kind() {
            ValueKind::None => Ok(JValue::from(())),
            ValueKind::String => parse_yaml(v.as_str().unwrap_or(""), false).map(|mut docs| docs.pop().unwrap_or(JValue::from(()))),
            // Ansible passes other input through (with a deprecation warning).
            _ => Ok(v),
        }
    });
    env.add_filter("from_yaml_all", |v: JValue| -> Result<JValue, Error> {
        match v.kind() {
            ValueKind::None => Ok(JValue::from(Vec::<JValue>::new())),
            ValueKind::String => parse_yaml(v.as_str().unwrap_or(""), true).map(JValue::from),
            _ => Ok(v),
        }
    });
}

/// The documents of a YAML text (`all`), or its one document.
fn parse_yaml(text: &str, all: bool) -> Result<Vec<JValue>, Error> {
    let name = if all { "from_yaml_all" } else { "from_yaml" };
    let path = std::path::Path::new(if all { "<from_yaml_all>" } else { "<from_yaml>" });
    if all {
        let docs = crate::yaml::parse_documents(text, path).map_err(|d| err(format!("{name}: {}", d.message)))?;
        return Ok(docs.iter().map(|n| from_json(&n.to_value())).collect());
    }
    crate::yaml::parse_str(text, path).map(|n| vec![from_json(&n.to_value())]).map_err(|d| err(format!("{name}: {}", d.message)))
}

/// Ansible's `flatten(levels=None, skip_nulls=True)`: `None`, `'None'` and
/// `'null'` items are dropped unless `skip_nulls` is false; strings and
/// mappings are items, lists are flattened.
pub fn flatten(items: Vec<Value>, levels: Option<i64>, skip_nulls: bool) -> Vec<Value> {
    let mut out = Vec::new();
    for element in items {
        let null = matches!(&element, Value::Null) || matches!(element.as_str(), Some("None" | "null"));
        match element {
            _ if skip_nulls && null => {}
            Value::Array(inner) => match levels {
                None => out.extend(flatten(inner, None, skip_nulls)),
                Some(l) if l >= 1 => out.extend(flatten(inner, Some(l - 1), skip_nulls)),
                Some(_) => out.push(Value::Array(inner)),
            },
            other => out.push(other),
        }
    }
    out
}

fn flatten_filter(v: JValue, levels: Option<JValue>, skip_nulls: Option<bool>, kw: Kwargs) -> Result<JValue, Error> {
    let levels = match levels {
        Some(l) => Some(l),
        None => kw.get::<Option<JValue>>("levels")?,
    };
    let levels = match levels.filter(|l| !l.is_none()) {
        Some(l) => Some(i64::try_from(l)?),
        None => None,
    };
    let skip_nulls = match skip_nulls {
        Some(b) => b,
        None => kw.get::<Option<bool>>("skip_nulls")?.unwrap_or(true),
    };
    kw.assert_all_used()?;
    let items = match json(&v)? {
        Value::Array(items) => items,
        other => vec![other],
    };
    Ok(from_json(&Value::Array(flatten(items, levels, skip_nulls))))
}

/// ansible.utils.vars.merge_hash: `y` into a copy of `x`, `y` winning;
/// nested mappings merged when `recursive`, lists both sides have merged
/// by `list_merge`. Keys keep their first position, as in a Python dict.
fn merge_hash(mut x: Map<String, Value>, y: Map<String, Value>, recursive: bool, list_merge: &str) -> Map<String, Value> {
    for (key, y_value) in y {
        let Some(x_value) = x.get_mut(&key) else {
            x.insert(key, y_value);
            continue;
        };
        let merged = match (std::mem::take(x_value), y_value) {
            (Value::Object(a), Value::Object(b)) if recursive => Value::Object(merge_hash(a, b, recursive, list_merge)),
            (Value::Array(a), Value::Array(b)) => match list_merge {
                "append" => Value::Array(a.into_iter().chain(b).collect()),
                "prepend" => Value::Array(b.into_iter().chain(a).collect()),
                "append_rp" => {
                    let kept: Vec<Value> = a.into_iter().filter(|z| !b.contains(z)).collect();
                    Value::Array(kept.into_iter().chain(b).collect())
                }
                "prepend_rp" => {
                    let rest: Vec<Value> = a.into_iter().filter(|z| !b.contains(z)).collect();
                    Value::Array(b.into_iter().chain(rest).collect())
                }
                "keep" => Value::Array(a),
                _ => Value::Array(b),
            },
            (_, y_value) => y_value,
        };
        *x_value = merged;
    }
    x
}

/// Ansible's `combine(*dicts, recursive=False, list_merge='replace')`;
/// lists of dicts among the terms are flattened one level.
fn combine(first: JValue, rest: Rest<JValue>, kwargs: Kwargs) -> Result<JValue, Error> {
    let mut recursive = false;
    let mut list_merge = "replace".to_string();
    for key in kwargs.args().map(str::to_string).collect::<Vec<_>>() {
        match key.as_str() {
            "recursive" => recursive = kwargs.get::<JValue>("recursive")?.is_true(),
            "list_merge" => list_merge = kwargs.get::<String>("list_merge")?,
            _ => {
                let _ = kwargs.get::<JValue>(&key)?;
                return Err(err("'recursive' and 'list_merge' are the only valid keyword arguments"));
            }
        }
    }
    if !["replace", "keep", "append", "prepend", "append_rp", "prepend_rp"].contains(&list_merge.as_str()) {
        return Err(err(
            "merge_hash: 'list_merge' argument can only be equal to 'replace', 'keep', 'append', 'prepend', 'append_rp' or 'prepend_rp'",
        ));
    }
    let mut terms = vec![json(&first)?];
    for r in rest.iter() {
        terms.push(json(r)?);
    }
    let dicts = flatten(terms, Some(1), true);
    let mut it = dicts.into_iter();
    let Some(mut acc) = it.next() else { return Ok(from_json(&Value::Object(Map::new()))) };
    for next in it {
        acc = match (acc, next) {
            (Value::Object(a), Value::Object(b)) => Value::Object(merge_hash(a, b, recursive, &list_merge)),
            (a, b) => {
                return Err(err(format!(
                    "failed to combine variables, expected dicts but got a '{}' and a '{}'.",
                    super::json_type(&a),
                    super::json_type(&b)
                )))
            }
        };
    }
    Ok(from_json(&acc))
}

fn dict2items(v: JValue, kwargs: Kwargs) -> Result<JValue, Error> {
    let key_name = kwargs.get::<Option<String>>("key_name")?.unwrap_or_else(|| "key".into());
    let value_name = kwargs.get::<Option<String>>("value_name")?.unwrap_or_else(|| "value".into());
    kwargs.assert_all_used()?;
    defined(&v)?;
    if v.kind() != ValueKind::Map {
        return Err(err(format!("dict2items requires a dictionary, got {} instead.", py_class(&v))));
    }
    let Value::Object(m) = json(&v)? else { unreachable!("a map converts to an object") };
    let items = m.into_iter().map(|(k, v)| {
        let mut e = Map::new();
        e.insert(key_name.clone(), Value::String(k));
        e.insert(value_name.clone(), v);
        Value::Object(e)
    });
    Ok(from_json(&Value::Array(items.collect())))
}

fn items2dict(v: JValue, kwargs: Kwargs) -> Result<JValue, Error> {
    let key_name = kwargs.get::<Option<String>>("key_name")?.unwrap_or_else(|| "key".into());
    let value_name = kwargs.get::<Option<String>>("value_name")?.unwrap_or_else(|| "value".into());
    kwargs.assert_all_used()?;
    defined(&v)?;
    let Value::Array(items) = json(&v)? else {
        return Err(err(format!("items2dict requires a list, got {} instead.", py_class(&v))));
    };
    let shown = crate::output::py_repr::py_repr(&Value::Array(items.clone()));
    let mut out = Map::new();
    for item in items {
        let Value::Object(m) = item else {
            return Err(err(format!("items2dict requires a list of dictionaries, got {shown} instead.")));
        };
        let (Some(k), Some(val)) = (m.get(&key_name), m.get(&value_name)) else {
            return Err(err(format!(
                "items2dict requires each dictionary in the list to contain the keys '{key_name}' and '{value_name}', got {shown} instead."
            )));
        };
        // JSON keys are strings; Python would keep the key's type.
        let key = k.as_str().map(str::to_string).unwrap_or_else(|| crate::output::py_repr::py_str(k));
        out.insert(key, val.clone());
    }
    Ok(from_json(&Value::Object(out)))
}

/// `subelements(obj, 'a.b', skip_missing=False)`: each element paired with
/// each item of the list at the path inside it.
fn subelements(obj: JValue, path: JValue, skip_missing: Option<bool>, kwargs: Kwargs) -> Result<JValue, Error> {
    let skip_missing = match skip_missing {
        Some(s) => s,
        None => kwargs.get::<Option<bool>>("skip_missing")?.unwrap_or(false),
    };
    kwargs.assert_all_used()?;
    defined(&obj)?;
    let elements: Vec<Value> = match json(&obj)? {
        Value::Object(m) => m.into_iter().map(|(_, v)| v).collect(),
        Value::Array(a) => a,
        _ => return Err(err("obj must be a list of dicts or a nested dict")),
    };
    let keys: Vec<Value> = match json(&path)? {
        Value::Array(a) => a,
        Value::String(s) => s.split('.').map(|p| Value::String(p.to_string())).collect(),
        _ => return Err(err("subelements must be a list or a string")),
    };
    let mut results = Vec::new();
    for element in elements {
        let mut values = element.clone();
        for key in &keys {
            let k = key.as_str().map(str::to_string).unwrap_or_else(|| key.to_string());
            let next = match &values {
                Value::Object(m) => m.get(&k).cloned(),
                _ => {
                    return Err(err(format!(
                        "the key {} should point to a dictionary, got '{}'",
                        k,
                        crate::output::py_repr::py_repr(&values)
                    )))
                }
            };
            match next {
                Some(v) => values = v,
                None if skip_missing => {
                    values = Value::Array(Vec::new());
                    break;
                }
                None => return Err(err(format!("could not find '{k}' key in iterated item {}", crate::output::py_repr::py_repr(&values)))),
            }
        }
        let Value::Array(list) = values else {
            return Err(err(format!(
                "the key '{}' should point to a list, got {}",
                keys.last().and_then(Value::as_str).unwrap_or(""),
                crate::output::py_repr::py_repr(&values)
            )));
        };
        for v in list {
            results.push((element.clone(), v));
        }
    }
    // Python's tuples: `== [(elem, 'x')]` holds, as in Ansible.
    let pairs = results.iter().map(|(e, v)| JValue::from(Tuple::from(vec![from_json(e), from_json(v)])));
    Ok(JValue::from(pairs.collect::<Vec<_>>()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn flatten_drops_python_nulls_unless_asked_not_to() {
        let l = json!([1, "None", [3, [4, [5]], 6], null, "null", 7]);
        let items = |v: &Value| v.as_array().unwrap().clone();
        assert_eq!(Value::Array(flatten(items(&l), None, true)), json!([1, 3, 4, 5, 6, 7]));
        assert_eq!(Value::Array(flatten(items(&l), Some(1), false)), json!([1, "None", 3, [4, [5]], 6, null, "null", 7]));
    }

    #[test]
    fn merge_hash_keeps_key_positions_and_merges_lists_as_asked() {
        let x = obj(json!({"a": {"x": 1, "l": [1, 2]}, "b": 1}));
        let y = obj(json!({"a": {"y": 2, "l": [2, 3]}, "c": 3}));
        let merged = merge_hash(x.clone(), y.clone(), true, "append_rp");
        assert_eq!(serde_json::to_string(&merged).unwrap(), r#"{"a":{"x":1,"l":[1,2,3],"y":2},"b":1,"c":3}"#);
        assert_eq!(Value::Object(merge_hash(x, y, false, "replace")), json!({"a": {"y": 2, "l": [2, 3]}, "b": 1, "c": 3}));
    }
}
