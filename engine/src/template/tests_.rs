//! Ansible's Jinja tests: on task results (`changed`, `failed`, ...),
//! regular expressions, and versions.

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, Error, ErrorKind, Value as JValue};

fn flag(v: &JValue, key: &str) -> bool {
    v.get_attr(key).map(|x| x.is_true()).unwrap_or(false)
}

/// ansible-core's `changed` test: the result's `changed`, else whether any
/// of its loop `results` changed.
fn changed(v: &JValue) -> bool {
    if let Ok(c) = v.get_attr("changed") {
        if !c.is_undefined() {
            return c.is_true();
        }
    }
    match v.get_attr("results") {
        Ok(rs) if rs.kind() == ValueKind::Seq => {
            rs.try_iter().map(|mut it| it.any(|r| r.kind() == ValueKind::Map && flag(&r, "changed"))).unwrap_or(false)
        }
        _ => false,
    }
}

fn must_be_result(v: &JValue, test: &str) -> Result<(), Error> {
    if v.kind() == ValueKind::Map {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::InvalidOperation, format!("The '{test}' test expects a dictionary (a registered task result)")))
    }
}

pub fn register(env: &mut Environment<'static>) {
    // Each with ansible-core's other names for it (plugins/test/core.py).
    for name in ["changed", "change"] {
        env.add_test(name, move |v: JValue| -> Result<bool, Error> {
            must_be_result(&v, name)?;
            Ok(changed(&v))
        });
    }
    for name in ["failed", "failure"] {
        env.add_test(name, move |v: JValue| -> Result<bool, Error> {
            must_be_result(&v, name)?;
            Ok(flag(&v, "failed"))
        });
    }
    for name in ["succeeded", "success", "successful"] {
        env.add_test(name, move |v: JValue| -> Result<bool, Error> {
            must_be_result(&v, name)?;
            Ok(!flag(&v, "failed"))
        });
    }
    for name in ["skipped", "skip"] {
        env.add_test(name, move |v: JValue| -> Result<bool, Error> {
            must_be_result(&v, name)?;
            Ok(flag(&v, "skipped"))
        });
    }
    env.add_test("unreachable", |v: JValue| -> Result<bool, Error> {
        must_be_result(&v, "unreachable")?;
        Ok(flag(&v, "unreachable"))
    });
    env.add_test("reachable", |v: JValue| -> Result<bool, Error> {
        must_be_result(&v, "reachable")?;
        Ok(!flag(&v, "unreachable"))
    });
    // An async job's state (a result without the key is not async: done).
    for (name, key) in [("finished", "finished"), ("started", "started")] {
        env.add_test(name, move |v: JValue| -> Result<bool, Error> {
            must_be_result(&v, name)?;
            Ok(match v.get_attr(key) {
                Ok(x) if !x.is_undefined() => x.is_true(),
                _ => true,
            })
        });
    }
    env.add_test("match", |v: String, p: String, kw: Kwargs| regex_test(&v, &p, kw, true));
    env.add_test("search", |v: String, p: String, kw: Kwargs| regex_test(&v, &p, kw, false));
    env.add_test("regex", |v: String, p: String, kw: Kwargs| {
        let m = kw.get::<Option<String>>("match_type")?.unwrap_or_else(|| "search".into());
        regex_test(&v, &p, kw, m == "match")
    });
    env.add_test("version", super::version_cmp::version_test);
    env.add_test("version_compare", super::version_cmp::version_test);
    env.add_test("truthy", |v: JValue, kw: Kwargs| truthy(v, kw));
    env.add_test("falsy", |v: JValue, kw: Kwargs| truthy(v, kw).map(|t| !t));
    // Python's any()/all() over an iterable.
    env.add_test("any", |v: JValue| -> Result<bool, Error> { Ok(v.try_iter()?.any(|x| x.is_true())) });
    env.add_test("all", |v: JValue| -> Result<bool, Error> { Ok(v.try_iter()?.all(|x| x.is_true())) });
    env.add_test("timedout", |v: JValue| -> Result<bool, Error> {
        must_be_result(&v, "timedout")?;
        Ok(match v.get_attr("timedout") {
            Ok(t) if t.is_true() => t.get_attr("period").map(|p| p.is_true()).unwrap_or(false),
            _ => false,
        })
    });
    // Ansible's vault_encrypted: a value loaded from a `!vault` tag (see
    // vault::origin), not any string with the vault header; an undefined
    // value is an error (Ansible trips its marker).
    env.add_test("vault_encrypted", |v: JValue| -> Result<bool, Error> {
        if v.is_undefined() {
            return Err(Error::new(ErrorKind::UndefinedError, "the vault_encrypted test got an undefined value"));
        }
        Ok(v.as_str().is_some_and(crate::vault::origin::is_vaulted))
    });
    // Ansible's vaulted_file: the file (relative to the controller's current
    // directory) starts with the vault header `$ANSIBLE_VAULT`.
    env.add_test("vaulted_file", |v: String| -> Result<bool, Error> {
        const HEADER: &[u8] = b"$ANSIBLE_VAULT";
        let mut head = Vec::with_capacity(HEADER.len());
        std::fs::File::open(&v)
            .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, HEADER.len() as u64), &mut head))
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("Cannot test if the file '{v}' is a vault: {e}")))?;
        Ok(head == HEADER)
    });
}

fn regex_test(v: &str, pattern: &str, kw: Kwargs, anchored: bool) -> Result<bool, Error> {
    let ignorecase = kw.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let multiline = kw.get::<Option<bool>>("multiline")?.unwrap_or(false);
    let re = regex::RegexBuilder::new(pattern)
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("invalid regular expression: {e}")))?;
    Ok(match re.find(v) {
        Some(m) => !anchored || m.start() == 0,
        None => false,
    })
}

/// Ansible's `truthy`/`falsy`: Python's bool(); with `convert_bool`, the
/// boolean spellings (`yes`, `off`, `1`, ...) first.
fn truthy(v: JValue, kw: Kwargs) -> Result<bool, Error> {
    let convert = kw.get::<Option<bool>>("convert_bool")?.unwrap_or(false);
    kw.assert_all_used()?;
    if convert {
        let text = match v.kind() {
            ValueKind::String => v.as_str().map(str::to_lowercase),
            ValueKind::Number | ValueKind::Bool => Some(v.to_string().to_lowercase()),
            _ => None,
        };
        match text.as_deref() {
            Some("y" | "yes" | "on" | "1" | "true" | "t" | "1.0") => return Ok(true),
            Some("n" | "no" | "off" | "0" | "false" | "f" | "0.0") => return Ok(false),
            _ => {}
        }
    }
    Ok(v.is_true())
}
