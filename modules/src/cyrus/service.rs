//! `cyrus_service`: an entry of cyrus.conf's START, SERVICES, EVENTS or
//! DAEMON section added, changed (only the fields given) or removed, with
//! comments and layout kept (see `cyrus_conf.rs`). The result is parsed
//! again before it is written, atomically; an unchanged entry is never
//! rewritten.

use async_trait::async_trait;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use super::cyrus_conf::{parse, Change, Field};
use crate::args::{loose_bool, loose_string, scalar_to_string};
use crate::builtin::copy::DestArgs;
use crate::builtin::text_edit::{apply_edit, plan_edit, read_text, BackupKey, EditPlan, EditState};
use crate::module::{ArgDoc, Context, Module, ModuleDoc, ModuleError, ModuleResult};

/// The fields cyrus.conf(5) documents, in the order they are written.
const KNOWN_FIELDS: &[&str] = &["cmd", "listen", "proto", "prefork", "babysit", "maxchild", "maxforkrate", "maxfds", "period", "at"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CyrusServiceArgs {
    #[serde(default = "default_path", alias = "dest", deserialize_with = "loose_string")]
    pub path: String,
    #[serde(deserialize_with = "loose_string")]
    pub section: String,
    #[serde(deserialize_with = "loose_string")]
    pub name: String,
    #[serde(default)]
    pub cmd: Option<Value>,
    #[serde(default)]
    pub listen: Option<Value>,
    #[serde(default)]
    pub proto: Option<Value>,
    #[serde(default)]
    pub prefork: Option<Value>,
    #[serde(default)]
    pub babysit: Option<Value>,
    #[serde(default)]
    pub maxchild: Option<Value>,
    #[serde(default)]
    pub maxforkrate: Option<Value>,
    #[serde(default)]
    pub maxfds: Option<Value>,
    #[serde(default)]
    pub period: Option<Value>,
    #[serde(default)]
    pub at: Option<Value>,
    /// Any other key=value fields.
    #[serde(default)]
    pub fields: IndexMap<String, Value>,
    /// Drop fields of the existing entry that are not given.
    #[serde(default, deserialize_with = "loose_bool")]
    pub exclusive: bool,
    #[serde(default = "present", deserialize_with = "loose_string")]
    pub state: String,
}

fn default_path() -> String {
    "/etc/cyrus.conf".into()
}
fn present() -> String {
    "present".into()
}

impl CyrusServiceArgs {
    fn section(&self) -> String {
        self.section.to_ascii_uppercase()
    }

    pub fn wanted_fields(&self) -> Result<Vec<Field>, String> {
        let named = [
            &self.cmd,
            &self.listen,
            &self.proto,
            &self.prefork,
            &self.babysit,
            &self.maxchild,
            &self.maxforkrate,
            &self.maxfds,
            &self.period,
            &self.at,
        ];
        let mut out = Vec::new();
        for (key, v) in KNOWN_FIELDS.iter().zip(named) {
            if let Some(v) = v {
                out.push(Field { key: key.to_string(), value: field_value(v)? });
            }
        }
        for (k, v) in &self.fields {
            out.push(Field { key: k.clone(), value: field_value(v)? });
        }
        Ok(out)
    }

    fn change(&self) -> Result<Change, String> {
        Ok(if self.state == "absent" { Change::Remove } else { Change::Set { fields: self.wanted_fields()?, exclusive: self.exclusive } })
    }
}

fn field_value(v: &Value) -> Result<String, String> {
    match v {
        Value::Bool(b) => Ok(if *b { "1".into() } else { "0".into() }),
        other => scalar_to_string(other),
    }
}

fn dest_args() -> DestArgs {
    DestArgs { follow: Some(true), force: true, ..Default::default() }
}

pub struct CyrusServiceModule;

#[async_trait]
impl Module for CyrusServiceModule {
    type Args = CyrusServiceArgs;
    type State = EditState;
    type Plan = EditPlan;
    const NAME: &'static str = "cyrus_service";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Add, change or remove an entry of cyrus.conf (START, SERVICES, EVENTS, DAEMON), keeping comments and layout.",
            args: vec![
                ArgDoc { name: "path", ty: "path", required: false, default: Some("/etc/cyrus.conf"), description: "The file." },
                ArgDoc { name: "section", ty: "string", required: true, default: None, description: "START, SERVICES, EVENTS or DAEMON." },
                ArgDoc { name: "name", ty: "string", required: true, default: None, description: "Entry name (imap, lmtpunix, delprune, ...)." },
                ArgDoc { name: "cmd", ty: "string", required: false, default: None, description: "Command line." },
                ArgDoc { name: "listen", ty: "string", required: false, default: None, description: "Service, port, host:port or socket path." },
                ArgDoc { name: "proto", ty: "string", required: false, default: None, description: "tcp, udp, tcp4, ..." },
                ArgDoc { name: "prefork", ty: "int", required: false, default: None, description: "Processes started in advance." },
                ArgDoc { name: "babysit", ty: "bool", required: false, default: None, description: "Keep at least one process running." },
                ArgDoc { name: "maxchild", ty: "int", required: false, default: None, description: "Process limit." },
                ArgDoc { name: "maxforkrate", ty: "int", required: false, default: None, description: "Forks per second limit." },
                ArgDoc { name: "maxfds", ty: "int", required: false, default: None, description: "File descriptor limit." },
                ArgDoc { name: "period", ty: "int", required: false, default: None, description: "EVENTS: minutes between runs." },
                ArgDoc { name: "at", ty: "string", required: false, default: None, description: "EVENTS: time of day, hhmm." },
                ArgDoc { name: "fields", ty: "dict", required: false, default: None, description: "Other key=value fields." },
                ArgDoc { name: "exclusive", ty: "bool", required: false, default: Some("false"), description: "Drop fields not given." },
                ArgDoc { name: "state", ty: "string", required: false, default: Some("present"), description: "present or absent." },
            ],
            example: "- cyrus_service:\n    section: SERVICES\n    name: sieve\n    cmd: timsieved\n    listen: sieve\n    prefork: 0\n  notify: restart cyrus",
        }
    }

    fn validate(a: &CyrusServiceArgs) -> Result<(), String> {
        if !matches!(a.state.as_str(), "present" | "absent") {
            return Err(format!("value of state must be one of: present, absent, got: {}", a.state));
        }
        if !matches!(a.section().as_str(), "START" | "SERVICES" | "EVENTS" | "DAEMON") {
            return Err(format!("section must be START, SERVICES, EVENTS or DAEMON, got: {}", a.section));
        }
        if a.name.is_empty() || !a.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(format!("'{}' is not a cyrus.conf entry name", a.name));
        }
        if matches!(a.at, Some(Value::Number(_))) {
            // YAML reads 0400 as an octal number (256): the time must be a string.
            return Err("at must be a quoted time like \"0400\", not a number".into());
        }
        let fields = a.wanted_fields()?;
        if a.state == "present" && !fields.iter().any(|f| f.key == "cmd") && a.exclusive {
            return Err("an exclusive entry needs cmd".into());
        }
        for f in &fields {
            if f.value.contains('"') || f.value.contains('\n') {
                return Err(format!("the value of {} cannot contain quotes or line breaks", f.key));
            }
        }
        Ok(())
    }

    async fn probe(a: &CyrusServiceArgs, ctx: &Context<'_>) -> Result<EditState, ModuleError> {
        let (st, old) = read_text(ctx.host, &a.path).await?;
        let Some(text) = &old else {
            return Err(ModuleError::failed(format!("{} does not exist", a.path)));
        };
        let conf = parse(text).map_err(|e| ModuleError::failed(format!("{}: {e}", a.path)))?;
        let change = a.change().map_err(ModuleError::failed)?;
        if a.state == "present"
            && conf.find(&a.section(), &a.name).is_none()
            && !a.wanted_fields().map_err(ModuleError::failed)?.iter().any(|f| f.key == "cmd")
        {
            return Err(ModuleError::failed(format!("{} has no {} entry {}; give cmd to add it", a.path, a.section(), a.name)));
        }
        let new = conf.edit(&a.section(), &a.name, &change);
        // The result must still be a cyrus.conf we can read.
        parse(&new).map_err(|e| ModuleError::failed(format!("internal error: the edited file does not parse: {e}")))?;
        Ok(EditState::new(&a.path, st, old.clone(), new, format!("{} entry {} updated", a.section(), a.name)))
    }

    fn plan(a: &CyrusServiceArgs, s: &EditState) -> Result<EditPlan, ModuleError> {
        plan_edit(&dest_args(), s, a.state == "absent", false, "file not present", format!("{} does not exist", a.path))
    }

    async fn apply(_a: &CyrusServiceArgs, p: EditPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        apply_edit(&dest_args(), p, ctx, BackupKey::Dest).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    #[test]
    fn fields_come_in_cyrus_order_with_extra_ones_last() {
        let a: CyrusServiceArgs = parse_args(
            "cyrus_service",
            &json!({"section": "events", "name": "delprune", "at": "0400", "cmd": "cyr_expire -E 3", "fields": {"x": 1}}),
        )
        .unwrap();
        CyrusServiceModule::validate(&a).unwrap();
        let f: Vec<String> = a.wanted_fields().unwrap().into_iter().map(|f| format!("{}={}", f.key, f.value)).collect();
        assert_eq!(f, ["cmd=cyr_expire -E 3", "at=0400", "x=1"]);
    }

    #[test]
    fn bad_sections_and_values_are_refused() {
        let a: CyrusServiceArgs = parse_args("cyrus_service", &json!({"section": "SERVICE", "name": "imap", "cmd": "imapd"})).unwrap();
        assert!(CyrusServiceModule::validate(&a).unwrap_err().contains("section must be"));
        let a: CyrusServiceArgs =
            parse_args("cyrus_service", &json!({"section": "SERVICES", "name": "imap", "cmd": "imapd \"x\""})).unwrap();
        assert!(CyrusServiceModule::validate(&a).is_err());
        assert!(parse_args::<CyrusServiceArgs>("cyrus_service", &json!({"section": "SERVICES", "name": "imap", "listn": "x"}))
            .unwrap_err()
            .to_string()
            .contains("did you mean 'listen'"));
    }
}
