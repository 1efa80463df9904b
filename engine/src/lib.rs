//! mailplay's engine: inventory, playbooks, variables and templating,
//! scheduling, connections and output. The `mailplay` binary is a thin CLI
//! on top of this library.

pub mod cli;
pub mod config;
pub mod connection;
pub mod diag;
pub mod exec;
pub mod inventory;
pub mod lab;
pub mod output;
pub mod playbook;
pub mod rehearse;
pub mod template;
pub mod vault;
pub mod yaml;
