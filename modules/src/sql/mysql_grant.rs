//! `mysql_grant`: database, table and column privileges of one account,
//! read from `information_schema` (`SCHEMA_PRIVILEGES`, `TABLE_PRIVILEGES`,
//! `COLUMN_PRIVILEGES`; never by parsing SHOW GRANTS text) and changed by
//! exactly the GRANTs and REVOKEs of the difference.
//!
//! MariaDB commits each GRANT implicitly, so nothing can be rolled back:
//! every table, column and privilege is checked against the catalogs before
//! the first statement runs, and only grants that exist are revoked
//! (a REVOKE of a missing column grant is ERROR 1147).

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::client::{read_catalog, run_sql, Engine, Login};
use super::grants::{self, describe, expand, parse_privs, Grant, GrantPlan, Grants, Mode};
use super::postgresql_privs::privs_text;
use crate::args::{loose_bool, loose_string};
use crate::module::{predicted, ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};

const MY: Engine = Engine::Mysql;

const TABLE_PRIVS: &[&str] = &[
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "CREATE",
    "DROP",
    "REFERENCES",
    "INDEX",
    "ALTER",
    "CREATE VIEW",
    "SHOW VIEW",
    "TRIGGER",
    "DELETE HISTORY",
];
const COLUMN_PRIVS: &[&str] = &["SELECT", "INSERT", "UPDATE", "REFERENCES"];
const DB_PRIVS: &[&str] = &[
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "CREATE",
    "DROP",
    "REFERENCES",
    "INDEX",
    "ALTER",
    "CREATE TEMPORARY TABLES",
    "LOCK TABLES",
    "EXECUTE",
    "CREATE VIEW",
    "SHOW VIEW",
    "CREATE ROUTINE",
    "ALTER ROUTINE",
    "EVENT",
    "TRIGGER",
    "DELETE HISTORY",
];
/// The key in `tables` that means the whole database (`db.*`).
const WHOLE_DB: &str = "*";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MyGrantArgs {
    /// The account's user name.
    #[serde(alias = "name", deserialize_with = "loose_string")]
    pub user: String,
    #[serde(default = "localhost", deserialize_with = "loose_string")]
    pub host: String,
    #[serde(alias = "database", deserialize_with = "loose_string")]
    pub db: String,
    /// `{table: privs}`; `"*"` for privileges on the whole database.
    pub tables: Map<String, Value>,
    #[serde(default = "present", deserialize_with = "loose_string")]
    pub state: String,
    /// Revoke the account's other privileges in `db`.
    #[serde(default, deserialize_with = "loose_bool")]
    pub exhaustive: bool,
    #[serde(flatten)]
    pub login: Login,
}

fn localhost() -> String {
    "localhost".into()
}
fn present() -> String {
    "present".into()
}

