//! URL filters: `urlsplit` (Ansible's `plugins/filter/urlsplit.py`, on
//! Python's `urllib.parse.urlsplit`), `urldecode` (`unquote_plus`) and
//! `urlencode` (Jinja2's, whose quoting differs from minijinja's: `~` is
//! safe, and mapping or list items are quoted for a query string).

use minijinja::value::ValueKind;
use minijinja::{Environment, Error, ErrorKind, Value as JValue};
use serde_json::{json, Map, Value};

use super::from_json;

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("urlsplit", |url: String, query: Option<String>| -> Result<JValue, Error> {
        let parts = urlsplit(&url)?;
        match query.filter(|q| !q.is_empty()) {
            None => Ok(from_json(&Value::Object(parts))),
            Some(q) => match parts.get(&q) {
                Some(v) => Ok(from_json(v)),
                None => Err(Error::new(ErrorKind::InvalidOperation, format!("urlsplit: unknown URL component: {q}"))),
            },
        }
    });
    env.add_filter("urldecode", |s: String| unquote_plus(&s));
    env.add_filter("urlencode", urlencode);
}

/// Python's `urlsplit(url)` as the attributes Ansible returns, sorted by
/// name (`object_to_dict` walks `dir()`).
fn urlsplit(url: &str) -> Result<Map<String, Value>, Error> {
    let url = url.trim_start_matches(|c: char| c <= ' ');
    let (scheme, rest) = match url.split_once(':') {
        Some((s, r))
            if s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (s.to_ascii_lowercase(), r)
        }
        _ => (String::new(), url),
    };
    let (netloc, rest) = match rest.strip_prefix("//") {
        Some(r) => {
            let end = r.find(['/', '?', '#']).unwrap_or(r.len());
            (&r[..end], &r[end..])
        }
        None => ("", rest),
    };
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (userinfo, hostport) = match netloc.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, netloc),
    };
    let (username, password) = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((n, p)) => (json!(n), json!(p)),
            None => (json!(u), Value::Null),
        },
        None => (Value::Null, Value::Null),
    };
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let (h, after) = bracketed.split_once(']').unwrap_or((bracketed, ""));
        (h, after.strip_prefix(':').unwrap_or(""))
    } else {
        hostport.split_once(':').unwrap_or((hostport, ""))
    };
    let port = match port {
        "" => Value::Null,
        p => match p.parse::<u32>() {
            Ok(n) if n <= 65535 && p.bytes().all(|b| b.is_ascii_digit()) => json!(n),
            _ => return Err(Error::new(ErrorKind::InvalidOperation, format!("Port could not be cast to integer value as '{p}'"))),
        },
    };
    let hostname = if host.is_empty() { Value::Null } else { json!(host.to_lowercase()) };
    let mut m = Map::new();
    m.insert("fragment".into(), json!(fragment));
    m.insert("hostname".into(), hostname);
    m.insert("netloc".into(), json!(netloc));
    m.insert("password".into(), password);
    m.insert("path".into(), json!(path));
    m.insert("port".into(), port);
    m.insert("query".into(), json!(query));
    m.insert("scheme".into(), json!(scheme));
    m.insert("username".into(), username);
    Ok(m)
}

/// `urllib.parse.unquote_plus`: `+` is a space, `%XX` a byte; invalid
/// UTF-8 becomes U+FFFD.
fn unquote_plus(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b))) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Python's `quote(text, safe)`: letters, digits, `_.-~` and `safe` kept.
fn quote(text: &str, safe: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) || safe.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Jinja2's `url_quote`: `str()` of the value; in a query string nothing is
/// safe and a space is `+`.
fn url_quote(v: &JValue, for_qs: bool) -> String {
    let text = super::filters::text_of(v);
    if for_qs {
        quote(&text, b"").replace("%20", "+")
    } else {
        quote(&text, b"/")
    }
}

/// Jinja2's `do_urlencode`.
fn urlencode(v: JValue) -> Result<String, Error> {
    let pairs: Vec<(JValue, JValue)> = match v.kind() {
        ValueKind::String | ValueKind::Number | ValueKind::Bool | ValueKind::None => return Ok(url_quote(&v, false)),
        ValueKind::Map => v.try_iter()?.map(|k| v.get_item(&k).map(|x| (k, x))).collect::<Result<_, _>>()?,
        _ => v
            .try_iter()?
            .map(|item| {
                let mut it = item.try_iter()?;
                match (it.next(), it.next(), it.next()) {
                    (Some(k), Some(x), None) => Ok((k, x)),
                    _ => Err(Error::new(ErrorKind::InvalidOperation, "urlencode: items must be (key, value) pairs")),
                }
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(pairs.iter().map(|(k, x)| format!("{}={}", url_quote(k, true), url_quote(x, true))).collect::<Vec<_>>().join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquote_plus_like_python() {
        assert_eq!(unquote_plus("a+b%20c%C3%A9%zz%4"), "a b cé%zz%4");
    }

    #[test]
    fn quote_like_python() {
        assert_eq!(quote("a b/~(é", b"/"), "a%20b/~%28%C3%A9");
    }

    #[test]
    fn urlsplit_like_python() {
        let m = urlsplit("HTTP://u@[::1]:80/p?q#f").unwrap();
        assert_eq!(
            Value::Object(m),
            json!({"fragment": "f", "hostname": "::1", "netloc": "u@[::1]:80", "password": null,
            "path": "/p", "port": 80, "query": "q", "scheme": "http", "username": "u"})
        );
        let m = urlsplit("relative/path").unwrap();
        assert_eq!(m["path"], json!("relative/path"));
        assert_eq!(m["hostname"], Value::Null);
    }
}
