//! `postconf`: set or remove main.cf parameters, one or many per task.
//!
//! Probe: one round trip reads the explicitly set parameters (`postconf -n`).
//! Plan: compare values after collapsing whitespace the way postconf shows
//! them, so an unchanged value is never rewritten (`postconf -e` rewrites
//! main.cf even when nothing changes). Apply: the changes are first made to
//! a scratch copy of the configuration and checked with `postfix check`;
//! only then is the real main.cf changed, in one `postconf` command.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::apply::apply_checked;
use crate::args::{loose_bool, loose_opt_string, scalar_to_string};
use crate::host::{quote, Command};
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};
use crate::planned::Effect;

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostconfArgs {
    /// One parameter (with `value`), or use `params`.
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub name: Option<String>,
    #[serde(default)]
    pub value: Option<Value>,
    /// Several parameters: `{name: value}`.
    #[serde(default)]
    pub params: Map<String, Value>,
    #[serde(default = "present", deserialize_with = "crate::args::loose_string")]
    pub state: String,
    /// `postconf -c DIR`.
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub config_dir: Option<String>,
    /// Run `postfix check` on the changed configuration before applying it.
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    pub validate: bool,
}

fn present() -> String {
    "present".into()
}

/// postconf's display form of a value: whitespace runs collapsed.
pub fn normalize(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `name = value` lines of `postconf -n` (continuation lines already joined).
pub fn parse_postconf_n(out: &str) -> Map<String, Value> {
    out.lines()
        .filter_map(|l| l.split_once(" = ").or_else(|| l.strip_suffix(" =").map(|n| (n, ""))))
        .map(|(k, v)| (k.trim().to_string(), Value::String(v.to_string())))
        .collect()
}

impl PostconfArgs {
    /// The wanted parameters, values as text (absent: value ignored).
    fn wanted(&self) -> Result<Vec<(String, Option<String>)>, String> {
        let mut out = Vec::new();
        if let Some(n) = &self.name {
            let v = match (&self.value, self.state.as_str()) {
                (Some(v), _) => Some(scalar_to_string(v)?),
                (None, "absent") => None,
                (None, _) => return Err(format!("value is required to set '{n}'")),
            };
            out.push((n.clone(), v));
        }
        for (k, v) in &self.params {
            out.push((k.clone(), if self.state == "absent" { None } else { Some(scalar_to_string(v)?) }));
        }
        Ok(out)
    }

    fn dir_flag(&self) -> String {
        self.config_dir.as_ref().map(|d| format!(" -c {}", quote(d))).unwrap_or_default()
    }

    fn main_cf(&self) -> String {
        format!("{}/main.cf", self.config_dir.as_deref().unwrap_or("/etc/postfix"))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub name: String,
    pub before: Option<String>,
    /// None = remove the parameter.
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PostconfPlan {
    pub changes: Vec<Change>,
    /// The main.cf changed (check mode's overlay keeps its parameters).
    pub main_cf: String,
}

impl Plan for PostconfPlan {
    fn changes_anything(&self) -> bool {
        !self.changes.is_empty()
    }
    fn diffs(&self) -> Vec<Diff> {
        let line = |n: &str, v: &Option<String>| v.as_ref().map(|v| format!("{n} = {v}\n")).unwrap_or_default();
        let before: String = self.changes.iter().map(|c| line(&c.name, &c.before)).collect();
        let after: String = self.changes.iter().map(|c| line(&c.name, &c.after)).collect();
        vec![Diff::new("main.cf", before, after)]
    }
    fn effects(&self) -> Vec<Effect> {
        self.changes.iter().map(|c| Effect::Setting { file: self.main_cf.clone(), key: c.name.clone(), value: c.after.clone() }).collect()
    }
}

/// main.cf's parameters as the run's earlier postconf plans left them.
fn with_planned(mut current: Map<String, Value>, planned: &crate::planned::PlannedState, main_cf: &str) -> Map<String, Value> {
    for (name, value) in planned.settings(main_cf) {
        match value {
            Some(v) => current.insert(name, Value::String(v)),
            None => current.remove(&name),
        };
    }
    current
}

pub fn plan(args: &PostconfArgs, current: &Map<String, Value>) -> Result<PostconfPlan, String> {
    let mut changes = Vec::new();
    for (name, want) in args.wanted()? {
        let have = current.get(&name).and_then(Value::as_str).map(str::to_string);
        match (&want, &have) {
            (None, None) => {}
            (Some(w), Some(h)) if normalize(w) == normalize(h) => {}
            _ => changes.push(Change { name, before: have, after: want.map(|w| normalize(&w)) }),
        }
    }
    Ok(PostconfPlan { changes, main_cf: args.main_cf() })
}

/// One postconf command line for the changes: sets with -e, removals with -X.
fn commands(plan: &PostconfPlan, dir_flag: &str) -> String {
    let sets: Vec<String> = plan.changes.iter().filter_map(|c| c.after.as_ref().map(|a| quote(&format!("{} = {}", c.name, a)))).collect();
    let removes: Vec<String> = plan.changes.iter().filter(|c| c.after.is_none()).map(|c| quote(&c.name)).collect();
    let mut s = String::new();
    if !sets.is_empty() {
        s.push_str(&format!("postconf{dir_flag} -e {} && ", sets.join(" ")));
    }
    if !removes.is_empty() {
        s.push_str(&format!("postconf{dir_flag} -X {} && ", removes.join(" ")));
    }
    s.push_str("true");
    s
}

pub struct PostconfModule;

#[async_trait]
impl Module for PostconfModule {
    type Args = PostconfArgs;
    type State = Map<String, Value>;
    type Plan = PostconfPlan;
    const NAME: &'static str = "postconf";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Set or remove Postfix main.cf parameters; unchanged values are never rewritten.",
            args: vec![
                ArgDoc {
                    name: "name",
                    ty: "string",
                    required: false,
                    default: None,
                    description: "One parameter to set (with value) or remove.",
                },
                ArgDoc { name: "value", ty: "string", required: false, default: None, description: "Its value." },
                ArgDoc { name: "params", ty: "dict", required: false, default: None, description: "Several parameters: name: value." },
                ArgDoc {
                    name: "state",
                    ty: "string",
                    required: false,
                    default: Some("present"),
                    description: "present or absent (postconf -X).",
                },
                ArgDoc { name: "config_dir", ty: "path", required: false, default: Some("/etc/postfix"), description: "postconf -c DIR." },
                ArgDoc {
                    name: "validate",
                    ty: "bool",
                    required: false,
                    default: Some("true"),
                    description: "Check the new configuration with `postfix check` before applying it.",
                },
            ],
            example:
                "- postconf:\n    params:\n      message_size_limit: 102428800\n      mydestination: localhost\n  notify: reload postfix",
        }
    }

    fn validate(a: &PostconfArgs) -> Result<(), String> {
        if a.state != "present" && a.state != "absent" {
            return Err(format!("value of state must be one of: present, absent, got: {}", a.state));
        }
        if a.name.is_none() && a.params.is_empty() {
            return Err("give name (and value) or params".into());
        }
        for (n, v) in a.wanted()? {
            if n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '/' || c == '.' || c == '-') {
                return Err(format!("'{n}' is not a postconf parameter name"));
            }
            if v.as_deref().is_some_and(|v| v.contains('\n')) {
                return Err(format!("the value of '{n}' spans several lines; postconf takes one line"));
            }
        }
        Ok(())
    }

    async fn probe(a: &PostconfArgs, ctx: &Context<'_>) -> Result<Map<String, Value>, ModuleError> {
        // A missing main.cf (Debian's "No configuration") has no parameters set.
        let script = format!("if [ -e {cf} ]; then postconf{d} -n; fi", cf = quote(&a.main_cf()), d = a.dir_flag());
        let out = ctx.host.exec(&Command::shell(script)).await?;
        if !out.success() {
            return Err(ModuleError::failed(format!("postconf -n failed: {}", out.stderr_str().trim())));
        }
        let current = parse_postconf_n(&out.stdout_str());
        Ok(match ctx.rehearsal() {
            Some(planned) => with_planned(current, planned, &a.main_cf()),
            None => current,
        })
    }

    fn plan(a: &PostconfArgs, current: &Map<String, Value>) -> Result<PostconfPlan, ModuleError> {
        plan(a, current).map_err(ModuleError::failed)
    }

    async fn apply(a: &PostconfArgs, p: PostconfPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        if let Some(err) = apply_checked(ctx, a.config_dir.as_deref(), a.validate, |dir_flag| commands(&p, dir_flag)).await? {
            return Ok(ModuleResult::failed(err));
        }
        let names: Vec<String> = p.changes.iter().map(|c| c.name.clone()).collect();
        Ok(ModuleResult::changed(true).with("changed_params", names))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    fn args(v: Value) -> PostconfArgs {
        parse_args("postconf", &v).unwrap()
    }

    // Captured from `postconf -n` on Debian 12.
    const CURRENT: &str = "alias_maps = hash:/etc/aliases\nmydestination = localhost\nsmtpd_tls_exclude_ciphers = aNULL, eNULL, EXPORT, DES\nmessage_size_limit = 102428800\n";

    #[test]
    fn planned_parameters_are_seen_by_later_postconf_tasks() {
        let set = args(json!({"params": {"myhostname": "mx.example", "relayhost": "[smtp.example]:587"}}));
        let first = plan(&set, &Map::new()).unwrap();
        let planned = crate::planned::PlannedState::new();
        planned.record(first.effects());
        let current = with_planned(Map::new(), &planned, "/etc/postfix/main.cf");
        assert!(!plan(&set, &current).unwrap().changes_anything());
        let drop = args(json!({"name": "relayhost", "state": "absent"}));
        planned.record(plan(&drop, &current).unwrap().effects());
        let current = with_planned(Map::new(), &planned, "/etc/postfix/main.cf");
        assert_eq!(current.keys().collect::<Vec<_>>(), ["myhostname"]);
        assert!(with_planned(Map::new(), &planned, "/srv/other/main.cf").is_empty(), "another configuration");
    }

    #[test]
    fn unchanged_values_are_left_alone_even_with_other_spacing() {
        let cur = parse_postconf_n(CURRENT);
        let p = plan(&args(json!({"params": {"mydestination": "localhost", "smtpd_tls_exclude_ciphers": "aNULL,  eNULL, EXPORT,\n DES", "message_size_limit": 102428800}})), &cur).unwrap();
        assert!(!p.changes_anything(), "{p:?}");
    }

    #[test]
    fn new_and_changed_values_are_planned_with_a_diff() {
        let cur = parse_postconf_n(CURRENT);
        let p = plan(&args(json!({"params": {"mydestination": "localhost, example.org", "recipient_delimiter": "+"}})), &cur).unwrap();
        assert_eq!(p.changes.len(), 2);
        let d = &p.diffs()[0];
        assert_eq!(d.before, "mydestination = localhost\n");
        assert_eq!(d.after, "mydestination = localhost, example.org\nrecipient_delimiter = +\n");
        assert_eq!(commands(&p, ""), "postconf -e 'mydestination = localhost, example.org' 'recipient_delimiter = +' && true");
    }

    #[test]
    fn absent_removes_only_what_is_set() {
        let cur = parse_postconf_n(CURRENT);
        let p = plan(&args(json!({"name": "alias_maps", "state": "absent"})), &cur).unwrap();
        assert_eq!(p.changes, vec![Change { name: "alias_maps".into(), before: Some("hash:/etc/aliases".into()), after: None }]);
        assert_eq!(commands(&p, ""), "postconf -X alias_maps && true");
        assert!(!plan(&args(json!({"name": "relayhost", "state": "absent"})), &cur).unwrap().changes_anything());
    }

    #[test]
    fn bad_arguments() {
        assert!(PostconfModule::validate(&args(json!({"name": "x"}))).is_err());
        assert!(PostconfModule::validate(&args(json!({"params": {"bad name": "1"}}))).is_err());
        assert!(PostconfModule::validate(&args(json!({"params": {"a": "1\n2"}}))).is_err());
        assert!(parse_args::<PostconfArgs>("postconf", &json!({"parms": {}})).is_err());
    }
}
