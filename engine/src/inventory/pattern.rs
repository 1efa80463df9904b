//! Host patterns for `hosts:` and `--limit`: `a:b` / `a,b` (union), `a:&b`
//! (intersection), `a:!b` (exclusion), globs, `~regex`, `all`, `g[0]`,
//! `g[1:3]`, `@file`.

use super::Inventory;

/// Split on ':' and ',' but not inside `[...]` (subscripts, IPv6).
fn split_terms(pattern: &str) -> Vec<String> {
    // A lone IPv6 address (`::1`) is one host, as in Ansible.
    if pattern.trim().parse::<std::net::Ipv6Addr>().is_ok() {
        return vec![pattern.trim().to_string()];
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for c in pattern.chars() {
        match c {
            '[' => {
                depth += 1;
                cur.push(c)
            }
            ']' => {
                depth -= 1;
                cur.push(c)
            }
            ':' | ',' if depth == 0 => {
                if !cur.trim().is_empty() {
                    out.push(cur.trim().to_string());
                }
                cur.clear();
            }
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

fn subscript(term: &str) -> (&str, Option<(i64, Option<i64>)>) {
    if let Some(open) = term.find('[') {
        if term.ends_with(']') && !term[..open].is_empty() {
            let inside = &term[open + 1..term.len() - 1];
            let parsed = match inside.split_once(':') {
                Some((a, b)) => a.parse().ok().map(|a| (a, if b.is_empty() { Some(-1) } else { b.parse().ok() })),
                None => inside.parse().ok().map(|a| (a, None)),
            };
            if let Some(p) = parsed {
                return (&term[..open], Some(p));
            }
        }
    }
    (term, None)
}

fn matching(inv: &Inventory, term: &str) -> Result<Vec<String>, String> {
    let (base, sub) = subscript(term);
    let mut hosts: Vec<String> = if base == "all" || base == "*" {
        inv.host_names()
    } else if let Some(re) = base.strip_prefix('~') {
        let re = regex::Regex::new(re).map_err(|e| format!("invalid regex in host pattern '{term}': {e}"))?;
        let mut out: Vec<String> = Vec::new();
        for g in inv.groups.keys().filter(|g| re.is_match(g)) {
            out.extend(inv.hosts_below(g));
        }
        out.extend(inv.host_names().into_iter().filter(|h| re.is_match(h)));
        out
    } else if base.contains(['*', '?']) || (base.contains('[') && sub.is_none()) {
        let glob = globset::Glob::new(base).map_err(|e| format!("invalid pattern '{term}': {e}"))?.compile_matcher();
        let mut out: Vec<String> = Vec::new();
        for g in inv.groups.keys().filter(|g| glob.is_match(g.as_str())) {
            out.extend(inv.hosts_below(g));
        }
        out.extend(inv.host_names().into_iter().filter(|h| glob.is_match(h.as_str())));
        out
    } else if inv.groups.contains_key(base) {
        inv.hosts_below(base)
    } else if inv.has_host(base) {
        vec![base.to_string()]
    } else {
        Vec::new()
    };
    // Only a literal localhost name that matched nothing else gives the
    // inventory's localhost or the implicit one (`local*` does not).
    if hosts.is_empty() && super::LOCALHOST_NAMES.contains(&base) {
        hosts.extend(inv.resolve_host(base));
    }
    let mut seen = Vec::new();
    hosts.retain(|h| {
        if seen.contains(h) {
            false
        } else {
            seen.push(h.clone());
            true
        }
    });
    if let Some((start, end)) = sub {
        let len = hosts.len() as i64;
        let norm = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
        hosts = match end {
            None => hosts.get(norm(start) as usize).cloned().into_iter().collect(),
            Some(e) => {
                let (s, e) = (norm(start) as usize, (norm(e) + 1).min(len) as usize);
                if s < e {
                    hosts[s..e].to_vec()
                } else {
                    Vec::new()
                }
            }
        };
    }
    Ok(hosts)
}

pub fn select(inv: &Inventory, pattern: &str) -> Result<Vec<String>, String> {
    let pattern = pattern.trim();
    if let Some(file) = pattern.strip_prefix('@') {
        let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read limit file {file}: {e}"))?;
        let joined: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        return select(inv, &joined.join(","));
    }
    let mut include: Vec<String> = Vec::new();
    let mut intersections: Vec<Vec<String>> = Vec::new();
    let mut exclude: Vec<String> = Vec::new();
    for term in split_terms(pattern) {
        check_mismatch(inv, term.trim_start_matches(['!', '&']))?;
        if let Some(t) = term.strip_prefix('!') {
            exclude.extend(matching(inv, t)?);
        } else if let Some(t) = term.strip_prefix('&') {
            intersections.push(matching(inv, t)?);
        } else {
            for h in matching(inv, &term)? {
                if !include.contains(&h) {
                    include.push(h);
                }
            }
        }
    }
    let mut out: Vec<String> = inv.host_names().into_iter().filter(|h| include.contains(h)).collect();
    // The implicit localhost is not in the inventory's order: last.
    out.extend(include.iter().filter(|h| inv.is_implicit_localhost(h)).cloned());
    for set in &intersections {
        out.retain(|h| set.contains(h));
    }
    out.retain(|h| !exclude.contains(h));
    Ok(out)
}

/// Ansible's `host_pattern_mismatch` setting: what a pattern that matches
/// no host and no group does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternMismatch {
    Warning,
    Error,
    Ignore,
}

impl PatternMismatch {
    pub fn parse(s: &str) -> Option<PatternMismatch> {
        match s {
            "warning" => Some(PatternMismatch::Warning),
            "error" => Some(PatternMismatch::Error),
            "ignore" => Some(PatternMismatch::Ignore),
            _ => None,
        }
    }
}

static MISMATCH: std::sync::Mutex<(Option<PatternMismatch>, Vec<String>)> = std::sync::Mutex::new((None, Vec::new()));

/// Set once by the command line from Ansible's configuration; until then
/// (library use, tests) a mismatch is ignored.
pub fn set_pattern_mismatch(m: PatternMismatch) {
    MISMATCH.lock().unwrap_or_else(|e| e.into_inner()).0 = Some(m);
}

/// As Ansible's `_match_one_pattern`: a term that matches no host and no
/// group warns (once per term), fails, or is ignored. `all` and the names
/// of the controller (`localhost`, `127.0.0.1`, `::1`, which Ansible
/// always has) never do.
fn check_mismatch(inv: &Inventory, term: &str) -> Result<(), String> {
    let mut state = MISMATCH.lock().unwrap_or_else(|e| e.into_inner());
    let Some(policy) = state.0.filter(|p| *p != PatternMismatch::Ignore) else { return Ok(()) };
    let (base, _) = subscript(term);
    if matches!(base, "all" | "*" | "localhost" | "127.0.0.1" | "::1") || !matching(inv, term)?.is_empty() || names_group(inv, base) {
        return Ok(());
    }
    let msg = format!("Could not match supplied host pattern, ignoring: {term}");
    if policy == PatternMismatch::Error {
        return Err(msg);
    }
    if !state.1.contains(&msg) {
        eprintln!("[WARNING]: {msg}");
        state.1.push(msg);
    }
    Ok(())
}

/// Whether a pattern names at least one group (even an empty one).
fn names_group(inv: &Inventory, base: &str) -> bool {
    if let Some(re) = base.strip_prefix('~') {
        regex::Regex::new(re).is_ok_and(|re| inv.groups.keys().any(|g| re.is_match(g)))
    } else if base.contains(['*', '?', '[']) {
        globset::Glob::new(base).is_ok_and(|g| {
            let m = g.compile_matcher();
            inv.groups.keys().any(|k| m.is_match(k.as_str()))
        })
    } else {
        inv.groups.contains_key(base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inventory(ini: &str) -> Inventory {
        let mut inv = Inventory::empty();
        super::super::ini::parse(&mut inv, ini, std::path::Path::new("hosts.ini")).expect("inventory");
        inv.reconcile();
        inv
    }

    #[test]
    fn only_a_literal_localhost_name_gives_the_implicit_localhost() {
        let inv = inventory("[web]\nh1\n[all:vars]\nsite=x\n");
        assert_eq!(select(&inv, "local*").unwrap(), Vec::<String>::new());
        assert_eq!(select(&inv, "all").unwrap(), ["h1"]);
        assert!(!inv.is_implicit_localhost("localhost"), "a pattern must not create it");
        // The first name used is its name; the other names are the same host.
        assert_eq!(select(&inv, "127.0.0.1").unwrap(), ["127.0.0.1"]);
        assert_eq!(select(&inv, "localhost").unwrap(), ["127.0.0.1"]);
        assert_eq!(select(&inv, "::1").unwrap(), ["127.0.0.1"]);
        assert_eq!(select(&inv, "web:localhost").unwrap(), ["h1", "127.0.0.1"]);
        assert_eq!(select(&inv, "all").unwrap(), ["h1"], "all never matches it");
        assert!(inv.is_implicit_localhost("127.0.0.1"));
        assert_eq!(inv.group_names_of("127.0.0.1"), Vec::<String>::new());
        assert!(!inv.groups_map()["all"].as_array().unwrap().iter().any(|h| h == "127.0.0.1"));
        let vars = inv.host_vars("127.0.0.1");
        assert_eq!((vars["ansible_connection"].as_str(), vars["site"].as_str()), (Some("local"), Some("x")));
        assert!(vars["ansible_python_interpreter"].as_str().is_some_and(|p| p.contains("python")));
    }

    /// As ansible 2.19's `group_names` (`ansible h -m debug -a var=group_names`).
    #[test]
    fn group_names_has_ungrouped_for_a_host_in_no_other_group() {
        let inv = inventory("plain\n[web]\nh1\n");
        assert_eq!(inv.group_names_of("plain"), ["ungrouped"]);
        assert_eq!(inv.group_names_of("h1"), ["web"]);
    }

    #[test]
    fn a_localhost_the_inventory_defines_is_used_with_its_own_variables() {
        let inv = inventory("[db]\n127.0.0.1 ansible_connection=ssh\n");
        assert_eq!(select(&inv, "localhost").unwrap(), ["127.0.0.1"]);
        assert_eq!(inv.resolve_host("localhost").as_deref(), Some("127.0.0.1"));
        assert!(!inv.is_implicit_localhost("127.0.0.1") && !inv.is_implicit_localhost("localhost"));
        assert_eq!(inv.host_vars("127.0.0.1")["ansible_connection"], "ssh");
        assert_eq!(inv.resolve_host("other"), None);
    }
}
