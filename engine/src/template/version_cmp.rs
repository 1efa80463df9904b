//! The `version` test (`version_compare`) as ansible-core's: the operator,
//! `strict` or `version_type` (loose, strict, semver/semantic, pep440) and
//! its error messages.

use std::cmp::Ordering;

use minijinja::value::Kwargs;
use minijinja::{Error, ErrorKind, Value as JValue};

fn fail(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

const OPS: [(&str, &str); 15] = [
    ("==", "eq"),
    ("=", "eq"),
    ("eq", "eq"),
    ("<", "lt"),
    ("lt", "lt"),
    ("<=", "le"),
    ("le", "le"),
    (">", "gt"),
    ("gt", "gt"),
    (">=", "ge"),
    ("ge", "ge"),
    ("!=", "ne"),
    ("<>", "ne"),
    ("ne", "ne"),
    ("", ""),
];

fn py_text(v: &JValue) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
}

pub fn version_test(v: JValue, version: JValue, operator: Option<JValue>, strict: Option<JValue>, kw: Kwargs) -> Result<bool, Error> {
    let operator = match (operator, kw.get::<Option<JValue>>("operator")?) {
        (Some(_), Some(_)) => return Err(fail("version() got multiple values for argument 'operator'")),
        (a, k) => a.or(k).map(|o| py_text(&o)).unwrap_or_else(|| "eq".into()),
    };
    let strict = match (strict, kw.get::<Option<JValue>>("strict")?) {
        (Some(_), Some(_)) => return Err(fail("version() got multiple values for argument 'strict'")),
        (a, k) => a.or(k).filter(|s| !s.is_none()),
    };
    let version_type = kw.get::<Option<JValue>>("version_type")?.filter(|s| !s.is_none());
    kw.assert_all_used()?;
    if strict.is_some() && version_type.is_some() {
        return Err(fail("Cannot specify both 'strict' and 'version_type'"));
    }
    if !v.is_true() {
        return Err(fail("Input version value cannot be empty"));
    }
    if !version.is_true() {
        return Err(fail("Version parameter to compare against cannot be empty"));
    }
    let kind = if strict.as_ref().is_some_and(JValue::is_true) {
        "strict".to_string()
    } else if let Some(t) = &version_type {
        let t = py_text(t);
        if !["loose", "strict", "semver", "semantic", "pep440"].contains(&t.as_str()) {
            return Err(fail(format!("Invalid version type ({t}). Must be one of 'loose', 'strict', 'semver', 'semantic', 'pep440'")));
        }
        t
    } else {
        "loose".to_string()
    };
    let Some((_, op)) = OPS.iter().take(14).find(|(k, _)| *k == operator) else {
        let names: Vec<String> = OPS.iter().take(14).map(|(k, _)| format!("'{k}'")).collect();
        return Err(fail(format!("Invalid operator type ({operator}). Must be one of {}", names.join(", "))));
    };
    let (a, b) = (py_text(&v), py_text(&version));
    let ord = match kind.as_str() {
        "loose" => loose_cmp(&a, &b),
        "strict" => strict_cmp(&a, &b),
        "semver" | "semantic" => semver_cmp(&a, &b),
        _ => pep440_cmp(&a, &b),
    }
    .map_err(|e| fail(format!("Version comparison failed: {e}")))?;
    Ok(match *op {
        "eq" => ord == Ordering::Equal,
        "ne" => ord != Ordering::Equal,
        "lt" => ord == Ordering::Less,
        "le" => ord != Ordering::Greater,
        "gt" => ord == Ordering::Greater,
        _ => ord != Ordering::Less,
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Num(u128),
    Text(String),
}

/// LooseVersion: runs of digits (numbers), of lowercase letters and
/// anything else between them (text), dots dropped; an int against a
/// string cannot compare (Python 3's TypeError).
fn loose_parts(v: &str) -> Vec<Part> {
    let re = regex::Regex::new(r"\d+|[a-z]+|\.").expect("valid");
    let mut out = Vec::new();
    let mut last = 0;
    let push = |s: &str, out: &mut Vec<Part>| {
        if !s.is_empty() && s != "." {
            out.push(s.parse::<u128>().map(Part::Num).unwrap_or_else(|_| Part::Text(s.to_string())));
        }
    };
    for m in re.find_iter(v) {
        push(&v[last..m.start()], &mut out);
        push(m.as_str(), &mut out);
        last = m.end();
    }
    push(&v[last..], &mut out);
    out
}

fn loose_cmp(a: &str, b: &str) -> Result<Ordering, String> {
    let (pa, pb) = (loose_parts(a), loose_parts(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let ord = match (x, y) {
            (Part::Num(x), Part::Num(y)) => x.cmp(y),
            (Part::Text(x), Part::Text(y)) => x.cmp(y),
            (Part::Num(_), Part::Text(_)) => return Err("'<' not supported between instances of 'int' and 'str'".into()),
            (Part::Text(_), Part::Num(_)) => return Err("'<' not supported between instances of 'str' and 'int'".into()),
        };
        if ord != Ordering::Equal {
            return Ok(ord);
        }
    }
    Ok(pa.len().cmp(&pb.len()))
}

/// StrictVersion: `N.N[.N][{a|b}N]`; a pre-release sorts before the release.
/// StrictVersion's parts: major, minor, patch and the pre-release.
type Strict = ([u128; 3], Option<(char, u128)>);

fn strict_parse(v: &str) -> Result<Strict, String> {
    let re = regex::Regex::new(r"^(\d+)\.(\d+)(\.(\d+))?([ab](\d+))?$").expect("valid");
    let c = re.captures(v).ok_or_else(|| format!("invalid version number '{v}'"))?;
    let n = |i: usize| c.get(i).map(|m| m.as_str().parse::<u128>().unwrap_or(u128::MAX)).unwrap_or(0);
    let pre = c.get(5).map(|m| (m.as_str().chars().next().unwrap_or('a'), n(6)));
    Ok(([n(1), n(2), n(4)], pre))
}

fn strict_cmp(a: &str, b: &str) -> Result<Ordering, String> {
    let (a, b) = (strict_parse(a)?, strict_parse(b)?);
    Ok(a.0.cmp(&b.0).then_with(|| match (&a.1, &b.1) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => x.cmp(y),
    }))
}

/// Semantic Versioning 2.0.0: build metadata ignored, a pre-release before
/// its release, numeric identifiers below alphanumeric ones.
fn semver_parse(v: &str) -> Result<([u128; 3], Vec<Part>), String> {
    let re = regex::Regex::new(
        r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$",
    )
    .expect("valid");
    let c = re.captures(v).ok_or_else(|| format!("invalid semantic version '{v}'"))?;
    let n = |i: usize| c.get(i).map(|m| m.as_str().parse::<u128>().unwrap_or(u128::MAX)).unwrap_or(0);
    let pre = c
        .get(4)
        .map(|m| m.as_str().split('.').map(|s| s.parse::<u128>().map(Part::Num).unwrap_or_else(|_| Part::Text(s.into()))).collect())
        .unwrap_or_default();
    Ok(([n(1), n(2), n(3)], pre))
}

fn semver_cmp(a: &str, b: &str) -> Result<Ordering, String> {
    let (a, b) = (semver_parse(a)?, semver_parse(b)?);
    Ok(a.0.cmp(&b.0).then_with(|| match (a.1.is_empty(), b.1.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => {
            for (x, y) in a.1.iter().zip(b.1.iter()) {
                let o = match (x, y) {
                    (Part::Num(x), Part::Num(y)) => x.cmp(y),
                    (Part::Text(x), Part::Text(y)) => x.cmp(y),
                    (Part::Num(_), Part::Text(_)) => Ordering::Less,
                    (Part::Text(_), Part::Num(_)) => Ordering::Greater,
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
            a.1.len().cmp(&b.1.len())
        }
    }))
}

/// PEP 440 (packaging's `Version`): epoch, release (trailing zeros
/// ignored), pre (a/b/rc and their spellings), post, dev, local.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pep440 {
    epoch: u128,
    release: Vec<u128>,
    /// (0 = dev-only before any pre, 1 = pre, 2 = none) ordering key.
    pre: (u8, u8, u128),
    post: (u8, u128),
    dev: (u8, u128),
    local: Vec<(u8, u128, String)>,
}

fn pep440_parse(v: &str) -> Result<Pep440, String> {
    let re = regex::Regex::new(
        r"(?ix)^\s*v?
        (?:(\d+)!)?
        (\d+(?:\.\d+)*)
        (?:[-_.]?(alpha|a|beta|b|preview|pre|c|rc)[-_.]?(\d+)?)?
        (?:(?:-(\d+))|(?:[-_.]?(post|rev|r)[-_.]?(\d+)?))?
        (?:[-_.]?(dev)[-_.]?(\d+)?)?
        (?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?
        \s*$",
    )
    .expect("valid");
    let c = re.captures(v).ok_or_else(|| format!("Invalid version: '{v}'"))?;
    let num = |i: usize| c.get(i).map(|m| m.as_str().parse::<u128>().unwrap_or(u128::MAX));
    let mut release: Vec<u128> = c[2].split('.').map(|s| s.parse().unwrap_or(u128::MAX)).collect();
    while release.len() > 1 && release.last() == Some(&0) {
        release.pop();
    }
    let has_post = c.get(5).is_some() || c.get(6).is_some();
    let has_dev = c.get(8).is_some();
    let pre = match c.get(3).map(|m| m.as_str().to_ascii_lowercase()) {
        Some(l) => {
            let rank = match l.as_str() {
                "alpha" | "a" => 0,
                "beta" | "b" => 1,
                _ => 2,
            };
            (1, rank, num(4).unwrap_or(0))
        }
        // A dev release with neither pre nor post sorts before any pre-release.
        None if has_dev && !has_post => (0, 0, 0),
        None => (2, 0, 0),
    };
    let post = if has_post { (1, num(5).or(num(7)).unwrap_or(0)) } else { (0, 0) };
    let dev = if has_dev { (0, num(9).unwrap_or(0)) } else { (1, 0) };
    let local = c
        .get(10)
        .map(|m| {
            m.as_str()
                .split(['-', '_', '.'])
                .map(|s| match s.parse::<u128>() {
                    Ok(n) => (1, n, String::new()),
                    Err(_) => (0, 0, s.to_ascii_lowercase()),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Pep440 { epoch: num(1).unwrap_or(0), release, pre, post, dev, local })
}

fn pep440_cmp(a: &str, b: &str) -> Result<Ordering, String> {
    let (mut a, mut b) = (pep440_parse(a)?, pep440_parse(b)?);
    let n = a.release.len().max(b.release.len());
    a.release.resize(n, 0);
    b.release.resize(n, 0);
    Ok(a.cmp(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_version_type_orders_as_ansible() {
        assert_eq!(loose_cmp("1.0", "2.0"), Ok(Ordering::Less));
        assert_eq!(loose_cmp("1.10", "1.9"), Ok(Ordering::Greater));
        assert!(loose_cmp("1.0a", "1.0.1").is_err());
        assert_eq!(strict_cmp("1.0", "1.0.0"), Ok(Ordering::Equal));
        assert_eq!(strict_cmp("1.0a1", "1.0"), Ok(Ordering::Less));
        assert!(strict_cmp("nope", "1.0").unwrap_err().contains("invalid version number 'nope'"));
        assert_eq!(semver_cmp("1.2.3", "2.0.0"), Ok(Ordering::Less));
        assert_eq!(semver_cmp("1.0.0-alpha", "1.0.0-alpha.1"), Ok(Ordering::Less));
        assert_eq!(semver_cmp("1.0.0-alpha.1", "1.0.0-alpha.beta"), Ok(Ordering::Less));
        assert_eq!(semver_cmp("1.0.0-rc.1", "1.0.0+build"), Ok(Ordering::Less));
        assert!(semver_cmp("nope", "nopenope").unwrap_err().contains("invalid semantic version 'nope'"));
        assert_eq!(pep440_cmp("2.14.0rc1", "2.14.0"), Ok(Ordering::Less));
        assert_eq!(pep440_cmp("1.0.dev1", "1.0a1"), Ok(Ordering::Less));
        assert_eq!(pep440_cmp("1.0", "1.0.post1"), Ok(Ordering::Less));
        assert_eq!(pep440_cmp("1.0", "1.0.0"), Ok(Ordering::Equal));
        assert_eq!(pep440_cmp("1!0.1", "2.0"), Ok(Ordering::Greater));
        assert!(pep440_cmp("x-y", "1").unwrap_err().contains("Invalid version: 'x-y'"));
    }

    fn run(t: &str) -> Result<String, String> {
        crate::template::Templar::new().render_string(t, &crate::template::Scope::new()).map_err(|e| e.message)
    }

    #[test]
    fn strict_version_type_and_their_errors() {
        assert_eq!(
            run("{{ '1.0' is version('1.0', '==', true) }} {{ '1.2.3' is version('2.0.0', 'lt', version_type='semver') }}").unwrap(),
            "True True"
        );
        assert_eq!(run("{{ '2.14.0rc1' is version('2.14.0', 'lt', version_type='pep440') }}").unwrap(), "True");
        assert!(run("{{ '1.0' is version('1.0', 'equals') }}").unwrap_err().contains("Invalid operator type (equals)"));
        assert!(run("{{ '1.0' is version('nope', '==', true) }}").unwrap_err().contains("Version comparison failed"));
        assert!(run("{{ '1.0' is version('1.0', strict=False, version_type='loose') }}").unwrap_err().contains("Cannot specify both"));
        assert!(run("{{ '1.0' is version('1.0', version_type='boom') }}").unwrap_err().contains("Invalid version type (boom)"));
        assert!(run("{{ '' is version('1.0', '>') }}").unwrap_err().contains("Input version value cannot be empty"));
        assert!(run("{{ '1.0' is version('', '>') }}").unwrap_err().contains("to compare against cannot be empty"));
    }
}
