//! Where vault passwords come from, as Ansible's `CLI.setup_vault_secrets`:
//! `--vault-id [label@]source` (source: a file, an executable whose stdout is
//! the password, or `prompt`), `--vault-password-file FILE` (label
//! `default`), `--ask-vault-pass` (a `default` prompt), plus the
//! environment's `ANSIBLE_VAULT_IDENTITY_LIST` and
//! `ANSIBLE_VAULT_PASSWORD_FILE`. The order given is the order secrets are
//! tried. A password is never printed, never put in an error message and
//! never passed in a process's arguments.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::format::{self, DEFAULT_ID};
use super::VaultSecret;

/// The vault options of a command line.
#[derive(Debug, Clone, Default)]
pub struct VaultArgs {
    pub vault_ids: Vec<String>,
    pub password_files: Vec<String>,
    pub ask_vault_pass: bool,
}

impl VaultArgs {
    /// Whether any vault option (or environment variable) was given.
    pub fn any(&self) -> bool {
        !self.vault_ids.is_empty()
            || !self.password_files.is_empty()
            || self.ask_vault_pass
            || config().bool("DEFAULT_ASK_VAULT_PASS") == Some(true)
            || !env_ids().is_empty()
            || env_file().is_some()
    }
}

/// What the secrets are for: reading asks once, writing asks twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Decrypt,
    NewPassword,
}

/// Ansible's configuration (environment, then ansible.cfg); a file that
/// does not load was already reported by the command.
fn config() -> crate::config::AnsibleConfig {
    crate::config::AnsibleConfig::load().unwrap_or_default()
}

/// `vault_identity_list` / `ANSIBLE_VAULT_IDENTITY_LIST`.
fn env_ids() -> Vec<String> {
    config().list("DEFAULT_VAULT_IDENTITY_LIST").unwrap_or_default().into_iter().filter(|s| !s.is_empty()).collect()
}

/// `vault_password_file` / `ANSIBLE_VAULT_PASSWORD_FILE`.
fn env_file() -> Option<String> {
    let c = config();
    c.raw("DEFAULT_VAULT_PASSWORD_FILE").filter(|(v, _)| !v.is_empty())?;
    c.path("DEFAULT_VAULT_PASSWORD_FILE").map(|p| p.display().to_string())
}

/// `label@source` → (label, source); no `@` means no label.
pub fn split_vault_id(slug: &str) -> (Option<&str>, &str) {
    match slug.split_once('@') {
        Some((label, source)) => (Some(label), source),
        None => (None, slug),
    }
}

/// Build the secrets from the options. `auto_prompt`: ask on the terminal
/// when no source was given at all (ansible-vault does, ansible-playbook
/// does not). Sources that fail are warned about and skipped; it is an
/// error only when none worked.
pub fn setup(args: &VaultArgs, purpose: Purpose, auto_prompt: bool) -> Result<Vec<VaultSecret>, String> {
    let mut slugs: Vec<String> = env_ids();
    slugs.extend(args.vault_ids.iter().cloned());
    for s in &slugs {
        if s.contains(';') {
            return Err(format!("'{s}' is not a valid vault id. The character ';' is not allowed in vault ids"));
        }
    }
    let mut files = args.password_files.clone();
    files.extend(env_file());
    slugs.extend(files.iter().map(|f| format!("{DEFAULT_ID}@{f}")));
    let ask = args.ask_vault_pass || config().bool("DEFAULT_ASK_VAULT_PASS") == Some(true);
    if ask || (slugs.is_empty() && auto_prompt) {
        slugs.push(format!("{DEFAULT_ID}@prompt_ask_vault_pass"));
    }
    let mut secrets: Vec<VaultSecret> = Vec::new();
    let mut last_error = None;
    for slug in &slugs {
        let (label, source) = split_vault_id(slug);
        let label = label.filter(|l| !l.is_empty()).unwrap_or(DEFAULT_ID);
        if source == "prompt" || source == "prompt_ask_vault_pass" {
            // A failed prompt stops everything, as in Ansible.
            let bytes = prompt(label, source == "prompt_ask_vault_pass", purpose)?;
            secrets.push(VaultSecret::new(label, bytes));
            continue;
        }
        match from_file(&expand_home(source), label, &secrets) {
            Ok(bytes) => secrets.push(VaultSecret::new(label, bytes)),
            Err(e) => {
                eprintln!("[WARNING]: Error getting vault password file ({label}): {e}");
                last_error = Some(e);
            }
        }
    }
    match last_error {
        Some(e) if secrets.is_empty() => Err(e),
        _ => Ok(secrets),
    }
}

