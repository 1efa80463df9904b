//! The one place every reporter goes through: [`Guarded`] wraps the text
//! or JSON reporter and, before anything reaches it,
//! - censors a `no_log` result (status and Ansible's message only: no data,
//!   no diff, no loop item),
//! - masks secret values in everything shown: results, loop labels, diffs,
//!   error and warning messages, task and play names.
//!
//! The secrets are this run's (`mailplay_modules::secret::run_secrets`:
//! the become password, decrypted vault values) plus, for a task's result,
//! the secret arguments of that task's module (`HostResult::secrets`).
//! Every secret is masked whatever its length.

use std::path::Path;

use mailplay_modules::module::Diff;
use mailplay_modules::secret::{run_secrets, MASK};
use serde_json::{Map, Value};

use super::{HostResult, HostStatus, Reporter, Stats, NO_LOG_MSG};

/// How a loop item of a `no_log` task is labelled (ansible-core 2.19).
pub const NO_LOG_ITEM: &str = "(censored due to no_log)";

pub struct Guarded<R: Reporter> {
    inner: R,
}

impl<R: Reporter> Guarded<R> {
    pub fn new(inner: R) -> Self {
        Guarded { inner }
    }
}

/// The secrets to mask, longest first (so a secret that contains another
/// is masked whole).
fn secrets_with(extra: &[String]) -> Vec<String> {
    let mut all = run_secrets();
    for s in extra {
        if !s.is_empty() && !all.contains(s) {
            all.push(s.clone());
        }
    }
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    all
}

