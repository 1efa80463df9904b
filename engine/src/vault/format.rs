//! The Ansible Vault format, as `ansible/parsing/vault/__init__.py` (2.19)
//! writes and reads it.
//!
//! ```text
//! $ANSIBLE_VAULT;1.1;AES256              (or 1.2;AES256;<vault-id label>)
//! <hex of: hex(salt) \n hex(hmac) \n hex(ciphertext)>, cut into 80-column lines
//! ```
//!
//! AES256 is PBKDF2-HMAC-SHA256 (10000 iterations, 32-byte salt) deriving 80
//! bytes = AES key (32) + HMAC key (32) + CTR initial counter (16); the
//! plaintext is PKCS#7-padded to 16 bytes and encrypted with AES-256-CTR; the
//! HMAC-SHA256 of the ciphertext authenticates it (checked in constant time
//! before anything is decrypted). All primitives are RustCrypto crates.

use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::VaultSecret;

pub const HEADER: &str = "$ANSIBLE_VAULT";
const CIPHER: &str = "AES256";
const ITERATIONS: u32 = 10_000;
const KEY_LEN: usize = 32;
const IV_LEN: usize = 16;
pub const SALT_LEN: usize = 32;
/// The label of a secret given without one (`--vault-password-file`,
/// `--ask-vault-pass`), Ansible's `DEFAULT_VAULT_IDENTITY`.
pub const DEFAULT_ID: &str = "default";

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;
type HmacSha256 = Hmac<Sha256>;

/// Why vault data could not be read or written. The messages are Ansible's;
/// none of them carries a password or plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultError {
    /// Vault data, but no password was given at all.
    NoSecrets,
    /// No given password opens it (wrong password, or tampered data).
    DecryptionFailed,
    /// Not the vault format: bad header, bad hex, missing parts.
    Format(String),
    /// A cipher other than AES256 in the header.
    UnknownCipher(String),
    /// `encrypt` of something that is already a vault.
    AlreadyEncrypted,
}

impl std::fmt::Display for VaultError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VaultError::NoSecrets => f.write_str(
                "Attempting to decrypt but no vault secrets found (give the vault password with --vault-password-file, --vault-id or --ask-vault-pass)",
            ),
            VaultError::DecryptionFailed => f.write_str("Decryption failed (no vault secrets were found that could decrypt)"),
            VaultError::Format(m) => write!(f, "Vault format error: {m}"),
            VaultError::UnknownCipher(c) => write!(f, "Vault cipher '{c}' could not be found (only AES256 is supported)"),
            VaultError::AlreadyEncrypted => f.write_str("input is already encrypted"),
        }
    }
}

impl std::error::Error for VaultError {}

/// Vault data starts with the header (Ansible's `is_encrypted`).
pub fn is_encrypted(data: &[u8]) -> bool {
    data.starts_with(HEADER.as_bytes())
}

/// The parts of a vault envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub version: String,
    pub cipher: String,
    /// The 1.2 label, if the header has one.
    pub vault_id: Option<String>,
    /// The (outer) hex payload with the line breaks removed.
    pub payload: Vec<u8>,
}

/// Split the header from the payload (`parse_vaulttext_envelope`).
pub fn parse_envelope(data: &[u8]) -> Result<Envelope, VaultError> {
    let text = std::str::from_utf8(data).map_err(|_| VaultError::Format("vault data must be ASCII text".into()))?;
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("").trim();
    let fields: Vec<&str> = header.split(';').map(str::trim).collect();
    if fields.len() < 3 || fields[0] != HEADER {
        return Err(VaultError::Format(format!("bad header '{}', expected '{HEADER};1.1;AES256'", truncate(header))));
    }
    let vault_id = fields.get(3).filter(|s| !s.is_empty()).map(|s| s.to_string());
    // Ansible joins the lines as they are; surrounding blanks (an indented
    // `!vault |` pasted by hand) are dropped here too.
    let payload: String = lines.map(str::trim).collect();
    if payload.is_empty() {
        return Err(VaultError::Format("no encrypted data after the header".into()));
    }
    Ok(Envelope { version: fields[1].to_string(), cipher: fields[2].to_string(), vault_id, payload: payload.into_bytes() })
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

/// Header plus the payload cut into 80-column lines, ending in a newline
/// (`format_vaulttext_envelope`). A label other than `default` makes it 1.2.
pub fn format_envelope(payload: &[u8], vault_id: Option<&str>) -> String {
    let mut out = String::from(HEADER);
    match vault_id {
        Some(id) if id != DEFAULT_ID => {
            out.push_str(";1.2;");
            out.push_str(CIPHER);
            out.push(';');
            out.push_str(id);
        }
        _ => {
            out.push_str(";1.1;");
            out.push_str(CIPHER);
        }
    }
    for chunk in payload.chunks(80) {
        out.push('\n');
        out.push_str(&String::from_utf8_lossy(chunk));
    }
    out.push('\n');
    out
}

struct Keys {
    cipher: [u8; KEY_LEN],
    mac: [u8; KEY_LEN],
    iv: [u8; IV_LEN],
}

fn derive(password: &[u8], salt: &[u8]) -> Keys {
    let mut derived = [0u8; 2 * KEY_LEN + IV_LEN];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, ITERATIONS, &mut derived);
    let mut k = Keys { cipher: [0; KEY_LEN], mac: [0; KEY_LEN], iv: [0; IV_LEN] };
    k.cipher.copy_from_slice(&derived[..KEY_LEN]);
    k.mac.copy_from_slice(&derived[KEY_LEN..2 * KEY_LEN]);
    k.iv.copy_from_slice(&derived[2 * KEY_LEN..]);
    k
}

