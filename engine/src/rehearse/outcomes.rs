//! What a run did, read from its JSON document (`--json-file`, shaped like
//! Ansible's `json` callback: plays → tasks → hosts' results, then stats):
//! one typed outcome per host and task, keyed so that two runs of the same
//! playbook can be compared task by task.

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;

/// One host's run of one task. Task names repeat (a role's "restart" in two
/// places, the same name twice in a file), so the key carries how many
/// times the host met this play and task name before: repeated tasks are
/// compared in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskKey {
    pub host: String,
    pub play: String,
    pub task: String,
    pub occurrence: usize,
}

impl fmt::Display for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} | {} | {}", self.host, self.play, self.task)?;
        if self.occurrence > 0 {
            write!(f, " (#{})", self.occurrence + 1)?;
        }
        Ok(())
    }
}

/// The engine's own status of a host's task, read back from a document.
pub use crate::exec::result::Status;

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Changed => "changed",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
            Status::Unreachable => "unreachable",
        }
    }

    /// A result dictionary's status, by Ansible's flags. A failure that was
    /// ignored (`ignore_errors`) or rescued did not stop the host: it
    /// counts by its `changed` flag like any other result.
    fn of(result: &Value) -> Status {
        let flag = |k: &str| result.get(k).and_then(Value::as_bool).unwrap_or(false);
        if flag("unreachable") && !flag("ignored") {
            Status::Unreachable
        } else if flag("failed") && !flag("ignored") && !flag("rescued") {
            Status::Failed
        } else if flag("skipped") {
            Status::Skipped
        } else if flag("changed") {
            Status::Changed
        } else {
            Status::Ok
        }
    }
}

/// One host's outcome of one task, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOutcome {
    pub key: TaskKey,
    pub status: Status,
    /// The result's `msg`, for failures.
    pub msg: Option<String>,
}

/// Every host's outcome of every task of the document, in the order the
/// run met them.
pub fn outcomes(doc: &Value) -> Result<Vec<TaskOutcome>, String> {
    let plays = doc.get("plays").and_then(Value::as_array).ok_or("the JSON document has no `plays` list")?;
    let mut seen: HashMap<(String, String, String), usize> = HashMap::new();
    let mut out = Vec::new();
    for play in plays {
        let play_name = play.pointer("/play/name").and_then(Value::as_str).unwrap_or_default();
        for task in play.get("tasks").and_then(Value::as_array).into_iter().flatten() {
            let task_name = task.pointer("/task/name").and_then(Value::as_str).unwrap_or_default();
            let Some(hosts) = task.get("hosts").and_then(Value::as_object) else { continue };
            for (host, result) in hosts {
                let n = seen.entry((host.clone(), play_name.to_string(), task_name.to_string())).or_default();
                let key = TaskKey { host: host.clone(), play: play_name.to_string(), task: task_name.to_string(), occurrence: *n };
                *n += 1;
                let msg = result.get("msg").and_then(Value::as_str).map(str::to_string);
                out.push(TaskOutcome { key, status: Status::of(result), msg });
            }
        }
    }
    Ok(out)
}

/// The document's `errors` (what stopped a run outside any task).
pub fn errors(doc: &Value) -> Vec<String> {
    doc.get("errors").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
}

/// Hosts the recap counts as failed or unreachable.
pub fn hosts_down(doc: &Value) -> Vec<String> {
    let count = |s: &Value, k: &str| s.get(k).and_then(Value::as_u64).unwrap_or(0);
    doc.get("stats")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(_, s)| count(s, "failures") + count(s, "unreachable") > 0)
        .map(|(h, _)| h.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(name: &str) -> Value {
        let text = match name {
            "check" => include_str!("testdata/check.json"),
            "real_command" => include_str!("testdata/real_command.json"),
            _ => unreachable!(),
        };
        serde_json::from_str(text).unwrap()
    }

    fn find<'a>(all: &'a [TaskOutcome], host: &str, task: &str, occurrence: usize) -> &'a TaskOutcome {
        all.iter().find(|o| o.key.host == host && o.key.task == task && o.key.occurrence == occurrence).unwrap()
    }

    #[test]
    fn repeated_task_names_are_numbered_in_order_per_host() {
        let all = outcomes(&doc("check")).unwrap();
        assert_eq!(find(&all, "h1", "the greeting", 0).status, Status::Changed);
        assert_eq!(find(&all, "h1", "the greeting", 1).status, Status::Changed);
        assert!(!all.iter().any(|o| o.key.task == "the greeting" && o.key.occurrence > 1));
        assert_eq!(find(&all, "h1", "note the greeting", 0).key.play, "files");
        assert_eq!(find(&all, "h2", "the greeting", 1).key.to_string(), "h2 | files | the greeting (#2)");
    }

    #[test]
    fn statuses_come_from_the_result_flags() {
        let all = outcomes(&doc("real_command")).unwrap();
        assert_eq!(find(&all, "h1", "only on h2", 0).status, Status::Skipped);
        assert_eq!(find(&all, "h2", "only on h2", 0).status, Status::Ok);
        assert_eq!(find(&all, "h1", "a command the check cannot predict", 0).status, Status::Changed);
        let refused = find(&all, "h2", "refuse on h2", 0);
        assert_eq!((refused.status, refused.msg.as_deref()), (Status::Failed, Some("h2 refused")));
        assert_eq!(hosts_down(&doc("real_command")), vec!["h2".to_string()]);
        assert!(hosts_down(&doc("check")).is_empty());
        assert!(errors(&doc("check")).is_empty());
        assert!(outcomes(&serde_json::json!({"stats": {}})).is_err());
    }

    #[test]
    fn ignored_failures_and_unreachable_hosts() {
        let ignored = serde_json::json!({"failed": true, "ignored": true, "changed": false});
        assert_eq!(Status::of(&ignored), Status::Ok);
        assert_eq!(Status::of(&serde_json::json!({"unreachable": true, "changed": false})), Status::Unreachable);
    }
}
