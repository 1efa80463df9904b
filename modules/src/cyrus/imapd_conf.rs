//! `cyrus_imapd_conf`: keys of imapd.conf set or removed in place.
//!
//! A key is changed on its own line (every other byte stays), a duplicate
//! of it (fatal to Cyrus) is dropped, a new key is appended; an unchanged
//! value is never rewritten. The new file is checked with `cyr_info
//! conf-lint` (which lists unknown keys) before it replaces the old one,
//! atomically and with its owner and mode. Values of password-like keys
//! are masked in diffs.

use async_trait::async_trait;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use crate::args::{loose_bool, loose_opt_string, loose_string, scalar_to_string};
use crate::builtin::copy::DestArgs;
use crate::builtin::text_edit::{apply_edit, plan_edit, read_text, BackupKey, EditPlan, EditState};
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapdConfArgs {
    #[serde(default = "default_path", alias = "dest", deserialize_with = "loose_string")]
    pub path: String,
    #[serde(default, alias = "key", deserialize_with = "loose_opt_string")]
    pub name: Option<String>,
    #[serde(default)]
    pub value: Option<Value>,
    #[serde(default)]
    pub params: IndexMap<String, Value>,
    #[serde(default = "present", deserialize_with = "loose_string")]
    pub state: String,
    /// Check the result with `cyr_info conf-lint` first.
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    pub validate: bool,
}

fn default_path() -> String {
    "/etc/imapd.conf".into()
}
fn present() -> String {
    "present".into()
}
fn yes() -> bool {
    true
}

/// Keys whose values are secrets.
pub fn is_secret_key(key: &str) -> bool {
    key.ends_with("_password") || key.ends_with("_passwd") || key.contains("secret")
}

/// A value as Cyrus reads it: its switches are `yes`/`no` (case-sensitive:
/// `True` is rejected as a "non-switch value").
fn conf_value(v: &Value) -> Result<String, String> {
    match v {
        Value::Bool(b) => Ok(if *b { "yes".into() } else { "no".into() }),
        other => scalar_to_string(other),
    }
}

impl ImapdConfArgs {
    /// (key, wanted value or None to remove).
    pub fn wanted(&self) -> Result<Vec<(String, Option<String>)>, String> {
        let absent = self.state == "absent";
        let mut out = Vec::new();
        if let Some(n) = &self.name {
            let v = match (&self.value, absent) {
                (_, true) => None,
                (Some(v), false) => Some(conf_value(v)?),
                (None, false) => return Err(format!("value is required to set '{n}'")),
            };
            out.push((n.clone(), v));
        }
        for (k, v) in &self.params {
            // null: the key is removed (a setting that does not apply here).
            out.push((k.clone(), if absent || v.is_null() { None } else { Some(conf_value(v)?) }));
        }
        // Cyrus refuses to start with an empty value ("empty option value"):
        // refused here, so that check mode fails as the real run would.
        if let Some((k, _)) = out.iter().find(|(_, v)| v.as_deref().is_some_and(|v| v.trim().is_empty())) {
            return Err(format!("'{k}' has an empty value, which Cyrus refuses (imapd.conf); give null to remove the key"));
        }
        Ok(out)
    }
}

/// The key of a `key: value` line (not comments or blanks).
fn line_key(line: &str) -> Option<&str> {
    let t = line.trim_start();
    if t.starts_with('#') || t.is_empty() {
        return None;
    }
    t.split_once(':').map(|(k, _)| k.trim())
}

/// Apply the wanted keys to imapd.conf's text.
pub fn edit(text: &str, wanted: &[(String, Option<String>)]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for (key, value) in wanted {
        let mut seen = false;
        let mut out = Vec::with_capacity(lines.len());
        for line in lines {
            // Cyrus lowercases option names as it reads them: `xlist-Sent`
            // and `xlist-sent` are one option (twice is a fatal error).
            if !line_key(&line).is_some_and(|k| k.eq_ignore_ascii_case(key)) {
                out.push(line);
                continue;
            }
            // The first occurrence is kept (or changed); duplicates and
            // removed keys go.
            if let (Some(v), false) = (value, seen) {
                let current = line.split_once(':').map(|(_, c)| c.trim()).unwrap_or("");
                out.push(if current == v.trim() { line } else { format!("{key}: {v}") });
                seen = true;
            }
        }
        if let (Some(v), false) = (value, seen) {
            out.push(format!("{key}: {v}"));
        }
        lines = out;
    }
    let mut s = lines.join("\n");
    if !s.is_empty() {
        s.push('\n');
    }
    s
}

