//! A task's result on one host, in Ansible's shape.
//!
//! Modules return a typed `ModuleResult`; users see (and `register`) a
//! dictionary: `changed`, `failed`, `msg`, `skipped`, module data, `results`
//! for loops. This file builds those dictionaries and the status the
//! reporter shows.

use mailplay_modules::module::{Diff, ModuleResult};
use serde_json::{Map, Value};

/// How a task ended on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Changed,
    Skipped,
    Failed,
    Unreachable,
}

/// One host's outcome of a task (or of one loop item).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    /// The dictionary `register:` stores.
    pub result: Map<String, Value>,
    pub diffs: Vec<Diff>,
    /// Facts to set (`set_fact`, `setup`).
    pub facts: Map<String, Value>,
}

impl Outcome {
    pub fn skipped(reason: &str) -> Self {
        let mut result = Map::new();
        result.insert("changed".into(), Value::Bool(false));
        result.insert("skipped".into(), Value::Bool(true));
        result.insert("skip_reason".into(), Value::from(reason));
        result.insert("false_condition".into(), Value::Null);
        Outcome { status: Status::Skipped, result, diffs: Vec::new(), facts: Map::new() }
    }

    pub fn failed(msg: impl Into<String>) -> Self {
        let mut result = Map::new();
        result.insert("changed".into(), Value::Bool(false));
        result.insert("failed".into(), Value::Bool(true));
        result.insert("msg".into(), Value::String(msg.into()));
        Outcome { status: Status::Failed, result, diffs: Vec::new(), facts: Map::new() }
    }

    pub fn unreachable(msg: impl Into<String>) -> Self {
        let mut result = Map::new();
        result.insert("changed".into(), Value::Bool(false));
        result.insert("unreachable".into(), Value::Bool(true));
        result.insert("msg".into(), Value::String(msg.into()));
        Outcome { status: Status::Unreachable, result, diffs: Vec::new(), facts: Map::new() }
    }

    pub fn from_module(r: ModuleResult) -> Self {
        let mut result = r.data;
        let skipped = result.get("skipped").and_then(Value::as_bool).unwrap_or(false);
        result.insert("changed".into(), Value::Bool(r.changed));
        if r.failed {
            result.insert("failed".into(), Value::Bool(true));
        }
        if let Some(msg) = r.msg {
            result.insert("msg".into(), Value::String(msg));
        }
        if !r.facts.is_empty() {
            result.insert("ansible_facts".into(), Value::Object(r.facts.clone()));
        }
        if !r.diffs.is_empty() {
            let d: Vec<Value> = r
                .diffs
                .iter()
                .map(|d| serde_json::json!({"before": d.before, "after": d.after, "before_header": d.before_header, "after_header": d.after_header}))
                .collect();
            result.insert("diff".into(), if d.len() == 1 { d[0].clone() } else { Value::Array(d) });
        }
        let status = if r.failed {
            Status::Failed
        } else if skipped {
            Status::Skipped
        } else if r.changed {
            Status::Changed
        } else {
            Status::Ok
        };
        Outcome { status, result, diffs: r.diffs, facts: r.facts }
    }

    /// Re-derive the status after `changed_when`/`failed_when` edited the dict.
    pub fn refresh_status(&mut self) {
        let flag = |k: &str| self.result.get(k).and_then(Value::as_bool).unwrap_or(false);
        self.status = if self.status == Status::Unreachable {
            Status::Unreachable
        } else if flag("failed") {
            Status::Failed
        } else if flag("skipped") {
            Status::Skipped
        } else if flag("changed") {
            Status::Changed
        } else {
            Status::Ok
        };
    }

    pub fn set_changed(&mut self, changed: bool) {
        self.result.insert("changed".into(), Value::Bool(changed));
        self.refresh_status();
    }

    pub fn set_failed(&mut self, failed: bool) {
        self.result.insert("failed".into(), Value::Bool(failed));
        if failed && !self.result.contains_key("msg") {
            self.result.insert(
                "msg".into(),
                Value::from("The task includes an option with an undefined variable or a failed_when condition was met"),
            );
        }
        self.refresh_status();
    }

    pub fn is_failed(&self) -> bool {
        self.status == Status::Failed
    }
    pub fn is_changed(&self) -> bool {
        self.status == Status::Changed
    }
}

/// Combine the items of a loop into the task's result, as Ansible does:
/// `results` holds each item's dict; the task changed if any item did and
/// failed if any item failed ("One or more items failed").
pub fn aggregate_loop(items: Vec<Outcome>) -> Outcome {
    let changed = items.iter().any(|o| o.is_changed() || o.result.get("changed").and_then(Value::as_bool).unwrap_or(false));
    let failed = items.iter().any(Outcome::is_failed);
    let unreachable = items.iter().any(|o| o.status == Status::Unreachable);
    let all_skipped = !items.is_empty() && items.iter().all(|o| o.status == Status::Skipped);
    let mut facts = Map::new();
    let mut diffs = Vec::new();
    for o in &items {
        facts.extend(o.facts.clone());
        diffs.extend(o.diffs.clone());
    }
    let mut result = Map::new();
    result.insert("changed".into(), Value::Bool(changed));
    result.insert("msg".into(), Value::from(if failed { "One or more items failed" } else { "All items completed" }));
    if failed {
        result.insert("failed".into(), Value::Bool(true));
    }
    if all_skipped {
        result.insert("skipped".into(), Value::Bool(true));
        result.insert("msg".into(), Value::from("All items skipped"));
    }
    if items.is_empty() {
        result.insert("skipped".into(), Value::Bool(true));
        result.insert("skipped_reason".into(), Value::from("No items in the list"));
        result.insert("msg".into(), Value::from("No items in the list"));
    }
    result.insert("results".into(), Value::Array(items.into_iter().map(|o| Value::Object(o.result)).collect()));
    let status = if unreachable {
        Status::Unreachable
    } else if failed {
        Status::Failed
    } else if result.get("skipped").is_some() {
        Status::Skipped
    } else if changed {
        Status::Changed
    } else {
        Status::Ok
    };
    Outcome { status, result, diffs, facts }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn module_result_becomes_ansible_dict() {
        let o = Outcome::from_module(ModuleResult::changed(true).with("rc", 0).with_msg("done"));
        assert_eq!(o.status, Status::Changed);
        assert_eq!(Value::Object(o.result), json!({"rc": 0, "changed": true, "msg": "done"}));
    }

    #[test]
    fn loop_aggregates_changed_and_failed() {
        let ok = Outcome::from_module(ModuleResult::ok());
        let ch = Outcome::from_module(ModuleResult::changed(true));
        let agg = aggregate_loop(vec![ok.clone(), ch]);
        assert_eq!(agg.status, Status::Changed);
        assert_eq!(agg.result["results"].as_array().unwrap().len(), 2);
        let agg = aggregate_loop(vec![ok, Outcome::failed("x")]);
        assert_eq!(agg.status, Status::Failed);
        assert_eq!(agg.result["msg"], json!("One or more items failed"));
        assert_eq!(aggregate_loop(vec![]).status, Status::Skipped);
    }

    #[test]
    fn changed_when_false_turns_changed_into_ok() {
        let mut o = Outcome::from_module(ModuleResult::changed(true));
        o.set_changed(false);
        assert_eq!(o.status, Status::Ok);
        o.set_failed(true);
        assert_eq!(o.status, Status::Failed);
    }
}
