//! `mysql_db`: a MariaDB/MySQL database with its character set and collation.

use async_trait::async_trait;
use serde::Deserialize;

use super::client::{read_catalog, run_sql, Engine, Login};
use crate::args::{loose_opt_string, loose_string};
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};

const MY: Engine = Engine::Mysql;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MyDbArgs {
    #[serde(alias = "db", deserialize_with = "loose_string")]
    pub name: String,
    #[serde(default = "present", deserialize_with = "loose_string")]
    pub state: String,
    /// Character set, e.g. utf8mb4 (Ansible's name).
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub encoding: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub collation: Option<String>,
    #[serde(flatten)]
    pub login: Login,
}

fn present() -> String {
    "present".into()
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct MyDatabase {
    pub charset: String,
    pub collation: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MyDbPlan {
    pub statement: Option<String>,
    pub before: String,
    pub after: String,
}

impl Plan for MyDbPlan {
    fn changes_anything(&self) -> bool {
        self.statement.is_some()
    }
    /// Database objects are not in the overlay: a later SQL task predicts
    /// them as missing ("assuming an earlier task of this run creates it").
    fn effects(&self) -> Vec<crate::planned::Effect> {
        Vec::new()
    }
    fn diffs(&self) -> Vec<Diff> {
        vec![Diff::new("database", self.before.clone(), self.after.clone())]
    }
}

/// MariaDB reports `utf8` as `utf8mb3`.
fn same_charset(want: &str, have: &str) -> bool {
    let norm = |s: &str| s.to_ascii_lowercase().replace("utf8mb3", "utf8");
    norm(want) == norm(have)
}

pub fn plan(a: &MyDbArgs, cur: Option<&MyDatabase>) -> MyDbPlan {
    let db = MY.ident(&a.name);
    let show = |cs: &str, co: &str| format!("database: {}\ncharacter set: {cs}\ncollation: {co}\n", a.name);
    let mut spec = String::new();
    if let Some(e) = &a.encoding {
        spec.push_str(&format!(" CHARACTER SET {}", MY.literal(e)));
    }
    if let Some(c) = &a.collation {
        spec.push_str(&format!(" COLLATE {}", MY.literal(c)));
    }
    let nothing = MyDbPlan { statement: None, before: String::new(), after: String::new() };
    match (a.state.as_str(), cur) {
        ("absent", None) => nothing,
        ("absent", Some(c)) => {
            MyDbPlan { statement: Some(format!("DROP DATABASE {db}")), before: show(&c.charset, &c.collation), after: String::new() }
        }
        (_, None) => MyDbPlan {
            statement: Some(format!("CREATE DATABASE {db}{spec}")),
            before: String::new(),
            after: show(a.encoding.as_deref().unwrap_or("(default)"), a.collation.as_deref().unwrap_or("(default)")),
        },
        (_, Some(c)) => {
            let cs_ok = a.encoding.as_ref().is_none_or(|e| same_charset(e, &c.charset));
            let co_ok = a.collation.as_ref().is_none_or(|e| same_charset(e, &c.collation));
            if cs_ok && co_ok {
                return nothing;
            }
            MyDbPlan {
                statement: Some(format!("ALTER DATABASE {db}{spec}")),
                before: show(&c.charset, &c.collation),
                after: show(a.encoding.as_deref().unwrap_or(&c.charset), a.collation.as_deref().unwrap_or(&c.collation)),
            }
        }
    }
}

pub struct MysqlDbModule;

#[async_trait]
impl Module for MysqlDbModule {
    type Args = MyDbArgs;
    type State = Option<MyDatabase>;
    type Plan = MyDbPlan;
    const NAME: &'static str = "mysql_db";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Create, alter or drop a MariaDB/MySQL database.",
            args: vec![
                ArgDoc { name: "name", ty: "string", required: true, default: None, description: "Database name." },
                ArgDoc { name: "state", ty: "string", required: false, default: Some("present"), description: "present or absent." },
                ArgDoc { name: "encoding", ty: "string", required: false, default: None, description: "Character set, e.g. utf8mb4." },
                ArgDoc {
                    name: "collation",
                    ty: "string",
                    required: false,
                    default: None,
                    description: "Collation, e.g. utf8mb4_general_ci.",
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
            example: "- mysql_db:\n    name: mail\n    encoding: utf8mb4\n    collation: utf8mb4_general_ci",
        }
    }

    fn validate(a: &MyDbArgs) -> Result<(), String> {
        if !matches!(a.state.as_str(), "present" | "absent") {
            return Err(format!("value of state must be one of: present, absent, got: {}", a.state));
        }
        Ok(())
    }

    async fn probe(a: &MyDbArgs, ctx: &Context<'_>) -> Result<Option<MyDatabase>, ModuleError> {
        let sql = format!(
            "SELECT JSON_OBJECT('charset', DEFAULT_CHARACTER_SET_NAME, 'collation', DEFAULT_COLLATION_NAME) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {};\n",
            MY.literal(&a.name)
        );
        // No row (no such object) and a server not started yet in check mode both read as absent.
        Ok(read_catalog(ctx, MY, &a.login, None, &sql).await?.flatten())
    }

    fn plan(a: &MyDbArgs, s: &Option<MyDatabase>) -> Result<MyDbPlan, ModuleError> {
        Ok(plan(a, s.as_ref()))
    }

    async fn apply(a: &MyDbArgs, p: MyDbPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let Some(statement) = p.statement else { return Ok(ModuleResult::ok()) };
        run_sql(ctx.host, MY, &a.login, None, &format!("{statement};\n")).await?;
        Ok(ModuleResult::changed(true).with("db", a.name.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: serde_json::Value) -> MyDbArgs {
        crate::args::parse_args("mysql_db", &v).unwrap()
    }

    #[test]
    fn create_alter_drop() {
        // The tutorial's CREATE DATABASE mail DEFAULT CHARACTER SET utf8 ... reads back as utf8mb3.
        let cur = MyDatabase { charset: "utf8mb3".into(), collation: "utf8mb3_general_ci".into() };
        assert_eq!(
            plan(&args(json!({"name": "mail", "encoding": "utf8", "collation": "utf8_general_ci"})), None).statement.as_deref(),
            Some("CREATE DATABASE `mail` CHARACTER SET 'utf8' COLLATE 'utf8_general_ci'")
        );
        assert!(!plan(&args(json!({"name": "mail", "encoding": "utf8", "collation": "utf8_general_ci"})), Some(&cur)).changes_anything());
        assert_eq!(
            plan(&args(json!({"name": "mail", "encoding": "utf8mb4"})), Some(&cur)).statement.as_deref(),
            Some("ALTER DATABASE `mail` CHARACTER SET 'utf8mb4'")
        );
        assert_eq!(plan(&args(json!({"name": "mail", "state": "absent"})), Some(&cur)).statement.as_deref(), Some("DROP DATABASE `mail`"));
    }
}
