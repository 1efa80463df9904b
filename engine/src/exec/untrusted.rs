//! Arguments that are expressions, and the trust rule that guards them.
//!
//! `assert`'s `that`, `debug`'s `var` and `ansible._protomatter.debug`'s
//! `expression` are expressions the action evaluates, not text to render:
//! like Ansible's `finalize_task_arg`, the engine leaves `that` and
//! `expression` as the user wrote them (`that` that is one whole template
//! may only resolve to a list), and the action evaluates them
//! (`Templar::eval_condition` refuses a rendered string the user did not
//! write).
//!
//! A value of such an argument that a template produced (an arg splat
//! `assert: '{{ item }}'`, `that: '{{ checks }}'` resolving to a list,
//! `var: '{{ item }}'`) may be evaluated only if the user wrote exactly
//! that text in a trusted source (`template::trust`): a loop over
//! playbook-written expressions passes, text a host printed (`that: "{{
//! r.stdout }}"` giving `lookup('pipe', ...)`) is refused as ansible-core
//! 2.19 refuses it. A `!unsafe` value is never evaluated. A template that
//! renders to a boolean is a result, not an expression, and stays allowed.

use serde_json::{Map, Value};

use crate::template::trust;
use crate::template::{unsafe_text, Scope, Templar};

/// As ansible-core 2.19 registers it.
pub const MESSAGE: &str = "Task failed: Encountered untrusted template or expression.";

/// The arguments of `module` (short name) the engine does not render.
fn expression_args(module: &str) -> &'static [&'static str] {
    match module {
        "assert" => &["that"],
        "ansible._protomatter.debug" => &["expression"],
        _ => &[],
    }
}

/// Split the task's own arguments into those to render and the
/// expression arguments, kept as written.
pub fn take_expressions(module: &str, raw: &Value) -> (Value, Map<String, Value>) {
    let names = expression_args(module);
    let Value::Object(own) = raw else { return (raw.clone(), Map::new()) };
    if !names.iter().any(|n| own.contains_key(*n)) {
        return (raw.clone(), Map::new());
    }
    let (kept, rest): (Map<String, Value>, Map<String, Value>) = own.clone().into_iter().partition(|(k, _)| names.contains(&k.as_str()));
    (Value::Object(rest), kept)
}

/// Put the expression arguments back over the rendered arguments (the
/// task's own win over a splat's). A `that` that is one whole template
/// string resolves to the list it renders to, if it does (Ansible's
/// `resolve_to_container`); otherwise it stays as written.
pub fn put_back(templar: &Templar, scope: &Scope, rendered: Value, kept: Map<String, Value>) -> Value {
    let Value::Object(mut args) = rendered else { return rendered };
    for (k, v) in kept {
        let list = match &v {
            Value::String(s) if k == "that" && crate::template::is_possibly_all_template(s) => {
                templar.resolve_to_container(s, scope).filter(Value::is_array)
            }
            _ => None,
        };
        args.insert(k, list.unwrap_or(v));
    }
    Value::Object(args)
}

/// Refuse expression arguments a template produced from text the user
/// did not write. `own` is the task's own arguments before rendering.
pub fn check(module: &str, own: &Value, args: &Value) -> Result<(), String> {
    let own_arg = |k: &str| own.get(k);
    let bad = match module {
        "assert" | "ansible._protomatter.debug" => expression_args(module).iter().any(|k| match (args.get(*k), own_arg(k)) {
            // As written: the action evaluates it itself.
            (Some(v), Some(o)) if v == o => false,
            (Some(v), _) => !all_strings_trusted(v),
            (None, _) => false,
        }),
        "debug" => match (args.get("var"), own_arg("var")) {
            (_, Some(Value::String(o))) if unsafe_text(o).is_some() => true,
            (Some(Value::String(_)), Some(Value::String(o))) if !Templar::is_template(o) => false,
            (Some(Value::String(v)), _) => !trust::is_trusted(v),
            _ => false,
        },
        _ => false,
    };
    match (bad, module) {
        (false, _) => Ok(()),
        (true, "debug") => Err(format!("Task failed: Error while resolving `var` expression: {}", crate::template::conditional::UNTRUSTED)),
        (true, _) => Err(MESSAGE.into()),
    }
}

