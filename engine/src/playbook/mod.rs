//! Playbooks: loading YAML into the [`ast`] the executor runs.

pub mod ast;
