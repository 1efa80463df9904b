//! Ansible's hashing filters: `hash` (Python's `hashlib.new(name)`),
//! `checksum`, `password_hash` (passlib's crypt schemes, as Ansible maps
//! them) and `to_uuid` (`uuid.uuid5` in Ansible's namespace), all on
//! RustCrypto's digests.

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State, Value as JValue};

use super::filters::text_of;

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// ansible.plugins.filter.core.UUID_NAMESPACE_ANSIBLE.
const UUID_NAMESPACE_ANSIBLE: &str = "361E6D51-FAEC-444A-9079-341386DA8E2E";

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("hash", |v: JValue, algo: Option<String>| -> Result<String, Error> {
        hash(&text_of(&v), algo.as_deref().unwrap_or("sha1"))
    });
    env.add_filter("checksum", |v: JValue| -> Result<String, Error> { hash(&text_of(&v), "sha1") });
    env.add_filter("password_hash", password_hash);
    env.add_filter("to_uuid", |s: JValue, namespace: Option<JValue>, kw: Kwargs| -> Result<String, Error> {
        let namespace = match namespace {
            Some(n) => Some(n),
            None => kw.get::<Option<JValue>>("namespace")?,
        };
        kw.assert_all_used()?;
        let ns = match namespace {
            None => parse_uuid(UUID_NAMESPACE_ANSIBLE).map_err(err)?,
            Some(n) => match n.as_str() {
                Some(text) => parse_uuid(text).map_err(|e| err(format!("Invalid value '{text}' for 'namespace': {e}")))?,
                None => {
                    return Err(err(format!(
                        "Invalid value '{}' for 'namespace': '{}' object has no attribute 'replace'",
                        text_of(&n),
                        super::filters::python_type(&n)
                    )))
                }
            },
        };
        Ok(uuid5(&ns, &text_of(&s)))
    });
}

/// `hashlib.new(name)` of the text's UTF-8 bytes, as hex.
pub fn hash(data: &str, algo: &str) -> Result<String, Error> {
    use sha2::Digest;
    let b = data.as_bytes();
    Ok(match algo {
        "sha1" => format!("{:x}", sha1::Sha1::digest(b)),
        "md5" => format!("{:x}", md5::Md5::digest(b)),
        "sha224" => format!("{:x}", sha2::Sha224::digest(b)),
        "sha256" => format!("{:x}", sha2::Sha256::digest(b)),
        "sha384" => format!("{:x}", sha2::Sha384::digest(b)),
        "sha512" => format!("{:x}", sha2::Sha512::digest(b)),
        "blake2b" => format!("{:x}", blake2::Blake2b512::digest(b)),
        "blake2s" => format!("{:x}", blake2::Blake2s256::digest(b)),
        other => return Err(err(format!("unsupported hash type {other}"))),
    })
}

/// Python's `uuid.UUID(text)`: 32 hex digits, with or without braces,
/// `urn:uuid:` and hyphens.
fn parse_uuid(text: &str) -> Result<[u8; 16], String> {
    let t = text.trim().trim_start_matches("urn:").trim_start_matches("uuid:");
    let hex: String = t.trim_matches(|c| c == '{' || c == '}').replace('-', "");
    if hex.len() != 32 {
        return Err("badly formed hexadecimal UUID string".into());
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| "badly formed hexadecimal UUID string".to_string())?;
    }
    Ok(out)
}

