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
        Box::new(Runner::<builtin::raw::RawModule>::new()),
        Box::new(Runner::<builtin::tempfile::TempfileModule>::new()),
        Box::new(Runner::<builtin::script::ScriptModule>::new()),
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
        Box::new(Runner::<builtin::pause::PauseModule>::new()),
        Box::new(Runner::<builtin::protomatter_debug::ProtomatterDebugModule>::new()),
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
        Box::new(Runner::<crate::cyrus::xfer::CyrusXferModule>::new()),
        Box::new(Runner::<crate::sql::postgresql_db::PostgresqlDbModule>::new()),
        Box::new(Runner::<crate::sql::postgresql_slot::PostgresqlSlotModule>::new()),
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

#[cfg(test)]
mod doc_tests {
    use super::*;
    use crate::args::ArgsError;

    /// `mailplay doc` prints `ModuleDoc`; every argument it names must be one
    /// the typed args struct accepts, so the docs cannot describe arguments
    /// that do not exist.
    #[test]
    fn every_documented_argument_is_accepted_by_its_module() {
        for m in Registry::global().iter() {
            let doc = m.doc();
            assert!(!doc.summary.is_empty() && !doc.example.is_empty(), "{} lacks a summary or example", m.name());
            for a in &doc.args {
                let mut args = serde_json::Map::new();
                args.insert(a.name.to_string(), serde_json::Value::Null);
                if let Err(ArgsError::UnknownField { field, .. }) = m.check_args(&serde_json::Value::Object(args)) {
                    assert_ne!(field, a.name, "{} documents '{}' but rejects it", m.name(), a.name);
                }
            }
        }
    }

    /// The arguments of the module's own task in its documented example.
    fn example_args(name: &str, example: &str) -> serde_json::Map<String, serde_json::Value> {
        let tasks: Vec<serde_json::Map<String, serde_json::Value>> =
            serde_saphyr::from_str(example).unwrap_or_else(|e| panic!("{name}'s example is not YAML: {e}"));
        // `systemd` shares `service`'s documentation and example.
        let task = tasks
            .iter()
            .find_map(|t| t.get(name))
            .or_else(|| tasks.first().and_then(|t| t.iter().find(|(k, _)| Registry::global().contains(k)).map(|(_, v)| v)))
            .unwrap_or_else(|| panic!("{name}'s example has no task"));
        match task {
            serde_json::Value::Object(m) => m.clone(),
            // Free-form arguments, as the engine passes them.
            serde_json::Value::String(s) => [("_raw_params".to_string(), serde_json::Value::String(s.clone()))].into_iter().collect(),
            _ => serde_json::Map::new(),
        }
    }

    #[test]
    fn every_example_is_valid_for_its_module() {
        for m in Registry::global().iter() {
            let args = example_args(m.name(), m.doc().example);
            if let Err(e) = m.check_args(&serde_json::Value::Object(args)) {
                panic!("{}'s documented example is rejected: {e}", m.name());
            }
        }
    }

    /// And the arguments a module accepts are the documented ones: a
    /// misspelling of each documented name is rejected and answered with a
    /// documented name (serde's own field list, for plain structs).
    #[test]
    fn misspellings_are_answered_with_documented_names() {
        for m in Registry::global().iter() {
            let doc = m.doc();
            let names: Vec<&str> = doc.args.iter().map(|a| a.name).collect();
            // Start from the documented example's arguments, so that the typo is what fails.
            let example = example_args(m.name(), doc.example);
            for n in &names {
                let typo = format!("{n}x");
                if names.contains(&typo.as_str()) {
                    continue;
                }
                let mut args = example.clone();
                args.insert(typo.clone(), serde_json::Value::Null);
                match m.check_args(&serde_json::Value::Object(args)) {
                    Err(ArgsError::UnknownField { field, suggestion: Some(s), .. }) => {
                        assert_eq!(field, typo);
                        assert!(names.contains(&s.as_str()), "{} suggests undocumented '{s}' for '{typo}'", m.name());
                    }
                    // set_fact takes any variable name, and free-form modules
                    // read key=value words: nothing is a typo there.
                    _ if matches!(m.name(), "set_fact" | "command" | "shell" | "raw") => {}
                    other => panic!("{}: '{typo}' gave {other:?}", m.name()),
                }
            }
        }
    }
}
