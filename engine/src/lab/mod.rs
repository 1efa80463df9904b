//! The lab: isolated Debian 12 hosts on this machine, one per inventory
//! host, for testing against real servers. Each host has its own root
//! filesystem (an overlay on a cached base image: plain Debian, or with the
//! mail stack preinstalled), its own network namespace and address on a
//! private bridge with no route out (Debian's packages come through the
//! lab's caching proxy on the bridge), its own SSH host key, and
//! boots real systemd with systemd-nspawn (or, for large benchmarks, runs
//! only sshd in a chroot). `lab up` writes an inventory, an ssh_config and
//! a known_hosts file so `mailplay run` and `ssh` reach the hosts with strict
//! host key checking. Needs root on Debian/Ubuntu.

mod apt_proxy;
mod base_image;
mod boot;
mod host_fs;
mod network;
mod outputs;
mod state;
mod twin;

use std::path::{Path, PathBuf};

pub use state::{LabHost, LabState};
pub use twin::{twin_connections, TwinConnection, CONNECTION_VARS};

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("{0}")]
    Setup(String),
    #[error("the lab needs root (network namespaces, overlay mounts, systemd-nspawn): run it as root")]
    NotRoot,
    #[error("{tool} is missing: install {package} (tests/run-all.sh does)")]
    MissingTool { tool: &'static str, package: &'static str },
}

pub type Result<T> = std::result::Result<T, LabError>;

#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Base images, host filesystems, keys and generated files live here.
    pub cache_dir: PathBuf,
    pub mirror: String,
    pub bridge: String,
    /// The first three octets of the lab network (`10.231.0`).
    pub subnet: String,
}

impl Default for LabOptions {
    fn default() -> Self {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
        LabOptions {
            cache_dir: std::env::var_os("MAILPLAY_LAB_DIR").map(PathBuf::from).unwrap_or_else(|| home.join(".cache/mailplay/lab")),
            mirror: std::env::var("MAILPLAY_LAB_MIRROR").unwrap_or_else(|_| base_image::system_mirror()),
            bridge: "mailplay0".into(),
            subnet: "10.231.0".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LabHostSpec {
    pub name: String,
    /// Real systemd as PID 1 (true) or only sshd in a chroot (false).
    pub booted: bool,
    /// The mail stack's packages already installed (quick module tests);
    /// otherwise a plain Debian 12 host.
    pub preinstalled: bool,
}

/// What `lab up` leaves for the user.
#[derive(Debug, Clone)]
pub struct LabInfo {
    pub hosts: Vec<LabHost>,
    pub inventory: PathBuf,
    pub ssh_config: PathBuf,
    pub known_hosts: PathBuf,
    pub private_key: PathBuf,
}

fn preflight() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(LabError::NotRoot);
    }
    for (tool, package) in [
        ("debootstrap", "debootstrap"),
        ("systemd-nspawn", "systemd-container"),
        ("ip", "iproute2"),
        ("ssh-keygen", "openssh-client"),
        ("unshare", "util-linux"),
        ("apt-cacher-ng", "apt-cacher-ng"),
    ] {
        let found = std::env::var("PATH").unwrap_or_default().split(':').any(|d| Path::new(d).join(tool).exists());
        if !found {
            return Err(LabError::MissingTool { tool, package });
        }
    }
    Ok(())
}

/// Bring up the hosts (those already up stay as they are) and write the
/// inventory, ssh_config and known_hosts. `groups` maps group names to
/// their hosts, for the generated inventory.
pub async fn lab_up(hosts: &[LabHostSpec], groups: &[(String, Vec<String>)], opts: &LabOptions) -> Result<LabInfo> {
    preflight()?;
    std::fs::create_dir_all(&opts.cache_dir).map_err(|e| LabError::Setup(format!("cannot create {}: {e}", opts.cache_dir.display())))?;
    let key = outputs::ensure_key(opts)?;
    let mut st = LabState::load(opts)?;
    network::ensure_bridge(opts)?;
    apt_proxy::ensure(opts).await?;
    // Give every new host its index first, so each /etc/hosts lists all.
    let mut new_hosts = Vec::new();
    for spec in hosts {
        if st.hosts.iter().any(|h| h.name == spec.name && boot::is_running(h)) {
            continue;
        }
        if let Some(old) = st.hosts.iter().find(|h| h.name == spec.name).cloned() {
            boot::stop(&old).await;
            host_fs::remove(&old);
            network::remove_host(&old, opts);
            st.hosts.retain(|h| h.name != spec.name);
        }
        let index = (1..=240u8)
            .find(|i| !st.hosts.iter().chain(new_hosts.iter()).any(|h: &LabHost| h.index == *i))
            .ok_or_else(|| LabError::Setup("the lab is full (240 hosts)".into()))?;
        new_hosts.push(LabHost::new(&spec.name, index, spec.booted, spec.preinstalled, opts));
    }
    let everyone: Vec<(String, String)> = st.hosts.iter().chain(new_hosts.iter()).map(|h| (h.name.clone(), h.address.clone())).collect();
    for mut h in new_hosts {
        let base = base_image::ensure(opts, h.preinstalled).await?;
        network::add_host(&h, opts)?;
        host_fs::prepare(&mut h, &base, &key, opts, &everyone)?;
        boot::start(&mut h, opts)?;
        st.hosts.push(h);
        st.save(opts)?;
    }
    for spec in hosts {
        let h = st.hosts.iter().find(|h| h.name == spec.name).expect("host was just brought up");
        boot::wait_for_ssh(h).await?;
    }
    let info = outputs::write(&st, groups, &key, opts)?;
    Ok(info)
}

/// Stop and remove hosts (all when `names` is None).
pub async fn lab_down(opts: &LabOptions, names: Option<&[String]>) -> Result<()> {
    preflight()?;
    let mut st = LabState::load(opts)?;
    let (gone, keep): (Vec<LabHost>, Vec<LabHost>) = st.hosts.drain(..).partition(|h| names.map(|n| n.contains(&h.name)).unwrap_or(true));
    // Hosts shut down at the same time (each may take seconds to stop).
    futures::future::join_all(gone.iter().map(boot::stop)).await;
    for h in &gone {
        host_fs::remove(h);
        network::remove_host(h, opts);
    }
    st.hosts = keep;
    if st.hosts.is_empty() {
        apt_proxy::stop(opts);
        network::remove_bridge(opts);
    }
    st.save(opts)
}

pub fn lab_status(opts: &LabOptions) -> Result<Vec<(LabHost, bool)>> {
    let st = LabState::load(opts)?;
    Ok(st
        .hosts
        .into_iter()
        .map(|h| {
            let up = boot::is_running(&h);
            (h, up)
        })
        .collect())
}
