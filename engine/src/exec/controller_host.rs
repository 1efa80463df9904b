//! The host an action that runs on the controller sees (`debug`,
//! `assert`, `fail`, `set_fact`): like Ansible's action plugins, these
//! never open a connection to the target, so an unreachable or
//! not-yet-existing host (`-i host1,host2`, a host `meta:
//! refresh_inventory` is about to drop) does not fail them. Every request
//! to the host is an error naming the action, never a silent success.

use async_trait::async_trait;
use mailplay_modules::host::{Command, CommandOutput, Host, HostError};

/// Actions that only read their arguments and variables on the controller.
pub const CONTROLLER_ACTIONS: &[&str] = &["debug", "assert", "fail", "set_fact", "async_status", "ansible._protomatter.debug"];

pub struct ControllerOnly {
    pub name: String,
    pub action: String,
}

#[async_trait]
impl Host for ControllerOnly {
    fn name(&self) -> &str {
        &self.name
    }

    async fn exec(&self, _cmd: &Command) -> Result<CommandOutput, HostError> {
        Err(HostError::Io(format!("'{}' runs on the controller and does not reach the host {}", self.action, self.name)))
    }
}
