//! Ansible's configuration, as ansible-core 2.19 reads it
//! (`ansible/config/manager.py`): one `ansible.cfg`, the first of
//! `$ANSIBLE_CONFIG` (a file, or a folder holding `ansible.cfg`),
//! `./ansible.cfg` (skipped, with a warning, in a world-writable folder),
//! `~/.ansible.cfg` and `/etc/ansible/ansible.cfg` that exists and is
//! readable; and the `ANSIBLE_*` environment variables. Per setting, a
//! command-line flag beats the environment, which beats the file, which
//! beats Ansible's default; the callers apply the flags.
//!
//! Values convert as Ansible's `ensure_type`: booleans are true for
//! `y yes on 1 true t` (any case) and false otherwise, paths expand `~`,
//! `$VARS` and `{{CWD}}` and are relative to the config file's folder
//! (from the file) or the current folder (from the environment), quotes
//! around a value from the file are removed.

mod dump;
pub mod ini;
pub mod settings;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

pub use ini::Ini;
use settings::{setting, Setting, Support, Ty, SETTINGS};

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Env(&'static str),
    /// `[section] key` of the config file.
    File(&'static str, &'static str),
}

#[derive(Debug, Clone, Default)]
pub struct AnsibleConfig {
    /// The config file read, if any.
    pub file: Option<PathBuf>,
    ini: Ini,
    env: BTreeMap<String, String>,
    cwd: PathBuf,
    /// Warnings found while looking for the file (a skipped world-writable
    /// folder), shown once by the caller.
    pub warnings: Vec<String>,
}

/// Find the config file as `find_ini_config_file` does. `env` is the
/// environment, `home` the user's home folder.
pub fn find_config_file(env: &BTreeMap<String, String>, cwd: &Path, home: Option<&Path>) -> (Option<PathBuf>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut candidates = Vec::new();
    let from_env = env.get("ANSIBLE_CONFIG").map(|p| {
        let p = resolve_path(p, cwd, env, home);
        if p.is_dir() {
            p.join("ansible.cfg")
        } else {
            p
        }
    });
    candidates.extend(from_env.clone());
    let cwd_cfg = cwd.join("ansible.cfg");
    let mut skipped_cwd = false;
    match std::fs::metadata(cwd) {
        Ok(m) if std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o002 != 0 => skipped_cwd = cwd_cfg.exists(),
        Ok(_) => candidates.push(cwd_cfg),
        Err(_) => {}
    }
    if let Some(h) = home {
        candidates.push(h.join(".ansible.cfg"));
    }
    candidates.push(PathBuf::from("/etc/ansible/ansible.cfg"));
    let found = candidates.into_iter().find(|p| p.exists() && readable(p));
    if skipped_cwd && found != from_env {
        warnings.push(format!(
            "Ansible is being run in a world writable directory ({}), ignoring it as an ansible.cfg source. For more information see \
             https://docs.ansible.com/ansible/devel/reference_appendices/config.html#cfg-in-world-writable-dir",
            cwd.display()
        ));
    }
    (found, warnings)
}

fn readable(p: &Path) -> bool {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    match CString::new(p.as_os_str().as_bytes()) {
        // SAFETY: a valid NUL-terminated path; access() only reads it.
        Ok(c) => unsafe { libc::access(c.as_ptr(), libc::R_OK) == 0 },
        Err(_) => false,
    }
}

impl AnsibleConfig {
    /// The configuration of this process: its environment and folder.
    pub fn load() -> Result<AnsibleConfig, String> {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Self::load_from(env, &cwd)
    }

    pub fn load_from(env: BTreeMap<String, String>, cwd: &Path) -> Result<AnsibleConfig, String> {
        let home = env.get("HOME").map(PathBuf::from);
        let (file, warnings) = find_config_file(&env, cwd, home.as_deref());
        let ini = match &file {
            None => Ini::default(),
            Some(f) => {
                let ext = f.extension().and_then(|e| e.to_str()).unwrap_or("");
                if ext != "cfg" && ext != "ini" {
                    return Err(format!(
                        "Unsupported configuration file extension for {}: {}",
                        f.display(),
                        if ext.is_empty() { String::new() } else { format!(".{ext}") }
                    ));
                }
                let bytes = std::fs::read(f).map_err(|e| format!("Error reading config file ({}): {e}", f.display()))?;
                let text = String::from_utf8(bytes)
                    .map_err(|e| format!("Error reading config file({}) because the config file was not utf8 encoded: {e}", f.display()))?;
                Ini::parse(&text).map_err(|e| format!("Error reading config file ({}): {e}", f.display()))?
            }
        };
        Ok(AnsibleConfig { file, ini, env, cwd: cwd.to_path_buf(), warnings })
    }

