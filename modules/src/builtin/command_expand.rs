//! `command`'s `expand_argument_vars` (default true): Ansible's
//! `run_command` passes each argument through Python's
//! `os.path.expandvars` and then `os.path.expanduser`, in the module's
//! environment on the target (the task's `environment` included). So
//! `command: echo $HOME` prints the home folder although no shell runs.
//! The environment is read from the target (`env -0`, run like the command
//! itself) only when an argument could expand; the rewriting is pure.

use std::collections::HashMap;

use crate::host::{Command, Host, HostError};

/// An argument `expandvars` or `expanduser` could change.
pub fn may_expand(arg: &str) -> bool {
    arg.contains('$') || arg.starts_with('~')
}

/// `words` after Python's `expandvars` then `expanduser`, with the
/// environment and the homes read from the host (one `env -0`, one
/// `getent passwd` per `~name`), only when a word could expand.
pub async fn expand_on_host(host: &dyn Host, words: &[String]) -> Result<Vec<String>, HostError> {
    if !words.iter().any(|w| may_expand(w)) {
        return Ok(words.to_vec());
    }
    let env = parse_env(&host.exec(&Command::argv(["env", "-0"])).await?.stdout);
    let mut homes = HashMap::new();
    for user in users_named(words) {
        let out = host.exec(&Command::argv(["getent", "passwd", user.as_str()])).await?;
        if let Some(home) = out.stdout_str().lines().next().and_then(|l| l.split(':').nth(5)) {
            homes.insert(user, home.to_string());
        }
    }
    let own_home = match env.get("HOME") {
        Some(_) => None,
        None => {
            let out = host.exec(&Command::shell("getent passwd \"$(id -u)\" | cut -d: -f6")).await?;
            Some(out.stdout_str().trim().to_string()).filter(|h| !h.is_empty())
        }
    };
    let lookup = |u: Option<&str>| match u {
        Some(u) => homes.get(u).cloned(),
        None => own_home.clone(),
    };
    Ok(words.iter().map(|w| expanduser(&expandvars(w, &env), &env, &lookup)).collect())
}

/// An Ansible `type='path'` argument as the module sees it on the target.
pub async fn expand_path(host: &dyn Host, path: &mut String) -> Result<(), HostError> {
    if may_expand(path) {
        if let Some(p) = expand_on_host(host, std::slice::from_ref(path)).await?.pop() {
            *path = p;
        }
    }
    Ok(())
}

/// `env -0`'s output as a map.
pub fn parse_env(out: &[u8]) -> HashMap<String, String> {
    out.split(|b| *b == 0)
        .filter_map(|e| {
            let e = String::from_utf8_lossy(e);
            let (k, v) = e.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Python's `posixpath.expandvars`: `$name` and `${name}` of variables that
/// are set; anything else (an unset name, a lone `$`) is left as written.
/// There is no escaping: `\$X` expands `$X` after the backslash.
pub fn expandvars(s: &str, env: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(b) = after.strip_prefix('{') {
            match b.find('}') {
                Some(end) => (&b[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let n = after.find(|c: char| !is_word(c)).unwrap_or(after.len());
            (&after[..n], n)
        };
        match env.get(name) {
            Some(v) if len > 0 => {
                out.push_str(v);
                rest = &after[len..];
            }
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Python's `posixpath.expanduser`: a leading `~` is `$HOME` (or the
/// user's home from the password database when HOME is unset), `~name` is
/// that user's home; unknown users leave the text as it is. `homes` looks a
/// user's home up (`None` for the current user).
pub fn expanduser(s: &str, env: &HashMap<String, String>, homes: &dyn Fn(Option<&str>) -> Option<String>) -> String {
    let Some(after) = s.strip_prefix('~') else { return s.to_string() };
    let end = after.find('/').unwrap_or(after.len());
    let (user, tail) = after.split_at(end);
    let home = if user.is_empty() { env.get("HOME").cloned().or_else(|| homes(None)) } else { homes(Some(user)) };
    match home {
        Some(h) => {
            let h = if h == "/" { "" } else { h.trim_end_matches('/') };
            let joined = format!("{h}{tail}");
            if joined.is_empty() {
                "/".into()
            } else {
                joined
            }
        }
        None => s.to_string(),
    }
}

/// The users whose homes `~name` arguments need.
pub fn users_named(args: &[String]) -> Vec<String> {
    let mut users: Vec<String> = args
        .iter()
        .filter_map(|a| a.strip_prefix('~'))
        .map(|a| a.split('/').next().unwrap_or(""))
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect();
    users.sort();
    users.dedup();
    users
}

/// Whether Python's glob treats the text as a pattern.
pub fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Python's glob on one folder level: `name` against the folder's entries
/// (`find -printf '%f\0'` output); entries starting with a dot match only
/// a pattern that starts with one.
pub fn glob_matches_any(name: &str, entries: &[u8]) -> Result<bool, String> {
    let glob = globset::GlobBuilder::new(name)
        .literal_separator(true)
        .backslash_escape(false)
        .build()
        .map_err(|e| format!("invalid pattern '{name}': {e}"))?
        .compile_matcher();
    Ok(entries
        .split(|b| *b == 0)
        .filter(|e| !e.is_empty())
        .map(String::from_utf8_lossy)
        .filter(|e| name.starts_with('.') || !e.starts_with('.'))
        .any(|e| glob.is_match(e.as_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> HashMap<String, String> {
        parse_env(b"TEST=z\0HOME=/home/me\0EMPTY=\0")
    }

    /// The command_shell target: `/bin/sh -c 'echo "\$TEST"'` runs
    /// `echo "\z"` (the backslash stays, the variable expands).
    #[test]
    fn expandvars_as_python() {
        let e = env();
        assert_eq!(expandvars(r#"echo "\$TEST""#, &e), r#"echo "\z""#);
        assert_eq!(expandvars("${TEST}x $TESTx $UNSET ${UNSET} $ ${TEST", &e), "zx $TESTx $UNSET ${UNSET} $ ${TEST");
        assert_eq!(expandvars("$EMPTY-$TEST", &e), "-z");
    }

    #[test]
    fn globs_as_python() {
        let entries = b"afile.txt\0.hidden.txt\0b\0";
        assert!(glob_matches_any("afile.*", entries).unwrap());
        assert!(!glob_matches_any("*.md", entries).unwrap());
        assert!(!glob_matches_any("*.txt", b".hidden.txt\0").unwrap());
        assert!(glob_matches_any(".*.txt", b".hidden.txt\0").unwrap());
        assert!(glob_matches_any("[ab]", entries).unwrap());
        assert!(has_glob("/x/afile.*") && !has_glob("/x/afile.txt"));
    }

    #[test]
    fn expanduser_as_python() {
        let e = env();
        let homes = |u: Option<&str>| match u {
            Some("root") => Some("/root".to_string()),
            None => Some("/pw/home".to_string()),
            _ => None,
        };
        assert_eq!(expanduser("~/x", &e, &homes), "/home/me/x");
        assert_eq!(expanduser("~", &e, &homes), "/home/me");
        assert_eq!(expanduser("~root/x", &e, &homes), "/root/x");
        assert_eq!(expanduser("~nobody/x", &e, &homes), "~nobody/x");
        assert_eq!(expanduser("a~/x", &e, &homes), "a~/x");
        assert_eq!(expanduser("~/x", &HashMap::new(), &homes), "/pw/home/x");
        assert_eq!(users_named(&["~root/a".into(), "~".into(), "~root".into(), "x".into()]), vec!["root"]);
    }
}
