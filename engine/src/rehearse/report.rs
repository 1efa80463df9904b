//! The rehearsal's report, built only from the runs' JSON documents: per
//! host and task what the check predicted against what the real run did,
//! every mismatch, what the second run changed again, the verify run, the
//! wall times and a verdict. Pure: the documents and timings go in, text
//! and a verdict come out.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

use super::outcomes::{errors, hosts_down, outcomes, Status, TaskKey, TaskOutcome};

/// One `mailplay run` of the rehearsal, as it ended.
#[derive(Debug, Clone)]
pub struct StepRun {
    pub title: String,
    pub took: Duration,
    pub exit_code: i32,
    /// The run's JSON document; None when it wrote none (it crashed).
    pub doc: Option<Value>,
}

/// The runs of a rehearsal; a step is None when it did not run because an
/// earlier one failed (or, for verify, when none was asked for).
#[derive(Debug, Clone, Default)]
pub struct Steps {
    pub check: Option<StepRun>,
    pub real: Option<StepRun>,
    pub second: Option<StepRun>,
    pub verify: Option<StepRun>,
    pub verify_requested: bool,
    /// Other timed work (bringing up the twins), in order.
    pub other_timings: Vec<(String, Duration)>,
}

/// One host's task: the check's prediction and the real run's result
/// (None: the task did not run for that host in that run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub key: TaskKey,
    pub predicted: Option<Status>,
    pub actual: Option<Status>,
}

impl Row {
    fn predicted_change(&self) -> bool {
        self.predicted == Some(Status::Changed)
    }

    fn actual_change(&self) -> bool {
        self.actual == Some(Status::Changed)
    }

    /// The check said changed and the real run did not change, or the
    /// other way round.
    pub fn is_mismatch(&self) -> bool {
        self.predicted_change() != self.actual_change()
    }
}

#[derive(Debug, Clone)]
pub struct Report {
    pub rows: Vec<Row>,
    pub changed_again: Vec<TaskKey>,
    /// Failed or unreachable hosts, run errors, steps that did not end
    /// well or did not run.
    pub problems: Vec<String>,
    pub steps: Steps,
}

fn word(s: Option<Status>) -> &'static str {
    s.map(Status::word).unwrap_or("-")
}

/// The check's and the real run's outcomes side by side, in the real run's
/// order, then what only the check met.
fn rows(check: &[TaskOutcome], real: &[TaskOutcome]) -> Vec<Row> {
    let predicted: HashMap<&TaskKey, Status> = check.iter().map(|o| (&o.key, o.status)).collect();
    let mut out: Vec<Row> =
        real.iter().map(|o| Row { key: o.key.clone(), predicted: predicted.get(&o.key).copied(), actual: Some(o.status) }).collect();
    let in_real: std::collections::HashSet<&TaskKey> = real.iter().map(|o| &o.key).collect();
    out.extend(check.iter().filter(|o| !in_real.contains(&o.key)).map(|o| Row {
        key: o.key.clone(),
        predicted: Some(o.status),
        actual: None,
    }));
    // Per host, each in run order (the sort is stable).
    out.sort_by(|a, b| a.key.host.cmp(&b.key.host));
    out
}

/// What went wrong in one run: its exit code, its errors, its failed and
/// unreachable hosts' tasks.
fn step_problems(step: &StepRun) -> Vec<String> {
    let mut out = Vec::new();
    let Some(doc) = &step.doc else {
        out.push(format!("{}: exited with {} and wrote no JSON document", step.title, step.exit_code));
        return out;
    };
    if step.exit_code != 0 {
        out.push(format!("{}: exited with {}", step.title, step.exit_code));
    }
    out.extend(errors(doc).into_iter().map(|e| format!("{}: {e}", step.title)));
    match outcomes(doc) {
        Ok(all) => out.extend(all.iter().filter(|o| matches!(o.status, Status::Failed | Status::Unreachable)).map(|o| {
            format!("{}: {}: {}{}", step.title, o.key, o.status.word(), o.msg.as_deref().map(|m| format!(": {m}")).unwrap_or_default())
        })),
        Err(e) => out.push(format!("{}: {e}", step.title)),
    }
    let down = hosts_down(doc);
    if !down.is_empty() && step.exit_code == 0 {
        out.push(format!("{}: failed or unreachable hosts: {}", step.title, down.join(", ")));
    }
    out
}

