//! Which strings came from a `!vault` value, for Ansible's
//! `vault_encrypted` test.
//!
//! Ansible 2.19 keeps a decrypted `!vault` value as an `EncryptedString`
//! (or a string tagged `VaultedValue`) and `vault_encrypted` asks for that
//! origin, not for the `$ANSIBLE_VAULT` header: a plain string holding
//! vault text is not "vault encrypted". mailplay's values are plain JSON
//! and carry no origin, so the loader records each `!vault` plaintext
//! here and the test asks whether a string is one of them. The difference
//! that remains: another string that happens to be equal to a `!vault`
//! plaintext of the run also counts (Ansible's tag would not be on it),
//! the same approximation the reporters' masking of run secrets makes.

use std::collections::HashSet;
use std::sync::{OnceLock, RwLock};

fn plaintexts() -> &'static RwLock<HashSet<String>> {
    static SET: OnceLock<RwLock<HashSet<String>>> = OnceLock::new();
    SET.get_or_init(Default::default)
}

/// Remember the plaintext of a `!vault` value the run loaded.
pub fn note_vaulted(plaintext: &str) {
    plaintexts().write().unwrap_or_else(|e| e.into_inner()).insert(plaintext.to_string());
}

/// Whether `value` is the plaintext of a `!vault` value the run loaded.
pub fn is_vaulted(value: &str) -> bool {
    plaintexts().read().unwrap_or_else(|e| e.into_inner()).contains(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_noted_plaintexts_are_vaulted() {
        assert!(!is_vaulted("origin-test plaintext"));
        note_vaulted("origin-test plaintext");
        assert!(is_vaulted("origin-test plaintext"));
        assert!(!is_vaulted("origin-test plaintext "));
    }
}