/// `s` with every occurrence of a secret replaced by the mask, in one pass
/// (a mask already written is never searched again).
pub fn mask_str(s: &str, secrets: &[String]) -> String {
    if secrets.is_empty() {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    'outer: while !rest.is_empty() {
        for secret in secrets {
            if !secret.is_empty() && rest.starts_with(secret.as_str()) {
                out.push_str(MASK);
                rest = &rest[secret.len()..];
                continue 'outer;
            }
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `v` with secrets masked in every string (keys included).
pub fn mask_value(v: &Value, secrets: &[String]) -> Value {
    if secrets.is_empty() {
        return v.clone();
    }
    match v {
        Value::String(s) => Value::String(mask_str(s, secrets)),
        Value::Array(a) => Value::Array(a.iter().map(|x| mask_value(x, secrets)).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (mask_str(k, secrets), mask_value(x, secrets))).collect()),
        other => other.clone(),
    }
}

fn mask_diff(d: &Diff, secrets: &[String]) -> Diff {
    Diff {
        before_header: mask_str(&d.before_header, secrets),
        after_header: mask_str(&d.after_header, secrets),
        before: mask_str(&d.before, secrets),
        after: mask_str(&d.after, secrets),
        data: d.data.as_ref().map(|(b, a)| (mask_value(b, secrets), mask_value(a, secrets))),
    }
}

/// What is left of a `no_log` result: its status and Ansible's message,
/// for a loop the same for each item.
pub fn censored(result: &Value, status: HostStatus) -> Value {
    let flag = |k: &str| result.get(k).and_then(Value::as_bool).unwrap_or(false);
    let mut m = Map::new();
    m.insert("censored".into(), Value::from(NO_LOG_MSG));
    m.insert("changed".into(), Value::Bool(flag("changed")));
    for (key, on) in [
        ("failed", status == HostStatus::Failed || flag("failed")),
        ("skipped", status == HostStatus::Skipped || flag("skipped")),
        ("unreachable", status == HostStatus::Unreachable || flag("unreachable")),
    ] {
        if on {
            m.insert(key.into(), Value::Bool(true));
        }
    }
    if let Some(items) = result.get("results").and_then(Value::as_array) {
        let items = items
            .iter()
            .map(|i| {
                let st = if i.get("failed").and_then(Value::as_bool).unwrap_or(false) {
                    HostStatus::Failed
                } else if i.get("skipped").and_then(Value::as_bool).unwrap_or(false) {
                    HostStatus::Skipped
                } else {
                    HostStatus::Ok
                };
                let mut c = censored(i, st);
                if let Value::Object(cm) = &mut c {
                    cm.remove("results");
                }
                c
            })
            .collect();
        m.insert("results".into(), Value::Array(items));
    }
    Value::Object(m)
}

/// A result as reporters may see it: censored for `no_log`, else with
/// every secret masked.
fn guarded(r: &HostResult) -> HostResult {
    let mut shown = r.clone();
    shown.secrets = Vec::new();
    if r.no_log {
        shown.error = None;
        shown.result = censored(&r.result, r.status);
        shown.diffs = Vec::new();
        shown.item_label = r.item_label.as_ref().map(|_| NO_LOG_ITEM.to_string());
    } else {
        let secrets = secrets_with(&r.secrets);
        shown.result = mask_value(&r.result, &secrets);
        shown.diffs = r.diffs.iter().map(|d| mask_diff(d, &secrets)).collect();
        shown.item_label = r.item_label.as_ref().map(|l| mask_str(l, &secrets));
        shown.error = r.error.as_ref().map(|e| mask_str(e, &secrets));
    }
    shown
}

impl<R: Reporter> Reporter for Guarded<R> {
    fn playbook_start(&self, path: &Path, check_mode: bool) {
        self.inner.playbook_start(path, check_mode);
    }

    fn play_start(&self, name: &str) {
        self.inner.play_start(&mask_str(name, &secrets_with(&[])));
    }

    fn task_start(&self, name: &str, is_handler: bool, running_hosts: &[String]) {
        self.inner.task_start(&mask_str(name, &secrets_with(&[])), is_handler, running_hosts);
    }

    fn host_result(&self, r: &HostResult, verbosity: u8) {
        self.inner.host_result(&guarded(r), verbosity);
    }

    fn include_result(&self, r: &HostResult, verbosity: u8) {
        self.inner.include_result(&guarded(r), verbosity);
    }

    fn included(&self, file: &str, hosts: &[String], item: Option<&str>) {
        let secrets = secrets_with(&[]);
        self.inner.included(&mask_str(file, &secrets), hosts, item.map(|i| mask_str(i, &secrets)).as_deref());
    }

    fn no_hosts_matched(&self) {
        self.inner.no_hosts_matched();
    }

    fn no_more_hosts(&self) {
        self.inner.no_more_hosts();
    }

    fn warning(&self, msg: &str) {
        self.inner.warning(&mask_str(msg, &secrets_with(&[])));
    }

    fn retrying(&self, msg: &str) {
        self.inner.retrying(&mask_str(msg, &secrets_with(&[])));
    }

    fn error(&self, msg: &str) {
        self.inner.error(&mask_str(msg, &secrets_with(&[])));
    }

    fn display(&self, msg: &str) {
        self.inner.display(&mask_str(msg, &secrets_with(&[])));
    }

    fn recap(&self, stats: &Stats) {
        self.inner.recap(stats);
    }

    fn interrupted(&self) {
        self.inner.interrupted();
    }

    fn finish(&self) {
        self.inner.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::output::test_buf::Buf;

    fn result(status: HostStatus, v: Value) -> HostResult {
        crate::output::test_buf::result("h", status, v)
    }
    impl Buf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn masking_is_one_pass_longest_first_and_any_length() {
        let s = vec!["ab".to_string(), "abc".to_string(), "*".to_string()];
        let mut sorted = s.clone();
        sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
        assert_eq!(mask_str("xabcx ab *", &sorted), "x********x ******** ********");
        assert_eq!(mask_value(&json!({"k-ab": ["ab"]}), &sorted), json!({"k-********": ["********"]}));
    }

    /// Run secrets (registered once for the whole run) and a task's module
    /// secrets, one and three characters long, never reach the text or
    /// JSON output: not in results, debug output, loop labels, diffs,
    /// messages of failed tasks, warnings or errors.
    #[test]
    fn run_and_task_secrets_are_masked_in_every_reporter() {
        mailplay_modules::secret::register_run_secret("§");
        mailplay_modules::secret::register_run_secret("Qx7-run-secret");
        let task_secrets = vec!["Ж".to_string(), "Zq9".to_string()];
        let events = |r: &dyn Reporter| {
            r.play_start("play");
            r.task_start("task", false, &["h".into()]);
            let mut debug = result(HostStatus::Ok, json!({"msg": "debug says § and Qx7-run-secret", "changed": false}));
            debug.always_show = true;
            r.host_result(&debug, 3);
            let mut item = result(HostStatus::Changed, json!({"changed": true, "item": {"pw": "Zq9"}, "stdout": "Ж"}));
            item.item_label = Some("{'pw': 'Zq9', 'other': 'Ж'}".into());
            item.secrets = task_secrets.clone();
            item.diffs = vec![Diff::new("/etc/Zq9", "old §\n", "new Qx7-run-secret Ж\n")];
            r.host_result(&item, 3);
            let mut failed = result(HostStatus::Failed, json!({"changed": false, "msg": "login with Zq9 refused (§)"}));
            failed.secrets = task_secrets.clone();
            r.host_result(&failed, 3);
            r.warning("retrying with § and Qx7-run-secret");
            r.error("error mentions Qx7-run-secret");
            r.recap(&Stats::default());
            r.finish();
        };
        let text_buf = Buf::default();
        events(&Guarded::new(super::super::TextReporter::new(Box::new(text_buf.clone()), false, false)));
        let json_buf = Buf::default();
        events(&Guarded::new(super::super::JsonReporter::new(Box::new(json_buf.clone()))));
        for out in [text_buf.text(), json_buf.text()] {
            for secret in ["§", "Qx7", "Ж", "Zq9"] {
                assert!(!out.contains(secret), "{secret} leaked:\n{out}");
            }
            assert!(out.contains("********"), "{out}");
        }
        assert!(text_buf.text().contains("+new ******** ********"), "{}", text_buf.text());
    }

    #[test]
    fn no_log_keeps_only_the_status_and_the_message() {
        let mut r = result(
            HostStatus::Failed,
            json!({"changed": true, "failed": true, "msg": "One or more items failed", "results": [
                {"changed": true, "failed": true, "item": "concealed-item", "stdout": "concealed-out"},
                {"changed": false, "skipped": true, "item": "concealed-2"}
            ]}),
        );
        r.no_log = true;
        r.is_loop_summary = true;
        r.diffs = vec![Diff::new("/x", "concealed-before", "concealed-after")];
        let json_buf = Buf::default();
        let j = Guarded::new(super::super::JsonReporter::new(Box::new(json_buf.clone())));
        j.play_start("p");
        j.task_start("t", false, &[]);
        j.host_result(&r, 4);
        let mut item = r.clone();
        item.is_loop_summary = false;
        item.item_label = Some("concealed-label".into());
        let text_buf = Buf::default();
        let t = Guarded::new(super::super::TextReporter::new(Box::new(text_buf.clone()), false, false));
        t.host_result(&item, 4);
        j.finish();
        let out = json_buf.text() + &text_buf.text();
        assert!(!out.contains("concealed"), "{out}");
        let doc: Value = serde_json::from_str(&json_buf.text()).unwrap();
        let h = &doc["plays"][0]["tasks"][0]["hosts"]["h"];
        assert_eq!(
            h,
            &json!({"censored": NO_LOG_MSG, "changed": true, "failed": true, "results": [
                {"censored": NO_LOG_MSG, "changed": true, "failed": true},
                {"censored": NO_LOG_MSG, "changed": false, "skipped": true}
            ]})
        );
        assert!(text_buf.text().contains("(item=(censored due to no_log))"), "{}", text_buf.text());
    }
}
