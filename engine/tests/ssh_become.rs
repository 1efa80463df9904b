//! The become password over a real sshd on loopback, with real users: one
//! whose sudo needs no password, one whose sudo asks for it, each becoming
//! a third user and root, and su to the third user with its password. The password goes to sudo only when sudo asks:
//! files and command input are exactly what the task says, the password
//! shows nowhere, and a wrong password fails its host quickly and clearly.
//! The same through the local connection run by a non-root user.

mod common;

#[path = "common/sshd.rs"]
mod sshd;

#[path = "common/users.rs"]
mod users;

#[path = "common/bounded.rs"]
mod bounded;

use std::time::Duration;

use bounded::run_bounded;
use common::*;
use sshd::Sshd;
use users::TestUsers;

const NOPASS_PW: &str = "Np-pass-7c1e9a";
const SUDO_PW: &str = "Sudo-pass-4b2d8f";
const THIRD_PW: &str = "Third-pass-0a0a0a";

const PLAYBOOK: &str = r#"- hosts: all
  gather_facts: no
  become: yes
  become_user: "{{ target_user }}"
  tasks:
    - name: write a file as the become user
      copy:
        content: "exact content\n"
        dest: "{{ out_dir }}/{{ inventory_hostname }}.txt"
        mode: "0644"
    - name: feed a command
      command: cat
      args:
        stdin: exact stdin
      register: fed
    - name: who
      command: id -un
      register: who
    - debug:
        msg: "fed=[{{ fed.stdout }}] who=[{{ who.stdout }}]"
"#;

struct Setup {
    users: TestUsers,
    nopass: String,
    withpass: String,
    third: String,
    dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let mut users = TestUsers::new();
    let nopass = users.add("mpnp", NOPASS_PW);
    let withpass = users.add("mppw", SUDO_PW);
    let third = users.add("mp3", THIRD_PW);
    users.sudoers(&format!("{nopass} ALL=(ALL:ALL) NOPASSWD: ALL\n{withpass} ALL=(ALL:ALL) ALL"));
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::write(dir.path().join("p.yml"), PLAYBOOK).unwrap();
    std::fs::set_permissions(dir.path().join("p.yml"), std::fs::Permissions::from_mode(0o644)).unwrap();
    Setup { users, nopass, withpass, third, dir }
}

fn check_host(s: &Setup, out: &str, host: &str, become_user: &str) {
    let file = s.dir.path().join(format!("{host}.txt"));
    let content = std::fs::read(&file).unwrap_or_else(|e| panic!("{host}: {} not written ({e}):\n{out}", file.display()));
    assert_eq!(String::from_utf8_lossy(&content), "exact content\n", "{host}");
    let owner = std::process::Command::new("stat").args(["-c", "%U"]).arg(&file).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&owner.stdout).trim(), become_user, "{host}");
    let want = format!("fed=[exact stdin] who=[{become_user}]");
    let line = out.lines().skip_while(|l| !l.starts_with(&format!("ok: [{host}] =>"))).nth(1).unwrap_or_default();
    assert!(line.contains(&want), "{host}: wanted {want}\n{out}");
}

