//! `command` and `shell`: run a program. Not idempotent by nature; `creates`
//! and `removes` make them so, and Ansible skips them in check mode unless
//! one of those decides the outcome.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use crate::args::{loose_list, loose_opt_string};
use crate::host::{Command, FileKind, HostError};
use crate::module::{ArgDoc, Context, Module, ModuleDoc, ModuleError, ModuleResult, Plan};
use crate::planned::{Attrs, Effect, PathChange};

use super::command_expand;

/// Shared by `command` and `shell`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandArgs {
    /// The command line (free form `command: ls -l` lands here).
    #[serde(default, alias = "_raw_params", alias = "cmd", deserialize_with = "loose_opt_string")]
    pub cmd: Option<String>,
    /// The program and arguments as a list (command only).
    #[serde(default, deserialize_with = "loose_list")]
    pub argv: Vec<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub creates: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub removes: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub chdir: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub stdin: Option<String>,
    #[serde(default = "yes", deserialize_with = "crate::args::loose_bool")]
    pub stdin_add_newline: bool,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub executable: Option<String>,
    #[serde(default = "yes", deserialize_with = "crate::args::loose_bool")]
    pub strip_empty_ends: bool,
    /// command only (default true): `$VAR` and `~` in the arguments are
    /// expanded on the target (`command_expand`); shell refuses it, as
    /// Ansible's shell action does.
    #[serde(default, deserialize_with = "crate::args::loose_opt_bool")]
    pub expand_argument_vars: Option<bool>,
}

fn yes() -> bool {
    true
}

/// Why `creates`/`removes` skip the command: the path, and whether it is
/// `creates` (it exists) or `removes` (it does not).
#[derive(Debug, Clone, PartialEq)]
pub struct Guard {
    path: String,
    creates: bool,
}

impl Guard {
    /// The path `creates`/`removes` named, and whether it was `creates`.
    pub(crate) fn decided_by(&self) -> (&str, bool) {
        (&self.path, self.creates)
    }

    /// Ansible's `msg` ("Did" for a run, "Would" in check mode) and `stdout`.
    fn texts(&self, check_mode: bool) -> (String, String) {
        let verb = if check_mode { "Would" } else { "Did" };
        let how = if self.creates { "exists" } else { "does not exist" };
        (format!("{verb} not run command since '{}' {how}", self.path), format!("skipped, since {} {how}", self.path))
    }
}

/// What `creates`/`removes` found.
pub struct Guards {
    creates_exists: Option<bool>,
    removes_exists: Option<bool>,
}

impl Guards {
    /// What `creates` and `removes` found (None: not asked).
    #[cfg(test)]
    pub(crate) fn decided(creates_exists: Option<bool>, removes_exists: Option<bool>) -> Guards {
        Guards { creates_exists, removes_exists }
    }
}

pub enum CommandPlan {
    /// `creates` exists or `removes` does not: nothing to do.
    Skip(Guard),
    /// Run; afterwards `creates` exists and `removes` does not (as the
    /// guards promise; nothing else of what a command does is known).
    Run { creates: Option<String>, removes: Option<String> },
}

impl Plan for CommandPlan {
    fn changes_anything(&self) -> bool {
        matches!(self, CommandPlan::Run { .. })
    }
    fn effects(&self) -> Vec<Effect> {
        let CommandPlan::Run { creates, removes } = self else { return Vec::new() };
        let made = creates.iter().map(|p| Effect::Path {
            path: p.clone(),
            change: PathChange::Unknown { kind: FileKind::File, attrs: Attrs::default(), why: "what a command creates".into() },
        });
        made.chain(removes.iter().map(|p| Effect::Path { path: p.clone(), change: PathChange::Absent })).collect()
    }
}

