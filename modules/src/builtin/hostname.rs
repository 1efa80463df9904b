//! `hostname`: the host's name, now and after a reboot. systemd's
//! hostnamectl where systemd is PID 1, else /etc/hostname (written
//! atomically) and the `hostname` command.

use async_trait::async_trait;
use serde::Deserialize;

use crate::args::loose_string;
use crate::host::{quote, Command, FileAttrs};
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};
use crate::planned::{Attrs, Effect, PathChange};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostnameArgs {
    #[serde(deserialize_with = "loose_string")]
    pub name: String,
    /// `systemd`, `debian`, or `auto` (systemd where it is PID 1).
    #[serde(rename = "use", default = "auto", deserialize_with = "loose_string")]
    pub strategy: String,
}

fn auto() -> String {
    "auto".into()
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostnameState {
    pub running: String,
    pub file: String,
    pub systemd: bool,
}

/// Probe output: `now:NAME`, `file:NAME`, `pid1:COMM`.
pub fn parse_state(out: &str) -> HostnameState {
    let get = |k: &str| out.lines().find_map(|l| l.strip_prefix(k)).unwrap_or("").trim().to_string();
    HostnameState { running: get("now:"), file: get("file:"), systemd: get("pid1:") == "systemd" }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HostnamePlan {
    pub change: bool,
    pub systemd: bool,
    pub before: String,
    pub after: String,
}

impl Plan for HostnamePlan {
    fn changes_anything(&self) -> bool {
        self.change
    }
    fn diffs(&self) -> Vec<Diff> {
        vec![Diff::new("hostname", format!("hostname = {}\n", self.before), format!("hostname = {}\n", self.after))]
    }
    fn effects(&self) -> Vec<Effect> {
        if !self.change {
            return Vec::new();
        }
        vec![
            Effect::Setting { file: PLANNED_KEY.into(), key: "name".into(), value: Some(self.after.clone()) },
            Effect::Path {
                path: "/etc/hostname".into(),
                change: PathChange::Write {
                    content: format!("{}\n", self.after).into_bytes(),
                    attrs: Attrs { mode: Some(0o644), ..Default::default() },
                },
            },
        ]
    }
}

/// Where check mode's overlay keeps a planned host name.
const PLANNED_KEY: &str = "(hostname)";

pub fn plan(a: &HostnameArgs, s: &HostnameState) -> HostnamePlan {
    let systemd = match a.strategy.as_str() {
        "systemd" => true,
        "debian" | "generic" => false,
        _ => s.systemd,
    };
    HostnamePlan { change: s.running != a.name || s.file != a.name, systemd, before: s.running.clone(), after: a.name.clone() }
}

pub struct HostnameModule;

#[async_trait]
impl Module for HostnameModule {
    type Args = HostnameArgs;
    type State = HostnameState;
    type Plan = HostnamePlan;
    const NAME: &'static str = "hostname";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Set the host name, now and in /etc/hostname.",
            args: vec![
                ArgDoc { name: "name", ty: "string", required: true, default: None, description: "The host name." },
                ArgDoc { name: "use", ty: "string", required: false, default: Some("auto"), description: "systemd, debian, or auto." },
            ],
            example: "- hostname:\n    name: mx1",
        }
    }

    fn validate(a: &HostnameArgs) -> Result<(), String> {
        if !matches!(a.strategy.as_str(), "auto" | "systemd" | "debian" | "generic") {
            return Err(format!("use must be auto, systemd or debian, got: {}", a.strategy));
        }
        let ok = !a.name.is_empty()
            && a.name.len() <= 253
            && a.name
                .split('.')
                .all(|l| !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') && !l.starts_with('-'));
        if !ok {
            return Err(format!("'{}' is not a valid host name", a.name));
        }
        Ok(())
    }

    async fn probe(_a: &HostnameArgs, ctx: &Context<'_>) -> Result<HostnameState, ModuleError> {
        let out = ctx.host.exec(&Command::shell("printf 'now:%s\\nfile:%s\\npid1:%s\\n' \"$(hostname)\" \"$(cat /etc/hostname 2>/dev/null)\" \"$(cat /proc/1/comm 2>/dev/null)\"")).await?;
        let mut s = parse_state(&out.stdout_str());
        let planned = ctx.rehearsal().and_then(|p| p.settings(PLANNED_KEY).into_iter().find(|(k, _)| k == "name")).and_then(|(_, v)| v);
        if let Some(name) = planned {
            (s.running, s.file) = (name.clone(), name);
        }
        Ok(s)
    }

    fn plan(a: &HostnameArgs, s: &HostnameState) -> Result<HostnamePlan, ModuleError> {
        Ok(plan(a, s))
    }

    async fn apply(a: &HostnameArgs, p: HostnamePlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        if p.systemd {
            let out = ctx.host.exec(&Command::argv(["hostnamectl", "set-hostname", &a.name])).await?;
            if !out.success() {
                return Ok(ModuleResult::failed(format!("hostnamectl failed: {}", out.stderr_str().trim())));
            }
        } else {
            ctx.host
                .write_file("/etc/hostname", format!("{}\n", a.name).as_bytes(), &FileAttrs { mode: Some(0o644), ..Default::default() })
                .await?;
            let out = ctx.host.exec(&Command::shell(format!("hostname {}", quote(&a.name)))).await?;
            if !out.success() {
                return Ok(ModuleResult::failed(format!("hostname failed: {}", out.stderr_str().trim())));
            }
        }
        Ok(ModuleResult::changed(true).with("name", a.name.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: serde_json::Value) -> HostnameArgs {
        crate::args::parse_args("hostname", &v).unwrap()
    }

    #[test]
    fn compares_running_and_stored_names() {
        let s = parse_state("now:mx1\nfile:mx1\npid1:systemd\n");
        assert!(!plan(&args(json!({"name": "mx1"})), &s).changes_anything());
        let p = plan(&args(json!({"name": "mx2"})), &s);
        assert!(p.change && p.systemd);
        let s = parse_state("now:mx2\nfile:old\npid1:sshd\n");
        let p = plan(&args(json!({"name": "mx2"})), &s);
        assert!(p.change && !p.systemd, "a stale /etc/hostname is a change");
        assert!(HostnameModule::validate(&args(json!({"name": "bad_name"}))).is_err());
    }
}
