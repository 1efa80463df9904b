//! Ansible's `mathstuff` filters (plugins/filter/mathstuff.py): set theory
//! with Python's semantics, logarithms and powers, byte sizes for humans,
//! `rekey_on_member`, and the itertools ones (`zip_longest`,
//! `permutations`, `combinations`). Error messages are Ansible's, since
//! playbooks (and ansible-core's own tests) match on them.

use minijinja::value::{Kwargs, Rest, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State, Value as JValue};

use super::filters::python_type;

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("unique", unique);
    env.add_filter("intersect", |state: &State, a: JValue, b: JValue| -> Result<JValue, Error> {
        let (a, b) = (items(&a)?, items(&b)?);
        charge_pairs(state, a.len(), b.len())?;
        Ok(JValue::from(dedup(a.into_iter().filter(|x| b.contains(x)))))
    });
    env.add_filter("difference", |state: &State, a: JValue, b: JValue| -> Result<JValue, Error> {
        let (a, b) = (items(&a)?, items(&b)?);
        charge_pairs(state, a.len(), b.len())?;
        Ok(JValue::from(dedup(a.into_iter().filter(|x| !b.contains(x)))))
    });
    env.add_filter("symmetric_difference", |state: &State, a: JValue, b: JValue| -> Result<JValue, Error> {
        let (a, b) = (items(&a)?, items(&b)?);
        charge_pairs(state, a.len() + b.len(), a.len() + b.len())?;
        let only_a = a.iter().filter(|x| !b.contains(x));
        let only_b = b.iter().filter(|x| !a.contains(x));
        Ok(JValue::from(dedup(only_a.chain(only_b).cloned())))
    });
    env.add_filter("union", |state: &State, a: JValue, b: JValue| -> Result<JValue, Error> {
        let (a, b) = (items(&a)?, items(&b)?);
        charge_pairs(state, a.len() + b.len(), a.len() + b.len())?;
        Ok(JValue::from(dedup(a.into_iter().chain(b))))
    });
    env.add_filter("log", |x: JValue, base: Option<JValue>| -> Result<f64, Error> {
        let x = number(&x).ok_or_else(|| err("log() can only be used on numbers"))?;
        let base = match base {
            Some(b) => number(&b).ok_or_else(|| err("log() can only be used on numbers"))?,
            None => std::f64::consts::E,
        };
        domain(if base == 10.0 { x.log10() } else { x.ln() / base.ln() })
    });
    env.add_filter("pow", |x: JValue, y: JValue| -> Result<f64, Error> {
        match (number(&x), number(&y)) {
            (Some(x), Some(y)) => domain(x.powf(y)),
            _ => Err(err("pow() can only be used on numbers")),
        }
    });
    env.add_filter("root", |x: JValue, base: Option<JValue>| -> Result<f64, Error> {
        let fail = || err("root() can only be used on numbers");
        let x = number(&x).ok_or_else(fail)?;
        let base = match base {
            Some(b) => number(&b).ok_or_else(fail)?,
            None => 2.0,
        };
        let r = if base == 2.0 { x.sqrt() } else { x.powf(1.0 / base) };
        // Python's ValueError (a negative's square root) gets the same message.
        if r.is_nan() {
            Err(fail())
        } else {
            Ok(r)
        }
    });
    env.add_filter("human_readable", human_readable);
    env.add_filter("human_to_bytes", human_to_bytes);
    env.add_filter("rekey_on_member", rekey_on_member);
    env.add_filter("zip_longest", zip_longest);
    env.add_filter("permutations", permutations);
    env.add_filter("combinations", |state: &State, v: JValue, r: usize| -> Result<JValue, Error> {
        let pool = items(&v)?;
        let mut out = Vec::new();
        choose(state, &pool, r, false, &mut Vec::new(), &mut vec![false; pool.len()], 0, &mut out)?;
        Ok(JValue::from(out))
    });
}

