//! `script`: a script from the controller (the role's or playbook's
//! `files/`) copied to a private temporary folder on the host, run there
//! through the shell with its arguments (or by `executable`), and removed.
//! `creates`/`removes` decide as for `command`; like Ansible's action, check
//! mode skips it unless one of them decides the outcome.

use async_trait::async_trait;
use serde::Deserialize;

use crate::args::{loose_bool, loose_opt_string};
use crate::host::{quote, Command, FileAttrs};
use crate::module::{ArgDoc, Context, Module, ModuleDoc, ModuleError, ModuleResult};

use super::command::{plan_guards, probe_guards, run, CommandArgs, CommandPlan, Guards};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptArgs {
    /// The script's path on the controller, then its arguments (the free
    /// form `script: get_gid.py group1` lands here).
    #[serde(default, alias = "_raw_params", deserialize_with = "loose_opt_string")]
    pub cmd: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub creates: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub removes: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub chdir: Option<String>,
    /// The program that runs the script (`python3`); else the shell runs
    /// it as a program (its `#!` line decides).
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub executable: Option<String>,
    /// A vault-encrypted script is opened with the run's vault secrets.
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    pub decrypt: bool,
}

fn yes() -> bool {
    true
}

impl ScriptArgs {
    /// The script's controller path and the rest of the line (its
    /// arguments, passed to the shell as written, as Ansible does).
    fn split(&self) -> (String, String) {
        let line = self.cmd.clone().unwrap_or_default();
        let line = line.trim();
        match line.split_once(char::is_whitespace) {
            Some((path, rest)) => (path.to_string(), rest.trim().to_string()),
            None => (line.to_string(), String::new()),
        }
    }

    /// The guards and the run as `shell` takes them.
    fn as_shell(&self, line: Option<String>) -> CommandArgs {
        CommandArgs {
            cmd: line,
            argv: Vec::new(),
            creates: self.creates.clone(),
            removes: self.removes.clone(),
            chdir: self.chdir.clone(),
            stdin: None,
            stdin_add_newline: true,
            executable: None,
            strip_empty_ends: true,
            expand_argument_vars: None,
        }
    }
}

/// Ansible's skip when `creates`/`removes` decide.
fn guarded(plan: &CommandPlan) -> Option<ModuleResult> {
    let CommandPlan::Skip(g) = plan else { return None };
    let (path, creates) = g.decided_by();
    let why =
        if creates { format!("{path} exists, matching creates option") } else { format!("{path} does not exist, matching removes option") };
    let mut r = ModuleResult::ok().with_msg(why);
    r.skipped = true;
    Some(r)
}

pub struct ScriptModule;

