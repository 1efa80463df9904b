//! The lab network: a bridge on the machine (`.1`), one network namespace
//! per host with a veth into the bridge and no route beyond it, fixed MAC
//! addresses so a recreated host is reachable at once (no stale ARP entries).

use std::process::Command;

use super::state::LabHost;
use super::{LabError, LabOptions, Result};

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip").args(args).output().map_err(|e| LabError::Setup(format!("ip: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(LabError::Setup(format!("ip {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim())))
    }
}

fn exists(kind: &[&str]) -> bool {
    Command::new("ip").args(kind).output().map(|o| o.status.success()).unwrap_or(false)
}

pub fn ensure_bridge(opts: &LabOptions) -> Result<()> {
    if !exists(&["link", "show", &opts.bridge]) {
        ip(&["link", "add", &opts.bridge, "type", "bridge"])?;
        ip(&["addr", "add", &format!("{}.1/24", opts.subnet), "dev", &opts.bridge])?;
    }
    ip(&["link", "set", &opts.bridge, "up"])
}

pub fn add_host(h: &LabHost, opts: &LabOptions) -> Result<()> {
    remove_host(h, opts);
    ip(&["netns", "add", &h.netns])?;
    ip(&["link", "add", &h.veth, "type", "veth", "peer", "name", "eth0", "netns", &h.netns, "address", &h.mac()])?;
    ip(&["link", "set", &h.veth, "master", &opts.bridge, "up"])?;
    let ns = |args: &[&str]| {
        let mut full = vec!["-n", h.netns.as_str()];
        full.extend_from_slice(args);
        ip(&full)
    };
    ns(&["link", "set", "lo", "up"])?;
    ns(&["addr", "add", &format!("{}/24", h.address), "dev", "eth0"])?;
    ns(&["link", "set", "eth0", "up"])?;
    // No default route: a lab host reaches the other lab hosts and the
    // controller's bridge address (the package proxy) and nothing else, so a
    // rehearsal can never touch a production address.
    let _ = ip(&["neigh", "flush", "to", &h.address, "dev", &opts.bridge]);
    Ok(())
}

pub fn remove_host(h: &LabHost, _opts: &LabOptions) {
    let _ = ip(&["link", "del", &h.veth]);
    let _ = ip(&["netns", "del", &h.netns]);
}

pub fn remove_bridge(opts: &LabOptions) {
    let _ = ip(&["link", "del", &opts.bridge]);
}
