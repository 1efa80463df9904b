//! `mailplay inventory --list` must equal `ansible-inventory --list` from
//! ansible-core 2.19 on tricky inventories. The expected JSON next to each
//! fixture was produced by the real tool; when it is installed, the test
//! runs it again so a stale fixture cannot hide a difference.

mod common;

use std::path::Path;

use common::*;
use mailplay::inventory::Inventory;
use serde_json::Value;

const CASES: &[(&str, &str)] = &[
    ("tricky.ini", "tricky"),
    ("nested.ini", "nested"),
    ("withdirs", "withdirs"),
    ("ports_and_spaces.ini", "ports_and_spaces"),
    ("cluster.yml", "cluster"),
];

fn ours(source: &Path) -> Value {
    Inventory::load(&[source.display().to_string()]).unwrap_or_else(|d| panic!("{}", d.render())).to_list_json()
}

#[test]
fn list_matches_the_recorded_ansible_output() {
    let dir = fixture("inventory");
    for (source, name) in CASES {
        let expected: Value = serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.expected.json"))).unwrap()).unwrap();
        assert_eq!(ours(&dir.join(source)), expected, "inventory {source} differs from ansible-inventory --list");
    }
}

#[test]
fn list_matches_ansible_inventory_run_now() {
    let dir = fixture("inventory");
    for (source, _) in CASES {
        let out = ansible("ansible-inventory").arg("-i").arg(source).arg("--list").current_dir(&dir).output().expect("ansible-inventory");
        assert!(out.status.success(), "{}", text(&out));
        let theirs: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(ours(&dir.join(source)), theirs, "inventory {source} differs from ansible-inventory --list");
    }
}

#[test]
fn host_vars_follow_group_depth_and_priority() {
    let inv = Inventory::load(&[fixture("inventory").join("nested.ini").display().to_string()]).unwrap();
    // mx is deeper than mail and cluster, so its `engine` wins.
    assert_eq!(inv.host_vars("mx1")["engine"], "none");
    assert_eq!(inv.host_vars("imap1")["engine"], "mysql");
    assert_eq!(inv.host_vars("db1")["engine"], "mysql");
    assert_eq!(inv.group_names_of("mx1"), vec!["cluster", "mail", "mx"]);
}

#[test]
fn patterns_select_like_ansible() {
    let inv = Inventory::load(&[fixture("inventory").join("nested.ini").display().to_string()]).unwrap();
    let sel = |p: &str| inv.select(p).unwrap();
    assert_eq!(sel("all"), vec!["mx1", "mx2", "imap1", "imap2", "db1"]);
    assert_eq!(sel("mx:db"), vec!["mx1", "mx2", "db1"]);
    assert_eq!(sel("mx,db"), vec!["mx1", "mx2", "db1"]);
    assert_eq!(sel("mail:&store"), vec!["imap1", "imap2"]);
    assert_eq!(sel("cluster:!mx"), vec!["imap1", "imap2", "db1"]);
    assert_eq!(sel("imap*"), vec!["imap1", "imap2"]);
    assert_eq!(sel("~^mx\\d"), vec!["mx1", "mx2"]);
    assert_eq!(sel("mail[0]"), vec!["mx1"]);
    assert_eq!(sel("mail[1:2]"), vec!["mx2", "imap1"]);
    assert!(sel("nothing").is_empty());
}

#[test]
fn bad_inventory_lines_point_at_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[mail]\nmx1 priority\n", 2, "expected key=value"),
        ("[mail:weird]\nmx1\n", 1, "unknown type 'weird'"),
        ("[mail x]\nmx1\n", 1, "invalid section header"),
        ("[odd:vars]\nx=1\n", 1, "undefined group 'odd'"),
        ("[g]\nh[3:1]\n", 2, "start is after its end"),
        ("[a:children]\nb\n[b:children]\na\n", 4, "loop"),
        ("[g]\nh x='unterminated\n", 2, "no closing quotation"),
    ];
    for (i, (text, line, msg)) in cases.iter().enumerate() {
        let f = dir.path().join(format!("bad{i}.ini"));
        std::fs::write(&f, text).unwrap();
        let err = Inventory::load(&[f.display().to_string()]).expect_err(text);
        assert_eq!(err.pos.line, *line, "{text}: {}", err.render());
        assert!(err.message.contains(msg), "{text}: {}", err.render());
    }
}
