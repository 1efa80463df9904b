//! Ansible Vault: encrypted vars files and `!vault` values.
//!
//! The CLI turns `--vault-id`, `--vault-password-file` and `--ask-vault-pass`
//! into [`VaultSecret`]s ([`secrets::setup`]) and installs them for the
//! process with [`set_secrets`] before anything is loaded. From then on
//! every YAML file the engine reads (`yaml::parse_file`) is decrypted first
//! if it is a vault, and every `!vault` value in it is decrypted in place
//! (`yaml.rs`), its plaintext registered as a run secret for the reporters to
//! mask. Whole-file vaults are not masked value by value, as in Ansible.

pub mod format;
pub mod origin;
pub mod secrets;

use std::path::Path;
use std::sync::{Arc, RwLock};

use crate::diag::Diagnostic;

pub use format::{decrypt, encrypt, is_encrypted, VaultError};

/// One vault password and its label (`default` when given without one).
/// It never prints its bytes.
#[derive(Clone)]
pub struct VaultSecret {
    pub id: String,
    bytes: Vec<u8>,
}

impl VaultSecret {
    pub fn new(id: impl Into<String>, bytes: Vec<u8>) -> Self {
        VaultSecret { id: id.into(), bytes }
    }
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl std::fmt::Debug for VaultSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VaultSecret({}, {})", self.id, mailplay_modules::secret::MASK)
    }
}

/// How loading treats `!vault` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InlineMode {
    /// Decrypt them (playbook runs).
    #[default]
    Decrypt,
    /// Keep them encrypted as `{"__ansible_vault": "<ciphertext>"}`, as
    /// ansible-inventory prints them.
    Keep,
}

/// The secrets and mode of this process.
#[derive(Debug, Clone, Default)]
pub struct VaultContext {
    pub secrets: Vec<VaultSecret>,
    pub inline: InlineMode,
}

static CONTEXT: RwLock<Option<Arc<VaultContext>>> = RwLock::new(None);

/// Install the secrets every later load uses (the CLI does this once).
pub fn set_secrets(secrets: Vec<VaultSecret>, inline: InlineMode) {
    *CONTEXT.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(VaultContext { secrets, inline }));
}

/// The installed secrets (none until the CLI installed some).
pub fn context() -> Arc<VaultContext> {
    CONTEXT.read().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_default()
}

/// Read a text file, decrypting it first if it is a whole-file vault.
/// Returns the text and whether it was encrypted.
pub fn read_text(path: &Path, ctx: &VaultContext) -> Result<(String, bool), Diagnostic> {
    let bytes = std::fs::read(path).map_err(|e| Diagnostic::in_file(path, format!("cannot read file: {e}")))?;
    open_text(path, bytes, ctx)
}

/// The text of a file's content `bytes`, decrypted if it is a vault.
pub fn open_text(path: &Path, bytes: Vec<u8>, ctx: &VaultContext) -> Result<(String, bool), Diagnostic> {
    if !is_encrypted(&bytes) {
        let text = String::from_utf8(bytes).map_err(|_| Diagnostic::in_file(path, "cannot read file: it is not UTF-8 text"))?;
        return Ok((text, false));
    }
    let opened = decrypt(&bytes, &ctx.secrets).map_err(|e| file_error(path, &e))?;
    let text = String::from_utf8(opened.plaintext)
        .map_err(|_| Diagnostic::in_file(path, "the decrypted content of this vault-encrypted file is not UTF-8 text"))?;
    Ok((text, true))
}

/// A vault error about a whole file.
pub fn file_error(path: &Path, e: &VaultError) -> Diagnostic {
    Diagnostic::in_file(path, format!("{e} on this vault-encrypted file"))
}

/// Whether a diagnostic is a vault failure (wrong or missing password, bad
/// vault data): ansible-playbook exits 1 for these, not 4 as for syntax.
pub fn is_vault_diagnostic(d: &Diagnostic) -> bool {
    VAULT_MESSAGES.iter().any(|m| d.message.starts_with(m))
}

/// Whether an error text (e.g. a rendered diagnostic) reports a vault failure.
pub fn is_vault_message(text: &str) -> bool {
    VAULT_MESSAGES.iter().any(|m| text.contains(m))
}

/// How every [`VaultError`] about reading a vault begins.
const VAULT_MESSAGES: [&str; 4] = [
    "Attempting to decrypt but no vault secrets found",
    "Decryption failed (no vault secrets were found",
    "Vault format error:",
    "Vault cipher '",
];