/// Python's `glob.glob(pattern)` is not empty. A pattern is matched against
/// its folder's entries as listed on the target (so check mode's planned
/// files are not seen for it); a plain path is a stat, which they are.
async fn glob_exists(ctx: &Context<'_>, pattern: &str) -> Result<bool, ModuleError> {
    if !command_expand::has_glob(pattern) {
        return Ok(ctx.host.stat(pattern, true).await?.is_some());
    }
    let (dir, name) = match pattern.rsplit_once('/') {
        Some(("", n)) => ("/", n),
        Some((d, n)) => (d, n),
        None => (".", pattern),
    };
    if command_expand::has_glob(dir) {
        return Err(ModuleError::failed(format!("creates/removes: a pattern in a folder name is not supported by mailplay: {pattern}")));
    }
    let script = format!("find {} -mindepth 1 -maxdepth 1 -printf '%f\\0' 2>/dev/null; true", crate::host::quote(dir));
    let out = ctx.host.exec(&Command::shell(script)).await?;
    command_expand::glob_matches_any(name, &out.stdout).map_err(ModuleError::failed)
}

pub(crate) async fn probe_guards(args: &CommandArgs, ctx: &Context<'_>) -> Result<Guards, ModuleError> {
    // Ansible changes into chdir before anything else.
    if let Some(dir) = &args.chdir {
        if !matches!(ctx.host.stat(dir, true).await?, Some(st) if st.kind == FileKind::Directory) {
            return Err(ModuleError::failed("Unable to change directory before execution."));
        }
    }
    let exists = |p: String| async move { glob_exists(ctx, &p).await };
    let creates_exists = match &args.creates {
        Some(p) => Some(exists(p.clone()).await?),
        None => None,
    };
    let removes_exists = match &args.removes {
        Some(p) => Some(exists(p.clone()).await?),
        None => None,
    };
    Ok(Guards { creates_exists, removes_exists })
}

pub(crate) fn plan_guards(args: &CommandArgs, g: &Guards) -> CommandPlan {
    if g.creates_exists == Some(true) {
        return CommandPlan::Skip(Guard { path: args.creates.clone().unwrap_or_default(), creates: true });
    }
    if g.removes_exists == Some(false) {
        return CommandPlan::Skip(Guard { path: args.removes.clone().unwrap_or_default(), creates: false });
    }
    CommandPlan::Run { creates: args.creates.clone(), removes: args.removes.clone() }
}

fn build(args: &CommandArgs, use_shell: bool) -> Result<Command, ModuleError> {
    let mut cmd = if use_shell {
        let script = args.cmd.clone().ok_or_else(|| ModuleError::failed("no command given"))?;
        match &args.executable {
            Some(exe) => Command::argv([exe.clone(), "-c".into(), script]),
            None => Command::shell(script),
        }
    } else if !args.argv.is_empty() {
        Command::argv(args.argv.clone())
    } else {
        let line = args.cmd.clone().ok_or_else(|| ModuleError::failed("no command given"))?;
        let words = shell_words::split(&line).map_err(|e| ModuleError::failed(format!("cannot split command line: {e}")))?;
        if words.is_empty() {
            return Err(ModuleError::failed("no command given"));
        }
        Command::argv(words)
    };
    if let Some(input) = &args.stdin {
        let mut bytes = input.clone().into_bytes();
        if args.stdin_add_newline {
            bytes.push(b'\n');
        }
        cmd = cmd.stdin(bytes);
    }
    if let Some(dir) = &args.chdir {
        cmd = cmd.cwd(dir.clone());
    }
    Ok(cmd)
}

fn strip(s: String, strip_empty_ends: bool) -> String {
    if strip_empty_ends {
        s.trim_end_matches(['\n', '\r']).to_string()
    } else {
        s
    }
}

/// `command`'s arguments after `expand_argument_vars` (see `command_expand`).
async fn expand_arguments(mut cmd: Command, ctx: &Context<'_>) -> Result<Command, ModuleError> {
    cmd.argv = command_expand::expand_on_host(ctx.host, &cmd.argv).await?;
    Ok(cmd)
}

