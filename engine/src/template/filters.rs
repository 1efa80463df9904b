//! Ansible's filters that minijinja lacks or spells differently.

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State, Value as JValue};
use serde_json::Value;

use super::from_json;

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn json(v: &JValue) -> Result<Value, Error> {
    super::filters_data::json(v)
}

/// What `mandatory` fails with on an undefined value; the error handling
/// that names undefined variables puts the name in (Ansible's
/// "Mandatory variable 'x' not defined.").
pub(super) const MANDATORY: &str = "Mandatory variable not defined.";

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("default", default);
    env.add_filter("d", default);
    env.add_filter("bool", to_bool);
    env.add_filter("string", |v: JValue| -> Result<String, Error> { Ok(text_of(&defined(v)?)) });
    env.add_filter("split", split);
    env.add_filter("regex_replace", super::lookups::regex_replace);
    env.add_filter("regex_search", super::lookups::regex_search);
    env.add_filter("regex_findall", super::lookups::regex_findall);
    // Ansible quotes None as the empty string.
    env.add_filter("quote", |v: JValue| -> Result<String, Error> {
        let v = defined(v)?;
        let text = if v.is_none() { String::new() } else { text_of(&v) };
        Ok(shell_words::quote(&text).into_owned())
    });
    env.add_filter("basename", |s: String| s.rsplit('/').next().unwrap_or("").to_string());
    env.add_filter("dirname", |s: String| match s.rfind('/') {
        Some(0) => "/".to_string(),
        Some(i) => s[..i].to_string(),
        None => String::new(),
    });
    env.add_filter("from_json", |s: String| -> Result<JValue, Error> {
        serde_json::from_str::<Value>(&s).map(|v| from_json(&v)).map_err(|e| err(format!("from_json: {e}")))
    });
    env.add_filter("to_yaml", |v: JValue, kw: Kwargs| to_yaml(v, kw, super::to_yaml::Style::TO_YAML));
    env.add_filter("to_nice_yaml", |v: JValue, kw: Kwargs| to_yaml(v, kw, super::to_yaml::Style::TO_NICE_YAML));
    env.add_filter("rspamd_password_hash", rspamd_password_hash);
    // The variable's name is filled in from the expression (`explain`).
    env.add_filter("mandatory", |v: JValue, msg: Option<String>| -> Result<JValue, Error> {
        match (v.is_undefined(), msg) {
            (false, _) => Ok(v),
            (true, Some(msg)) => Err(err(msg)),
            (true, None) => Err(Error::new(ErrorKind::UndefinedError, MANDATORY)),
        }
    });
    env.add_filter("ternary", |v: JValue, yes: JValue, no: JValue, none: Option<JValue>| -> JValue {
        match (v.is_none(), none) {
            (true, Some(n)) => n,
            _ => {
                if v.is_true() {
                    yes
                } else {
                    no
                }
            }
        }
    });
    env.add_filter("zip", |a: JValue, rest: minijinja::value::Rest<JValue>| -> Result<JValue, Error> {
        // Python's zip: as long as the shortest list.
        let mut lists: Vec<Vec<JValue>> = vec![a.try_iter()?.collect()];
        for r in rest.iter() {
            lists.push(r.try_iter()?.collect());
        }
        let n = lists.iter().map(Vec::len).min().unwrap_or(0);
        Ok(JValue::from((0..n).map(|i| JValue::from(lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>())).collect::<Vec<_>>()))
    });
    env.add_filter("product", |state: &State, a: JValue, rest: minijinja::value::Rest<JValue>| -> Result<JValue, Error> {
        // itertools.product: every combination, first list varying slowest.
        let mut out: Vec<Vec<JValue>> = a.try_iter()?.map(|x| vec![x]).collect();
        for r in rest.iter() {
            let items: Vec<JValue> = r.try_iter()?.collect();
            // Paid for before it is built: the result can be exponential.
            let size = (out.len() as u64).saturating_mul(items.len() as u64).saturating_mul(rest.len() as u64 + 1);
            state.consume_fuel(size)?;
            out = out
                .into_iter()
                .flat_map(|p| items.iter().map(move |x| p.iter().cloned().chain(std::iter::once(x.clone())).collect::<Vec<_>>()))
                .collect();
        }
        Ok(JValue::from(out.into_iter().map(JValue::from).collect::<Vec<_>>()))
    });
    env.add_filter("extract", |key: JValue, container: JValue, morekeys: Option<JValue>| -> Result<JValue, Error> {
        // Ansible's extract: container[key] (then [morekey]...); an
        // undefined container or a missing key gives an undefined value
        // (`| default(...)` then applies), not an error.
        let lookup = |v: JValue, k: &JValue| -> Result<JValue, Error> {
            if v.is_undefined() {
                Ok(v)
            } else {
                v.get_item(k)
            }
        };
        let mut v = lookup(container, &key)?;
        if let Some(more) = morekeys {
            let keys: Vec<JValue> = if matches!(more.kind(), ValueKind::Seq) { more.try_iter()?.collect() } else { vec![more] };
            for k in keys {
                v = lookup(v, &k)?;
            }
        }
        Ok(v)
    });
    env.add_filter("type_debug", |v: JValue| python_type(&v).to_string());
}

