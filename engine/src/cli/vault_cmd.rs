//! `mailplay vault`: ansible-vault's encrypt, decrypt, view, edit, create,
//! encrypt_string and rekey, on the same file format.

use std::io::{IsTerminal, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::exec::run::exit;
use crate::vault::secrets::{self, Purpose, VaultArgs as SecretArgs};
use crate::vault::{InlineMode, VaultError, VaultSecret};

use super::args::{EncryptOpts, VaultAction, VaultArgs, VaultOpts};

/// Read the vault passwords the options name and install them for every
/// later load (`mailplay run`, `mailplay inventory`). Without any vault
/// option nothing is asked: vaulted content then fails to load, naming
/// its file.
pub fn install_secrets(opts: &VaultOpts, inline: InlineMode) -> Result<(), String> {
    let args = opts.to_args();
    let found = if args.any() { secrets::setup(&args, Purpose::Decrypt, false)? } else { Vec::new() };
    crate::vault::set_secrets(found, inline);
    Ok(())
}

/// A failure: bad options exit 5, the others 1, as ansible-vault.
enum Failure {
    Options(String),
    Error(String),
}

impl From<String> for Failure {
    fn from(s: String) -> Self {
        Failure::Error(s)
    }
}

type Res<T> = Result<T, Failure>;

pub fn run(args: VaultArgs) -> i32 {
    // What this command writes (plaintext, temporary files) is private.
    let old_umask = unsafe { libc::umask(0o077) };
    let result = dispatch(args.action);
    unsafe { libc::umask(old_umask) };
    match result {
        Ok(()) => exit::OK,
        Err(Failure::Options(e)) => {
            eprintln!("ERROR! {e}");
            exit::BAD_OPTIONS
        }
        Err(Failure::Error(e)) => {
            eprintln!("ERROR! {e}");
            exit::ERROR
        }
    }
}

fn dispatch(action: VaultAction) -> Res<()> {
    match action {
        VaultAction::Encrypt { files, output, encrypt, vault } => {
            let files = stdin_if_none(files);
            one_input_with_output(&files, &output)?;
            let secret = encrypt_secret(&vault, &encrypt)?;
            if files == ["-"] && std::io::stdin().is_terminal() {
                eprintln!("Reading plaintext input from stdin");
            }
            for f in &files {
                let plain = read_input(f)?;
                let text = crate::vault::encrypt(&plain, &secret, Some(&secret.id)).map_err(|e| format!("{e} ({f})"))?;
                write_output(text.as_bytes(), output.as_deref().unwrap_or(f), None)?;
            }
            if std::io::stdout().is_terminal() {
                eprintln!("Encryption successful");
            }
            Ok(())
        }
        VaultAction::Decrypt { files, output, vault } => {
            let files = stdin_if_none(files);
            one_input_with_output(&files, &output)?;
            let secrets = decrypt_secrets(&vault)?;
            if files == ["-"] && std::io::stdin().is_terminal() {
                eprintln!("Reading ciphertext input from stdin");
            }
            for f in &files {
                let opened = open(f, &secrets)?;
                write_output(&opened.plaintext, output.as_deref().unwrap_or(f), None)?;
            }
            if std::io::stdout().is_terminal() {
                eprintln!("Decryption successful");
            }
            Ok(())
        }
        VaultAction::View { files, vault } => {
            let secrets = decrypt_secrets(&vault)?;
            for f in &files {
                let opened = open(f, &secrets)?;
                let mut out = std::io::stdout().lock();
                out.write_all(&opened.plaintext).and_then(|_| out.flush()).map_err(|e| format!("cannot write to stdout: {e}"))?;
            }
            Ok(())
        }
        VaultAction::Edit { files, vault } => {
            let secrets = decrypt_secrets(&vault)?;
            for f in &files {
                let path = real_path(f)?;
                let opened = open(&path.display().to_string(), &secrets)?;
                // Keep the header's label (and so the format version).
                let label = opened.envelope.vault_id.clone();
                edit(&path, &secrets[opened.secret_index], Some(opened.plaintext), label.as_deref())?;
            }
            Ok(())
        }
        VaultAction::Create { file, skip_tty_check, encrypt, vault } => {
            let secret = encrypt_secret(&vault, &encrypt)?;
            let path = PathBuf::from(&file);
            if path.is_file() {
                return Err(Failure::Error(format!("{file} exists, please use 'edit' instead")));
            }
            if !std::io::stdout().is_terminal() && !skip_tty_check {
                return Err(Failure::Options("not a tty, editor cannot be opened".into()));
            }
            edit(&path, &secret, None, Some(&secret.id))
        }
        VaultAction::EncryptString { strings, names, stdin_name, prompt, show_input, output, encrypt, vault } => {
            encrypt_string(strings, names, stdin_name, prompt, show_input, output, &encrypt, &vault)
        }
        VaultAction::Rekey { files, new_vault_password_file, new_vault_id, encrypt, vault } => {
            let secrets = decrypt_secrets(&vault)?;
            let new_args = SecretArgs {
                vault_ids: new_vault_id.into_iter().collect(),
                password_files: new_vault_password_file.into_iter().collect(),
                ask_vault_pass: false,
            };
            let new_secrets = secrets::setup(&new_args, Purpose::NewPassword, true)?;
            if new_secrets.is_empty() {
                return Err(Failure::Options("A new vault password is required to use Ansible's Vault rekey".into()));
            }
            let new = pick_encrypt_secret(new_secrets, encrypt.encrypt_vault_id.as_deref())?;
            for f in &files {
                let path = real_path(f)?;
                let opened = open(&path.display().to_string(), &secrets)?;
                let text = crate::vault::encrypt(&opened.plaintext, &new, Some(&new.id)).map_err(|e| format!("{e} ({f})"))?;
                let meta = std::fs::metadata(&path).map_err(|e| format!("{f}: {e}"))?;
                write_output(text.as_bytes(), &path.display().to_string(), Some(&meta))?;
            }
            eprintln!("Rekey successful");
            Ok(())
        }
    }
}

fn stdin_if_none(files: Vec<String>) -> Vec<String> {
    if files.is_empty() {
        vec!["-".into()]
    } else {
        files
    }
}

fn one_input_with_output(files: &[String], output: &Option<String>) -> Res<()> {
    if output.is_some() && files.len() > 1 {
        return Err(Failure::Options("At most one input file may be used with the --output option".into()));
    }
    Ok(())
}

fn decrypt_secrets(vault: &VaultOpts) -> Res<Vec<VaultSecret>> {
    let found = secrets::setup(&vault.to_args(), Purpose::Decrypt, true)?;
    if found.is_empty() {
        return Err(Failure::Options("A vault password is required to use Ansible's Vault".into()));
    }
    Ok(found)
}

/// The one secret to encrypt with (`match_encrypt_secret`).
fn encrypt_secret(vault: &VaultOpts, enc: &EncryptOpts) -> Res<VaultSecret> {
    let found = secrets::setup(&vault.to_args(), Purpose::NewPassword, true)?;
    let wanted = enc.encrypt_vault_id.clone().or_else(|| {
        crate::config::AnsibleConfig::load().ok().and_then(|c| c.string("DEFAULT_VAULT_ENCRYPT_IDENTITY")).filter(|s| !s.is_empty())
    });
    if found.len() > 1 && wanted.is_none() {
        let ids: Vec<&str> = found.iter().map(|s| s.id.as_str()).collect();
        return Err(Failure::Options(format!(
            "The vault-ids {} are available to encrypt. Specify the vault-id to encrypt with --encrypt-vault-id",
            ids.join(",")
        )));
    }
    if found.is_empty() {
        return Err(Failure::Options("A vault password is required to use Ansible's Vault".into()));
    }
    pick_encrypt_secret(found, wanted.as_deref())
}

fn pick_encrypt_secret(found: Vec<VaultSecret>, wanted: Option<&str>) -> Res<VaultSecret> {
    match wanted {
        None => Ok(found.into_iter().next().expect("not empty")),
        Some(id) => {
            let ids: Vec<String> = found.iter().map(|s| format!("'{}'", s.id)).collect();
            found.into_iter().find(|s| s.id == id).ok_or_else(|| {
                Failure::Error(format!("Did not find a match for --encrypt-vault-id={id} in the known vault-ids [{}]", ids.join(", ")))
            })
        }
    }
}

fn read_input(name: &str) -> Res<Vec<u8>> {
    let mut data = Vec::new();
    let r = if name == "-" { std::io::stdin().read_to_end(&mut data).map(|_| ()) } else { std::fs::read(name).map(|d| data = d) };
    r.map_err(|e| Failure::Error(format!("Unable to read source file ({name}): {e}")))?;
    Ok(data)
}

fn open(name: &str, secrets: &[VaultSecret]) -> Res<crate::vault::format::Decrypted> {
    let data = read_input(name)?;
    crate::vault::decrypt(&data, secrets).map_err(|e: VaultError| Failure::Error(format!("{e} for {name}")))
}

fn real_path(name: &str) -> Res<PathBuf> {
    std::fs::canonicalize(name).map_err(|e| Failure::Error(format!("Unable to read source file ({name}): {e}")))
}

/// Write to stdout (`-`) or replace a file atomically: a new 0600 file in the
/// same folder, renamed over the target (which, if a symlink, is followed).
/// `keep` gives the mode and owner to restore (rekey, edit).
fn write_output(data: &[u8], target: &str, keep: Option<&std::fs::Metadata>) -> Res<()> {
    if target == "-" {
        let mut out = std::io::stdout().lock();
        return out.write_all(data).and_then(|_| out.flush()).map_err(|e| Failure::Error(format!("cannot write to stdout: {e}")));
    }
    let path = std::fs::canonicalize(target).unwrap_or_else(|_| PathBuf::from(target));
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let fail = |e: std::io::Error| Failure::Error(format!("Unable to write {target}: {e}"));
    // tempfile creates it with mode 0600.
    let mut tmp = tempfile::Builder::new().prefix(".mailplay-vault-").tempfile_in(dir).map_err(fail)?;
    tmp.write_all(data).and_then(|_| tmp.as_file().sync_all()).map_err(fail)?;
    if let Some(meta) = keep {
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o7777)).map_err(fail)?;
        let _ = std::os::unix::fs::fchown(tmp.as_file(), Some(meta.uid()), Some(meta.gid()));
    }
    tmp.persist(&path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Decrypt into a 0600 file in a private 0700 folder, run the editor on it,
/// encrypt it back only if it changed (always for a new file), and remove
/// the plaintext whatever happens.
fn edit(target: &Path, secret: &VaultSecret, existing: Option<Vec<u8>>, vault_id: Option<&str>) -> Res<()> {
    let fail = |e: std::io::Error| Failure::Error(format!("cannot prepare the temporary file to edit {}: {e}", target.display()));
    let dir = tempfile::Builder::new().prefix("mailplay-vault-").tempdir().map_err(fail)?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).map_err(fail)?;
    let name = target.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "vault".into());
    let tmp = dir.path().join(name);
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(fail)?;
        f.write_all(existing.as_deref().unwrap_or_default()).and_then(|_| f.sync_all()).map_err(fail)?;
        drop(f);
        let editor = std::env::var("EDITOR").ok().filter(|e| !e.trim().is_empty()).unwrap_or_else(|| "vi".into());
        let argv = shell_words::split(&editor).map_err(|e| Failure::Error(format!("cannot parse EDITOR '{editor}': {e}")))?;
        let Some((program, args)) = argv.split_first() else { return Err(Failure::Error("EDITOR is empty".into())) };
        let status = std::process::Command::new(program)
            .args(args)
            .arg(&tmp)
            .status()
            .map_err(|e| Failure::Error(format!("Unable to execute the command \"{editor} {}\": {e}", tmp.display())))?;
        if !status.success() {
            return Err(Failure::Error(format!("the editor '{editor}' failed ({status}); {} was left unchanged", target.display())));
        }
        let edited = std::fs::read(&tmp).map_err(fail)?;
        if existing.as_deref() == Some(&edited[..]) {
            return Ok(());
        }
        let text = crate::vault::encrypt(&edited, secret, vault_id).map_err(|e| format!("{e} ({})", target.display()))?;
        let keep = std::fs::metadata(target).ok();
        write_output(text.as_bytes(), &target.display().to_string(), keep.as_ref())
    })();
    shred(&tmp);
    drop(dir);
    result
}

