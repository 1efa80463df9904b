//! `mailplay rehearse`: the pure part. A rehearsal runs a playbook on fresh
//! lab twins as a check, a real run, a second run and a verify playbook
//! (`cli/rehearse_cmd.rs`); this reads their JSON documents into typed
//! outcomes (`outcomes`) and compares them into one report (`report`).

pub mod outcomes;
pub mod report;

pub use report::{Report, StepRun, Steps};
