//! Run a process with an upper bound on its duration: the test fails
//! (and the process is killed) instead of hanging.
#![allow(dead_code)]

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Finished {
    pub code: Option<i32>,
    pub output: String,
    pub elapsed: Duration,
}

/// Spawn `cmd` with piped output; `during` runs while it is running (with
/// the child), then wait at most `limit` for it to end.
pub fn run_bounded(cmd: &mut Command, limit: Duration, during: impl FnOnce(&mut Child)) -> Finished {
    let start = Instant::now();
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    during(&mut child);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = start.elapsed();
    let output = format!("{}{}", t_out.join().unwrap(), t_err.join().unwrap());
    assert!(status.is_some(), "still running after {limit:?} (killed):\n{output}");
    Finished { code: status.and_then(|s| s.code()), output, elapsed }
}
