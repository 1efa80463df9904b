//! A real sshd on 127.0.0.1 for tests: its own config, host key, client
//! key, authorized_keys and known_hosts in a temporary folder; never
//! touches ~/.ssh. Needs root and openssh-server (tests/run-all.sh).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub child: Child,
}

fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(path).status().expect("ssh-keygen");
    assert!(st.success());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Whether an SSH server's banner comes back from the port. A bare connect
/// is not enough: with nothing listening yet, a connect to a local port in
/// the ephemeral range can meet itself (TCP simultaneous open) and succeed.
fn answers_ssh(port: u16) -> bool {
    use std::io::Read;
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut banner = [0u8; 4];
    s.read_exact(&mut banner).is_ok() && &banner == b"SSH-"
}

impl Sshd {
    pub fn start() -> Sshd {
        assert!(Path::new("/usr/sbin/sshd").exists(), "/usr/sbin/sshd is missing: run tests/run-all.sh, which installs openssh-server");
        assert_eq!(unsafe { libc::geteuid() }, 0, "the sshd tests run as root (tests/run-all.sh)");
        std::fs::create_dir_all("/run/sshd").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        // sshd reads authorized_keys as the logging-in user: other test
        // users (become tests) must reach it; the private keys stay 0600.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o711)).unwrap();
        std::fs::set_permissions(d.join("authorized_keys"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let port = free_port();
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nAuthorizedKeysFile {ak}\nPermitRootLogin yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile none\nMaxSessions 10\nLogLevel VERBOSE\nSubsystem sftp internal-sftp\n",
                hk = d.join("host_key").display(),
                ak = d.join("authorized_keys").display()
            ),
        )
        .unwrap();
        let pubkey = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
        std::fs::write(d.join("known_hosts"), format!("[127.0.0.1]:{port} {pubkey}")).unwrap();
        let log = std::fs::File::create(d.join("sshd.log")).unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stderr(log)
            .stdout(Stdio::null())
            .spawn()
            .expect("start sshd");
        let start = Instant::now();
        while !answers_ssh(port) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "sshd did not start: {}",
                std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Sshd { dir, port, child }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Inventory variables that reach this sshd with strict host key checking.
    pub fn host_vars(&self) -> String {
        format!(
            "ansible_host=127.0.0.1 ansible_port={} ansible_user=root ansible_ssh_private_key_file={} ansible_ssh_common_args='-o UserKnownHostsFile={}'",
            self.port,
            self.path("client_key").display(),
            self.path("known_hosts").display()
        )
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
