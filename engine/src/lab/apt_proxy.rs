//! The lab's package proxy: apt-cacher-ng (Debian's package) on the
//! controller side of the bridge (`<subnet>.1:3149`), with its cache in the
//! lab's folder. Lab hosts have no route out of the bridge; this proxy is
//! their only way to Debian's archive, and the second time any lab host
//! installs a package it comes from the cache.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{LabError, LabOptions, Result};

/// Not apt-cacher-ng's usual 3142, which a system-wide instance (Debian's
/// service, on every address) may hold.
pub const PORT: u16 = 3149;

pub fn address(opts: &LabOptions) -> String {
    format!("http://{}.1:{PORT}", opts.subnet)
}

fn dir(opts: &LabOptions) -> PathBuf {
    opts.cache_dir.join("apt-proxy")
}

fn pid_file(opts: &LabOptions) -> PathBuf {
    dir(opts).join("apt-cacher-ng.pid")
}

fn running_pid(opts: &LabOptions) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pid_file(opts)).ok()?.trim().parse().ok()?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    (comm.trim() == "apt-cacher-ng").then_some(pid)
}

/// The configuration: plain proxying (each request goes to the host it
/// names, no mirror remapping), bound to the bridge address only.
fn config(opts: &LabOptions) -> String {
    let d = dir(opts);
    format!(
        "# Written by `mailplay lab up`.\n\
         CacheDir: {cache}\n\
         LogDir: {log}\n\
         SupportDir: /usr/lib/apt-cacher-ng\n\
         PidFile: {pid}\n\
         SocketPath: {sock}\n\
         Port: {PORT}\n\
         BindAddress: {subnet}.1\n\
         ForeGround: 0\n\
         ExThreshold: 4\n\
         # Index files fetched less than five minutes ago are served without\n\
         # asking the archive again: a lab run updates many hosts at once.\n\
         FreshIndexMaxAge: 300\n\
         # Release files are passed through, each client its own download:\n\
         # clients that shared one download of a (volatile) InRelease were\n\
         # left waiting on a connection the proxy had closed. Matched on the\n\
         # resolved URL: the Requested form forwards the client's own Host\n\
         # header beside the proxy's, and an archive that follows RFC 9112\n\
         # answers two Host headers with 400 Bad Request.\n\
         DontCacheResolved: (InRelease|Release|Release\\.gpg)$\n\
         # Packages, once fetched, are served from the cache.\n\
",
        cache = d.join("cache").display(),
        log = d.join("log").display(),
        pid = pid_file(opts).display(),
        sock = d.join("admin.socket").display(),
        subnet = opts.subnet,
    )
}

async fn answers(opts: &LabOptions) -> bool {
    let addr = format!("{}.1:{PORT}", opts.subnet);
    matches!(tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr)).await, Ok(Ok(_)))
}

/// Start the proxy unless it runs; wait until it accepts connections.
/// Needs the bridge (its address is where the proxy listens).
pub async fn ensure(opts: &LabOptions) -> Result<()> {
    match running_pid(opts) {
        Some(_) if answers(opts).await => return Ok(()),
        // Ours, but not listening (it could not bind): start it again.
        Some(_) => stop(opts),
        None if answers(opts).await => {
            return Err(LabError::Setup(format!(
                "another program listens on {}, where the lab's package proxy belongs: stop it",
                address(opts)
            )))
        }
        None => {}
    }
    let binary = Path::new("/usr/sbin/apt-cacher-ng");
    if !binary.exists() {
        return Err(LabError::MissingTool { tool: "apt-cacher-ng", package: "apt-cacher-ng" });
    }
    let d = dir(opts);
    let conf_dir = d.join("conf");
    for sub in [conf_dir.clone(), d.join("cache"), d.join("log")] {
        std::fs::create_dir_all(&sub).map_err(|e| LabError::Setup(format!("{}: {e}", sub.display())))?;
    }
    std::fs::write(conf_dir.join("acng.conf"), config(opts)).map_err(|e| LabError::Setup(e.to_string()))?;
    // Debian's package runs it as its own user; ours runs as root with the
    // cache in the lab's folder, so no ownership to arrange.
    let out =
        Command::new(binary).arg("-c").arg(&conf_dir).output().map_err(|e| LabError::Setup(format!("starting apt-cacher-ng: {e}")))?;
    if !out.status.success() {
        return Err(LabError::Setup(format!(
            "apt-cacher-ng did not start ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let start = Instant::now();
    while !answers(opts).await {
        if start.elapsed() > Duration::from_secs(15) || running_pid(opts).is_none() {
            let log = std::fs::read_to_string(d.join("log/apt-cacher.err")).unwrap_or_default();
            return Err(LabError::Setup(format!("apt-cacher-ng does not answer on {}\n{log}", address(opts))));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Stop the proxy (when the last host is gone); the cache stays.
pub fn stop(opts: &LabOptions) {
    if let Some(pid) = running_pid(opts) {
        // SAFETY: kill has no memory preconditions; the pid was checked to be apt-cacher-ng.
        unsafe {
            libc::kill(pid as i32, libc::SIGTERM);
        }
        // Its port must be free before another start binds it.
        let start = Instant::now();
        while Path::new(&format!("/proc/{pid}")).exists() && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// What a lab host's apt is told: every download through the proxy.
pub fn apt_conf(opts: &LabOptions) -> String {
    format!(
        "// Written by `mailplay lab up`: lab hosts reach Debian's archive only\n\
         // through the lab's caching proxy on the controller.\n\
         Acquire::http::Proxy \"{}\";\n\
         // One request per connection: with pipelining, a connection the\n\
         // proxy closed left apt-get update waiting forever (seen with three\n\
         // hosts updating at once); a stalled transfer is retried.\n\
         Acquire::http::Pipeline-Depth \"0\";\n\
         Acquire::http::Timeout \"30\";\n\
         Acquire::Retries \"3\";\n",
        address(opts)
    )
}
