//! `postconf_service`: one master.cf service as structured fields.
//!
//! Probe: `postconf -M service/type` (one line, empty when absent). Plan:
//! compare field by field, `-o` options as a set (postconf does not keep
//! their order meaningful), the command after collapsing whitespace.
//! Apply: `postconf -M service/type='whole line'` (or `-MX` to remove) on
//! a scratch copy checked by `postfix check` first.

use async_trait::async_trait;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use super::apply::apply_checked;
use crate::args::{loose_bool, loose_opt_string, loose_string, scalar_to_string};
use crate::host::{quote, Command};
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};
use crate::planned::Effect;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceArgs {
    #[serde(alias = "name", deserialize_with = "loose_string")]
    pub service: String,
    #[serde(rename = "type", default = "unix", deserialize_with = "loose_string")]
    pub kind: String,
    #[serde(default)]
    pub private: Option<Value>,
    #[serde(default)]
    pub unpriv: Option<Value>,
    #[serde(default)]
    pub chroot: Option<Value>,
    #[serde(default)]
    pub wakeup: Option<Value>,
    #[serde(default)]
    pub maxproc: Option<Value>,
    /// The command and its arguments, e.g. `pipe flags=DRhu user=webkey argv=...`
    /// (whitespace, including line breaks, collapses as in master.cf).
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub command: Option<String>,
    /// `-o name=value` overrides.
    #[serde(default)]
    pub options: IndexMap<String, Value>,
    #[serde(default = "present", deserialize_with = "loose_string")]
    pub state: String,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub config_dir: Option<String>,
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    pub validate: bool,
}

fn unix() -> String {
    "unix".into()
}
fn present() -> String {
    "present".into()
}
fn yes() -> bool {
    true
}

/// A master.cf entry. Columns 3–7 keep their text (`-`, `y`, `n`, `60`, `1000?`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub service: String,
    pub kind: String,
    pub fields: [String; 5],
    pub command: String,
    pub options: Vec<(String, String)>,
}

impl Entry {
    /// The entry as one master.cf line (postconf -M's format).
    pub fn line(&self) -> String {
        let mut s = format!("{} {} {}", self.service, self.kind, self.fields.join(" "));
        s.push(' ');
        s.push_str(&self.command);
        for (k, v) in &self.options {
            if v.contains(char::is_whitespace) || v.is_empty() {
                s.push_str(&format!(" -o {{ {k} = {v} }}"));
            } else {
                s.push_str(&format!(" -o {k}={v}"));
            }
        }
        s
    }

    fn same_as(&self, other: &Entry) -> bool {
        let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut a = self.options.clone();
        let mut b = other.options.clone();
        a.sort();
        b.sort();
        self.fields == other.fields && norm(&self.command) == norm(&other.command) && a == b
    }
}

/// Parse one line of `postconf -M` (already joined).
pub fn parse_entry(line: &str) -> Option<Entry> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.len() < 8 {
        return None;
    }
    let fields = [words[2], words[3], words[4], words[5], words[6]].map(str::to_string);
    let mut command = Vec::new();
    let mut options = Vec::new();
    let mut i = 7;
    while i < words.len() {
        if words[i] == "-o" && i + 1 < words.len() {
            if words[i + 1].starts_with('{') {
                // -o { name = value with spaces } (postconf -M prints -o {name=value, more})
                let end = words[i + 1..].iter().position(|w| w.ends_with('}')).map(|p| p + i + 1).unwrap_or(words.len() - 1);
                let inner = words[i + 1..=end].join(" ");
                let inner = inner.trim_start_matches('{').trim_end_matches('}');
                if let Some((k, v)) = inner.split_once('=') {
                    options.push((k.trim().to_string(), v.trim().to_string()));
                }
                i = end + 1;
            } else {
                if let Some((k, v)) = words[i + 1].split_once('=') {
                    options.push((k.to_string(), v.to_string()));
                }
                i += 2;
            }
        } else {
            command.push(words[i]);
            i += 1;
        }
    }
    Some(Entry { service: words[0].into(), kind: words[1].into(), fields, command: command.join(" "), options })
}

