//! mailplay's modules and the host-operations trait they use.
//!
//! This crate knows nothing of SSH or Jinja: a module gets a [`host::Host`]
//! to run commands and move files, and a [`module::Controller`] for the few
//! things only the controller can do (find role files, render templates).

pub mod args;
#[path = "become.rs"]
pub mod become_;
pub mod foreign;
pub mod host;
pub mod local_host;
pub mod module;
pub mod planned;
pub mod postfix;
pub mod registry;
pub mod secret;
pub mod sql;

pub mod builtin;
pub mod cyrus;
