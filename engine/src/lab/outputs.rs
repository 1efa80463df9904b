//! What `lab up` writes so the hosts can be reached with strict host key
//! checking: a key pair, known_hosts, an ssh_config and an inventory.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::state::LabState;
use super::twin::{known_hosts_path, ssh_config_path, TwinConnection};
use super::{boot, LabError, LabInfo, LabOptions, Result};

pub fn ensure_key(opts: &LabOptions) -> Result<PathBuf> {
    let key = super::twin::key_path(opts);
    if !key.exists() {
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "mailplay-lab", "-f"])
            .arg(&key)
            .output()
            .map_err(|e| LabError::Setup(e.to_string()))?;
        if !out.status.success() {
            return Err(LabError::Setup(format!("ssh-keygen: {}", String::from_utf8_lossy(&out.stderr))));
        }
    }
    Ok(key)
}

fn write_file(p: &Path, text: &str) -> Result<()> {
    std::fs::write(p, text).map_err(|e| LabError::Setup(format!("{}: {e}", p.display())))
}

pub fn write(st: &LabState, groups: &[(String, Vec<String>)], key: &Path, opts: &LabOptions) -> Result<LabInfo> {
    let known = known_hosts_path(opts);
    let ssh_config = ssh_config_path(opts);
    let inventory = opts.cache_dir.join("inventory.ini");
    let mut kh = String::new();
    let mut cfg = String::new();
    let mut inv = String::from("# Written by `mailplay lab up`: the lab's hosts, reached over SSH with strict host key checking.\n");
    for h in &st.hosts {
        let mut key_parts = h.host_key_pub.split_whitespace();
        let (kt, kb) = (key_parts.next().unwrap_or(""), key_parts.next().unwrap_or(""));
        kh.push_str(&format!("{},{} {kt} {kb}\n", h.name, h.address));
        cfg.push_str(&format!(
            "Host {}\n  HostName {}\n  User root\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n  HostKeyAlias {}\n\n",
            h.name,
            h.address,
            key.display(),
            known.display(),
            h.name
        ));
        // The same settings `mailplay run --lab` forces (twin.rs).
        inv.push_str(&TwinConnection::of(h, opts, boot::is_running(h)).inventory_line());
        inv.push('\n');
    }
    for (g, hosts) in groups {
        let members: Vec<&String> = hosts.iter().filter(|h| st.hosts.iter().any(|x| &x.name == *h)).collect();
        if members.is_empty() {
            continue;
        }
        inv.push_str(&format!("\n[{g}]\n"));
        for m in members {
            inv.push_str(&format!("{m}\n"));
        }
    }
    write_file(&known, &kh)?;
    write_file(&ssh_config, &cfg)?;
    write_file(&inventory, &inv)?;
    Ok(LabInfo { hosts: st.hosts.clone(), inventory, ssh_config, known_hosts: known, private_key: key.to_path_buf() })
}
