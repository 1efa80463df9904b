//! `mysql_user`: an account `user@host` with a password.
//!
//! The stored `mysql_native_password` hash is compared with the hash of the
//! wanted password computed here, so an unchanged password is `ok`; a new
//! one is sent as its hash (`IDENTIFIED BY PASSWORD '*...'`), never in clear.
//! `CREATE USER IF NOT EXISTS` would not change an existing password, so
//! the planner chooses CREATE or ALTER itself.

use async_trait::async_trait;
use serde::Deserialize;

use super::client::{read_catalog, run_sql, Engine, Login};
use super::passwords::mysql_native_hash;
use crate::args::loose_string;
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};
use crate::secret::Secret;

const MY: Engine = Engine::Mysql;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MyUserArgs {
    #[serde(alias = "user", deserialize_with = "loose_string")]
    pub name: String,
    #[serde(default = "localhost", deserialize_with = "loose_string")]
    pub host: String,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default = "present", deserialize_with = "loose_string")]
    pub state: String,
    /// `always` or `on_create` (Ansible's name).
    #[serde(default = "always", deserialize_with = "loose_string")]
    pub update_password: String,
    #[serde(flatten)]
    pub login: Login,
}

fn localhost() -> String {
    "localhost".into()
}
fn present() -> String {
    "present".into()
}
fn always() -> String {
    "always".into()
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct MyAccount {
    pub plugin: String,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MyUserPlan {
    pub statement: Option<String>,
    pub before: String,
    pub after: String,
}

impl Plan for MyUserPlan {
    fn changes_anything(&self) -> bool {
        self.statement.is_some()
    }
    /// Database objects are not in the overlay: a later SQL task predicts
    /// them as missing ("assuming an earlier task of this run creates it").
    fn effects(&self) -> Vec<crate::planned::Effect> {
        Vec::new()
    }
    fn diffs(&self) -> Vec<Diff> {
        vec![Diff::new("account", self.before.clone(), self.after.clone())]
    }
}

pub fn plan(a: &MyUserArgs, cur: Option<&MyAccount>) -> MyUserPlan {
    let account = format!("{}@{}", MY.literal(&a.name), MY.literal(&a.host));
    let shown = format!("account: {}@{}\n", a.name, a.host);
    let hash = a.password.as_ref().map(|p| mysql_native_hash(p.expose()));
    let identified = hash.as_ref().map(|h| format!(" IDENTIFIED BY PASSWORD {}", MY.literal(h))).unwrap_or_default();
    let nothing = MyUserPlan { statement: None, before: String::new(), after: String::new() };
    match (a.state.as_str(), cur) {
        ("absent", None) => nothing,
        ("absent", Some(_)) => MyUserPlan { statement: Some(format!("DROP USER {account}")), before: shown, after: String::new() },
        (_, None) => MyUserPlan {
            statement: Some(format!("CREATE USER {account}{identified}")),
            before: String::new(),
            after: format!("{shown}{}", if hash.is_some() { "password: (set)\n" } else { "" }),
        },
        (_, Some(c)) => {
            let same = match &hash {
                None => true,
                Some(h) => a.update_password == "on_create" || (c.hash == *h && matches!(c.plugin.as_str(), "mysql_native_password" | "")),
            };
            if same {
                return nothing;
            }
            MyUserPlan {
                statement: Some(format!("ALTER USER {account}{identified}")),
                before: format!("{shown}password: (old)\n"),
                after: format!("{shown}password: (changed)\n"),
            }
        }
    }
}

pub struct MysqlUserModule;

#[async_trait]
impl Module for MysqlUserModule {
    type Args = MyUserArgs;
    type State = Option<MyAccount>;
    type Plan = MyUserPlan;
    const NAME: &'static str = "mysql_user";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Create, change or drop a MariaDB/MySQL account; an unchanged password is recognised and never re-set.",
            args: vec![
                ArgDoc { name: "name", ty: "string", required: true, default: None, description: "User name." },
                ArgDoc {
                    name: "host",
                    ty: "string",
                    required: false,
                    default: Some("localhost"),
                    description: "Host part of the account.",
                },
                ArgDoc {
                    name: "password",
                    ty: "secret",
                    required: false,
                    default: None,
                    description: "Clear-text password; sent only as its mysql_native_password hash.",
                },
                ArgDoc { name: "state", ty: "string", required: false, default: Some("present"), description: "present or absent." },
                ArgDoc {
                    name: "update_password",
                    ty: "string",
                    required: false,
                    default: Some("always"),
                    description: "always, or on_create to set it only for new accounts.",
                },
                ArgDoc {
                    name: "login_unix_user",
                    ty: "string",
                    required: false,
                    default: Some("root"),
                    description: "OS user the client runs as.",
                },
                ArgDoc { name: "port", ty: "int", required: false, default: Some("3306"), description: "Server port." },
            ],
            example: "- mysql_user:\n    name: mail_access\n    host: localhost\n    password: \"{{ mail_db_access_password }}\"",
        }
    }

    fn validate(a: &MyUserArgs) -> Result<(), String> {
        if !matches!(a.state.as_str(), "present" | "absent") {
            return Err(format!("value of state must be one of: present, absent, got: {}", a.state));
        }
        if !matches!(a.update_password.as_str(), "always" | "on_create") {
            return Err(format!("update_password must be always or on_create, got: {}", a.update_password));
        }
        Ok(())
    }

    fn secret_values(a: &MyUserArgs) -> Vec<String> {
        a.password.iter().map(|p| p.expose().to_string()).collect()
    }

    async fn probe(a: &MyUserArgs, ctx: &Context<'_>) -> Result<Option<MyAccount>, ModuleError> {
        let sql = format!(
            "SELECT JSON_OBJECT('plugin', plugin, 'hash', authentication_string) FROM mysql.user WHERE User = {} AND Host = {};\n",
            MY.literal(&a.name),
            MY.literal(&a.host)
        );
        // No row (no such object) and a server not started yet in check mode both read as absent.
        Ok(read_catalog(ctx, MY, &a.login, None, &sql).await?.flatten())
    }

    fn plan(a: &MyUserArgs, s: &Option<MyAccount>) -> Result<MyUserPlan, ModuleError> {
        Ok(plan(a, s.as_ref()))
    }

    async fn apply(a: &MyUserArgs, p: MyUserPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let Some(statement) = p.statement else { return Ok(ModuleResult::ok()) };
        run_sql(ctx.host, MY, &a.login, None, &format!("{statement};\n")).await?;
        Ok(ModuleResult::changed(true).with("user", a.name.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    fn args(v: serde_json::Value) -> MyUserArgs {
        parse_args("mysql_user", &v).unwrap()
    }

    /// The probe's reply on MariaDB 10.11 after `CREATE USER 'mail_access'@'localhost' IDENTIFIED BY 'secret'`.
    fn existing() -> MyAccount {
        serde_json::from_str(r#"{"plugin": "mysql_native_password", "hash": "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7"}"#).unwrap()
    }

    #[test]
    fn creates_with_the_hash_only() {
        let p = plan(&args(json!({"name": "mail_access", "password": "secret"})), None);
        assert_eq!(
            p.statement.as_deref(),
            Some("CREATE USER 'mail_access'@'localhost' IDENTIFIED BY PASSWORD '*14E65567ABDB5135D0CFD9A70B3032C179A49EE7'")
        );
        assert!(!format!("{p:?}").contains("'secret'"));
    }

    #[test]
    fn same_password_is_ok_and_a_new_one_alters() {
        assert!(!plan(&args(json!({"name": "mail_access", "password": "secret"})), Some(&existing())).changes_anything());
        let p = plan(&args(json!({"name": "mail_access", "password": "other"})), Some(&existing()));
        assert!(p.statement.unwrap().starts_with("ALTER USER 'mail_access'@'localhost' IDENTIFIED BY PASSWORD '*"));
        assert!(!plan(&args(json!({"name": "mail_access", "password": "other", "update_password": "on_create"})), Some(&existing()))
            .changes_anything());
    }

    #[test]
    fn absent_drops_an_existing_account() {
        assert_eq!(
            plan(&args(json!({"name": "mail_access", "state": "absent"})), Some(&existing())).statement.as_deref(),
            Some("DROP USER 'mail_access'@'localhost'")
        );
        assert!(!plan(&args(json!({"name": "mail_access", "state": "absent"})), None).changes_anything());
    }
}