#[test]
fn the_become_password_goes_only_to_sudo_over_ssh() {
    let sshd = Sshd::start();
    let s = setup();
    let base = |user: &str| {
        format!(
            "ansible_host=127.0.0.1 ansible_port={} ansible_user={user} ansible_ssh_private_key_file={} ansible_ssh_common_args='-o UserKnownHostsFile={}' out_dir={}",
            sshd.port,
            sshd.path("client_key").display(),
            sshd.path("known_hosts").display(),
            s.dir.path().display()
        )
    };
    let inv = format!(
        "np_third {b1} ansible_become_password={NOPASS_PW} target_user={t}\n\
         np_root {b1} ansible_become_password={NOPASS_PW} target_user=root\n\
         pw_third {b2} ansible_become_password={SUDO_PW} target_user={t}\n\
         pw_root {b2} ansible_become_pass={SUDO_PW} target_user=root\n\
         pw_wrong {b2} ansible_become_password=not-the-password target_user=root\n\
         su_third {b1} ansible_become_method=su ansible_become_password={THIRD_PW} target_user={t}\n\
         su_wrong {b1} ansible_become_method=su ansible_become_password=not-the-password target_user={t}\n\
         pw_none {b2} target_user=root\n\
         np_exe {b1} ansible_become_exe={exe} ansible_become_flags='-H -n' target_user=root\n",
        exe = s.dir.path().join("mysudo").display(),
        b1 = base(&s.nopass),
        b2 = base(&s.withpass),
        t = s.third
    );
    std::fs::write(s.dir.path().join("inv"), inv).unwrap();
    // become_exe: a wrapper that notes its arguments, then runs sudo.
    let exe = s.dir.path().join("mysudo");
    std::fs::write(&exe, format!("#!/bin/sh\necho \"$*\" > {}/mysudo.args\nexec sudo \"$@\"\n", s.dir.path().display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let f = run_bounded(mailplay().args(["run", "p.yml", "-i", "inv"]).current_dir(s.dir.path()), Duration::from_secs(240), |_| {});
    let out = &f.output;
    assert_eq!(f.code, Some(2), "{out}\nsshd log:\n{}", sshd.log());
    check_host(&s, out, "np_third", &s.third);
    check_host(&s, out, "np_root", "root");
    check_host(&s, out, "pw_third", &s.third);
    check_host(&s, out, "pw_root", "root");
    assert!(out.contains("fatal: [pw_wrong]") && out.contains("incorrect sudo password"), "{out}");
    check_host(&s, out, "su_third", &s.third);
    check_host(&s, out, "np_exe", "root");
    let args = std::fs::read_to_string(s.dir.path().join("mysudo.args")).unwrap();
    assert!(args.starts_with("-H -n -u root -- /bin/sh -c"), "become_exe and become_flags are used: {args}");
    // No password where sudo needs one: sudo's own reason, at once.
    assert!(out.contains("fatal: [pw_none]") && out.contains("a password is required"), "{out}");
    assert!(out.contains("fatal: [su_wrong]") && out.contains("incorrect su password"), "{out}");
    assert!(!s.dir.path().join("pw_wrong.txt").exists());
    let r = recap(out);
    assert_eq!((r["pw_wrong"]["failed"], r["su_wrong"]["failed"], r["pw_none"]["failed"]), (1, 1, 1), "{out}");
    for h in ["np_third", "np_root", "pw_third", "pw_root", "su_third", "np_exe"] {
        assert_eq!((r[h]["failed"], r[h]["unreachable"], r[h]["changed"]), (0, 0, 3), "{h}: {out}");
    }
    for pw in [NOPASS_PW, SUDO_PW, THIRD_PW] {
        assert!(!out.contains(pw), "the password shows in the output:\n{out}");
        for e in std::fs::read_dir(s.dir.path()).unwrap().flatten() {
            if e.file_name() != "inv" && e.path().is_file() {
                let bytes = std::fs::read(e.path()).unwrap();
                assert!(!String::from_utf8_lossy(&bytes).contains(pw), "the password is in {}", e.path().display());
            }
        }
    }
    // -K: the password typed at the prompt (here on stdin) works the same.
    std::fs::write(s.dir.path().join("inv2"), format!("pw_cli {} target_user=root\n", base(&s.withpass))).unwrap();
    let f = run_bounded(
        mailplay().args(["run", "p.yml", "-i", "inv2", "-K"]).current_dir(s.dir.path()).stdin(std::process::Stdio::piped()),
        Duration::from_secs(240),
        |child| {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(format!("{SUDO_PW}\n").as_bytes()).unwrap();
        },
    );
    assert_eq!(f.code, Some(0), "{}", f.output);
    check_host(&s, &f.output, "pw_cli", "root");
    assert!(!f.output.contains(SUDO_PW), "{}", f.output);
    drop(s.users);
}

#[test]
fn the_become_password_goes_only_to_sudo_locally() {
    let s = setup();
    // The local connection, run by the user whose sudo asks for a password.
    let inv = format!(
        "local_third ansible_connection=local ansible_become_password={SUDO_PW} target_user={t} out_dir={d}\n\
         local_root ansible_connection=local ansible_become_password={SUDO_PW} target_user=root out_dir={d}\n\
         [wrong]\n\
         local_wrong ansible_connection=local ansible_become_password=wrong-one target_user=root out_dir={d}\n",
        t = s.third,
        d = s.dir.path().display()
    );
    std::fs::write(s.dir.path().join("inv"), inv).unwrap();
    // sudo remembers a good password per parent process for a while, so
    // the wrong one gets a run of its own.
    let run = |limit: &str| {
        run_bounded(
            std::process::Command::new("runuser")
                .args(["-u", &s.withpass, "--", env!("CARGO_BIN_EXE_mailplay"), "run", "p.yml", "-i", "inv", "--limit", limit])
                .env("NO_COLOR", "1")
                .env("HOME", format!("/home/{}", s.withpass))
                .current_dir(s.dir.path()),
            Duration::from_secs(240),
            |_| {},
        )
    };
    let f = run("ungrouped");
    let out = &f.output;
    assert_eq!(f.code, Some(0), "{out}");
    check_host(&s, out, "local_third", &s.third);
    check_host(&s, out, "local_root", "root");
    assert!(!out.contains(SUDO_PW), "{out}");
    let f = run("wrong");
    let out = &f.output;
    assert_eq!(f.code, Some(2), "{out}");
    assert!(out.contains("fatal: [local_wrong]") && out.contains("incorrect sudo password"), "{out}");
    assert!(f.elapsed < Duration::from_secs(60), "a wrong password must fail quickly: {:?}", f.elapsed);
    for h in ["local_third", "local_root"] {
        let c = std::fs::read_to_string(s.dir.path().join(format!("{h}.txt"))).unwrap();
        assert!(!c.contains(SUDO_PW));
    }
    let _ = &s.nopass;
}
