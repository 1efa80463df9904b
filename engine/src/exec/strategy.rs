//! Ansible's strategies: how a play's hosts move through its tasks.
//!
//! `linear` (the default): every host runs a task before any host starts
//! the next one (`walk.rs`). `free`: each host runs ahead through the
//! play's tasks on its own, never waiting for the others; `host_pinned`
//! is `free` that keeps a worker on one host until it is done, which with
//! mailplay's one-connection-per-host model is the same thing (Ansible
//! documents it as free with pinned workers).
//!
//! mailplay carries out `free` with one walker per host of the batch (a
//! copy of the play's runner pinned to that host, `PlayRunner::pinned`),
//! all walking at the same time, at most `forks` at once: no host waits at
//! a task for another, each flushes its own handlers, and what Ansible's
//! free strategy does not support it does not do either: `run_once` runs
//! on every host (with Ansible's warning), and `any_errors_fatal` /
//! `max_fail_percentage` stop nothing (with Ansible's warnings). A walker
//! sees the other hosts as they were when the batch started; their states
//! come back together when every walker is done.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    #[default]
    Linear,
    Free,
}

impl Strategy {
    /// A strategy name as Ansible accepts it (with or without the
    /// `ansible.builtin.` prefix); `None` for the ones mailplay lacks
    /// (`debug`, third-party plugins).
    pub fn parse(name: &str) -> Option<Strategy> {
        match name.strip_prefix("ansible.builtin.").unwrap_or(name) {
            "linear" => Some(Strategy::Linear),
            "free" | "host_pinned" => Some(Strategy::Free),
            _ => None,
        }
    }

    /// The play's `strategy:` once templated (a string), or the run's default.
    pub fn of_play(value: Option<&Value>, default: Strategy) -> Result<Strategy, String> {
        match value {
            None | Some(Value::Null) => Ok(default),
            Some(Value::String(s)) => Strategy::parse(s)
                .ok_or_else(|| format!("Invalid play strategy specified: {s} (mailplay has linear, free and host_pinned)")),
            Some(other) => Err(format!("strategy must be a string, got {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_strategies() {
        assert_eq!(Strategy::parse("linear"), Some(Strategy::Linear));
        assert_eq!(Strategy::parse("ansible.builtin.free"), Some(Strategy::Free));
        assert_eq!(Strategy::parse("host_pinned"), Some(Strategy::Free));
        assert_eq!(Strategy::parse("debug"), None);
        assert_eq!(Strategy::of_play(None, Strategy::Free), Ok(Strategy::Free));
        assert!(Strategy::of_play(Some(&Value::from("mitogen")), Strategy::Linear).unwrap_err().contains("mitogen"));
    }
}
