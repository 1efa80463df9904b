//! What the user asked for on the command line that shapes a run.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::lab::TwinConnection;

use super::tags::TagFilter;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub check: bool,
    pub diff: bool,
    pub limit: Option<String>,
    pub tags: TagFilter,
    pub extra_vars: Map<String, Value>,
    pub forks: usize,
    /// Most SSH connections kept open at once, from the file-descriptor
    /// limit (`connection::fd_budget`); `usize::MAX`: no cap.
    pub max_connections: usize,
    pub verbosity: u8,
    pub start_at_task: Option<String>,
    pub force_handlers: bool,
    /// `ANSIBLE_DEBUG`: say the implicit handler flushes (`META: ...`), as
    /// Ansible's debug display does; nothing else of its debug output.
    pub debug: bool,
    /// Become settings from the CLI (`-b`, `--become-user`, `--become-method`).
    pub become_: Option<bool>,
    pub become_user: Option<String>,
    pub become_method: Option<String>,
    /// `-K`: a `Secret` from the moment it is read (prints as `********`).
    pub become_password: Option<mailplay_modules::secret::Secret>,
    /// Connection settings from the CLI (`-u`, `--private-key`, `-T`, `-c`).
    pub remote_user: Option<String>,
    pub private_key: Option<String>,
    pub timeout: Option<u64>,
    pub connection: Option<String>,
    /// `--lab`: the lab twins' connection settings by host name; every
    /// connection goes to the twin (`connection::lab_connection_vars`).
    pub lab: Option<Arc<BTreeMap<String, TwinConnection>>>,
    /// From Ansible's configuration (`crate::config`): `host_key_checking`
    /// (false: new host keys are accepted, a changed one is still refused),
    /// `any_errors_fatal` (the plays' default), `gathering`.
    pub host_key_checking: bool,
    pub any_errors_fatal: bool,
    pub gathering: Gathering,
    /// Ansible's `strategy` setting: the plays' default strategy.
    pub strategy: super::strategy::Strategy,
    /// `error_on_missing_handler`: notifying an unknown handler fails the
    /// task (else a warning).
    pub error_on_missing_handler: bool,
    /// The fact cache (`fact_caching = jsonfile`); None: in memory only.
    pub fact_cache: Option<super::fact_cache::FactCache>,
    /// `--flush-cache`: the inventory's hosts' cache entries removed first.
    pub flush_cache: bool,
}

/// Ansible's `gathering` setting: when plays gather facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Gathering {
    /// Unless the play says `gather_facts: false`.
    #[default]
    Implicit,
    /// Only when the play says `gather_facts: true`.
    Explicit,
    /// As implicit, but a host whose facts were gathered earlier in the run
    /// is not gathered again.
    Smart,
}

impl Gathering {
    pub fn parse(s: &str) -> Option<Gathering> {
        match s {
            "implicit" => Some(Gathering::Implicit),
            "explicit" => Some(Gathering::Explicit),
            "smart" => Some(Gathering::Smart),
            _ => None,
        }
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            check: false,
            diff: false,
            limit: None,
            tags: TagFilter::default(),
            extra_vars: Map::new(),
            forks: 50,
            max_connections: usize::MAX,
            verbosity: 0,
            start_at_task: None,
            force_handlers: false,
            debug: false,
            become_: None,
            become_user: None,
            become_method: None,
            become_password: None,
            remote_user: None,
            private_key: None,
            timeout: None,
            connection: None,
            lab: None,
            host_key_checking: true,
            any_errors_fatal: false,
            gathering: Gathering::Implicit,
            strategy: Default::default(),
            error_on_missing_handler: true,
            fact_cache: None,
            flush_cache: false,
        }
    }
}
