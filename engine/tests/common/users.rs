//! Real local users for become tests: created with useradd (the test runs
//! as root), with sudoers drop-in files, all removed again on drop. Names
//! carry the process id so parallel test processes do not collide.
#![allow(dead_code)]

use std::process::Command;

pub struct TestUsers {
    pub names: Vec<String>,
    sudoers: Vec<std::path::PathBuf>,
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run a user-management command");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl TestUsers {
    pub fn new() -> TestUsers {
        assert!(std::path::Path::new("/usr/bin/sudo").exists(), "sudo is missing: run tests/run-all.sh, which installs it");
        TestUsers { names: Vec::new(), sudoers: Vec::new() }
    }

    /// A new user `<prefix><pid>x<n>` with a home folder, /bin/sh and `password`.
    pub fn add(&mut self, prefix: &str, password: &str) -> String {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("{prefix}{}x{n}", std::process::id());
        let _ = Command::new("userdel").args(["-r", &name]).output();
        run(Command::new("useradd").args(["-m", "-s", "/bin/sh", &name]));
        self.names.push(name.clone());
        let mut chpasswd = Command::new("chpasswd").stdin(std::process::Stdio::piped()).spawn().expect("chpasswd");
        use std::io::Write;
        chpasswd.stdin.take().unwrap().write_all(format!("{name}:{password}\n").as_bytes()).unwrap();
        assert!(chpasswd.wait().unwrap().success());
        name
    }

    /// A sudoers drop-in (checked with visudo) that is removed on drop.
    pub fn sudoers(&mut self, line: &str) {
        let path = std::path::PathBuf::from(format!("/etc/sudoers.d/mailplay-test-{}", self.names.join("-")));
        std::fs::write(&path, format!("{line}\n")).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o440)).unwrap();
        self.sudoers.push(path.clone());
        run(Command::new("visudo").args(["-c", "-f"]).arg(&path));
    }
}

impl Drop for TestUsers {
    fn drop(&mut self) {
        for p in &self.sudoers {
            let _ = std::fs::remove_file(p);
        }
        for n in &self.names {
            // userdel refuses while a process of the user runs: end them
            // and retry for a moment.
            for _ in 0..20 {
                let _ = Command::new("pkill").args(["-KILL", "-u", n]).output();
                if Command::new("userdel").args(["-r", n]).output().map(|o| o.status.success()).unwrap_or(false) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
}
