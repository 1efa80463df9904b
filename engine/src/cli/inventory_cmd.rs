//! `mailplay inventory`: the same output as ansible-inventory.

use crate::exec::run::exit;
use crate::inventory::Inventory;

use super::args::InventoryArgs;

pub fn run(args: InventoryArgs) -> i32 {
    // As ansible-inventory: vaulted files are decrypted, `!vault` values are
    // shown still encrypted (`{"__ansible_vault": ...}`).
    if let Err(e) = super::vault_cmd::install_secrets(&args.vault, crate::vault::InlineMode::Keep) {
        eprintln!("ERROR! {e}");
        return exit::ERROR;
    }
    // Without -i: Ansible's `inventory` setting (ANSIBLE_INVENTORY, ansible.cfg).
    let sources = if args.inventory.is_empty() {
        let cfg = match crate::config::AnsibleConfig::load() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("ERROR! {e}");
                return exit::BAD_OPTIONS;
            }
        };
        let explicit = cfg.raw("DEFAULT_HOST_LIST").is_some();
        let mut sources = Vec::new();
        for p in cfg.pathlist("DEFAULT_HOST_LIST").unwrap_or_else(|| vec!["/etc/ansible/hosts".into()]) {
            if p.exists() {
                sources.push(p.display().to_string());
            } else if explicit {
                eprintln!("[WARNING]: Unable to parse {} as an inventory source", p.display());
            }
        }
        sources
    } else {
        args.inventory.clone()
    };
    let inv = match Inventory::load(&sources) {
        Ok(i) => i,
        Err(d) => {
            eprintln!("ERROR! {}", d.render());
            return if crate::vault::is_vault_diagnostic(&d) { exit::ERROR } else { exit::PARSE_ERROR };
        }
    };
    if let Some(h) = &args.host {
        match inv.host_json(h) {
            Some(v) => println!("{}", serde_json::to_string_pretty(&v).expect("json")),
            None => {
                eprintln!("ERROR! You must pass a single valid host to --host parameter");
                return exit::ERROR;
            }
        }
    } else if args.graph {
        print!("{}", inv.graph(args.vars));
    } else if args.list {
        println!("{}", serde_json::to_string_pretty(&inv.to_list_json()).expect("json"));
    } else {
        eprintln!("ERROR! No action selected, at least one of --host, --graph or --list needs to be specified.");
        return exit::BAD_OPTIONS;
    }
    exit::OK
}
