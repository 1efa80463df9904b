//! `postgresql_user`: a role with a password and attributes.
//!
//! The stored verifier (`pg_authid.rolpassword`) is checked against the
//! wanted password here on the controller, so an unchanged password is
//! `ok`; a new one is sent as a SCRAM-SHA-256 verifier computed here, so the
//! clear text never reaches the host (nor its logs).

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use super::client::{read_catalog, run_sql, transaction, Engine, Login};
use super::passwords::{postgres_password_matches, scram_sha256_verifier};
use crate::args::{loose_bool, loose_opt_string, loose_string};
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};
use crate::secret::Secret;

const PG: Engine = Engine::Postgres;
/// Attribute keywords and their pg_authid columns.
const ATTRIBUTES: &[(&str, &str)] = &[
    ("SUPERUSER", "rolsuper"),
    ("CREATEROLE", "rolcreaterole"),
    ("CREATEDB", "rolcreatedb"),
    ("INHERIT", "rolinherit"),
    ("LOGIN", "rolcanlogin"),
    ("REPLICATION", "rolreplication"),
    ("BYPASSRLS", "rolbypassrls"),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgUserArgs {
    #[serde(alias = "user", deserialize_with = "loose_string")]
    pub name: String,
    #[serde(default)]
    pub password: Option<Secret>,
    /// `CREATEDB,NOSUPERUSER`: attributes to have (or, with NO, not to have).
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub role_attr_flags: Option<String>,
    #[serde(default)]
    pub conn_limit: Option<i64>,
    #[serde(default = "present", deserialize_with = "loose_string")]
    pub state: String,
    /// Set the password only when creating the role.
    #[serde(default, deserialize_with = "loose_bool")]
    pub no_password_changes: bool,
    /// Only `true` (or unset) is accepted: passwords are always stored as
    /// SCRAM-SHA-256; `false` is refused in `validate`.
    #[serde(default)]
    pub encrypted: Option<Value>,
    #[serde(default = "postgres_db", alias = "login_db", deserialize_with = "loose_string")]
    pub db: String,
    #[serde(flatten)]
    pub login: Login,
}

fn present() -> String {
    "present".into()
}
fn postgres_db() -> String {
    "postgres".into()
}

/// The role as pg_authid has it (`None`: no such role).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct PgRole {
    pub password: Option<String>,
    pub attrs: std::collections::BTreeMap<String, bool>,
    pub conn_limit: i64,
}

/// (keyword, wanted) pairs from `role_attr_flags`.
pub fn parse_flags(flags: &str) -> Result<Vec<(&'static str, bool)>, String> {
    let mut out = Vec::new();
    for f in flags.split([',', ' ']).map(|f| f.trim().to_ascii_uppercase()).filter(|f| !f.is_empty()) {
        let (name, on) = match f.strip_prefix("NO") {
            Some(rest) if ATTRIBUTES.iter().any(|(k, _)| *k == rest) => (rest.to_string(), false),
            _ => (f.clone(), true),
        };
        let key = ATTRIBUTES.iter().find(|(k, _)| *k == name).map(|(k, _)| *k).ok_or_else(|| {
            format!("unknown role attribute '{f}'; valid: {}", ATTRIBUTES.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", "))
        })?;
        out.push((key, on));
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq)]
pub enum PgUserPlan {
    Nothing,
    Create { statement: String, shown: String },
    Alter { statement: String, before: String, after: String },
    Drop { statement: String, shown: String },
}

impl Plan for PgUserPlan {
    fn changes_anything(&self) -> bool {
        !matches!(self, PgUserPlan::Nothing)
    }
    /// Database objects are not in the overlay: a later SQL task predicts
    /// them as missing ("assuming an earlier task of this run creates it").
    fn effects(&self) -> Vec<crate::planned::Effect> {
        Vec::new()
    }
    fn diffs(&self) -> Vec<Diff> {
        match self {
            PgUserPlan::Nothing => vec![],
            PgUserPlan::Create { shown, .. } => vec![Diff::new("role", "", shown.clone())],
            PgUserPlan::Alter { before, after, .. } => vec![Diff::new("role", before.clone(), after.clone())],
            PgUserPlan::Drop { shown, .. } => vec![Diff::new("role", shown.clone(), "")],
        }
    }
}

