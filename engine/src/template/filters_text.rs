//! Ansible's text filters: `b64encode`/`b64decode` (with `encoding` and
//! `urlsafe`), `comment` (its styles and decorations) and `regex_escape`
//! (Python's `re.escape`, or POSIX basic).

use base64::Engine as _;
use minijinja::value::Kwargs;
use minijinja::{Environment, Error, ErrorKind, Value as JValue};

use super::filters::text_of;

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("b64encode", |v: JValue, encoding: Option<String>, kw: Kwargs| -> Result<String, Error> {
        let (encoding, urlsafe) = b64_options(encoding, &kw)?;
        let bytes = encode(&text_of(&v), &encoding)?;
        Ok(engine(urlsafe).encode(bytes))
    });
    env.add_filter("b64decode", |v: JValue, encoding: Option<String>, kw: Kwargs| -> Result<String, Error> {
        let (encoding, urlsafe) = b64_options(encoding, &kw)?;
        let text = text_of(&v);
        // Python's b64decode drops characters outside the alphabet.
        let alphabet: String = text.chars().filter(|c| c.is_ascii_alphanumeric() || "+/-_=".contains(*c)).collect();
        let bytes = engine(urlsafe).decode(alphabet).map_err(|e| err(format!("b64decode: {e}")))?;
        decode(&bytes, &encoding)
    });
    env.add_filter("comment", comment);
    env.add_filter("regex_escape", |v: JValue, re_type: Option<String>, kw: Kwargs| -> Result<String, Error> {
        let re_type = match re_type {
            Some(t) => t,
            None => kw.get::<Option<String>>("re_type")?.unwrap_or_else(|| "python".into()),
        };
        kw.assert_all_used()?;
        let s = text_of(&v);
        match re_type.as_str() {
            "python" => Ok(escape(&s, "()[]{}?*+-|^$\\.&~# \t\n\r\u{b}\u{c}")),
            "posix_basic" => Ok(escape(&s, "].[^$*\\")),
            "posix_extended" => Err(err(format!("Regex type ({re_type}) not yet implemented"))),
            _ => Err(err(format!("Invalid regex type ({re_type})"))),
        }
    });
}

/// A backslash before each of `special`.
fn escape(s: &str, special: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if special.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn b64_options(encoding: Option<String>, kw: &Kwargs) -> Result<(String, bool), Error> {
    let encoding = match encoding {
        Some(e) => e,
        None => kw.get::<Option<String>>("encoding")?.unwrap_or_else(|| "utf-8".into()),
    };
    let urlsafe = kw.get::<Option<bool>>("urlsafe")?.unwrap_or(false);
    kw.assert_all_used()?;
    Ok((encoding, urlsafe))
}

fn engine(urlsafe: bool) -> &'static base64::engine::GeneralPurpose {
    if urlsafe {
        &base64::engine::general_purpose::URL_SAFE
    } else {
        &base64::engine::general_purpose::STANDARD
    }
}

/// Python's codec name, normalised: `UTF_16-LE` is `utf-16-le`.
fn codec(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('_', "-")
}

/// Python's `text.encode(encoding)`.
pub fn encode(text: &str, encoding: &str) -> Result<Vec<u8>, Error> {
    match codec(encoding).as_str() {
        "utf-8" | "utf8" => Ok(text.as_bytes().to_vec()),
        "utf-16-le" | "utf-16le" => Ok(text.encode_utf16().flat_map(u16::to_le_bytes).collect()),
        "utf-16-be" | "utf-16be" => Ok(text.encode_utf16().flat_map(u16::to_be_bytes).collect()),
        // Python writes a byte order mark, then little-endian (on x86).
        "utf-16" => Ok([0xff, 0xfe].into_iter().chain(text.encode_utf16().flat_map(u16::to_le_bytes)).collect()),
        "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" => text
            .chars()
            .map(|c| u8::try_from(u32::from(c)).map_err(|_| err(format!("'latin-1' codec can't encode character '{c}'"))))
            .collect(),
        "ascii" | "us-ascii" => {
            text.bytes().map(|b| if b.is_ascii() { Ok(b) } else { Err(err("'ascii' codec can't encode the text")) }).collect()
        }
        other => {
            let enc = encoding_rs::Encoding::for_label(other.as_bytes()).ok_or_else(|| err(format!("unknown encoding: {encoding}")))?;
            let (bytes, _, unmappable) = enc.encode(text);
            if unmappable || enc.output_encoding() != enc {
                return Err(err(format!("'{encoding}' codec can't encode the text")));
            }
            Ok(bytes.into_owned())
        }
    }
}

/// Python's `bytes.decode(encoding)` (undecodable bytes replaced).
fn decode(bytes: &[u8], encoding: &str) -> Result<String, Error> {
    let units = |f: fn([u8; 2]) -> u16, b: &[u8]| -> String {
        char::decode_utf16(b.chunks_exact(2).map(|c| f([c[0], c[1]]))).map(|c| c.unwrap_or('\u{fffd}')).collect()
    };
    match codec(encoding).as_str() {
        "utf-8" | "utf8" => Ok(String::from_utf8_lossy(bytes).into_owned()),
        "utf-16-le" | "utf-16le" => Ok(units(u16::from_le_bytes, bytes)),
        "utf-16-be" | "utf-16be" => Ok(units(u16::from_be_bytes, bytes)),
        "utf-16" => Ok(match bytes {
            [0xfe, 0xff, rest @ ..] => units(u16::from_be_bytes, rest),
            [0xff, 0xfe, rest @ ..] => units(u16::from_le_bytes, rest),
            _ => units(u16::from_le_bytes, bytes),
        }),
        "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" => Ok(bytes.iter().map(|b| char::from(*b)).collect()),
        other => {
            let enc = encoding_rs::Encoding::for_label(other.as_bytes()).ok_or_else(|| err(format!("unknown encoding: {encoding}")))?;
            Ok(enc.decode_without_bom_handling(bytes).0.into_owned())
        }
    }
}

