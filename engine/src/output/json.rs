//! `--output json`: one document at the end, shaped like Ansible's `json`
//! callback: plays → tasks → per-host results, then stats.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use serde_json::{json, Map, Value};

use super::{guard, HostResult, HostStats, Reporter, Stats};

#[derive(Default)]
struct Doc {
    plays: Vec<Value>,
    warnings: Vec<String>,
    errors: Vec<String>,
    stats: Map<String, Value>,
    interrupted: bool,
    /// The document is written once, whoever calls `finish` first (the end
    /// of the run, or a second Ctrl-C that ends it at once).
    written: bool,
}

pub struct JsonReporter {
    doc: Mutex<Doc>,
    out: Mutex<Box<dyn Write + Send>>,
    /// Say errors on stderr too: when the document is on stdout, nothing
    /// else tells the person watching why the run stopped.
    echo_errors: bool,
}

impl JsonReporter {
    pub fn stdout() -> Self {
        Self::new(Box::new(std::io::stdout()))
    }

    pub fn new(out: Box<dyn Write + Send>) -> Self {
        JsonReporter { doc: Mutex::new(Doc::default()), out: Mutex::new(out), echo_errors: true }
    }

    /// The document beside the text stream (`--json-file`), which already
    /// shows the errors.
    pub fn beside_text(out: Box<dyn Write + Send>) -> Self {
        JsonReporter { echo_errors: false, ..Self::new(out) }
    }

    fn with_task(&self, f: impl FnOnce(&mut Map<String, Value>)) {
        let mut doc = self.doc.lock().expect("json lock");
        if let Some(task) =
            doc.plays.last_mut().and_then(|p| p["tasks"].as_array_mut()).and_then(|t| t.last_mut()).and_then(Value::as_object_mut)
        {
            f(task);
        }
    }
}

impl Reporter for JsonReporter {
    fn playbook_start(&self, _path: &Path, _check_mode: bool) {}

    fn play_start(&self, name: &str) {
        self.doc.lock().expect("json lock").plays.push(json!({"play": {"name": name}, "tasks": []}));
    }

    fn task_start(&self, name: &str, is_handler: bool, _running: &[String]) {
        let mut doc = self.doc.lock().expect("json lock");
        if let Some(tasks) = doc.plays.last_mut().and_then(|p| p["tasks"].as_array_mut()) {
            tasks.push(json!({"task": {"name": name, "handler": is_handler}, "hosts": {}}));
        }
    }

    fn host_result(&self, r: &HostResult, _verbosity: u8) {
        if r.item_label.is_some() && !r.is_loop_summary {
            return; // items are inside the task's `results`
        }
        let mut shown = json_result(r);
        if let Value::Object(m) = &mut shown {
            if r.ignored {
                m.insert("ignored".into(), Value::Bool(true));
            }
            if r.rescued {
                m.insert("rescued".into(), Value::Bool(true));
            }
        }
        self.with_task(|t| {
            if let Some(hosts) = t["hosts"].as_object_mut() {
                hosts.insert(r.host.clone(), shown);
            }
        });
    }

    /// An include is a result of its own (the recap counts it as ok).
    fn included(&self, file: &str, hosts: &[String], _item: Option<&str>) {
        self.with_task(|t| {
            if let Some(m) = t["hosts"].as_object_mut() {
                for h in hosts {
                    m.insert(h.clone(), json!({"changed": false, "include": file}));
                }
            }
        });
    }
    fn no_hosts_matched(&self) {}
    fn no_more_hosts(&self) {}

    fn warning(&self, msg: &str) {
        self.doc.lock().expect("json lock").warnings.push(msg.to_string());
    }

    /// Kept in the document, and said on stderr too unless beside the text
    /// stream: stdout stays one JSON document, and a person watching still
    /// sees why the run stopped.
    fn error(&self, msg: &str) {
        if self.echo_errors {
            eprintln!("ERROR! {msg}");
        }
        self.doc.lock().expect("json lock").errors.push(msg.to_string());
    }

    /// Several playbooks in one run add up, as one ansible-playbook run does.
    fn recap(&self, stats: &Stats) {
        let mut doc = self.doc.lock().expect("json lock");
        for (h, s) in &stats.hosts {
            let mut total: HostStats = doc.stats.get(h).and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
            total.add(s);
            doc.stats.insert(h.clone(), serde_json::to_value(&total).expect("stats serialise"));
        }
    }

    fn interrupted(&self) {
        let mut doc = self.doc.lock().expect("json lock");
        doc.interrupted = true;
        doc.errors.push("User interrupted execution".into());
    }

    fn finish(&self) {
        let mut doc = self.doc.lock().expect("json lock");
        if std::mem::replace(&mut doc.written, true) {
            return;
        }
        let mut v = json!({"plays": doc.plays, "stats": doc.stats, "warnings": doc.warnings, "errors": doc.errors});
        if doc.interrupted {
            v["interrupted"] = Value::Bool(true);
        }
        let mut out = self.out.lock().expect("json out lock");
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&v).expect("json"));
        let _ = out.flush();
    }
}

/// A host's result in the document: Ansible's result dictionary (its
/// status flags, `diff` and a loop's `results` included), internal keys
/// left out; for `no_log` only the status and the censored message.
fn json_result(r: &HostResult) -> Value {
    if r.no_log {
        return guard::censored(&r.result, r.status);
    }
    match &r.result {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with("_ansible") && !k.starts_with("_mailplay"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::output::test_buf::Buf;

    #[test]
    fn the_document_is_written_once() {
        let buf = Buf::default();
        let r = JsonReporter::new(Box::new(buf.clone()));
        r.play_start("p");
        r.interrupted();
        r.finish();
        r.finish();
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let doc: Value = serde_json::from_str(&out).expect("exactly one document");
        assert_eq!(doc["interrupted"], true);
        assert_eq!(doc["plays"][0]["play"]["name"], "p");
    }
}