fn mac(keys: &Keys) -> HmacSha256 {
    <HmacSha256 as Mac>::new_from_slice(&keys.mac).expect("HMAC takes a key of any length")
}

/// AES256 encryption of `plaintext` into the (outer hex) payload.
pub fn encrypt_payload(plaintext: &[u8], password: &[u8], salt: &[u8]) -> Vec<u8> {
    let keys = derive(password, salt);
    // PKCS#7 to the AES block size, as Ansible pads even for CTR mode.
    let pad = 16 - plaintext.len() % 16;
    let mut data = Vec::with_capacity(plaintext.len() + pad);
    data.extend_from_slice(plaintext);
    data.extend(std::iter::repeat_n(pad as u8, pad));
    Aes256Ctr::new(&keys.cipher.into(), &keys.iv.into()).apply_keystream(&mut data);
    let mut m = mac(&keys);
    m.update(&data);
    let tag = m.finalize().into_bytes();
    let inner = format!("{}\n{}\n{}", hex::encode(salt), hex::encode(tag), hex::encode(&data));
    hex::encode(inner).into_bytes()
}

/// Salt, HMAC and ciphertext.
type Parts = (Vec<u8>, Vec<u8>, Vec<u8>);

/// The salt, HMAC and ciphertext of a payload (`parse_vaulttext`).
fn split_payload(payload: &[u8]) -> Result<Parts, VaultError> {
    let inner = hex::decode(payload).map_err(|e| VaultError::Format(format!("the encrypted data is not hexadecimal ({e})")))?;
    let mut parts = inner.splitn(3, |b| *b == b'\n');
    let (Some(salt), Some(tag), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(VaultError::Format("the encrypted data lacks its salt, HMAC or ciphertext".into()));
    };
    let unhex = |what: &str, v: &[u8]| hex::decode(v).map_err(|e| VaultError::Format(format!("the {what} is not hexadecimal ({e})")));
    Ok((unhex("salt", salt)?, unhex("HMAC", tag)?, unhex("ciphertext", data)?))
}

/// Outcome of trying one password on a payload.
enum Attempt {
    Opened(Vec<u8>),
    WrongPassword,
}

fn decrypt_payload(salt: &[u8], tag: &[u8], data: &[u8], password: &[u8]) -> Attempt {
    let keys = derive(password, salt);
    let mut m = mac(&keys);
    m.update(data);
    // Constant-time comparison (hmac's verify uses `subtle`).
    if m.verify_slice(tag).is_err() {
        return Attempt::WrongPassword;
    }
    let mut plain = data.to_vec();
    Aes256Ctr::new(&keys.cipher.into(), &keys.iv.into()).apply_keystream(&mut plain);
    // PKCS#7: the last byte says how much padding there is; a bad one (the
    // HMAC matched, so only a broken encryptor makes it) is a format error,
    // reported as a failed decryption rather than a panic.
    match plain.last().copied() {
        Some(n) if (1..=16).contains(&n) && plain.len() >= n as usize && plain[plain.len() - n as usize..].iter().all(|b| *b == n) => {
            plain.truncate(plain.len() - n as usize);
            Attempt::Opened(plain)
        }
        _ => Attempt::WrongPassword,
    }
}

/// Encrypt `plaintext` with `secret` under `vault_id` (`VaultLib.encrypt`):
/// a fresh random 32-byte salt, format 1.1 for the `default` id or none,
/// 1.2 with the label otherwise.
pub fn encrypt(plaintext: &[u8], secret: &VaultSecret, vault_id: Option<&str>) -> Result<String, VaultError> {
    if is_encrypted(plaintext) {
        return Err(VaultError::AlreadyEncrypted);
    }
    let salt = random_salt();
    Ok(encrypt_with_salt(plaintext, secret.bytes(), &salt, vault_id))
}

