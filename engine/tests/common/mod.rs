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

/// Per-host counts (ok, changed, unreachable, failed, skipped, rescued,
/// ignored) counted from the task results of a `--output json` document,
/// the way the PLAY RECAP counts them: each host's result of each task
/// once (a loop's own result, not its items; an include's result).
pub fn json_task_counts(doc: &serde_json::Value) -> BTreeMap<String, BTreeMap<String, u32>> {
    let mut out: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
    let flag = |r: &serde_json::Value, k: &str| r.get(k).and_then(serde_json::Value::as_bool).unwrap_or(false);
    for play in doc["plays"].as_array().expect("plays") {
        for task in play["tasks"].as_array().expect("tasks") {
            for (host, r) in task["hosts"].as_object().expect("hosts") {
                let c = out.entry(host.clone()).or_insert_with(|| {
                    ["ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored"].iter().map(|k| (k.to_string(), 0)).collect()
                });
                let mut add = |k: &str| *c.get_mut(k).expect("known count") += 1;
                if flag(r, "unreachable") {
                    add(if flag(r, "ignored") { "skipped" } else { "unreachable" });
                } else if flag(r, "failed") {
                    if flag(r, "ignored") {
                        add("ok");
                        add("ignored");
                        if flag(r, "changed") {
                            add("changed");
                        }
                    } else if flag(r, "rescued") {
                        add("rescued");
                    } else {
                        add("failed");
                    }
                } else if flag(r, "skipped") {
                    add("skipped");
                } else {
                    add("ok");
                    if flag(r, "changed") {
                        add("changed");
                    }
                }
            }
        }
    }
    out
}

/// The JSON document of a run (`json_stdout`, mailplay's `--output json`)
/// agrees with the PLAY RECAP of the same playbook run in text mode
/// (`text_output`): its `stats`, and the counts of its task results, are
/// the recap's for every host. Panics naming the difference.
pub fn json_counts_match_recap(json_stdout: &str, text_output: &str) {
    let doc: serde_json::Value =
        serde_json::from_str(json_stdout).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{json_stdout}"));
    let recap = recap(text_output);
    assert!(!recap.is_empty(), "no PLAY RECAP in the text output:\n{text_output}");
    let stats: BTreeMap<String, BTreeMap<String, u32>> = doc["stats"]
        .as_object()
        .expect("stats")
        .iter()
        .map(|(h, s)| {
            let counts = s
                .as_object()
                .expect("host stats")
                .iter()
                .map(|(k, v)| (if k == "failures" { "failed".to_string() } else { k.clone() }, v.as_u64().expect("count") as u32))
                .collect();
            (h.clone(), counts)
        })
        .collect();
    assert_eq!(stats, recap, "the JSON's stats differ from the PLAY RECAP\ntext:\n{text_output}");
    let counted = json_task_counts(&doc);
    assert_eq!(counted, recap, "the JSON's task results do not add up to the PLAY RECAP\ntext:\n{text_output}\njson:\n{json_stdout}");
}
