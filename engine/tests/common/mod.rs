//! Helpers shared by the integration tests: running the `mailplay` binary
//! and the reference ansible-playbook, reading PLAY RECAP lines, and
//! snapshotting folders for comparison.
#![allow(dead_code)]

pub mod lab;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(name)
}

pub fn mailplay() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mailplay"));
    c.env("NO_COLOR", "1");
    c
}

/// The reference implementation, installed by tests/run-all.sh.
pub fn ansible_bin(tool: &str) -> PathBuf {
    let dir = std::env::var("MAILPLAY_ANSIBLE_BIN").unwrap_or_else(|_| "/opt/ansible-venv/bin".into());
    let p = Path::new(&dir).join(tool);
    assert!(p.exists(), "{} is missing: run tests/run-all.sh, which installs ansible-core 2.19 into /opt/ansible-venv", p.display());
    p
}

pub fn ansible(tool: &str) -> Command {
    let mut c = Command::new(ansible_bin(tool));
    c.env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_HOST_KEY_CHECKING", "False")
        .env("ANSIBLE_LOCALHOST_WARNING", "0")
        .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "0")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "0");
    c
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `host : ok=1 changed=0 ...` lines of PLAY RECAP, as host → counts.
pub fn recap(output: &str) -> BTreeMap<String, BTreeMap<String, u32>> {
    let mut out = BTreeMap::new();
    let mut in_recap = false;
    for line in output.lines() {
        if line.starts_with("PLAY RECAP") {
            in_recap = true;
            continue;
        }
        if !in_recap {
            continue;
        }
        let Some((host, counts)) = line.split_once(" : ") else { continue };
        let counts = counts
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.parse().expect("count")))
            .collect();
        out.insert(host.trim().to_string(), counts);
    }
    out
}

/// Every file and folder below `root`: relative path → (mode, content).
pub fn snapshot(root: &Path) -> BTreeMap<String, (u32, Option<Vec<u8>>)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (u32, Option<Vec<u8>>)>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).expect("below root").display().to_string();
            let meta = std::fs::symlink_metadata(&p).expect("metadata");
            let mode = meta.permissions().mode() & 0o7777;
            if meta.is_dir() {
                out.insert(rel + "/", (mode, None));
                walk(root, &p, out);
            } else {
                out.insert(rel, (mode, Some(std::fs::read(&p).unwrap_or_default())));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// (task, host) pairs reported as changed in a text stream, sorted.
pub fn changed_tasks(output: &str) -> Vec<(String, String)> {
    let mut task = String::new();
    let mut out = Vec::new();
    for line in output.lines() {
        if let Some(rest) = line.strip_prefix("TASK [").or_else(|| line.strip_prefix("RUNNING HANDLER [")) {
            task = rest.split("] ").next().unwrap_or("").to_string();
        } else if let Some(rest) = line.strip_prefix("changed: [") {
            out.push((task.clone(), rest.split([']', ' ']).next().unwrap_or("").to_string()));
        }
    }
    out.sort();
    out.dedup();
    out
}
