//! Expressions are only ever text the user wrote. `assert`'s `that`
//! items are expressions the module evaluates after the engine rendered
//! the task's arguments; an item a template produced (`that: "{{
//! r.stdout }}"`) is data, and evaluating it would run whatever a host
//! printed (a `lookup('pipe', ...)` on the controller). ansible-core 2.19
//! refuses such text as "untrusted"; so does mailplay, for every string
//! a template produced (Ansible still trusts text that only passed
//! through variables the playbook wrote; mailplay does not track that).
//! A template that renders to a boolean is a result, not an expression,
//! and stays allowed.

use serde_json::Value;

use crate::template::Templar;

/// As ansible-core 2.19 registers it.
pub const MESSAGE: &str = "Task failed: Encountered untrusted template or expression.";

/// Refuse `assert` arguments whose `that` strings a template produced.
/// `raw` is the task's arguments before rendering (None when a whole
/// template gave them: arg splat).
pub fn check(module: &str, raw: Option<&Value>, rendered: &Value) -> Result<(), String> {
    if module != "assert" {
        return Ok(());
    }
    let Some(that) = rendered.get("that") else { return Ok(()) };
    let raw_that = raw.and_then(|r| r.get("that"));
    // Whether the rendered item `i` (None: the whole value) came from a template.
    let templated = |i: Option<usize>| match raw_that {
        None => true,
        Some(Value::String(s)) => Templar::is_template(s),
        Some(Value::Array(items)) => match i.and_then(|i| items.get(i)) {
            Some(Value::String(s)) => Templar::is_template(s),
            Some(_) => false,
            None => true,
        },
        Some(_) => false,
    };
    let bad = match that {
        // A single string: from the raw string's template, or a splat.
        Value::String(_) => !matches!(raw_that, Some(Value::Array(_))) && templated(None),
        Value::Array(items) => items.iter().enumerate().any(|(i, v)| v.is_string() && templated(Some(i))),
        _ => false,
    };
    if bad {
        Err(MESSAGE.into())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_a_template_produced_is_not_an_expression() {
        let raw = json!({"that": "{{ r.stdout }}"});
        assert!(check("assert", Some(&raw), &json!({"that": "lookup('pipe', 'x')"})).is_err());
        let raw = json!({"that": ["x == 1", "{{ checks }}"]});
        assert!(check("assert", Some(&raw), &json!({"that": ["x == 1", "y == 2"]})).is_err());
        assert!(check("assert", None, &json!({"that": "1 == 1"})).is_err());
        assert!(check("assert", None, &json!({"that": ["1 == 1"]})).is_err());
    }

    #[test]
    fn written_text_and_rendered_booleans_are_fine() {
        let raw = json!({"that": ["x == 1", "{{ a == 1 }}"]});
        assert!(check("assert", Some(&raw), &json!({"that": ["x == 1", true]})).is_ok());
        assert!(check("assert", Some(&json!({"that": "x == 1"})), &json!({"that": "x == 1"})).is_ok());
        assert!(check("assert", None, &json!({"that": true})).is_ok());
        assert!(check("debug", None, &json!({"that": "x"})).is_ok());
    }
}
