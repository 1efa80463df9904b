//! `mailplay run --lab`: the same playbook and inventory against the lab
//! twins of the inventory's hosts. Before anything connects, every host the
//! run targets must have a running twin; the connection override itself is
//! in `exec::connection::lab_connection_vars`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::exec::RunOptions;
use crate::inventory::Inventory;
use crate::lab::{twin_connections, LabOptions, TwinConnection};
use crate::playbook::ast::{Play, Playbook};
use crate::template::{Scope, Templar};

/// The hosts one play targets: its `hosts:` pattern (rendered with the
/// play's vars and `-e`, as the play itself does), within `--limit`.
pub fn play_hosts(play: &Play, inv: &Inventory, opts: &RunOptions, templar: &Templar) -> Result<(String, Vec<String>), String> {
    let mut scope = Scope::new();
    scope.push(Arc::new(play.vars.clone()));
    scope.push(Arc::new(opts.extra_vars.clone()));
    let pattern = templar.render_string(&play.hosts, &scope).map_err(|e| format!("cannot template hosts '{}': {e}", play.hosts))?;
    let mut hosts = inv.select(&pattern)?;
    if let Some(limit) = &opts.limit {
        let allowed = inv.select(limit)?;
        hosts.retain(|h| allowed.contains(h));
    }
    Ok((pattern, hosts))
}

/// Every host some play of the run targets.
fn targeted_hosts(playbooks: &[Playbook], inv: &Inventory, opts: &RunOptions, templar: &Templar) -> Result<BTreeSet<String>, String> {
    let mut all = BTreeSet::new();
    for play in playbooks.iter().flat_map(|pb| &pb.plays) {
        // The implicit localhost is the controller, no host to twin.
        all.extend(play_hosts(play, inv, opts, templar)?.1.into_iter().filter(|h| !inv.is_implicit_localhost(h)));
    }
    Ok(all)
}

/// Why a `--lab` run cannot start, or None: the targeted hosts without a
/// twin, and those whose twin is not running.
pub fn missing_twins(
    targeted: &BTreeSet<String>,
    twins: &BTreeMap<String, TwinConnection>,
    inventory_sources: &[String],
) -> Option<String> {
    let absent: Vec<&str> = targeted.iter().filter(|h| !twins.contains_key(*h)).map(String::as_str).collect();
    let stopped: Vec<&str> = targeted.iter().filter(|h| twins.get(*h).is_some_and(|t| !t.running)).map(String::as_str).collect();
    if absent.is_empty() && stopped.is_empty() {
        return None;
    }
    let mut why = Vec::new();
    if !absent.is_empty() {
        why.push(format!("no lab twin for {}", absent.join(", ")));
    }
    if !stopped.is_empty() {
        why.push(format!("the lab twin of {} is not running", stopped.join(", ")));
    }
    let sources: String = inventory_sources.iter().map(|s| format!(" -i {s}")).collect();
    Some(format!("--lab: {}; nothing was contacted. Create the twins with: mailplay lab up{sources}", why.join("; ")))
}

/// The twins a `--lab` run connects to, once every targeted host has a
/// running one.
pub fn lab_twins(
    playbooks: &[Playbook],
    inv: &Inventory,
    opts: &RunOptions,
    templar: &Templar,
    inventory_sources: &[String],
) -> Result<Arc<BTreeMap<String, TwinConnection>>, String> {
    let twins = twin_connections(&LabOptions::default()).map_err(|e| format!("--lab: {e}"))?;
    let targeted = targeted_hosts(playbooks, inv, opts, templar)?;
    match missing_twins(&targeted, &twins, inventory_sources) {
        Some(why) => Err(why),
        None => Ok(Arc::new(twins)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn twin(name: &str, running: bool) -> (String, TwinConnection) {
        let t = TwinConnection {
            name: name.into(),
            address: "10.231.0.11".into(),
            private_key: "/k".into(),
            known_hosts: "/kh".into(),
            ssh_config: "/c".into(),
            running,
        };
        (name.to_string(), t)
    }

    #[test]
    fn names_absent_and_stopped_twins_and_the_command_to_create_them() {
        let targeted: BTreeSet<String> = ["db1", "mx1", "imap1"].map(String::from).into();
        let twins: BTreeMap<_, _> = [twin("db1", true), twin("imap1", false), twin("other", false)].into();
        let why = missing_twins(&targeted, &twins, &["inventories/cluster.ini".into()]).unwrap();
        assert_eq!(
            why,
            "--lab: no lab twin for mx1; the lab twin of imap1 is not running; nothing was contacted. \
             Create the twins with: mailplay lab up -i inventories/cluster.ini"
        );
        let only_db1: BTreeSet<String> = ["db1".to_string()].into();
        assert_eq!(missing_twins(&only_db1, &twins, &[]), None);
    }
}
