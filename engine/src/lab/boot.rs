//! Starting and stopping hosts: systemd-nspawn booting real systemd, or a
//! light chroot running only sshd (no systemd) for large benchmarks.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::state::LabHost;
use super::{LabError, LabOptions, Result};

pub fn is_running(h: &LabHost) -> bool {
    h.pid.map(|p| std::path::Path::new(&format!("/proc/{p}")).exists()).unwrap_or(false)
}

pub fn start(h: &mut LabHost, _opts: &LabOptions) -> Result<()> {
    let log = std::fs::File::create(h.dir.join("console.log")).map_err(|e| LabError::Setup(e.to_string()))?;
    let mut cmd = if h.booted {
        let mut c = Command::new("systemd-nspawn");
        c.args(["-q", "-D"])
            .arg(h.root())
            .args(["-M", &h.name, "-b", "--register=no", "--keep-unit", "--console=passive", "--resolv-conf=off"])
            .arg(format!("--network-namespace-path=/run/netns/{}", h.netns));
        c
    } else {
        let r = h.root().display().to_string();
        let script = format!(
            "set -e; mount -t proc proc {r}/proc; mount -t sysfs -o ro sys {r}/sys; mount -t tmpfs tmpfs {r}/dev; \
             for n in null zero random urandom tty; do touch {r}/dev/$n; mount --bind /dev/$n {r}/dev/$n; done; \
             mkdir -p {r}/dev/pts; mount -t devpts -o newinstance,ptmxmode=0666 devpts {r}/dev/pts; ln -sf pts/ptmx {r}/dev/ptmx; \
             mount -t tmpfs tmpfs {r}/run; mkdir -p {r}/run/sshd; hostname {name}; exec chroot {r} /usr/sbin/sshd -D -e",
            name = h.name
        );
        let mut c = Command::new("ip");
        c.args([
            "netns",
            "exec",
            &h.netns,
            "unshare",
            "--mount",
            "--uts",
            "--ipc",
            "--pid",
            "--fork",
            "--kill-child",
            "--propagation",
            "private",
            "/bin/sh",
            "-c",
            &script,
        ]);
        c
    };
    // Detached from our terminal and process group: the host outlives `lab up`.
    cmd.stdin(Stdio::null()).stdout(log.try_clone().map_err(|e| LabError::Setup(e.to_string()))?).stderr(log);
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|e| LabError::Setup(format!("starting {}: {e}", h.name)))?;
    h.pid = Some(child.id());
    std::mem::forget(child);
    Ok(())
}

/// Wait until sshd on the host answers with its banner.
pub async fn wait_for_ssh(h: &LabHost) -> Result<()> {
    let start = Instant::now();
    loop {
        if let Ok(Ok(mut s)) = tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect((h.address.as_str(), 22))).await
        {
            use tokio::io::AsyncReadExt;
            let mut buf = [0u8; 4];
            if let Ok(Ok(4)) = tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut buf)).await {
                if &buf == b"SSH-" {
                    return Ok(());
                }
            }
        }
        if !is_running(h) {
            let log = std::fs::read_to_string(h.dir.join("console.log")).unwrap_or_default();
            return Err(LabError::Setup(format!(
                "lab host {} stopped while booting:\n{}",
                h.name,
                log.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
            )));
        }
        if start.elapsed() > Duration::from_secs(90) {
            return Err(LabError::Setup(format!("lab host {} did not answer SSH on {}:22 within 90 s", h.name, h.address)));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

pub async fn stop(h: &LabHost) {
    let Some(pid) = h.pid else { return };
    if !is_running(h) {
        return;
    }
    // nspawn shuts the container down on SIGTERM; `unshare --fork` ignores
    // it, so for light hosts kill its child (the namespace's PID 1).
    let targets = if h.booted { vec![pid] } else { children(pid) };
    for t in &targets {
        unsafe {
            libc::kill(*t as i32, libc::SIGTERM);
        }
    }
    let start = Instant::now();
    while is_running(h) && start.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if is_running(h) {
        for t in targets.iter().chain([&pid]) {
            unsafe {
                libc::kill(*t as i32, libc::SIGKILL);
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Reap if it was our child; harmless otherwise.
    unsafe {
        libc::waitpid(pid as i32, std::ptr::null_mut(), libc::WNOHANG);
    }
}
