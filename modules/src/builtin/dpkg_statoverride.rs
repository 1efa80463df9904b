//! `dpkg_statoverride`: dpkg's record of a path's owner, group and mode
//! (which package upgrades respect), e.g. the tutorial's
//! `root sasl 710 /var/spool/postfix/var/run/saslauthd`. `--add` on an
//! existing override fails, so a change is `--remove` then `--add`.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use crate::args::{loose_bool, loose_opt_string, loose_string, scalar_to_string};
use crate::host::{quote, Command};
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};
use crate::planned::{Attrs, Effect, PathChange};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatOverrideArgs {
    #[serde(deserialize_with = "loose_string")]
    pub path: String,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub owner: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub group: Option<String>,
    /// Octal, e.g. "0710" or 710.
    #[serde(default)]
    pub mode: Option<Value>,
    #[serde(default = "present", deserialize_with = "loose_string")]
    pub state: String,
    /// Apply the override to the file now as well (`--update`).
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    pub update: bool,
}

fn present() -> String {
    "present".into()
}
fn yes() -> bool {
    true
}

/// An override as `dpkg-statoverride --list` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub owner: String,
    pub group: String,
    pub mode: u32,
}

impl Override {
    fn line(&self, path: &str) -> String {
        format!("{} {} {:o} {path}\n", self.owner, self.group, self.mode)
    }
}

pub fn parse_list(out: &str) -> Option<Override> {
    let f: Vec<&str> = out.split_whitespace().collect();
    if f.len() < 4 {
        return None;
    }
    Some(Override { owner: f[0].into(), group: f[1].into(), mode: u32::from_str_radix(f[2], 8).ok()? })
}

fn parse_mode(v: &Value) -> Result<u32, String> {
    let s = scalar_to_string(v)?;
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("mode must be octal like 0710, got {s}"))
}

