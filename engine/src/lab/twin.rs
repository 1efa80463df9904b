//! How a lab host, the twin of the inventory host of the same name, is
//! reached. This is the one definition of its connection settings: `lab up`
//! writes them into the lab's generated inventory and `mailplay run --lab`
//! forces them onto every connection, so the two cannot drift.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Map, Value};

use super::state::{LabHost, LabState};
use super::{boot, LabOptions, Result};

/// Every variable that says how a host is reached (with Ansible's aliases).
/// A twin's settings replace all of them: an alias left behind (say
/// `ansible_ssh_host` next to the twin's `ansible_host`) could otherwise
/// still name a production machine.
pub const CONNECTION_VARS: &[&str] = &[
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
    "ansible_password",
    "ansible_ssh_pass",
    "ansible_ssh_password",
];

/// The lab's client key, shared by all lab hosts.
pub fn key_path(opts: &LabOptions) -> PathBuf {
    opts.cache_dir.join("id_ed25519")
}

/// The lab hosts' keys, the only ones a twin connection trusts.
pub fn known_hosts_path(opts: &LabOptions) -> PathBuf {
    opts.cache_dir.join("known_hosts")
}

/// The lab's ssh_config (`ssh -F` it to reach a lab host by name).
pub fn ssh_config_path(opts: &LabOptions) -> PathBuf {
    opts.cache_dir.join("ssh_config")
}

/// How to reach one lab host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwinConnection {
    pub name: String,
    pub address: String,
    pub private_key: PathBuf,
    pub known_hosts: PathBuf,
    pub ssh_config: PathBuf,
    /// Its systemd-nspawn (or sshd) process is alive.
    pub running: bool,
}

impl TwinConnection {
    pub fn of(h: &LabHost, opts: &LabOptions, running: bool) -> Self {
        TwinConnection {
            name: h.name.clone(),
            address: h.address.clone(),
            private_key: key_path(opts),
            known_hosts: known_hosts_path(opts),
            ssh_config: ssh_config_path(opts),
            running,
        }
    }

    /// The ssh options of a twin. `-F` the lab's own config keeps the
    /// user's ~/.ssh/config (a `Host *` ProxyJump through a production
    /// bastion, say) out of it; the lab's known_hosts with the host's name
    /// as key alias and strict checking trust only the key `lab up` made.
    pub fn ssh_args(&self) -> String {
        format!(
            "-F {} -o UserKnownHostsFile={} -o HostKeyAlias={} -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes",
            self.ssh_config.display(),
            self.known_hosts.display(),
            self.name
        )
    }

    /// The connection variables, in the order the inventory line shows them.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ansible_connection", "ssh".to_string()),
            ("ansible_host", self.address.clone()),
            ("ansible_port", "22".to_string()),
            ("ansible_user", "root".to_string()),
            ("ansible_ssh_private_key_file", self.private_key.display().to_string()),
            ("ansible_ssh_common_args", self.ssh_args()),
        ]
    }

    /// Replace every connection variable of `vars` with the twin's; the
    /// other variables stay as they are.
    pub fn apply(&self, vars: &mut Map<String, Value>) {
        for k in CONNECTION_VARS {
            vars.remove(*k);
        }
        for (k, v) in self.vars() {
            vars.insert(k.to_string(), Value::String(v));
        }
    }

    /// The twin's connection variables in place of the inventory's for
    /// its host (the host's own and its `host_vars/`), so templates see
    /// the twin's address (`hostvars[h].ansible_host`) and twins talk to twins.
    pub fn apply_to_inventory(&self, inv: &mut crate::inventory::Inventory) {
        if let Some(h) = inv.hosts.get_mut(&self.name) {
            self.apply(&mut h.vars);
        }
        if let Some(v) = inv.dir_host_vars.get_mut(&self.name) {
            self.apply(v);
        }
    }

    /// The host's line in the lab's generated INI inventory.
    pub fn inventory_line(&self) -> String {
        let mut line = self.name.clone();
        for (k, v) in self.vars() {
            if v.contains(' ') {
                line.push_str(&format!(" {k}='{v}'"));
            } else {
                line.push_str(&format!(" {k}={v}"));
            }
        }
        line
    }
}

/// Every lab host's connection settings by name, running or not. Reads the
/// lab's state only: needs neither root nor a running lab.
pub fn twin_connections(opts: &LabOptions) -> Result<BTreeMap<String, TwinConnection>> {
    let st = LabState::load(opts)?;
    Ok(st.hosts.iter().map(|h| (h.name.clone(), TwinConnection::of(h, opts, boot::is_running(h)))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn twin() -> TwinConnection {
        TwinConnection {
            name: "mx1".into(),
            address: "10.231.0.12".into(),
            private_key: "/lab/id_ed25519".into(),
            known_hosts: "/lab/known_hosts".into(),
            ssh_config: "/lab/ssh_config".into(),
            running: true,
        }
    }

    #[test]
    fn apply_replaces_every_connection_alias_and_keeps_the_rest() {
        let mut vars = json!({
            "ansible_host": "192.0.2.1", "ansible_ssh_host": "192.0.2.2", "ansible_port": 2222, "ansible_ssh_port": 2223,
            "ansible_user": "deploy", "ansible_ssh_user": "deploy2", "ansible_password": "pw", "ansible_ssh_pass": "pw",
            "ansible_connection": "local", "ansible_ssh_extra_args": "-J bastion", "ansible_ssh_args": "-o X=y",
            "ansible_private_key_file": "/prod/key", "mail_domain": "example.org", "ansible_become_password": "sudo-pw"
        })
        .as_object()
        .unwrap()
        .clone();
        twin().apply(&mut vars);
        let expected = json!({
            "mail_domain": "example.org", "ansible_become_password": "sudo-pw",
            "ansible_connection": "ssh", "ansible_host": "10.231.0.12", "ansible_port": "22", "ansible_user": "root",
            "ansible_ssh_private_key_file": "/lab/id_ed25519",
            "ansible_ssh_common_args": "-F /lab/ssh_config -o UserKnownHostsFile=/lab/known_hosts -o HostKeyAlias=mx1 -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes"
        });
        assert_eq!(Value::Object(vars), expected);
    }

    #[test]
    fn the_generated_inventory_line_parses_to_what_apply_forces() {
        let dir = tempfile::tempdir().unwrap();
        let ini = dir.path().join("inventory.ini");
        std::fs::write(&ini, format!("{}\n", twin().inventory_line())).unwrap();
        let inv = crate::inventory::Inventory::load(&[ini.display().to_string()]).unwrap();
        let mut forced = Map::new();
        twin().apply(&mut forced);
        let parsed = inv.host_vars("mx1");
        for (k, v) in &forced {
            let got = parsed.get(k).map(|p| p.as_str().map(str::to_string).unwrap_or_else(|| p.to_string()));
            assert_eq!(got.as_deref(), v.as_str(), "{k}");
        }
        assert_eq!(parsed.keys().filter(|k| CONNECTION_VARS.contains(&k.as_str())).count(), forced.len());
    }
}
