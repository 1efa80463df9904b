//! `to_json` and `to_nice_json` as ansible-core's (Python's `json.dumps`):
//! `", "` and `": "` between items (`","` with an indent), non-ASCII text
//! escaped (`ensure_ascii`), keys sorted on request (`to_nice_json` always).

use minijinja::value::Kwargs;
use minijinja::{Environment, Error, ErrorKind, Value as JValue};
use serde_json::Value;

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("to_json", |v: JValue, kw: Kwargs| dumps(&v, &kw, Options::default()));
    env.add_filter("to_nice_json", |v: JValue, kw: Kwargs| {
        dumps(&v, &kw, Options { indent: Some(4), sort_keys: true, ..Options::default() })
    });
}

/// Python's `json.dumps(v)` with its defaults: `", "` and `": "`,
/// non-ASCII text escaped, keys in their order (what ansible-core writes
/// where it does not pretty-print, e.g. its jsonfile fact cache).
pub fn python_dumps(v: &Value) -> String {
    let mut out = String::new();
    write(&mut out, v, &Options::default(), ", ", ": ", 0);
    out
}

/// Python's `json.dumps(v, sort_keys=True, indent=4)`: how Ansible's
/// callbacks print a data diff.
pub fn python_nice_dumps(v: &Value) -> String {
    let mut out = String::new();
    write(&mut out, v, &Options { indent: Some(4), sort_keys: true, ..Options::default() }, ",", ": ", 0);
    out
}

struct Options {
    indent: Option<usize>,
    sort_keys: bool,
    ensure_ascii: bool,
    separators: Option<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options { indent: None, sort_keys: false, ensure_ascii: true, separators: None }
    }
}

fn dumps(v: &JValue, kw: &Kwargs, mut o: Options) -> Result<String, Error> {
    if let Some(i) = kw.get::<Option<usize>>("indent")? {
        o.indent = Some(i);
    }
    if let Some(s) = kw.get::<Option<bool>>("sort_keys")? {
        o.sort_keys = s;
    }
    if let Some(a) = kw.get::<Option<bool>>("ensure_ascii")? {
        o.ensure_ascii = a;
    }
    if let Some(seps) = kw.get::<Option<Vec<String>>>("separators")? {
        match <[String; 2]>::try_from(seps) {
            Ok([a, b]) => o.separators = Some((a, b)),
            Err(_) => return Err(Error::new(ErrorKind::InvalidOperation, "separators must be (item_separator, key_separator)")),
        }
    }
    // Only ansible-core's own options besides json.dumps' are accepted.
    let _ = kw.get::<Option<JValue>>("profile")?;
    let _ = kw.get::<Option<JValue>>("vault_to_text")?;
    let _ = kw.get::<Option<JValue>>("preprocess_unsafe")?;
    kw.assert_all_used()?;
    let value = super::to_json(v).map_err(|e| Error::new(ErrorKind::InvalidOperation, e.message))?;
    let (item, key) = o.separators.clone().unwrap_or_else(|| {
        let item = if o.indent.is_some() { "," } else { ", " };
        (item.to_string(), ": ".to_string())
    });
    let mut out = String::new();
    write(&mut out, &value, &o, &item, &key, 0);
    Ok(out)
}

fn write(out: &mut String, v: &Value, o: &Options, item: &str, key: &str, depth: usize) {
    let newline = |out: &mut String, depth: usize| {
        if let Some(n) = o.indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * depth));
        }
    };
    match v {
        Value::Array(a) if !a.is_empty() => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(item);
                }
                newline(out, depth + 1);
                write(out, x, o, item, key, depth + 1);
            }
            newline(out, depth);
            out.push(']');
        }
        Value::Object(m) if !m.is_empty() => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            if o.sort_keys {
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            out.push('{');
            for (i, (k, x)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(item);
                }
                newline(out, depth + 1);
                string(out, k, o.ensure_ascii);
                out.push_str(key);
                write(out, x, o, item, key, depth + 1);
            }
            newline(out, depth);
            out.push('}');
        }
        Value::String(s) => string(out, s, o.ensure_ascii),
        other => out.push_str(&other.to_string()),
    }
}

/// A JSON string as Python writes it: `\uXXXX` (surrogate pairs above the
/// BMP) for non-ASCII text with `ensure_ascii`.
fn string(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ensure_ascii && !c.is_ascii()) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn w(v: Value, o: Options) -> String {
        let (item, key) = if o.indent.is_some() { (",", ": ") } else { (", ", ": ") };
        let mut out = String::new();
        write(&mut out, &v, &o, item, key, 0);
        out
    }

    #[test]
    fn like_python_json_dumps() {
        assert_eq!(
            w(json!({"a": ["x", "é", 1.5, null, true], "e": {}}), Options::default()),
            r#"{"a": ["x", "\u00e9", 1.5, null, true], "e": {}}"#
        );
        assert_eq!(w(json!(["😀\n"]), Options::default()), r#"["\ud83d\ude00\n"]"#);
        let nice = Options { indent: Some(2), sort_keys: true, ..Options::default() };
        assert_eq!(w(json!({"b": [1], "a": []}), nice), "{\n  \"a\": [],\n  \"b\": [\n    1\n  ]\n}");
    }
}
