//! Ansible's filters that minijinja lacks or spells differently.

use base64::Engine as _;
use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State, Value as JValue};
use serde_json::Value;

use super::{from_json, to_json};

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn json(v: &JValue) -> Result<Value, Error> {
    to_json(v).map_err(|e| err(e.message))
}

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("default", default);
    env.add_filter("d", default);
    env.add_filter("bool", to_bool);
    env.add_filter("string", |v: JValue| -> Result<String, Error> { Ok(text_of(&defined(v)?)) });
    env.add_filter("split", split);
    env.add_filter("regex_replace", super::lookups::regex_replace);
    env.add_filter("regex_search", super::lookups::regex_search);
    env.add_filter("regex_findall", super::lookups::regex_findall);
    env.add_filter("regex_escape", |s: String| regex::escape(&s));
    env.add_filter("quote", |v: JValue| -> Result<String, Error> { Ok(shell_words::quote(&text_of(&defined(v)?)).into_owned()) });
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
    env.add_filter("from_yaml", |s: String| -> Result<JValue, Error> {
        crate::yaml::parse_str(&s, std::path::Path::new("<from_yaml>"))
            .map(|n| from_json(&n.to_value()))
            .map_err(|d| err(format!("from_yaml: {}", d.message)))
    });
    env.add_filter("b64encode", |v: JValue| -> Result<String, Error> {
        Ok(base64::engine::general_purpose::STANDARD.encode(text_of(&defined(v)?)))
    });
    env.add_filter("b64decode", |s: String| -> Result<String, Error> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(s.trim()).map_err(|e| err(format!("b64decode: {e}")))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    });
    env.add_filter("hash", hash);
    env.add_filter("checksum", |v: JValue| -> Result<String, Error> { hash(v, Some("sha1".into())) });
    env.add_filter("password_hash", password_hash);
    env.add_filter("rspamd_password_hash", rspamd_password_hash);
    env.add_filter("combine", combine);
    env.add_filter("dict2items", dict2items);
    env.add_filter("items2dict", items2dict);
    env.add_filter("mandatory", |v: JValue, msg: Option<String>| -> Result<JValue, Error> {
        if v.is_undefined() {
            Err(Error::new(ErrorKind::UndefinedError, msg.unwrap_or_else(|| "Mandatory variable not defined.".into())))
        } else {
            Ok(v)
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
    env.add_filter("flatten", flatten);
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
    env.add_filter("to_uuid", |s: String| {
        use sha1::Digest;
        format!("{:x}", sha1::Sha1::digest(s.as_bytes()))
    });
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

fn to_bool(v: JValue) -> Result<bool, Error> {
    let v = defined(v)?;
    Ok(match v.kind() {
        ValueKind::Bool => v.is_true(),
        ValueKind::Number => v.as_i64().map(|i| i == 1).unwrap_or(false),
        ValueKind::String => matches!(v.as_str().unwrap_or("").trim().to_lowercase().as_str(), "yes" | "on" | "1" | "true" | "y" | "t"),
        _ => false,
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
/// `indent` and `width` may be given, as to `yaml.dump`.
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
    kwargs.assert_all_used()?;
    Ok(super::to_yaml::dump(&value, style))
}

fn hash(v: JValue, algo: Option<String>) -> Result<String, Error> {
    use sha2::Digest;
    let data = text_of(&defined(v)?);
    let algo = algo.unwrap_or_else(|| "sha1".into());
    Ok(match algo.as_str() {
        "sha1" => format!("{:x}", sha1::Sha1::digest(data.as_bytes())),
        "md5" => format!("{:x}", md5::Md5::digest(data.as_bytes())),
        "sha256" => format!("{:x}", sha2::Sha256::digest(data.as_bytes())),
        "sha512" => format!("{:x}", sha2::Sha512::digest(data.as_bytes())),
        "sha224" => format!("{:x}", sha2::Sha224::digest(data.as_bytes())),
        "sha384" => format!("{:x}", sha2::Sha384::digest(data.as_bytes())),
        other => return Err(err(format!("hash: unsupported algorithm '{other}'"))),
    })
}

/// `password_hash('sha512'[, salt])`: a glibc-compatible `$6$` crypt string.
fn password_hash(state: &State, pw: String, scheme: Option<String>, salt: Option<String>, kwargs: Kwargs) -> Result<String, Error> {
    let rounds: Option<usize> = kwargs.get::<Option<usize>>("rounds")?;
    // One round of SHA-512 crypt costs about what an instruction does.
    state.consume_fuel(rounds.unwrap_or(5000) as u64)?;
    let salt = match salt.or(kwargs.get::<Option<String>>("salt")?) {
        Some(s) => s,
        None => random_salt(16),
    };
    kwargs.assert_all_used()?;
    super::lookups::sha512_crypt(&pw, scheme.as_deref().unwrap_or("sha512"), &salt, rounds).map_err(err)
}

/// rspamd's controller password hash, salted from `seed` so that a
/// converged host keeps its line (see rspamd_hash.rs).
fn rspamd_password_hash(state: &State, pw: String, seed: String) -> Result<String, Error> {
    // 16000 rounds of BLAKE2b.
    state.consume_fuel(16_000)?;
    Ok(super::rspamd_hash::rspamd_password_hash(&pw, &seed))
}

fn random_salt(n: usize) -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..n).map(|_| CHARS[rng.random_range(0..CHARS.len())] as char).collect()
}

fn merge(a: Value, b: Value, recursive: bool, list_merge: &str) -> Value {
    match (a, b) {
        (Value::Object(mut x), Value::Object(y)) => {
            for (k, v) in y {
                let merged = match x.remove(&k) {
                    Some(old) if recursive => merge(old, v, true, list_merge),
                    _ => v,
                };
                x.insert(k, merged);
            }
            Value::Object(x)
        }
        (Value::Array(mut x), Value::Array(y)) if list_merge != "replace" => {
            match list_merge {
                "append" => x.extend(y),
                "prepend" => {
                    let mut y = y;
                    y.extend(x);
                    x = y;
                }
                "append_rp" | "prepend_rp" => {
                    let mut out: Vec<Value> = Vec::new();
                    if list_merge == "append_rp" {
                        out.extend(x.into_iter().filter(|e| !y.contains(e)));
                        out.extend(y);
                    } else {
                        out.extend(y.iter().cloned());
                        out.extend(x.into_iter().filter(|e| !y.contains(e)));
                    }
                    x = out;
                }
                "keep" => {}
                _ => x = y,
            }
            Value::Array(x)
        }
        (_, b) => b,
    }
}

fn combine(first: JValue, rest: minijinja::value::Rest<JValue>, kwargs: Kwargs) -> Result<JValue, Error> {
    let recursive = kwargs.get::<Option<bool>>("recursive")?.unwrap_or(false);
    let list_merge = kwargs.get::<Option<String>>("list_merge")?.unwrap_or_else(|| "replace".into());
    kwargs.assert_all_used()?;
    let mut acc = json(&first)?;
    for other in rest.iter() {
        let items: Vec<Value> = match json(other)? {
            Value::Array(a) => a,
            v => vec![v],
        };
        for v in items {
            if !v.is_object() {
                return Err(err("combine expects dictionaries"));
            }
            acc = merge(acc, v, recursive, &list_merge);
        }
    }
    Ok(from_json(&acc))
}

fn dict2items(v: JValue, kwargs: Kwargs) -> Result<JValue, Error> {
    let key_name = kwargs.get::<Option<String>>("key_name")?.unwrap_or_else(|| "key".into());
    let value_name = kwargs.get::<Option<String>>("value_name")?.unwrap_or_else(|| "value".into());
    kwargs.assert_all_used()?;
    match json(&v)? {
        Value::Object(m) => Ok(from_json(&Value::Array(
            m.into_iter()
                .map(|(k, v)| {
                    let mut e = serde_json::Map::new();
                    e.insert(key_name.clone(), Value::String(k));
                    e.insert(value_name.clone(), v);
                    Value::Object(e)
                })
                .collect(),
        ))),
        other => Err(err(format!("dict2items requires a dictionary, got {}", other))),
    }
}

fn items2dict(v: JValue, kwargs: Kwargs) -> Result<JValue, Error> {
    let key_name = kwargs.get::<Option<String>>("key_name")?.unwrap_or_else(|| "key".into());
    let value_name = kwargs.get::<Option<String>>("value_name")?.unwrap_or_else(|| "value".into());
    kwargs.assert_all_used()?;
    let mut out = serde_json::Map::new();
    match json(&v)? {
        Value::Array(items) => {
            for item in items {
                let k = item.get(&key_name).ok_or_else(|| err(format!("items2dict: an item has no '{key_name}'")))?;
                let key = k.as_str().map(str::to_string).unwrap_or_else(|| k.to_string());
                out.insert(key, item.get(&value_name).cloned().unwrap_or(Value::Null));
            }
            Ok(from_json(&Value::Object(out)))
        }
        _ => Err(err("items2dict requires a list")),
    }
}

/// Ansible's `flatten(levels=None, skip_nulls=True)`, positional or by name.
fn flatten(v: JValue, levels: Option<JValue>, skip_nulls: Option<bool>, kw: Kwargs) -> Result<JValue, Error> {
    // `levels` = how many levels of nesting to remove (all when None).
    fn go(items: Vec<Value>, depth: Option<i64>, skip_nulls: bool, out: &mut Vec<Value>) {
        for i in items {
            match i {
                Value::Array(inner) if depth.map(|d| d > 0).unwrap_or(true) => go(inner, depth.map(|d| d - 1), skip_nulls, out),
                Value::Null if skip_nulls => {}
                other => out.push(other),
            }
        }
    }
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
    let mut out = Vec::new();
    match json(&v)? {
        Value::Array(items) => go(items, levels, skip_nulls, &mut out),
        other => out.push(other),
    }
    Ok(from_json(&Value::Array(out)))
}
