//! The ad-hoc stream of `mailplay adhoc`: Ansible's `minimal` callback
//! (`host | CHANGED => {...}`, a command's `host | CHANGED | rc=0 >>` and
//! its output), or with `-o` its `oneline` callback, one line per result.
//! No play or task banners, no recap; warnings and errors of the run go
//! to stderr, as Ansible's display sends them (a task's error to stdout).

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;

use serde_json::Value;

use super::text::debug_view;
use super::{diff, py_str, result_warnings, shown_result, sorted_json, HostResult, HostStatus, Reporter, Stats};

/// The modules whose results Ansible shows as their output, not as JSON
/// (`C.MODULE_NO_JSON`).
const NO_JSON: &[&str] = &["command", "shell", "raw", "win_command", "win_shell"];

pub struct MinimalReporter {
    out: Mutex<Box<dyn Write + Send>>,
    err: Mutex<Box<dyn Write + Send>>,
    color: bool,
    one_line: bool,
}

impl MinimalReporter {
    /// To stdout and stderr; colour only on a terminal without NO_COLOR /
    /// ANSIBLE_NOCOLOR.
    pub fn stdout(one_line: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some() || std::env::var_os("ANSIBLE_NOCOLOR").is_some();
        let color = std::io::stdout().is_terminal() && !no_color;
        MinimalReporter::new(Box::new(std::io::stdout()), Box::new(std::io::stderr()), color, one_line)
    }

    pub fn new(out: Box<dyn Write + Send>, err: Box<dyn Write + Send>, color: bool, one_line: bool) -> Self {
        MinimalReporter { out: Mutex::new(out), err: Mutex::new(err), color, one_line }
    }

    fn write(&self, text: &str, color: &str) {
        self.emit(&self.out, text, color);
    }

    fn write_err(&self, text: &str, color: &str) {
        self.emit(&self.err, text, color);
    }

    /// As Ansible's display: a newline is added unless the text ends with one.
    fn emit(&self, to: &Mutex<Box<dyn Write + Send>>, text: &str, color: &str) {
        let mut to = to.lock().unwrap_or_else(|e| e.into_inner());
        let body = text.strip_suffix('\n').unwrap_or(text);
        let _ = if self.color { writeln!(to, "\x1b[{color}m{body}\x1b[0m") } else { writeln!(to, "{body}") };
        let _ = to.flush();
    }

    /// The JSON of a result, indented by 4; with `-o` on one line, as the
    /// oneline callback makes it: Python's JSON indented by 0 (or by 4 for
    /// a result always shown, or from -vvv) with the newlines removed.
    fn dump(&self, v: &Value, r: &HostResult, verbosity: u8) -> String {
        if !self.one_line {
            return sorted_json(v, Some(4));
        }
        let always = r.always_show || r.result.get("_ansible_verbose_always").is_some() || verbosity > 2;
        sorted_json(v, Some(if always { 4 } else { 0 })).replace('\n', "")
    }

    /// A command's result as its output (`_command_generic_msg`).
    fn command_msg(&self, host: &str, result: &Value, caption: &str) -> String {
        let field = |k: &str| result.get(k).map(py_str).unwrap_or_default();
        let rc = result.get("rc").map(py_str).unwrap_or_else(|| "-1".into());
        if self.one_line {
            let escape = |s: String| s.replace('\n', "\\n").replace('\r', "\\r");
            let stderr = field("stderr");
            if stderr.is_empty() {
                format!("{host} | {caption} | rc={rc} | (stdout) {}", escape(field("stdout")))
            } else {
                format!("{host} | {caption} | rc={rc} | (stdout) {} (stderr) {}", escape(field("stdout")), escape(stderr))
            }
        } else {
            format!("{host} | {caption} | rc={rc} >>\n{}{}{}\n", field("stdout"), field("stderr"), field("msg"))
        }
    }