impl Report {
    pub fn build(steps: Steps) -> Report {
        let docs = |s: &Option<StepRun>| s.as_ref().and_then(|s| s.doc.as_ref()).and_then(|d| outcomes(d).ok());
        let rows = match (docs(&steps.check), docs(&steps.real)) {
            (Some(check), Some(real)) => rows(&check, &real),
            _ => Vec::new(),
        };
        let changed_again =
            docs(&steps.second).unwrap_or_default().into_iter().filter(|o| o.status == Status::Changed).map(|o| o.key).collect();
        let mut problems = Vec::new();
        let mut stopped = false;
        for (name, step) in [("the check", &steps.check), ("the real run", &steps.real), ("the second run", &steps.second)] {
            match step {
                Some(s) => problems.extend(step_problems(s)),
                None if !stopped => {
                    problems.push(format!("{name} did not run"));
                    stopped = true;
                }
                None => {}
            }
        }
        match &steps.verify {
            Some(s) => problems.extend(step_problems(s)),
            None if steps.verify_requested && !stopped => problems.push("the verify playbook did not run".into()),
            None => {}
        }
        Report { rows, changed_again, problems, steps }
    }

    pub fn mismatches(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.is_mismatch())
    }

    pub fn passed(&self) -> bool {
        self.problems.is_empty() && self.mismatches().next().is_none() && self.changed_again.is_empty()
    }

    /// The verdict's reasons, empty when it passed.
    fn reasons(&self) -> Vec<String> {
        let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut out = Vec::new();
        let mismatches = self.mismatches().count();
        if mismatches > 0 {
            out.push(plural(mismatches, "prediction mismatch", "prediction mismatches"));
        }
        if !self.changed_again.is_empty() {
            out.push(format!("the second run changed {}", plural(self.changed_again.len(), "task", "tasks")));
        }
        if !self.problems.is_empty() {
            out.push(plural(self.problems.len(), "problem", "problems"));
        }
        out
    }

    pub fn render(&self) -> String {
        let mut t = String::from("\nREHEARSAL REPORT ***************************************************************\n");
        t.push_str("\nCheck (predicted) against the real run, per host and task (\"-\": did not run):\n");
        if self.rows.is_empty() {
            t.push_str("  (nothing to compare: the check or the real run has no results)\n");
        }
        let width = self.rows.iter().map(|r| r.key.to_string().chars().count()).max().unwrap_or(0);
        for r in &self.rows {
            let mark = if r.is_mismatch() { "  <-- MISMATCH" } else { "" };
            let line = format!("  {:<width$}  {:<11} {:<11}{mark}", r.key.to_string(), word(r.predicted), word(r.actual));
            t.push_str(line.trim_end());
            t.push('\n');
        }
        let mismatches: Vec<&Row> = self.mismatches().collect();
        t.push_str(&format!("\nPrediction mismatches: {}\n", mismatches.len()));
        for r in mismatches {
            let what =
                if r.predicted_change() { "predicted changed, but the real run did not change it" } else { "changed, but not predicted" };
            t.push_str(&format!("  {}: {what} (check: {}, real: {})\n", r.key, word(r.predicted), word(r.actual)));
        }
        match (&self.steps.second, self.changed_again.is_empty()) {
            (None, _) => t.push_str("\nSecond run: did not run\n"),
            (Some(_), true) => t.push_str("\nSecond run: changed=0\n"),
            (Some(_), false) => {
                t.push_str(&format!("\nSecond run: {} changed again:\n", self.changed_again.len()));
                for k in &self.changed_again {
                    t.push_str(&format!("  {k}\n"));
                }
            }
        }
        let verify = match (&self.steps.verify, self.steps.verify_requested) {
            (Some(s), _) if s.exit_code == 0 => "passed (exit 0)".to_string(),
            (Some(s), _) => format!("FAILED (exit {})", s.exit_code),
            (None, true) => "did not run".to_string(),
            (None, false) => "none given (--verify)".to_string(),
        };
        t.push_str(&format!("\nVerify: {verify}\n"));
        t.push_str("\nWall time:\n");
        let timed = self.steps.other_timings.iter().cloned().chain(
            [&self.steps.check, &self.steps.real, &self.steps.second, &self.steps.verify]
                .into_iter()
                .flatten()
                .map(|s| (s.title.clone(), s.took)),
        );
        for (what, took) in timed {
            t.push_str(&format!("  {what:<28} {:>8.1} s\n", took.as_secs_f64()));
        }
        if !self.problems.is_empty() {
            t.push_str("\nProblems:\n");
            for p in &self.problems {
                t.push_str(&format!("  {p}\n"));
            }
        }
        if self.passed() {
            t.push_str("\nVERDICT: PASSED: the check predicted the real run, the second run changed nothing");
            t.push_str(if self.steps.verify.is_some() { ", the verify playbook passed\n" } else { "\n" });
        } else {
            t.push_str(&format!("\nVERDICT: FAILED: {}\n", self.reasons().join(", ")));
        }
        t
    }
}

