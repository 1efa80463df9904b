//! Connections to hosts, opened once per host and shared by every task.
//!
//! `ansible_connection` picks the kind: `local` runs on the controller,
//! `ssh` (the default) goes through the SSH connection. A task gets a
//! `Host` handle bound to its become user and environment.

use mailplay_modules::become_::Become;
use mailplay_modules::host::{Host, HostError};
use mailplay_modules::local_host::LocalHost;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;

use super::options::RunOptions;

#[derive(Clone)]
pub enum Connection {
    Local,
    Ssh(Arc<crate::connection::SshConnection>),
}

impl Connection {
    /// A handle for one task: the connection, as `become_`, with `env`.
    pub fn host(&self, name: &str, become_: Option<Become>, env: Vec<(String, String)>) -> Box<dyn Host> {
        match self {
            Connection::Local => Box::new(LocalHost::new(name).with_become(become_).with_env(env)),
            Connection::Ssh(c) => Box::new(c.host(become_, env)),
        }
    }
}

/// Opens each host's connection on first use and keeps it for the run.
#[derive(Default)]
pub struct ConnectionPool {
    open: Mutex<HashMap<String, Arc<OpeningConnection>>>,
}

/// Set once by whichever task reaches the host first; the others wait.
type OpeningConnection = tokio::sync::OnceCell<Result<Connection, String>>;

fn var_str<'a>(vars: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    vars.get(key).and_then(Value::as_str)
}

impl ConnectionPool {
    pub async fn get(&self, host: &str, vars: &Map<String, Value>, opts: &RunOptions) -> Result<Connection, HostError> {
        let cell = {
            let mut open = self.open.lock().await;
            open.entry(host.to_string()).or_default().clone()
        };
        let result = cell
            .get_or_init(|| async {
                let kind = var_str(vars, "ansible_connection")
                    .map(str::to_string)
                    .or_else(|| opts.connection.clone())
                    .unwrap_or_else(|| "ssh".into());
                match kind.as_str() {
                    "local" => Ok(Connection::Local),
                    "ssh" | "smart" | "paramiko" => match crate::connection::target_from_vars(host, vars, opts) {
                        Ok(target) => {
                            crate::connection::SshConnection::connect(host, &target).await.map(Connection::Ssh).map_err(|e| e.to_string())
                        }
                        Err(e) => Err(e),
                    },
                    other => Err(format!("the connection plugin '{other}' was not found (mailplay supports local and ssh)")),
                }
            })
            .await;
        result.clone().map_err(HostError::Unreachable)
    }

    /// Close every SSH master at once, without waiting for anything (the
    /// run is being abandoned).
    pub fn abort_all(&self) {
        let Ok(open) = self.open.try_lock() else { return };
        for cell in open.values() {
            if let Some(Ok(Connection::Ssh(c))) = cell.get() {
                c.abort();
            }
        }
    }

    /// Close every connection (masters and remote helpers).
    pub async fn close_all(&self) {
        let mut open = self.open.lock().await;
        for cell in open.values() {
            if let Some(Ok(Connection::Ssh(c))) = cell.get() {
                c.close().await;
            }
        }
        open.clear();
    }
}
