//! The `ansible_managed` variable the template module and the template
//! lookup give a template when the play sets none, as ansible-core 2.19's
//! `_template_vars._generate_ansible_managed` makes it from the setting
//! DEFAULT_MANAGED_STR (ansible.cfg `[defaults] ansible_managed`; no
//! environment variable): Python's `str.format` replaces `{file}`,
//! `{host}` and `{uid}` with the template expressions `{{ template_path }}`,
//! `{{ template_host }}`, `{{ template_uid }}` (never their values, so a
//! file name cannot inject a template or a strftime directive), then
//! `time.strftime` with the template file's modification time (local
//! time). The result is trusted template text, rendered where it is used.

use std::sync::RwLock;

/// Ansible's default of the setting.
const DEFAULT: &str = "Ansible managed";

/// The configured DEFAULT_MANAGED_STR; None: Ansible's default. A process
/// runs one playbook run with one configuration.
static CONFIGURED: RwLock<Option<String>> = RwLock::new(None);

/// Sets the configured value (from ansible.cfg) for this run.
pub fn set_configured(value: Option<String>) {
    *CONFIGURED.write().unwrap_or_else(|e| e.into_inner()) = value;
}

/// The template text of `ansible_managed` for a template file modified at
/// `mtime` (seconds since the epoch); Python's `KeyError` message (`'x'`)
/// for a field other than `file`, `host`, `uid`.
pub fn template_text(mtime: i64) -> Result<String, String> {
    let configured = CONFIGURED.read().unwrap_or_else(|e| e.into_inner()).clone();
    text_for(configured.as_deref().unwrap_or(DEFAULT), mtime)
}

fn text_for(setting: &str, mtime: i64) -> Result<String, String> {
    let formatted = python_format(setting)?;
    Ok(super::func_now::c_strftime(mtime as libc::time_t, false, &formatted))
}

/// The modification time of `path`, as `template_text` takes it.
pub fn mtime_of(path: &std::path::Path) -> Result<i64, String> {
    use std::os::unix::fs::MetadataExt;
    path.metadata().map(|m| m.mtime()).map_err(|e| format!("{}: {e}", path.display()))
}

/// `s.format(host=..., uid=..., file=...)` with the three expressions.
fn python_format(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len() + 32);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '}' => return Err("Single '}' encountered in format string".into()),
            '{' => {
                let mut field = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') | None => return Err("expected '}' before end of string".into()),
                        Some(ch) => field.push(ch),
                    }
                }
                out.push_str(&replacement(&field)?);
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// What one `{field}` becomes: a field with a conversion or format spec
/// (`{file!r}`, `{file:>9}`) is refused rather than half-done.
fn replacement(field: &str) -> Result<String, String> {
    if field.contains(['!', ':', '.', '[']) {
        return Err(format!("mailplay does not support the format field '{{{field}}}' in the Ansible setting DEFAULT_MANAGED_STR"));
    }
    Ok(match field {
        "host" => "{{ template_host }}",
        "uid" => "{{ template_uid }}",
        "file" => "{{ template_path }}",
        "" => return Err("Replacement index 0 out of range for positional args tuple".into()),
        other => return Err(format!("'{other}'")),
    }
    .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_pythons_str_format() {
        assert_eq!(python_format("Ansible managed").unwrap(), "Ansible managed");
        assert_eq!(python_format("{file} by {uid} on {host}").unwrap(), "{{ template_path }} by {{ template_uid }} on {{ template_host }}");
        assert_eq!(python_format("{{ {{{{ 1 + 1 }}}}").unwrap(), "{ {{ 1 + 1 }}");
        assert_eq!(python_format("a {foo}").unwrap_err(), "'foo'");
        assert!(python_format("a } b").is_err());
        assert!(python_format("a { b").is_err());
        assert!(python_format("{file!r}").is_err());
    }

    #[test]
    fn strftime_runs_after_the_fields_are_expressions() {
        // 2021-03-04 05:06:07 UTC: the year is 2021 in every time zone.
        assert_eq!(text_for("%Y {file}", 1_614_834_367).unwrap(), "2021 {{ template_path }}");
        assert_eq!(text_for(DEFAULT, 0).unwrap(), "Ansible managed");
    }
}
