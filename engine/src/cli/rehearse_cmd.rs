//! `mailplay rehearse`: fresh lab twins of the inventory's hosts, then the
//! playbook on them with `--lab` as a check, a real run, a second run and a
//! verify playbook, then one report (`crate::rehearse`) and the twins
//! removed. Each run is this very binary as a child: the person watching
//! sees its usual text output, and the report reads the typed JSON document
//! it writes beside (`--json-file`), never the text.

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::exec::run::exit;
use crate::inventory::Inventory;
use crate::lab::{lab_down, lab_up, LabOptions};
use crate::rehearse::{Report, StepRun, Steps};

use super::args::RehearseArgs;

/// `mailplay run PLAYBOOK -i ... --lab` with the options passed on, plus `extra`.
fn run_argv(args: &RehearseArgs, playbook: &str, extra: &[&str]) -> Vec<String> {
    let mut a = vec!["run".to_string(), playbook.to_string()];
    for i in &args.inventory {
        a.extend(["-i".to_string(), i.clone()]);
    }
    a.extend(args.play.to_argv());
    a.extend(args.vault.to_argv());
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// Run this binary with `argv`, its output shown as it comes (errors only
/// when `quiet`).
async fn mailplay(argv: &[String], quiet: bool) -> Result<i32, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the mailplay binary: {e}"))?;
    let status = tokio::process::Command::new(exe)
        .args(argv)
        .stdin(Stdio::inherit())
        .stdout(if quiet { Stdio::null() } else { Stdio::inherit() })
        .status()
        .await
        .map_err(|e| format!("cannot run mailplay {}: {e}", argv.join(" ")))?;
    // Killed by a signal: report it as the shell would.
    Ok(status.code().unwrap_or_else(|| 128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)))
}

fn banner(title: &str) {
    let head = format!("\nREHEARSE [{title}] ");
    println!("{head}{}", "*".repeat(80usize.saturating_sub(head.len() - 1)));
}

/// One `--lab` run with its JSON document in `doc_path`.
async fn step(args: &RehearseArgs, title: &str, playbook: &str, flags: &[&str], doc_path: &Path) -> Result<StepRun, String> {
    banner(title);
    let doc_arg = doc_path.display().to_string();
    let mut extra = vec!["--lab", "--json-file", doc_arg.as_str()];
    extra.extend_from_slice(flags);
    let started = Instant::now();
    let exit_code = mailplay(&run_argv(args, playbook, &extra), false).await?;
    let took = started.elapsed();
    let doc = std::fs::read_to_string(doc_path).ok().and_then(|t| serde_json::from_str(&t).ok());
    Ok(StepRun { title: title.to_string(), took, exit_code, doc })
}

/// Ctrl-C: the runs (children in our process group) see it and stop
/// themselves; the rehearsal then starts no further step and still removes
/// the twins.
fn watch_interrupt() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    if let Ok(mut sigint) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
        let set = flag.clone();
        tokio::spawn(async move {
            while sigint.recv().await.is_some() {
                set.store(true, Ordering::SeqCst);
            }
        });
    }
    flag
}

