//! `mailplay config dump`: the settings mailplay follows, in
//! `ansible-config dump`'s display format (`NAME(origin) = value`, sorted
//! by name; the origin is `default`, `env: VARIABLE` or the config file;
//! values as Python prints them). Only the settings mailplay reads are
//! listed: the rest of Ansible's changes nothing mailplay does.

use super::settings::{Support, Ty, SETTINGS};
use super::{parse_bool, parse_int, resolve_path, unquote, AnsibleConfig, Origin};
use crate::output::py_repr;
use serde_json::Value;

impl AnsibleConfig {
    /// The dump's lines; with `only_changed` only the settings whose value
    /// does not come from the default (and the config file's line, as
    /// ansible-config has it). An invalid value is an error, as Ansible
    /// refuses to start with one.
    pub fn dump(&self, only_changed: bool) -> Result<Vec<String>, String> {
        let mut entries: Vec<(String, String)> = Vec::new();
        let file = self.file.as_ref().map(|f| f.display().to_string()).unwrap_or_else(|| "None".into());
        entries.push(("CONFIG_FILE".into(), format!("CONFIG_FILE() = {file}")));
        for s in SETTINGS.iter().filter(|s| s.support == Support::Honoured) {
            let (raw, origin, base) = match self.raw_of(s) {
                Some((v, o)) => {
                    let base = self.base_dir(&o);
                    (Some(v), Some(o), base)
                }
                None => (s.default.map(str::to_string), None, self.cwd.clone()),
            };
            if only_changed && origin.is_none() {
                continue;
            }
            let label = match &origin {
                None => "default".to_string(),
                Some(Origin::Env(e)) => format!("env: {e}"),
                Some(Origin::File(..)) => file.clone(),
            };
            let value = match raw {
                None => "None".to_string(),
                Some(v) => self.typed(s.ty, &v, &base).ok_or_else(|| {
                    format!(
                        "Config '{}' from '{label}' has an invalid value: Invalid value provided for '{}': '{v}'",
                        s.name,
                        if s.ty == Ty::Int { "integer" } else { "float" }
                    )
                })?,
            };
            entries.push((s.name.to_string(), format!("{}({label}) = {value}", s.name)));
        }
        entries.sort();
        Ok(entries.into_iter().map(|(_, line)| line).collect())
    }

    /// A value converted as Ansible's `ensure_type` and shown as Python
    /// prints it; `None` for a number that does not convert.
    fn typed(&self, ty: Ty, v: &str, base: &std::path::Path) -> Option<String> {
        let home = self.home();
        let path = |p: &str| Value::String(resolve_path(p, base, &self.env, home.as_deref()).display().to_string());
        let items = |sep: char| v.split(sep).map(|x| unquote(x.trim()).to_string()).filter(|x| !x.is_empty()).collect::<Vec<_>>();
        Some(match ty {
            Ty::Bool => py_repr(&Value::Bool(parse_bool(v))),
            Ty::Int => parse_int(v)?.to_string(),
            Ty::Float => {
                let f: f64 = v.trim().parse().ok()?;
                if f.fract() == 0.0 && f.is_finite() {
                    format!("{f:.1}")
                } else {
                    f.to_string()
                }
            }
            Ty::Str => v.to_string(),
            Ty::List => py_repr(&Value::Array(items(',').into_iter().map(Value::String).collect())),
            Ty::Path => match path(v) {
                Value::String(s) => s,
                _ => unreachable!("a path is a string"),
            },
            Ty::PathSpec => py_repr(&Value::Array(items(':').iter().map(|p| path(p)).collect())),
            Ty::PathList => py_repr(&Value::Array(items(',').iter().map(|p| path(p)).collect())),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn config(env: &[(&str, &str)], cfg: Option<&str>) -> (tempfile::TempDir, AnsibleConfig) {
        let dir = tempfile::tempdir().unwrap();
        let mut e: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        e.insert("HOME".into(), dir.path().display().to_string());
        if let Some(text) = cfg {
            let f = dir.path().join("x.cfg");
            std::fs::write(&f, text).unwrap();
            e.insert("ANSIBLE_CONFIG".into(), f.display().to_string());
        }
        let c = AnsibleConfig::load_from(e, dir.path()).unwrap();
        (dir, c)
    }

    /// The lines ansible-config 2.19 prints for the same settings.
    #[test]
    fn only_changed_like_ansible_config() {
        let (dir, c) = config(
            &[("ANSIBLE_FORKS", "7"), ("ANSIBLE_ROLES_PATH", "/x:/y"), ("ANSIBLE_RUN_TAGS", "a, b"), ("ANSIBLE_HOST_KEY_CHECKING", "no")],
            Some("[defaults]\nnull_representation = null\nprivate_key_file = k\ngathering = explicit\n"),
        );
        let f = dir.path().join("x.cfg").display().to_string();
        let d = dir.path().display().to_string();
        assert_eq!(
            c.dump(true).unwrap(),
            [
                format!("CONFIG_FILE() = {f}"),
                "DEFAULT_FORKS(env: ANSIBLE_FORKS) = 7".into(),
                format!("DEFAULT_GATHERING({f}) = explicit"),
                format!("DEFAULT_PRIVATE_KEY_FILE({f}) = {d}/k"),
                "DEFAULT_ROLES_PATH(env: ANSIBLE_ROLES_PATH) = ['/x', '/y']".into(),
                "HOST_KEY_CHECKING(env: ANSIBLE_HOST_KEY_CHECKING) = False".into(),
                "TAGS_RUN(env: ANSIBLE_RUN_TAGS) = ['a', 'b']".into(),
            ]
        );
    }

    #[test]
    fn defaults_and_invalid_values() {
        let (dir, c) = config(&[], None);
        let all = c.dump(false).unwrap();
        let d = dir.path().display().to_string();
        for line in [
            "CONFIG_FILE() = None".to_string(),
            "DEFAULT_FORKS(default) = 5".into(),
            "DEFAULT_REMOTE_USER(default) = None".into(),
            "DEFAULT_HOST_LIST(default) = ['/etc/ansible/hosts']".into(),
            format!("DEFAULT_ROLES_PATH(default) = ['{d}/.ansible/roles', '/usr/share/ansible/roles', '/etc/ansible/roles']"),
            "DEFAULT_MODULE_NAME(default) = command".into(),
            "TAGS_RUN(default) = []".into(),
        ] {
            assert!(all.contains(&line), "{line} not in {all:#?}");
        }
        assert_eq!(c.dump(true).unwrap(), ["CONFIG_FILE() = None"]);
        let (_d, bad) = config(&[("ANSIBLE_FORKS", "x")], None);
        assert_eq!(
            bad.dump(true).unwrap_err(),
            "Config 'DEFAULT_FORKS' from 'env: ANSIBLE_FORKS' has an invalid value: Invalid value provided for 'integer': 'x'"
        );
    }
}
