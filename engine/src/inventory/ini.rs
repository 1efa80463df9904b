//! Ansible's INI inventory format, parsed by hand: it is not INI (hosts
//! with inline variables, ranges, `host:port`, `[g:children]`).

use std::path::Path;
use std::sync::Arc;

use crate::diag::{Diagnostic, Pos};

use super::literal::parse_value;
use super::ranges;
use super::Inventory;

#[derive(Clone, Copy, PartialEq)]
enum Section {
    Hosts,
    Vars,
    Children,
}

pub fn parse(inv: &mut Inventory, text: &str, path: &Path) -> Result<(), Diagnostic> {
    let file = Arc::new(path.to_path_buf());
    let mut group = "ungrouped".to_string();
    let mut section = Section::Hosts;
    static HEADER: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let header = HEADER.get_or_init(|| regex::Regex::new(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?$").expect("valid"));
    // `[g:vars]` for a group that no section or child entry defines is an
    // error in Ansible (usually a typo in the group name).
    let mut vars_only: Vec<(String, Pos)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line_no = n as u32 + 1;
        let line = raw.trim();
        let indent = (raw.len() - raw.trim_start().len()) as u32;
        let at = |col: u32| Pos::new(&file, line_no, col);
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let caps = header.captures(line);
        if caps.is_none() && line.starts_with('[') && line.ends_with(']') {
            return Err(Diagnostic::new(at(indent + 1), format!("invalid section header '{line}'")));
        }
        if let Some(caps) = caps {
            group = caps[1].to_string();
            section = match caps.get(2).map(|m| m.as_str()) {
                None | Some("hosts") => Section::Hosts,
                Some("vars") => Section::Vars,
                Some("children") => Section::Children,
                Some(other) => {
                    return Err(Diagnostic::new(at(indent + 1), format!("section [{group}:{other}] has unknown type '{other}'"))
                        .with_help("use [group], [group:vars] or [group:children]"))
                }
            };
            if section == Section::Vars {
                if !inv.groups.contains_key(&group) {
                    vars_only.push((group.clone(), at(indent + 1)));
                }
            } else {
                vars_only.retain(|(g, _)| g != &group);
            }
            inv.ensure_group(&group);
            continue;
        }
        match section {
            Section::Hosts => parse_host_line(inv, line, &group).map_err(|msg| Diagnostic::new(at(indent + 1), msg))?,
            Section::Vars => {
                let (k, v) = line
                    .split_once('=')
                    .ok_or_else(|| Diagnostic::new(at(indent + 1), format!("expected key=value in [{group}:vars], got '{line}'")))?;
                let key = k.trim();
                if key.is_empty() || key.contains(char::is_whitespace) {
                    return Err(Diagnostic::new(at(indent + 1), format!("invalid variable name '{key}' in [{group}:vars]")));
                }
                let value = parse_value(strip_comment(v.trim())).map_err(|m| {
                    let column = indent + (k.len() + 1 + (v.len() - v.trim_start().len())) as u32 + 1;
                    Diagnostic::new(at(column), format!("{m}: '{key}' in [{group}:vars]"))
                })?;
                // The inventory is the user's: its values are template source.
                crate::template::trust::remember_value(&value);
                inv.ensure_group(&group).vars.insert(key.to_string(), value);
            }
            Section::Children => {
                let child = line.split_whitespace().next().unwrap_or("");
                vars_only.retain(|(g, _)| g != child);
                inv.add_child(&group, child).map_err(|m| Diagnostic::new(at(indent + 1), m))?;
            }
        }
    }
    if let Some((g, pos)) = vars_only.into_iter().next() {
        return Err(Diagnostic::new(pos, format!("Section [{g}:vars] not valid for undefined group '{g}'")));
    }
    Ok(())
}

impl Inventory {
    /// An inventory from the text of one INI file, reading nothing else
    /// (no `group_vars/` beside it): for tests and fuzzing.
    pub fn from_ini_str(text: &str, path: &Path) -> Result<Inventory, Diagnostic> {
        let mut inv = Inventory::empty();
        parse(&mut inv, text, path)?;
        inv.reconcile();
        Ok(inv)
    }
}

/// A `#` after whitespace starts a comment (Ansible allows them in vars).
fn strip_comment(v: &str) -> &str {
    match v.find(" #") {
        Some(i) if !v.starts_with('\'') && !v.starts_with('"') => v[..i].trim_end(),
        _ => v,
    }
}

/// shlex-style split with `#` comments, like Ansible's `shlex_split(comments=True)`.
fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' if !in_word => break,
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return Err(format!("no closing quotation in '{line}'")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\' | '$' | '`')) => cur.push(ch),
                            Some(ch) => {
                                cur.push('\\');
                                cur.push(ch);
                            }
                            None => return Err(format!("no closing quotation in '{line}'")),
                        },
                        Some(ch) => cur.push(ch),
                        None => return Err(format!("no closing quotation in '{line}'")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(ch) = chars.next() {
                    cur.push(ch);
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// `name[:port] [k=v ...]`, the name possibly a range.
fn parse_host_line(inv: &mut Inventory, line: &str, group: &str) -> Result<(), String> {
    let words = split_words(line)?;
    let Some((pattern, vars)) = words.split_first() else { return Ok(()) };
    let (name_pattern, port) = split_port(pattern)?;
    let mut parsed = Vec::new();
    for w in vars {
        let (k, v) = w.split_once('=').ok_or_else(|| format!("expected key=value host variable assignment, got: {w}"))?;
        let value = parse_value(v).map_err(|m| format!("{m}: host variable '{k}'"))?;
        crate::template::trust::remember_value(&value);
        parsed.push((k.to_string(), value));
    }
    let hosts = ranges::expand(&name_pattern)?;
    ranges::check_copies(&name_pattern, hosts.len(), name_pattern.len() + vars.iter().map(String::len).sum::<usize>())?;
    for host in hosts {
        let entry = inv.add_host(&host, group);
        if let Some(p) = port {
            entry.vars.insert("ansible_port".into(), serde_json::Value::from(p));
        }
        for (k, v) in &parsed {
            entry.vars.insert(k.clone(), v.clone());
        }
    }
    Ok(())
}

/// `host:port`, `[v6::addr]:port`, a bare IPv6 address (no port).
fn split_port(pattern: &str) -> Result<(String, Option<u16>), String> {
    if let Some(rest) = pattern.strip_prefix('[') {
        if let Some((addr, tail)) = rest.split_once("]:") {
            if addr.contains(':') {
                return Ok((addr.to_string(), Some(tail.parse().map_err(|_| format!("invalid port in '{pattern}'"))?)));
            }
        }
    }
    if pattern.matches(':').count() == 1 && !pattern.contains('[')
        || pattern.rsplit_once(':').map(|(h, _)| h.ends_with(']')).unwrap_or(false)
    {
        let (h, p) = pattern.rsplit_once(':').expect("has a colon");
        let port: u16 = p.parse().map_err(|_| format!("invalid port '{p}' in host '{pattern}'"))?;
        return Ok((h.to_string(), Some(port)));
    }
    Ok((pattern.to_string(), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shlex_split_with_quotes_and_comments() {
        assert_eq!(split_words(r#"h a="two words" b='x y' # c=1"#).unwrap(), ["h", "a=two words", "b=x y"]);
        assert!(split_words("h a='open").is_err());
    }

    #[test]
    fn ports() {
        assert_eq!(split_port("mx:2222").unwrap(), ("mx".into(), Some(2222)));
        assert_eq!(split_port("db[01:03]:22").unwrap(), ("db[01:03]".into(), Some(22)));
        assert_eq!(split_port("db[01:03]").unwrap(), ("db[01:03]".into(), None));
        assert_eq!(split_port("[fe80::1]:22").unwrap(), ("fe80::1".into(), Some(22)));
        assert!(split_port("mx:abc").is_err());
    }

    fn parse_text(text: &str) -> Result<Inventory, Diagnostic> {
        let mut inv = Inventory::default();
        parse(&mut inv, text, Path::new("hosts.ini")).map(|()| inv)
    }

    #[test]
    fn a_huge_host_range_is_refused_with_its_position() {
        // Used to abort the process trying to allocate 2.4 TB.
        let e = parse_text("[mail]\nmx1\n  h[0:99999999999]\n").unwrap_err();
        assert_eq!((e.pos.line, e.pos.column), (3, 3), "{e:?}");
        assert!(e.message.contains("100000000000 hosts") && e.message.contains("limit"), "{}", e.message);
        // Many small ranges multiply.
        let e = parse_text(&format!("h{}\n", "[1:10]".repeat(8))).unwrap_err();
        assert!(e.message.contains("100000000 hosts"), "{}", e.message);
    }

    #[test]
    fn long_names_and_variables_count_against_a_range() {
        // 100000 names of 2 KB each took more than 1.5 GB (found by fuzzing).
        let e = parse_text(&format!("h[0:99999]{}\n", "x".repeat(2000))).unwrap_err();
        assert!(e.message.contains("more than 16 MiB"), "{}", e.message);
        let e = parse_text(&format!("h[0:99999] v={}\n", "x".repeat(2000))).unwrap_err();
        assert!(e.message.contains("more than 16 MiB"), "{}", e.message);
    }

    #[test]
    fn the_largest_range_loads_in_linear_time() {
        // Adding each host used to scan its group: 5e9 comparisons here.
        let inv = parse_text("[g]\nh[0:99999] a=1\n[g:vars]\nb=2\n").unwrap();
        assert_eq!(inv.groups["g"].hosts.len(), 100_000);
        assert_eq!(inv.hosts["h99999"].vars["a"], 1);
    }

    #[test]
    fn deeply_nested_values_are_refused_not_a_stack_overflow() {
        let deep = "[".repeat(100_000);
        let e = parse_text(&format!("[g]\nh x={deep}\n[g:vars]\n")).unwrap_err();
        assert_eq!((e.pos.line, e.pos.column), (2, 1), "{e:?}");
        assert!(e.message.contains("nested deeper than"), "{}", e.message);
        let e = parse_text(&format!("[g]\nh\n[g:vars]\n  y = {deep}\n")).unwrap_err();
        assert_eq!((e.pos.line, e.pos.column), (4, 7), "{e:?}");
        // What Python accepts still parses.
        let ok = format!("{}1{}", "[".repeat(150), "]".repeat(150));
        let inv = parse_text(&format!("h x={ok}\n")).unwrap();
        assert!(inv.hosts["h"].vars["x"].is_array());
    }
}