/// Overwrite the plaintext before removing it (best effort, as Ansible's
/// fallback when `shred` is missing).
fn shred(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path) {
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(path) {
            let _ = f.write_all(&vec![0u8; meta.len() as usize]).and_then(|_| f.sync_all());
        }
    }
    let _ = std::fs::remove_file(path);
}

/// `!vault |` and the ciphertext indented by 10, as ansible-vault prints it.
fn format_ciphertext_yaml(ciphertext: &str, name: Option<&str>) -> String {
    let mut lines = vec![format!("{}!vault |", name.map(|n| format!("{n}: ")).unwrap_or_default())];
    lines.extend(ciphertext.lines().map(|l| format!("{}{l}", " ".repeat(10))));
    lines.join("\n")
}

#[allow(clippy::too_many_arguments)]
fn encrypt_string(
    strings: Vec<String>,
    names: Vec<String>,
    stdin_name: Option<String>,
    prompt: bool,
    show_input: bool,
    output: Option<String>,
    enc: &EncryptOpts,
    vault: &VaultOpts,
) -> Res<()> {
    let read_stdin = strings.iter().any(|s| s == "-") || stdin_name.is_some() || (strings.is_empty() && !prompt);
    if prompt && read_stdin {
        return Err(Failure::Options("The --prompt option is not supported if also reading input from stdin".into()));
    }
    let secret = encrypt_secret(vault, enc)?;
    // (plaintext, where it came from, variable name)
    let mut items: Vec<(Vec<u8>, &str, Option<String>)> = Vec::new();
    if prompt {
        eprint!("Variable name (enter for no name): ");
        let mut name = String::new();
        std::io::stdin().read_line(&mut name).map_err(|e| format!("cannot read the variable name: {e}"))?;
        let name = name.trim_end_matches(['\r', '\n']).to_string();
        let text = if show_input {
            eprint!("String to encrypt: ");
            let mut t = String::new();
            std::io::stdin().read_line(&mut t).map_err(|e| format!("cannot read the string: {e}"))?;
            t.trim_end_matches(['\r', '\n']).to_string()
        } else {
            rpassword::prompt_password("String to encrypt (hidden): ").map_err(|e| format!("cannot read the string: {e}"))?
        };
        if text.is_empty() {
            return Err(Failure::Options("The plaintext provided from the prompt was empty, not encrypting".into()));
        }
        items.push((text.into_bytes(), "the interactive prompt", (!name.is_empty()).then_some(name)));
    }
    if read_stdin {
        if std::io::stdin().is_terminal() {
            eprintln!("Reading plaintext input from stdin. (ctrl-d to end input, twice if your content does not already have a newline)");
        }
        let text = read_input("-")?;
        if text.is_empty() {
            return Err(Failure::Options("stdin was empty, not encrypting".into()));
        }
        // As ansible-vault: what stdin gave, a final newline included.
        items.push((text, "stdin", stdin_name));
    }
    let args: Vec<String> = strings.into_iter().filter(|s| s != "-").collect();
    if !names.is_empty() && args.len() > names.len() {
        eprintln!("The number of --name options do not match the number of args.");
        eprintln!("The last named variable will be \"{}\". The rest will not have names.", names[names.len() - 1]);
    }
    for (i, a) in args.into_iter().enumerate() {
        if a.is_empty() {
            return Err(Failure::Options("The plaintext provided from the command line args was empty, not encrypting".into()));
        }
        items.push((a.into_bytes(), "the command line args", names.get(i).cloned()));
    }
    let several = items.len() > 1;
    let mut outs = Vec::new();
    for (n, (plain, src, name)) in items.iter().enumerate() {
        let text = crate::vault::encrypt(plain, &secret, Some(&secret.id)).map_err(|e| e.to_string())?;
        if several {
            match name {
                Some(name) => eprintln!("# The encrypted version of variable (\"{name}\", the string #{} from {src}).", n + 1),
                None => eprintln!("# The encrypted version of the string #{} from {src}.)", n + 1),
            }
        }
        outs.push(format_ciphertext_yaml(&text, name.as_deref()));
    }
    outs.push(String::new());
    write_output(outs.join("\n").as_bytes(), output.as_deref().unwrap_or("-"), None)?;
    if std::io::stdout().is_terminal() {
        eprintln!("Encryption successful");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ciphertext_yaml_is_laid_out_as_ansible_vault_prints_it() {
        let y = format_ciphertext_yaml("$ANSIBLE_VAULT;1.1;AES256\n6162\n6364\n", Some("pw"));
        assert_eq!(y, "pw: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n          6162\n          6364");
        assert!(format_ciphertext_yaml("$ANSIBLE_VAULT;1.1;AES256\n61\n", None).starts_with("!vault |\n"));
    }
}
