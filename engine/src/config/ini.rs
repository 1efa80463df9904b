//! `ansible.cfg` as Python's `configparser.ConfigParser(inline_comment_prefixes=(';',))`
//! reads it, which is what ansible-core 2.19 uses: `[section]` headers,
//! `key = value` or `key: value` (keys lower-cased, sections as written),
//! whole-line comments starting with `#` or `;`, inline comments after a
//! whitespace and `;`, continuation lines indented deeper than their key
//! (joined with newlines; blank lines inside a value kept), a `[DEFAULT]`
//! section every other section inherits, and strict mode: a section or a
//! key given twice is an error, as is a key before any section.

use std::collections::BTreeMap;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Ini {
    defaults: BTreeMap<String, String>,
    sections: BTreeMap<String, BTreeMap<String, String>>,
}

const DEFAULT_SECTION: &str = "DEFAULT";

impl Ini {
    /// The value of `key` in `section` (or inherited from `[DEFAULT]`), as
    /// `parser.get(section, key, raw=True, fallback=None)`: `None` when the
    /// section does not exist.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        let key = key.to_lowercase();
        let sect = self.sections.get(section)?;
        sect.get(&key).or_else(|| self.defaults.get(&key)).map(String::as_str)
    }

    pub fn parse(text: &str) -> Result<Ini, String> {
        let mut ini = Ini::default();
        // Values as lists of lines until the end, as configparser does.
        let mut defaults: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut sections: Vec<(String, BTreeMap<String, Vec<String>>)> = Vec::new();
        // Which map the current section is: None before any header,
        // Some(None) for [DEFAULT], Some(Some(i)) for sections[i].
        let mut cursect: Option<Option<usize>> = None;
        let mut optname: Option<String> = None;
        let mut indent_level = 0usize;
        let mut added: std::collections::BTreeSet<(String, String)> = Default::default();
        let mut added_sections: std::collections::BTreeSet<String> = Default::default();
        let mut errors: Vec<String> = Vec::new();
        for (n, line) in text.split('\n').enumerate() {
            let lineno = n + 1;
            let comment_start = comment_start(line);
            let value = line[..comment_start.unwrap_or(line.len())].trim();
            if value.is_empty() {
                // A blank line inside a value is part of it, unless it held a comment.
                if comment_start.is_none() {
                    if let (Some(sect), Some(opt)) = (cursect, &optname) {
                        let map = match sect {
                            None => &mut defaults,
                            Some(i) => &mut sections[i].1,
                        };
                        if let Some(v) = map.get_mut(opt) {
                            v.push(String::new());
                        }
                    }
                }
                continue;
            }
            let cur_indent = line.chars().position(|c| !c.is_whitespace()).unwrap_or(0);
            if let (Some(sect), Some(opt), true) = (cursect, &optname, cur_indent > indent_level) {
                let map = match sect {
                    None => &mut defaults,
                    Some(i) => &mut sections[i].1,
                };
                if let Some(v) = map.get_mut(opt) {
                    v.push(value.to_string());
                }
                continue;
            }
            indent_level = cur_indent;
            if let Some(name) = section_header(value) {
                if name == DEFAULT_SECTION {
                    cursect = Some(None);
                } else if let Some(i) = sections.iter().position(|(s, _)| s == name) {
                    if added_sections.contains(name) {
                        return Err(format!("While reading [line {lineno:2}]: section '{name}' already exists"));
                    }
                    cursect = Some(Some(i));
                } else {
                    sections.push((name.to_string(), BTreeMap::new()));
                    cursect = Some(Some(sections.len() - 1));
                }
                added_sections.insert(name.to_string());
                optname = None;
                continue;
            }
            let Some(sect) = cursect else {
                return Err(format!("File contains no section headers.\nline: {lineno}\n{line:?}"));
            };
            match option_line(value) {
                Some((key, val)) if !key.is_empty() => {
                    let key = key.to_lowercase();
                    let sect_name = match sect {
                        None => DEFAULT_SECTION.to_string(),
                        Some(i) => sections[i].0.clone(),
                    };
                    if !added.insert((sect_name.clone(), key.clone())) {
                        return Err(format!("While reading [line {lineno:2}]: option '{key}' in section '{sect_name}' already exists"));
                    }
                    let map = match sect {
                        None => &mut defaults,
                        Some(i) => &mut sections[i].1,
                    };
                    map.insert(key.clone(), vec![val.to_string()]);
                    optname = Some(key);
                }
                _ => errors.push(format!("[line {lineno:2}]: {line:?}")),
            }
        }
        if !errors.is_empty() {
            return Err(format!("Source contains parsing errors:\n\t{}", errors.join("\n\t")));
        }
        let join = |v: Vec<String>| v.join("\n").trim_end().to_string();
        ini.defaults = defaults.into_iter().map(|(k, v)| (k, join(v))).collect();
        ini.sections = sections.into_iter().map(|(s, m)| (s, m.into_iter().map(|(k, v)| (k, join(v))).collect())).collect();
        Ok(ini)
    }
}

