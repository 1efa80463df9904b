//! A whole `mailplay run`: plays one after another over shared host state,
//! ending with the recap and Ansible's exit code.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use mailplay_modules::planned::PlannedState;

use crate::inventory::Inventory;
use crate::output::{Reporter, Stats};
use crate::playbook::ast::Playbook;
use crate::template::Templar;

use super::connection::ConnectionPool;
use super::host_state::{HostState, Layer};
use super::options::RunOptions;
use super::play::PlayRunner;

/// ansible-playbook's exit codes.
pub mod exit {
    pub const OK: i32 = 0;
    pub const ERROR: i32 = 1;
    pub const FAILED_HOSTS: i32 = 2;
    pub const UNREACHABLE_HOSTS: i32 = 4;
    pub const PARSE_ERROR: i32 = 4;
    pub const BAD_OPTIONS: i32 = 5;
    pub const INTERRUPTED: i32 = 99;
}

/// Shared by every play and task of a run.
pub struct RunContext {
    pub templar: Arc<Templar>,
    /// The inventory as `add_host` and `group_by` leave it (see
    /// [`RunContext::inventory`]).
    inventory: std::sync::RwLock<Arc<Inventory>>,
    pub opts: RunOptions,
    pub pool: ConnectionPool,
    pub reporter: Arc<dyn Reporter>,
    pub stats: Mutex<Stats>,
    pub extra_vars: Layer,
    pub playbook_dir: PathBuf,
    /// Hosts' facts and set_facts live across plays, as in Ansible.
    pub host_states: Mutex<HashMap<String, HostState>>,
    /// `--start-at-task` not reached yet.
    pub waiting_for_start: Mutex<Option<String>>,
    /// Set by Ctrl-C: no new task starts.
    pub interrupted: std::sync::atomic::AtomicBool,
    /// Check mode's overlay per target host: what the run's earlier tasks
    /// planned there (see `mailplay_modules::planned`).
    planned: Mutex<HashMap<String, Arc<PlannedState>>>,
    /// `poll: 0` tasks' background jobs, for `async_status`.
    pub jobs: super::async_jobs::Jobs,
}

impl RunContext {
    pub fn new(
        templar: Arc<Templar>,
        inventory: Arc<Inventory>,
        opts: RunOptions,
        reporter: Arc<dyn Reporter>,
        playbook_dir: PathBuf,
    ) -> Self {
        let extra_vars = Arc::new(opts.extra_vars.clone());
        let waiting = opts.start_at_task.clone();
        RunContext {
            templar,
            inventory: std::sync::RwLock::new(inventory),
            opts,
            pool: ConnectionPool::default(),
            reporter,
            stats: Mutex::new(Stats::default()),
            extra_vars,
            playbook_dir,
            host_states: Mutex::new(HashMap::new()),
            waiting_for_start: Mutex::new(waiting),
            interrupted: std::sync::atomic::AtomicBool::new(false),
            planned: Mutex::new(HashMap::new()),
            jobs: Default::default(),
        }
    }

    /// The overlay of planned changes on `host` (the host a task's
    /// commands reach: the delegate's, with `delegate_to`), for the whole run.
    pub fn planned_for(&self, host: &str) -> Arc<PlannedState> {
        self.planned.lock().expect("planned states").entry(host.to_string()).or_default().clone()
    }

    /// The inventory now: a snapshot, cheap to take.
    pub fn inventory(&self) -> Arc<Inventory> {
        self.inventory.read().expect("inventory").clone()
    }

    /// Change the inventory (`add_host`, `group_by`); later snapshots see it.
    pub fn change_inventory<T>(&self, f: impl FnOnce(&mut Inventory) -> T) -> T {
        let mut guard = self.inventory.write().expect("inventory");
        f(Arc::make_mut(&mut guard))
    }

