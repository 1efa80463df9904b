//! Changing Postfix's configuration safely: the postconf commands run first
//! on a scratch copy of the configuration directory, which `postfix check`
//! must accept; only then on the real one. Shared by `postconf` and
//! `postconf_service`.

use crate::host::{quote, Command};
use crate::module::{Context, ModuleError};

/// `commands(dir_flag)` renders the postconf command line for a `-c` flag
/// (`""` for the default directory). Returns an error message when
/// validation or the change failed (nothing changed in the first case).
pub async fn apply_checked(
    ctx: &Context<'_>,
    config_dir: Option<&str>,
    validate: bool,
    commands: impl Fn(&str) -> String,
) -> Result<Option<String>, ModuleError> {
    let dir = config_dir.unwrap_or("/etc/postfix");
    if validate {
        let script = format!(
            "command -v postfix >/dev/null || exit 0; t=$(mktemp -d); trap 'rm -rf \"$t\"' EXIT; cp -a {d}/. \"$t\"/; touch \"$t\"/main.cf; {cmds} && postfix -c \"$t\" check",
            d = quote(dir),
            cmds = commands(" -c \"$t\"")
        );
        let out = ctx.host.exec(&Command::shell(script)).await?;
        if !out.success() {
            return Ok(Some(format!("postfix check rejected the new configuration, nothing was changed: {}", out.stderr_str().trim())));
        }
    }
    let dir_flag = config_dir.map(|d| format!(" -c {}", quote(d))).unwrap_or_default();
    let script = format!("touch {cf} && {}", commands(&dir_flag), cf = quote(&format!("{dir}/main.cf")));
    let out = ctx.host.exec(&Command::shell(script)).await?;
    if !out.success() {
        return Ok(Some(format!("postconf failed: {}", out.stderr_str().trim())));
    }
    Ok(None)
}