    fn result(&self, r: &HostResult, verbosity: u8) {
        for w in result_warnings(r) {
            self.warning(&w);
        }
        // Ansible's minimal and oneline callbacks have no per-item
        // callbacks: a loop shows as its own result.
        if r.item_label.is_some() && !r.is_loop_summary {
            return;
        }
        if !self.one_line {
            for d in r.diffs.iter().filter(|_| !r.no_log) {
                let text = diff::render(d);
                if !text.is_empty() {
                    self.write(text.trim_end_matches('\n'), "0");
                }
            }
        }
        let host = &r.host;
        let shown = shown_result(r);
        let no_json = NO_JSON.contains(&r.action.as_str());
        match r.status {
            // The oneline callback shows a failure as JSON whatever the module.
            HostStatus::Failed if self.one_line => self.write(&format!("{host} | FAILED! => {}", self.dump(&shown, r, verbosity)), "0;31"),
            HostStatus::Failed => {
                // On stdout, as Ansible's callback shows a task's error
                // (`display_failed_stderr` is off).
                if let Some(e) = &r.error {
                    self.write(&format!("[ERROR]: {e}\n\n"), "0;31");
                }
                if no_json && r.result.get("module_stderr").is_none() {
                    self.write(&self.command_msg(host, &shown, "FAILED"), "0;31");
                } else {
                    self.write(&format!("{host} | FAILED! => {}", self.dump(&shown, r, verbosity)), "0;31");
                }
            }
            HostStatus::Ok | HostStatus::Changed => {
                let (state, color) = if r.result.get("changed").and_then(Value::as_bool).unwrap_or(false) {
                    ("CHANGED", "0;33")
                } else {
                    ("SUCCESS", "0;32")
                };
                if no_json && r.result.get("ansible_job_id").is_none() {
                    self.write(&self.command_msg(host, &shown, state), color);
                } else {
                    let body = if r.action == "debug" && !self.one_line { debug_view(&shown) } else { shown };
                    self.write(&format!("{host} | {state} => {}", self.dump(&body, r, verbosity)), color);
                }
            }
            HostStatus::Skipped => self.write(&format!("{host} | SKIPPED"), "0;36"),
            HostStatus::Unreachable if self.one_line => {
                let msg = shown.get("msg").map(py_str).unwrap_or_default();
                self.write(&format!("{host} | UNREACHABLE!: {msg}"), "1;31");
            }
            HostStatus::Unreachable => self.write(&format!("{host} | UNREACHABLE! => {}", self.dump(&shown, r, verbosity)), "1;31"),
        }
    }
}

impl Reporter for MinimalReporter {
    fn playbook_start(&self, _path: &Path, _check_mode: bool) {}
    fn play_start(&self, _name: &str) {}
    fn task_start(&self, _name: &str, _is_handler: bool, _running_hosts: &[String]) {}

    fn host_result(&self, r: &HostResult, verbosity: u8) {
        self.result(r, verbosity);
    }

    fn include_result(&self, r: &HostResult, verbosity: u8) {
        self.result(r, verbosity);
    }

    fn included(&self, _file: &str, _hosts: &[String], _item: Option<&str>) {}
    fn no_hosts_matched(&self) {}
    fn no_more_hosts(&self) {}

    fn warning(&self, msg: &str) {
        self.write_err(&format!("[WARNING]: {msg}"), "1;35");
    }

    /// Ansible's minimal callback shows no retries.
    fn retrying(&self, _msg: &str) {}

    fn error(&self, msg: &str) {
        self.write_err(&format!("ERROR! {msg}"), "0;31");
    }

    fn display(&self, msg: &str) {
        self.write(msg, "0");
    }

