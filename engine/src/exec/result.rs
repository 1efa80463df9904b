//! A task's result on one host: one typed [`Outcome`] that flows from the
//! module to every consumer (the text and JSON reporters, the recap,
//! `register`), so they cannot disagree.
//!
//! The status is a typed field set where the result is made and changed
//! only through `set_changed`/`set_failed`; it is never derived again from
//! a dictionary's keys. Diffs are kept once, loop items keep their own
//! outcomes. Ansible's result dictionary (what users `register`) is built
//! from the typed outcome by [`Outcome::registered`].

use mailplay_modules::module::{Diff, ModuleResult};
use serde_json::{Map, Value};

/// What ansible-core 2.19 registers as a failure's `exception` without -vvv.
pub const NO_TRACEBACK: &str = "(traceback unavailable)";

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
    /// Ansible's `changed` (a failed task may have changed something).
    pub changed: bool,
    /// The rest of the result dictionary: module data, `msg`, the loop
    /// variable of an item, ... Never the status keys (`changed`, `failed`,
    /// `skipped`, `unreachable`), `diff` or `results`: those come from the
    /// typed fields.
    pub data: Map<String, Value>,
    /// `--diff` before/after pairs (a loop's are in its items).
    pub diffs: Vec<Diff>,
    /// Facts to set (`set_fact`, `setup`, `include_vars`).
    pub facts: Map<String, Value>,
    /// A loop's items, each with its own outcome; `None` for a task without a loop.
    pub items: Option<Vec<Outcome>>,
    /// Shown even without `-v` (`debug`, `assert`).
    pub always_show: bool,
    /// Censored whatever the task's `no_log` (Ansible's `_ansible_no_log`
    /// set by the action: `include_vars` of a vault-encrypted file).
    pub censored: bool,
    /// The facts go to the fact cache too (`set_fact`'s `cacheable`).
    pub facts_cacheable: bool,
    /// `diff` is registered as a list even with one entry (copy).
    pub diff_as_list: bool,
}

impl Outcome {
    pub fn new(status: Status, data: Map<String, Value>) -> Self {
        Outcome {
            status,
            changed: status == Status::Changed,
            data,
            diffs: Vec::new(),
            facts: Map::new(),
            items: None,
            always_show: false,
            censored: false,
            facts_cacheable: false,
            diff_as_list: false,
        }
    }

    pub fn skipped(reason: &str) -> Self {
        let mut data = Map::new();
        data.insert("skip_reason".into(), Value::from(reason));
        data.insert("false_condition".into(), Value::Null);
        Outcome::new(Status::Skipped, data)
    }

    pub fn failed(msg: impl Into<String>) -> Self {
        let mut data = Map::new();
        data.insert("msg".into(), Value::String(msg.into()));
        Outcome::new(Status::Failed, data)
    }

    pub fn unreachable(msg: impl Into<String>) -> Self {
        let mut data = Map::new();
        data.insert("msg".into(), Value::String(msg.into()));
        Outcome::new(Status::Unreachable, data)
    }

    pub fn from_module(r: ModuleResult) -> Self {
        let status = if r.failed {
            Status::Failed
        } else if r.skipped {
            Status::Skipped
        } else if r.changed {
            Status::Changed
        } else {
            Status::Ok
        };
        let mut data = r.data;
        if let Some(msg) = r.msg {
            data.insert("msg".into(), Value::String(msg));
        }
        Outcome {
            status,
            changed: r.changed,
            data,
            diffs: r.diffs,
            facts: r.facts,
            items: None,
            always_show: r.always_show,
            censored: false,
            facts_cacheable: r.facts_cacheable,
            diff_as_list: r.diff_as_list,
        }
    }

    /// `changed_when`: sets `changed`; a success becomes ok or changed.
    pub fn set_changed(&mut self, changed: bool) {
        self.changed = changed;
        if matches!(self.status, Status::Ok | Status::Changed) {
            self.status = if changed { Status::Changed } else { Status::Ok };
        }
    }

