//! Host patterns for `hosts:` and `--limit`: `a:b` / `a,b` (union), `a:&b`
//! (intersection), `a:!b` (exclusion), globs, `~regex`, `all`, `g[0]`,
//! `g[1:3]`, `@file`.

use super::Inventory;

/// Split on ':' and ',' but not inside `[...]` (subscripts, IPv6).
fn split_terms(pattern: &str) -> Vec<String> {
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