/// A text with the values of secret keys replaced.
pub fn mask(text: &str) -> String {
    text.lines()
        .map(|l| match line_key(l) {
            Some(k) if is_secret_key(k) => format!("{k}: ********\n"),
            _ => format!("{l}\n"),
        })
        .collect()
}

pub struct ImapdConfPlan(pub EditPlan);

impl Plan for ImapdConfPlan {
    fn changes_anything(&self) -> bool {
        self.0.changes_anything()
    }
    fn effects(&self) -> Vec<crate::planned::Effect> {
        self.0.effects()
    }
    fn diffs(&self) -> Vec<Diff> {
        self.0.diffs().into_iter().map(|d| Diff { before: mask(&d.before), after: mask(&d.after), ..d }).collect()
    }
}

/// (No `%s` but the candidate's: validate commands substitute every one.)
/// Rejects the candidate file when conf-lint names keys it does not name
/// for the current file (Debian's own imapd.conf already has one it
/// flags, `newsspool`); passes where Cyrus is not installed.
fn lint_command(path: &str) -> String {
    format!(
        "lint=/usr/lib/cyrus/bin/cyr_info; test ! -x $lint || {{ old=$(test -e {p} && $lint -C {p} conf-lint 2>&1); new=$($lint -C %s conf-lint 2>&1); \
         extra=$(echo \"$new\" | grep -vxF -e \"$old\" -e ''); [ -z \"$extra\" ] || {{ echo \"cyr_info conf-lint: unknown or bad keys: $extra\" >&2; exit 1; }}; }}",
        p = crate::host::quote(path)
    )
}

fn dest_args(a: &ImapdConfArgs) -> DestArgs {
    DestArgs { validate: a.validate.then(|| lint_command(&a.path)), follow: Some(true), force: true, ..Default::default() }
}

pub struct CyrusImapdConfModule;

