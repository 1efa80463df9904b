//! The base root filesystems lab hosts overlay: plain Debian 12 from
//! debootstrap (systemd, SSH, what a minimal server has), and for quick
//! module tests a variant with the mail stack's packages installed but not
//! configured or started (`--preinstalled`). Each is built once per package
//! list and cached.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest;

use super::{LabError, LabOptions, Result};

/// Packages of every lab host: booting, SSH, and what a minimal Debian
/// server has that modules and the Ansible benchmark rely on (Perl for the
/// helper, Python for Ansible).
pub const PLAIN_PACKAGES: &[&str] =
    &["systemd", "systemd-sysv", "dbus", "openssh-server", "iproute2", "procps", "sudo", "perl", "python3", "less", "ca-certificates"];

/// The mail stack, added by `--preinstalled` (installed, not configured).
pub const MAIL_PACKAGES: &[&str] = &[
    "postfix",
    "postfix-pgsql",
    "postfix-mysql",
    "cyrus-imapd",
    "cyrus-admin",
    "cyrus-clients",
    "sasl2-bin",
    "libsasl2-modules",
    "libpam-mysql",
    "postgresql",
    "mariadb-server",
    "rspamd",
    "redis-server",
    "gpg-wks-server",
    "rsyslog",
    // The tutorial's spam-learning notifier is Perl with JSON and URI.
    "libjson-perl",
    "liburi-perl",
];

/// The mirror this machine's apt uses.
pub fn system_mirror() -> String {
    std::fs::read_to_string("/etc/apt/sources.list.d/debian.sources")
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("URIs:").map(|u| u.split_whitespace().next().unwrap_or("").to_string())))
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "http://deb.debian.org/debian".into())
}

/// apt's sources of a lab host: the release, its updates and security
/// updates (from the same server's `-security` archive when the mirror is
/// a Debian mirror's `/debian`, else Debian's own).
pub fn sources_list(mirror: &str) -> String {
    let mirror = mirror.trim_end_matches('/');
    let security = match mirror.strip_suffix("/debian") {
        Some(server) => format!("{server}/debian-security"),
        None => "http://deb.debian.org/debian-security".into(),
    };
    format!("deb {mirror} bookworm main\ndeb {mirror} bookworm-updates main\ndeb {security} bookworm-security main\n")
}

fn run(cmd: &mut Command, what: &str, log: &Path) -> Result<()> {
    let logf = std::fs::OpenOptions::new().create(true).append(true).open(log).map_err(|e| LabError::Setup(e.to_string()))?;
    let st = cmd
        .stdout(logf.try_clone().map_err(|e| LabError::Setup(e.to_string()))?)
        .stderr(logf)
        .status()
        .map_err(|e| LabError::Setup(format!("{what}: {e}")))?;
    if st.success() {
        Ok(())
    } else {
        let tail: String = std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .rev()
            .take(15)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        Err(LabError::Setup(format!("{what} failed ({st}); see {}:\n{tail}", log.display())))
    }
}

/// Run a shell script inside the root with /proc, /sys and /dev mounted.
fn in_chroot(root: &Path, script: &str, log: &Path) -> Result<()> {
    let r = root.display();
    let wrapped = format!(
        "set -e; mount -t proc proc {r}/proc; mount -t sysfs sys {r}/sys; mount --bind /dev {r}/dev; mount --bind /dev/pts {r}/dev/pts; \
         trap 'umount -l {r}/dev/pts {r}/dev {r}/sys {r}/proc 2>/dev/null || true' EXIT; chroot {r} /bin/sh -c {}",
        shell_words::quote(script)
    );
    run(Command::new("/bin/sh").arg("-c").arg(wrapped), "installing packages in the base image", log)
}

fn packages(preinstalled: bool) -> Vec<&'static str> {
    let mut p = PLAIN_PACKAGES.to_vec();
    if preinstalled {
        p.extend_from_slice(MAIL_PACKAGES);
    }
    p
}

/// The cached base root, built if missing. The folder name carries a hash
/// of the package list, so changing it builds a new image.
pub async fn ensure(opts: &LabOptions, preinstalled: bool) -> Result<PathBuf> {
    // Bump BUILD when the build script changes, so cached bases are rebuilt.
    const BUILD: &str = "2: sockets of disabled services disabled too";
    let packages = packages(preinstalled);
    let hash = format!("{:x}", sha2::Sha256::digest(format!("{BUILD}\n{}", packages.join(" ")).as_bytes()));
    let dir = opts.cache_dir.join(format!("base-bookworm-{}", &hash[..12]));
    let root = dir.join("rootfs");
    if dir.join("complete").exists() {
        return Ok(root);
    }
    let opts = opts.clone();
    let r = root.clone();
    tokio::task::spawn_blocking(move || build(&opts, &dir, &r, &packages)).await.map_err(|e| LabError::Setup(e.to_string()))??;
    Ok(root)
}

fn build(opts: &LabOptions, dir: &Path, root: &Path, packages: &[&str]) -> Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| LabError::Setup(e.to_string()))?;
    let log = dir.join("build.log");
    eprintln!("mailplay lab: building the base image (once; log in {})", log.display());
    run(
        Command::new("debootstrap")
            .args(["--variant=minbase", "--include=systemd,systemd-sysv,dbus,perl", "bookworm"])
            .arg(root)
            .arg(&opts.mirror),
        "debootstrap",
        &log,
    )?;
    // Nothing starts while packages install; postfix installs without a
    // configuration instead of guessing this machine's hostname.
    std::fs::write(root.join("usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n").map_err(|e| LabError::Setup(e.to_string()))?;
    std::process::Command::new("chmod")
        .arg("755")
        .arg(root.join("usr/sbin/policy-rc.d"))
        .status()
        .map_err(|e| LabError::Setup(e.to_string()))?;
    let script = format!(
        "export DEBIAN_FRONTEND=noninteractive; \
         echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections; \
         echo 'postfix postfix/mailname string lab.invalid' | debconf-set-selections; \
         apt-get update -qq; \
         apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold {}; \
         apt-get clean; rm -rf /var/lib/apt/lists/*; \
         rm -f /etc/ssh/ssh_host_*; \
         systemctl enable ssh >/dev/null 2>&1 || true; \
         for s in postfix cyrus-imapd postgresql mariadb mariadb.socket mariadb-extra.socket rspamd redis-server rsyslog saslauthd; do systemctl disable $s >/dev/null 2>&1 || true; done; \
         systemctl mask systemd-networkd-wait-online.service >/dev/null 2>&1 || true; \
         printf 'PS1=\"\\\\h# \"\\n' > /root/.bashrc",
        packages.join(" ")
    );
    in_chroot(root, &script, &log)?;
    // Booted hosts start services normally; builds must not.
    let _ = std::fs::remove_file(root.join("usr/sbin/policy-rc.d"));
    std::fs::write(dir.join("complete"), packages.join("\n")).map_err(|e| LabError::Setup(e.to_string()))?;
    Ok(())
}