/// Deterministic encryption for tests and known vectors.
pub fn encrypt_with_salt(plaintext: &[u8], password: &[u8], salt: &[u8], vault_id: Option<&str>) -> String {
    format_envelope(&encrypt_payload(plaintext, password, salt), vault_id)
}

fn random_salt() -> [u8; SALT_LEN] {
    use rand::TryRngCore;
    let mut salt = [0u8; SALT_LEN];
    // The operating system's generator, as Ansible's os.urandom.
    rand::rngs::OsRng.try_fill_bytes(&mut salt).expect("the operating system's random generator works");
    salt
}

/// What decryption found.
#[derive(Debug)]
pub struct Decrypted {
    pub plaintext: Vec<u8>,
    /// The label of the secret that opened it.
    pub vault_id_used: String,
    /// Its index in the secrets given.
    pub secret_index: usize,
    pub envelope: Envelope,
}

/// Decrypt vault data with the first secret that opens it
/// (`VaultLib.decrypt_and_get_vault_id`): the secrets whose label matches
/// the 1.2 header's label first, then all others, in the order given.
pub fn decrypt(data: &[u8], secrets: &[VaultSecret]) -> Result<Decrypted, VaultError> {
    let trimmed = trim_ascii_start(data);
    if !is_encrypted(trimmed) {
        return Err(VaultError::Format(format!("input is not vault encrypted data (it must start with {HEADER})")));
    }
    let envelope = parse_envelope(trimmed)?;
    if envelope.cipher != CIPHER {
        return Err(VaultError::UnknownCipher(envelope.cipher.clone()));
    }
    let (salt, tag, ciphertext) = split_payload(&envelope.payload)?;
    if secrets.is_empty() {
        return Err(VaultError::NoSecrets);
    }
    let label = envelope.vault_id.clone().unwrap_or_else(|| DEFAULT_ID.to_string());
    let order = secrets.iter().enumerate().filter(|(_, s)| s.id == label).chain(secrets.iter().enumerate().filter(|(_, s)| s.id != label));
    for (index, secret) in order {
        if let Attempt::Opened(plaintext) = decrypt_payload(&salt, &tag, &ciphertext, secret.bytes()) {
            return Ok(Decrypted { plaintext, vault_id_used: secret.id.clone(), secret_index: index, envelope });
        }
    }
    Err(VaultError::DecryptionFailed)
}

