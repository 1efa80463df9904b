//! `mailplay config dump`: the configuration as ansible-config shows it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::AnsibleConfig;
use crate::exec::run::exit;

use super::args::{ConfigAction, ConfigArgs};

pub fn run(args: ConfigArgs) -> i32 {
    match args.action {
        ConfigAction::Dump { only_changed, config, verbose } => dump(only_changed, config.as_deref(), verbose),
    }
}

fn dump(only_changed: bool, config: Option<&str>, verbose: u8) -> i32 {
    let mut env: BTreeMap<String, String> = std::env::vars().collect();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    // `-c FILE` is that file, as ansible-config's own option.
    if let Some(file) = config {
        if !Path::new(file).is_file() {
            eprintln!("ERROR! The provided configuration file is missing or not accessible: {file}");
            return exit::BAD_OPTIONS;
        }
        env.insert("ANSIBLE_CONFIG".into(), file.to_string());
    }
    let cfg = match AnsibleConfig::load_from(env, &cwd) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ERROR! {e}");
            return exit::BAD_OPTIONS;
        }
    };
    for w in &cfg.warnings {
        eprintln!("[WARNING]: {w}");
    }
    if verbose > 0 {
        println!("{}", crate::config::using_line(cfg.file.as_deref()));
    }
    match cfg.dump(only_changed) {
        Ok(lines) => {
            for l in lines {
                println!("{l}");
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("ERROR! {e}");
            exit::BAD_OPTIONS
        }
    }
}