/// RFC 4122 version 5: SHA-1 of the namespace and the name.
fn uuid5(ns: &[u8; 16], name: &str) -> String {
    use sha1::Digest;
    let digest = sha1::Sha1::new().chain_update(ns).chain_update(name.as_bytes()).finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// `password_hash(hashtype='sha512', salt=None, salt_size=None,
/// rounds=None, ident=None)`: a crypt(3) string. Ansible maps `sha512`,
/// `sha256`, `md5`, `blowfish` to passlib's schemes; mailplay has the
/// SHA-2 ones (glibc's `$6$` and `$5$`) and refuses the others by name.
fn password_hash(state: &State, pw: String, hashtype: Option<String>, salt: Option<JValue>, kwargs: Kwargs) -> Result<String, Error> {
    let hashtype = match hashtype {
        Some(h) => h,
        None => kwargs.get::<Option<String>>("hashtype")?.unwrap_or_else(|| "sha512".into()),
    };
    let salt = match salt {
        Some(s) => Some(s),
        None => kwargs.get::<Option<JValue>>("salt")?,
    };
    let salt_size: Option<JValue> = kwargs.get("salt_size")?;
    let rounds: Option<JValue> = kwargs.get("rounds")?;
    let ident: Option<JValue> = kwargs.get("ident")?;
    kwargs.assert_all_used()?;
    let scheme = match hashtype.as_str() {
        "sha512" | "sha512_crypt" => "sha512_crypt",
        "sha256" | "sha256_crypt" => "sha256_crypt",
        "md5" | "md5_crypt" | "blowfish" | "bcrypt" => {
            return Err(err(format!("password_hash: the {hashtype} scheme is not supported by mailplay (it has sha512 and sha256)")))
        }
        other => return Err(err(format!("{other} is not in the list of supported passlib algorithms: md5, blowfish, sha256, sha512"))),
    };
    if ident.as_ref().is_some_and(|i| !i.is_none()) {
        return Err(err("password_hash: ident is not supported by mailplay for the sha512 and sha256 schemes"));
    }
    let salt_size = match salt_size.filter(|s| !s.is_none()) {
        None => 16,
        Some(s) if s.kind() == ValueKind::Number && s.as_i64().is_some() => s.as_i64().unwrap_or(16).clamp(0, 16) as usize,
        Some(_) => return Err(err("salt_size must be an integer")),
    };
    let rounds = match rounds.filter(|r| !r.is_none() && r.is_true()) {
        None => 5000,
        Some(r) => r.as_i64().filter(|r| *r > 0).ok_or_else(|| err("Could not hash the secret."))? as usize,
    };
    // One round of SHA-2 crypt costs about what an instruction does.
    state.consume_fuel(rounds as u64)?;
    let salt = match salt.filter(|s| !s.is_none()) {
        Some(s) => text_of(&s),
        None => random_salt(salt_size),
    };
    crypt(&pw, scheme, &salt, rounds).ok_or_else(|| err("Could not hash the secret."))
}

/// glibc's SHA-2 crypt; the default 5000 rounds are not written in the
/// string, like glibc and passlib. None for rounds or a salt it refuses.
pub fn crypt(pw: &str, scheme: &str, salt: &str, rounds: usize) -> Option<String> {
    if !(1000..=999_999_999).contains(&rounds) || !salt.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '/') {
        return None;
    }
    let salt: String = salt.chars().take(16).collect();
    let (id, hash) = if scheme == "sha256_crypt" {
        let params = sha_crypt::Sha256Params::new(rounds).ok()?;
        ("5", sha_crypt::sha256_crypt_b64(pw.as_bytes(), salt.as_bytes(), &params).ok()?)
    } else {
        let params = sha_crypt::Sha512Params::new(rounds).ok()?;
        ("6", sha_crypt::sha512_crypt_b64(pw.as_bytes(), salt.as_bytes(), &params).ok()?)
    };
    Some(if rounds == 5000 { format!("${id}${salt}${hash}") } else { format!("${id}$rounds={rounds}${salt}${hash}") })
}

fn random_salt(n: usize) -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..n).map(|_| CHARS[rng.random_range(0..CHARS.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid5_in_ansibles_namespace() {
        let ns = parse_uuid(UUID_NAMESPACE_ANSIBLE).unwrap();
        // ansible-core's own test: "monkeys" | to_uuid.
        assert_eq!(uuid5(&ns, "monkeys"), "0d03a178-da0f-5b51-934e-cda9c76578c3");
        assert!(parse_uuid("22").is_err());
    }

    #[test]
    fn hashes_are_hashlibs() {
        assert_eq!(hash("hash", "sha1").unwrap(), "2346ad27d7568ba9896f1b7da6b5991251debdf2");
        assert_eq!(hash("café", "sha1").unwrap(), "f424452a9673918c6f09b0cdd35b20be8e6ae7d7");
        assert!(hash("x", "unsupported_hash_type").unwrap_err().to_string().contains("unsupported hash type"));
    }

    #[test]
    fn sha256_crypt_matches_openssl() {
        let out = std::process::Command::new("openssl").args(["passwd", "-5", "-salt", "saltsalt", "secret"]).output().expect("openssl");
        assert_eq!(crypt("secret", "sha256_crypt", "saltsalt", 5000).unwrap(), String::from_utf8_lossy(&out.stdout).trim());
        assert_eq!(crypt("secret", "sha512_crypt", "saltsalt", 1), None);
    }
}