/// Ansible's warning when `command` is given `executable`, which it ignores.
fn executable_warning(args: &CommandArgs, use_shell: bool) -> Option<String> {
    match (&args.executable, use_shell) {
        (Some(exe), false) => Some(format!(
            "As of Ansible 2.4, the parameter 'executable' is no longer supported with the 'command' module. Not using '{exe}'."
        )),
        _ => None,
    }
}

pub(crate) async fn run(args: &CommandArgs, ctx: &Context<'_>, use_shell: bool) -> Result<ModuleResult, ModuleError> {
    let mut cmd = build(args, use_shell)?;
    if !use_shell && args.expand_argument_vars != Some(false) {
        cmd = expand_arguments(cmd, ctx).await?;
    }
    // Ansible's `cmd`: a shell's script as written (not the executable
    // running it), a command's argument list after expansion.
    let shown = if use_shell { Value::String(args.cmd.clone().unwrap_or_default()) } else { Value::from(cmd.argv.clone()) };
    let (started, start) = (std::time::SystemTime::now(), std::time::Instant::now());
    let out = match ctx.host.exec(&cmd).await {
        Ok(out) => out,
        // Ansible's run_command when the program cannot be started: rc is
        // the error number, the command as one line, no output.
        Err(HostError::NotStarted { errno, .. }) => {
            let line = cmd.argv.iter().map(|a| crate::host::quote(a)).collect::<Vec<_>>().join(" ");
            let mut r = ModuleResult::failed("Error executing command.")
                .with("cmd", if use_shell { shown } else { Value::String(line) })
                .with("rc", errno)
                .with("stdout", "")
                .with("stderr", "")
                .with("stdout_lines", Vec::<String>::new())
                .with("stderr_lines", Vec::<String>::new());
            r.changed = false;
            return Ok(r);
        }
        Err(e) => return Err(e.into()),
    };
    let delta = start.elapsed();
    let stdout = strip(out.stdout_str(), args.strip_empty_ends);
    let stderr = strip(out.stderr_str(), args.strip_empty_ends);
    let mut r = ModuleResult::changed(true)
        .with("cmd", shown)
        .with("rc", out.rc)
        .with("stdout_lines", stdout.lines().map(str::to_string).collect::<Vec<_>>())
        .with("stderr_lines", stderr.lines().map(str::to_string).collect::<Vec<_>>())
        .with("stdout", stdout)
        .with("stderr", stderr)
        .with("start", super::clock::local_datetime(started))
        .with("end", super::clock::local_datetime(started + delta))
        .with("delta", super::clock::timedelta(delta));
    // Ansible's command module always says `msg`, empty when it worked.
    r.msg = Some(if out.rc != 0 { "non-zero return code" } else { "" }.into());
    r.failed = out.rc != 0;
    if let Some(w) = executable_warning(args, use_shell) {
        r = r.with("warnings", vec![w]);
    }
    Ok(r)
}

/// What Ansible 2.19's command module returns when check mode skips it:
/// the command, empty output, rc 0, no times.
fn check_mode_skipped(args: &CommandArgs, use_shell: bool) -> ModuleResult {
    let shown = shown_command(args, use_shell);
    let mut r = skipped_result("Command would have run if not in check mode")
        .with("cmd", shown)
        .with("stderr_lines", Vec::<String>::new())
        .with("start", Value::Null)
        .with("end", Value::Null)
        .with("delta", Value::Null);
    r.skipped = true;
    r
}

/// Ansible's result when the command did not run: `creates`/`removes`
/// decided (`guard`), or check mode with a guard that lets it run
/// ("Command would have run", changed). The command, rc 0, empty output,
/// no times.
fn guarded_result(args: &CommandArgs, use_shell: bool, guard: Option<&Guard>, check_mode: bool) -> ModuleResult {
    let (msg, stdout) = match guard {
        Some(g) => g.texts(check_mode),
        None => ("Command would have run if not in check mode".to_string(), String::new()),
    };
    let mut r = skipped_result(&msg)
        .with("cmd", shown_command(args, use_shell))
        .with("stdout_lines", stdout.lines().map(str::to_string).collect::<Vec<_>>())
        .with("stdout", stdout)
        .with("stderr_lines", Vec::<String>::new())
        .with("start", Value::Null)
        .with("end", Value::Null)
        .with("delta", Value::Null);
    r.changed = guard.is_none();
    r
}

