//! Ansible's built-in modules, typed.

pub mod command;
