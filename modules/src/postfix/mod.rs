//! Postfix modules: `postconf` (main.cf).

pub mod postconf;
