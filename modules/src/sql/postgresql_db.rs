//! `postgresql_db`: a database with an owner, encoding and locale.
//! Encoding and locale cannot change after creation: a difference is an
//! error, not a silent drop and re-create.

use async_trait::async_trait;
use serde::Deserialize;

use super::client::{read_catalog, run_sql, Engine, Login};
use crate::args::{loose_opt_string, loose_string};
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};

const PG: Engine = Engine::Postgres;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgDbArgs {
    #[serde(alias = "db", alias = "datname", deserialize_with = "loose_string")]
    pub name: String,
    #[serde(default = "present", deserialize_with = "loose_string")]
    pub state: String,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub owner: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub encoding: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub lc_collate: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub lc_ctype: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub template: Option<String>,
    #[serde(flatten)]
    pub login: Login,
}

fn present() -> String {
    "present".into()
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct PgDatabase {
    pub owner: String,
    pub encoding: String,
    pub collate: String,
    pub ctype: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PgDbPlan {
    pub statements: Vec<String>,
    pub before: String,
    pub after: String,
}

impl Plan for PgDbPlan {
    fn changes_anything(&self) -> bool {
        !self.statements.is_empty()
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

fn show(name: &str, owner: &str, encoding: &str) -> String {
    format!("database: {name}\nowner: {owner}\nencoding: {encoding}\n")
}

pub fn plan(a: &PgDbArgs, cur: Option<&PgDatabase>) -> Result<PgDbPlan, String> {
    let db = PG.ident(&a.name);
    let none = PgDbPlan { statements: vec![], before: String::new(), after: String::new() };
    match (a.state.as_str(), cur) {
        ("absent", None) => Ok(none),
        ("absent", Some(c)) => Ok(PgDbPlan {
            statements: vec![format!("DROP DATABASE {db}")],
            before: show(&a.name, &c.owner, &c.encoding),
            after: String::new(),
        }),
        (_, None) => {
            let mut s = format!("CREATE DATABASE {db}");
            if let Some(o) = &a.owner {
                s.push_str(&format!(" OWNER {}", PG.ident(o)));
            }
            if let Some(t) = &a.template {
                s.push_str(&format!(" TEMPLATE {}", PG.ident(t)));
            }
            if let Some(e) = &a.encoding {
                s.push_str(&format!(" ENCODING {}", PG.literal(e)));
            }
            if let Some(c) = &a.lc_collate {
                s.push_str(&format!(" LC_COLLATE {}", PG.literal(c)));
            }
            if let Some(c) = &a.lc_ctype {
                s.push_str(&format!(" LC_CTYPE {}", PG.literal(c)));
            }
            Ok(PgDbPlan {
                statements: vec![s],
                before: String::new(),
                after: show(&a.name, a.owner.as_deref().unwrap_or("postgres"), a.encoding.as_deref().unwrap_or("(default)")),
            })
        }
        (_, Some(c)) => {
            let same = |want: &Option<String>, have: &str| {
                want.as_ref().is_none_or(|w| w.replace('-', "").eq_ignore_ascii_case(&have.replace('-', "")))
            };
            for (what, want, have) in
                [("encoding", &a.encoding, &c.encoding), ("lc_collate", &a.lc_collate, &c.collate), ("lc_ctype", &a.lc_ctype, &c.ctype)]
            {
                if !same(want, have) {
                    return Err(format!(
                        "database {} exists with {what} {have}, not {}; it cannot be changed in place",
                        a.name,
                        want.as_deref().unwrap_or_default()
                    ));
                }
            }
            match &a.owner {
                Some(o) if o != &c.owner => Ok(PgDbPlan {
                    statements: vec![format!("ALTER DATABASE {db} OWNER TO {}", PG.ident(o))],
                    before: show(&a.name, &c.owner, &c.encoding),
                    after: show(&a.name, o, &c.encoding),
                }),
                _ => Ok(none),
            }
        }
    }
}

pub struct PostgresqlDbModule;

#[async_trait]
impl Module for PostgresqlDbModule {
    type Args = PgDbArgs;
    type State = Option<PgDatabase>;
    type Plan = PgDbPlan;
    const NAME: &'static str = "postgresql_db";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Create or drop a PostgreSQL database and keep its owner.",
            args: vec![
                ArgDoc { name: "name", ty: "string", required: true, default: None, description: "Database name." },
                ArgDoc { name: "state", ty: "string", required: false, default: Some("present"), description: "present or absent." },
                ArgDoc { name: "owner", ty: "string", required: false, default: None, description: "Owning role." },
                ArgDoc { name: "encoding", ty: "string", required: false, default: None, description: "Encoding at creation, e.g. UTF8." },
                ArgDoc { name: "lc_collate", ty: "string", required: false, default: None, description: "Collation at creation." },
                ArgDoc {
                    name: "lc_ctype",
                    ty: "string",
                    required: false,
                    default: None,
                    description: "Character classification at creation.",
                },
                ArgDoc { name: "template", ty: "string", required: false, default: None, description: "Template database." },
                ArgDoc {
                    name: "login_unix_user",
                    ty: "string",
                    required: false,
                    default: Some("postgres"),
                    description: "OS user psql runs as.",
                },
                ArgDoc { name: "port", ty: "int", required: false, default: Some("5432"), description: "Port of the cluster." },
            ],
            example: "- postgresql_db:\n    name: mail\n    encoding: UTF8",
        }
    }

    fn validate(a: &PgDbArgs) -> Result<(), String> {
        if !matches!(a.state.as_str(), "present" | "absent") {
            return Err(format!("value of state must be one of: present, absent, got: {}", a.state));
        }
        Ok(())
    }

    async fn probe(a: &PgDbArgs, ctx: &Context<'_>) -> Result<Option<PgDatabase>, ModuleError> {
        let sql = format!(
            "SELECT json_build_object('owner', pg_get_userbyid(datdba), 'encoding', pg_encoding_to_char(encoding), 'collate', datcollate, 'ctype', datctype) FROM pg_database WHERE datname = {};\n",
            PG.literal(&a.name)
        );
        // No row (no such object) and a server not started yet in check mode both read as absent.
        Ok(read_catalog(ctx, PG, &a.login, Some("postgres"), &sql).await?.flatten())
    }

    fn plan(a: &PgDbArgs, s: &Option<PgDatabase>) -> Result<PgDbPlan, ModuleError> {
        plan(a, s.as_ref()).map_err(ModuleError::failed)
    }

    async fn apply(a: &PgDbArgs, p: PgDbPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        // CREATE/DROP DATABASE cannot run inside a transaction block; it is one statement.
        for s in &p.statements {
            run_sql(ctx.host, PG, &a.login, Some("postgres"), &format!("{s};\n")).await?;
        }
        Ok(ModuleResult::changed(true).with("db", a.name.clone()).with("executed_commands", p.statements))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    fn args(v: serde_json::Value) -> PgDbArgs {
        parse_args("postgresql_db", &v).unwrap()
    }

    fn mail() -> PgDatabase {
        // The probe's reply on PostgreSQL 15 after `CREATE DATABASE mail`.
        serde_json::from_str(r#"{"owner" : "postgres", "encoding" : "UTF8", "collate" : "C.UTF-8", "ctype" : "C.UTF-8"}"#).unwrap()
    }

    #[test]
    fn creates_once_then_keeps_the_owner() {
        let p = plan(&args(json!({"name": "mail", "encoding": "UTF8", "owner": "mail_admin"})), None).unwrap();
        assert_eq!(p.statements, vec!["CREATE DATABASE \"mail\" OWNER \"mail_admin\" ENCODING 'UTF8'"]);
        assert!(!plan(&args(json!({"name": "mail", "encoding": "utf-8"})), Some(&mail())).unwrap().changes_anything());
        assert_eq!(
            plan(&args(json!({"name": "mail", "owner": "mail_admin"})), Some(&mail())).unwrap().statements,
            vec!["ALTER DATABASE \"mail\" OWNER TO \"mail_admin\""]
        );
    }

    #[test]
    fn a_different_encoding_is_an_error_not_a_recreate() {
        let e = plan(&args(json!({"name": "mail", "encoding": "LATIN1"})), Some(&mail())).unwrap_err();
        assert!(e.contains("exists with encoding UTF8, not LATIN1"), "{e}");
    }

    #[test]
    fn absent_drops() {
        assert_eq!(
            plan(&args(json!({"name": "mail", "state": "absent"})), Some(&mail())).unwrap().statements,
            vec!["DROP DATABASE \"mail\""]
        );
        assert!(!plan(&args(json!({"name": "mail", "state": "absent"})), None).unwrap().changes_anything());
    }
}
