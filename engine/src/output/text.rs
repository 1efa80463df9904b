//! Ansible's default callback: `PLAY [..] ***`, `TASK [..] ***`,
//! `ok:`/`changed:`/`skipping:`/`fatal:` lines, diffs, PLAY RECAP.
//! Colour and a progress spinner only on a terminal.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::{diff, result_warnings, shown_result, sorted_json, HostResult, HostStatus, Reporter, Stats};

const WIDTH: usize = 80;

struct Inner {
    out: Box<dyn Write + Send>,
    progress: Option<ProgressBar>,
    /// Hosts that have not reported the current task yet (for the spinner).
    waiting: Vec<String>,
    task: String,
    /// Warnings given so far: each is shown once per run, as Ansible's
    /// Display does (a module's warning on every host is one line).
    warned: std::collections::HashSet<String>,
}

pub struct TextReporter {
    inner: Mutex<Inner>,
    color: bool,
    tty: bool,
}

#[derive(Clone, Copy)]
enum Color {
    Green,
    Yellow,
    Red,
    Cyan,
    Magenta,
    BrightPurple,
    /// Ansible's COLOR_DEBUG.
    DarkGray,
}

impl Color {
    fn code(self) -> &'static str {
        match self {
            Color::Green => "0;32",
            Color::Yellow => "0;33",
            Color::Red => "0;31",
            Color::Cyan => "0;36",
            Color::Magenta => "0;35",
            Color::BrightPurple => "1;35",
            Color::DarkGray => "1;30",
        }
    }
}

impl TextReporter {
    /// Print to stdout; colour and progress only when it is a terminal and
    /// neither NO_COLOR nor ANSIBLE_NOCOLOR is set.
    pub fn stdout() -> Self {
        let tty = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some() || std::env::var_os("ANSIBLE_NOCOLOR").is_some();
        TextReporter::new(Box::new(std::io::stdout()), tty && !no_color, tty)
    }

    pub fn new(out: Box<dyn Write + Send>, color: bool, tty: bool) -> Self {
        TextReporter {
            inner: Mutex::new(Inner { out, progress: None, waiting: Vec::new(), task: String::new(), warned: Default::default() }),
            color,
            tty,
        }
    }

    fn paint(&self, s: &str, c: Color) -> String {
        if self.color {
            format!("\x1b[{}m{}\x1b[0m", c.code(), s)
        } else {
            s.to_string()
        }
    }

    fn write(&self, text: &str) {
        let mut inner = self.inner.lock().expect("reporter lock");
        let Inner { out, progress, .. } = &mut *inner;
        match progress {
            Some(pb) => pb.suspend(|| {
                let _ = writeln!(out, "{text}");
                let _ = out.flush();
            }),
            None => {
                let _ = writeln!(out, "{text}");
                let _ = out.flush();
            }
        }
    }

    fn banner(&self, msg: &str) {
        let stars = WIDTH.saturating_sub(msg.len() + 1).max(3);
        self.stop_progress();
        self.write(&format!("\n{msg} {}", "*".repeat(stars)));
    }

    fn stop_progress(&self) {
        if let Some(pb) = self.inner.lock().expect("reporter lock").progress.take() {
            pb.finish_and_clear();
        }
    }

    /// The spinner stops waiting for a host once its result is in.
    fn host_done(&self, r: &HostResult) {
        let mut inner = self.inner.lock().expect("reporter lock");
        if r.item_label.is_none() || r.is_loop_summary {
            inner.waiting.retain(|h| h != &r.host);
        }
        if let Some(pb) = &inner.progress {
            if inner.waiting.is_empty() {
                pb.finish_and_clear();
            } else {
                pb.set_message(format!("waiting for {}", inner.waiting.join(", ")));
            }
        }
    }

    fn host_label(r: &HostResult) -> String {
        match &r.delegated_to {
            Some(d) if d != &r.host => format!("[{} -> {}]", r.host, d),
            _ => format!("[{}]", r.host),
        }
    }
}

impl Reporter for TextReporter {
    fn playbook_start(&self, _path: &Path, _check_mode: bool) {}

    fn play_start(&self, name: &str) {
        self.banner(&format!("PLAY [{name}]"));
    }

