//! Ansible's message for an item or attribute that a variable's value
//! lacks (`foo[0]` with `foo: []`, `d['x']`, `nested.l[3]`), where
//! minijinja only says "`foo[0]` is undefined".
//!
//! Ansible 2.19's undefined marker (`_jinja_common.Marker.__init__`) says
//! "object of type 'list' has no attribute 5" when the missing name is
//! truthy; for a falsy one (`0`, `''`) it keeps Jinja's own message, which
//! names the container's Python class: a list or dict read from a variable
//! is one of Ansible's lazy containers there ("ansible._internal.
//! _templating._lazy_containers._AnsibleLazyTemplateList object has no
//! element 0"). Only paths from a variable are named here; a computed
//! container (`[][0]`) keeps minijinja's message.

use serde_json::Value;

use super::{json_type, Scope};

const LAZY_LIST: &str = "ansible._internal._templating._lazy_containers._AnsibleLazyTemplateList";
const LAZY_DICT: &str = "ansible._internal._templating._lazy_containers._AnsibleLazyTemplateDict";

/// One step of a path.
#[derive(Debug, PartialEq)]
enum Step {
    /// `.name` or `['name']`.
    Name(String),
    /// `[n]`.
    Index(i64),
}

/// Ansible's message for the first step of `path` (a variable path such
/// as `foo[0]` or `d.a['b']`) that the variable's value lacks; None when
/// `path` is no such path, its variable is not set, or nothing lacks.
pub(super) fn message(path: &str, scope: &Scope) -> Option<String> {
    let (root, steps) = parse(path)?;
    let (raw, origin) = scope.lookup(&root)?;
    let root_value = super::rendered_for_naming(raw, origin, scope)?;
    let mut v = root_value.into_owned();
    for step in &steps {
        match get(&v, step) {
            Some(next) => v = next,
            None => return Some(lacks(&v, step)),
        }
    }
    None
}

/// The message for `container` lacking `step`.
fn lacks(container: &Value, step: &Step) -> String {
    match step {
        Step::Name(n) if !n.is_empty() => format!("object of type '{}' has no attribute '{n}'", json_type(container)),
        Step::Index(i) if *i != 0 => format!("object of type '{}' has no attribute {i}", json_type(container)),
        // Jinja's `Undefined._undefined_message` with `object_type_repr`.
        Step::Name(n) => format!("'{}' has no attribute '{n}'", type_repr(container)),
        Step::Index(i) => format!("{} has no element {i}", type_repr(container)),
    }
}

/// Jinja's `object_type_repr` of a value read from a variable.
fn type_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".to_string(),
        Value::Array(_) => format!("{LAZY_LIST} object"),
        Value::Object(_) => format!("{LAZY_DICT} object"),
        other => format!("{} object", json_type(other)),
    }
}

/// Python's item lookup: a mapping's key, a list's or string's index
/// (negative from the end).
fn get(v: &Value, step: &Step) -> Option<Value> {
    match (v, step) {
        (Value::Object(m), Step::Name(k)) => m.get(k).cloned(),
        (Value::Array(items), Step::Index(i)) => index(items.len(), *i).map(|i| items[i].clone()),
        (Value::String(s), Step::Index(i)) => {
            let chars: Vec<char> = s.chars().collect();
            index(chars.len(), *i).map(|i| Value::String(chars[i].to_string()))
        }
        _ => None,
    }
}

fn index(len: usize, i: i64) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let i = if i < 0 { i + len } else { i };
    (0..len).contains(&i).then_some(i as usize)
}

/// `name(.attr|[n]|['key'])*`, or None.
fn parse(path: &str) -> Option<(String, Vec<Step>)> {
    let ident_len = |s: &str| {
        let n = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(s.len());
        (n > 0 && !s.starts_with(|c: char| c.is_ascii_digit())).then_some(n)
    };
    let n = ident_len(path)?;
    let root = path[..n].to_string();
    let mut rest = &path[n..];
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let n = ident_len(r)?;
            steps.push(Step::Name(r[..n].to_string()));
            rest = &r[n..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']')?;
            let inner = &r[..close];
            let quoted = inner.len() >= 2
                && ((inner.starts_with('\'') && inner.ends_with('\'')) || (inner.starts_with('"') && inner.ends_with('"')));
            let step = if quoted {
                let key = &inner[1..inner.len() - 1];
                if key.contains(['\'', '"', '\\']) {
                    return None;
                }
                Step::Name(key.to_string())
            } else {
                Step::Index(inner.parse().ok()?)
            };
            steps.push(step);
            rest = &r[close + 1..];
        } else {
            return None;
        }
    }
    (!steps.is_empty()).then_some((root, steps))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_parse() {
        assert_eq!(parse("foo[0]"), Some(("foo".into(), vec![Step::Index(0)])));
        assert_eq!(parse("d.a['b'][-1]"), Some(("d".into(), vec![Step::Name("a".into()), Step::Name("b".into()), Step::Index(-1)])));
        assert_eq!(parse("foo"), None);
        assert_eq!(parse("(...)[0]"), None);
        assert_eq!(parse("foo[x]"), None);
    }

    #[test]
    fn messages_are_ansibles() {
        let mut s = Scope::new();
        s.set("foo", json!([]));
        s.set("one", json!([1]));
        s.set("d", json!({"a": 1}));
        s.set("s", json!("abc"));
        s.set("nested", json!({"l": [1]}));
        let m = |p: &str| message(p, &s);
        assert_eq!(m("foo[0]").unwrap(), format!("{LAZY_LIST} object has no element 0"));
        assert_eq!(m("d[0]").unwrap(), format!("{LAZY_DICT} object has no element 0"));
        assert_eq!(m("d['x']").unwrap(), "object of type 'dict' has no attribute 'x'");
        assert_eq!(m("one[5]").unwrap(), "object of type 'list' has no attribute 5");
        assert_eq!(m("one[-5]").unwrap(), "object of type 'list' has no attribute -5");
        assert_eq!(m("s[10]").unwrap(), "object of type 'str' has no attribute 10");
        assert_eq!(m("nested.l[3]").unwrap(), "object of type 'list' has no attribute 3");
        assert_eq!(m("one[-1]"), None);
        assert_eq!(m("nope[0]"), None);
    }
}
