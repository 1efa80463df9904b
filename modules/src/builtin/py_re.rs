//! Patterns users write for Python's `re` (lineinfile's `regexp`,
//! `insertafter`, `insertbefore`). Python's engine has backreferences and
//! lookaround, which the `regex` crate refuses by design; `fancy-regex`
//! has them and hands the parts without them to `regex`'s automata, so a
//! plain pattern costs the same. Its backtracking is bounded by its
//! backtrack limit: a pathological pattern on a long line is an error, not
//! a hang.

use fancy_regex::{Captures, Regex, RegexBuilder};

/// fancy-regex's own default, stated so the bound is visible here.
const BACKTRACK_LIMIT: usize = 1_000_000;

pub struct PyRe {
    re: Regex,
    src: String,
}

impl PyRe {
    pub fn new(pattern: &str) -> Result<PyRe, String> {
        let re = RegexBuilder::new(&translate(pattern))
            .backtrack_limit(BACKTRACK_LIMIT)
            .build()
            .map_err(|e| format!("invalid regular expression '{pattern}': {e}"))?;
        Ok(PyRe { re, src: pattern.to_string() })
    }

    /// Python's `re.search` on a line with its newline: `$` also matches
    /// just before a final `\n`, which this engine's `$` does not; so a
    /// pattern that fails on the whole line is tried without that newline.
    pub fn search<'t>(&self, line: &'t str) -> Result<Option<Captures<'t>>, String> {
        if let Some(c) = self.captures(line)? {
            return Ok(Some(c));
        }
        match line.strip_suffix('\n') {
            Some(l) => self.captures(l),
            None => Ok(None),
        }
    }

    fn captures<'t>(&self, text: &'t str) -> Result<Option<Captures<'t>>, String> {
        self.re.captures(text).map_err(|e| format!("regular expression '{}' failed: {e}", self.src))
    }
}

/// Python spellings this engine writes differently: `\Z` (end of text) is
/// `\z` here. Escaped backslashes are kept as they are.
fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Z') => out.push_str("\\z"),
            Some(n) => {
                out.push('\\');
                out.push(n);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Python's `match.expand(template)`: `\1`..`\99`, `\g<n>`, `\g<name>` and
/// the character escapes `\n`, `\t`, `\r`, `\\`; a reference to a group
/// that does not exist is an error, as Python's "invalid group reference".
pub fn expand(caps: &Captures, template: &str) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        let group = |key: &str| -> Result<String, String> {
            let m = match key.parse::<usize>() {
                Ok(n) if n < caps.len() => caps.get(n),
                Ok(n) => return Err(format!("invalid group reference {n}")),
                Err(_) => match caps.name(key) {
                    Some(m) => Some(m),
                    None => return Err(format!("unknown group name '{key}'")),
                },
            };
            // An unmatched group expands to nothing, as in Python 3.5+.
            Ok(m.map(|m| m.as_str().to_string()).unwrap_or_default())
        };
        let digits = rest.bytes().take(2).take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            out.push_str(&group(&rest[..digits])?);
            rest = &rest[digits..];
        } else if let Some(after) = rest.strip_prefix("g<") {
            let end = after.find('>').ok_or("missing >, unterminated name")?;
            out.push_str(&group(&after[..end])?);
            rest = &after[end + 1..];
        } else {
            let mut cs = rest.chars();
            match cs.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('\\') => out.push('\\'),
                Some('a') => out.push('\x07'),
                Some('f') => out.push('\x0c'),
                Some('v') => out.push('\x0b'),
                Some(c) if c.is_ascii_alphabetic() => return Err(format!("bad escape \\{c}")),
                // Python keeps an unknown escape of a non-letter as it is.
                Some(c) => {
                    out.push('\\');
                    out.push(c);
                }
                None => return Err("bad escape (end of pattern)".into()),
            }
            rest = cs.as_str();
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(re: &str, line: &str, template: &str) -> Result<String, String> {
        let r = PyRe::new(re)?;
        let c = r.search(line)?.ok_or("no match")?;
        expand(&c, template)
    }

    /// The upstream lineinfile target: a backreference inside the pattern,
    /// which the `regex` crate refuses.
    #[test]
    fn backreferences_in_the_pattern() {
        assert_eq!(sub(r"^(REF) .* \1$", "REF and more REF\n", "X").unwrap(), "X");
        assert!(PyRe::new(r"^(REF) .* \1$").unwrap().search("REF and more FER\n").unwrap().is_none());
    }

    #[test]
    fn lookaround() {
        let r = PyRe::new(r"^foo(?!bar)").unwrap();
        assert!(r.search("foobaz\n").unwrap().is_some());
        assert!(r.search("foobar\n").unwrap().is_none());
    }

    #[test]
    fn expand_like_python() {
        assert_eq!(sub(r"^(\w+)=(?P<v>\w+)", "a=b", r"\2=\1 \g<v> \g<1>\t\\").unwrap(), "b=a b a\t\\");
        assert!(sub(r"^(a)", "a", r"\2").unwrap_err().contains("invalid group reference"));
        assert_eq!(sub(r"^(a)(x)?", "a", r"[\2]").unwrap(), "[]");
    }

    #[test]
    fn python_end_of_text() {
        let r = PyRe::new(r"a\Z").unwrap();
        assert!(r.search("a").unwrap().is_some());
        assert!(PyRe::new(r"a\\Z").unwrap().search("a\\Z").unwrap().is_some());
    }

    #[test]
    fn bad_patterns_are_errors_not_panics() {
        for p in [r"(", r"\", r"(?<", r"\k<x>", r"(a)\2", "[", r"(?P<n>a)(?P=n", "a{9999999999}"] {
            let _ = PyRe::new(p).map(|r| r.search("aaa\n"));
        }
        let _ = PyRe::new(r"(a+)+$").unwrap().search(&"a".repeat(40));
    }
}