/// Fed with documents the real binary wrote (`--json-file`) for
/// `testdata/site.yml` on two local hosts, captured from the folder
/// `testdata` with M=target/debug/mailplay:
///
/// ```text
/// rm -rf /tmp/mailplay-rehearse-sample
/// $M run site.yml -i inventory.ini --check --diff --json-file check.json   # fresh
/// $M run site.yml -i inventory.ini --json-file real.json
/// $M run site.yml -i inventory.ini --json-file second.json                 # converged
/// rm -rf /tmp/mailplay-rehearse-sample
/// $M run site.yml -i inventory.ini --check --diff -e run_command=true -e fail_h2=true --json-file check_command.json  # exit 2
/// $M run site.yml -i inventory.ini -e run_command=true -e fail_h2=true --json-file real_command.json                # exit 2
/// ```
#[cfg(test)]
mod tests {
    use super::*;

    fn step(title: &str, exit_code: i32, doc: &str) -> Option<StepRun> {
        let text = match doc {
            "check" => include_str!("testdata/check.json"),
            "real" => include_str!("testdata/real.json"),
            "second" => include_str!("testdata/second.json"),
            "check_command" => include_str!("testdata/check_command.json"),
            "real_command" => include_str!("testdata/real_command.json"),
            _ => unreachable!("{doc}"),
        };
        Some(StepRun { title: title.into(), took: Duration::from_millis(1500), exit_code, doc: Some(serde_json::from_str(text).unwrap()) })
    }

