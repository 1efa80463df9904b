//! The `mailplay` command line.

pub mod adhoc_cmd;
pub mod args;
pub mod config_cmd;
pub mod doc_cmd;
pub mod extra_vars;
pub mod inventory_cmd;
pub mod lab_cmd;
pub mod lab_run;
pub mod rehearse_cmd;
pub mod run_cmd;
pub mod vault_cmd;

use clap::Parser;

use crate::exec::run::exit;

pub fn main() -> i32 {
    let cli = match args::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { exit::BAD_OPTIONS } else { exit::OK };
            let _ = e.print();
            return code;
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match cli.command {
        args::Command::Run(a) => rt.block_on(run_cmd::run(a)),
        args::Command::Inventory(a) => inventory_cmd::run(a),
        args::Command::Doc(a) => doc_cmd::run(a),
        args::Command::Lab(a) => rt.block_on(lab_cmd::run(a)),
        args::Command::Rehearse(a) => rt.block_on(rehearse_cmd::run(a)),
        args::Command::Vault(a) => vault_cmd::run(a),
        args::Command::Adhoc(a) => rt.block_on(adhoc_cmd::run(a)),
        args::Command::Config(a) => config_cmd::run(a),
    }
}