    /// The raw value of a setting and where it came from: the last of its
    /// environment variables that is set, else the last of its keys present
    /// in the file (unquoted, as Ansible does for values from the file).
    pub fn raw(&self, name: &str) -> Option<(String, Origin)> {
        self.raw_of(setting(name))
    }

    fn raw_of(&self, s: &Setting) -> Option<(String, Origin)> {
        if let Some((v, origin)) = s.env.iter().filter_map(|e| self.env.get(*e).map(|v| (v.clone(), Origin::Env(e)))).next_back() {
            // An empty variable for a number fails Ansible's conversion and
            // gives the default (not the file's value). An empty path list
            // (`ANSIBLE_INVENTORY=`) would be the current folder in Ansible;
            // mailplay takes the default instead.
            if v.is_empty() && matches!(s.ty, Ty::Int | Ty::Float | Ty::PathList) {
                return None;
            }
            return Some((v, origin));
        }
        s.ini.iter().filter_map(|(sec, key)| self.ini.get(sec, key).map(|v| (unquote(v).to_string(), Origin::File(sec, key)))).next_back()
    }

    /// Where relative paths of a value are resolved from.
    fn base_dir(&self, origin: &Origin) -> PathBuf {
        match (origin, &self.file) {
            (Origin::File(..), Some(f)) => f.parent().map(Path::to_path_buf).unwrap_or_else(|| self.cwd.clone()),
            _ => self.cwd.clone(),
        }
    }

    fn home(&self) -> Option<PathBuf> {
        self.env.get("HOME").map(PathBuf::from)
    }

    /// How to name where a value came from in a message.
    pub fn describe(&self, origin: &Origin) -> String {
        match origin {
            Origin::Env(e) => format!("environment variable {e}"),
            Origin::File(sec, key) => {
                format!("[{sec}] {key} in {}", self.file.as_ref().map(|f| f.display().to_string()).unwrap_or_default())
            }
        }
    }

    pub fn string(&self, name: &str) -> Option<String> {
        self.raw(name).map(|(v, _)| v)
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        self.raw(name).map(|(v, _)| parse_bool(&v))
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, String> {
        match self.raw(name) {
            None => Ok(None),
            Some((v, origin)) => parse_int(&v).map(Some).ok_or_else(|| {
                format!(
                    "Config '{name}' from '{}' has an invalid value: Invalid value provided for 'integer': '{v}'",
                    self.describe(&origin)
                )
            }),
        }
    }

    /// A comma-separated list, items trimmed and unquoted.
    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        self.raw(name).map(|(v, _)| v.split(',').map(|x| unquote(x.trim()).to_string()).collect())
    }

    pub fn path(&self, name: &str) -> Option<PathBuf> {
        self.raw(name).map(|(v, o)| resolve_path(&v, &self.base_dir(&o), &self.env, self.home().as_deref()))
    }

    /// Colon-separated paths (`pathspec`).
    pub fn pathspec(&self, name: &str) -> Option<Vec<PathBuf>> {
        self.raw(name).map(|(v, o)| {
            let base = self.base_dir(&o);
            v.split(':').map(|p| resolve_path(p, &base, &self.env, self.home().as_deref())).collect()
        })
    }

    /// Comma-separated paths (`pathlist`).
    pub fn pathlist(&self, name: &str) -> Option<Vec<PathBuf>> {
        self.raw(name).map(|(v, o)| {
            let base = self.base_dir(&o);
            v.split(',').map(|p| resolve_path(p.trim(), &base, &self.env, self.home().as_deref())).collect()
        })
    }

    /// The roles path: the configured one or Ansible's default.
    pub fn roles_path(&self) -> Vec<PathBuf> {
        self.pathspec_or_default("DEFAULT_ROLES_PATH")
    }

    /// Where library modules are searched after the playbooks' and roles'
    /// `library/` folders.
    pub fn module_path(&self) -> Vec<PathBuf> {
        self.pathspec_or_default("DEFAULT_MODULE_PATH")
    }

