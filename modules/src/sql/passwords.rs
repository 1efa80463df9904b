//! Password verifiers as the databases store them, computed here so that a
//! password can be compared with the stored one (an unchanged password is
//! `ok`) and set without its clear text ever reaching the host.
//!
//! - PostgreSQL: `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>` (RFC 5802/7677),
//!   or the legacy `md5` + md5(password + role name).
//! - MariaDB/MySQL `mysql_native_password`: `*` + upper(hex(sha1(sha1(pw)))).
//! - SHA-512 crypt (`$6$`) for password columns in user tables.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;
use sha2::{Digest, Sha256};

const SCRAM_ITERATIONS: u32 = 4096;

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(msg);
    m.finalize().into_bytes().into()
}

/// The (StoredKey, ServerKey) pair for `password` with `salt` and `iterations`.
fn scram_keys(password: &str, salt: &[u8], iterations: u32) -> ([u8; 32], [u8; 32]) {
    // PostgreSQL applies SASLprep; for ASCII passwords it is the identity.
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut salted);
    let client_key = hmac_sha256(&salted, b"Client Key");
    let stored_key: [u8; 32] = Sha256::digest(client_key).into();
    let server_key = hmac_sha256(&salted, b"Server Key");
    (stored_key, server_key)
}

/// A fresh SCRAM-SHA-256 verifier with a random salt, as PostgreSQL stores it.
pub fn scram_sha256_verifier(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    scram_verifier_with(password, &salt, SCRAM_ITERATIONS)
}

pub fn scram_verifier_with(password: &str, salt: &[u8], iterations: u32) -> String {
    let (stored, server) = scram_keys(password, salt, iterations);
    format!("SCRAM-SHA-256${iterations}:{}${}:{}", B64.encode(salt), B64.encode(stored), B64.encode(server))
}

/// Whether `stored` (pg_authid.rolpassword) is a verifier of `password` for role `role`.
pub fn postgres_password_matches(stored: &str, password: &str, role: &str) -> bool {
    if let Some(rest) = stored.strip_prefix("SCRAM-SHA-256$") {
        let parse = || -> Option<bool> {
            let (iter_salt, keys) = rest.split_once('$')?;
            let (iter, salt) = iter_salt.split_once(':')?;
            let (stored_key, server_key) = keys.split_once(':')?;
            let (s, k) = scram_keys(password, &B64.decode(salt).ok()?, iter.parse().ok()?);
            Some(B64.encode(s) == stored_key && B64.encode(k) == server_key)
        };
        return parse().unwrap_or(false);
    }
    if let Some(hex) = stored.strip_prefix("md5") {
        let digest = md5_hex(&format!("{password}{role}"));
        return digest == hex;
    }
    false
}

fn md5_hex(s: &str) -> String {
    use md5::{Digest as _, Md5};
    Md5::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// `mysql_native_password`'s stored form of `password`.
pub fn mysql_native_hash(password: &str) -> String {
    let once = Sha1::digest(password.as_bytes());
    let twice = Sha1::digest(once);
    format!("*{}", twice.iter().map(|b| format!("{b:02X}")).collect::<String>())
}

/// A new `$6$` SHA-512 crypt hash with a random salt.
pub fn sha512_crypt(password: &str) -> String {
    const SALT_CHARS: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    let salt: String = (0..16).map(|_| SALT_CHARS[(rng.next_u32() as usize) % SALT_CHARS.len()] as char).collect();
    let params = sha_crypt::Sha512Params::new(5000).expect("5000 rounds is valid");
    let hash = sha_crypt::sha512_crypt_b64(password.as_bytes(), salt.as_bytes(), &params).expect("salt is valid");
    format!("$6${salt}${hash}")
}

/// Whether a `$6$` crypt string is a hash of `password`.
pub fn sha512_crypt_matches(stored: &str, password: &str) -> bool {
    sha_crypt::sha512_check(password, stored).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scram_matches_postgresql() {
        // Captured from PostgreSQL 15: SET password_encryption = 'scram-sha-256';
        // CREATE ROLE t PASSWORD 'secret'; SELECT rolpassword FROM pg_authid WHERE rolname='t';
        let stored = "SCRAM-SHA-256$4096:FO2suQvJAY4RGrKfzJGKvA==$tLdEGsikIDszlkxqqUZM5znO/vEJVTophHsMyENXeHU=:bbhKElcMwnU9v5/h/46KkOwFPXq23hyBftou+/fLMgU=";
        assert!(postgres_password_matches(stored, "secret", "t"));
        assert!(!postgres_password_matches(stored, "Secret", "t"));
        let mine = scram_sha256_verifier("pässwörd");
        assert!(postgres_password_matches(&mine, "pässwörd", "x"));
        assert!(!postgres_password_matches(&mine, "passwörd", "x"));
    }

    #[test]
    fn md5_passwords_are_compared_with_the_role_name() {
        // md5('secret' || 'mail_access')
        let stored = format!("md5{}", md5_hex("secretmail_access"));
        assert!(postgres_password_matches(&stored, "secret", "mail_access"));
        assert!(!postgres_password_matches(&stored, "secret", "mail_transfer"));
    }

    #[test]
    fn mysql_native_hash_matches_mariadb() {
        // SELECT PASSWORD('secret') on MariaDB 10.11 (= sha1(sha1) by hand).
        assert_eq!(mysql_native_hash("secret"), "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7");
    }

    #[test]
    fn sha512_crypt_round_trip() {
        let h = sha512_crypt("secret");
        assert!(h.starts_with("$6$") && h.len() > 90, "{h}");
        assert!(sha512_crypt_matches(&h, "secret"));
        assert!(!sha512_crypt_matches(&h, "secreT"));
        // `openssl passwd -6 -salt abcdefgh secret`
        assert!(sha512_crypt_matches(
            "$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG.",
            "secret"
        ));
    }
}