/// ansible-core's `comment(text, style='plain', **kw)`.
fn comment(text: String, style: Option<String>, kw: Kwargs) -> Result<String, Error> {
    let style = match style {
        Some(s) => s,
        None => kw.get::<Option<String>>("style")?.unwrap_or_else(|| "plain".into()),
    };
    // (beginning, decoration, end) of each predefined style.
    let (beginning, style_decoration, end) = match style.as_str() {
        "plain" => ("", "# ", ""),
        "erlang" => ("", "% ", ""),
        "c" => ("", "// ", ""),
        "cblock" => ("/*", " * ", " */"),
        "xml" => ("<!--", " - ", "-->"),
        _ => return Err(err(format!("Invalid style '{style}'. Available styles: plain, erlang, c, cblock, xml"))),
    };
    let given = |name: &str| -> Result<Option<String>, Error> { kw.get::<Option<JValue>>(name).map(|v| v.map(|v| text_of(&v))) };
    let prepostfix = given("decoration")?.unwrap_or_else(|| style_decoration.to_string());
    let newline = given("newline")?.unwrap_or_else(|| "\n".into());
    let beginning = given("beginning")?.unwrap_or_else(|| beginning.into());
    let prefix = given("prefix")?.unwrap_or_else(|| prepostfix.trim_end().to_string());
    let prefix_count = count(given("prefix_count")?)?;
    // The style's decoration wins over the `decoration` keyword's default
    // `''`, as in Ansible's `p.update(style_params)`, unless given.
    let decoration = given("decoration")?.unwrap_or_else(|| style_decoration.to_string());
    let postfix = given("postfix")?.unwrap_or_else(|| prepostfix.trim_end().to_string());
    let postfix_count = count(given("postfix_count")?)?;
    let end = given("end")?.unwrap_or_else(|| end.into());
    kw.assert_all_used()?;

    let mut out = String::new();
    if !beginning.is_empty() {
        out.push_str(&beginning);
        out.push_str(&newline);
    }
    if !prefix.is_empty() {
        let one = if prefix != newline { format!("{prefix}{newline}") } else { newline.clone() };
        out.push_str(&one.repeat(prefix_count));
    }
    let body = format!("{decoration}{}", text.replace(&newline, &format!("{newline}{decoration}")));
    out.push_str(&body.replace(&format!("{decoration}{newline}"), &format!("{}{newline}", decoration.trim_end())));
    for _ in 0..postfix_count {
        out.push_str(&newline);
        out.push_str(&postfix);
    }
    if !end.is_empty() {
        out.push_str(&newline);
        out.push_str(&end);
    }
    Ok(out)
}

fn count(v: Option<String>) -> Result<usize, Error> {
    match v {
        None => Ok(1),
        Some(s) => s.trim().parse::<usize>().map_err(|_| err(format!("invalid literal for int() with base 10: '{s}'"))),
    }
}

#[cfg(test)]
mod tests {
    use crate::template::{Scope, Templar};

    fn r(t: &str) -> String {
        Templar::new().render_string(t, &Scope::new()).unwrap()
    }

    #[test]
    fn comments_as_ansible_decorates_them() {
        assert_eq!(r("{{ 'boo!' | comment }}"), "#\n# boo!\n#");
        assert_eq!(r("{{ 'boo!' | comment(decoration='-- ') }}"), "--\n-- boo!\n--");
        assert_eq!(r("{{ 'boo!' | comment(style='cblock') }}"), "/*\n *\n * boo!\n *\n */");
        assert_eq!(r("{{ 'boo!' | comment(decoration='') }}"), "boo!\n");
        assert_eq!(r("{{ 'boo!' | comment(prefix='\n', prefix_count=3) }}"), "\n\n\n# boo!\n#");
        assert_eq!(r("{{ 'a\nb' | comment('c') }}"), "//\n// a\n// b\n//");
    }

    #[test]
    fn base64_with_encodings() {
        assert_eq!(r("{{ 'Ansible - くらとみ\n' | b64encode(encoding='utf-16-le') }}"), "QQBuAHMAaQBiAGwAZQAgAC0AIABPMIkwaDB/MAoA");
        assert_eq!(r("{{ 'QQBuAHMAaQBiAGwAZQAgAC0AIABPMIkwaDB/MAoA' | b64decode(encoding='utf-16-le') }}"), "Ansible - くらとみ\n");
        assert_eq!(r("{{ 'https://www.python.org/example-1' | b64encode(urlsafe=True) }}"), "aHR0cHM6Ly93d3cucHl0aG9uLm9yZy9leGFtcGxlLTE=");
    }

    #[test]
    fn regex_escape_as_pythons_re_escape() {
        assert_eq!(r("{{ 'a.b*c_d' | regex_escape }}"), "a\\.b\\*c_d");
        assert_eq!(r("{{ ']]^' | regex_escape(re_type='posix_basic') }}"), "\\]\\]\\^");
    }
}
