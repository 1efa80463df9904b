//! A lab of fresh hosts for one test at a time (they share the bridge and
//! network namespaces, so tests of one binary take turns; `lab down` on drop).

use std::process::Command;

use super::{fixture, mailplay, text};

static LAB: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The lab to oneself, for a test that brings up its own hosts (through
/// `mailplay rehearse`, say): no other test of this binary uses it meanwhile.
pub fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    LAB.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Lab {
    _turn: std::sync::MutexGuard<'static, ()>,
    pub inventory: String,
    pub ssh_config: String,
}

impl Lab {
    /// Plain Debian 12 hosts, as a new server is.
    pub fn fresh(hosts: &str) -> Lab {
        Self::up(hosts, &[])
    }

    /// Hosts with the mail stack's packages installed (not configured), for
    /// module tests that need the real servers but not their installation.
    pub fn preinstalled(hosts: &str) -> Lab {
        Self::up(hosts, &["--preinstalled"])
    }

    fn up(hosts: &str, flags: &[&str]) -> Lab {
        assert_eq!(unsafe { libc::geteuid() }, 0, "the lab needs root: run tests/run-all.sh as root");
        let turn = LAB.lock().unwrap_or_else(|e| e.into_inner());
        let _ = mailplay().args(["lab", "down"]).output();
        let out = mailplay().args(["lab", "up", "-i", hosts]).args(flags).output().unwrap();
        let t = text(&out);
        assert!(out.status.success(), "{t}");
        let get = |p: &str| t.lines().find_map(|l| l.strip_prefix(p)).unwrap().trim().to_string();
        Lab { _turn: turn, inventory: get("inventory: "), ssh_config: get("ssh config: ") }
    }

    pub fn ssh(&self, host: &str, cmd: &str) -> String {
        let o = Command::new("ssh").args(["-F", &self.ssh_config, host, cmd]).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    pub fn run(&self, dir: &str, extra: &[&str]) -> (i32, String) {
        let o = mailplay().args(["run", "site.yml", "-i", &self.inventory]).args(extra).current_dir(fixture(dir)).output().unwrap();
        (o.status.code().unwrap_or(-1), text(&o))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = mailplay().args(["lab", "down"]).output();
    }
}
