//! Ansible modules from a `library/` folder (beside the playbook, in a
//! role, or on `ANSIBLE_LIBRARY`), run on the host as ansible-playbook runs
//! them: the module file and its arguments go to a private temporary folder
//! (never the command line), the host's interpreter runs it, and its JSON
//! answer becomes the task's result. This is the way in for the modules an
//! Ansible user already has; mailplay's own modules stay typed Rust.
//!
//! Check mode is the module's own (`_ansible_check_mode`, as Ansible sends
//! it); in a rehearsal its effects are unknown to later tasks, which is
//! recorded as for a task check mode skipped.

mod module_utils;
mod reply;
mod style;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use crate::args::ArgsError;
use crate::host::{quote, Command, FileAttrs};
use crate::module::{Context, ModuleDoc, ModuleError, ModuleResult, ModuleRunner};
pub use reply::{interpret, json_lines};
pub use style::Style;

/// One module file, read when the playbook loads.
pub struct ForeignModule {
    name: &'static str,
    path: PathBuf,
    content: Vec<u8>,
    style: Style,
}

impl ForeignModule {
    /// The module at `path`, read once per run and kept for the run (the
    /// engine hands out `&'static` runners, as the registry's).
    pub fn load(name: &str, path: &Path) -> Result<&'static ForeignModule, String> {
        static LOADED: Mutex<Option<HashMap<(String, PathBuf), &'static ForeignModule>>> = Mutex::new(None);
        let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
        let map = loaded.get_or_insert_with(HashMap::new);
        let key = (name.to_string(), path.to_path_buf());
        if let Some(m) = map.get(&key) {
            return Ok(m);
        }
        let content = std::fs::read(path).map_err(|e| format!("cannot read the module {name} at {}: {e}", path.display()))?;
        let style = style::detect(&content);
        let module: &'static ForeignModule = Box::leak(Box::new(ForeignModule {
            name: Box::leak(name.to_string().into_boxed_str()),
            path: path.to_path_buf(),
            content,
            style,
        }));
        map.insert(key, module);
        Ok(module)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The arguments with the internal ones Ansible's action adds
    /// (those every AnsibleModule since 2.x understands).
    fn module_args(&self, args: &Map<String, Value>, ctx: &Context<'_>, tmpdir: &str, version: &str) -> Map<String, Value> {
        let mut m = args.clone();
        let internal = json!({
            "_ansible_check_mode": ctx.check_mode,
            "_ansible_no_log": false,
            "_ansible_debug": false,
            "_ansible_diff": ctx.diff,
            "_ansible_verbosity": ctx.verbosity,
            "_ansible_version": version,
            "_ansible_module_name": self.name,
            "_ansible_syslog_facility": "LOG_USER",
            "_ansible_selinux_special_fs": ["fuse", "nfs", "vboxsf", "ramfs", "9p", "vfat"],
            "_ansible_shell_executable": "/bin/sh",
            "_ansible_keep_remote_files": false,
            "_ansible_tmpdir": tmpdir,
            "_ansible_remote_tmp": "~/.ansible/tmp",
        });
        if let Value::Object(i) = internal {
            m.extend(i);
        }
        m
    }

    /// A host variable the inventory may set (`ansible_python_interpreter`,
    /// `ansible_perl_interpreter`, ...); Ansible's `auto*` values mean discovery.
    fn interpreter_var(ctx: &Context<'_>, name: &str) -> Option<String> {
        match ctx.controller.eval_var(&format!("ansible_{name}_interpreter")) {
            Ok(Value::String(s)) if !s.trim().is_empty() && !s.starts_with("auto") => Some(s.trim().to_string()),
            _ => None,
        }
    }
}

