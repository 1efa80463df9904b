//! The error gallery: every folder under tests/fixtures/errors/ holds a bad
//! input (`playbook.yml`, maybe an inventory or templates) and
//! `expected.txt`:
//!
//! ```text
//! args: run | --syntax-check (default) | inventory=FILE | extra flags
//! exit: 4                     the exit code, as ansible-playbook's
//! at: playbook.yml:5:7        where the error points (a prefix is enough)
//! message: ...                text the output must contain (repeatable)
//! ```
//!
//! Each case runs the real binary and checks all of it.

mod common;

use common::*;

struct Expect {
    args: Vec<String>,
    inventory: String,
    syntax_check: bool,
    exit: i32,
    at: Option<String>,
    messages: Vec<String>,
}

fn parse_expect(text: &str) -> Expect {
    let mut e = Expect { args: Vec::new(), inventory: "localhost,".into(), syntax_check: true, exit: 0, at: None, messages: Vec::new() };
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else { continue };
        let v = v.trim().to_string();
        match k {
            "args" => {
                for word in v.split_whitespace() {
                    match word {
                        "run" => e.syntax_check = false,
                        w if w.starts_with("inventory=") => e.inventory = w["inventory=".len()..].to_string(),
                        w => e.args.push(w.to_string()),
                    }
                }
            }
            "exit" => e.exit = v.parse().expect("exit code"),
            "at" => e.at = Some(v),
            "message" => e.messages.push(v),
            other => panic!("unknown key {other} in expected.txt"),
        }
    }
    e
}

#[test]
fn every_bad_input_gets_a_clear_error_and_the_right_exit_code() {
    let root = fixture("errors");
    let mut cases: Vec<_> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    cases.sort();
    assert!(cases.len() >= 30, "the gallery should keep at least 30 cases, has {}", cases.len());
    let mut failures = Vec::new();
    for dir in &cases {
        let exp = parse_expect(&std::fs::read_to_string(dir.join("expected.txt")).unwrap());
        let mut cmd = mailplay();
        cmd.arg("run").arg("playbook.yml").arg("-i").arg(&exp.inventory).arg("-c").arg("local").current_dir(dir);
        if exp.syntax_check {
            cmd.arg("--syntax-check");
        }
        cmd.args(&exp.args);
        let out = cmd.output().expect("run mailplay");
        let t = text(&out);
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if out.status.code() != Some(exp.exit) {
            failures.push(format!("{name}: exit {:?}, expected {}\n{t}", out.status.code(), exp.exit));
            continue;
        }
        if let Some(at) = &exp.at {
            let found = t
                .lines()
                .any(|l| l.split_whitespace().any(|w| w.trim_end_matches(':').ends_with(at.as_str()) || w.contains(&format!("/{at}"))));
            if !found {
                failures.push(format!("{name}: no position {at} in\n{t}"));
            }
        }
        for m in &exp.messages {
            if !t.contains(m.as_str()) {
                failures.push(format!("{name}: missing '{m}' in\n{t}"));
            }
        }
        // A snippet of the offending line accompanies positioned errors.
        if exp.at.is_some() && !t.contains(" | ") {
            failures.push(format!("{name}: no source snippet in\n{t}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}
