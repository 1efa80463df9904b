//! How to reach a host over SSH, from Ansible's inventory variables and the
//! command line.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::exec::RunOptions;

/// What to do with a host key that is not in known_hosts yet. A key that
/// changed is refused either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyPolicy {
    Strict,
    AcceptNew,
}

impl HostKeyPolicy {
    /// `MAILPLAY_HOST_KEY_CHECKING=accept-new` (or `=strict`), else Ansible's
    /// `host_key_checking` setting (`ANSIBLE_HOST_KEY_CHECKING`, ansible.cfg),
    /// read into the run's options: false accepts new keys (a changed key
    /// is still refused).
    pub fn from_env(ansible_host_key_checking: bool) -> Self {
        match std::env::var("MAILPLAY_HOST_KEY_CHECKING").unwrap_or_default().to_ascii_lowercase().as_str() {
            "accept-new" => HostKeyPolicy::AcceptNew,
            "strict" => HostKeyPolicy::Strict,
            _ if !ansible_host_key_checking => HostKeyPolicy::AcceptNew,
            _ => HostKeyPolicy::Strict,
        }
    }
}

/// Seconds one request may take by default: long apt upgrades and
/// database dumps fit, a host that stalls does not hang the run forever.
pub const DEFAULT_REQUEST_TIMEOUT: u64 = 3600;

#[derive(Debug, Clone)]
pub struct SshTarget {
    pub host: String,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub private_key: Option<PathBuf>,
    /// `-o Key=Value` options (from ansible_ssh_common_args/extra_args).
    pub options: Vec<(String, String)>,
    pub config_file: Option<PathBuf>,
    pub timeout: Duration,
    /// The longest one request (one command, one file transfer) may take
    /// before the host is given up on: `mailplay_request_timeout`, else
    /// `MAILPLAY_REQUEST_TIMEOUT`, else an hour (long apt or database work).
    pub request_timeout: Duration,
    pub policy: HostKeyPolicy,
}

fn s(vars: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| vars.get(*k)).map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
}

/// Parse the ssh arguments Ansible users put in ansible_ssh_*_args.
pub fn parse_ssh_args(args: &str, t: &mut SshTarget) -> Result<(), String> {
    let words = shell_words::split(args).map_err(|e| format!("cannot parse ssh args '{args}': {e}"))?;
    let mut it = words.into_iter();
    while let Some(w) = it.next() {
        let mut value = |flag: &str| it.next().ok_or_else(|| format!("ssh option {flag} needs a value"));
        match w.as_str() {
            "-o" => {
                let opt = value("-o")?;
                let (k, v) = opt.split_once('=').or_else(|| opt.split_once(' ')).ok_or_else(|| format!("bad ssh option '-o {opt}'"))?;
                t.options.push((k.trim().to_string(), v.trim().to_string()));
            }
            "-J" => {
                let v = value("-J")?;
                t.options.push(("ProxyJump".into(), v));
            }
            "-F" => t.config_file = Some(PathBuf::from(value("-F")?)),
            "-i" => t.private_key = Some(PathBuf::from(value("-i")?)),
            "-p" => t.port = Some(value("-p")?.parse().map_err(|_| "bad -p port".to_string())?),
            "-l" => t.user = Some(value("-l")?),
            w if w.starts_with("-o") && w.len() > 2 => {
                let opt = &w[2..];
                let (k, v) = opt.split_once('=').ok_or_else(|| format!("bad ssh option '{w}'"))?;
                t.options.push((k.to_string(), v.to_string()));
            }
            other => return Err(format!("ssh argument '{other}' is not supported by mailplay (use -o Option=value)")),
        }
    }
    Ok(())
}

pub fn target_from_vars(name: &str, vars: &Map<String, Value>, opts: &RunOptions) -> Result<SshTarget, String> {
    let mut t = SshTarget {
        host: s(vars, &["ansible_host", "ansible_ssh_host"]).unwrap_or_else(|| name.to_string()),
        port: s(vars, &["ansible_port", "ansible_ssh_port"])
            .map(|p| p.parse().map_err(|_| format!("ansible_port '{p}' is not a port number")))
            .transpose()?,
        user: s(vars, &["ansible_user", "ansible_ssh_user"]).or_else(|| opts.remote_user.clone()),
        private_key: s(vars, &["ansible_ssh_private_key_file", "ansible_private_key_file"])
            .or_else(|| opts.private_key.clone())
            .map(PathBuf::from),
        options: Vec::new(),
        config_file: None,
        timeout: Duration::from_secs(
            s(vars, &["ansible_ssh_timeout", "ansible_timeout"]).and_then(|t| t.parse().ok()).or(opts.timeout).unwrap_or(10),
        ),
        request_timeout: Duration::from_secs(
            match s(vars, &["mailplay_request_timeout"]).or_else(|| std::env::var("MAILPLAY_REQUEST_TIMEOUT").ok()) {
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("mailplay_request_timeout '{v}' is not a positive number of seconds"))?,
                None => DEFAULT_REQUEST_TIMEOUT,
            },
        ),
        policy: HostKeyPolicy::from_env(opts.host_key_checking),
    };
    for key in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
        if let Some(a) = s(vars, &[key]) {
            parse_ssh_args(&a, &mut t)?;
        }
    }
    t.policy = effective_policy(&t.options, t.policy);
    Ok(t)
}

/// The policy goes to ssh on its command line, ahead of any config, so an
/// explicit `-o StrictHostKeyChecking=yes` (a lab twin's) is made the
/// policy: MAILPLAY_HOST_KEY_CHECKING=accept-new must not loosen it.
fn effective_policy(options: &[(String, String)], from_env: HostKeyPolicy) -> HostKeyPolicy {
    if options.iter().any(|(k, v)| k.eq_ignore_ascii_case("StrictHostKeyChecking") && v.eq_ignore_ascii_case("yes")) {
        HostKeyPolicy::Strict
    } else {
        from_env
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inventory_vars_and_ssh_args() {
        let vars = json!({"ansible_host": "10.0.0.5", "ansible_port": 2222, "ansible_user": "deploy", "ansible_ssh_common_args": "-o ProxyJump=bastion -o ServerAliveInterval=5 -F /tmp/cfg"}).as_object().unwrap().clone();
        let t = target_from_vars("mx1", &vars, &RunOptions::default()).unwrap();
        assert_eq!((t.host.as_str(), t.port, t.user.as_deref()), ("10.0.0.5", Some(2222), Some("deploy")));
        assert_eq!(t.options, vec![("ProxyJump".to_string(), "bastion".to_string()), ("ServerAliveInterval".into(), "5".into())]);
        assert_eq!(t.config_file, Some(PathBuf::from("/tmp/cfg")));
        let mut bad = t.clone();
        assert!(parse_ssh_args("-X", &mut bad).is_err());
    }

    #[test]
    fn an_explicit_strict_host_key_checking_beats_accept_new() {
        let strict = vec![("StrictHostKeyChecking".to_string(), "yes".to_string())];
        assert_eq!(effective_policy(&strict, HostKeyPolicy::AcceptNew), HostKeyPolicy::Strict);
        assert_eq!(effective_policy(&[], HostKeyPolicy::AcceptNew), HostKeyPolicy::AcceptNew);
        let vars = json!({"ansible_ssh_common_args": "-o StrictHostKeyChecking=yes"}).as_object().unwrap().clone();
        assert_eq!(target_from_vars("mx1", &vars, &RunOptions::default()).unwrap().policy, HostKeyPolicy::Strict);
    }
}