/// The shell line that runs a Python module: the inventory's interpreter,
/// else the first Python the host has (Ansible's discovery finds
/// /usr/bin/python3 on Debian).
fn python_line(interpreter: Option<&str>, module: &str) -> String {
    match interpreter {
        Some(i) => format!("exec {i} {}", quote(module)),
        None => format!(
            "for p in /usr/bin/python3 /usr/libexec/platform-python python3 /usr/bin/python python; do \
             if command -v \"$p\" >/dev/null 2>&1; then exec \"$p\" {m}; fi; done; \
             echo 'mailplay: no python on the host (set ansible_python_interpreter)' >&2; exit 127",
            m = quote(module)
        ),
    }
}

#[async_trait]
impl ModuleRunner for ForeignModule {
    fn name(&self) -> &'static str {
        self.name
    }

    fn doc(&self) -> ModuleDoc {
        ModuleDoc {
            summary: "An Ansible module from a library folder, run on the host as ansible-playbook runs it.",
            args: Vec::new(),
            example: "",
        }
    }

    /// The module checks its own arguments when it runs.
    fn check_args(&self, args: &Value) -> Result<(), ArgsError> {
        match args {
            Value::Object(_) | Value::Null => Ok(()),
            _ => Err(ArgsError::Invalid { module: self.name, msg: "the arguments must be a mapping".into() }),
        }
    }

    fn secret_values(&self, _args: &Value) -> Vec<String> {
        Vec::new()
    }

    async fn run(&self, args: &Value, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let args = match args {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        if self.style == Style::NewPython && style::imports_collection_utils(&self.content) {
            return Ok(ModuleResult::failed(format!(
                "the module {} ({}) imports a collection's module_utils, which mailplay does not send",
                self.name,
                self.path.display()
            )));
        }
        let utils = match self.style {
            Style::NewPython => match module_utils::bundle() {
                Ok(b) => Some(b),
                Err(e) => return Ok(ModuleResult::failed(format!("the module {} ({}): {e}", self.name, self.path.display()))),
            },
            _ => module_utils::bundle().ok(),
        };
        let version = utils.as_ref().map(|u| u.version.clone()).unwrap_or_else(|| "0.0".into());

        let made = ctx.host.exec(&Command::shell("mktemp -d /tmp/mailplay-module.XXXXXXXX")).await?;
        let dir = made.stdout_str().trim().to_string();
        if !made.success() || !dir.starts_with("/tmp/mailplay-module.") {
            return Ok(ModuleResult::failed(format!("cannot make a temporary folder for the module: {}", made.stderr_str().trim())));
        }
        let result = self.run_in(&dir, &args, ctx, utils.as_deref(), &version).await;
        let _ = ctx.host.exec(&Command::argv(vec!["rm".into(), "-rf".into(), dir])).await;
        let r = result?;
        if ctx.check_mode && (r.changed || r.skipped) {
            if let Some(planned) = ctx.rehearsal() {
                planned.skipped_unseen(self.name);
            }
        }
        Ok(r)
    }
}