/// Ansible's `cmd`: a shell's script as written, a command's words.
fn shown_command(args: &CommandArgs, use_shell: bool) -> Value {
    match build(args, use_shell) {
        Ok(_) if use_shell => Value::String(args.cmd.clone().unwrap_or_default()),
        Ok(cmd) => Value::from(cmd.argv),
        Err(_) => Value::Null,
    }
}

fn skipped_result(msg: &str) -> ModuleResult {
    ModuleResult::ok().with_msg(msg).with("rc", 0).with("stdout", "").with("stderr", "").with("stdout_lines", Vec::<String>::new())
}

fn args_doc() -> Vec<ArgDoc> {
    vec![
        ArgDoc {
            name: "cmd",
            ty: "string",
            required: false,
            default: None,
            description: "The command to run (also the free-form text after the module name).",
        },
        ArgDoc {
            name: "argv",
            ty: "list",
            required: false,
            default: None,
            description: "The program and its arguments as a list; no shell parsing (command only).",
        },
        ArgDoc { name: "creates", ty: "path", required: false, default: None, description: "Do not run when this path exists." },
        ArgDoc { name: "removes", ty: "path", required: false, default: None, description: "Run only when this path exists." },
        ArgDoc { name: "chdir", ty: "path", required: false, default: None, description: "Change into this directory first." },
        ArgDoc { name: "stdin", ty: "string", required: false, default: None, description: "Text fed to the command's standard input." },
        ArgDoc { name: "stdin_add_newline", ty: "bool", required: false, default: Some("true"), description: "Append a newline to stdin." },
        ArgDoc {
            name: "executable",
            ty: "path",
            required: false,
            default: None,
            description: "The shell to use (shell; command ignores it with Ansible's warning).",
        },
        ArgDoc {
            name: "expand_argument_vars",
            ty: "bool",
            required: false,
            default: Some("true"),
            description: "command only: expand $VAR and ~ in the arguments on the target, as Ansible does.",
        },
        ArgDoc {
            name: "strip_empty_ends",
            ty: "bool",
            required: false,
            default: Some("true"),
            description: "Strip trailing newlines from stdout and stderr.",
        },
    ]
}

macro_rules! command_like {
    ($ty:ident, $name:literal, $shell:expr, $summary:literal, $example:literal) => {
        pub struct $ty;

        #[async_trait]
        impl Module for $ty {
            type Args = CommandArgs;
            type State = Guards;
            type Plan = CommandPlan;
            const NAME: &'static str = $name;

            fn doc() -> ModuleDoc {
                ModuleDoc { summary: $summary, args: args_doc(), example: $example }
            }

            fn validate(args: &CommandArgs) -> Result<(), String> {
                if $shell && args.expand_argument_vars.is_some() {
                    return Err(format!("Unsupported parameters for ({}) module: expand_argument_vars", $name));
                }
                if args.cmd.is_none() && args.argv.is_empty() {
                    return Err("one of the following is required: _raw_params, cmd, argv".into());
                }
                if args.cmd.is_some() && !args.argv.is_empty() {
                    return Err("parameters are mutually exclusive: _raw_params|cmd|argv".into());
                }
                if $shell && !args.argv.is_empty() {
                    return Err("argv is not supported by shell; use cmd".into());
                }
                Ok(())
            }

            async fn probe(args: &CommandArgs, ctx: &Context<'_>) -> Result<Guards, ModuleError> {
                probe_guards(args, ctx).await
            }

            fn plan(args: &CommandArgs, state: &Guards) -> Result<CommandPlan, ModuleError> {
                Ok(plan_guards(args, state))
            }

            async fn apply(args: &CommandArgs, plan: CommandPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
                match plan {
                    CommandPlan::Skip(g) => Ok(guarded_result(args, $shell, Some(&g), false)),
                    CommandPlan::Run { .. } => run(args, ctx, $shell).await,
                }
            }

            fn unchanged_result(args: &CommandArgs, state: &Guards) -> ModuleResult {
                match plan_guards(args, state) {
                    CommandPlan::Skip(g) => guarded_result(args, $shell, Some(&g), false),
                    CommandPlan::Run { .. } => ModuleResult::ok(),
                }
            }

            fn check_result(args: &CommandArgs, _state: &Guards, plan: &CommandPlan) -> ModuleResult {
                match plan {
                    CommandPlan::Skip(g) => guarded_result(args, $shell, Some(g), true),
                    CommandPlan::Run { .. } => guarded_result(args, $shell, None, true),
                }
            }

            /// Like Ansible: in check mode the command is skipped unless
            /// `creates`/`removes` can decide the outcome.
            fn supports_check_mode(args: &CommandArgs) -> bool {
                args.creates.is_some() || args.removes.is_some()
            }

            fn check_mode_skipped(args: &CommandArgs) -> ModuleResult {
                check_mode_skipped(args, $shell)
            }
        }
    };
}

