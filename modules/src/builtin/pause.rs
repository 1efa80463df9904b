//! `pause` for a set time (`seconds` or `minutes`), as Ansible's pause
//! action when stdin is not a terminal: it waits, then reports how long.
//! Waiting for input (no time given) is refused: mailplay runs unattended.

use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use super::clock::local_datetime;
use super::control::Nothing;
use crate::args::{loose_bool, loose_opt_string};
use crate::module::{ArgDoc, Context, Module, ModuleDoc, ModuleError, ModuleResult};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseArgs {
    /// Ansible reads these with `int()`: "1", 1 and 1.5 are all one.
    #[serde(default)]
    pub seconds: Option<Value>,
    #[serde(default)]
    pub minutes: Option<Value>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub prompt: Option<String>,
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    pub echo: bool,
}

fn yes() -> bool {
    true
}

/// Python's `int()` of an argument.
fn int_of(name: &str, v: &Value) -> Result<i64, String> {
    let bad = || format!("argument '{name}' is of type {} and we were unable to convert to int", json_type(v));
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)).ok_or_else(bad),
        Value::String(s) => s.trim().parse::<i64>().map_err(|_| bad()),
        Value::Bool(b) => Ok(*b as i64),
        _ => Err(bad()),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "str",
        Value::Number(_) => "float",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
        Value::Bool(_) => "bool",
        Value::Null => "NoneType",
    }
}

impl PauseArgs {
    /// The wait in seconds (at least 1, as Ansible) and its unit.
    fn duration(&self) -> Result<(u64, &'static str), String> {
        match (&self.minutes, &self.seconds) {
            (Some(_), Some(_)) => Err("parameters are mutually exclusive: minutes|seconds".into()),
            (Some(m), None) => Ok(((int_of("minutes", m)? * 60).max(1) as u64, "minutes")),
            (None, Some(s)) => Ok((int_of("seconds", s)?.max(1) as u64, "seconds")),
            // The prompt is only named here: with a time given, Ansible
            // waits the time out whatever is typed.
            (None, None) => Err(format!(
                "pause without seconds or minutes waits for input ({}), which mailplay does not support (it runs unattended)",
                self.prompt.as_deref().unwrap_or("Press enter to continue, Ctrl+C to interrupt")
            )),
        }
    }
}

pub struct PauseModule;

#[async_trait]
impl Module for PauseModule {
    type Args = PauseArgs;
    type State = ModuleResult;
    type Plan = Nothing;
    const NAME: &'static str = "pause";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Wait a set time (seconds or minutes) before going on.",
            args: vec![
                ArgDoc { name: "seconds", ty: "int", required: false, default: None, description: "How long to wait." },
                ArgDoc { name: "minutes", ty: "int", required: false, default: None, description: "How long to wait, in minutes." },
                ArgDoc { name: "prompt", ty: "string", required: false, default: None, description: "Shown; never waited on." },
                ArgDoc { name: "echo", ty: "bool", required: false, default: Some("true"), description: "Reported back only." },
            ],
            example: "- pause:\n    seconds: 5",
        }
    }

    fn validate(a: &PauseArgs) -> Result<(), String> {
        a.duration().map(|_| ())
    }

    /// The wait itself: nothing on the host changes, so check mode waits too.
    async fn probe(a: &PauseArgs, _ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let (secs, unit) = a.duration().map_err(ModuleError::failed)?;
        let (started, start) = (SystemTime::now(), Instant::now());
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let took = start.elapsed();
        let shown = took.as_secs_f64() / if unit == "minutes" { 60.0 } else { 1.0 };
        Ok(ModuleResult::ok()
            .with("rc", 0)
            .with("stderr", "")
            .with("stdout", format!("Paused for {} {unit}", py_float((shown * 100.0).round() / 100.0)))
            .with("start", local_datetime(started))
            .with("stop", local_datetime(started + took))
            .with("delta", took.as_secs())
            .with("echo", a.echo)
            .with("user_input", ""))
    }

    fn plan(_a: &PauseArgs, _s: &ModuleResult) -> Result<Nothing, ModuleError> {
        Ok(Nothing)
    }

    async fn apply(_a: &PauseArgs, _p: Nothing, _ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        Err(ModuleError::failed("nothing to apply"))
    }

    fn unchanged_result(_a: &PauseArgs, s: &ModuleResult) -> ModuleResult {
        s.clone()
    }
}

/// A float as Python's `str()`: `1.0`, `1.01`.
fn py_float(f: f64) -> String {
    if f.fract() == 0.0 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    #[test]
    fn durations_as_ansible_reads_them() {
        let d = |v: Value| parse_args::<PauseArgs>("pause", &v).unwrap().duration();
        assert_eq!(d(json!({"seconds": 1})), Ok((1, "seconds")));
        assert_eq!(d(json!({"seconds": "2"})), Ok((2, "seconds")));
        assert_eq!(d(json!({"seconds": 0})), Ok((1, "seconds")));
        assert_eq!(d(json!({"minutes": 1.5})), Ok((60, "minutes")));
        assert!(d(json!({"seconds": 1, "minutes": 1})).unwrap_err().contains("mutually exclusive"));
        assert!(d(json!({"prompt": "go?"})).unwrap_err().contains("does not support"));
        assert_eq!(py_float(1.0), "1.0");
        assert_eq!(py_float(1.01), "1.01");
    }
}
