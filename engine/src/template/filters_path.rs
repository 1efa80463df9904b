//! Ansible's path and digest filters, with Python's `os.path` (posixpath)
//! and `ntpath` semantics: `normpath`, `path_join`, `relpath`, `realpath`,
//! `splitext`, `commonpath`, `expanduser`, `expandvars`, `fileglob`,
//! `win_basename`, `win_dirname`, `win_splitdrive`, `md5`, `sha1`. Paths
//! are the controller's, as in Ansible (filters run on the controller).

use minijinja::value::ValueKind;
use minijinja::{Environment, Error, ErrorKind, Value as JValue};

use super::filters::text_of;

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("normpath", |p: String| normpath(&p));
    env.add_filter("path_join", |v: JValue| -> Result<String, Error> {
        let parts: Vec<String> = match v.kind() {
            ValueKind::String => return Ok(v.as_str().unwrap_or("").to_string()),
            ValueKind::Seq | ValueKind::Iterable => v.try_iter()?.map(|p| text_of(&p)).collect(),
            _ => {
                let class = super::filters::python_type(&v);
                return Err(err(format!("|path_join expects string or sequence, got <class '{class}'> instead.")));
            }
        };
        Ok(join(&parts))
    });
    env.add_filter("relpath", |p: String, start: Option<String>| -> Result<String, Error> {
        relpath(&p, start.as_deref().unwrap_or(".")).map_err(err)
    });
    env.add_filter("realpath", |p: String| realpath(&expanduser(&p)));
    env.add_filter("splitext", |p: String| -> Vec<String> {
        let (root, ext) = splitext(&p);
        vec![root.to_string(), ext.to_string()]
    });
    env.add_filter("commonpath", |v: JValue| -> Result<String, Error> {
        if !matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable) {
            let class = super::filters::python_type(&v);
            return Err(err(format!("|commonpath expects sequence, got <class '{class}'> instead.")));
        }
        let paths: Vec<String> = v.try_iter()?.map(|p| text_of(&p)).collect();
        commonpath(&paths).map_err(err)
    });
    env.add_filter("expanduser", |p: String| expanduser(&p));
    env.add_filter("expandvars", |p: String| expandvars(&p));
    env.add_filter("fileglob", |pattern: String| -> Vec<String> { fileglob(&pattern) });
    env.add_filter("win_basename", |p: String| win_split(&p).1);
    env.add_filter("win_dirname", |p: String| win_split(&p).0);
    env.add_filter("win_splitdrive", |p: String| -> Vec<String> {
        let (d, rest) = win_splitdrive(&p);
        vec![d, rest]
    });
    env.add_filter("md5", |v: JValue| {
        use md5::Digest;
        format!("{:x}", md5::Md5::digest(text_of(&v).as_bytes()))
    });
    env.add_filter("sha1", |v: JValue| {
        use sha1::Digest;
        format!("{:x}", sha1::Sha1::digest(text_of(&v).as_bytes()))
    });
}

/// posixpath.normpath.
pub fn normpath(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    // POSIX keeps exactly two leading slashes, folds three or more to one.
    let initial = if p.starts_with("//") && !p.starts_with("///") {
        2
    } else if p.starts_with('/') {
        1
    } else {
        0
    };
    let mut out: Vec<&str> = Vec::new();
    for comp in p.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if initial == 0 && out.last().is_none_or(|l| *l == "..") {
                    out.push("..");
                } else if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                }
            }
            c => out.push(c),
        }
    }
    let joined = format!("{}{}", "/".repeat(initial), out.join("/"));
    if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

/// posixpath.join: an absolute part starts over.
fn join(parts: &[String]) -> String {
    let mut out = String::new();
    for p in parts {
        if p.starts_with('/') {
            out = p.clone();
        } else if out.is_empty() || out.ends_with('/') {
            out.push_str(p);
        } else {
            out.push('/');
            out.push_str(p);
        }
    }
    out
}