/// Where a comment starts: a whole line whose first non-blank is `#` or
/// `;`, or a `;` at the start or after whitespace.
fn comment_start(line: &str) -> Option<usize> {
    let t = line.trim();
    if t.starts_with('#') || t.starts_with(';') {
        return Some(0);
    }
    let b = line.as_bytes();
    (0..b.len()).find(|&i| b[i] == b';' && (i == 0 || line[..i].chars().next_back().is_some_and(char::is_whitespace)))
}

/// `[name]` as configparser's `\[(?P<header>.+)\]` matched at the start
/// (greedy: up to the last `]`).
fn section_header(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    (end > 0).then(|| &rest[..end])
}

/// `key = value` / `key: value` split at the first delimiter.
fn option_line(value: &str) -> Option<(&str, &str)> {
    let i = value.find(['=', ':'])?;
    Some((value[..i].trim_end(), value[i + 1..].trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keys_comments_and_continuations() {
        let ini = Ini::parse(
            "# a comment\n; another\n[defaults]\nRoles_Path = ./roles:~/r ; inline\nforks: 7\nurl = http://x;y\n\
             long = first\n  second\n\n  third\n[privilege_escalation]\nbecome=True\n[DEFAULT]\nshared = s\n",
        )
        .unwrap();
        assert_eq!(ini.get("defaults", "roles_path"), Some("./roles:~/r"));
        assert_eq!(ini.get("defaults", "ROLES_PATH"), Some("./roles:~/r"));
        assert_eq!(ini.get("defaults", "forks"), Some("7"));
        // `;` only starts a comment after whitespace.
        assert_eq!(ini.get("defaults", "url"), Some("http://x;y"));
        assert_eq!(ini.get("defaults", "long"), Some("first\nsecond\n\nthird"));
        assert_eq!(ini.get("privilege_escalation", "become"), Some("True"));
        // [DEFAULT] is inherited by existing sections only.
        assert_eq!(ini.get("defaults", "shared"), Some("s"));
        assert_eq!(ini.get("nosuch", "shared"), None);
        assert_eq!(ini.get("defaults", "missing"), None);
    }

    #[test]
    fn strict_errors_like_configparser() {
        assert!(Ini::parse("forks=3\n").unwrap_err().contains("no section headers"));
        assert!(Ini::parse("[defaults]\nforks=3\nforks=4\n").unwrap_err().contains("option 'forks' in section 'defaults' already exists"));
        assert!(Ini::parse("[a]\n[a]\n").unwrap_err().contains("section 'a' already exists"));
        assert!(Ini::parse("[defaults]\njust words\n").unwrap_err().contains("parsing errors"));
        // An empty value and an empty file are fine.
        assert_eq!(Ini::parse("[defaults]\nx =\n").unwrap().get("defaults", "x"), Some(""));
        assert_eq!(Ini::parse("").unwrap(), Ini::default());
    }
}
