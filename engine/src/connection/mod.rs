//! Connections to remote hosts. `local` lives in the modules crate
//! (`LocalHost`); this is `ssh`.

pub mod fd_budget;
pub mod framing;
pub mod options;
pub mod requests;
pub mod ssh;
mod ssh_host;

#[cfg(test)]
mod helper_tests;

pub use options::{target_from_vars, HostKeyPolicy, SshTarget};
pub use ssh::{SshConnection, SshHost};