fn abspath(p: &str) -> String {
    if p.starts_with('/') {
        normpath(p)
    } else {
        let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_else(|_| "/".into());
        normpath(&join(&[cwd, p.to_string()]))
    }
}

/// posixpath.relpath.
fn relpath(p: &str, start: &str) -> Result<String, String> {
    if p.is_empty() {
        return Err("no path specified".into());
    }
    let parts = |s: &str| -> Vec<String> { abspath(s).split('/').filter(|c| !c.is_empty()).map(str::to_string).collect() };
    let (target, base) = (parts(p), parts(start));
    let common = target.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut rel: Vec<String> = vec!["..".to_string(); base.len() - common];
    rel.extend(target[common..].iter().cloned());
    Ok(if rel.is_empty() { ".".into() } else { rel.join("/") })
}

/// os.path.realpath: links resolved as far as the path exists.
fn realpath(p: &str) -> String {
    let abs = abspath(p);
    let mut existing = std::path::PathBuf::from(&abs);
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = existing.canonicalize() {
            let mut out = c;
            for r in rest.iter().rev() {
                out.push(r);
            }
            return normpath(&out.display().to_string());
        }
        match (existing.file_name().map(|f| f.to_os_string()), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => return abs,
        }
    }
}

/// posixpath.splitext: the last dot of the last component, not a leading one.
fn splitext(p: &str) -> (&str, &str) {
    let name_start = p.rfind('/').map(|i| i + 1).unwrap_or(0);
    let name = &p[name_start..];
    let lead = name.len() - name.trim_start_matches('.').len();
    match name[lead..].rfind('.') {
        Some(i) => p.split_at(name_start + lead + i),
        None => (p, ""),
    }
}

/// posixpath.commonpath.
fn commonpath(paths: &[String]) -> Result<String, String> {
    if paths.is_empty() {
        return Err("commonpath() arg is an empty sequence".into());
    }
    let absolute = paths[0].starts_with('/');
    if paths.iter().any(|p| p.starts_with('/') != absolute) {
        return Err("Can't mix absolute and relative paths".into());
    }
    let split: Vec<Vec<&str>> = paths.iter().map(|p| p.split('/').filter(|c| !c.is_empty() && *c != ".").collect()).collect();
    let first = &split[0];
    let n = (0..first.len()).take_while(|&i| split.iter().all(|s| s.get(i) == Some(&first[i]))).count();
    let common = first[..n].join("/");
    Ok(if absolute { format!("/{common}") } else { common })
}

/// os.path.expanduser on the controller: `~` is $HOME, `~user` that user's home.
pub fn expanduser(p: &str) -> String {
    let Some(rest) = p.strip_prefix('~') else { return p.to_string() };
    let (user, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let home = if user.is_empty() { std::env::var("HOME").ok() } else { nix_home(user) };
    match home {
        Some(h) => format!("{}{tail}", if h != "/" { h.trim_end_matches('/') } else { "" }),
        None => p.to_string(),
    }
}

fn nix_home(user: &str) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| f.len() > 5 && f[0] == user).map(|f| f[5].to_string())
}

/// posixpath.expandvars: `$NAME` and `${NAME}` from the controller's
/// environment; unknown ones stay as written.
fn expandvars(p: &str) -> String {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| regex::Regex::new(r"\$(\w+|\{[^}]*\})").expect("valid regex"));
    re.replace_all(p, |c: &regex::Captures| {
        let name = c[1].trim_start_matches('{').trim_end_matches('}');
        std::env::var(name).unwrap_or_else(|_| c[0].to_string())
    })
    .into_owned()
}