fn field(v: &Option<Value>) -> Result<String, String> {
    match v {
        None | Some(Value::Null) => Ok("-".into()),
        Some(Value::Bool(b)) => Ok(if *b { "y".into() } else { "n".into() }),
        Some(other) => scalar_to_string(other),
    }
}

impl ServiceArgs {
    pub fn wanted(&self) -> Result<Entry, String> {
        let fields = [field(&self.private)?, field(&self.unpriv)?, field(&self.chroot)?, field(&self.wakeup)?, field(&self.maxproc)?];
        let options = self.options.iter().map(|(k, v)| Ok((k.clone(), scalar_to_string(v)?))).collect::<Result<Vec<_>, String>>()?;
        Ok(Entry {
            service: self.service.clone(),
            kind: self.kind.clone(),
            fields,
            command: self.command.as_deref().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" "),
            options,
        })
    }

    fn key(&self) -> String {
        format!("{}/{}", self.service, self.kind)
    }

    fn master_cf(&self) -> String {
        format!("{}/master.cf", self.config_dir.as_deref().unwrap_or("/etc/postfix"))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServicePlan {
    /// master.cf and the entry's `service/type` (check mode's overlay).
    pub file: String,
    pub key: String,
    pub before: Option<Entry>,
    /// None: remove the entry.
    pub after: Option<Entry>,
    pub changed: bool,
}

impl Plan for ServicePlan {
    fn changes_anything(&self) -> bool {
        self.changed
    }
    fn diffs(&self) -> Vec<Diff> {
        let show = |e: &Option<Entry>| e.as_ref().map(|e| format!("{}\n", e.line())).unwrap_or_default();
        vec![Diff::new("master.cf", show(&self.before), show(&self.after))]
    }
    fn effects(&self) -> Vec<Effect> {
        if !self.changed {
            return Vec::new();
        }
        vec![Effect::Setting { file: self.file.clone(), key: self.key.clone(), value: self.after.as_ref().map(Entry::line) }]
    }
}

pub fn plan(a: &ServiceArgs, current: Option<Entry>) -> Result<ServicePlan, String> {
    if a.state == "absent" {
        let changed = current.is_some();
        return Ok(ServicePlan { file: a.master_cf(), key: a.key(), before: current, after: None, changed });
    }
    let want = a.wanted()?;
    let changed = current.as_ref().is_none_or(|c| !c.same_as(&want));
    Ok(ServicePlan { file: a.master_cf(), key: a.key(), before: current, after: Some(want), changed })
}

fn commands(a: &ServiceArgs, p: &ServicePlan, dir_flag: &str) -> String {
    match &p.after {
        Some(e) => format!("postconf{dir_flag} -M {}", quote(&format!("{}={}", a.key(), e.line()))),
        None => format!("postconf{dir_flag} -MX {}", quote(&a.key())),
    }
}

pub struct PostconfServiceModule;

#[async_trait]
impl Module for PostconfServiceModule {
    type Args = ServiceArgs;
    type State = Option<Entry>;
    type Plan = ServicePlan;
    const NAME: &'static str = "postconf_service";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Add, change or remove a Postfix master.cf service, field by field.",
            args: vec![
                ArgDoc { name: "service", ty: "string", required: true, default: None, description: "Service name (submission, wks, ...)." },
                ArgDoc { name: "type", ty: "string", required: false, default: Some("unix"), description: "inet, unix, unix-dgram, fifo or pass." },
                ArgDoc { name: "private", ty: "string", required: false, default: Some("-"), description: "y, n or -." },
                ArgDoc { name: "unpriv", ty: "string", required: false, default: Some("-"), description: "y, n or -." },
                ArgDoc { name: "chroot", ty: "string", required: false, default: Some("-"), description: "y, n or -." },
                ArgDoc { name: "wakeup", ty: "string", required: false, default: Some("-"), description: "Wake-up time." },
                ArgDoc { name: "maxproc", ty: "string", required: false, default: Some("-"), description: "Process limit." },
                ArgDoc { name: "command", ty: "string", required: false, default: None, description: "Command and arguments." },
                ArgDoc { name: "options", ty: "dict", required: false, default: None, description: "-o overrides, name: value." },
                ArgDoc { name: "state", ty: "string", required: false, default: Some("present"), description: "present or absent." },
                ArgDoc { name: "config_dir", ty: "path", required: false, default: Some("/etc/postfix"), description: "postconf -c DIR." },
                ArgDoc { name: "validate", ty: "bool", required: false, default: Some("true"), description: "Check with `postfix check` before applying." },
            ],
            example: "- postconf_service:\n    service: submission\n    type: inet\n    private: n\n    chroot: y\n    command: smtpd\n    options:\n      syslog_name: postfix/submission\n      smtpd_tls_security_level: encrypt\n  notify: reload postfix",
        }
    }

    fn validate(a: &ServiceArgs) -> Result<(), String> {
        if !matches!(a.state.as_str(), "present" | "absent") {
            return Err(format!("value of state must be one of: present, absent, got: {}", a.state));
        }
        if !matches!(a.kind.as_str(), "inet" | "unix" | "unix-dgram" | "fifo" | "pass") {
            return Err(format!("type must be one of: inet, unix, unix-dgram, fifo, pass, got: {}", a.kind));
        }
        if a.state == "present" && a.command.as_deref().is_none_or(|c| c.trim().is_empty()) {
            return Err("command is required with state=present".into());
        }
        let w = a.wanted()?;
        for f in &w.fields {
            if f.is_empty() || f.contains(char::is_whitespace) {
                return Err(format!("'{f}' is not a master.cf field value"));
            }
        }
        Ok(())
    }

    async fn probe(a: &ServiceArgs, ctx: &Context<'_>) -> Result<Option<Entry>, ModuleError> {
        // postconf refuses to run without a main.cf (a fresh Debian install
        // has none): then read master.cf through a scratch directory.
        let script = format!(
            "d={}; if [ ! -e \"$d/main.cf\" ]; then t=$(mktemp -d); trap 'rm -rf \"$t\"' EXIT; cp \"$d/master.cf\" \"$t/\"; touch \"$t/main.cf\"; d=$t; fi; postconf -c \"$d\" -M {} 2>/dev/null",
            quote(a.config_dir.as_deref().unwrap_or("/etc/postfix")),
            quote(&a.key())
        );
        if let Some(planned) = ctx.rehearsal() {
            if let Some((_, entry)) = planned.settings(&a.master_cf()).into_iter().find(|(k, _)| *k == a.key()) {
                return Ok(entry.as_deref().and_then(parse_entry));
            }
        }
        let out = ctx.host.exec(&Command::shell(script)).await?;
        if !out.success() {
            // Postfix is only planned (check mode): its master.cf is still to come.
            if ctx.pending_provider(&["/usr/sbin/postconf"], &["postfix"]).is_some() {
                return Ok(None);
            }
            return Err(ModuleError::failed(format!("postconf -M failed: {}", out.stderr_str().trim())));
        }
        Ok(out.stdout_str().lines().next().and_then(parse_entry))
    }

    fn plan(a: &ServiceArgs, s: &Option<Entry>) -> Result<ServicePlan, ModuleError> {
        plan(a, s.clone()).map_err(ModuleError::failed)
    }

    async fn apply(a: &ServiceArgs, p: ServicePlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        if let Some(err) = apply_checked(ctx, a.config_dir.as_deref(), a.validate, |d| commands(a, &p, d)).await? {
            return Ok(ModuleResult::failed(err));
        }
        Ok(ModuleResult::changed(true).with("service", a.key()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    fn args(v: Value) -> ServiceArgs {
        let a: ServiceArgs = parse_args("postconf_service", &v).unwrap();
        PostconfServiceModule::validate(&a).unwrap();
        a
    }

    // Captured from `postconf -M` on Debian 12 (postfix 3.7).
    const RELAY: &str = "relay      unix  -       -       y       -       -       smtp -o syslog_name=postfix/$service_name";
    const WKS: &str = "wks        unix  -       n       n       -       -       pipe flags=DRhu user=webkey argv=/usr/bin/gpg-wks-server -v --receive --header X-Original-Delivered-To --from ${sender} --recipient ${original_recipient}";

    fn wks() -> ServiceArgs {
        args(json!({"service": "wks", "type": "unix", "private": "-", "unpriv": "n", "chroot": false,
            "command": "pipe flags=DRhu user=webkey argv=/usr/bin/gpg-wks-server -v --receive\n  --header X-Original-Delivered-To --from ${sender} --recipient ${original_recipient}".replace('\n', " ")}))
    }

    #[test]
    fn parses_entries_with_options() {
        let e = parse_entry(RELAY).unwrap();
        assert_eq!(e.command, "smtp");
        assert_eq!(e.options, vec![("syslog_name".to_string(), "postfix/$service_name".to_string())]);
        // postconf -M's own rendering of a value with spaces.
        let e = parse_entry("submission inet  n       -       y       -       -       smtpd -o {smtpd_client_restrictions=permit_sasl_authenticated, reject} -o smtpd_tls_security_level=encrypt").unwrap();
        assert_eq!(e.options[0], ("smtpd_client_restrictions".to_string(), "permit_sasl_authenticated, reject".to_string()));
        let e = parse_entry("submission inet n - y - - smtpd -o { smtpd_client_restrictions = permit_sasl_authenticated, reject } -o smtpd_tls_security_level=encrypt").unwrap();
        assert_eq!(e.options[0], ("smtpd_client_restrictions".to_string(), "permit_sasl_authenticated, reject".to_string()));
        assert_eq!(e.line(), "submission inet n - y - - smtpd -o { smtpd_client_restrictions = permit_sasl_authenticated, reject } -o smtpd_tls_security_level=encrypt");
    }

    #[test]
    fn the_tutorials_wks_pipe_is_added_once() {
        let p = plan(&wks(), None).unwrap();
        assert!(p.changes_anything());
        assert_eq!(commands(&wks(), &p, ""), format!("postconf -M 'wks/unix={}'", parse_entry(WKS).unwrap().line()));
        assert!(!plan(&wks(), parse_entry(WKS)).unwrap().changes_anything());
    }

    #[test]
    fn a_changed_option_or_field_is_planned_and_order_of_options_does_not_matter() {
        let cur = parse_entry("submission inet n - y - - smtpd -o syslog_name=postfix/submission -o smtpd_tls_security_level=encrypt");
        let same = args(json!({"service": "submission", "type": "inet", "private": "n", "chroot": "y", "command": "smtpd",
            "options": {"smtpd_tls_security_level": "encrypt", "syslog_name": "postfix/submission"}}));
        assert!(!plan(&same, cur.clone()).unwrap().changes_anything());
        let auth = args(json!({"service": "submission", "type": "inet", "private": "n", "chroot": "y", "command": "smtpd",
            "options": {"syslog_name": "postfix/submission", "smtpd_tls_security_level": "encrypt", "smtpd_sasl_auth_enable": "yes"}}));
        let p = plan(&auth, cur).unwrap();
        assert_eq!(p.diffs()[0].after, "submission inet n - y - - smtpd -o syslog_name=postfix/submission -o smtpd_tls_security_level=encrypt -o smtpd_sasl_auth_enable=yes\n");
    }

    #[test]
    fn absent_removes_an_existing_entry() {
        let a = args(json!({"service": "relay", "state": "absent"}));
        let p = plan(&a, parse_entry(RELAY)).unwrap();
        assert_eq!(commands(&a, &p, ""), "postconf -MX relay/unix");
        assert!(!plan(&a, None).unwrap().changes_anything());
    }

    #[test]
    fn bad_arguments() {
        let a: ServiceArgs = parse_args("postconf_service", &json!({"service": "x", "type": "tcp", "command": "smtpd"})).unwrap();
        assert!(PostconfServiceModule::validate(&a).is_err());
        let a: ServiceArgs = parse_args("postconf_service", &json!({"service": "x", "type": "unix"})).unwrap();
        assert!(PostconfServiceModule::validate(&a).unwrap_err().contains("command is required"));
    }
}