    /// `meta: refresh_inventory`: the inventory read again from its
    /// sources with the run's `add_host`/`group_by` changes replayed
    /// ([`Inventory::refreshed`]); with `--lab` the twins' connection
    /// variables replace the inventory's again. Hosts the run has met keep
    /// their facts and set_facts, and take their inventory variables from
    /// the new inventory. On an error nothing changes.
    pub fn refresh_inventory(&self) -> Result<(), String> {
        let mut fresh = self.inventory().refreshed().map_err(|d| d.render())?;
        if let Some(twins) = &self.opts.lab {
            for twin in twins.values() {
                twin.apply_to_inventory(&mut fresh);
            }
        }
        let mut states = self.host_states.lock().expect("host states");
        let mut vars = Vec::new();
        for name in states.keys().filter(|name| fresh.has_host(name)) {
            vars.push((name.clone(), self.inventory_vars_of(&fresh, name)?));
        }
        for (name, v) in vars {
            if let Some(state) = states.get_mut(&name) {
                state.inventory_vars = v;
            }
        }
        drop(states);
        *self.inventory.write().expect("inventory") = Arc::new(fresh);
        Ok(())
    }

    /// A host's inventory variables with the playbook's group_vars/host_vars.
    pub fn inventory_vars_of(&self, inv: &Inventory, host: &str) -> Result<Layer, String> {
        crate::inventory::vars_with_playbook_dirs(inv, &self.playbook_dir, host).map(Arc::new).map_err(|d| d.render())
    }

    pub fn is_interrupted(&self) -> bool {
        self.interrupted.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Hosts that failed or were unreachable in an earlier play sit out
    /// the following plays.
    pub fn is_dead(&self, host: &str) -> bool {
        self.host_states.lock().expect("host states").get(host).map(|h| h.failed || h.marked_failed || h.unreachable).unwrap_or(false)
    }
}

/// Run every play; returns the process exit code. The caller ends the
/// reporter (`Reporter::finish`) once every playbook has run, so a JSON
/// document is written whatever ended the run.
pub async fn run_playbook(ctx: Arc<RunContext>, pb: &Playbook) -> i32 {
    ctx.reporter.playbook_start(&pb.path, ctx.opts.check);
    if ctx.opts.verbosity >= 2 {
        // ansible-playbook's PlaybookExecutor says this at -vv (the
        // blocks target counts plays with it).
        ctx.reporter.display(&format!("{} plays in {}", pb.plays.len(), pb.path.display()));
    }
    if let (true, Some(cache)) = (ctx.opts.flush_cache, &ctx.opts.fact_cache) {
        // ansible-playbook's --flush-cache (CLI._flush_cache): localhost's
        // entry, then every inventory host's.
        let names = ctx.inventory().host_names();
        cache.flush(std::iter::once("localhost").chain(names.iter().map(String::as_str)));
    }
    for play in &pb.plays {
        if ctx.is_interrupted() {
            break;
        }
        let mut runner = PlayRunner::new(&ctx, play);
        if let Err(msg) = runner.run().await {
            ctx.reporter.error(&msg);
            ctx.pool.close_all().await;
            return exit::ERROR;
        }
    }
    // Background jobs end within their time limits; their effects are
    // part of the run (see async_jobs.rs).
    ctx.jobs.wait_all().await;
    ctx.pool.close_all().await;
    let stats = ctx.stats.lock().expect("stats").clone();
    ctx.reporter.recap(&stats);
    if ctx.is_interrupted() {
        ctx.reporter.interrupted();
        return exit::INTERRUPTED;
    }
    // As ansible-playbook: the hosts still failed at the end (a rescued
    // host, or one `meta: clear_host_errors` cleared, is not), not the
    // recap's counts.
    let (failed, unreachable) = {
        let states = ctx.host_states.lock().expect("host states");
        (states.values().any(|h| h.failed || h.marked_failed), states.values().any(|h| h.unreachable))
    };
    exit_code(failed, unreachable)
}

pub fn exit_code(failed: bool, unreachable: bool) -> i32 {
    if failed {
        exit::FAILED_HOSTS
    } else if unreachable {
        exit::UNREACHABLE_HOSTS
    } else {
        exit::OK
    }
}