    fn task_start(&self, name: &str, is_handler: bool, running_hosts: &[String]) {
        let kind = if is_handler { "RUNNING HANDLER" } else { "TASK" };
        self.banner(&format!("{kind} [{name}]"));
        if self.tty {
            let pb = ProgressBar::new_spinner();
            pb.set_style(ProgressStyle::with_template("{spinner} {elapsed} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
            pb.enable_steady_tick(Duration::from_millis(120));
            let mut inner = self.inner.lock().expect("reporter lock");
            inner.waiting = running_hosts.to_vec();
            inner.task = name.to_string();
            pb.set_message(format!("waiting for {}", inner.waiting.join(", ")));
            inner.progress = Some(pb);
        }
    }

    fn host_result(&self, r: &HostResult, verbosity: u8) {
        for w in result_warnings(r) {
            self.warning(&w);
        }
        for d in &r.diffs {
            if r.no_log {
                break;
            }
            let text = diff::render(d);
            if !text.is_empty() {
                self.write(text.trim_end_matches('\n'));
            }
        }
        if let Some(e) = r.error.as_ref().filter(|_| r.status == HostStatus::Failed) {
            self.write(&self.paint(&format!("[ERROR]: {e}\n"), Color::Red));
        }
        let host = Self::host_label(r);
        let shown = shown_result(r);
        let item = r.item_label.as_ref().map(|i| format!(" => (item={i})")).unwrap_or_default();
        let verbose_dump = verbosity > 0 || r.result.get("_ansible_verbose_always").is_some() || is_debug_output(r);
        let line = match r.status {
            // Like ansible-core 2.19: a failed loop's items were shown, its
            // own result only says "...ignoring" when ignored.
            HostStatus::Failed if r.is_loop_summary => {
                if r.ignored {
                    self.write(&self.paint("...ignoring", Color::Cyan));
                }
                self.host_done(r);
                return;
            }
            HostStatus::Failed | HostStatus::Unreachable if r.is_loop_summary || r.item_label.is_none() => {
                let what = if r.status == HostStatus::Unreachable { "UNREACHABLE!" } else { "FAILED!" };
                let shown = if r.is_loop_summary { loop_summary(&shown) } else { shown };
                self.paint(&format!("fatal: {host}: {what} => {}", sorted_json(&shown, None)), Color::Red)
            }
            HostStatus::Failed | HostStatus::Unreachable => self.paint(
                &format!("failed: {host} (item={}) => {}", r.item_label.clone().unwrap_or_default(), sorted_json(&shown, None)),
                Color::Red,
            ),
            // A loop whose items were all skipped, or that had none.
            HostStatus::Skipped if r.is_loop_summary => {
                let mut l = format!("skipping: {host}");
                if verbosity > 0 {
                    l.push_str(&format!(" => {}", sorted_json(&loop_summary(&shown), None)));
                }
                self.paint(&l, Color::Cyan)
            }
            HostStatus::Skipped => {
                // Ansible's callback ends a skipped item's line with a space.
                let space = if r.item_label.is_some() { " " } else { "" };
                let mut l = format!("skipping: {host}{item}{space}");
                if verbosity > 0 {
                    l.push_str(&format!(" => {}", sorted_json(&shown, Some(4))));
                }
                self.paint(&l, Color::Cyan)
            }
            HostStatus::Ok | HostStatus::Changed if r.is_loop_summary => {
                self.host_done(r);
                return;
            }
            HostStatus::Ok | HostStatus::Changed => {
                let (word, color) = if r.status == HostStatus::Changed { ("changed", Color::Yellow) } else { ("ok", Color::Green) };
                let mut l = format!("{word}: {host}{item}");
                if verbose_dump {
                    let body = if r.action == "debug" { debug_view(&shown) } else { shown };
                    l.push_str(&format!(" => {}", sorted_json(&body, Some(4))));
                }
                self.paint(&l, color)
            }
        };
        self.write(&line);
        if r.ignored {
            self.write(&self.paint("...ignoring", Color::Cyan));
        }
        self.host_done(r);
    }

    fn included(&self, file: &str, hosts: &[String], item: Option<&str>) {
        let item = item.map(|i| format!(" => (item={i})")).unwrap_or_default();
        self.write(&self.paint(&format!("included: {file} for {}{item}", hosts.join(", ")), Color::Cyan));
    }

    fn no_hosts_matched(&self) {
        self.write(&self.paint("skipping: no hosts matched", Color::Cyan));
    }

    fn no_more_hosts(&self) {
        self.banner("NO MORE HOSTS LEFT");
    }

    fn retrying(&self, msg: &str) {
        self.stop_progress();
        let line = self.paint(msg, Color::DarkGray);
        let mut inner = self.inner.lock().expect("reporter lock");
        let _ = writeln!(inner.out, "{line}");
        let _ = inner.out.flush();
    }

    fn warning(&self, msg: &str) {
        self.stop_progress();
        let mut inner = self.inner.lock().expect("reporter lock");
        if !inner.warned.insert(msg.to_string()) {
            return;
        }
        let _ =
            writeln!(inner.out, "{}", if self.color { format!("\x1b[1;35m[WARNING]: {msg}\x1b[0m") } else { format!("[WARNING]: {msg}") });
        let _ = inner.out.flush();
        let _ = Color::BrightPurple;
    }

    fn display(&self, msg: &str) {
        self.stop_progress();
        let mut inner = self.inner.lock().expect("reporter lock");
        let _ = writeln!(inner.out, "{msg}");
        let _ = inner.out.flush();
    }

    fn error(&self, msg: &str) {
        self.stop_progress();
        let text = self.paint(&format!("ERROR! {msg}"), Color::Red);
        eprintln!("{text}");
    }

    fn recap(&self, stats: &Stats) {
        self.banner("PLAY RECAP");
        for line in stats.recap_lines() {
            self.write(&line);
        }
        self.write("");
        let _ = Color::Magenta;
    }

    fn finish(&self) {
        self.stop_progress();
    }
}

/// `debug` results are always shown, as Ansible's debug action asks.
fn is_debug_output(r: &HostResult) -> bool {
    r.always_show
}

/// A debug result shows only its message/variable, never `changed` (as
/// Ansible's callback cleans debug results, at every verbosity): with
/// `msg` only the message (and warnings), else the variable without
/// `_hide_in_debug`'s keys (a loop item's `ansible_loop` ...).
pub(super) fn debug_view(v: &serde_json::Value) -> serde_json::Value {
    const HIDDEN: &[&str] =
        &["changed", "failed", "skipped", "invocation", "skip_reason", "ansible_loop_var", "ansible_index_var", "ansible_loop"];
    match v {
        serde_json::Value::Object(m) if m.contains_key("msg") => serde_json::Value::Object(
            m.iter()
                .filter(|(k, _)| matches!(k.as_str(), "msg" | "warnings" | "deprecations") || k.starts_with('_'))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        serde_json::Value::Object(m) => serde_json::Value::Object(
            m.iter().filter(|(k, _)| !HIDDEN.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect(),
        ),
        other => other.clone(),
    }
}

/// The closing line of a loop shows the message, not every item again.
fn loop_summary(v: &serde_json::Value) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    if let Some(obj) = v.as_object() {
        for k in ["changed", "msg"] {
            if let Some(x) = obj.get(k) {
                m.insert(k.to_string(), x.clone());
            }
        }
    }
    serde_json::Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::output::test_buf::{result, Buf};

    #[test]
    fn stream_looks_like_ansible_default_callback() {
        let buf = Buf::default();
        let r = TextReporter::new(Box::new(buf.clone()), false, false);
        r.play_start("all");
        r.task_start("command", false, &["localhost".into()]);
        let mut fail = result("localhost", HostStatus::Failed, json!({"changed": true, "rc": 1, "msg": "non-zero return code"}));
        fail.ignored = true;
        r.host_result(&fail, 0);
        r.task_start("command", false, &["localhost".into()]);
        let mut item = result("localhost", HostStatus::Changed, json!({"changed": true}));
        item.item_label = Some("1".into());
        r.host_result(&item, 0);
        r.task_start("debug", false, &["localhost".into()]);
        let mut debug = result("localhost", HostStatus::Ok, json!({"msg": "always", "changed": false}));
        debug.always_show = true;
        debug.action = "debug".into();
        r.host_result(&debug, 0);
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        // Captured from ansible-playbook 2.19 (same tasks).
        let expected = "\nPLAY [all] *********************************************************************\n\
\nTASK [command] *****************************************************************\n\
fatal: [localhost]: FAILED! => {\"changed\": true, \"msg\": \"non-zero return code\", \"rc\": 1}\n\
...ignoring\n\
\nTASK [command] *****************************************************************\n\
changed: [localhost] => (item=1)\n\
\nTASK [debug] *******************************************************************\n\
ok: [localhost] => {\n    \"msg\": \"always\"\n}\n";
        assert_eq!(out, expected);
    }

    /// Ansible's callback drops `changed` from debug results only, at every
    /// verbosity; assert shows it.
    #[test]
    fn debug_never_shows_changed_assert_does() {
        let buf = Buf::default();
        let r = TextReporter::new(Box::new(buf.clone()), false, false);
        let mut debug = result("h", HostStatus::Ok, json!({"msg": "m", "changed": false}));
        debug.always_show = true;
        debug.action = "debug".into();
        r.host_result(&debug, 1);
        let mut assert = result("h", HostStatus::Ok, json!({"msg": "All assertions passed", "changed": false}));
        assert.always_show = true;
        assert.action = "assert".into();
        r.host_result(&assert, 0);
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            out,
            "ok: [h] => {\n    \"msg\": \"m\"\n}\nok: [h] => {\n    \"changed\": false,\n    \"msg\": \"All assertions passed\"\n}\n"
        );
    }

    #[test]
    fn delegation_and_skips() {
        let buf = Buf::default();
        let r = TextReporter::new(Box::new(buf.clone()), false, false);
        let mut d = result("a", HostStatus::Changed, json!({"changed": true}));
        d.delegated_to = Some("b".into());
        r.host_result(&d, 0);
        r.host_result(&result("a", HostStatus::Skipped, json!({"skipped": true})), 0);
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(out, "changed: [a -> b]\nskipping: [a]\n");
    }
}
