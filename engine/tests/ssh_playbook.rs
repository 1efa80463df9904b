//! `mailplay run` over SSH to a real sshd on loopback: the differential
//! playbook converges exactly as with the local connection, unreachable
//! hosts are reported with ssh's reason while the others converge, and a
//! long play never trips MaxSessions.

mod common;

#[path = "common/sshd.rs"]
mod sshd;

use common::*;
use sshd::Sshd;

fn run_with(inventory: &str, playbook_dir: &std::path::Path, playbook: &str, extra: &[&str]) -> (i32, String) {
    let inv = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(inv.path(), inventory).unwrap();
    let out = mailplay().args(["run", playbook, "-i"]).arg(inv.path()).args(extra).current_dir(playbook_dir).output().unwrap();
    (out.status.code().unwrap_or(-1), text(&out))
}

#[test]
fn the_differential_playbook_converges_over_ssh_like_locally() {
    let s = Sshd::start();
    let local = tempfile::tempdir().unwrap();
    let remote = tempfile::tempdir().unwrap();
    let fx = fixture("differential");
    let (code, out) = run_with(
        "[mail]\nh1 ansible_connection=local site_id=1\nh2 ansible_connection=local site_id=2 extra_alias=postmaster\n",
        &fx,
        "site.yml",
        &["-e", &format!("dest_root={}", local.path().display())],
    );
    assert_eq!(code, 0, "{out}");
    let inv = format!("[mail]\nh1 {v} site_id=1\nh2 {v} site_id=2 extra_alias=postmaster\n", v = s.host_vars());
    let dest = format!("dest_root={}", remote.path().display());
    let (code, check) = run_with(&inv, &fx, "site.yml", &["-e", &dest, "--check"]);
    assert_eq!(code, 0, "{check}");
    assert!(std::fs::read_dir(remote.path()).unwrap().next().is_none(), "check mode wrote over ssh");
    let (code, first) = run_with(&inv, &fx, "site.yml", &["-e", &dest]);
    assert_eq!(code, 0, "{first}\n{}", s.log());
    assert_eq!(snapshot(remote.path()), snapshot(local.path()));
    assert_eq!(recap(&first), recap(&out));
    assert_eq!(recap(&check)["h1"]["changed"], recap(&first)["h1"]["changed"]);
    let (_, second) = run_with(&inv, &fx, "site.yml", &["-e", &dest]);
    assert_eq!(recap(&second)["h1"]["changed"], 0, "{second}");
    assert_eq!(recap(&second)["h2"]["changed"], 0, "{second}");
}

#[test]
fn unreachable_hosts_are_reported_and_the_others_converge() {
    let s = Sshd::start();
    let other = tempfile::tempdir().unwrap();
    let kf = other.path().join("k");
    std::process::Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&kf).status().unwrap();
    let wrong_known = other.path().join("known_hosts");
    std::fs::write(&wrong_known, format!("[127.0.0.1]:{} {}", s.port, std::fs::read_to_string(kf.with_extension("pub")).unwrap())).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let good = s.host_vars();
    let inv = format!(
        "good {good}\n\
         down ansible_host=127.0.0.1 ansible_port={closed} ansible_user=root ansible_ssh_private_key_file={key} ansible_ssh_common_args='-o UserKnownHostsFile={known}'\n\
         badkey ansible_host=127.0.0.1 ansible_port={port} ansible_user=root ansible_ssh_private_key_file={key} ansible_ssh_common_args='-o UserKnownHostsFile={wrong}'\n\
         refused ansible_host=127.0.0.1 ansible_port={port} ansible_user=root ansible_ssh_private_key_file={other} ansible_ssh_common_args='-o UserKnownHostsFile={known}'\n",
        key = s.path("client_key").display(),
        known = s.path("known_hosts").display(),
        wrong = wrong_known.display(),
        other = kf.display(),
        port = s.port,
    );
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("converged");
    std::fs::write(dir.path().join("p.yml"), format!("- hosts: all\n  gather_facts: no\n  tasks:\n    - copy:\n        content: \"{{{{ inventory_hostname }}}}\\n\"\n        dest: {}\n", target.display())).unwrap();
    let (code, out) = run_with(&inv, dir.path(), "p.yml", &[]);
    assert_eq!(code, 4, "{out}");
    let r = recap(&out);
    assert_eq!((r["good"]["changed"], r["good"]["unreachable"]), (1, 0), "{out}");
    for h in ["down", "badkey", "refused"] {
        assert_eq!(r[h]["unreachable"], 1, "{h}: {out}");
    }
    assert!(out.contains("fatal: [down]: UNREACHABLE!") && out.contains("Connection refused"), "{out}");
    assert!(
        out.contains("fatal: [badkey]: UNREACHABLE!")
            && (out.contains("Host key verification failed") || out.contains("IDENTIFICATION HAS CHANGED")),
        "{out}"
    );
    assert!(out.contains("fatal: [refused]: UNREACHABLE!") && out.contains("Permission denied"), "{out}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "good\n");
}

