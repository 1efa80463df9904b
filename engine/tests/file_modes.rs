//! Files are never visible with the wrong mode: while a secret file is
//! written (new, or replacing a world-readable one; locally and over a
//! real sshd on loopback), a watcher looks at every file in the folder and
//! must never see the secret in a file with group or other permissions.
//! The `chown`, `chgrp` and `chmod` programs the task finds in its PATH
//! take a second each, so any window between writing the content and
//! setting the final mode is wide open to the watcher.

mod common;

#[path = "common/sshd.rs"]
mod sshd;

#[path = "common/bounded.rs"]
mod bounded;

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bounded::run_bounded;
use common::*;
use sshd::Sshd;

const SECRET: &str = "db-secret-5e0c1a77";

#[test]
fn a_secret_file_is_never_readable_by_others_while_it_is_written() {
    let s = Sshd::start();
    let work = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fakebin = work.path().join("bin");
    std::fs::create_dir(&fakebin).unwrap();
    for tool in ["chown", "chgrp", "chmod"] {
        let p = fakebin.join(tool);
        std::fs::write(&p, format!("#!/bin/sh\nsleep 1\nexec /bin/{tool} \"$@\"\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for h in ["local", "remote"] {
        let old = dir.path().join(format!("{h}-old.conf"));
        std::fs::write(&old, "nothing secret yet\n").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    std::fs::write(work.path().join("inv"), format!("local ansible_connection=local\nremote {}\n", s.host_vars())).unwrap();
    std::fs::write(
        work.path().join("p.yml"),
        format!(
            r#"- hosts: all
  gather_facts: no
  environment:
    PATH: "{bin}:/usr/sbin:/usr/bin:/sbin:/bin"
  tasks:
    - name: a new secret file
      copy:
        content: "password={SECRET}\n"
        dest: "{dir}/{{{{ inventory_hostname }}}}-new.conf"
        mode: "0600"
        group: root
    - name: a world-readable file becomes a secret one
      copy:
        content: "password={SECRET}\n"
        dest: "{dir}/{{{{ inventory_hostname }}}}-old.conf"
        mode: "0600"
        group: root
        backup: yes
    - name: a plain write without owner or group
      copy:
        content: "password={SECRET}\n"
        dest: "{dir}/{{{{ inventory_hostname }}}}-plain.conf"
        mode: "0600"
"#,
            bin = fakebin.display(),
            dir = dir.path().display()
        ),
    )
    .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let seen_secret = Arc::new(Mutex::new(0usize));
    let exposed = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
    let watcher = {
        let (stop, seen_secret, exposed, root) = (stop.clone(), seen_secret.clone(), exposed.clone(), dir.path().to_path_buf());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                for e in std::fs::read_dir(&root).unwrap().flatten() {
                    let Ok(meta) = std::fs::symlink_metadata(e.path()) else { continue };
                    if !meta.is_file() {
                        continue;
                    }
                    let Ok(content) = std::fs::read(e.path()) else { continue };
                    if !String::from_utf8_lossy(&content).contains(SECRET) {
                        continue;
                    }
                    *seen_secret.lock().unwrap() += 1;
                    let mode = meta.permissions().mode() & 0o777;
                    if mode & 0o077 != 0 {
                        exposed.lock().unwrap().insert(format!("{} {mode:o}", e.file_name().to_string_lossy()));
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let f = run_bounded(mailplay().args(["run", "p.yml", "-i", "inv"]).current_dir(work.path()), Duration::from_secs(240), |_| {});
    stop.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    let out = &f.output;
    assert_eq!(f.code, Some(0), "{out}");
    assert!(*seen_secret.lock().unwrap() > 0, "the watcher never saw the written files");
    let exposed = exposed.lock().unwrap().clone();
    assert!(exposed.is_empty(), "the secret was readable by others: {exposed:?}\n{out}");
    for h in ["local", "remote"] {
        for (name, mode) in [("new", 0o600), ("old", 0o600), ("plain", 0o600)] {
            let p = dir.path().join(format!("{h}-{name}.conf"));
            assert_eq!(std::fs::read_to_string(&p).unwrap(), format!("password={SECRET}\n"));
            assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777, mode, "{}", p.display());
        }
    }
    // Backups keep the old mode and content, under a name nobody could
    // guess in advance; nothing temporary is left.
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.starts_with(".mailplay")), "{names:?}");
    let backups: Vec<&String> = names.iter().filter(|n| n.contains("-old.conf.") && n.ends_with('~')).collect();
    assert_eq!(backups.len(), 2, "{names:?}");
    for b in backups {
        let p = dir.path().join(b);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "nothing secret yet\n");
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o644);
        let random = b.split('.').nth(2).unwrap_or_default();
        assert!(random.len() >= 12 && random.chars().all(|c| c.is_ascii_hexdigit()), "{b}");
    }
}

/// A file changed with `validate` keeps its owner, group and mode (as
/// Ansible's atomic move keeps them): the validated copy replaces it. An
/// imapd.conf holding the murder's passwords (0640 root:cyrus) became
/// 0644 root:root this way.
#[test]
fn a_validated_edit_keeps_the_files_owner_group_and_mode() {
    let work = tempfile::tempdir().unwrap();
    let conf = work.path().join("secret.conf");
    std::fs::write(&conf, "password: old\n").unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o640)).unwrap();
    // A group other than the runner's own (daemon, gid 1 on Debian).
    std::os::unix::fs::chown(&conf, None, Some(1)).unwrap();
    std::fs::write(work.path().join("inv"), "local ansible_connection=local\n").unwrap();
    std::fs::write(
        work.path().join("p.yml"),
        format!(
            "- hosts: all\n  gather_facts: no\n  tasks:\n    - lineinfile: {{path: {p}, regexp: '^password:', line: 'password: new', validate: 'grep -q new %s'}}\n    - copy: {{dest: {p}, content: \"password: newer\\n\", validate: 'grep -q newer %s'}}\n",
            p = conf.display()
        ),
    )
    .unwrap();
    let f = run_bounded(mailplay().args(["run", "p.yml", "-i", "inv"]).current_dir(work.path()), Duration::from_secs(60), |_| {});
    assert_eq!(f.code, Some(0), "{}", f.output);
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "password: newer\n");
    let meta = std::fs::metadata(&conf).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    assert_eq!(std::os::unix::fs::MetadataExt::gid(&meta), 1);
}