    fn keys<'a>(rows: impl Iterator<Item = &'a Row>) -> Vec<String> {
        let mut k: Vec<String> = rows.map(|r| r.key.to_string()).collect();
        k.sort();
        k
    }

    #[test]
    fn a_predicted_idempotent_run_passes() {
        let report = Report::build(Steps {
            check: step("check", 0, "check"),
            real: step("real run", 0, "real"),
            second: step("second run", 0, "second"),
            verify: step("verify", 0, "second"),
            verify_requested: true,
            other_timings: vec![("twins up".into(), Duration::from_secs(12))],
        });
        assert!(report.passed(), "{}", report.render());
        // Two hosts, each: 6 tasks (skipped ones included) and the handler.
        assert_eq!(report.rows.len(), 2 * 7, "{:#?}", report.rows);
        let h1_greetings: Vec<&Row> = report.rows.iter().filter(|r| r.key.host == "h1" && r.key.task == "the greeting").collect();
        assert_eq!(h1_greetings.len(), 2);
        let text = report.render();
        assert!(text.contains("Second run: changed=0"), "{text}");
        assert!(text.contains("Verify: passed (exit 0)"), "{text}");
        assert!(text.contains("twins up"), "{text}");
        assert!(text
            .ends_with("VERDICT: PASSED: the check predicted the real run, the second run changed nothing, the verify playbook passed\n"));
    }

    #[test]
    fn a_change_the_check_did_not_predict_and_a_failed_host_fail_it() {
        let report = Report::build(Steps {
            check: step("check", 2, "check_command"),
            real: step("real run", 2, "real_command"),
            ..Steps::default()
        });
        assert_eq!(
            keys(report.mismatches()),
            ["h1 | files | a command the check cannot predict", "h2 | files | a command the check cannot predict"]
        );
        let cmd = report.mismatches().next().unwrap();
        assert_eq!((cmd.predicted, cmd.actual), (Some(Status::Skipped), Some(Status::Changed)));
        assert!(report.problems.contains(&"real run: h2 | files | refuse on h2: failed: h2 refused".to_string()), "{:?}", report.problems);
        assert!(report.problems.contains(&"real run: exited with 2".to_string()), "{:?}", report.problems);
        assert!(report.problems.contains(&"the second run did not run".to_string()), "{:?}", report.problems);
        let text = report.render();
        assert!(text.contains("changed, but not predicted (check: skipped, real: changed)"), "{text}");
        assert!(text.contains("VERDICT: FAILED: 2 prediction mismatches, "), "{text}");
    }

    #[test]
    fn a_predicted_change_that_did_not_happen_is_a_mismatch() {
        // The check of fresh hosts against a run on converged ones: every
        // predicted change (the handler's too) did not happen.
        let report = Report::build(Steps {
            check: step("check", 0, "check"),
            real: step("real run", 0, "second"),
            second: step("second run", 0, "second"),
            ..Steps::default()
        });
        let mut expected = Vec::new();
        for h in ["h1", "h2"] {
            for t in ["the folders", "the greeting", "the greeting (#2)", "note the greeting"] {
                expected.push(format!("{h} | files | {t}"));
            }
        }
        expected.sort();
        assert_eq!(keys(report.mismatches()), expected);
        let handler = report.rows.iter().find(|r| r.key.task == "note the greeting").unwrap();
        assert_eq!((handler.predicted, handler.actual), (Some(Status::Changed), None));
        assert!(report.render().contains("predicted changed, but the real run did not change it (check: changed, real: -)"));
        assert!(!report.passed());
    }

    #[test]
    fn a_second_run_that_changes_again_is_listed() {
        let report = Report::build(Steps {
            check: step("check", 0, "check"),
            real: step("real run", 0, "real"),
            second: step("second run", 0, "real"),
            verify: step("verify", 2, "real_command"),
            verify_requested: true,
            ..Steps::default()
        });
        assert_eq!(report.mismatches().count(), 0);
        assert_eq!(report.changed_again.len(), 8, "{:?}", report.changed_again);
        let text = report.render();
        assert!(text.contains("Second run: 8 changed again:\n  h"), "{text}");
        assert!(text.contains("Verify: FAILED (exit 2)"), "{text}");
        assert!(text.contains("VERDICT: FAILED: the second run changed 8 tasks, "), "{text}");
    }

    #[test]
    fn a_run_without_a_document_is_a_problem() {
        let mut crashed = step("real run", 101, "real").unwrap();
        crashed.doc = None;
        let report = Report::build(Steps { check: step("check", 0, "check"), real: Some(crashed), ..Steps::default() });
        assert!(report.problems.contains(&"real run: exited with 101 and wrote no JSON document".to_string()), "{:?}", report.problems);
        assert!(report.render().contains("(nothing to compare"));
        assert!(!report.passed());
    }
}
