//! Connections to hosts, opened once per host and shared by every task.
//!
//! `ansible_connection` picks the kind: `local` runs on the controller,
//! `ssh` (the default) goes through the SSH connection. A task gets a
//! `Host` handle bound to its become user and environment. With `--lab`,
//! every connection goes to the host's lab twin (`lab_connection_vars`).

use mailplay_modules::become_::Become;
use mailplay_modules::host::{Host, HostError};
use mailplay_modules::local_host::LocalHost;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;

use super::options::RunOptions;
use crate::template::{Scope, Templar};

/// Keys that configure how a host is reached; rendered before connecting.
const CONNECTION_KEYS: &[&str] = &[
    "ansible_connection",
    "ansible_host",
    "ansible_ssh_host",
    "ansible_port",
    "ansible_ssh_port",
    "ansible_user",
    "ansible_ssh_user",
    "ansible_ssh_private_key_file",
    "ansible_private_key_file",
    "ansible_ssh_common_args",
    "ansible_ssh_extra_args",
    "ansible_ssh_args",
    "ansible_ssh_timeout",
    "ansible_timeout",
    "ansible_become_password",
    "ansible_become_pass",
    "mailplay_request_timeout",
];

/// A task's connection variables, rendered in its scope (where every
/// source has already been layered: inventory, play and task vars, `-e`).
pub fn rendered_connection_vars(templar: &Templar, scope: &Scope) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for key in CONNECTION_KEYS {
        if let Some(v) = scope.get(key) {
            let rendered = templar.render_value(v, scope).map_err(|e| format!("cannot template {key}: {e}"))?;
            out.insert(key.to_string(), rendered);
        }
    }
    Ok(out)
}

/// The variables a connection to `host` is opened with. Without `--lab`,
/// `vars` as they are. With `--lab`, the twin's settings replace every
/// connection variable, whatever set it (host or group vars, `-e`, play or
/// task vars, `-u`, `--private-key`, `-c`): this is the one place every
/// connection of a run passes through, so nothing of a `--lab` run can
/// reach a production address. A host without a twin is refused, unless it
/// is reached with `local` (the controller itself, e.g. `delegate_to:
/// localhost`), which is no production host.
pub fn lab_connection_vars<'a>(host: &str, vars: &'a Map<String, Value>, opts: &RunOptions) -> Result<Cow<'a, Map<String, Value>>, String> {
    let Some(twins) = &opts.lab else { return Ok(Cow::Borrowed(vars)) };
    if let Some(twin) = twins.get(host) {
        let mut forced = vars.clone();
        twin.apply(&mut forced);
        return Ok(Cow::Owned(forced));
    }
    let kind = var_str(vars, "ansible_connection").or(opts.connection.as_deref()).unwrap_or("ssh");
    if kind == "local" {
        Ok(Cow::Borrowed(vars))
    } else {
        Err(format!("{host} has no lab twin, and a --lab run connects only to lab hosts: create it with `mailplay lab up -i INVENTORY`"))
    }
}

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

/// The pool's key of `host`'s connection with `vars`: the host, and for
/// a login (not `local`) the login user, so a task whose `remote_user` or
/// `ansible_user` differs gets its own connection as that user rather than
/// another user's.
fn pool_key(host: &str, vars: &Map<String, Value>, opts: &RunOptions) -> String {
    let vars = match lab_connection_vars(host, vars, opts) {
        Ok(v) => v,
        Err(_) => return host.to_string(),
    };
    let kind = var_str(&vars, "ansible_connection").or(opts.connection.as_deref()).unwrap_or("ssh");
    if kind == "local" {
        return host.to_string();
    }
    let user = var_str(&vars, "ansible_user").or_else(|| var_str(&vars, "ansible_ssh_user")).or(opts.remote_user.as_deref()).unwrap_or("");
    format!("{user}@{host}")
}

/// Connections that hold descriptors: open or opening SSH connections.
fn holding_descriptors(open: &HashMap<String, Arc<OpeningConnection>>) -> usize {
    open.values().filter(|c| matches!(c.get(), None | Some(Ok(Connection::Ssh(_))))).count()
}

/// The SSH connection in `cell` if no task holds it: the pool's map is the
/// only owner of the cell (checked under its lock, so no task can take it
/// meanwhile) and of the connection (no task took it earlier).
fn idle_ssh(cell: &Arc<OpeningConnection>) -> Option<Arc<crate::connection::SshConnection>> {
    match cell.get() {
        Some(Ok(Connection::Ssh(c))) if Arc::strong_count(cell) == 1 && Arc::strong_count(c) == 1 => Some(c.clone()),
        _ => None,
    }
}