/// The role's description for diffs; the password only as set or changed.
fn show(name: &str, attrs: &[(&str, bool)], password: &str) -> String {
    let mut s = format!("role: {name}\n");
    for (k, on) in attrs {
        s.push_str(&format!("{}{k}\n", if *on { "" } else { "NO" }));
    }
    if !password.is_empty() {
        s.push_str(&format!("password: {password}\n"));
    }
    s
}

/// `verifier` is the SCRAM verifier to set if the password changes
/// (computed by the caller so that the planner stays deterministic).
pub fn plan(a: &PgUserArgs, current: Option<&PgRole>, verifier: &dyn Fn() -> String) -> Result<PgUserPlan, String> {
    let flags = parse_flags(a.role_attr_flags.as_deref().unwrap_or(""))?;
    let role = PG.ident(&a.name);
    match (a.state.as_str(), current) {
        ("absent", None) => Ok(PgUserPlan::Nothing),
        ("absent", Some(_)) => Ok(PgUserPlan::Drop { statement: format!("DROP ROLE {role}"), shown: format!("role: {}\n", a.name) }),
        (_, None) => {
            let mut words: Vec<String> = Vec::new();
            if !flags.iter().any(|(k, _)| *k == "LOGIN") {
                words.push("LOGIN".into());
            }
            words.extend(flags.iter().map(|(k, on)| format!("{}{k}", if *on { "" } else { "NO" })));
            if let Some(l) = a.conn_limit {
                words.push(format!("CONNECTION LIMIT {l}"));
            }
            if let Some(p) = &a.password {
                words.push(if p.expose().is_empty() { "PASSWORD NULL".into() } else { format!("PASSWORD {}", PG.literal(&verifier())) });
            }
            let shown_flags: Vec<(&str, bool)> = if flags.iter().any(|(k, _)| *k == "LOGIN") {
                flags.clone()
            } else {
                [("LOGIN", true)].into_iter().chain(flags.iter().copied()).collect()
            };
            Ok(PgUserPlan::Create {
                statement: format!("CREATE ROLE {role} {}", words.join(" ")),
                shown: show(&a.name, &shown_flags, if a.password.is_some() { "(set)" } else { "" }),
            })
        }
        (_, Some(cur)) => {
            let mut words = Vec::new();
            let mut before = Vec::new();
            let mut after = Vec::new();
            for (k, on) in &flags {
                let column = ATTRIBUTES.iter().find(|(n, _)| n == k).map(|(_, c)| *c).unwrap_or_default();
                let have = cur.attrs.get(column).copied().unwrap_or(false);
                if have != *on {
                    words.push(format!("{}{k}", if *on { "" } else { "NO" }));
                    before.push((*k, have));
                    after.push((*k, *on));
                }
            }
            let mut limit_change = String::new();
            if let Some(l) = a.conn_limit.filter(|l| *l != cur.conn_limit) {
                words.push(format!("CONNECTION LIMIT {l}"));
                limit_change = format!("connection limit: {} -> {l}", cur.conn_limit);
            }
            let mut pw_change = "";
            if let (Some(p), false) = (&a.password, a.no_password_changes) {
                let same = match (&cur.password, p.expose()) {
                    (None, "") => true,
                    (Some(stored), clear) if !clear.is_empty() => postgres_password_matches(stored, clear, &a.name),
                    _ => false,
                };
                if !same {
                    words.push(if p.expose().is_empty() {
                        "PASSWORD NULL".into()
                    } else {
                        format!("PASSWORD {}", PG.literal(&verifier()))
                    });
                    pw_change = "(changed)";
                }
            }
            if words.is_empty() {
                return Ok(PgUserPlan::Nothing);
            }
            let mut b = show(&a.name, &before, if pw_change.is_empty() { "" } else { "(old)" });
            let mut af = show(&a.name, &after, pw_change);
            if !limit_change.is_empty() {
                b.push_str(&format!("connection limit: {}\n", cur.conn_limit));
                af.push_str(&format!("connection limit: {}\n", a.conn_limit.unwrap_or_default()));
            }
            Ok(PgUserPlan::Alter { statement: format!("ALTER ROLE {role} {}", words.join(" ")), before: b, after: af })
        }
    }
}

