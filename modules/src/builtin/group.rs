//! `group`: a local group present (with a gid, system or not) or absent.
//! Probe: `getent group`; apply: groupadd / groupmod / groupdel.

use async_trait::async_trait;
use serde::Deserialize;

use crate::args::{loose_bool, loose_string};
use crate::host::{quote, Command};
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};
use crate::planned::Effect;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupArgs {
    #[serde(deserialize_with = "loose_string")]
    pub name: String,
    #[serde(default)]
    pub gid: Option<u32>,
    #[serde(default, deserialize_with = "loose_bool")]
    pub system: bool,
    #[serde(default = "present", deserialize_with = "loose_string")]
    pub state: String,
}

fn present() -> String {
    "present".into()
}

/// `getent group` line → gid.
pub fn parse_gid(line: &str) -> Option<u32> {
    line.trim().split(':').nth(2).and_then(|g| g.parse().ok())
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupPlan {
    pub command: Option<Vec<String>>,
    /// The group after applying: (name, present, gid), when anything changes.
    pub effect: Option<(String, bool, Option<u32>)>,
    pub before: String,
    pub after: String,
}

impl Plan for GroupPlan {
    fn changes_anything(&self) -> bool {
        self.command.is_some()
    }
    fn diffs(&self) -> Vec<Diff> {
        vec![Diff::new("group", self.before.clone(), self.after.clone())]
    }
    fn effects(&self) -> Vec<Effect> {
        self.effect.iter().map(|(name, present, gid)| Effect::Group { name: name.clone(), present: *present, gid: *gid }).collect()
    }
}

/// The plan, with its effect on the group when it changes anything.
pub fn plan(a: &GroupArgs, gid: Option<u32>) -> GroupPlan {
    let mut p = plan_command(a, gid);
    if p.command.is_some() {
        p.effect = Some((a.name.clone(), a.state != "absent", a.gid.or(gid).filter(|g| *g != u32::MAX)));
    }
    p
}

fn plan_command(a: &GroupArgs, gid: Option<u32>) -> GroupPlan {
    let show = |g: Option<u32>| format!("group: {}{}\n", a.name, g.map(|g| format!(" (gid {g})")).unwrap_or_default());
    let none = GroupPlan { effect: None, command: None, before: String::new(), after: String::new() };
    let argv = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    match (a.state.as_str(), gid) {
        ("absent", None) => none,
        ("absent", Some(g)) => {
            GroupPlan { effect: None, command: argv(&["groupdel", &a.name]), before: show(Some(g)), after: String::new() }
        }
        (_, None) => {
            let mut c = vec!["groupadd".to_string()];
            if let Some(g) = a.gid {
                c.extend(["-g".into(), g.to_string()]);
            }
            if a.system {
                c.push("-r".into());
            }
            c.push(a.name.clone());
            GroupPlan { effect: None, command: Some(c), before: String::new(), after: show(a.gid) }
        }
        (_, Some(have)) => match a.gid {
            Some(want) if want != have => GroupPlan {
                effect: None,
                command: argv(&["groupmod", "-g", &want.to_string(), &a.name]),
                before: show(Some(have)),
                after: show(Some(want)),
            },
            _ => none,
        },
    }
}

pub struct GroupModule;

#[async_trait]
impl Module for GroupModule {
    type Args = GroupArgs;
    type State = Option<u32>;
    type Plan = GroupPlan;
    const NAME: &'static str = "group";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Add, change or remove a local group.",
            args: vec![
                ArgDoc { name: "name", ty: "string", required: true, default: None, description: "Group name." },
                ArgDoc { name: "gid", ty: "int", required: false, default: None, description: "Group id." },
                ArgDoc { name: "system", ty: "bool", required: false, default: Some("false"), description: "Create as a system group." },
                ArgDoc { name: "state", ty: "string", required: false, default: Some("present"), description: "present or absent." },
            ],
            example: "- group:\n    name: vmail\n    system: yes",
        }
    }

    fn validate(a: &GroupArgs) -> Result<(), String> {
        if !matches!(a.state.as_str(), "present" | "absent") {
            return Err(format!("value of state must be one of: present, absent, got: {}", a.state));
        }
        Ok(())
    }

    async fn probe(a: &GroupArgs, ctx: &Context<'_>) -> Result<Option<u32>, ModuleError> {
        let out = ctx.host.exec(&Command::shell(format!("getent group {} || true", quote(&a.name)))).await?;
        let gid = parse_gid(&out.stdout_str());
        Ok(match ctx.rehearsal() {
            Some(planned) => super::user_planned::group_with_planned(gid, planned, &a.name, a.gid, &|why| ctx.assume(why)),
            None => gid,
        })
    }

    fn plan(a: &GroupArgs, s: &Option<u32>) -> Result<GroupPlan, ModuleError> {
        Ok(plan(a, *s))
    }

    async fn apply(a: &GroupArgs, p: GroupPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let Some(argv) = p.command else { return Ok(ModuleResult::ok()) };
        let out = ctx.host.exec(&Command::argv(argv.clone())).await?;
        if !out.success() {
            return Ok(ModuleResult::failed(format!("{} failed: {}", argv[0], out.stderr_str().trim())));
        }
        let r = ModuleResult::changed(true).with("name", a.name.clone()).with("state", a.state.clone());
        if a.state == "absent" {
            return Ok(r);
        }
        // Ansible's module reports the group's gid and kind.
        let out = ctx.host.exec(&Command::shell(format!("getent group {} || true", quote(&a.name)))).await?;
        Ok(match parse_gid(&out.stdout_str()) {
            Some(gid) => r.with("gid", gid).with("system", a.system),
            None => r,
        })
    }

    fn unchanged_result(a: &GroupArgs, gid: &Option<u32>) -> ModuleResult {
        let r = ModuleResult::ok().with("name", a.name.clone()).with("state", a.state.clone());
        match gid {
            Some(g) if a.state == "present" => r.with("gid", *g).with("system", a.system),
            _ => r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: serde_json::Value) -> GroupArgs {
        crate::args::parse_args("group", &v).unwrap()
    }

    #[test]
    fn plans_from_getent() {
        // `getent group sasl` on Debian 12.
        let gid = parse_gid("sasl:x:45:cyrus\n");
        assert_eq!(gid, Some(45));
        assert!(!plan(&args(json!({"name": "sasl"})), gid).changes_anything());
        assert_eq!(plan(&args(json!({"name": "webkey", "system": true})), None).command.unwrap(), ["groupadd", "-r", "webkey"]);
        assert_eq!(plan(&args(json!({"name": "sasl", "gid": 46})), gid).command.unwrap(), ["groupmod", "-g", "46", "sasl"]);
        assert_eq!(plan(&args(json!({"name": "sasl", "state": "absent"})), gid).command.unwrap(), ["groupdel", "sasl"]);
        assert_eq!(parse_gid(""), None);
    }
}
