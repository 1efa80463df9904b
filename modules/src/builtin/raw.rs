//! `raw`: a command line run by the host's shell as it is, without a
//! module (Ansible uses it before Python exists on a host). Never
//! idempotent; check mode skips it, as Ansible's action does.

use async_trait::async_trait;
use serde::Deserialize;

use crate::args::loose_opt_string;
use crate::host::Command;
use crate::module::{ArgDoc, Context, Module, ModuleDoc, ModuleError, ModuleResult, Plan};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArgs {
    /// The free-form command line.
    #[serde(rename = "_raw_params", deserialize_with = "loose_opt_string", default)]
    pub cmd: Option<String>,
    /// The shell to run it with (default `/bin/sh`).
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub executable: Option<String>,
}

/// `raw` always runs.
pub struct Run;

impl Plan for Run {
    fn changes_anything(&self) -> bool {
        true
    }
    fn effects(&self) -> Vec<crate::planned::Effect> {
        Vec::new()
    }
}

pub struct RawModule;

#[async_trait]
impl Module for RawModule {
    type Args = RawArgs;
    type State = ();
    type Plan = Run;
    const NAME: &'static str = "raw";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Run a command line through the host's shell, without a module.",
            args: vec![
                ArgDoc {
                    name: "_raw_params",
                    ty: "string",
                    required: true,
                    default: None,
                    description: "The command line: the free-form text after raw:.",
                },
                ArgDoc { name: "executable", ty: "path", required: false, default: None, description: "The shell (default /bin/sh)." },
            ],
            example: "- raw: test -e /usr/bin/python3 || (apt-get update && apt-get install -y python3-minimal)",
        }
    }

    fn validate(a: &RawArgs) -> Result<(), String> {
        match a.cmd.as_deref().map(str::trim) {
            Some(c) if !c.is_empty() => Ok(()),
            _ => Err("no command given".into()),
        }
    }

    async fn probe(_a: &RawArgs, _ctx: &Context<'_>) -> Result<(), ModuleError> {
        Ok(())
    }

    fn plan(_a: &RawArgs, _state: &()) -> Result<Run, ModuleError> {
        Ok(Run)
    }

    async fn apply(a: &RawArgs, _plan: Run, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let line = a.cmd.clone().unwrap_or_default();
        let cmd = match &a.executable {
            Some(exe) => Command::argv([exe.clone(), "-c".into(), line]),
            None => Command::shell(line),
        };
        let out = ctx.host.exec(&cmd).await?;
        let (stdout, stderr) = (out.stdout_str(), out.stderr_str());
        let mut r = ModuleResult::changed(true)
            .with("rc", out.rc)
            .with("stdout_lines", stdout.lines().map(str::to_string).collect::<Vec<_>>())
            .with("stderr_lines", stderr.lines().map(str::to_string).collect::<Vec<_>>())
            .with("stdout", stdout)
            .with("stderr", stderr);
        if out.rc != 0 {
            r.failed = true;
            r.msg = Some("non-zero return code".into());
        }
        Ok(r)
    }

    fn supports_check_mode(_a: &RawArgs) -> bool {
        false
    }

    fn check_mode_skipped(_a: &RawArgs) -> ModuleResult {
        ModuleResult { skipped: true, ..ModuleResult::ok() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    #[test]
    fn free_form_and_executable_only() {
        let a: RawArgs = parse_args("raw", &json!({"_raw_params": "echo hi", "executable": "/bin/bash"})).unwrap();
        assert_eq!(a.cmd.as_deref(), Some("echo hi"));
        assert!(parse_args::<RawArgs>("raw", &json!({"_raw_params": "x", "chdir": "/"})).is_err());
        assert!(RawModule::validate(&RawArgs { cmd: Some(" ".into()), executable: None }).is_err());
    }
}