/// Ansible's fileglob: the files (not folders) matching a pattern on the controller.
fn fileglob(pattern: &str) -> Vec<String> {
    let Ok(glob) = globset::Glob::new(pattern).map(|g| g.compile_matcher()) else { return Vec::new() };
    // Only the folder part before the first wildcard needs reading.
    let fixed: String = pattern.split('/').take_while(|c| !c.contains(['*', '?', '['])).collect::<Vec<_>>().join("/");
    let root = if fixed.is_empty() { ".".to_string() } else { fixed };
    let depth = pattern.split('/').count();
    let mut out = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(&root)];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let path = e.path();
            let shown = path.display().to_string();
            let shown = shown.strip_prefix("./").filter(|_| !pattern.starts_with("./")).unwrap_or(&shown).to_string();
            if path.is_dir() {
                if shown.split('/').count() < depth {
                    stack.push(path);
                }
            } else if glob.is_match(&shown) {
                out.push(shown);
            }
        }
    }
    out.sort();
    out
}

/// ntpath.splitdrive (drive letters and UNC shares).
fn win_splitdrive(p: &str) -> (String, String) {
    let norm = p.replace('/', "\\");
    if norm.starts_with("\\\\") && !norm.starts_with("\\\\\\") {
        // \\server\share\rest
        let parts: Vec<&str> = norm[2..].splitn(3, '\\').collect();
        if parts.len() >= 2 && !parts[0].is_empty() && !parts[1].is_empty() {
            let len = 2 + parts[0].len() + 1 + parts[1].len();
            return (p[..len].to_string(), p[len..].to_string());
        }
        return (String::new(), p.to_string());
    }
    if p.len() >= 2 && p.as_bytes()[1] == b':' {
        return (p[..2].to_string(), p[2..].to_string());
    }
    (String::new(), p.to_string())
}

/// ntpath.split: (head, tail).
fn win_split(p: &str) -> (String, String) {
    let (drive, rest) = win_splitdrive(p);
    let i = rest.rfind(['/', '\\']).map(|i| i + 1).unwrap_or(0);
    let (head, tail) = rest.split_at(i);
    let trimmed = head.trim_end_matches(['/', '\\']);
    let head = if trimmed.is_empty() { head } else { trimmed };
    (format!("{drive}{head}"), tail.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_pythons_os_path() {
        assert_eq!(normpath("/a//b/./c/../d/"), "/a/b/d");
        assert_eq!(normpath("../a/.."), "..");
        assert_eq!(normpath("//a"), "//a");
        assert_eq!(join(&["/etc".into(), "apt".into(), "sources.list".into()]), "/etc/apt/sources.list");
        assert_eq!(join(&["a".into(), "/b".into(), "c".into()]), "/b/c");
        assert_eq!(relpath("/etc/apt/x", "/etc/ssh").unwrap(), "../apt/x");
        assert_eq!(splitext("/a/b.tar.gz"), ("/a/b.tar", ".gz"));
        assert_eq!(splitext("/a/.bashrc"), ("/a/.bashrc", ""));
        assert_eq!(commonpath(&["/a/b/c".into(), "/a/b/d".into()]).unwrap(), "/a/b");
        assert!(commonpath(&["/a".into(), "b".into()]).is_err());
        assert_eq!(win_split(r"C:\Users\me\file.txt"), (r"C:\Users\me".to_string(), "file.txt".to_string()));
        assert_eq!(win_splitdrive(r"\\server\share\dir"), (r"\\server\share".to_string(), r"\dir".to_string()));
        std::env::set_var("MAILPLAY_TEST_EXPANDVARS", "v");
        assert_eq!(expandvars("$MAILPLAY_TEST_EXPANDVARS/${MAILPLAY_TEST_EXPANDVARS}/$NOT_SET_HOPEFULLY_X"), "v/v/$NOT_SET_HOPEFULLY_X");
        assert_eq!(expanduser("~root/x"), "/root/x");
    }

    #[test]
    fn fileglob_lists_matching_files_only() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.conf"), "").unwrap();
        std::fs::write(d.path().join("b.txt"), "").unwrap();
        std::fs::create_dir(d.path().join("c.conf")).unwrap();
        let found = fileglob(&format!("{}/*.conf", d.path().display()));
        assert_eq!(found, vec![format!("{}/a.conf", d.path().display())]);
    }
}
