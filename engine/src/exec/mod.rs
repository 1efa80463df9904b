//! Running playbooks: all hosts in parallel (linear strategy) or each on
//! its own (free, `strategy`).
//!
//! `run::run_playbook` drives plays; `play` handles hosts, batches and
//! sections; `walk` the task tree (blocks, includes, handlers); `host_task`
//! one task on one host; `scope` the variable precedence.

pub mod arg_splat;
mod async_jobs;
pub mod connection;
pub mod controller;
mod controller_host;
pub mod fact_cache;
pub mod host_state;
pub mod host_task;
mod include;
pub mod include_vars;
pub mod inherited;
mod inventory_actions;
pub mod isolate;
pub mod loops;
mod meta;
pub mod options;
pub mod play;
pub mod result;
pub mod run;
pub mod scope;
pub mod strategy;
pub mod tags;
pub mod untrusted;
pub mod walk;

pub use options::{Gathering, RunOptions};
pub use run::{run_playbook, RunContext};