/// A filter's input as Python iterates it: a list's items, a mapping's
/// keys, a string's characters; anything else is Python's TypeError.
fn items(v: &JValue) -> Result<Vec<JValue>, Error> {
    match v.kind() {
        ValueKind::Undefined => Err(Error::new(ErrorKind::UndefinedError, "undefined value")),
        ValueKind::String => Ok(v.as_str().unwrap_or("").chars().map(|c| JValue::from(c.to_string())).collect()),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable => Ok(v.try_iter()?.collect()),
        _ => Err(err(format!("'{}' object is not iterable", python_type(v)))),
    }
}

/// Keeps the first of equal items, as Python's `set`/`in` checks do.
fn dedup(it: impl Iterator<Item = JValue>) -> Vec<JValue> {
    let mut out: Vec<JValue> = Vec::new();
    for x in it {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

/// Comparisons charged as one unit of work: the set filters compare every
/// pair of items.
const PAIRS_PER_FUEL: u64 = 64;

fn charge_pairs(state: &State, a: usize, b: usize) -> Result<(), Error> {
    state.consume_fuel((a as u64).saturating_mul(b as u64) / PAIRS_PER_FUEL)
}

/// A number as Python's math functions take one (a bool is an int there).
fn number(v: &JValue) -> Option<f64> {
    match v.kind() {
        ValueKind::Number => f64::try_from(v.clone()).ok(),
        ValueKind::Bool => Some(if v.is_true() { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// Python's math module raises where Rust gives NaN or an infinity.
fn domain(r: f64) -> Result<f64, Error> {
    if r.is_finite() {
        Ok(r)
    } else {
        Err(err("math domain error"))
    }
}

/// `unique(case_sensitive=None, attribute=None)`: Jinja's `unique` (which
/// ignores case unless told not to, and hashes what it compares); where
/// that fails on unhashable items (dicts, lists), Ansible falls back to
/// plain equality, but only when neither argument was given.
fn unique(state: &State, v: JValue, kwargs: Kwargs) -> Result<JValue, Error> {
    let case_sensitive: Option<JValue> = kwargs.get("case_sensitive")?;
    let attribute: Option<JValue> = kwargs.get("attribute")?;
    kwargs.assert_all_used()?;
    let all = items(&v)?;
    charge_pairs(state, all.len(), all.len())?;
    let explicit_false = case_sensitive.as_ref().is_some_and(|c| c.kind() == ValueKind::Bool && !c.is_true());
    let ignore_case = !case_sensitive.as_ref().is_some_and(JValue::is_true);
    let mut seen: Vec<JValue> = Vec::new();
    let mut out = Vec::new();
    for item in &all {
        let mut key = match &attribute {
            Some(a) if !a.is_none() => item.get_item(a).unwrap_or(JValue::UNDEFINED),
            _ => item.clone(),
        };
        if matches!(key.kind(), ValueKind::Seq | ValueKind::Map) {
            if explicit_false || attribute.as_ref().is_some_and(JValue::is_true) {
                return Err(err(
                    "Jinja2's unique filter failed and we cannot fall back to Ansible's version as it does not support the parameters supplied.",
                ));
            }
            return Ok(JValue::from(dedup(all.into_iter())));
        }
        if ignore_case {
            if let Some(s) = key.as_str() {
                key = JValue::from(s.to_lowercase());
            }
        }
        if !seen.contains(&key) {
            seen.push(key);
            out.push(item.clone());
        }
    }
    Ok(JValue::from(out))
}

const SIZE_RANGES: [(char, f64); 9] = [
    ('Y', (1u128 << 80) as f64),
    ('Z', (1u128 << 70) as f64),
    ('E', (1u64 << 60) as f64),
    ('P', (1u64 << 50) as f64),
    ('T', (1u64 << 40) as f64),
    ('G', (1u64 << 30) as f64),
    ('M', (1u64 << 20) as f64),
    ('K', 1024.0),
    ('B', 1.0),
];

/// `human_readable(isbits=False, unit=None)`: formatters.bytes_to_human.
fn human_readable(size: JValue, isbits: Option<bool>, unit: Option<String>, kwargs: Kwargs) -> Result<String, Error> {
    let isbits = match isbits {
        Some(b) => b,
        None => kwargs.get::<Option<bool>>("isbits")?.unwrap_or(false),
    };
    let unit = match unit {
        Some(u) => Some(u),
        None => kwargs.get::<Option<String>>("unit")?,
    };
    kwargs.assert_all_used()?;
    let size = number(&size).ok_or_else(|| err("human_readable() failed on bad input"))?;
    let base = if isbits { "bits" } else { "Bytes" };
    // Python's loop leaves the last range (bytes) when nothing matched.
    let (suffix, limit) = SIZE_RANGES
        .iter()
        .find(|(s, limit)| match &unit {
            None => size >= *limit,
            Some(u) => u.to_uppercase().starts_with(*s),
        })
        .copied()
        .unwrap_or(('B', 1.0));
    let suffix = if limit != 1.0 { format!("{suffix}{}", &base[..1]) } else { base.to_string() };
    Ok(format!("{:.2} {suffix}", size / limit))
}

/// `human_to_bytes(default_unit=None, isbits=False)`: formatters.human_to_bytes.
fn human_to_bytes(size: JValue, default_unit: Option<String>, isbits: Option<bool>, kwargs: Kwargs) -> Result<i64, Error> {
    let default_unit = match default_unit {
        Some(u) => Some(u),
        None => kwargs.get::<Option<String>>("default_unit")?,
    };
    let isbits = match isbits {
        Some(b) => b,
        None => kwargs.get::<Option<bool>>("isbits")?.unwrap_or(false),
    };
    kwargs.assert_all_used()?;
    let text = super::filters::text_of(&size);
    parse_human_bytes(&text, default_unit.as_deref(), isbits).ok_or_else(|| err("human_to_bytes() can't interpret the input"))
}

fn parse_human_bytes(text: &str, default_unit: Option<&str>, isbits: bool) -> Option<i64> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| regex::Regex::new(r"^([0-9]*\.?[0-9]+)(?:\s*([A-Za-z]+))?\s*$").expect("valid regex"));
    let m = re.captures(text)?;
    let num: f64 = m[1].parse().ok()?;
    let unit = match m.get(2) {
        Some(u) => u.as_str(),
        None => match default_unit {
            Some(u) => u,
            // Python's round(): halves to even.
            None => return Some(num.round_ties_even() as i64),
        },
    };
    let key = unit.chars().next()?.to_ascii_uppercase();
    let (_, limit) = SIZE_RANGES.iter().find(|(s, _)| *s == key)?;
    if unit.chars().count() > 1 {
        let names = ["byte", "bit", "kilo", "mega", "giga", "tera", "peta", "exa", "zeta", "yotta"];
        let long = match key {
            'B' => String::new(),
            _ => names[2 + "KMGTPEZY".find(key)?].to_string(),
        };
        let (long, short) = if isbits {
            (format!("{long}bit"), if key == 'B' { "b".to_string() } else { format!("{key}b") })
        } else {
            (format!("{long}byte"), format!("{key}B"))
        };
        if unit.to_lowercase() != long && unit != short {
            return None;
        }
    }
    Some((num * limit).round_ties_even() as i64)
}

/// A string as Python's `repr` shows it in Ansible's messages.
fn repr(v: &JValue) -> String {
    match v.as_str() {
        Some(s) => format!("'{s}'"),
        None => super::filters::text_of(v),
    }
}

/// `rekey_on_member(key, duplicates='error')`: a dict of dicts, or a list
/// of dicts, keyed on each item's `key`.
fn rekey_on_member(data: JValue, key: JValue, duplicates: Option<String>, kwargs: Kwargs) -> Result<JValue, Error> {
    let duplicates = match duplicates {
        Some(d) => d,
        None => kwargs.get::<Option<String>>("duplicates")?.unwrap_or_else(|| "error".into()),
    };
    kwargs.assert_all_used()?;
    if duplicates != "error" && duplicates != "overwrite" {
        return Err(err(format!("duplicates parameter to rekey_on_member has unknown value '{duplicates}'")));
    }
    if key.is_undefined() {
        return Err(Error::new(ErrorKind::UndefinedError, "undefined value"));
    }
    let values: Vec<JValue> = match data.kind() {
        ValueKind::Map => data.try_iter()?.map(|k| data.get_item(&k)).collect::<Result<_, _>>()?,
        ValueKind::Seq | ValueKind::Iterable => data.try_iter()?.collect(),
        _ => return Err(err("Type is not a valid list, set, or dict")),
    };
    let mut out: indexmap::IndexMap<JValue, JValue> = indexmap::IndexMap::new();
    for item in values {
        if item.kind() != ValueKind::Map {
            return Err(err("List item is not a valid dict"));
        }
        let elem =
            item.get_item(&key).ok().filter(|e| !e.is_undefined()).ok_or_else(|| err(format!("Key {} was not found.", repr(&key))))?;
        if out.contains_key(&elem) && duplicates == "error" {
            return Err(err(format!("Key {} is not unique, cannot convert to dict.", repr(&elem))));
        }
        out.insert(elem, item);
    }
    Ok(JValue::from(out))
}

/// `zip_longest(*others, fillvalue=None)`: as long as the longest list.
fn zip_longest(a: JValue, rest: Rest<JValue>, kwargs: Kwargs) -> Result<JValue, Error> {
    let fill: JValue = kwargs.get::<Option<JValue>>("fillvalue")?.unwrap_or(JValue::from(()));
    kwargs.assert_all_used()?;
    let mut lists = vec![items(&a)?];
    for r in rest.iter() {
        lists.push(items(r)?);
    }
    let n = lists.iter().map(Vec::len).max().unwrap_or(0);
    Ok(JValue::from(
        (0..n)
            .map(|i| JValue::from(lists.iter().map(|l| l.get(i).cloned().unwrap_or(fill.clone())).collect::<Vec<_>>()))
            .collect::<Vec<_>>(),
    ))
}

fn permutations(state: &State, v: JValue, r: Option<usize>) -> Result<JValue, Error> {
    let pool = items(&v)?;
    let r = r.unwrap_or(pool.len());
    let mut out = Vec::new();
    choose(state, &pool, r, true, &mut Vec::new(), &mut vec![false; pool.len()], 0, &mut out)?;
    Ok(JValue::from(out))
}

/// itertools' permutations (`ordered`) or combinations of `r` items, in
/// their order; each one built is charged, the count can be factorial.
#[allow(clippy::too_many_arguments)]
fn choose(
    state: &State,
    pool: &[JValue],
    r: usize,
    ordered: bool,
    current: &mut Vec<JValue>,
    used: &mut [bool],
    start: usize,
    out: &mut Vec<JValue>,
) -> Result<(), Error> {
    if current.len() == r {
        state.consume_fuel(r as u64 + 1)?;
        out.push(JValue::from(current.clone()));
        return Ok(());
    }
    let from = if ordered { 0 } else { start };
    for i in from..pool.len() {
        if used[i] {
            continue;
        }
        used[i] = true;
        current.push(pool[i].clone());
        choose(state, pool, r, ordered, current, used, i + 1, out)?;
        current.pop();
        used[i] = false;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(expr: &str) -> Result<String, String> {
        let mut env = Environment::new();
        super::super::filters::register(&mut env);
        register(&mut env);
        env.compile_expression(expr).and_then(|e| e.eval(minijinja::context! {})).map(|v| v.to_string()).map_err(|e| e.to_string())
    }

    #[test]
    fn unique_like_jinja_with_ansibles_fallback() {
        assert_eq!(eval(r#"["a", "b", "A", "B"]|unique"#).unwrap(), "['a', 'b']");
        assert_eq!(eval(r#"["a", "b", "A", "B"]|unique(case_sensitive=True)"#).unwrap(), "['a', 'b', 'A', 'B']");
        assert_eq!(eval(r#"[{"foo": "bar", "moo": "cow"}, {"foo": "bar", "moo": "mar"}]|unique(attribute="foo")|length"#).unwrap(), "1");
        assert_eq!(eval(r#"[{"a": 1}, {"a": 1}, {"b": 2}]|unique|length"#).unwrap(), "2");
        assert!(eval(r#"[{"a": 1}]|unique(case_sensitive=False)"#).unwrap_err().contains("cannot fall back"));
        assert!(eval("True|unique").unwrap_err().contains("'bool' object is not iterable"));
        assert_eq!(eval(r#""foo"|unique|sort|join"#).unwrap(), "fo");
    }

    #[test]
    fn set_filters_keep_each_item_once() {
        assert_eq!(eval("[1,2,3]|symmetric_difference([3,4,5,6])").unwrap(), "[1, 2, 4, 5, 6]");
        assert_eq!(eval("[1,1,2]|difference([3])").unwrap(), "[1, 2]");
        assert_eq!(eval("[1,2,3]|union([{}])|length").unwrap(), "4");
    }

    #[test]
    fn logarithms_and_powers() {
        assert_eq!(eval("100|log(10)").unwrap(), "2.0");
        assert_eq!(eval("2|pow(4)").unwrap(), "16.0");
        assert_eq!(eval("9|root(1)").unwrap(), "9.0");
        assert!(eval(r#""yo"|log"#).unwrap_err().contains("log() can only be used on numbers"));
        assert!(eval(r#""yo"|root"#).unwrap_err().contains("root() can only be used on numbers"));
    }

    #[test]
    fn byte_sizes_like_ansibles_formatters() {
        assert_eq!(eval("102400000|human_readable").unwrap(), "97.66 MB");
        assert_eq!(eval(r#"102400000|human_readable(isbits=True, unit="G")"#).unwrap(), "0.10 Gb");
        assert_eq!(eval("1|human_readable(isbits=True)").unwrap(), "1.00 bits");
        assert!(eval(r#""monkeys"|human_readable"#).unwrap_err().contains("failed on bad input"));
        assert_eq!(eval("'1.1 GB'|human_to_bytes").unwrap(), "1181116006");
        assert_eq!(eval("'0.1'|human_to_bytes").unwrap(), "0");
        assert_eq!(eval("'10.00 Kb'|human_to_bytes(isbits=True)").unwrap(), "10240");
        assert!(eval("'10.00 Kb'|human_to_bytes").is_err());
        assert!(eval("'10.00 foo'|human_to_bytes").is_err());
    }

    #[test]
    fn rekey_on_member_and_its_errors() {
        assert_eq!(
            eval(r#"[{"p": "a", "s": 1}, {"p": "b", "s": 2}]|rekey_on_member("p")"#).unwrap(),
            "{'a': {'p': 'a', 's': 1}, 'b': {'p': 'b', 's': 2}}"
        );
        assert_eq!(
            eval(r#"[{"p": "a", "s": 1}, {"p": "a", "s": 2}]|rekey_on_member("p", duplicates="overwrite")"#).unwrap(),
            "{'a': {'p': 'a', 's': 2}}"
        );
        assert!(eval(r#"[{"p": "a"}, {"p": "a"}]|rekey_on_member("p")"#)
            .unwrap_err()
            .contains("Key 'a' is not unique, cannot convert to dict"));
        assert!(eval(r#"[{"p": "a"}, {"q": 1}]|rekey_on_member("p")"#).unwrap_err().contains("Key 'p' was not found"));
        assert!(eval(r#""x"|rekey_on_member("p")"#).unwrap_err().contains("Type is not a valid list, set, or dict"));
        assert!(eval(r#"[True]|rekey_on_member("p")"#).unwrap_err().contains("List item is not a valid dict"));
        assert!(eval(r#"[]|rekey_on_member("p", duplicates="boo")"#)
            .unwrap_err()
            .contains("duplicates parameter to rekey_on_member has unknown value"));
    }

    #[test]
    fn itertools_filters() {
        assert_eq!(eval("[1,2]|zip_longest([3])").unwrap(), "[[1, 3], [2, None]]");
        assert_eq!(eval("[1,2,3]|permutations(2)|length").unwrap(), "6");
        assert_eq!(eval("[1,2,3]|combinations(2)").unwrap(), "[[1, 2], [1, 3], [2, 3]]");
    }
}