    fn recap(&self, _stats: &Stats) {}
    fn finish(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::output::test_buf::{result, Buf};

    fn text(b: &Buf) -> String {
        String::from_utf8(b.0.lock().unwrap().clone()).unwrap()
    }

    /// Expected texts captured from `ansible localhost -m ...` 2.19.
    #[test]
    fn like_ansible_minimal_callback() {
        let (out, err) = (Buf::default(), Buf::default());
        let r = MinimalReporter::new(Box::new(out.clone()), Box::new(err.clone()), false, false);
        let mut cmd = result("localhost", HostStatus::Changed, json!({"changed": true, "rc": 0, "stdout": "hi", "stderr": "", "msg": ""}));
        cmd.action = "command".into();
        r.host_result(&cmd, 0);
        let mut dbg = result("localhost", HostStatus::Ok, json!({"changed": false, "msg": "In role1"}));
        dbg.action = "debug".into();
        r.host_result(&dbg, 0);
        r.include_result(&result("localhost", HostStatus::Ok, json!({"changed": false, "include_args": {"name": "role1"}})), 0);
        let mut fail = result(
            "localhost",
            HostStatus::Failed,
            json!({"changed": true, "rc": 1, "stdout": "", "stderr": "", "msg": "non-zero return code", "failed": true}),
        );
        fail.action = "command".into();
        fail.error = Some("Task failed: Module failed: non-zero return code".into());
        r.host_result(&fail, 0);
        let file = result("h", HostStatus::Failed, json!({"changed": false, "failed": true, "msg": "absent", "path": "/x"}));
        r.host_result(&file, 0);
        r.host_result(&result("h", HostStatus::Skipped, json!({"skipped": true})), 0);
        r.host_result(&result("h", HostStatus::Unreachable, json!({"unreachable": true, "msg": "no route", "changed": false})), 0);
        assert_eq!(
            text(&out),
            "localhost | CHANGED | rc=0 >>\nhi\n\
localhost | SUCCESS => {\n    \"msg\": \"In role1\"\n}\n\
localhost | SUCCESS => {\n    \"changed\": false,\n    \"include_args\": {\n        \"name\": \"role1\"\n    }\n}\n\
[ERROR]: Task failed: Module failed: non-zero return code\n\n\
localhost | FAILED | rc=1 >>\nnon-zero return code\n\
h | FAILED! => {\n    \"changed\": false,\n    \"msg\": \"absent\",\n    \"path\": \"/x\"\n}\n\
h | SKIPPED\n\
h | UNREACHABLE! => {\n    \"changed\": false,\n    \"msg\": \"no route\",\n    \"unreachable\": true\n}\n"
        );
        assert_eq!(text(&err), "");
    }

    #[test]
    fn one_line() {
        let (out, err) = (Buf::default(), Buf::default());
        let r = MinimalReporter::new(Box::new(out.clone()), Box::new(err.clone()), false, true);
        let mut cmd = result("localhost", HostStatus::Changed, json!({"changed": true, "rc": 0, "stdout": "a\nb", "stderr": ""}));
        cmd.action = "command".into();
        r.host_result(&cmd, 0);
        let mut dbg = result("localhost", HostStatus::Ok, json!({"changed": false, "msg": "x"}));
        dbg.action = "debug".into();
        dbg.always_show = true;
        r.host_result(&dbg, 0);
        r.include_result(&result("h", HostStatus::Ok, json!({"changed": false, "include_args": {"name": "r"}})), 0);
        let file = result("h", HostStatus::Failed, json!({"changed": false, "msg": "absent"}));
        r.host_result(&file, 0);
        let mut cmd = result("h", HostStatus::Failed, json!({"changed": true, "rc": 1, "msg": "non-zero return code"}));
        cmd.action = "command".into();
        r.host_result(&cmd, 0);
        assert_eq!(
            text(&out),
            "localhost | CHANGED | rc=0 | (stdout) a\\nb\n\
localhost | SUCCESS => {    \"changed\": false,    \"msg\": \"x\"}\n\
h | SUCCESS => {\"changed\": false,\"include_args\": {\"name\": \"r\"}}\n\
h | FAILED! => {\"changed\": false,\"msg\": \"absent\"}\n\
h | FAILED! => {\"changed\": true,\"msg\": \"non-zero return code\",\"rc\": 1}\n"
        );
    }
}
