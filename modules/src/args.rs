//! Turning a task's argument mapping into a module's typed args struct.
//!
//! Args arrive as JSON values (already templated by the engine) and are
//! deserialized with serde. Errors name the module and, for a misspelled
//! field, the closest valid one. Helpers here accept Ansible's loose
//! spellings: `yes`/`no`/`on`/`"true"` for booleans, a single string where a
//! list is expected.

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ArgsError {
    #[error("{module}: unsupported parameter '{field}'{}", suggestion_text(.suggestion))]
    UnknownField { module: &'static str, field: String, suggestion: Option<String> },
    #[error("{module}: missing required argument '{field}'")]
    Missing { module: &'static str, field: String },
    #[error("{module}: {msg}")]
    Invalid { module: &'static str, msg: String },
}

fn suggestion_text(s: &Option<String>) -> String {
    match s {
        Some(s) => format!(" (did you mean '{s}'?)"),
        None => String::new(),
    }
}

impl ArgsError {
    /// The argument the error is about, so the engine can point at its line.
    pub fn field(&self) -> Option<&str> {
        match self {
            ArgsError::UnknownField { field, .. } | ArgsError::Missing { field, .. } => Some(field),
            ArgsError::Invalid { .. } => None,
        }
    }
}

/// The closest of `candidates` to `word`, if any is close enough to be a
/// plausible typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.to_string())
}

/// Deserialize `args` into `T`, turning serde's messages into [`ArgsError`].
pub fn parse_args<T: DeserializeOwned>(module: &'static str, args: &Value) -> Result<T, ArgsError> {
    let args = if args.is_null() { Value::Object(Default::default()) } else { args.clone() };
    serde_json::from_value(args).map_err(|e| translate(module, &e.to_string()))
}

/// serde's messages look like "unknown field `destt`, expected one of `dest`, `src`"
/// and "missing field `dest`"; pick them apart to add suggestions.
fn translate(module: &'static str, msg: &str) -> ArgsError {
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or("").to_string();
        let expected: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        let suggestion = closest(&field, expected.iter().copied());
        return ArgsError::UnknownField { module, field, suggestion };
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or("").to_string();
        return ArgsError::Missing { module, field };
    }
    ArgsError::Invalid { module, msg: msg.to_string() }
}

/// Ansible's `validate_variable_name`: an ASCII identifier that is not one
/// of the names Jinja reserves (`true`, `None`, `not`, ...).
pub fn valid_variable_name(s: &str) -> bool {
    const JINJA_KEYWORDS: &[&str] = &["true", "false", "none", "True", "False", "None", "not"];
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && !JINJA_KEYWORDS.contains(&s)
}

/// Parse a boolean the way Ansible's `boolean()` does.
pub fn parse_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "yes" | "on" | "1" | "true" | "t" | "y" => Some(true),
            "no" | "off" | "0" | "false" | "f" | "n" | "" => Some(false),
            _ => None,
        },
        Value::Null => Some(false),
        _ => None,
    }
}

/// `#[serde(deserialize_with = "loose_bool")]`: booleans as Ansible accepts them.
pub fn loose_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v = Value::deserialize(d)?;
    parse_bool(&v).ok_or_else(|| de::Error::custom(format!("{v} is not a valid boolean")))
}

/// Like [`loose_bool`] for `Option<bool>` fields.
pub fn loose_opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    parse_bool(&v).map(Some).ok_or_else(|| de::Error::custom(format!("{v} is not a valid boolean")))
}

/// An id (uid, gid) given as a number or as the text of one, as Ansible's
/// `type='int'` converts (`gid: '{{ out.stdout }}'`).
pub fn loose_opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    loose_opt_int(Value::deserialize(d)?, |n| n.as_u64().and_then(|n| u32::try_from(n).ok()), "id").map_err(de::Error::custom)
}

/// An integer given as a number or as its text (Ansible's `type='int'`).
pub fn loose_opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    loose_opt_int(Value::deserialize(d)?, serde_json::Number::as_i64, "integer").map_err(de::Error::custom)
}

/// A JSON number (`from_number` says which fit) or the text of one, as
/// Ansible's int conversion takes it; `what` names the kind in errors.
fn loose_opt_int<T: std::str::FromStr>(
    v: Value,
    from_number: impl Fn(&serde_json::Number) -> Option<T>,
    what: &str,
) -> Result<Option<T>, String> {
    match &v {
        Value::Null => Ok(None),
        Value::Number(n) => from_number(n).map(Some).ok_or_else(|| format!("{v} is not a valid {what}")),
        Value::String(s) => {
            s.trim().parse::<T>().map(Some).map_err(|_| format!("'{s}' is of type str and we were unable to convert to int"))
        }
        _ => Err(format!("{v} is not a valid {what}")),
    }
}

/// A number given as a number or as its text (Ansible's `type='float'`).
pub fn loose_opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_f64().map(Some).ok_or_else(|| de::Error::custom(format!("{v} is not a valid number"))),
        Value::String(s) => s.trim().parse::<f64>().map(Some).map_err(|_| de::Error::custom(format!("'{s}' is not a valid number"))),
        _ => Err(de::Error::custom(format!("{v} is not a valid number"))),
    }
}

/// A list given as a list, a single string, or a comma-separated string
/// (`name: a,b`), as Ansible's `type='list'` accepts.
pub fn loose_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Value::deserialize(d)?;
    value_to_list(&v).map_err(de::Error::custom)
}

pub fn value_to_list(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()),
        Value::Array(items) => items.iter().map(scalar_to_string).collect(),
        other => scalar_to_string(other).map(|s| vec![s]),
    }
}

/// A scalar as the string a module sees (numbers and booleans as text).
pub fn scalar_to_string(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(if *b { "True".into() } else { "False".into() }),
        other => Err(format!("expected a string, got {other}")),
    }
}

/// `#[serde(deserialize_with = "loose_string")]`: a string, also from a number or bool.
pub fn loose_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    scalar_to_string(&v).map_err(de::Error::custom)
}

pub fn loose_opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    scalar_to_string(&v).map(Some).map_err(de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Demo {
        dest: String,
        #[serde(default, deserialize_with = "loose_bool")]
        force: bool,
    }

    #[test]
    fn misspelled_field_gets_a_suggestion() {
        let e = parse_args::<Demo>("demo", &json!({"destt": "/x"})).unwrap_err();
        assert_eq!(e.to_string(), "demo: unsupported parameter 'destt' (did you mean 'dest'?)");
        assert_eq!(e.field(), Some("destt"));
    }

    #[test]
    fn missing_field_is_named() {
        let e = parse_args::<Demo>("demo", &json!({})).unwrap_err();
        assert_eq!(e.to_string(), "demo: missing required argument 'dest'");
    }

    #[test]
    fn ansible_booleans_are_accepted() {
        for (v, want) in [(json!("yes"), true), (json!("no"), false), (json!(1), true), (json!("False"), false)] {
            let d: Demo = parse_args("demo", &json!({"dest": "x", "force": v})).unwrap();
            assert_eq!(d.force, want);
        }
        assert!(parse_args::<Demo>("demo", &json!({"dest": "x", "force": "maybe"})).is_err());
    }

    #[test]
    fn lists_accept_strings() {
        assert_eq!(value_to_list(&json!("a, b")).unwrap(), vec!["a", "b"]);
        assert_eq!(value_to_list(&json!(["a", 1])).unwrap(), vec!["a", "1"]);
    }
}
