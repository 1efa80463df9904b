//! Postfix modules: `postconf` (main.cf) and `postconf_service` (master.cf).

pub mod apply;
pub mod master;
pub mod postconf;