command_like!(
    CommandModule,
    "command",
    false,
    "Run a program without a shell.",
    "- command: /usr/sbin/postmap /etc/postfix/transport\n  args:\n    creates: /etc/postfix/transport.db"
);
command_like!(
    ShellModule,
    "shell",
    true,
    "Run a command through /bin/sh.",
    "- shell: newaliases && touch /var/lib/.aliases-done\n  args:\n    creates: /var/lib/.aliases-done"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    fn args(v: Value) -> CommandArgs {
        parse_args("command", &v).unwrap()
    }

    #[test]
    fn creates_that_exists_skips_the_command() {
        let a = args(json!({"cmd": "touch /x", "creates": "/x"}));
        let p = plan_guards(&a, &Guards { creates_exists: Some(true), removes_exists: None });
        assert!(!p.changes_anything());
        let p = plan_guards(&a, &Guards { creates_exists: Some(false), removes_exists: None });
        assert!(p.changes_anything());
    }

    #[test]
    fn removes_that_is_missing_skips_the_command() {
        let a = args(json!({"cmd": "rm /x", "removes": "/x"}));
        assert!(!plan_guards(&a, &Guards { creates_exists: None, removes_exists: Some(false) }).changes_anything());
    }

    /// Ansible's results when the command does not run (the command_shell
    /// target checks them in check mode).
    #[test]
    fn results_without_running_say_what_ansible_says() {
        let a = args(json!({"cmd": "true", "creates": "/x"}));
        let g = Guard { path: "/x".into(), creates: true };
        let r = guarded_result(&a, false, Some(&g), false);
        assert_eq!((r.msg.as_deref(), r.changed), (Some("Did not run command since '/x' exists"), false));
        assert_eq!((r.data["stdout"].clone(), r.data["cmd"].clone()), (json!("skipped, since /x exists"), json!(["true"])));
        let r = guarded_result(&a, false, Some(&Guard { path: "/y".into(), creates: false }), true);
        assert_eq!(r.msg.as_deref(), Some("Would not run command since '/y' does not exist"));
        let r = guarded_result(&a, true, None, true);
        assert_eq!((r.msg.as_deref(), r.changed, r.skipped), (Some("Command would have run if not in check mode"), true, false));
        assert_eq!((r.data["cmd"].clone(), r.data["rc"].clone(), r.data["start"].clone()), (json!("true"), json!(0), Value::Null));
    }

    #[test]
    fn free_form_is_split_like_a_shell_would() {
        let a = args(json!({"_raw_params": "echo 'a b' c"}));
        assert_eq!(build(&a, false).unwrap().argv, vec!["echo", "a b", "c"]);
        assert_eq!(build(&a, true).unwrap().shell.as_deref(), Some("echo 'a b' c"));
    }
}
