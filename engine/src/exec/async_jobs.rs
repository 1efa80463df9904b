//! `async:` and `poll:` on a task, and `async_status`, as Ansible runs
//! them, fitted to mailplay's connections (one per host for the whole run,
//! requests that are dropped when abandoned).
//!
//! - `async: N` with `poll: P > 0`: the module runs with a time limit of N
//!   seconds; the result is the module's with the job's keys
//!   (`ansible_job_id`, `started`, `finished`, `results_file`). Ansible
//!   notices the end at its next poll, mailplay at once; past N seconds the
//!   request is dropped (which ends the command on the host) and the task
//!   fails as Ansible's does.
//! - `poll: 0`: the module runs as a background job of the run (a task
//!   on the controller driving the host's connection, still limited to N
//!   seconds) and the task returns at once with `started: 1, finished: 0`;
//!   `async_status: jid=...` reports on it, `mode: cleanup` forgets it.
//!   Where Ansible leaves the job running on the host after the run, the
//!   run waits for its jobs before it ends (each bounded by its N), so
//!   their effects are there just the same. `results_file` names the file
//!   Ansible would use; mailplay keeps the result on the controller.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tokio::task::JoinHandle;

use super::result::{Outcome, Status};

/// A background job's result, once it has one.
type Slot = Arc<Mutex<Option<Outcome>>>;
/// A job's result slot and, until the run waits for it, its task.
type Job = (Slot, Option<JoinHandle<()>>);

#[derive(Default)]
pub struct Jobs {
    jobs: Mutex<BTreeMap<String, Job>>,
}

/// A job id as Ansible's: `j` and digits, plus the process-like suffix.
pub fn new_job_id() -> String {
    format!("j{}.{}", rand::random::<u32>() % 1_000_000_000, std::process::id())
}

/// Where Ansible's async wrapper writes a job's result (`~/.ansible_async/<jid>`).
fn results_file(jid: &str) -> String {
    format!("~/.ansible_async/{jid}")
}

/// The job's keys on a result.
pub fn mark(o: &mut Outcome, jid: &str, finished: bool) {
    o.data.insert("ansible_job_id".into(), Value::from(jid));
    // ansible-core 2.19 reports them as booleans.
    o.data.insert("started".into(), Value::Bool(true));
    o.data.insert("finished".into(), Value::Bool(finished));
    o.data.insert("results_file".into(), Value::from(results_file(jid)));
}

/// The result of a job that did not end within its time limit.
pub fn timed_out(jid: &str, secs: u64) -> Outcome {
    let mut o = Outcome::failed(format!("async task did not complete within the requested time - {secs}s"));
    mark(&mut o, jid, false);
    o.data.insert("async_result".into(), Value::Object(Map::new()));
    o
}

impl Jobs {
    /// Start `job` in the background (it must end by itself: callers bound
    /// it with the task's `async` time limit).
    pub fn start(&self, jid: &str, job: impl std::future::Future<Output = Outcome> + Send + 'static) {
        let slot: Slot = Arc::default();
        let filled = slot.clone();
        let handle = tokio::spawn(async move {
            let o = job.await;
            *filled.lock().expect("job slot") = Some(o);
        });
        self.jobs.lock().expect("jobs").insert(jid.to_string(), (slot, Some(handle)));
    }

    /// `async_status`: the job's result when it has ended, else that it runs.
    pub fn status(&self, args: &Value) -> Outcome {
        let Some(jid) = args.get("jid").and_then(Value::as_str) else {
            return Outcome::failed("async_status: missing required arguments: jid");
        };
        let mode = args.get("mode").and_then(Value::as_str).unwrap_or("status");
        let mut jobs = self.jobs.lock().expect("jobs");
        match mode {
            "cleanup" => {
                jobs.remove(jid);
                let mut o = Outcome::new(Status::Ok, Map::new());
                o.data.insert("ansible_job_id".into(), Value::from(jid));
                o.data.insert("erased".into(), Value::from(results_file(jid)));
                o
            }
            "status" => {
                let Some((slot, _)) = jobs.get(jid) else {
                    let mut o = Outcome::failed(format!("could not find job {jid}"));
                    o.data.insert("ansible_job_id".into(), Value::from(jid));
                    o.data.insert("started".into(), Value::Bool(true));
                    o.data.insert("finished".into(), Value::Bool(true));
                    return o;
                };
                match slot.lock().expect("job slot").clone() {
                    Some(mut done) => {
                        mark(&mut done, jid, true);
                        done
                    }
                    None => {
                        let mut o = Outcome::new(Status::Ok, Map::new());
                        mark(&mut o, jid, false);
                        o
                    }
                }
            }
            other => Outcome::failed(format!("async_status: value of mode must be one of: status, cleanup, got: {other}")),
        }
    }

    /// Wait for the jobs still running (each ends within its time limit).
    pub async fn wait_all(&self) {
        let handles: Vec<JoinHandle<()>> = self.jobs.lock().expect("jobs").values_mut().filter_map(|(_, h)| h.take()).collect();
        for h in handles {
            let _ = h.await;
        }
    }
}

/// `async:`/`poll:` as templated for one host: the time limit and the poll
/// interval in seconds (Ansible's default poll is 15). `None` when the task
/// is not async (`async: 0` or no `async:`).
pub fn settings(
    async_: Option<&Value>,
    poll: Option<&Value>,
    render: impl Fn(&Value) -> Result<Value, String>,
) -> Result<Option<(u64, u64)>, String> {
    let Some(a) = async_ else { return Ok(None) };
    let num = |v: &Value, what: &str| -> Result<u64, String> {
        let v = render(v)?;
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| format!("{what} must be a whole number of seconds, got {v}"))
    };
    let secs = num(a, "async")?;
    if secs == 0 {
        return Ok(None);
    }
    let poll = match poll {
        Some(p) => num(p, "poll")?,
        None => 15,
    };
    Ok(Some((secs, poll)))
}
