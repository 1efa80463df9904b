//! What the user sees: Ansible's default stream, diffs, PLAY RECAP, the
//! JSON document of `--output json`, and a progress line on a terminal.
//!
//! The executor calls a [`Reporter`] from many host tasks at once; each
//! implementation serialises its own printing.

mod diff;
mod guard;
mod json;
mod minimal;
pub(crate) mod py_repr;
mod recap;
mod tee;
mod text;

use std::path::Path;

use mailplay_modules::module::Diff;
use serde_json::Value;

pub use guard::{mask_str, mask_value, Guarded, NO_LOG_ITEM};
pub use json::JsonReporter;
pub use minimal::MinimalReporter;
pub use py_repr::{py_repr, py_str};
pub use recap::{HostStats, Stats};
pub use tee::Tee;
pub use text::TextReporter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostStatus {
    Ok,
    Changed,
    Failed,
    Skipped,
    Unreachable,
}

/// One host's result for one task (or one loop item).
#[derive(Debug, Clone)]
pub struct HostResult {
    pub host: String,
    pub delegated_to: Option<String>,
    pub status: HostStatus,
    /// Failed with `ignore_errors` (or unreachable with
    /// `ignore_unreachable`) → "...ignoring".
    pub ignored: bool,
    /// Failed inside a block with `rescue:`: the recap counts it as rescued.
    pub rescued: bool,
    /// Loop item label → "(item=...)".
    pub item_label: Option<String>,
    /// Ansible's result dictionary.
    pub result: Value,
    pub diffs: Vec<Diff>,
    /// Censor the result (`no_log: true`).
    pub no_log: bool,
    /// The closing line of a looped task, after its items.
    pub is_loop_summary: bool,
    /// Shown even without `-v` (`debug`, `assert` without `quiet`), as
    /// Ansible's `_ansible_verbose_always`.
    pub always_show: bool,
    /// The module's short name (`debug`, `command`, ...; empty for includes).
    pub action: String,
    /// Secret values of this task's module arguments: masked (with the
    /// run's secrets) by [`Guarded`] before any reporter sees the result.
    pub secrets: Vec<String>,
    /// A failure's summary as ansible-core 2.19 prints it under `[ERROR]:`
    /// before the `fatal:` line (`Task failed: Action failed: msg`, the
    /// task's origin and source lines); `None` for other results.
    pub error: Option<String>,
}

pub trait Reporter: Send + Sync {
    fn playbook_start(&self, path: &Path, check_mode: bool);
    fn play_start(&self, name: &str);
    fn task_start(&self, name: &str, is_handler: bool, running_hosts: &[String]);
    fn host_result(&self, r: &HostResult, verbosity: u8);
    /// `included: FILE for HOSTS`, with a looped include's item label.
    fn included(&self, file: &str, hosts: &[String], item: Option<&str>);
    /// The result of an include task itself (`include_tasks`,
    /// `include_role`) for one host: Ansible hands it to its callbacks as
    /// any task result. The default stream shows the `included:` lines
    /// instead; the ad-hoc stream shows it.
    fn include_result(&self, _r: &HostResult, _verbosity: u8) {}
    fn no_hosts_matched(&self);
    fn no_more_hosts(&self);
    fn warning(&self, msg: &str);
    /// `FAILED - RETRYING: ...` of an `until` loop: a plain line in the
    /// text stream (as Ansible's callback shows it), a warning elsewhere.
    fn retrying(&self, msg: &str) {
        self.warning(msg)
    }
    fn error(&self, msg: &str);
    /// A line Ansible's display prints only at some verbosity (`META:
    /// ending play`, at -vv); the caller checks the verbosity.
    fn display(&self, _msg: &str) {}
    fn recap(&self, stats: &Stats);
    /// The run was interrupted (Ctrl-C): no new task started.
    fn interrupted(&self) {}
    /// The end of the run, whatever ended it (success, failed hosts, an
    /// error before or during a play, an interruption): called exactly once.
    fn finish(&self);
}

/// The message Ansible shows instead of a `no_log` result.
pub const NO_LOG_MSG: &str = "the output has been hidden due to the fact that 'no_log: true' was specified for this result";

/// The result as the text stream shows it: internal keys removed,
/// censored for no_log.
pub fn shown_result(r: &HostResult) -> Value {
    if r.no_log {
        let mut c = guard::censored(&r.result, r.status);
        if let Value::Object(m) = &mut c {
            m.remove("failed");
            m.remove("skipped");
            m.remove("unreachable");
        }
        return c;
    }
    match &r.result {
        // Like Ansible's callback: internal keys, the diff (printed on its
        // own), the `failed` flag (the line already says FAILED!), a
        // module's `exception` (its traceback, shown only with -vvv) and its
        // `warnings` (printed as [WARNING] lines before it) are not shown.
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| {
                    !k.starts_with("_ansible")
                        && !matches!(k.as_str(), "diff" | "invocation" | "failed" | "exception" | "warnings" | "deprecations")
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A module's `warnings` (its result's list of strings), which Ansible's
/// callback prints as `[WARNING]:` lines and keeps in the registered result.
pub fn result_warnings(r: &HostResult) -> Vec<String> {
    if r.no_log {
        return Vec::new();
    }
    match r.result.get("warnings") {
        Some(Value::Array(ws)) => ws.iter().map(|w| w.as_str().map(str::to_string).unwrap_or_else(|| w.to_string())).collect(),
        _ => Vec::new(),
    }
}

/// JSON with keys sorted, as Ansible's callbacks print results.
pub fn sorted_json(v: &Value, indent: Option<usize>) -> String {
    fn sort(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut entries: Vec<(&String, &Value)> = m.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                Value::Object(entries.into_iter().map(|(k, v)| (k.clone(), sort(v))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    let v = sort(v);
    match indent {
        None => python_compact(&v),
        Some(n) => {
            let pad = " ".repeat(n);
            let fmt = serde_json::ser::PrettyFormatter::with_indent(pad.as_bytes());
            let mut out = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
            serde::Serialize::serialize(&v, &mut ser).expect("serialising a value cannot fail");
            String::from_utf8(out).expect("json is utf-8")
        }
    }
}

/// Python's `json.dumps` default separators: `", "` and `": "`.
fn python_compact(v: &Value) -> String {
    match v {
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter().map(|(k, v)| format!("{}: {}", Value::String(k.clone()), python_compact(v))).collect::<Vec<_>>().join(", ")
        ),
        Value::Array(a) => format!("[{}]", a.iter().map(python_compact).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

/// For the reporters' tests: a writer a test keeps a handle to, to read
/// back what a reporter wrote, and a plain host result.
#[cfg(test)]
pub(crate) mod test_buf {
    use std::sync::{Arc, Mutex};

    use super::{HostResult, HostStatus};

    pub fn result(host: &str, status: HostStatus, v: serde_json::Value) -> HostResult {
        HostResult {
            host: host.into(),
            delegated_to: None,
            status,
            ignored: false,
            rescued: false,
            item_label: None,
            result: v,
            diffs: vec![],
            no_log: false,
            is_loop_summary: false,
            always_show: false,
            action: String::new(),
            secrets: vec![],
            error: None,
        }
    }

    #[derive(Clone, Default)]
    pub struct Buf(pub Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
