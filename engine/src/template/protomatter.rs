//! ansible-core's internal `ansible._protomatter` test and filter that its
//! own integration targets use to look at data tags:
//!
//! - `tagged_with('TrustedAsTemplate')`: a string the user wrote in a
//!   trusted source (`trust.rs`, the same rule that guards expressions).
//!   mailplay does not track the other tags; asking for one is refused by
//!   name rather than answered wrongly, and an unknown name is Ansible's
//!   error.
//! - `origin`: where a value came from. mailplay knows it only for a value
//!   a lookup returned within the same expression (`lookup('env', 'X')`
//!   is `<environment variable 'X'>`); for any other value it refuses
//!   rather than guess, since it does not track the file and line of the
//!   playbook's values.

use std::cell::RefCell;

use minijinja::{Environment, Error, ErrorKind, Value as JValue};

/// Ansible's tag names besides `TrustedAsTemplate`.
const UNTRACKED_TAGS: &[&str] = &["Origin", "VaultedValue", "SourceWasEncrypted", "Deprecated"];

thread_local! {
    /// Values lookups returned in the expression being evaluated, with
    /// their origin.
    static ORIGINS: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

/// A lookup returned `text`, which came from `origin`.
pub fn note_origin(text: &str, origin: String) {
    ORIGINS.with(|o| o.borrow_mut().push((text.to_string(), origin)));
}

/// Forget the origins of the previous expression (each evaluation and
/// render starts with none, so an origin never outlives its expression).
pub fn clear_origins() {
    ORIGINS.with(|o| o.borrow_mut().clear());
}

/// Python's `repr()` of a string, as Ansible's messages quote names.
pub fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::from(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn tagged_with(value: JValue, tag: String) -> Result<bool, Error> {
    match tag.as_str() {
        "TrustedAsTemplate" => Ok(value.as_str().is_some_and(super::trust::is_trusted)),
        t if UNTRACKED_TAGS.contains(&t) => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("ansible._protomatter.tagged_with: mailplay does not track the {t} tag (only TrustedAsTemplate)"),
        )),
        other => Err(Error::new(ErrorKind::InvalidOperation, format!("Unknown tag name {}.", py_str_repr(other)))),
    }
}

fn origin(value: JValue) -> Result<JValue, Error> {
    let known =
        value.as_str().and_then(|s| ORIGINS.with(|o| o.borrow().iter().rev().find(|(t, _)| t == s).map(|(_, origin)| origin.clone())));
    known.map(JValue::from).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            "ansible._protomatter.origin: mailplay knows the origin only of a value a lookup returned in the same expression",
        )
    })
}

pub fn register(env: &mut Environment<'static>) {
    env.add_test("ansible._protomatter.tagged_with", tagged_with);
    env.add_filter("ansible._protomatter.origin", origin);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{trust, Scope, Templar};

    #[test]
    fn tagged_with_trusted_as_template_is_the_trust_rule() {
        trust::remember("proto_t_written");
        let t = Templar::new();
        let mut s = Scope::new();
        s.set("w", json!("proto_t_written"));
        s.set("h", json!("proto_t_from_a_host"));
        assert!(t.eval_condition("w is ansible._protomatter.tagged_with('TrustedAsTemplate')", &s).unwrap());
        assert!(!t.eval_condition("h is ansible._protomatter.tagged_with('TrustedAsTemplate')", &s).unwrap());
        assert!(!t.eval_condition("1 is ansible._protomatter.tagged_with('TrustedAsTemplate')", &s).unwrap());
        let e = t.eval_condition("w is ansible._protomatter.tagged_with('VaultedValue')", &s).unwrap_err();
        assert!(e.message.contains("does not track the VaultedValue tag"), "{e}");
        let e = t.eval_condition("w is ansible._protomatter.tagged_with('Nope')", &s).unwrap_err();
        assert!(e.message.contains("Unknown tag name 'Nope'."), "{e}");
    }

    #[test]
    fn origin_is_known_for_a_lookups_value_only() {
        std::env::set_var("MAILPLAY_PROTO_T_ENV", "proto value");
        let t = Templar::new();
        let s = Scope::new();
        let v = t.eval_expression("lookup('env', 'MAILPLAY_PROTO_T_ENV') | ansible._protomatter.origin", &s).unwrap();
        assert_eq!(v, json!("<environment variable 'MAILPLAY_PROTO_T_ENV'>"));
        let e = t.eval_expression("'proto value' | ansible._protomatter.origin", &s).unwrap_err();
        assert!(e.message.contains("knows the origin only"), "{e}");
    }

    #[test]
    fn python_repr_of_strings() {
        assert_eq!(super::py_str_repr("USR"), "'USR'");
        assert_eq!(super::py_str_repr("it's"), "\"it's\"");
        assert_eq!(super::py_str_repr("a\\b"), "'a\\\\b'");
    }
}