    /// `failed_when` (and `until` running out): a failure, or no longer one.
    pub fn set_failed(&mut self, failed: bool) {
        if failed {
            if self.status == Status::Unreachable {
                return;
            }
            self.status = Status::Failed;
            self.data.entry("msg").or_insert_with(|| {
                Value::from("The task includes an option with an undefined variable or a failed_when condition was met")
            });
        } else if self.status == Status::Failed {
            self.status = if self.changed { Status::Changed } else { Status::Ok };
        }
    }

    pub fn is_failed(&self) -> bool {
        self.status == Status::Failed
    }
    pub fn is_changed(&self) -> bool {
        self.status == Status::Changed
    }

    /// Ansible's result dictionary, as `register:` stores it and the
    /// reporters show it: the data plus `changed`, the status flags,
    /// `ansible_facts`, `diff`, and a loop's `results`.
    pub fn registered(&self) -> Map<String, Value> {
        let mut m = self.data.clone();
        m.insert("changed".into(), Value::Bool(self.changed));
        // As Ansible registers them: a module that ran (or that check mode
        // skipped) says `failed: false`; a task skipped by `when` does not,
        // and a loop's summary says `skipped: false` instead.
        let module_ran = self.items.is_none() && !m.contains_key("skip_reason");
        match self.status {
            Status::Failed => {
                m.insert("failed".into(), Value::Bool(true));
                // ansible-core 2.19 normalizes every failure with an
                // exception (its traceback only with -vvv); a loop's own
                // result has none, its failed items do.
                if self.items.is_none() {
                    m.entry("exception").or_insert_with(|| Value::from(NO_TRACEBACK));
                }
            }
            Status::Skipped => {
                m.insert("skipped".into(), Value::Bool(true));
                if module_ran {
                    m.insert("failed".into(), Value::Bool(false));
                }
            }
            Status::Unreachable => {
                m.insert("unreachable".into(), Value::Bool(true));
            }
            // A result failed_when cleared may still say `failed: true`
            // (an until out of attempts, as Ansible registers it).
            Status::Ok | Status::Changed if module_ran => {
                m.entry("failed").or_insert(Value::Bool(false));
            }
            Status::Ok | Status::Changed => {
                m.insert("skipped".into(), Value::Bool(false));
            }
        }
        if !self.facts.is_empty() && self.items.is_none() {
            m.insert("ansible_facts".into(), Value::Object(self.facts.clone()));
        }
        if !self.diffs.is_empty() {
            let d: Vec<Value> = self
                .diffs
                .iter()
                .map(|d| match &d.data {
                    Some((before, after)) => serde_json::json!({"before": before, "after": after}),
                    None => serde_json::json!({"before": d.before, "after": d.after, "before_header": d.before_header, "after_header": d.after_header}),
                })
                .collect();
            m.insert("diff".into(), if d.len() == 1 && !self.diff_as_list { d[0].clone() } else { Value::Array(d) });
        }
        if let Some(items) = &self.items {
            m.insert("results".into(), Value::Array(items.iter().map(|o| Value::Object(o.registered())).collect()));
        }
        failed_before_failed_when(m)
    }
}