pub struct PostgresqlUserModule;

#[async_trait]
impl Module for PostgresqlUserModule {
    type Args = PgUserArgs;
    type State = Option<PgRole>;
    type Plan = PgUserPlan;
    const NAME: &'static str = "postgresql_user";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Create, change or drop a PostgreSQL role; an unchanged password is recognised (SCRAM-SHA-256) and never re-set.",
            args: vec![
                ArgDoc { name: "name", ty: "string", required: true, default: None, description: "Role name." },
                ArgDoc {
                    name: "password",
                    ty: "secret",
                    required: false,
                    default: None,
                    description: "Clear-text password; stored as a SCRAM-SHA-256 verifier computed on the controller. '' removes it.",
                },
                ArgDoc {
                    name: "role_attr_flags",
                    ty: "string",
                    required: false,
                    default: None,
                    description: "Attributes, e.g. CREATEDB,NOSUPERUSER (LOGIN is the default for new roles).",
                },
                ArgDoc { name: "conn_limit", ty: "int", required: false, default: None, description: "Connection limit (-1: none)." },
                ArgDoc { name: "state", ty: "string", required: false, default: Some("present"), description: "present or absent." },
                ArgDoc {
                    name: "no_password_changes",
                    ty: "bool",
                    required: false,
                    default: Some("false"),
                    description: "Set the password only when creating the role.",
                },
                ArgDoc { name: "db", ty: "string", required: false, default: Some("postgres"), description: "Database to connect to." },
                ArgDoc {
                    name: "login_unix_user",
                    ty: "string",
                    required: false,
                    default: Some("postgres"),
                    description: "OS user psql runs as (peer authentication).",
                },
                ArgDoc { name: "port", ty: "int", required: false, default: Some("5432"), description: "Port of the cluster." },
            ],
            example: "- postgresql_user:\n    name: mail_access\n    password: \"{{ mail_db_access_password }}\"",
        }
    }

    fn validate(a: &PgUserArgs) -> Result<(), String> {
        if a.encrypted.as_ref().and_then(crate::args::parse_bool) == Some(false) {
            return Err("encrypted: false is not supported: passwords are always stored as SCRAM-SHA-256 verifiers".into());
        }
        if !matches!(a.state.as_str(), "present" | "absent") {
            return Err(format!("value of state must be one of: present, absent, got: {}", a.state));
        }
        parse_flags(a.role_attr_flags.as_deref().unwrap_or("")).map(|_| ())
    }

    fn secret_values(a: &PgUserArgs) -> Vec<String> {
        a.password.iter().map(|p| p.expose().to_string()).collect()
    }

    async fn probe(a: &PgUserArgs, ctx: &Context<'_>) -> Result<Option<PgRole>, ModuleError> {
        let attrs: Vec<String> = ATTRIBUTES.iter().map(|(_, c)| format!("'{c}', {c}")).collect();
        let sql = format!(
            "SELECT json_build_object('password', rolpassword, 'conn_limit', rolconnlimit, 'attrs', json_build_object({})) FROM pg_authid WHERE rolname = {};\n",
            attrs.join(", "),
            PG.literal(&a.name)
        );
        // No row (no such object) and a server not started yet in check mode both read as absent.
        Ok(read_catalog(ctx, PG, &a.login, Some(&a.db), &sql).await?.flatten())
    }

    fn plan(a: &PgUserArgs, s: &Option<PgRole>) -> Result<PgUserPlan, ModuleError> {
        let clear = a.password.as_ref().map(|p| p.expose().to_string()).unwrap_or_default();
        plan(a, s.as_ref(), &|| scram_sha256_verifier(&clear)).map_err(ModuleError::failed)
    }

    async fn apply(a: &PgUserArgs, p: PgUserPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let statement = match &p {
            PgUserPlan::Nothing => return Ok(ModuleResult::ok()),
            PgUserPlan::Create { statement, .. } | PgUserPlan::Alter { statement, .. } | PgUserPlan::Drop { statement, .. } => {
                statement.clone()
            }
        };
        run_sql(ctx.host, PG, &a.login, Some(&a.db), &transaction(&[statement])).await?;
        Ok(ModuleResult::changed(true).with("user", a.name.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    fn args(v: Value) -> PgUserArgs {
        parse_args("postgresql_user", &v).unwrap()
    }

    /// The probe's reply on PostgreSQL 15 for `CREATE ROLE t LOGIN PASSWORD 'secret'`.
    fn existing() -> PgRole {
        serde_json::from_str(include_str!("testdata/pg_user_probe.json")).unwrap()
    }

    fn fixed() -> String {
        "SCRAM-SHA-256$4096:c2FsdA==$x:y".into()
    }

    #[test]
    fn creating_sends_a_verifier_never_the_password() {
        let p = plan(&args(json!({"name": "mail_access", "password": "s3cret!"})), None, &fixed).unwrap();
        let PgUserPlan::Create { statement, shown } = &p else { panic!("{p:?}") };
        assert_eq!(statement, "CREATE ROLE \"mail_access\" LOGIN PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$x:y'");
        assert!(!format!("{p:?}{shown}").contains("s3cret!"));
        assert_eq!(p.diffs()[0].after, "role: mail_access\nLOGIN\npassword: (set)\n");
    }

    #[test]
    fn an_unchanged_password_and_attributes_are_ok() {
        let p = plan(&args(json!({"name": "t", "password": "secret", "role_attr_flags": "LOGIN,NOSUPERUSER"})), Some(&existing()), &fixed)
            .unwrap();
        assert_eq!(p, PgUserPlan::Nothing);
    }

    #[test]
    fn a_changed_password_or_attribute_alters_only_that() {
        let p = plan(&args(json!({"name": "t", "password": "other", "role_attr_flags": "CREATEDB"})), Some(&existing()), &fixed).unwrap();
        let PgUserPlan::Alter { statement, before, after } = &p else { panic!("{p:?}") };
        assert_eq!(statement, "ALTER ROLE \"t\" CREATEDB PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$x:y'");
        assert_eq!(before, "role: t\nNOCREATEDB\npassword: (old)\n");
        assert_eq!(after, "role: t\nCREATEDB\npassword: (changed)\n");
        assert_eq!(
            plan(&args(json!({"name": "t", "password": "other", "no_password_changes": true})), Some(&existing()), &fixed).unwrap(),
            PgUserPlan::Nothing
        );
    }

    #[test]
    fn absent_drops_only_an_existing_role() {
        assert!(matches!(
            plan(&args(json!({"name": "t", "state": "absent"})), Some(&existing()), &fixed).unwrap(),
            PgUserPlan::Drop { .. }
        ));
        assert_eq!(plan(&args(json!({"name": "t", "state": "absent"})), None, &fixed).unwrap(), PgUserPlan::Nothing);
    }

    #[test]
    fn unknown_attributes_are_refused() {
        assert!(PostgresqlUserModule::validate(&args(json!({"name": "t", "role_attr_flags": "LOGIN,SUPERDUPER"})))
            .unwrap_err()
            .contains("SUPERDUPER"));
    }
}
