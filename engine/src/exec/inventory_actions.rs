//! `group_by` and `add_host`: actions that change the run's inventory, as
//! ansible-core's actions and strategy do together. The result says what
//! was added (`add_group`/`parent_groups`, `add_host`) and `changed` says
//! whether the inventory changed; `changed_when`/`failed_when` judge it
//! afterwards, as Ansible's strategy does. `add_host` runs once per task,
//! not per host (Ansible's BYPASS_HOST_LOOP).

use mailplay_modules::args::{loose_list, loose_string, value_to_list};
use mailplay_modules::module::ModuleResult;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::playbook::ast::{Task, TaskKind};
use crate::playbook::keywords::short_name;

use super::result::Outcome;
use super::run::RunContext;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupByArgs {
    #[serde(deserialize_with = "loose_string")]
    key: String,
    #[serde(default = "all", deserialize_with = "loose_list")]
    parents: Vec<String>,
}

fn all() -> Vec<String> {
    vec!["all".into()]
}

/// `add_host`'s names for the host and its groups; every other key is a
/// variable of the new host (so no key is unknown).
#[derive(Debug, Deserialize)]
struct AddHostArgs {
    #[serde(default, alias = "hostname", alias = "host", deserialize_with = "mailplay_modules::args::loose_opt_string")]
    name: Option<String>,
    #[serde(default, alias = "groupname", alias = "group")]
    groups: Option<Value>,
    #[serde(flatten)]
    vars: Map<String, Value>,
}

/// `group_by` or `add_host`, when the task is one.
pub fn action_of(task: &Task) -> Option<&'static str> {
    match &task.kind {
        TaskKind::Module { module, .. } => match short_name(module) {
            "group_by" => Some("group_by"),
            "add_host" => Some("add_host"),
            _ => None,
        },
        _ => None,
    }
}

pub fn run(action: &str, args: &Value, ctx: &RunContext, host: &str) -> Outcome {
    match action {
        "group_by" => group_by(args, ctx, host),
        _ => add_host(args, ctx),
    }
}

fn group_by(args: &Value, ctx: &RunContext, host: &str) -> Outcome {
    let a: GroupByArgs = match serde_json::from_value(args.clone()) {
        Ok(a) => a,
        Err(e) if args.get("key").is_none() => return Outcome::failed(format!("the 'key' param is required when using group_by ({e})")),
        Err(e) => return Outcome::failed(format!("group_by: {e}")),
    };
    let group = a.key.replace(' ', "-");
    let parents: Vec<String> = a.parents.iter().map(|p| p.replace(' ', "-")).collect();
    match ctx.change_inventory(|inv| inv.add_dynamic_group(host, &group, &parents)) {
        Ok(changed) => outcome(changed, [("add_group", json!(group)), ("parent_groups", json!(parents))]),
        Err(e) => Outcome::failed(e),
    }
}

fn add_host(args: &Value, ctx: &RunContext) -> Outcome {
    let a: AddHostArgs = match serde_json::from_value(args.clone()) {
        Ok(a) => a,
        Err(e) => return Outcome::failed(format!("add_host: {e}")),
    };
    let Some(name) = a.name else { return Outcome::failed("name, host or hostname needs to be provided") };
    let groups = match a.groups.as_ref().map(value_to_list).transpose() {
        Ok(g) => g.unwrap_or_default(),
        Err(e) => return Outcome::failed(format!("Groups must be specified as a list: {e}")),
    };
    let mut groups_unique: Vec<String> = Vec::new();
    for g in groups {
        if !groups_unique.contains(&g) {
            groups_unique.push(g);
        }
    }
    let changed = ctx.change_inventory(|inv| inv.add_dynamic_host(&name, &groups_unique, &a.vars));
    outcome(changed, [("add_host", json!({"host_name": name, "groups": groups_unique, "host_vars": a.vars}))])
}

fn outcome<const N: usize>(changed: bool, data: [(&str, Value); N]) -> Outcome {
    let mut r = ModuleResult::changed(changed);
    // `changed` first, as Ansible's actions set it first.
    r.data.insert("changed".into(), Value::Bool(changed));
    for (k, v) in data {
        r.data.insert(k.to_string(), v);
    }
    Outcome::from_module(r)
}