fn prompt(label: &str, old_style: bool, purpose: Purpose) -> Result<Vec<u8>, String> {
    let prompts: Vec<String> = match (purpose, old_style) {
        (Purpose::Decrypt, true) => vec!["Vault password: ".into()],
        (Purpose::Decrypt, false) => vec![format!("Vault password ({label}): ")],
        (Purpose::NewPassword, true) => vec!["New Vault password: ".into(), "Confirm New Vault password: ".into()],
        (Purpose::NewPassword, false) => vec![format!("New vault password ({label}): "), format!("Confirm new vault password ({label}): ")],
    };
    let mut answers = Vec::new();
    for p in prompts {
        // rpassword reads from the terminal with echo off.
        let answer =
            rpassword::prompt_password(&p).map_err(|e| format!("cannot read the vault password ({label}) from the terminal: {e}"))?;
        let answer = answer.trim().as_bytes().to_vec();
        if answer.is_empty() {
            return Err("Invalid vault password was provided".into());
        }
        answers.push(answer);
    }
    if answers.iter().any(|a| *a != answers[0]) {
        return Err("Passwords do not match".into());
    }
    Ok(answers.swap_remove(0))
}

/// `~/x` is in the home folder, as Ansible's unfrackpath has it (the shell
/// does not expand it after `label@`).
fn expand_home(source: &str) -> PathBuf {
    match (source.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(source),
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// `name-client` or `name-client.ext` scripts are asked for a label
/// (`--vault-id LABEL` argument), as Ansible's client scripts.
fn is_client_script(path: &Path) -> bool {
    path.file_stem().and_then(|s| s.to_str()).is_some_and(|s| s.ends_with("-client"))
}

/// A password file's content, or an executable's output (`get_file_vault_secret`).
fn from_file(path: &Path, label: &str, earlier: &[VaultSecret]) -> Result<Vec<u8>, String> {
    if !path.exists() {
        return Err(format!("The vault password file {} was not found", path.display()));
    }
    if path.is_dir() {
        return Err(format!("The vault password file provided '{}' can not be a directory", path.display()));
    }
    if is_executable(path) {
        return from_script(path, label);
    }
    let raw = std::fs::read(path).map_err(|e| format!("Could not read vault password file '{}': {e}", path.display()))?;
    let mut pw = raw.trim_ascii().to_vec();
    // A password file may itself be a vault, opened by an earlier secret.
    if format::is_encrypted(&pw) {
        pw = format::decrypt(&pw, earlier).map_err(|e| format!("{e} for the vault password file {}", path.display()))?.plaintext;
    }
    let pw = trim_newlines(&pw).to_vec();
    if pw.is_empty() {
        return Err(format!("Invalid vault password was provided from file ({})", path.display()));
    }
    Ok(pw)
}

fn from_script(path: &Path, label: &str) -> Result<Vec<u8>, String> {
    let client = is_client_script(path);
    let mut cmd = Command::new(path);
    cmd.stdin(Stdio::inherit()).stdout(Stdio::piped());
    if client {
        cmd.arg("--vault-id").arg(label).stderr(Stdio::piped());
    } else {
        // Left to the terminal, so a script can prompt there.
        cmd.stderr(Stdio::inherit());
    }
    let out = cmd.output().map_err(|e| {
        format!(
            "Problem running vault password script {} ({e}). If this is not a script, remove the executable bit from the file.",
            path.display()
        )
    })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => {}
        Some(2) if client => {
            return Err(format!(
                "Vault password client script {} did not find a secret for vault-id={label}: {}",
                path.display(),
                stderr.trim()
            ));
        }
        code => {
            let code = code.map(|c| c.to_string()).unwrap_or_else(|| "killed by a signal".into());
            return Err(format!("Vault password script {} returned non-zero ({code}): {}", path.display(), stderr.trim()));
        }
    }
    let pw = trim_newlines(&out.stdout).to_vec();
    if pw.is_empty() {
        return Err(format!("Invalid vault password was provided from script ({})", path.display()));
    }
    Ok(pw)
}

/// Python's `bytes.strip(b'\r\n')`.
fn trim_newlines(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| !matches!(c, b'\r' | b'\n')).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !matches!(c, b'\r' | b'\n')).map_or(start, |e| e + 1);
    &b[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn args(ids: &[&str], files: &[&str]) -> VaultArgs {
        VaultArgs {
            vault_ids: ids.iter().map(|s| s.to_string()).collect(),
            password_files: files.iter().map(|s| s.to_string()).collect(),
            ask_vault_pass: false,
        }
    }

    #[test]
    fn files_scripts_and_labels_in_the_order_given() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("pw");
        std::fs::write(&plain, "  hunter2 \n\n").unwrap();
        let script = dir.path().join("pw.sh");
        std::fs::write(&script, "#!/bin/sh\nprintf 'from-script\\r\\n'\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
        let client = dir.path().join("vault-client.sh");
        std::fs::write(&client, "#!/bin/sh\n[ \"$1\" = --vault-id ] && [ \"$2\" = prod ] && echo for-$2 && exit 0\nexit 2\n").unwrap();
        std::fs::set_permissions(&client, std::fs::Permissions::from_mode(0o755)).unwrap();
        let a = args(&[&format!("prod@{}", client.display()), &format!("dev@{}", script.display())], &[plain.to_str().unwrap()]);
        let s = setup(&a, Purpose::Decrypt, false).unwrap();
        let got: Vec<(&str, &[u8])> = s.iter().map(|s| (s.id.as_str(), s.bytes())).collect();
        assert_eq!(got, vec![("prod", &b"for-prod"[..]), ("dev", &b"from-script"[..]), ("default", &b"hunter2"[..])]);
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn a_missing_file_is_skipped_if_another_works_and_an_error_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("pw");
        std::fs::write(&good, "pw\n").unwrap();
        let missing = dir.path().join("nope");
        let s = setup(&args(&[], &[missing.to_str().unwrap(), good.to_str().unwrap()]), Purpose::Decrypt, false).unwrap();
        assert_eq!(s.len(), 1);
        let e = setup(&args(&[], &[missing.to_str().unwrap()]), Purpose::Decrypt, false).unwrap_err();
        assert!(e.contains("was not found") && e.contains("nope"), "{e}");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, " \n").unwrap();
        let e = setup(&args(&[], &[empty.to_str().unwrap()]), Purpose::Decrypt, false).unwrap_err();
        assert!(e.contains("Invalid vault password"), "{e}");
        let failing = dir.path().join("fail.sh");
        std::fs::write(&failing, "#!/bin/sh\nexit 3\n").unwrap();
        std::fs::set_permissions(&failing, std::fs::Permissions::from_mode(0o700)).unwrap();
        let e = setup(&args(&[], &[failing.to_str().unwrap()]), Purpose::Decrypt, false).unwrap_err();
        assert!(e.contains("returned non-zero (3)"), "{e}");
        assert!(setup(&args(&["a;b@x"], &[]), Purpose::Decrypt, false).unwrap_err().contains("';' is not allowed"));
    }

    #[test]
    fn a_vaulted_password_file_is_opened_by_an_earlier_secret() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("first");
        std::fs::write(&first, "outer\n").unwrap();
        let second = dir.path().join("second");
        let inner = format::encrypt(b"inner-pw\n", &VaultSecret::new("default", b"outer".to_vec()), None).unwrap();
        std::fs::write(&second, inner).unwrap();
        let s =
            setup(&args(&[&format!("a@{}", first.display()), &format!("b@{}", second.display())], &[]), Purpose::Decrypt, false).unwrap();
        assert_eq!(s[1].bytes(), b"inner-pw");
    }

    #[test]
    fn a_home_relative_source_is_expanded() {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        if let Some(home) = home {
            assert_eq!(expand_home("~/pw"), home.join("pw"));
        }
        assert_eq!(expand_home("/x/~/pw"), PathBuf::from("/x/~/pw"));
    }

    #[test]
    fn split_labels() {
        assert_eq!(split_vault_id("prod@/x/y"), (Some("prod"), "/x/y"));
        assert_eq!(split_vault_id("/x/y"), (None, "/x/y"));
        assert_eq!(split_vault_id("@prompt"), (Some(""), "prompt"));
    }
}