impl ForeignModule {
    async fn run_in(
        &self,
        dir: &str,
        args: &Map<String, Value>,
        ctx: &Context<'_>,
        utils: Option<&module_utils::ModuleUtils>,
        version: &str,
    ) -> Result<ModuleResult, ModuleError> {
        let module_args = self.module_args(args, ctx, dir, version);
        let args_json = serde_json::to_string(&module_args).map_err(|e| ModuleError::failed(e.to_string()))?;
        let module_path = format!("{dir}/{}", self.file_name());
        // Private from the first byte: the folder is mktemp's (0700), the
        // files the executing user's only.
        let private = FileAttrs { mode: Some(0o700), ..Default::default() };
        let private_data = FileAttrs { mode: Some(0o600), ..Default::default() };
        let mut cmd;
        let interpreter: Option<String>;
        match self.style {
            Style::NewPython => {
                let utils = utils.ok_or_else(|| ModuleError::failed("ansible-core's module_utils are needed"))?;
                let zip_path = format!("{dir}/ansible_module_utils.zip");
                ctx.host.write_file(&zip_path, &utils.zip, &private_data).await?;
                ctx.host.write_file(&module_path, &self.content, &private).await?;
                let given = Self::interpreter_var(ctx, "python");
                interpreter = Some(given.clone().unwrap_or_else(|| "/usr/bin/python3".into()));
                let stdin =
                    serde_json::to_vec(&json!({ "ANSIBLE_MODULE_ARGS": module_args })).map_err(|e| ModuleError::failed(e.to_string()))?;
                cmd = Command::shell(python_line(given.as_deref(), &module_path)).stdin(stdin);
                cmd.env.push(("PYTHONPATH".into(), zip_path));
            }
            Style::JsonArgs => {
                let text = String::from_utf8_lossy(&self.content).replace(style::REPLACER_JSONARGS, &args_json);
                let text = substitute_common(&text, &args_json, version);
                ctx.host.write_file(&module_path, text.as_bytes(), &private).await?;
                interpreter = self.text_interpreter(ctx);
                cmd = Command::shell(self.run_line(interpreter.as_deref(), &module_path, None));
            }
            Style::WantJson | Style::Binary | Style::Old => {
                let args_path = format!("{dir}/args");
                let args_text = if self.style == Style::Old { style::old_style_args(&module_args) } else { args_json.clone() };
                ctx.host.write_file(&args_path, args_text.as_bytes(), &private_data).await?;
                let content = if self.style == Style::Binary {
                    self.content.clone()
                } else {
                    substitute_common(&String::from_utf8_lossy(&self.content), &args_json, version).into_bytes()
                };
                ctx.host.write_file(&module_path, &content, &private).await?;
                interpreter = if self.style == Style::Binary { None } else { self.text_interpreter(ctx) };
                cmd = Command::shell(self.run_line(interpreter.as_deref(), &module_path, Some(&args_path)));
            }
        }
        let out = ctx.host.exec(&cmd).await?;
        Ok(interpret(&out, interpreter.as_deref()))
    }

    fn file_name(&self) -> String {
        self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| self.name.to_string())
    }

    /// A text module's interpreter: `ansible_<name>_interpreter` for the
    /// one its `#!` line names, else that line; `None` runs the file itself.
    fn text_interpreter(&self, ctx: &Context<'_>) -> Option<String> {
        let (name, line) = style::shebang(&self.content)?;
        let base = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
        Self::interpreter_var(ctx, base).or(Some(line))
    }

    fn run_line(&self, interpreter: Option<&str>, module: &str, args_file: Option<&str>) -> String {
        let program = match interpreter {
            Some(i) => format!("{i} {}", quote(module)),
            None => quote(module),
        };
        match args_file {
            Some(a) => format!("exec {program} {}", quote(a)),
            None => format!("exec {program}"),
        }
    }
}

/// The other markers Ansible replaces in a module's text.
fn substitute_common(text: &str, args_json: &str, version: &str) -> String {
    text.replace(style::REPLACER_COMPLEX, &serde_json::to_string(args_json).unwrap_or_default())
        .replace(style::REPLACER_VERSION, &format!("{version:?}"))
        .replace(style::REPLACER_SELINUX, "['fuse', 'nfs', 'vboxsf', 'ramfs', '9p', 'vfat']")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_runs_with_the_given_interpreter_or_the_first_found() {
        assert_eq!(python_line(Some("/opt/py/bin/python3"), "/tmp/m/x.py"), "exec /opt/py/bin/python3 /tmp/m/x.py");
        let found = python_line(None, "/tmp/m/x.py");
        assert!(found.starts_with("for p in /usr/bin/python3 "));
        assert!(found.contains("exec \"$p\" /tmp/m/x.py"));
    }

    #[test]
    fn markers_are_replaced_as_ansible_replaces_them() {
        let t =
            substitute_common("a = \"<<INCLUDE_ANSIBLE_MODULE_COMPLEX_ARGS>>\"\nv = \"<<ANSIBLE_VERSION>>\"\n", "{\"x\": 1}", "2.19.14");
        assert_eq!(t, "a = \"{\\\"x\\\": 1}\"\nv = \"2.19.14\"\n");
    }
}