#[async_trait]
impl Module for ScriptModule {
    type Args = ScriptArgs;
    type State = Guards;
    type Plan = CommandPlan;
    const NAME: &'static str = "script";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Copy a controller script to the host, run it there with its arguments, and remove it.",
            args: vec![
                ArgDoc {
                    name: "cmd",
                    ty: "string",
                    required: true,
                    default: None,
                    description: "The script's path (searched in files/) and its arguments (also the free-form text).",
                },
                ArgDoc { name: "creates", ty: "path", required: false, default: None, description: "Do not run when this path exists." },
                ArgDoc { name: "removes", ty: "path", required: false, default: None, description: "Run only when this path exists." },
                ArgDoc { name: "chdir", ty: "path", required: false, default: None, description: "Change into this directory first." },
                ArgDoc {
                    name: "executable",
                    ty: "string",
                    required: false,
                    default: None,
                    description: "The program that runs the script.",
                },
                ArgDoc {
                    name: "decrypt",
                    ty: "bool",
                    required: false,
                    default: Some("true"),
                    description: "Open a vault-encrypted script.",
                },
            ],
            example: "- script: files/check.py --quiet\n  args:\n    executable: python3",
        }
    }

    fn validate(a: &ScriptArgs) -> Result<(), String> {
        if a.split().0.is_empty() {
            return Err("one of the following is required: _raw_params, cmd".into());
        }
        if a.chdir.as_deref().is_some_and(|d| !d.starts_with('/')) {
            return Err(format!("chdir {} must be an absolute path for a Unix-aware remote node", a.chdir.as_deref().unwrap_or("")));
        }
        Ok(())
    }

    async fn probe(a: &ScriptArgs, ctx: &Context<'_>) -> Result<Guards, ModuleError> {
        probe_guards(&a.as_shell(None), ctx).await
    }

    fn plan(a: &ScriptArgs, state: &Guards) -> Result<CommandPlan, ModuleError> {
        Ok(plan_guards(&a.as_shell(None), state))
    }

    async fn apply(a: &ScriptArgs, plan: CommandPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        if let Some(skipped) = guarded(&plan) {
            return Ok(skipped);
        }
        let (source, rest) = a.split();
        let path = ctx.controller.find_file("files", &source).map_err(ModuleError::failed)?;
        let content = ctx.controller.read_source(&path, a.decrypt).map_err(ModuleError::failed)?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "script".into());
        let made = ctx.host.exec(&Command::shell("mktemp -d /tmp/mailplay-script.XXXXXXXX".to_string())).await?;
        let dir = made.stdout_str().trim().to_string();
        if !made.success() || !dir.starts_with("/tmp/mailplay-script.") {
            return Ok(ModuleResult::failed(format!("cannot make a temporary folder for the script: {}", made.stderr_str().trim())));
        }
        let target = format!("{dir}/{name}");
        // Written with its final mode (owner only) from the first byte.
        let attrs = FileAttrs { mode: Some(0o700), ..Default::default() };
        let written = ctx.host.write_file(&target, &content, &attrs).await;
        let result = match written {
            Ok(()) => {
                let program = match &a.executable {
                    Some(e) => format!("{e} {}", quote(&target)),
                    None => quote(&target),
                };
                let line = if rest.is_empty() { program } else { format!("{program} {rest}") };
                run(&a.as_shell(Some(line)), ctx, true).await
            }
            Err(e) => Err(e.into()),
        };
        let _ = ctx.host.exec(&Command::argv(vec!["rm".into(), "-rf".into(), dir])).await;
        // Ansible's script result: rc and the output, no command or times.
        result.map(|mut r| {
            for key in ["cmd", "start", "end", "delta"] {
                r.data.remove(key);
            }
            if !r.failed {
                r.msg = None;
            }
            r
        })
    }

    fn unchanged_result(_a: &ScriptArgs, _state: &Guards) -> ModuleResult {
        ModuleResult::ok()
    }

    fn check_result(_a: &ScriptArgs, _state: &Guards, plan: &CommandPlan) -> ModuleResult {
        guarded(plan).unwrap_or_else(|| ModuleResult::changed(true))
    }

    /// Like Ansible's action: only `creates`/`removes` can tell in check mode.
    fn supports_check_mode(a: &ScriptArgs) -> bool {
        a.creates.is_some() || a.removes.is_some()
    }

    fn check_mode_skipped(_a: &ScriptArgs) -> ModuleResult {
        let mut r = ModuleResult::ok().with_msg("Check mode is not supported for this task.");
        r.skipped = true;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    fn args(v: serde_json::Value) -> ScriptArgs {
        parse_args("script", &v).unwrap()
    }

    #[test]
    fn the_first_word_is_the_script_the_rest_its_arguments() {
        let a = args(json!({"_raw_params": "get_gid_for_group.py  group1_local_test 'two words'"}));
        assert_eq!(a.split(), ("get_gid_for_group.py".to_string(), "group1_local_test 'two words'".to_string()));
        assert!(ScriptModule::validate(&args(json!({"chdir": "/tmp"}))).is_err());
        assert!(ScriptModule::validate(&args(json!({"cmd": "x.sh", "chdir": "tmp"}))).is_err());
    }

    #[test]
    fn creates_skips_with_ansibles_message() {
        let a = args(json!({"cmd": "x.sh", "creates": "/etc/hostname"}));
        let g = Guards::decided(Some(true), None);
        let r = guarded(&plan_guards(&a.as_shell(None), &g)).unwrap();
        assert!(r.skipped);
        assert_eq!(r.msg.as_deref(), Some("/etc/hostname exists, matching creates option"));
    }
}
