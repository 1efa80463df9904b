//! Two reporters fed the same events: the text stream for the person
//! watching and the JSON document in a file (`--json-file`), for a program
//! such as `mailplay rehearse` to read typed results instead of text.

use std::path::Path;

use super::{HostResult, Reporter, Stats};

pub struct Tee {
    first: Box<dyn Reporter>,
    second: Box<dyn Reporter>,
}

impl Tee {
    pub fn new(first: Box<dyn Reporter>, second: Box<dyn Reporter>) -> Self {
        Tee { first, second }
    }
}

impl Reporter for Tee {
    fn playbook_start(&self, path: &Path, check_mode: bool) {
        self.first.playbook_start(path, check_mode);
        self.second.playbook_start(path, check_mode);
    }
    fn play_start(&self, name: &str) {
        self.first.play_start(name);
        self.second.play_start(name);
    }
    fn task_start(&self, name: &str, is_handler: bool, running_hosts: &[String]) {
        self.first.task_start(name, is_handler, running_hosts);
        self.second.task_start(name, is_handler, running_hosts);
    }
    fn host_result(&self, r: &HostResult, verbosity: u8) {
        self.first.host_result(r, verbosity);
        self.second.host_result(r, verbosity);
    }
    fn included(&self, file: &str, hosts: &[String], item: Option<&str>) {
        self.first.included(file, hosts, item);
        self.second.included(file, hosts, item);
    }
    fn include_result(&self, r: &HostResult, verbosity: u8) {
        self.first.include_result(r, verbosity);
        self.second.include_result(r, verbosity);
    }
    fn no_hosts_matched(&self) {
        self.first.no_hosts_matched();
        self.second.no_hosts_matched();
    }
    fn no_more_hosts(&self) {
        self.first.no_more_hosts();
        self.second.no_more_hosts();
    }
    fn warning(&self, msg: &str) {
        self.first.warning(msg);
        self.second.warning(msg);
    }
    fn retrying(&self, msg: &str) {
        self.first.retrying(msg);
        self.second.retrying(msg);
    }
    fn error(&self, msg: &str) {
        self.first.error(msg);
        self.second.error(msg);
    }
    fn display(&self, msg: &str) {
        self.first.display(msg);
        self.second.display(msg);
    }
    fn recap(&self, stats: &Stats) {
        self.first.recap(stats);
        self.second.recap(stats);
    }
    fn interrupted(&self) {
        self.first.interrupted();
        self.second.interrupted();
    }
    fn finish(&self) {
        self.first.finish();
        self.second.finish();
    }
}
