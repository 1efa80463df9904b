//! A wrapper for passwords and keys: it prints as `********` in Debug,
//! Display and Serialize, so it cannot leak into output, diffs or logs by
//! accident. Take the value with `expose()` only where it goes to a host's
//! standard input.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

pub const MASK: &str = "********";

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(MASK)
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(MASK)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(MASK)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::args::loose_string(d).map(Secret)
    }
}

/// Secret values known to the whole run (the become password, decrypted
/// `!vault` values): whatever path a value takes into a result, a diff or a
/// message, the reporters mask every occurrence of these. Registered once
/// when they enter the controller; never removed, since a value once shown
/// anywhere would be a leak.
static RUN_SECRETS: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

/// Remember `value` as a secret of this run (empty values are ignored).
pub fn register_run_secret(value: &str) {
    if value.is_empty() {
        return;
    }
    let mut all = RUN_SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !all.iter().any(|s| s == value) {
        all.push(value.to_string());
    }
}

/// Every secret registered so far in this process.
pub fn run_secrets() -> Vec<String> {
    RUN_SECRETS.read().unwrap_or_else(|e| e.into_inner()).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_secrets_are_kept_once_and_empty_ones_ignored() {
        register_run_secret("s3cret-registry-test");
        register_run_secret("s3cret-registry-test");
        register_run_secret("");
        let all = run_secrets();
        assert_eq!(all.iter().filter(|s| *s == "s3cret-registry-test").count(), 1);
        assert!(!all.iter().any(String::is_empty));
    }

    #[test]
    fn never_prints_its_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "******** ********");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"********\"");
        assert_eq!(s.expose(), "hunter2");
    }
}
