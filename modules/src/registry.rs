//! The list of modules the engine knows. Adding a module = one file in
//! `builtin/` (or a domain folder) and one line in `all()`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::args::closest;
use crate::builtin;
use crate::module::{ModuleRunner, Runner};

pub struct Registry {
    modules: BTreeMap<&'static str, Box<dyn ModuleRunner>>,
}

fn all() -> Vec<Box<dyn ModuleRunner>> {
    vec![
        Box::new(Runner::<builtin::command::CommandModule>::new()),
        Box::new(Runner::<builtin::command::ShellModule>::new()),
        Box::new(Runner::<builtin::copy::CopyModule>::new()),
        Box::new(Runner::<builtin::template::TemplateModule>::new()),
        Box::new(Runner::<builtin::file::FileModule>::new()),
        Box::new(Runner::<builtin::stat::StatModule>::new()),
        Box::new(Runner::<builtin::lineinfile::LineInFileModule>::new()),
        Box::new(Runner::<builtin::blockinfile::BlockInFileModule>::new()),
        Box::new(Runner::<builtin::control::DebugModule>::new()),
        Box::new(Runner::<builtin::control::SetFactModule>::new()),
        Box::new(Runner::<builtin::control::AssertModule>::new()),
        Box::new(Runner::<builtin::control::FailModule>::new()),
        Box::new(Runner::<builtin::control::PingModule>::new()),
        Box::new(Runner::<builtin::setup::SetupModule>::new()),
        Box::new(Runner::<builtin::apt::AptModule>::new()),
        Box::new(Runner::<builtin::service::ServiceModule>::new()),
        Box::new(Runner::<builtin::service::SystemdModule>::new()),
        Box::new(Runner::<builtin::user::UserModule>::new()),
        Box::new(Runner::<builtin::group::GroupModule>::new()),
        Box::new(Runner::<builtin::hostname::HostnameModule>::new()),
        Box::new(Runner::<builtin::debconf::DebconfModule>::new()),
        Box::new(Runner::<builtin::dpkg_statoverride::DpkgStatOverrideModule>::new()),
        Box::new(Runner::<crate::postfix::postconf::PostconfModule>::new()),
        Box::new(Runner::<crate::postfix::master::PostconfServiceModule>::new()),
        Box::new(Runner::<crate::cyrus::imapd_conf::CyrusImapdConfModule>::new()),
        Box::new(Runner::<crate::cyrus::service::CyrusServiceModule>::new()),
        Box::new(Runner::<crate::cyrus::mailbox::CyrusMailboxModule>::new()),
        Box::new(Runner::<crate::cyrus::sieve::SieveScriptModule>::new()),
        Box::new(Runner::<crate::sql::postgresql_db::PostgresqlDbModule>::new()),
        Box::new(Runner::<crate::sql::postgresql_user::PostgresqlUserModule>::new()),
        Box::new(Runner::<crate::sql::postgresql_privs::PostgresqlPrivsModule>::new()),
        Box::new(Runner::<crate::sql::postgresql_set::PostgresqlSetModule>::new()),
        Box::new(Runner::<crate::sql::query::PostgresqlQueryModule>::new()),
        Box::new(Runner::<crate::sql::query::PostgresqlScriptModule>::new()),
        Box::new(Runner::<crate::sql::mysql_db::MysqlDbModule>::new()),
        Box::new(Runner::<crate::sql::mysql_user::MysqlUserModule>::new()),
        Box::new(Runner::<crate::sql::mysql_grant::MysqlGrantModule>::new()),
        Box::new(Runner::<crate::sql::query::MysqlQueryModule>::new()),
        Box::new(Runner::<crate::sql::mysql_variables::MysqlVariablesModule>::new()),
        Box::new(Runner::<crate::sql::sql_rows::SqlRowsModule>::new()),
    ]
}

/// Prefixes under which Ansible users write module names.
const COLLECTION_PREFIXES: &[&str] = &["ansible.builtin.", "ansible.legacy.", "mailplay."];

impl Registry {
    pub fn global() -> &'static Registry {
        static REGISTRY: OnceLock<Registry> = OnceLock::new();
        REGISTRY.get_or_init(|| Registry { modules: all().into_iter().map(|m| (m.name(), m)).collect() })
    }

    /// Find a module by its short or fully qualified name.
    pub fn get(&self, name: &str) -> Option<&dyn ModuleRunner> {
        let short = COLLECTION_PREFIXES.iter().find_map(|p| name.strip_prefix(p)).unwrap_or(name);
        // Ansible's other names for the same modules.
        let short = match short {
            "gather_facts" => "setup",
            other => other,
        };
        self.modules.get(short).map(|m| m.as_ref())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The closest known module name, for "did you mean" messages.
    pub fn suggest(&self, name: &str) -> Option<String> {
        closest(name, self.modules.keys().copied())
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.modules.keys().copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = &dyn ModuleRunner> + '_ {
        self.modules.values().map(|m| m.as_ref())
    }
}
