//! `mailplay lab up|down|status`.

use crate::exec::run::exit;
use crate::inventory::Inventory;
use crate::lab::{lab_down, lab_status, lab_up, LabHostSpec, LabOptions};

use super::args::{LabAction, LabArgs};

/// One lab host per inventory host, and the inventory's groups for the
/// lab's generated inventory.
pub fn twins_of(inv: &Inventory, light: bool, preinstalled: bool) -> (Vec<LabHostSpec>, Vec<(String, Vec<String>)>) {
    let specs = inv.host_names().into_iter().map(|name| LabHostSpec { name, booted: !light, preinstalled }).collect();
    let groups = inv.groups.keys().filter(|g| *g != "all" && *g != "ungrouped").map(|g| (g.clone(), inv.hosts_below(g))).collect();
    (specs, groups)
}

pub async fn run(args: LabArgs) -> i32 {
    let opts = LabOptions::default();
    let result = match args.action {
        LabAction::Up { inventory, light, preinstalled } => {
            let inv = match Inventory::load(&inventory) {
                Ok(i) => i,
                Err(d) => {
                    eprintln!("ERROR! {}", d.render());
                    return exit::PARSE_ERROR;
                }
            };
            let (specs, groups) = twins_of(&inv, light, preinstalled);
            lab_up(&specs, &groups, &opts).await.map(|info| {
                for h in &info.hosts {
                    let kind = match (h.booted, h.preinstalled) {
                        (false, _) => "sshd only",
                        (true, false) => "systemd, plain Debian 12",
                        (true, true) => "systemd, mail stack preinstalled",
                    };
                    println!("{:<16} {:<14} {kind}", h.name, h.address);
                }
                println!("inventory: {}", info.inventory.display());
                println!("ssh config: {}", info.ssh_config.display());
                println!("known hosts: {}", info.known_hosts.display());
                println!("\nnext: mailplay run PLAYBOOK -i {}   (or ssh -F {} HOST)", info.inventory.display(), info.ssh_config.display());
            })
        }
        LabAction::Down => lab_down(&opts, None).await.map(|_| println!("lab removed")),
        LabAction::Status => lab_status(&opts).map(|hosts| {
            for (h, up) in hosts {
                println!(
                    "{:<16} {:<14} {:<10} {}",
                    h.name,
                    h.address,
                    if h.booted { "systemd" } else { "sshd only" },
                    if up { "up" } else { "down" }
                );
            }
        }),
    };
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("ERROR! {e}");
            exit::ERROR
        }
    }
}