    /// Folders of Python filter plugins, before the playbooks' and roles'.
    pub fn filter_plugin_path(&self) -> Vec<PathBuf> {
        self.pathspec_or_default("DEFAULT_FILTER_PLUGIN_PATH")
    }

    fn pathspec_or_default(&self, name: &str) -> Vec<PathBuf> {
        self.pathspec(name).unwrap_or_else(|| {
            let home = self.home();
            settings::setting(name)
                .default
                .unwrap_or_default()
                .split(':')
                .map(|p| resolve_path(p, &self.cwd, &self.env, home.as_deref()))
                .collect()
        })
    }

    /// One warning per known setting that changes what Ansible does, is set
    /// to something else than its default, and that mailplay does not follow.
    pub fn unsupported_warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in SETTINGS.iter().filter(|s| s.support == Support::Unsupported) {
            let Some((value, origin)) = self.raw_of(s) else { continue };
            if s.default.is_some_and(|d| same_value(s.ty, &value, d)) {
                continue;
            }
            let named = match &origin {
                Origin::Env(e) => format!("{e}={value}"),
                Origin::File(..) => format!("{} = {value}", self.describe(&origin)),
            };
            out.push(format!("mailplay does not support the Ansible setting {} ({named}); it is ignored", s.name));
        }
        out
    }
}

/// Whether two values of a type mean the same (to tell a default apart).
fn same_value(ty: Ty, a: &str, b: &str) -> bool {
    match ty {
        Ty::Bool => parse_bool(a) == parse_bool(b),
        Ty::Int => parse_int(a).is_some() && parse_int(a) == parse_int(b),
        Ty::Float => a.trim().parse::<f64>().ok() == b.trim().parse::<f64>().ok(),
        Ty::List => {
            let items = |s: &str| s.split(',').map(|x| unquote(x.trim()).to_string()).filter(|x| !x.is_empty()).collect::<Vec<_>>();
            items(a) == items(b)
        }
        _ => a == b,
    }
}

/// Ansible's non-strict boolean: true for `y yes on 1 true t`, else false.
pub fn parse_bool(v: &str) -> bool {
    matches!(v.trim().to_lowercase().as_str(), "y" | "yes" | "on" | "1" | "true" | "t")
}

/// An integer as Ansible's `Decimal` conversion accepts it (`3`, ` 3 `, `3.0`).
pub fn parse_int(v: &str) -> Option<i64> {
    let t = v.trim().replace('_', "");
    if let Ok(i) = t.parse::<i64>() {
        return Some(i);
    }
    let f: f64 = t.parse().ok()?;
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

/// Remove one pair of matching quotes around a value, as `unquote`.
pub fn unquote(v: &str) -> &str {
    let b = v.as_bytes();
    if b.len() > 1 && b[0] == b[b.len() - 1] && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 2] != b'\\' {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// `resolve_path`: `{{CWD}}`, `$VAR`/`${VAR}` and `~` expanded, made
/// absolute from `base`, normalized without following links.
pub fn resolve_path(p: &str, base: &Path, env: &BTreeMap<String, String>, home: Option<&Path>) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_default();
    let p = p.replace("{{CWD}}", &cwd.display().to_string());
    let p = expand_vars(&p, env);
    let p = match (p.as_str(), home) {
        ("~", Some(h)) => h.to_path_buf(),
        (s, Some(h)) if s.starts_with("~/") => h.join(&s[2..]),
        (s, _) => PathBuf::from(s),
    };
    normalize(&if p.is_absolute() { p } else { base.join(p) })
}

/// `os.path.expandvars`: `$NAME` and `${NAME}` of set variables; others kept.
fn expand_vars(s: &str, env: &BTreeMap<String, String>) -> String {
    let re = regex::Regex::new(r"\$(\w+|\{[^}]*\})").expect("regex");
    re.replace_all(s, |c: &regex::Captures| {
        let name = c[1].trim_start_matches('{').trim_end_matches('}');
        env.get(name).cloned().unwrap_or_else(|| c[0].to_string())
    })
    .into_owned()
}

/// `os.path.normpath` of an absolute path.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

/// `-v`'s first line, as ansible-playbook prints it.
pub fn using_line(file: Option<&Path>) -> String {
    match file {
        Some(f) => format!("Using {} as config file", f.display()),
        None => "No config file found; using defaults".to_string(),
    }
}

#[cfg(test)]
mod tests;
