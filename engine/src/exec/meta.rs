//! `meta:` tasks, as Ansible's strategy executes them (`_execute_meta`):
//! `end_host`, `flush_handlers`, `noop` and `reset_connection` for each
//! host (a banner each), the others once, for the first host, acting on
//! the whole batch (`refresh_inventory` on the whole run). A false `when`
//! skips with Ansible's `skip_reason`; `META: ...` is said at -vv. Meta
//! results are not counted in the recap.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::playbook::ast::Task;

use super::host_task::{where_, HostKeywords, HostTaskOutcome, TaskEnv};
use super::inherited::Inherited;
use super::play::PlayRunner;
use super::result::{Outcome, Status};

/// Meta actions Ansible's linear strategy runs for each host, not once.
const PER_HOST: &[&str] = &["noop", "reset_connection", "end_host", "flush_handlers", "role_complete", "end_role"];

impl PlayRunner<'_> {
    pub(super) async fn run_meta(&mut self, task: &Task, action: &str, inh: &Inherited, subset: Option<&[usize]>) {
        let eff = inh.effective(task);
        if !self.tags_selected(&eff.tags) && action != "flush_handlers" {
            return;
        }
        let targets = self.active(subset);
        if targets.is_empty() {
            return;
        }
        self.refresh_play_hosts();
        if action == "flush_handlers" && inh.is_handler {
            // As Ansible: a handler cannot flush the handlers.
            let eff_env = TaskEnv::new(self.ctx, task, &eff, self.search_roots(&eff), inh.rescuable);
            self.ctx.reporter.task_start(&self.task_title(task), true, &[]);
            let mut failed = 0;
            for &i in &targets {
                let out = HostTaskOutcome::failed(format!("flush_handlers cannot be used as a handler{}", where_(&task.pos)));
                eff_env.report(&self.hosts[i], None, &out.outcome, None, &out.keywords(), false);
                failed += usize::from(self.apply_outcome(i, task, &out, inh, true));
            }
            self.check_fatal(false, failed, &targets, inh.rescuable || inh.always_pending);
            return;
        }
        if action == "flush_handlers" {
            // mailplay runs the notified handlers of every host together
            // (as the linear strategy does once each host reached the flush).
            let holds: Vec<usize> = targets.iter().copied().filter(|&i| self.when_holds(i, task, inh)).collect();
            self.ctx.reporter.task_start(&self.task_title(task), inh.is_handler, &[]);
            if !holds.is_empty() {
                self.flush_handlers().await;
            }
            return;
        }
        let hosts = if PER_HOST.contains(&action) { targets.clone() } else { vec![targets[0]] };
        let title = self.task_title(task);
        let env = TaskEnv::new(self.ctx, task, &eff, self.search_roots(&eff), inh.rescuable);
        for i in hosts {
            if self.end_play {
                return;
            }
            let name = self.hosts[i].name.clone();
            self.ctx.reporter.task_start(&title, inh.is_handler, std::slice::from_ref(&name));
            let holds = self.when_holds(i, task, inh);
            let skip_reason = format!("{action} conditional evaluated to False");
            let (msg, skip_tail): (String, Option<String>) = match action {
                // These take no `when` in Ansible (a warning there).
                "refresh_inventory" => {
                    if !eff.when.is_empty() {
                        self.warn_once(&format!("meta: {action} does not support when conditionals"));
                    }
                    if let Err(e) = self.refresh_inventory() {
                        let out = HostTaskOutcome::failed(format!("meta: refresh_inventory failed: {e}{}", where_(&task.pos)));
                        env.report(&self.hosts[i], None, &out.outcome, None, &out.keywords(), false);
                        let failed = usize::from(self.apply_outcome(i, task, &out, inh, true));
                        self.check_fatal(false, failed, &targets, inh.rescuable || inh.always_pending);
                        continue;
                    }
                    ("inventory successfully refreshed".into(), None)
                }
                "noop" | "reset_connection" => {
                    if !eff.when.is_empty() {
                        self.warn_once(&format!("meta: {action} does not support when conditionals"));
                    }
                    // reset_connection: mailplay's connection stays open
                    // (nothing of it depends on the play's variables).
                    let msg = if action == "noop" { "noop" } else { "reset connection" };
                    (msg.into(), None)
                }
                "end_host" if holds => {
                    self.hosts[i].ended = true;
                    self.removed.insert(name.clone());
                    (format!("ending play for {name}"), None)
                }
                "end_host" => (
                    format!("end_host conditional evaluated to false, continuing execution for {name}"),
                    Some(format!(", continuing execution for {name}")),
                ),
                "end_batch" if holds => {
                    for h in self.hosts.iter_mut().filter(|h| !h.unreachable) {
                        h.ended = true;
                        self.removed.insert(h.name.clone());
                    }
                    ("ending batch".into(), None)
                }
                "end_batch" => (action.into(), Some(", continuing current batch".into())),
                "end_play" if holds => {
                    for h in self.hosts.iter_mut().filter(|h| !h.unreachable) {
                        h.ended = true;
                        self.removed.insert(h.name.clone());
                    }
                    self.end_play = true;
                    ("ending play".into(), None)
                }
                "end_play" => (action.into(), Some(", continuing play".into())),
                "clear_host_errors" if holds => {
                    for h in &mut self.hosts {
                        h.failed = false;
                        h.marked_failed = false;
                        h.unreachable = false;
                    }
                    self.errors_cleared += 1;
                    // And the play's hosts that failed in earlier plays.
                    let mut states = self.ctx.host_states.lock().expect("host states");
                    for name in &self.pattern_hosts {
                        if let Some(h) = states.get_mut(name) {
                            h.failed = false;
                            h.marked_failed = false;
                            h.unreachable = false;
                        }
                    }
                    ("cleared host errors".into(), None)
                }
                "clear_host_errors" => (action.into(), Some(format!(", not clearing host error state for {name}"))),
                "clear_facts" if holds => {
                    for h in &mut self.hosts {
                        h.clear_facts();
                    }
                    ("facts cleared".into(), None)
                }
                "clear_facts" => (action.into(), Some(format!(", not clearing facts and fact cache for {name}"))),
                other => {
                    self.ctx.reporter.warning(&format!("meta: '{other}' is not supported{}", where_(&task.pos)));
                    return;
                }
            };
            let header = match &skip_tail {
                Some(tail) => format!("{skip_reason}{tail}"),
                None => msg.clone(),
            };
            if self.ctx.opts.verbosity >= 2 {
                self.ctx.reporter.display(&format!("META: {header}"));
            }
            if skip_tail.is_some() {
                // Only a skip is shown (Ansible's callback gets no other meta result).
                let mut data = Map::new();
                data.insert("msg".into(), Value::from(msg));
                data.insert("skip_reason".into(), Value::from(header));
                let o = Outcome::new(Status::Skipped, data);
                env.report(&self.hosts[i], None, &o, None, &HostKeywords::default(), false);
            }
        }
    }

    /// `meta: refresh_inventory`, as Ansible's strategy and variable
    /// manager see the inventory read again: the play's hosts
    /// (`ansible_play_hosts`, `ansible_play_hosts_all`) are its pattern over
    /// the new inventory; a host of the batch the new inventory no longer
    /// has stops here (Ansible no longer iterates it; it is not failed); a
    /// new host does not join the running play (it has no tasks in it);
    /// the others take their inventory variables, `groups` and
    /// `group_names` from the new inventory.
    fn refresh_inventory(&mut self) -> Result<(), String> {
        self.ctx.refresh_inventory()?;
        let mut hosts = self.select_hosts()?;
        self.pattern_hosts = hosts.clone();
        hosts.retain(|h| !self.ctx.is_dead(h));
        self.play.order.arrange(&mut hosts);
        self.play_hosts = hosts;
        let inv = self.ctx.inventory();
        let all = Value::from(self.play_hosts.clone());
        let mut vars = Vec::with_capacity(self.hosts.len());
        for h in &self.hosts {
            let kept = self.play_hosts.contains(&h.name);
            vars.push(if kept { Some(self.ctx.inventory_vars_of(&inv, &h.name)?) } else { None });
        }
        for (h, v) in self.hosts.iter_mut().zip(vars) {
            match v {
                Some(v) => {
                    h.inventory_vars = v;
                    Arc::make_mut(&mut h.magic).insert("ansible_play_hosts_all".into(), all.clone());
                }
                None => {
                    h.ended = true;
                    self.removed.insert(h.name.clone());
                }
            }
        }
        self.refresh_groups();
        self.refresh_play_hosts();
        Ok(())
    }
}