impl MyGrantArgs {
    fn account(&self) -> String {
        format!("{}@{}", MY.literal(&self.user), MY.literal(&self.host))
    }
    fn wanted(&self) -> Result<Vec<Grant>, String> {
        let mut out = Vec::new();
        for (table, privs) in &self.tables {
            let (all, cols) = if table == WHOLE_DB { (DB_PRIVS, &[][..]) } else { (TABLE_PRIVS, COLUMN_PRIVS) };
            let specs = parse_privs(&privs_text(privs)?, all, cols)?;
            out.extend(expand(&self.account(), table, &specs));
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct MyGrantState {
    pub user_exists: bool,
    pub db_exists: bool,
    /// Table → its columns.
    #[serde(default)]
    pub tables: Option<Map<String, Value>>,
    /// `[table-or-*, privilege, column-or-null]`.
    #[serde(default)]
    pub grants: Option<Vec<(String, String, Option<String>)>>,
    /// Probed in check mode: a missing object is a prediction, not an error.
    #[serde(skip)]
    pub check_mode: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MyGrantPlan {
    /// Check mode only: the account, database or a table does not exist yet.
    pub missing: Option<String>,
    pub grants: GrantPlan,
    pub statements: Vec<String>,
}

impl Plan for MyGrantPlan {
    fn changes_anything(&self) -> bool {
        self.missing.is_some() || self.grants.changes_anything()
    }
    /// Database objects are not in the overlay: a later SQL task predicts
    /// them as missing ("assuming an earlier task of this run creates it").
    fn effects(&self) -> Vec<crate::planned::Effect> {
        Vec::new()
    }
    fn diffs(&self) -> Vec<Diff> {
        vec![Diff::new("privileges", describe(&self.grants.before), describe(&self.grants.after))]
    }
}

pub fn probe_sql(a: &MyGrantArgs) -> String {
    let grantee = MY.literal(&format!("'{}'@'{}'", a.user.replace('\'', "''"), a.host.replace('\'', "''")));
    let db = MY.literal(&a.db);
    format!(
        "SELECT JSON_OBJECT(\n\
         'user_exists', (SELECT COUNT(*) > 0 FROM mysql.user WHERE User = {u} AND Host = {h}) IS TRUE,\n\
         'db_exists', (SELECT COUNT(*) > 0 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {db}) IS TRUE,\n\
         'tables', (SELECT JSON_OBJECTAGG(TABLE_NAME, cols) FROM (SELECT TABLE_NAME, JSON_ARRAYAGG(COLUMN_NAME) AS cols FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {db} GROUP BY TABLE_NAME) t),\n\
         'grants', (SELECT JSON_ARRAYAGG(JSON_ARRAY(obj, PRIVILEGE_TYPE, col)) FROM (\n\
            SELECT '*' AS obj, PRIVILEGE_TYPE, NULL AS col FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = {grantee} AND TABLE_SCHEMA = {db}\n\
            UNION ALL SELECT TABLE_NAME, PRIVILEGE_TYPE, NULL FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = {grantee} AND TABLE_SCHEMA = {db}\n\
            UNION ALL SELECT TABLE_NAME, PRIVILEGE_TYPE, COLUMN_NAME FROM information_schema.COLUMN_PRIVILEGES WHERE GRANTEE = {grantee} AND TABLE_SCHEMA = {db}) g));\n",
        u = MY.literal(&a.user),
        h = MY.literal(&a.host),
    )
}

fn object_sql(db: &str, object: &str) -> String {
    if object == WHOLE_DB {
        format!("{}.*", MY.ident(db))
    } else {
        format!("{}.{}", MY.ident(db), MY.ident(object))
    }
}

pub fn plan(a: &MyGrantArgs, s: &MyGrantState) -> Result<MyGrantPlan, String> {
    match plan_grants(a, s) {
        Err(e) if s.check_mode => {
            // Show what will be granted once the missing objects exist.
            let after = if a.state == "absent" { Grants::new() } else { a.wanted().unwrap_or_default().into_iter().collect() };
            Ok(MyGrantPlan { missing: Some(e), grants: GrantPlan { after, ..Default::default() }, statements: vec![] })
        }
        other => other,
    }
}

fn plan_grants(a: &MyGrantArgs, s: &MyGrantState) -> Result<MyGrantPlan, String> {
    if !s.user_exists {
        return Err(format!("account {} does not exist (create it with mysql_user first)", a.account()));
    }
    if !s.db_exists {
        return Err(format!("database {} does not exist", a.db));
    }
    let tables = s.tables.clone().unwrap_or_default();
    let wanted: Grants = a.wanted()?.into_iter().collect();
    for g in &wanted {
        if g.object == WHOLE_DB {
            continue;
        }
        let Some(cols) = tables.get(&g.object) else { return Err(format!("table {}.{} does not exist", a.db, g.object)) };
        if let Some(c) = &g.column {
            if !cols.as_array().is_some_and(|cs| cs.iter().any(|x| x.as_str() == Some(c))) {
                return Err(format!("column {c} does not exist in table {}.{}", a.db, g.object));
            }
        }
    }
    let account = a.account();
    let current: Grants = s
        .grants
        .iter()
        .flatten()
        .map(|(o, p, c)| Grant { role: account.clone(), object: o.clone(), privilege: p.clone(), column: c.clone() })
        .collect();
    let mode = match (a.state.as_str(), a.exhaustive) {
        ("absent", _) => Mode::Absent,
        (_, true) => Mode::Exhaustive,
        _ => Mode::Present,
    };
    // MariaDB keeps column grants when a table-wide privilege is revoked.
    let gp = grants::plan(&current, &wanted, mode, false);
    let render = |verb: &str, prep: &str, list: &[Grant]| -> Vec<String> {
        grants::group(list)
            .into_iter()
            .map(|(_, obj, privilege, cols)| {
                let cols = cols.map(|c| format!(" ({})", c.iter().map(|c| MY.ident(c)).collect::<Vec<_>>().join(", "))).unwrap_or_default();
                format!("{verb} {privilege}{cols} ON {} {prep} {account}", object_sql(&a.db, &obj))
            })
            .collect()
    };
    let mut statements = render("REVOKE", "FROM", &gp.revoke);
    statements.extend(render("GRANT", "TO", &gp.grant));
    Ok(MyGrantPlan { missing: None, grants: gp, statements })
}

pub struct MysqlGrantModule;

#[async_trait]
impl Module for MysqlGrantModule {
    type Args = MyGrantArgs;
    type State = MyGrantState;
    type Plan = MyGrantPlan;
    const NAME: &'static str = "mysql_grant";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Grant or revoke MariaDB/MySQL privileges on a database, its tables and columns, exactly.",
            args: vec![
                ArgDoc { name: "user", ty: "string", required: true, default: None, description: "Account user name." },
                ArgDoc { name: "host", ty: "string", required: false, default: Some("localhost"), description: "Account host part." },
                ArgDoc { name: "db", ty: "string", required: true, default: None, description: "Database." },
                ArgDoc { name: "tables", ty: "dict", required: true, default: None, description: "{table: privs}, SQL style: SELECT (email), UPDATE (password); \"*\" = the whole database." },
                ArgDoc { name: "state", ty: "string", required: false, default: Some("present"), description: "present (grant) or absent (revoke)." },
                ArgDoc { name: "exhaustive", ty: "bool", required: false, default: Some("false"), description: "Revoke the account's other privileges in db." },
                ArgDoc { name: "login_unix_user", ty: "string", required: false, default: Some("root"), description: "OS user the client runs as (unix_socket authentication)." },
                ArgDoc { name: "port", ty: "int", required: false, default: Some("3306"), description: "Server port." },
            ],
            example: "- mysql_grant:\n    user: mail_access\n    db: mail\n    exhaustive: true\n    tables:\n      users: SELECT (email, password)\n      forwardings: SELECT (source, destination)",
        }
    }

    fn validate(a: &MyGrantArgs) -> Result<(), String> {
        if !matches!(a.state.as_str(), "present" | "absent") {
            return Err(format!("value of state must be one of: present, absent, got: {}", a.state));
        }
        if a.exhaustive && a.state == "absent" {
            return Err("exhaustive applies to state=present".into());
        }
        a.wanted().map(|_| ())
    }

    async fn probe(a: &MyGrantArgs, ctx: &Context<'_>) -> Result<MyGrantState, ModuleError> {
        // Check mode on a fresh host: nothing can be read yet; predict.
        let Some(mut s) = read_catalog::<MyGrantState>(ctx, MY, &a.login, None, &probe_sql(a)).await? else {
            return Ok(MyGrantState { check_mode: true, ..Default::default() });
        };
        s.check_mode = ctx.check_mode;
        Ok(s)
    }

    fn check_result(_a: &MyGrantArgs, _s: &MyGrantState, p: &MyGrantPlan) -> ModuleResult {
        predicted(p.changes_anything(), p.missing.as_ref())
    }

    fn plan(a: &MyGrantArgs, s: &MyGrantState) -> Result<MyGrantPlan, ModuleError> {
        plan(a, s).map_err(ModuleError::failed)
    }

    async fn apply(a: &MyGrantArgs, p: MyGrantPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        if let Some(m) = p.missing {
            return Err(ModuleError::failed(m));
        }
        let script: String = p.statements.iter().map(|s| format!("{s};\n")).collect();
        run_sql(ctx.host, MY, &a.login, None, &script).await?;
        Ok(ModuleResult::changed(true).with("queries", p.statements))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    fn args(v: Value) -> MyGrantArgs {
        let a: MyGrantArgs = parse_args("mysql_grant", &v).unwrap();
        MysqlGrantModule::validate(&a).unwrap();
        a
    }

    /// The probe's reply on MariaDB 10.11 with the tutorial's schema after
    /// `GRANT SELECT (domain) ON domains TO mail_transfer@localhost` and a
    /// hand-made `GRANT SELECT (password) ON users` and `GRANT INSERT ON userpref`.
    fn state() -> MyGrantState {
        serde_json::from_str(include_str!("testdata/mysql_grant_probe.json")).unwrap()
    }

    fn transfer() -> MyGrantArgs {
        args(json!({"user": "mail_transfer", "db": "mail", "exhaustive": true, "tables": {
            "domains": "SELECT (domain)",
            "forwardings": "SELECT (source, destination)",
            "users": "SELECT (email)",
        }}))
    }

    #[test]
    fn exhaustive_grants_missing_columns_and_revokes_hand_made_grants() {
        let p = plan(&transfer(), &state()).unwrap();
        assert_eq!(
            p.statements,
            vec![
                "REVOKE INSERT ON `mail`.`userpref` FROM 'mail_transfer'@'localhost'",
                "REVOKE SELECT (`password`) ON `mail`.`users` FROM 'mail_transfer'@'localhost'",
                "GRANT SELECT (`destination`, `source`) ON `mail`.`forwardings` TO 'mail_transfer'@'localhost'",
                "GRANT SELECT (`email`) ON `mail`.`users` TO 'mail_transfer'@'localhost'",
            ]
        );
        let mut s = state();
        s.grants = Some(p.grants.after.iter().map(|g| (g.object.clone(), g.privilege.clone(), g.column.clone())).collect());
        assert!(!plan(&transfer(), &s).unwrap().changes_anything());
    }

    #[test]
    fn missing_objects_and_accounts_are_errors_before_anything_runs() {
        let s = state();
        assert_eq!(
            plan(&args(json!({"user": "mail_transfer", "db": "mail", "tables": {"userz": "SELECT"}})), &s).unwrap_err(),
            "table mail.userz does not exist"
        );
        assert_eq!(
            plan(&args(json!({"user": "mail_transfer", "db": "mail", "tables": {"users": "SELECT (mail)"}})), &s).unwrap_err(),
            "column mail does not exist in table mail.users"
        );
        let no_user = MyGrantState { user_exists: false, ..state() };
        assert!(plan(&transfer(), &no_user).unwrap_err().contains("does not exist (create it with mysql_user first)"));
        let a: MyGrantArgs = parse_args("mysql_grant", &json!({"user": "u", "db": "mail", "tables": {"users": "SELECT, FLY"}})).unwrap();
        assert!(MysqlGrantModule::validate(&a).unwrap_err().contains("'FLY' is not a privilege"));
    }

    #[test]
    fn check_mode_predicts_a_change_when_an_earlier_task_creates_the_account() {
        let s = MyGrantState { user_exists: false, check_mode: true, ..state() };
        let p = plan(&transfer(), &s).unwrap();
        assert!(p.changes_anything() && p.missing.as_deref().unwrap().contains("does not exist"));
    }

    #[test]
    fn whole_database_privileges() {
        let a = args(json!({"user": "mail_roundcube", "host": "web.invalid", "db": "mail", "tables": {"*": "SELECT, INSERT"}}));
        let s = MyGrantState { user_exists: true, db_exists: true, tables: None, grants: None, check_mode: false };
        assert_eq!(
            plan(&a, &s).unwrap().statements,
            vec![
                "GRANT INSERT ON `mail`.* TO 'mail_roundcube'@'web.invalid'",
                "GRANT SELECT ON `mail`.* TO 'mail_roundcube'@'web.invalid'"
            ]
        );
    }
}