/// Every string in `v` (a list's items) is text the user wrote.
fn all_strings_trusted(v: &Value) -> bool {
    match v {
        Value::String(s) => trust::is_trusted(s),
        Value::Array(items) => items.iter().all(all_strings_trusted),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expressions_a_template_produced_must_be_text_the_user_wrote() {
        trust::remember("untrusted_t_a == 1");
        // An arg splat over playbook-written expressions passes.
        assert!(check("assert", &json!({"_raw_params": "{{ item }}"}), &json!({"that": "untrusted_t_a == 1"})).is_ok());
        assert!(check("assert", &json!({"_raw_params": "{{ item }}"}), &json!({"that": ["untrusted_t_a == 1", true]})).is_ok());
        // What a host printed is not.
        let host = "lookup('pipe', 'untrusted_t_touch')";
        assert!(check("assert", &json!({"_raw_params": "{{ item }}"}), &json!({"that": host})).is_err());
        assert!(check("assert", &json!({"that": "{{ checks }}"}), &json!({"that": ["untrusted_t_a == 1", host]})).is_err());
        assert!(check("ansible._protomatter.debug", &json!({}), &json!({"expression": [host]})).is_err());
    }

    #[test]
    fn written_expressions_are_left_to_the_action() {
        let own = json!({"that": ["x_never_loaded == 1", "{{ a }}"]});
        assert!(check("assert", &own, &own.clone()).is_ok());
        assert!(check("debug", &json!({"that": "x"}), &json!({"that": "x"})).is_ok());
    }

    #[test]
    fn debug_var_is_refused_when_unsafe_or_rendered_from_unwritten_text() {
        let unsafe_var = json!({"var": crate::template::mark_unsafe("debug_me")});
        assert!(check("debug", &unsafe_var, &json!({"var": "debug_me"})).is_err());
        assert!(check("debug", &json!({"var": "debug_me"}), &json!({"var": "debug_me"})).is_ok());
        assert!(check("debug", &json!({"var": "{{ \"untrusted_t_name\" }}"}), &json!({"var": "untrusted_t_name"})).is_err());
        trust::remember("untrusted_t_k1");
        assert!(check("debug", &json!({"var": "{{ item }}"}), &json!({"var": "untrusted_t_k1"})).is_ok());
        assert!(check("debug", &json!({"var": "{{ omit }}"}), &json!({})).is_ok());
    }

    #[test]
    fn a_whole_template_that_resolves_to_its_list_as_written() {
        let t = Templar::new();
        let mut s = Scope::new();
        s.push(std::sync::Arc::new(json!({"thats": ["{{ 1 == 1 }}"], "one": "x == 1"}).as_object().unwrap().clone()));
        let kept: Map<String, Value> = [("that".to_string(), json!("{{ thats }}"))].into_iter().collect();
        assert_eq!(put_back(&t, &s, json!({"quiet": true}), kept), json!({"quiet": true, "that": ["{{ 1 == 1 }}"]}));
        // Not a list: kept as written, for the conditional to resolve.
        let kept: Map<String, Value> = [("that".to_string(), json!("{{ one }}"))].into_iter().collect();
        assert_eq!(put_back(&t, &s, json!({}), kept), json!({"that": "{{ one }}"}));
    }

    #[test]
    fn expression_arguments_are_kept_as_written() {
        let (rest, kept) = take_expressions("assert", &json!({"that": "{{ x }}", "quiet": "{{ q }}"}));
        assert_eq!(rest, json!({"quiet": "{{ q }}"}));
        assert_eq!(Value::Object(kept), json!({"that": "{{ x }}"}));
        let (rest, kept) = take_expressions("debug", &json!({"var": "x"}));
        assert_eq!(rest, json!({"var": "x"}));
        assert!(kept.is_empty());
    }
}