/// How Ansible shows a value as text: strings bare, True/False, the rest as Python would.
pub fn text_of(v: &JValue) -> String {
    match v.kind() {
        ValueKind::Bool => {
            if v.is_true() {
                "True".into()
            } else {
                "False".into()
            }
        }
        ValueKind::None => "None".into(),
        _ => v.to_string(),
    }
}

pub(super) fn python_type(v: &JValue) -> &'static str {
    match v.kind() {
        ValueKind::Bool => "bool",
        ValueKind::Number => {
            if v.as_i64().is_some() {
                "int"
            } else {
                "float"
            }
        }
        ValueKind::String => "str",
        ValueKind::Seq => "list",
        ValueKind::Map => "dict",
        ValueKind::None => "NoneType",
        _ => "object",
    }
}

/// `default(x)`, and `default(x, true)` which also replaces falsy values.
/// `default(value='', boolean=false)`. The arguments are taken as given:
/// an `Option` parameter would read `default(none)` as no argument.
fn default(v: JValue, args: minijinja::value::Rest<JValue>, kwargs: Kwargs) -> Result<JValue, Error> {
    let other = match args.first() {
        Some(o) => Some(o.clone()),
        None if kwargs.has("default_value") => Some(kwargs.get::<JValue>("default_value")?),
        None => None,
    };
    let boolean = match args.get(1) {
        Some(b) => b.is_true(),
        None => kwargs.get::<Option<bool>>("boolean")?.unwrap_or(false),
    };
    if args.len() > 2 {
        return Err(Error::new(ErrorKind::TooManyArguments, "default takes a value and boolean"));
    }
    kwargs.assert_all_used()?;
    let replace = v.is_undefined() || (boolean && !v.is_true());
    Ok(if replace { other.unwrap_or_else(|| JValue::from("")) } else { v })
}

/// Filters reject undefined input, as Ansible's strict undefined does.
fn defined(v: JValue) -> Result<JValue, Error> {
    if v.is_undefined() {
        Err(Error::new(ErrorKind::UndefinedError, "undefined value"))
    } else {
        Ok(v)
    }
}

/// ansible-core's `bool`: 'yes', 'on', 'true', '1' (any case) and 1 are
/// true; 'no', 'off', 'false', '0' and 0 false; anything else is whether
/// it equals 1 (Ansible warns that this is deprecated).
fn to_bool(v: JValue) -> Result<bool, Error> {
    let v = defined(v)?;
    let text = match v.kind() {
        ValueKind::String => Some(v.as_str().unwrap_or("").to_lowercase()),
        ValueKind::Bool => Some(if v.is_true() { "true".into() } else { "false".into() }),
        ValueKind::Number => v.as_i64().filter(|_| v.to_string().parse::<i64>().is_ok()).map(|i| i.to_string()),
        _ => None,
    };
    Ok(match text.as_deref() {
        Some("yes" | "on" | "true" | "1") => true,
        Some("no" | "off" | "false" | "0") => false,
        _ => v.kind() == ValueKind::Number && f64::try_from(v.clone()).is_ok_and(|f| f == 1.0),
    })
}

fn split(s: String, sep: Option<String>, maxsplit: Option<i64>) -> Vec<String> {
    let max = maxsplit.filter(|m| *m >= 0).map(|m| m as usize + 1);
    match sep {
        Some(sep) => match max {
            Some(n) => s.splitn(n, sep.as_str()).map(str::to_string).collect(),
            None => s.split(sep.as_str()).map(str::to_string).collect(),
        },
        None => s.split_whitespace().map(str::to_string).collect(),
    }
}

/// PyYAML's `yaml.dump` as Ansible calls it; `default_flow_style`,
/// `indent`, `width`, `default_style` and `canonical` may be given, as to
/// `yaml.dump`.
fn to_yaml(v: JValue, kwargs: Kwargs, mut style: super::to_yaml::Style) -> Result<String, Error> {
    let value = json(&defined(v)?)?;
    if kwargs.has("default_flow_style") {
        style.default_flow_style = kwargs.get::<Option<bool>>("default_flow_style")?;
    }
    if let Some(i) = kwargs.get::<Option<usize>>("indent")? {
        style.indent = i;
    }
    if let Some(w) = kwargs.get::<Option<usize>>("width")? {
        style.width = w;
    }
    if let Some(d) = kwargs.get::<Option<String>>("default_style")? {
        let mut c = d.chars();
        style.default_style = match (c.next(), c.next()) {
            (None, _) => None,
            (Some(ch @ ('\'' | '"' | '|' | '>')), None) => Some(ch),
            _ => return Err(err(format!("to_yaml: default_style must be one of '', \"'\", '\"', '|', '>', not {d:?}"))),
        };
    }
    if let Some(c) = kwargs.get::<Option<bool>>("canonical")? {
        style.canonical = c;
    }
    kwargs.assert_all_used()?;
    Ok(super::to_yaml::dump(&value, style))
}

/// rspamd's controller password hash, salted from `seed` so that a
/// converged host keeps its line (see rspamd_hash.rs).
fn rspamd_password_hash(state: &State, pw: String, seed: String) -> Result<String, Error> {
    // 16000 rounds of BLAKE2b.
    state.consume_fuel(16_000)?;
    Ok(super::rspamd_hash::rspamd_password_hash(&pw, &seed))
}