/// Ansible's result says `failed` before `failed_when` adds its result
/// (the order shows when a registered result is printed as a whole).
fn failed_before_failed_when(m: Map<String, Value>) -> Map<String, Value> {
    let index_of = |key: &str| m.keys().position(|k| k == key);
    let (Some(fw), Some(failed)) = (index_of("failed_when_result"), index_of("failed")) else { return m };
    if failed < fw {
        return m;
    }
    let mut out = Map::new();
    for (k, v) in &m {
        if k == "failed_when_result" {
            out.insert("failed".into(), m["failed"].clone());
        }
        if k != "failed" {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// Combine the items of a loop into the task's outcome, as Ansible does:
/// the task changed if any item did and failed if any item failed ("One or
/// more items failed"); it is skipped when every item was, or when there
/// were none. The items keep their own outcomes (and diffs).
pub fn aggregate_loop(items: Vec<Outcome>) -> Outcome {
    let changed = items.iter().any(|o| o.changed);
    let failed = items.iter().any(Outcome::is_failed);
    let unreachable = items.iter().any(|o| o.status == Status::Unreachable);
    let all_skipped = items.iter().all(|o| o.status == Status::Skipped);
    let facts_cacheable = items.iter().any(|o| o.facts_cacheable);
    let mut facts = Map::new();
    for o in &items {
        facts.extend(o.facts.clone());
    }
    let mut data = Map::new();
    let status = if unreachable {
        Status::Unreachable
    } else if failed {
        data.insert("msg".into(), Value::from("One or more items failed"));
        Status::Failed
    } else if items.is_empty() {
        data.insert("skipped_reason".into(), Value::from("No items in the list"));
        data.insert("msg".into(), Value::from("No items in the list"));
        Status::Skipped
    } else if all_skipped {
        data.insert("msg".into(), Value::from("All items skipped"));
        Status::Skipped
    } else {
        data.insert("msg".into(), Value::from("All items completed"));
        if changed {
            Status::Changed
        } else {
            Status::Ok
        }
    };
    let censored = items.iter().any(|i| i.censored);
    Outcome {
        status,
        changed,
        data,
        diffs: Vec::new(),
        facts,
        items: Some(items),
        always_show: false,
        censored,
        facts_cacheable,
        diff_as_list: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn module_result_becomes_ansible_dict() {
        let o = Outcome::from_module(ModuleResult::changed(true).with("rc", 0).with_msg("done"));
        assert_eq!(o.status, Status::Changed);
        assert_eq!(Value::Object(o.registered()), json!({"rc": 0, "changed": true, "msg": "done", "failed": false}));
        let mut skipped = ModuleResult::ok();
        skipped.skipped = true;
        let o = Outcome::from_module(skipped);
        assert_eq!(o.status, Status::Skipped);
        assert_eq!(Value::Object(o.registered()), json!({"changed": false, "skipped": true, "failed": false}));
    }

    #[test]
    fn loop_aggregates_changed_and_failed() {
        let ok = Outcome::from_module(ModuleResult::ok());
        let ch = Outcome::from_module(ModuleResult::changed(true).with_diffs(vec![Diff::new("/x", "a", "b")]));
        let agg = aggregate_loop(vec![ok.clone(), ch]);
        assert_eq!(agg.status, Status::Changed);
        assert!(agg.diffs.is_empty(), "diffs are kept once, in the items");
        let reg = agg.registered();
        assert_eq!(reg["results"].as_array().unwrap().len(), 2);
        assert_eq!(reg["results"][1]["diff"]["after"], json!("b"));
        assert_eq!(reg["changed"], json!(true));
        let agg = aggregate_loop(vec![ok, Outcome::failed("x")]);
        assert_eq!(agg.status, Status::Failed);
        assert_eq!(agg.registered()["msg"], json!("One or more items failed"));
        let empty = aggregate_loop(vec![]);
        assert_eq!(empty.status, Status::Skipped);
        assert_eq!(
            Value::Object(empty.registered()),
            json!({"skipped_reason": "No items in the list", "msg": "No items in the list", "changed": false, "skipped": true, "results": []})
        );
    }

    #[test]
    fn changed_when_and_failed_when_change_the_typed_status() {
        let mut o = Outcome::from_module(ModuleResult::changed(true));
        o.set_changed(false);
        assert_eq!(o.status, Status::Ok);
        o.set_failed(true);
        assert_eq!(o.status, Status::Failed);
        assert_eq!(o.registered()["failed"], json!(true));
        o.set_failed(false);
        assert_eq!(o.status, Status::Ok);
        let mut failed_but_changed = Outcome::from_module(ModuleResult { changed: true, failed: true, ..Default::default() });
        failed_but_changed.set_failed(false);
        assert_eq!(failed_but_changed.status, Status::Changed);
        let mut skipped = Outcome::skipped("x");
        skipped.set_changed(true);
        assert_eq!(skipped.status, Status::Skipped, "a skip stays a skip");
    }
}
