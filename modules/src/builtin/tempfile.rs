//! `tempfile`: make a new temporary file or directory on the host with a
//! unique name (`mktemp`), as ansible-core's module does with Python's
//! `mkstemp`/`mkdtemp`: mode 0600/0700, `<prefix>XXXXXXXX<suffix>` in
//! `path` (default `$TMPDIR` or `/tmp`). Never idempotent; check mode skips
//! it (Ansible's module does not support check mode).

use async_trait::async_trait;
use serde::Deserialize;

use crate::args::loose_opt_string;
use crate::host::{quote, Command};
use crate::module::{ArgDoc, Context, Module, ModuleDoc, ModuleError, ModuleResult, Plan};

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum TempState {
    #[default]
    File,
    Directory,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TempfileArgs {
    #[serde(default)]
    pub state: TempState,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub path: Option<String>,
    #[serde(default = "default_prefix", deserialize_with = "crate::args::loose_string")]
    pub prefix: String,
    #[serde(default, deserialize_with = "crate::args::loose_string")]
    pub suffix: String,
}

fn default_prefix() -> String {
    "ansible.".into()
}

/// A new name is always made.
pub struct Make;

impl Plan for Make {
    fn changes_anything(&self) -> bool {
        true
    }
    fn effects(&self) -> Vec<crate::planned::Effect> {
        Vec::new()
    }
}

pub struct TempfileModule;

#[async_trait]
impl Module for TempfileModule {
    type Args = TempfileArgs;
    type State = ();
    type Plan = Make;
    const NAME: &'static str = "tempfile";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Create a temporary file or directory with a unique name.",
            args: vec![
                ArgDoc { name: "state", ty: "file|directory", required: false, default: Some("file"), description: "What to create." },
                ArgDoc { name: "path", ty: "path", required: false, default: None, description: "Where ($TMPDIR or /tmp by default)." },
                ArgDoc { name: "prefix", ty: "string", required: false, default: Some("ansible."), description: "Start of the name." },
                ArgDoc { name: "suffix", ty: "string", required: false, default: Some(""), description: "End of the name." },
            ],
            example: "- tempfile:\n    state: directory\n    suffix: .build\n  register: build_dir",
        }
    }

    fn validate(a: &TempfileArgs) -> Result<(), String> {
        for (what, v) in [("prefix", &a.prefix), ("suffix", &a.suffix)] {
            if v.contains('/') {
                return Err(format!("{what} must be a valid file name component, got '{v}'"));
            }
        }
        Ok(())
    }

    async fn probe(_a: &TempfileArgs, _ctx: &Context<'_>) -> Result<(), ModuleError> {
        Ok(())
    }

    fn plan(_a: &TempfileArgs, _state: &()) -> Result<Make, ModuleError> {
        Ok(Make)
    }

    async fn apply(a: &TempfileArgs, _plan: Make, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let dir = match &a.path {
            Some(p) => format!("--tmpdir={}", quote(p)),
            None => "--tmpdir".into(),
        };
        let kind = if a.state == TempState::Directory { "-d " } else { "" };
        let script = format!("mktemp {kind}{dir} --suffix={} -- {}", quote(&a.suffix), quote(&format!("{}XXXXXXXX", a.prefix)));
        let out = ctx.host.exec(&Command::shell(script)).await?;
        if !out.success() {
            return Err(ModuleError::failed(out.stderr_str().trim().to_string()));
        }
        let path = out.stdout_str().trim_end_matches('\n').to_string();
        let mut r = ModuleResult::changed(true).with("path", path.clone());
        if let Some(st) = ctx.host.stat(&path, false).await? {
            super::file_attrs::add_stat_keys(&mut r, &st);
            r.data.insert("state".into(), if a.state == TempState::Directory { "directory" } else { "file" }.into());
        }
        Ok(r)
    }

    fn supports_check_mode(_a: &TempfileArgs) -> bool {
        false
    }

    fn check_mode_skipped(_a: &TempfileArgs) -> ModuleResult {
        ModuleResult { skipped: true, ..ModuleResult::ok().with_msg("remote module (tempfile) does not support check mode") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    #[test]
    fn arguments_like_ansible() {
        let a: TempfileArgs = parse_args("tempfile", &json!({"state": "directory", "suffix": ".test"})).unwrap();
        assert_eq!((a.state, a.prefix.as_str(), a.suffix.as_str()), (TempState::Directory, "ansible.", ".test"));
        assert!(parse_args::<TempfileArgs>("tempfile", &json!({"state": "link"})).is_err());
        assert!(parse_args::<TempfileArgs>("tempfile", &json!({"mode": "0600"})).is_err());
        assert!(TempfileModule::validate(&TempfileArgs {
            state: TempState::File,
            path: None,
            prefix: "a/b".into(),
            suffix: String::new()
        })
        .is_err());
    }
}