fn trim_ascii_start(data: &[u8]) -> &[u8] {
    let n = data.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &data[n..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(id: &str, pw: &str) -> VaultSecret {
        VaultSecret::new(id, pw.as_bytes().to_vec())
    }

    // Produced by ansible-vault 2.19 (`tests/fixtures/vault/`, password in
    // `password`): the vectors must decrypt to exactly these bytes.
    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/vault");
    const PLAIN: &str = "mail_db_password: s3cr3t-db\nmail_admin_password: \"pa:ss word\"\n";

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
    }
    fn fixture_password() -> Vec<u8> {
        fixture("password").trim_ascii().to_vec()
    }

    #[test]
    fn decrypts_ansible_vault_1_1_and_1_2_vectors() {
        let s = [VaultSecret::new("default", fixture_password())];
        let d = decrypt(&fixture("vars-1.1.yml"), &s).unwrap();
        assert_eq!(String::from_utf8(d.plaintext).unwrap(), PLAIN);
        assert_eq!(d.envelope.version, "1.1");
        assert_eq!(d.envelope.vault_id, None);
        let d = decrypt(&fixture("vars-1.2-prod.yml"), &s).unwrap();
        assert_eq!(String::from_utf8(d.plaintext).unwrap(), PLAIN);
        assert_eq!((d.envelope.version.as_str(), d.envelope.vault_id.as_deref()), ("1.2", Some("prod")));
    }

    #[test]
    fn our_encryption_with_ansibles_salt_is_byte_identical() {
        // Same password and salt as the fixture ⇒ the same bytes, so the
        // key derivation, padding, CTR, HMAC, hex and wrapping all match.
        for (name, id) in [("vars-1.1.yml", None), ("vars-1.2-prod.yml", Some("prod"))] {
            let text = fixture(name);
            let env = parse_envelope(&text).unwrap();
            let (salt, _, _) = split_payload(&env.payload).unwrap();
            assert_eq!(salt.len(), SALT_LEN);
            let ours = encrypt_with_salt(PLAIN.as_bytes(), &fixture_password(), &salt, id);
            assert_eq!(ours.as_bytes(), &text[..], "{name}");
        }
    }

    #[test]
    fn round_trip_with_random_salts_and_every_padding_length() {
        let s = secret("default", "pw");
        for n in [0, 1, 15, 16, 17, 31, 32, 33] {
            let plain = "x".repeat(n);
            let a = encrypt(plain.as_bytes(), &s, None).unwrap();
            let b = encrypt(plain.as_bytes(), &s, None).unwrap();
            assert_ne!(a, b, "a fresh salt each time");
            assert!(a.lines().skip(1).all(|l| l.len() <= 80));
            assert_eq!(decrypt(a.as_bytes(), std::slice::from_ref(&s)).unwrap().plaintext, plain.as_bytes());
        }
    }

    #[test]
    fn wrong_or_missing_password_is_an_error() {
        let text = fixture("vars-1.1.yml");
        assert_eq!(decrypt(&text, &[secret("default", "nope")]).unwrap_err(), VaultError::DecryptionFailed);
        assert_eq!(decrypt(&text, &[]).unwrap_err(), VaultError::NoSecrets);
        assert!(VaultError::NoSecrets.to_string().starts_with("Attempting to decrypt but no vault secrets found"));
    }

    #[test]
    fn the_matching_label_is_tried_first_then_the_others() {
        let pw = String::from_utf8(fixture_password()).unwrap();
        let text = fixture("vars-1.2-prod.yml");
        // Wrong one labelled `dev` first, right one labelled `other`: still opens.
        let d = decrypt(&text, &[secret("dev", "bad"), secret("other", &pw)]).unwrap();
        assert_eq!((d.vault_id_used.as_str(), d.secret_index), ("other", 1));
        // Two secrets open it: the one labelled `prod` wins though given last.
        let d = decrypt(&text, &[secret("default", &pw), secret("prod", &pw)]).unwrap();
        assert_eq!((d.vault_id_used.as_str(), d.secret_index), ("prod", 1));
    }

    #[test]
    fn a_label_makes_format_1_2_and_default_stays_1_1() {
        let s = secret("x", "pw");
        assert!(encrypt(b"a", &s, Some("prod")).unwrap().starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
        assert!(encrypt(b"a", &s, Some("default")).unwrap().starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
        assert!(encrypt(b"a", &s, None).unwrap().starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
        assert_eq!(encrypt(b"$ANSIBLE_VAULT;1.1;AES256\n00", &s, None).unwrap_err(), VaultError::AlreadyEncrypted);
    }

    #[test]
    fn malformed_vaults_are_errors_never_panics() {
        let s = [secret("default", "pw")];
        let good = encrypt(b"hello", &s[0], None).unwrap();
        let cases: Vec<Vec<u8>> = vec![
            b"$ANSIBLE_VAULT".to_vec(),
            b"$ANSIBLE_VAULT;1.1".to_vec(),
            b"$ANSIBLE_VAULT;1.1;AES256".to_vec(),
            b"$ANSIBLE_VAULT;1.1;AES256\nzz\n".to_vec(),
            b"$ANSIBLE_VAULT;1.1;AES256\n616\n".to_vec(),
            b"$ANSIBLE_VAULT;1.1;AES256\n6161\n".to_vec(),
            b"$ANSIBLE_VAULT;1.1;AES256\n61610a62620a7a7a\n".to_vec(),
            b"$ANSIBLE_VAULT;1.1;AES\n6161\n".to_vec(),
            b"$ANSIBLE_VAULT;1.1;AES256\n\xff\xfe\n".to_vec(),
            b"not a vault".to_vec(),
            good.replacen("AES256\n", "AES256\n00", 1).into_bytes(),
            good.as_bytes()[..good.len() - 10].to_vec(),
        ];
        for c in cases {
            let e = decrypt(&c, &s).unwrap_err();
            assert!(!matches!(e, VaultError::NoSecrets), "{e}");
        }
        // A flipped ciphertext byte fails the HMAC: no plaintext comes out.
        let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
        let last = lines.last_mut().unwrap();
        let flipped = if last.ends_with('0') { '1' } else { '0' };
        last.pop();
        last.push(flipped);
        assert!(decrypt(lines.join("\n").as_bytes(), &s).is_err());
    }

    #[test]
    fn the_header_label_is_parsed_with_blanks_and_indentation_removed() {
        let e = parse_envelope(b"$ANSIBLE_VAULT;1.2;AES256;prod \n  6162\n  6364\n").unwrap();
        assert_eq!(e.vault_id.as_deref(), Some("prod"));
        assert_eq!(e.payload, b"61626364");
    }
}