impl StatOverrideArgs {
    fn wanted(&self) -> Result<Override, String> {
        match (&self.owner, &self.group, &self.mode) {
            (Some(o), Some(g), Some(m)) => Ok(Override { owner: o.clone(), group: g.clone(), mode: parse_mode(m)? }),
            _ => Err("owner, group and mode are required with state=present".into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatOverridePlan {
    pub path: String,
    /// `--update`: the path itself gets the owner, group and mode.
    pub update: bool,
    pub remove: bool,
    pub add: Option<Override>,
    pub before: String,
    pub after: String,
}

impl Plan for StatOverridePlan {
    fn changes_anything(&self) -> bool {
        self.remove || self.add.is_some()
    }
    fn diffs(&self) -> Vec<Diff> {
        vec![Diff::new("dpkg-statoverride", self.before.clone(), self.after.clone())]
    }
    /// The entry, and with `--update` the path's owner, group and mode
    /// where it exists (approximated: applied to whatever the path will be).
    fn effects(&self) -> Vec<Effect> {
        if !self.changes_anything() {
            return Vec::new();
        }
        let value = self.add.as_ref().map(|o| (o.owner.clone(), o.group.clone(), o.mode));
        let mut out = vec![Effect::StatOverride { path: self.path.clone(), value }];
        if let (Some(o), true) = (&self.add, self.update) {
            let attrs = Attrs { owner: Some(o.owner.clone()), group: Some(o.group.clone()), mode: Some(o.mode) };
            out.push(Effect::Path { path: self.path.clone(), change: PathChange::Attrs(attrs) });
        }
        out
    }
}

pub fn plan(a: &StatOverrideArgs, cur: Option<&Override>) -> Result<StatOverridePlan, String> {
    let before = cur.map(|c| c.line(&a.path)).unwrap_or_default();
    if a.state == "absent" {
        return Ok(StatOverridePlan {
            path: a.path.clone(),
            update: a.update,
            remove: cur.is_some(),
            add: None,
            after: String::new(),
            before,
        });
    }
    let want = a.wanted()?;
    if cur == Some(&want) {
        return Ok(StatOverridePlan {
            path: a.path.clone(),
            update: a.update,
            remove: false,
            add: None,
            before: String::new(),
            after: String::new(),
        });
    }
    Ok(StatOverridePlan {
        path: a.path.clone(),
        update: a.update,
        remove: cur.is_some(),
        after: want.line(&a.path),
        add: Some(want),
        before,
    })
}

pub struct DpkgStatOverrideModule;

#[async_trait]
impl Module for DpkgStatOverrideModule {
    type Args = StatOverrideArgs;
    type State = Option<Override>;
    type Plan = StatOverridePlan;
    const NAME: &'static str = "dpkg_statoverride";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Add, change or remove a dpkg-statoverride entry (owner, group, mode that package upgrades keep).",
            args: vec![
                ArgDoc { name: "path", ty: "path", required: true, default: None, description: "The path." },
                ArgDoc { name: "owner", ty: "string", required: false, default: None, description: "Owner (required with present)." },
                ArgDoc { name: "group", ty: "string", required: false, default: None, description: "Group (required with present)." },
                ArgDoc { name: "mode", ty: "string", required: false, default: None, description: "Octal mode, e.g. \"0710\"." },
                ArgDoc { name: "state", ty: "string", required: false, default: Some("present"), description: "present or absent." },
                ArgDoc {
                    name: "update",
                    ty: "bool",
                    required: false,
                    default: Some("true"),
                    description: "Also apply it to the path now.",
                },
            ],
            example:
                "- dpkg_statoverride:\n    path: /var/spool/postfix/var/run/saslauthd\n    owner: root\n    group: sasl\n    mode: \"0710\"",
        }
    }

    fn validate(a: &StatOverrideArgs) -> Result<(), String> {
        match a.state.as_str() {
            "present" => a.wanted().map(|_| ()),
            "absent" => Ok(()),
            other => Err(format!("value of state must be one of: present, absent, got: {other}")),
        }
    }

    async fn probe(a: &StatOverrideArgs, ctx: &Context<'_>) -> Result<Option<Override>, ModuleError> {
        // --list exits 1 when there is no override for the path.
        let out = ctx.host.exec(&Command::shell(format!("dpkg-statoverride --list {} || true", quote(&a.path)))).await?;
        let planned = ctx.rehearsal().and_then(|p| p.statoverride(&a.path));
        Ok(match planned {
            Some(v) => v.map(|(owner, group, mode)| Override { owner, group, mode }),
            None => parse_list(&out.stdout_str()),
        })
    }

    fn plan(a: &StatOverrideArgs, s: &Option<Override>) -> Result<StatOverridePlan, ModuleError> {
        plan(a, s.as_ref()).map_err(ModuleError::failed)
    }

    async fn apply(a: &StatOverrideArgs, p: StatOverridePlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let mut script = String::from("set -e; ");
        if p.remove {
            script.push_str(&format!("dpkg-statoverride --remove {}; ", quote(&a.path)));
        }
        if let Some(o) = &p.add {
            // --update needs the path to exist; without it the override is only recorded.
            let update = if a.update { format!("$(test -e {} && echo --update)", quote(&a.path)) } else { String::new() };
            script.push_str(&format!(
                "dpkg-statoverride {update} --add {} {} {:o} {}",
                quote(&o.owner),
                quote(&o.group),
                o.mode,
                quote(&a.path)
            ));
        }
        let out = ctx.host.exec(&Command::shell(script)).await?;
        if !out.success() {
            return Ok(ModuleResult::failed(format!("dpkg-statoverride failed: {}", out.stderr_str().trim())));
        }
        Ok(ModuleResult::changed(true).with("path", a.path.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> StatOverrideArgs {
        crate::args::parse_args("dpkg_statoverride", &v).unwrap()
    }

    #[test]
    fn the_tutorials_override() {
        // `dpkg-statoverride --list /var/spool/postfix/var/run/saslauthd` after the tutorial's --add.
        let cur = parse_list("root sasl 710 /var/spool/postfix/var/run/saslauthd\n");
        let a = args(json!({"path": "/var/spool/postfix/var/run/saslauthd", "owner": "root", "group": "sasl", "mode": "0710"}));
        assert!(!plan(&a, cur.as_ref()).unwrap().changes_anything());
        let p = plan(&a, None).unwrap();
        assert!(!p.remove && p.add.is_some());
        let a = args(json!({"path": "/var/spool/postfix/var/run/saslauthd", "owner": "root", "group": "sasl", "mode": 750}));
        let p = plan(&a, cur.as_ref()).unwrap();
        assert!(p.remove, "a change is remove + add");
        assert_eq!(p.after, "root sasl 750 /var/spool/postfix/var/run/saslauthd\n");
        assert!(plan(&args(json!({"path": "/x", "state": "absent"})), cur.as_ref()).unwrap().remove);
        assert_eq!(parse_list(""), None);
        assert!(DpkgStatOverrideModule::validate(&args(json!({"path": "/x", "owner": "root", "group": "sasl", "mode": "0789"}))).is_err());
    }
}