#[async_trait]
impl Module for CyrusImapdConfModule {
    type Args = ImapdConfArgs;
    type State = EditState;
    type Plan = ImapdConfPlan;
    const NAME: &'static str = "cyrus_imapd_conf";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Set or remove keys of Cyrus's imapd.conf in place (never a duplicate key), checked with cyr_info conf-lint.",
            args: vec![
                ArgDoc { name: "path", ty: "path", required: false, default: Some("/etc/imapd.conf"), description: "The file." },
                ArgDoc { name: "name", ty: "string", required: false, default: None, description: "One key (with value)." },
                ArgDoc { name: "value", ty: "string", required: false, default: None, description: "Its value." },
                ArgDoc { name: "params", ty: "dict", required: false, default: None, description: "Several keys: key: value." },
                ArgDoc { name: "state", ty: "string", required: false, default: Some("present"), description: "present or absent." },
                ArgDoc { name: "validate", ty: "bool", required: false, default: Some("true"), description: "Reject the change if cyr_info conf-lint reports unknown keys." },
            ],
            example: "- cyrus_imapd_conf:\n    params:\n      admins: cyrus\n      virtdomains: userid\n      sasl_pwcheck_method: saslauthd\n  notify: restart cyrus",
        }
    }

    fn validate(a: &ImapdConfArgs) -> Result<(), String> {
        if !matches!(a.state.as_str(), "present" | "absent") {
            return Err(format!("value of state must be one of: present, absent, got: {}", a.state));
        }
        if a.name.is_none() && a.params.is_empty() {
            return Err("give name (and value) or params".into());
        }
        for (k, v) in a.wanted()? {
            if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(format!("'{k}' is not an imapd.conf key"));
            }
            if v.is_some_and(|v| v.contains('\n')) {
                return Err(format!("the value of '{k}' spans several lines"));
            }
        }
        Ok(())
    }

    fn secret_values(a: &ImapdConfArgs) -> Vec<String> {
        a.wanted().unwrap_or_default().into_iter().filter(|(k, _)| is_secret_key(k)).filter_map(|(_, v)| v).collect()
    }

    async fn probe(a: &ImapdConfArgs, ctx: &Context<'_>) -> Result<EditState, ModuleError> {
        let (st, old) = read_text(ctx.host, &a.path).await?;
        let new = edit(old.as_deref().unwrap_or(""), &a.wanted().map_err(ModuleError::failed)?);
        Ok(EditState::new(&a.path, st, old, new, "imapd.conf updated".into()))
    }

    fn plan(a: &ImapdConfArgs, s: &EditState) -> Result<ImapdConfPlan, ModuleError> {
        plan_edit(&dest_args(a), s, a.state == "absent", true, "file not present", String::new()).map(ImapdConfPlan)
    }

    async fn apply(a: &ImapdConfArgs, p: ImapdConfPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        apply_edit(&dest_args(a), p.0, ctx, BackupKey::Dest).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Debian 12's /etc/imapd.conf (cyrus-common 3.6.1), a few lines of it.
    const DEBIAN: &str = "# Debian defaults\nconfigdirectory: /var/lib/cyrus\n\n# admins: cyrus\nunixhierarchysep: no\nallowplaintext: yes\nsasl_pwcheck_method: auxprop\n#sasl_mech_list: PLAIN\n";

    fn w(pairs: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect()
    }

    #[test]
    fn keys_change_in_place_and_new_ones_are_appended() {
        let out =
            edit(DEBIAN, &w(&[("sasl_pwcheck_method", Some("saslauthd")), ("admins", Some("cyrus")), ("allowplaintext", Some("yes"))]));
        assert_eq!(out, "# Debian defaults\nconfigdirectory: /var/lib/cyrus\n\n# admins: cyrus\nunixhierarchysep: no\nallowplaintext: yes\nsasl_pwcheck_method: saslauthd\n#sasl_mech_list: PLAIN\nadmins: cyrus\n");
    }

    #[test]
    fn option_names_match_whatever_their_case_as_cyrus_reads_them() {
        let text = "xlist-sent: Sent\nAdmins: cyrus\n";
        assert_eq!(
            edit(text, &w(&[("xlist-Sent", Some("Sent")), ("admins", Some("cyrus root"))])),
            "xlist-sent: Sent\nadmins: cyrus root\n"
        );
    }

    #[test]
    fn unchanged_values_leave_the_text_as_it_is() {
        assert_eq!(edit(DEBIAN, &w(&[("unixhierarchysep", Some("no")), ("allowplaintext", Some(" yes"))])), DEBIAN);
    }

    #[test]
    fn duplicates_are_dropped_and_absent_removes_every_occurrence() {
        let dup = "a: 1\nb: 2\na: 3\n";
        assert_eq!(edit(dup, &w(&[("a", Some("1"))])), "a: 1\nb: 2\n");
        assert_eq!(edit(dup, &w(&[("a", None)])), "b: 2\n");
        assert_eq!(edit("", &w(&[("a", Some("1"))])), "a: 1\n");
    }

    #[test]
    fn booleans_are_written_as_cyrus_switches() {
        let a: ImapdConfArgs =
            crate::args::parse_args("cyrus_imapd_conf", &serde_json::json!({"params": {"allowplaintext": true, "virtdomains": "userid"}}))
                .unwrap();
        assert_eq!(a.wanted().unwrap(), w(&[("allowplaintext", Some("yes")), ("virtdomains", Some("userid"))]));
    }

    #[test]
    fn null_removes_a_key_and_an_empty_value_is_refused_as_cyrus_does() {
        let parse = |v: serde_json::Value| -> ImapdConfArgs { crate::args::parse_args("cyrus_imapd_conf", &v).unwrap() };
        let a = parse(serde_json::json!({"params": {"httpmodules": null, "admins": "cyrus"}}));
        assert_eq!(a.wanted().unwrap(), w(&[("httpmodules", None), ("admins", Some("cyrus"))]));
        let e = parse(serde_json::json!({"params": {"httpmodules": ""}})).wanted().unwrap_err();
        assert!(e.contains("'httpmodules' has an empty value"), "{e}");
    }

    #[test]
    fn password_values_are_masked_in_diffs() {
        assert_eq!(
            mask("admins: cyrus\nmupdate_password: hunter2\n# sync_password: x\n"),
            "admins: cyrus\nmupdate_password: ********\n# sync_password: x\n"
        );
    }
}