impl ConnectionPool {
    pub async fn get(&self, host: &str, vars: &Map<String, Value>, opts: &RunOptions) -> Result<Connection, HostError> {
        let key = pool_key(host, vars, opts);
        let cell = loop {
            let mut open = self.open.lock().await;
            if let Some(cell) = open.get(&key) {
                break cell.clone();
            }
            // Under a file-descriptor limit too low for every host's
            // connection (`connection::fd_budget`): make room by closing
            // a connection no task is using; that host reconnects later.
            if holding_descriptors(&open) < opts.max_connections {
                break open.entry(key.clone()).or_default().clone();
            }
            let idle = open.iter().find(|(_, c)| idle_ssh(c).is_some()).map(|(h, _)| h.clone());
            match idle.and_then(|h| open.remove(&h)).as_ref().and_then(idle_ssh) {
                Some(conn) => {
                    drop(open);
                    conn.close().await;
                }
                None => {
                    drop(open);
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
        };
        let result = cell
            .get_or_init(|| async {
                let vars = lab_connection_vars(host, vars, opts)?;
                let vars = vars.as_ref();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::TwinConnection;
    use serde_json::json;
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    fn lab_of(names: &[&str]) -> Option<Arc<BTreeMap<String, TwinConnection>>> {
        let twins = names.iter().enumerate().map(|(i, n)| {
            let twin = TwinConnection {
                name: n.to_string(),
                address: format!("10.231.0.{}", 11 + i),
                private_key: "/lab/id_ed25519".into(),
                known_hosts: "/lab/known_hosts".into(),
                ssh_config: "/lab/ssh_config".into(),
                running: true,
            };
            (n.to_string(), twin)
        });
        Some(Arc::new(twins.collect()))
    }

    /// The scope a task of mx1 sees: group and host vars from a real
    /// inventory, task vars, then `-e`, each setting connection variables.
    fn mx1_scope() -> Scope {
        let dir = tempfile::tempdir().unwrap();
        let ini = dir.path().join("inventory.ini");
        std::fs::write(
            &ini,
            "[mail_mx]\nmx1 ansible_host=192.0.2.11 ansible_port=2222 mail_domain=example.org\n\n\
             [mail_mx:vars]\nansible_user=deploy\nansible_ssh_common_args='-o ProxyJump=bastion.example.org'\n\
             ansible_ssh_private_key_file=/prod/key\n",
        )
        .unwrap();
        let inv = crate::inventory::Inventory::load(&[ini.display().to_string()]).unwrap();
        let mut scope = Scope::new();
        scope.push(Arc::new(inv.host_vars("mx1")));
        scope.push(Arc::new(json!({"ansible_port": 2200, "ansible_ssh_host": "192.0.2.50"}).as_object().unwrap().clone()));
        let extra = crate::cli::extra_vars::parse_extra_vars(&[
            r#"{"ansible_host": "192.0.2.99", "ansible_user": "admin", "ansible_ssh_extra_args": "-J jump.example.org"}"#.into(),
        ])
        .unwrap();
        scope.push(Arc::new(extra));
        scope
    }

    #[test]
    fn without_lab_the_scope_decides() {
        let scope = mx1_scope();
        let vars = rendered_connection_vars(&Templar::new(), &scope).unwrap();
        let vars = lab_connection_vars("mx1", &vars, &RunOptions::default()).unwrap();
        let t = crate::connection::target_from_vars("mx1", &vars, &RunOptions::default()).unwrap();
        assert_eq!((t.host.as_str(), t.port, t.user.as_deref()), ("192.0.2.99", Some(2200), Some("admin")));
        assert!(t.options.iter().any(|(k, _)| k == "ProxyJump"), "{:?}", t.options);
    }

    #[test]
    fn with_lab_the_twin_wins_over_every_source() {
        let scope = mx1_scope();
        let opts = RunOptions {
            lab: lab_of(&["db1", "mx1"]),
            remote_user: Some("cli-user".into()),
            private_key: Some("/cli/key".into()),
            connection: Some("local".into()),
            ..RunOptions::default()
        };
        let vars = rendered_connection_vars(&Templar::new(), &scope).unwrap();
        let forced = lab_connection_vars("mx1", &vars, &opts).unwrap();
        assert_eq!(forced.get("ansible_connection"), Some(&json!("ssh")));
        let t = crate::connection::target_from_vars("mx1", &forced, &opts).unwrap();
        assert_eq!((t.host.as_str(), t.port, t.user.as_deref()), ("10.231.0.12", Some(22), Some("root")));
        assert_eq!(t.private_key, Some(PathBuf::from("/lab/id_ed25519")));
        assert_eq!(t.config_file, Some(PathBuf::from("/lab/ssh_config")));
        assert_eq!(t.policy, crate::connection::HostKeyPolicy::Strict);
        let opt = |k: &str| t.options.iter().find(|(o, _)| o == k).map(|(_, v)| v.as_str());
        assert_eq!((opt("HostKeyAlias"), opt("UserKnownHostsFile"), opt("ProxyJump")), (Some("mx1"), Some("/lab/known_hosts"), None));
        // Only the connection changed: the variables templates see are the inventory's.
        assert_eq!(scope.get("ansible_host"), Some(&json!("192.0.2.99")));
        assert_eq!(scope.get("mail_domain"), Some(&json!("example.org")));
    }

    #[test]
    fn each_login_user_has_its_own_connection_and_local_has_none() {
        let opts = RunOptions { remote_user: Some("cli-user".into()), ..RunOptions::default() };
        let m = |v: Value| v.as_object().unwrap().clone();
        let default = pool_key("db1", &m(json!({})), &opts);
        let task_user = pool_key("db1", &m(json!({"ansible_user": "deploy"})), &opts);
        assert_eq!(default, "cli-user@db1");
        assert_eq!(task_user, "deploy@db1");
        assert_eq!(pool_key("db1", &m(json!({"ansible_ssh_user": "deploy"})), &opts), task_user);
        let local = m(json!({"ansible_connection": "local", "ansible_user": "deploy"}));
        assert_eq!(pool_key("localhost", &local, &opts), "localhost");
    }

    #[test]
    fn with_lab_a_host_without_twin_is_refused_unless_it_is_the_controller() {
        let opts = RunOptions { lab: lab_of(&["mx1"]), ..RunOptions::default() };
        let prod = json!({"ansible_host": "192.0.2.10"}).as_object().unwrap().clone();
        let err = lab_connection_vars("db1", &prod, &opts).unwrap_err();
        assert!(err.contains("db1 has no lab twin") && err.contains("mailplay lab up -i"), "{err}");
        let local = json!({"ansible_connection": "local"}).as_object().unwrap().clone();
        assert_eq!(lab_connection_vars("localhost", &local, &opts).unwrap().as_ref(), &local);
    }
}
