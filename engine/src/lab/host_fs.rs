//! A host's own root filesystem: an overlay over the base image (writes
//! stay in the host's folder), its hostname files, SSH host key and the
//! lab's authorized key.

use std::path::Path;
use std::process::Command;

use super::state::LabHost;
use super::{LabError, LabOptions, Result};

fn sh(script: &str) -> Result<()> {
    let out = Command::new("/bin/sh").arg("-c").arg(script).output().map_err(|e| LabError::Setup(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(LabError::Setup(format!("{script}: {}", String::from_utf8_lossy(&out.stderr).trim())))
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| LabError::Setup(e.to_string()))?;
    }
    std::fs::write(path, text).map_err(|e| LabError::Setup(format!("{}: {e}", path.display())))
}

/// Mount the overlay and write the host's identity. `all` lists every lab
/// host (name, address) for /etc/hosts.
pub fn prepare(h: &mut LabHost, base: &Path, key: &Path, opts: &LabOptions, all: &[(String, String)]) -> Result<()> {
    remove(h);
    for d in ["upper", "work", "root"] {
        std::fs::create_dir_all(h.dir.join(d)).map_err(|e| LabError::Setup(e.to_string()))?;
    }
    sh(&format!(
        "mount -t overlay overlay -o lowerdir={},upperdir={},workdir={} {}",
        base.display(),
        h.dir.join("upper").display(),
        h.dir.join("work").display(),
        h.root().display()
    ))?;
    let root = h.root();
    let fqdn = format!("{}.lab.invalid", h.name);
    write(&root.join("etc/hostname"), &format!("{}\n", h.name))?;
    write(&root.join("etc/mailname"), &format!("{fqdn}\n"))?;
    let mut hosts = format!("127.0.0.1\tlocalhost\n{}\t{fqdn} {}\n", h.address, h.name);
    for (n, a) in all.iter().filter(|(n, _)| n != &h.name) {
        hosts.push_str(&format!("{a}\t{n}.lab.invalid {n}\n"));
    }
    write(&root.join("etc/hosts"), &hosts)?;
    // The lab has no DNS server. A resolver pointing at the controller's
    // (unreachable) one makes every reverse lookup of a client by Postfix or
    // Cyrus wait 10 s; one pointing at the host itself is refused at once.
    let resolv = root.join("etc/resolv.conf");
    let _ = std::fs::remove_file(&resolv); // never write through a symlink into the controller
    write(&resolv, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")?;
    // Debian's archive as on a real server (release, updates, security),
    // reached through the lab's package proxy.
    write(&root.join("etc/apt/sources.list"), &super::base_image::sources_list(&opts.mirror))?;
    write(&root.join("etc/apt/apt.conf.d/01mailplay-lab-proxy"), &super::apt_proxy::apt_conf(opts))?;
    let hk = root.join("etc/ssh/ssh_host_ed25519_key");
    let _ = std::fs::remove_file(&hk);
    let _ = std::fs::remove_file(hk.with_extension("pub"));
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C"])
        .arg(&h.name)
        .arg("-f")
        .arg(&hk)
        .output()
        .map_err(|e| LabError::Setup(e.to_string()))?;
    if !out.status.success() {
        return Err(LabError::Setup(format!("ssh-keygen: {}", String::from_utf8_lossy(&out.stderr))));
    }
    h.host_key_pub = std::fs::read_to_string(hk.with_extension("pub")).map_err(|e| LabError::Setup(e.to_string()))?.trim().to_string();
    let pubkey = std::fs::read_to_string(key.with_extension("pub")).map_err(|e| LabError::Setup(e.to_string()))?;
    write(&root.join("root/.ssh/authorized_keys"), &pubkey)?;
    sh(&format!("chmod 700 {r}/root/.ssh && chmod 600 {r}/root/.ssh/authorized_keys", r = root.display()))?;
    Ok(())
}

/// Unmount and delete the host's folder.
pub fn remove(h: &LabHost) {
    let _ = Command::new("umount").arg("-l").arg(h.root()).output();
    let _ = std::fs::remove_dir_all(&h.dir);
}
