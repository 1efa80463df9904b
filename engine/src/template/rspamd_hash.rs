//! rspamd's controller password hash (`rspamadm pw`, type `pbkdf2`):
//! `$1$SALT$KEY`, where KEY is rspamd's PBKDF2 over keyed BLAKE2b-512
//! (16000 rounds, a 20-byte salt, a 32-byte key) and both are in rspamd's
//! base32 (z-base-32 alphabet, least significant bits first). rspamadm
//! reads the password from a terminal only and salts at random; the filter
//! takes the salt from a seed, so a converged host keeps the same line.

use blake2::digest::{Mac, Update, VariableOutput};
use blake2::{Blake2bMac512, Blake2bVar};

const ROUNDS: u32 = 16000;
const SALT_LEN: usize = 20;
const KEY_LEN: usize = 32;
const ALPHABET: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";

/// BLAKE2b-512 of `data` keyed with `key` (libsodium's crypto_generichash).
fn keyed_blake2b(key: &[u8], data: &[u8]) -> [u8; 64] {
    let mut mac = Blake2bMac512::new_with_salt_and_personal(key, &[], &[]).expect("a key of at most 64 bytes");
    Mac::update(&mut mac, data);
    mac.finalize().into_bytes().into()
}

fn blake2b(data: &[u8]) -> [u8; 64] {
    let mut h = Blake2bVar::new(64).expect("64 is a valid length");
    h.update(data);
    let mut out = [0u8; 64];
    h.finalize_variable(&mut out).expect("the buffer has the length asked for");
    out
}

/// rspamd_cryptobox_pbkdf2: PBKDF2's structure with keyed BLAKE2b as the
/// PRF; a password longer than a BLAKE2b key is hashed first (as rspamd).
fn pbkdf2_blake2b(password: &[u8], salt: &[u8], rounds: u32) -> [u8; KEY_LEN] {
    let hashed;
    let key = if password.len() <= 64 {
        password
    } else {
        hashed = blake2b(password);
        &hashed[..]
    };
    let mut block_salt = salt.to_vec();
    block_salt.extend_from_slice(&1u32.to_be_bytes());
    let mut d = keyed_blake2b(key, &block_salt);
    let mut out = d;
    for _ in 1..rounds {
        d = keyed_blake2b(key, &d);
        out.iter_mut().zip(d.iter()).for_each(|(o, x)| *o ^= x);
    }
    let mut key_out = [0u8; KEY_LEN];
    key_out.copy_from_slice(&out[..KEY_LEN]);
    key_out
}

/// rspamd's base32: the input read as one little-endian bit string, five
/// bits per character.
fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc |= (b as u32) << bits;
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[(acc & 31) as usize] as char);
            acc >>= 5;
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[(acc & 31) as usize] as char);
    }
    out
}

/// The salt of a seed (e.g. the host's name): the same password and seed
/// give the same line, a different seed a different salt.
fn salt_of(password: &str, seed: &str) -> [u8; SALT_LEN] {
    let digest = keyed_blake2b(b"mailplay rspamd salt", format!("{seed}\0{password}").as_bytes());
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&digest[..SALT_LEN]);
    salt
}

fn encode(password: &str, salt: &[u8]) -> String {
    format!("$1${}${}", base32(salt), base32(&pbkdf2_blake2b(password.as_bytes(), salt, ROUNDS)))
}

/// `{{ pw | rspamd_password_hash(seed) }}`.
pub fn rspamd_password_hash(password: &str, seed: &str) -> String {
    encode(password, &salt_of(password, seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> Vec<u8> {
        let (mut acc, mut bits, mut out) = (0u32, 0u32, Vec::new());
        for c in s.bytes() {
            acc |= (ALPHABET.iter().position(|&a| a == c).unwrap() as u32) << bits;
            bits += 5;
            if bits >= 8 {
                out.push((acc & 0xff) as u8);
                acc >>= 8;
                bits -= 8;
            }
        }
        out
    }

    /// Hashes from rspamd's own functional tests (test/functional/cases,
    /// passwords `q1` and `nq1`), made by `rspamadm pw`.
    #[test]
    fn matches_rspamadm() {
        for (password, line) in [
            ("q1", "$1$nxnwqu5t6ruqfzb4h7bs47ogmdk9sb74$c8mbmcfyd6aic1sm48qzxuzkw4nhx6te6h7owgxz63bcd7fqu1dy"),
            ("nq1", "$1$rhzzahtm8a5homdhh7z4qiiy7j8pzp4u$k5toro136brshjjuy9t39r785td69qodmd39qzygxuyehn9tqauy"),
        ] {
            let salt = decode(line.split('$').nth(2).unwrap());
            assert_eq!(salt.len(), SALT_LEN);
            assert_eq!(encode(password, &salt), line, "{password}");
        }
    }

    #[test]
    fn the_seed_decides_the_salt_and_nothing_else_changes_the_line() {
        let a = rspamd_password_hash("secret", "mx1");
        assert_eq!(a, rspamd_password_hash("secret", "mx1"));
        assert_ne!(a, rspamd_password_hash("secret", "mx2"));
        assert_ne!(a, rspamd_password_hash("other", "mx1"));
        assert!(!a.contains("secret") && a.starts_with("$1$") && a.len() == 3 + 32 + 1 + 52, "{a}");
    }
}