#[test]
fn a_long_play_never_trips_max_sessions() {
    let s = Sshd::start();
    let (code, out) = run_with(&format!("target {}\n", s.host_vars()), &fixture("ssh"), "many.yml", &[]);
    assert_eq!(code, 0, "{out}");
    let r = recap(&out);
    assert_eq!((r["target"]["ok"], r["target"]["failed"]), (62, 0), "{out}");
    assert_eq!(s.log().matches("Accepted publickey").count(), 1, "one connection for the whole run:\n{}", s.log());
}

/// Runs `mailplay run` with RLIMIT_NOFILE set to `limit` (soft and hard,
/// so mailplay cannot raise it) over `hosts` inventory hosts, all on one
/// loopback sshd, each writing under its own folder.
fn run_under_fd_limit(s: &Sshd, root: &std::path::Path, hosts: usize, limit: u64) -> (i32, String) {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let inv: String = (1..=hosts).map(|i| format!("h{i:02} {}\n", s.host_vars())).collect();
    std::fs::write(dir.path().join("hosts.ini"), inv).unwrap();
    std::fs::write(
        dir.path().join("site.yml"),
        format!(
            "- hosts: all\n  gather_facts: no\n  tasks:\n\
             \x20   - file: {{path: \"{r}/{{{{ inventory_hostname }}}}\", state: directory, mode: \"0750\"}}\n\
             \x20   - copy: {{content: \"on {{{{ inventory_hostname }}}}\\n\", dest: \"{r}/{{{{ inventory_hostname }}}}/f\", mode: \"0640\"}}\n\
             \x20   - command: cat {r}/{{{{ inventory_hostname }}}}/f\n",
            r = root.display()
        ),
    )
    .unwrap();
    let mut cmd = mailplay();
    cmd.args(["run", "site.yml", "-i", "hosts.ini", "-f", "20"]).current_dir(dir.path());
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit { rlim_cur: limit, rlim_max: limit };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    (out.status.code().unwrap_or(-1), text(&out))
}

#[test]
fn a_low_descriptor_limit_is_reported_once_and_every_host_still_converges() {
    let s = Sshd::start();
    let root = tempfile::tempdir().unwrap();
    // 12 hosts with forks 20 would keep about 32 + 12 × 4 + 12 × 4
    // descriptors; 56 leaves room for 3 hosts at once and 3 open
    // connections, so hosts reconnect as the run goes.
    let (code, out) = run_under_fd_limit(&s, root.path(), 12, 56);
    assert_eq!(code, 0, "{out}\n{}", s.log());
    assert!(!out.contains("Too many open files") && !out.contains("EMFILE"), "{out}");
    let notice = "12 hosts with forks 20 need about 128 file descriptors, the limit (ulimit -n) is 56: lowering forks to 3 and keeping at most 3 SSH connections open at once";
    assert_eq!(out.matches(notice).count(), 1, "{out}");
    let r = recap(&out);
    assert_eq!(r.len(), 12, "{out}");
    for (host, counts) in &r {
        assert_eq!((counts["failed"], counts["unreachable"], counts["changed"]), (0, 0, 3), "{host}: {out}");
        assert_eq!(std::fs::read_to_string(root.path().join(host).join("f")).unwrap(), format!("on {host}\n"));
    }
}

#[test]
fn a_descriptor_limit_too_low_for_one_host_is_a_clear_error() {
    let s = Sshd::start();
    let root = tempfile::tempdir().unwrap();
    let (code, out) = run_under_fd_limit(&s, root.path(), 2, 30);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the file-descriptor limit is 30 (ulimit -n), too low to work on even one host: mailplay needs at least 40"),
        "{out}"
    );
    assert!(std::fs::read_dir(root.path()).unwrap().next().is_none(), "a host was touched: {out}");
}

/// Ansible modules from `library/` run over SSH as they do locally: the
/// module and its arguments travel as files and standard input through
/// the helper (never the command line), with ansible-core's module_utils.
#[test]
fn library_modules_and_filter_plugins_work_over_ssh_as_locally() {
    let s = Sshd::start();
    let fx = fixture("ansible_plugins");
    let python = ansible_bin("python3");
    let run = |inventory: &str| {
        let inv = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(inv.path(), inventory).unwrap();
        let out = mailplay()
            .env("MAILPLAY_ANSIBLE_PYTHON", &python)
            .args(["run", "site.yml", "-i"])
            .arg(inv.path())
            .current_dir(&fx)
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), text(&out))
    };
    let (code, local) = run("[hosts]\nh1 ansible_connection=local\nh2 ansible_connection=local\n");
    assert_eq!(code, 0, "{local}");
    let v = s.host_vars();
    let (code, remote) = run(&format!("[hosts]\nh1 {v}\nh2 {v}\n"));
    assert_eq!(code, 0, "{remote}\n{}", s.log());
    assert_eq!(recap(&remote), recap(&local), "{remote}");
    assert!(remote.contains("\"greeting\": \"HELLO, H1! HELLO, H1!\""), "{remote}");
    assert!(!remote.contains("not-shown"), "a no_log argument was shown:\n{remote}");
    assert!(!s.log().contains("not-shown"), "a module argument reached sshd's log");
}