pub async fn run(args: RehearseArgs) -> i32 {
    for p in std::iter::once(&args.playbook).chain(args.verify.as_ref()) {
        if !Path::new(p).exists() {
            eprintln!("ERROR! the playbook: {p} could not be found");
            return exit::ERROR;
        }
    }
    // Typos end the rehearsal before any twin is made.
    for p in std::iter::once(&args.playbook).chain(args.verify.as_ref()) {
        match mailplay(&run_argv(&args, p, &["--syntax-check"]), true).await {
            Ok(0) => {}
            Ok(code) => return code,
            Err(e) => {
                eprintln!("ERROR! {e}");
                return exit::ERROR;
            }
        }
    }
    if let Err(e) = super::vault_cmd::install_secrets(&args.vault, crate::vault::InlineMode::Decrypt) {
        eprintln!("ERROR! {e}");
        return exit::ERROR;
    }
    let inventory = match Inventory::load(&args.inventory) {
        Ok(i) => i,
        Err(d) => {
            eprintln!("ERROR! {}", d.render());
            return exit::PARSE_ERROR;
        }
    };
    let docs = match tempfile::Builder::new().prefix("mailplay-rehearse.").tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("ERROR! cannot create a temporary folder: {e}");
            return exit::ERROR;
        }
    };
    let interrupted = watch_interrupt();
    let opts = LabOptions::default();
    let (specs, groups) = super::lab_cmd::twins_of(&inventory, false, args.preinstalled);
    let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();

    // Fresh twins: whatever an earlier rehearsal or `lab up` left on them
    // would make the check predict less than production needs.
    banner(&format!("fresh twins of {}", names.join(", ")));
    let started = Instant::now();
    let up = async {
        // Only when there are old twins: `lab_down` removes the lab's bridge
        // with its last host.
        let old = crate::lab::twin_connections(&opts)?;
        if names.iter().any(|n| old.contains_key(n)) {
            lab_down(&opts, Some(&names)).await?;
        }
        lab_up(&specs, &groups, &opts).await.map(|_| ())
    }
    .await;
    let mut steps = Steps { verify_requested: args.verify.is_some(), ..Steps::default() };
    steps.other_timings.push((format!("fresh twins ({})", names.len()), started.elapsed()));
    let code = match up {
        Err(e) => {
            eprintln!("ERROR! cannot bring up the twins: {e}");
            exit::ERROR
        }
        Ok(()) => match run_steps(&args, &mut steps, docs.path(), &interrupted).await {
            Err(e) => {
                eprintln!("ERROR! {e}");
                exit::ERROR
            }
            Ok(()) => {
                let report = Report::build(steps);
                print!("{}", report.render());
                if interrupted.load(Ordering::SeqCst) {
                    exit::INTERRUPTED
                } else {
                    verdict_code(&report)
                }
            }
        },
    };
    finish(&args, &opts, &names, code).await
}

/// The steps in order; the first that does not succeed ends them.
async fn run_steps(args: &RehearseArgs, steps: &mut Steps, docs: &Path, interrupted: &AtomicBool) -> Result<(), String> {
    if interrupted.load(Ordering::SeqCst) {
        return Ok(());
    }
    let pb = args.playbook.as_str();
    let go_on = |s: &StepRun| s.exit_code == 0 && !interrupted.load(Ordering::SeqCst);
    let check = step(args, "check: --check --diff", pb, &["--check", "--diff"], &docs.join("check.json")).await?;
    let ok = go_on(&check);
    steps.check = Some(check);
    if !ok {
        return Ok(());
    }
    let real = step(args, "real run", pb, &[], &docs.join("real.json")).await?;
    let ok = go_on(&real);
    steps.real = Some(real);
    if !ok {
        return Ok(());
    }
    let second = step(args, "second run", pb, &[], &docs.join("second.json")).await?;
    let ok = go_on(&second);
    steps.second = Some(second);
    if let (true, Some(verify)) = (ok, &args.verify) {
        steps.verify = Some(step(args, &format!("verify: {verify}"), verify, &[], &docs.join("verify.json")).await?);
    }
    Ok(())
}

/// 0 when the rehearsal passed; else the first failing run's exit code, or
/// 1 (an error) for a mismatch or a second run that changed something.
fn verdict_code(report: &Report) -> i32 {
    if report.passed() {
        return exit::OK;
    }
    let s = &report.steps;
    [&s.check, &s.real, &s.second, &s.verify].into_iter().flatten().map(|r| r.exit_code).find(|c| *c != 0).unwrap_or(exit::ERROR)
}

/// Remove the twins unless `--keep`; `code` is the rehearsal's exit code.
async fn finish(args: &RehearseArgs, opts: &LabOptions, names: &[String], code: i32) -> i32 {
    if args.keep {
        println!("\nThe twins stay up (--keep): mailplay run {} -i {} --lab", args.playbook, args.inventory.join(" -i "));
        println!("  ssh -F {} HOST    mailplay lab down    to remove them", opts.cache_dir.join("ssh_config").display());
        return code;
    }
    // Nothing to remove when the twins never came up (no root, say).
    if crate::lab::twin_connections(opts).is_ok_and(|twins| !names.iter().any(|n| twins.contains_key(n))) {
        return code;
    }
    let started = Instant::now();
    match lab_down(opts, Some(names)).await {
        Ok(()) => {
            println!("\nTwins removed ({:.1} s).", started.elapsed().as_secs_f64());
            code
        }
        Err(e) => {
            eprintln!("ERROR! cannot remove the twins ({}): {e}", names.join(", "));
            if code == exit::OK {
                exit::ERROR
            } else {
                code
            }
        }
    }
}
