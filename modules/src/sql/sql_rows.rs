//! `sql_rows`: rows that must exist in a table, keyed by some columns, for
//! either engine (`domains`, `users`, `forwardings`, `transports`, ...).
//!
//! The probe reads the table's rows (the key and listed columns, as text) in
//! one query; the planner inserts missing keys, updates a row whose other
//! columns differ, deletes with `state: absent` (or, with `exhaustive`,
//! every row not listed), all in one transaction.
//!
//! `crypt_columns` hold passwords: the task gives the clear text, the table
//! stores a SHA-512 crypt hash (`$6$`), and a stored hash that matches the
//! clear text is left alone, so re-runs are `ok` though salts are random.
//! Crypt and `secret_columns` values never appear in diffs or results.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::client::{decode_catalog, is_missing_object, missing_in_rehearsal, query_json, run_sql, transaction, Engine, Login};
use super::passwords::{sha512_crypt, sha512_crypt_matches};
use crate::args::{loose_bool, loose_list, loose_opt_string, loose_string};
use crate::module::{predicted, ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlRowsArgs {
    pub engine: Engine,
    #[serde(alias = "login_db", alias = "database", deserialize_with = "loose_string")]
    pub db: String,
    #[serde(deserialize_with = "loose_string")]
    pub table: String,
    /// PostgreSQL schema of the table.
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub schema: Option<String>,
    #[serde(deserialize_with = "loose_list")]
    pub keys: Vec<String>,
    /// Rows as mappings; with a single key column a row may be just its value.
    #[serde(deserialize_with = "rows_of")]
    pub rows: Vec<Map<String, Value>>,
    /// Take only these columns (and the keys) from each row; others are ignored.
    #[serde(default, deserialize_with = "loose_list")]
    pub columns: Vec<String>,
    #[serde(default, deserialize_with = "loose_list")]
    pub crypt_columns: Vec<String>,
    #[serde(default, deserialize_with = "loose_list")]
    pub secret_columns: Vec<String>,
    #[serde(default = "present", deserialize_with = "loose_string")]
    pub state: String,
    /// Delete the table's rows that are not listed.
    #[serde(default, deserialize_with = "loose_bool")]
    pub exhaustive: bool,
    #[serde(flatten)]
    pub login: Login,
}

fn present() -> String {
    "present".into()
}

/// Rows are mappings; or lists of values in the order keys, then columns
/// (what `zip` makes); or, with one key column, just the key's value.
/// Positional values are kept under `#0`, `#1`, ... until the key names are
/// known (`effective_rows`).
fn rows_of<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Map<String, Value>>, D::Error> {
    let v = Vec::<Value>::deserialize(d)?;
    Ok(v.into_iter()
        .map(|r| match r {
            Value::Object(m) => m,
            Value::Array(items) => items.into_iter().enumerate().map(|(i, x)| (format!("#{i}"), x)).collect(),
            scalar => [("#0".to_string(), scalar)].into_iter().collect(),
        })
        .collect())
}

impl SqlRowsArgs {
    /// The rows with positional values named (keys, then columns), and only
    /// the columns asked for.
    pub fn effective_rows(&self) -> Vec<Map<String, Value>> {
        let keep: Vec<&String> = self.keys.iter().chain(self.columns.iter()).collect();
        self.rows
            .iter()
            .map(|r| {
                let mut r = r.clone();
                for (i, name) in keep.iter().enumerate() {
                    if let Some(v) = r.remove(&format!("#{i}")) {
                        r.insert((*name).clone(), v);
                    }
                }
                if !self.columns.is_empty() {
                    r.retain(|c, _| keep.contains(&c));
                }
                r
            })
            .collect()
    }

    /// Keys first, then every other column any row names.
    pub fn columns(&self) -> Vec<String> {
        let mut cols = self.keys.clone();
        for r in &self.effective_rows() {
            for c in r.keys() {
                if !cols.contains(c) {
                    cols.push(c.clone());
                }
            }
        }
        cols
    }

    fn table_sql(&self) -> String {
        let e = self.engine;
        match (&self.schema, e) {
            (Some(s), Engine::Postgres) => format!("{}.{}", e.ident(s), e.ident(&self.table)),
            _ => e.ident(&self.table),
        }
    }

    fn hidden(&self, col: &str) -> bool {
        self.crypt_columns.iter().any(|c| c == col) || self.secret_columns.iter().any(|c| c == col)
    }
}

/// A cell as text (what the probe returns), `None` for NULL.
type Cell = Option<String>;

fn cell(engine: Engine, v: &Value) -> Cell {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(match (engine, b) {
            (Engine::Postgres, true) => "true".into(),
            (Engine::Postgres, false) => "false".into(),
            (Engine::Mysql, true) => "1".into(),
            (Engine::Mysql, false) => "0".into(),
        }),
        other => Some(other.to_string()),
    }
}

pub fn probe_sql(a: &SqlRowsArgs) -> String {
    let e = a.engine;
    let cols = a.columns();
    match e {
        Engine::Postgres => format!(
            "SELECT coalesce(json_agg(json_build_array({})), '[]') FROM {};\n",
            cols.iter().map(|c| format!("{}::text", e.ident(c))).collect::<Vec<_>>().join(", "),
            a.table_sql()
        ),
        Engine::Mysql => format!(
            "SELECT COALESCE(JSON_ARRAYAGG(JSON_ARRAY({})), '[]') FROM {};\n",
            cols.iter().map(|c| format!("CAST({} AS CHAR)", e.ident(c))).collect::<Vec<_>>().join(", "),
            a.table_sql()
        ),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RowsPlan {
    /// Check mode only: the database or table does not exist yet.
    pub missing: Option<String>,
    pub table: String,
    pub statements: Vec<String>,
    pub before: String,
    pub after: String,
    pub inserted: usize,
    pub updated: usize,
    pub deleted: usize,
}

impl Plan for RowsPlan {
    fn changes_anything(&self) -> bool {
        self.missing.is_some() || !self.statements.is_empty()
    }
    /// Database objects are not in the overlay: a later SQL task predicts
    /// them as missing ("assuming an earlier task of this run creates it").
    fn effects(&self) -> Vec<crate::planned::Effect> {
        Vec::new()
    }
    fn diffs(&self) -> Vec<Diff> {
        vec![Diff::new(format!("rows of {}", self.table), self.before.clone(), self.after.clone())]
    }
}

/// A row as a diff line; hidden columns masked.
fn describe(a: &SqlRowsArgs, cols: &[String], row: &[Cell]) -> String {
    let parts: Vec<String> = cols
        .iter()
        .zip(row)
        .map(|(c, v)| match (a.hidden(c), v) {
            (true, Some(_)) => format!("{c}=(secret)"),
            (_, None) => format!("{c}=NULL"),
            (false, Some(v)) => format!("{c}={v}"),
        })
        .collect();
    format!("{}\n", parts.join(" "))
}

/// `hash` makes a crypt hash for a clear-text value (random salt in real
/// runs, fixed in tests).
pub fn plan(a: &SqlRowsArgs, current: &[Vec<Cell>], hash: &dyn Fn(&str) -> String) -> Result<RowsPlan, String> {
    let e = a.engine;
    let cols = a.columns();
    let nkeys = a.keys.len();
    let by_key: BTreeMap<Vec<Cell>, &Vec<Cell>> = current.iter().map(|r| (r[..nkeys].to_vec(), r)).collect();
    let key_where = |key: &[Cell]| -> String {
        a.keys
            .iter()
            .zip(key)
            .map(|(k, v)| match v {
                Some(v) => format!("{} = {}", e.ident(k), e.literal(v)),
                None => format!("{} IS NULL", e.ident(k)),
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let lit = |v: &Cell| v.as_ref().map(|s| e.literal(s)).unwrap_or_else(|| "NULL".into());
    let mut p = RowsPlan {
        missing: None,
        table: a.table.clone(),
        statements: vec![],
        before: String::new(),
        after: String::new(),
        inserted: 0,
        updated: 0,
        deleted: 0,
    };
    let mut listed: Vec<Vec<Cell>> = Vec::new();
    for row in &a.effective_rows() {
        let key: Vec<Cell> = a.keys.iter().map(|k| cell(e, &row[k])).collect();
        listed.push(key.clone());
        let existing = by_key.get(&key);
        if a.state == "absent" {
            if let Some(cur) = existing {
                p.statements.push(format!("DELETE FROM {} WHERE {}", a.table_sql(), key_where(&key)));
                p.before.push_str(&describe(a, &cols, cur));
                p.deleted += 1;
            }
            continue;
        }
        let wanted: Vec<(usize, &String, Cell)> =
            cols.iter().enumerate().filter_map(|(i, c)| row.get(c).map(|v| (i, c, cell(e, v)))).collect();
        let stored = |v: &Cell, c: &str| -> Cell {
            if a.crypt_columns.iter().any(|x| x == c) {
                v.as_ref().map(|clear| hash(clear))
            } else {
                v.clone()
            }
        };
        match existing {
            None => {
                let names: Vec<String> = wanted.iter().map(|(_, c, _)| e.ident(c)).collect();
                let values: Vec<String> = wanted.iter().map(|(_, c, v)| lit(&stored(v, c))).collect();
                p.statements.push(format!("INSERT INTO {} ({}) VALUES ({})", a.table_sql(), names.join(", "), values.join(", ")));
                let shown: Vec<Cell> = cols.iter().map(|c| row.get(c).and_then(|v| cell(e, v))).collect();
                p.after.push_str(&describe(a, &cols, &shown));
                p.inserted += 1;
            }
            Some(cur) => {
                let mut sets = Vec::new();
                for (i, c, v) in &wanted[..] {
                    if *i < nkeys {
                        continue;
                    }
                    let same = match (a.crypt_columns.iter().any(|x| x == *c), &cur[*i], v) {
                        (true, Some(h), Some(clear)) => sha512_crypt_matches(h, clear),
                        (_, have, want) => have == want,
                    };
                    if !same {
                        sets.push(format!("{} = {}", e.ident(c), lit(&stored(v, c))));
                    }
                }
                if !sets.is_empty() {
                    p.statements.push(format!("UPDATE {} SET {} WHERE {}", a.table_sql(), sets.join(", "), key_where(&key)));
                    p.before.push_str(&describe(a, &cols, cur));
                    let mut new: Vec<Cell> = (*cur).clone();
                    for (i, _, v) in &wanted {
                        new[*i] = v.clone();
                    }
                    p.after.push_str(&describe(a, &cols, &new));
                    p.updated += 1;
                }
            }
        }
    }
    if a.exhaustive && a.state != "absent" {
        for (key, cur) in &by_key {
            if !listed.contains(key) {
                p.statements.push(format!("DELETE FROM {} WHERE {}", a.table_sql(), key_where(key)));
                p.before.push_str(&describe(a, &cols, cur));
                p.deleted += 1;
            }
        }
    }
    Ok(p)
}

pub struct SqlRowsModule;

/// Check mode, and the table cannot be read because this run only planned
/// it, its database or its server (noting no assumption).
fn table_not_there_yet(ctx: &Context<'_>, engine: Engine, msg: &str) -> bool {
    let (programs, packages) = engine.provided_by();
    ctx.check_mode && (is_missing_object(msg) || ctx.rehearsal().and_then(|p| p.provider(programs, packages)).is_some())
}

#[async_trait]
impl Module for SqlRowsModule {
    type Args = SqlRowsArgs;
    /// The table's rows, or (check mode) what is missing.
    type State = Result<Vec<Vec<Cell>>, String>;
    type Plan = RowsPlan;
    const NAME: &'static str = "sql_rows";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Ensure rows exist (or not) in a PostgreSQL or MariaDB table, keyed by columns; password columns stored as SHA-512 crypt.",
            args: vec![
                ArgDoc { name: "engine", ty: "string", required: true, default: None, description: "pgsql or mysql." },
                ArgDoc { name: "db", ty: "string", required: true, default: None, description: "Database." },
                ArgDoc { name: "table", ty: "string", required: true, default: None, description: "Table." },
                ArgDoc { name: "schema", ty: "string", required: false, default: None, description: "PostgreSQL schema of the table." },
                ArgDoc { name: "keys", ty: "list", required: true, default: None, description: "Columns that identify a row." },
                ArgDoc { name: "rows", ty: "list", required: true, default: None, description: "Rows: mappings column: value, lists in the order keys then columns, or single key values." },
            ArgDoc { name: "columns", ty: "list", required: false, default: None, description: "Only these columns (besides the keys) are taken from each row." },
                ArgDoc { name: "crypt_columns", ty: "list", required: false, default: None, description: "Columns given in clear text and stored as $6$ hashes." },
                ArgDoc { name: "secret_columns", ty: "list", required: false, default: None, description: "Columns never shown in output." },
                ArgDoc { name: "state", ty: "string", required: false, default: Some("present"), description: "present (insert/update) or absent (delete)." },
                ArgDoc { name: "exhaustive", ty: "bool", required: false, default: Some("false"), description: "Delete rows that are not listed." },
                ArgDoc { name: "login_unix_user", ty: "string", required: false, default: Some("postgres / root"), description: "OS user the client runs as." },
                ArgDoc { name: "port", ty: "int", required: false, default: None, description: "Server port." },
            ],
            example: "- sql_rows:\n    engine: pgsql\n    db: mail\n    table: users\n    keys: [email]\n    crypt_columns: [password]\n    rows:\n      - {email: user@example.org, password: \"{{ pw }}\", quota_kb: 1024}",
        }
    }

    fn validate(a: &SqlRowsArgs) -> Result<(), String> {
        if !matches!(a.state.as_str(), "present" | "absent") {
            return Err(format!("value of state must be one of: present, absent, got: {}", a.state));
        }
        if a.keys.is_empty() {
            return Err("keys is empty".into());
        }
        let named = a.keys.len() + a.columns.len();
        if let Some(r) =
            a.rows.iter().find(|r| r.keys().any(|k| k.strip_prefix('#').and_then(|n| n.parse::<usize>().ok()).is_some_and(|n| n >= named)))
        {
            return Err(format!("a row of values has more values ({}) than keys and columns ({named})", r.len()));
        }
        for (i, r) in a.effective_rows().iter().enumerate() {
            if let Some(k) = a.keys.iter().find(|k| !r.contains_key(*k)) {
                return Err(format!("row {} has no value for key column '{k}'", i + 1));
            }
        }
        if let Some(c) = a.crypt_columns.iter().find(|c| a.keys.contains(c)) {
            return Err(format!("'{c}' cannot be both a key and a crypt column"));
        }
        Ok(())
    }

    fn secret_values(a: &SqlRowsArgs) -> Vec<String> {
        a.effective_rows()
            .iter()
            .flat_map(|r| r.iter().filter(|(c, _)| a.hidden(c)).filter_map(|(_, v)| v.as_str().map(str::to_string)).collect::<Vec<_>>())
            .collect()
    }

    async fn probe(a: &SqlRowsArgs, ctx: &Context<'_>) -> Result<Result<Vec<Vec<Cell>>, String>, ModuleError> {
        let v = match query_json(ctx.host, a.engine, &a.login, Some(&a.db), &probe_sql(a)).await {
            // No rows wanted in a table this run makes (on a server it
            // installs or starts): certainly nothing to do, no assumption.
            Err(ModuleError::Failed(m)) if a.state != "absent" && a.rows.is_empty() && table_not_there_yet(ctx, a.engine, &m) => {
                return Ok(Err(m))
            }
            Err(ModuleError::Failed(m)) if missing_in_rehearsal(ctx, a.engine, &m) => return Ok(Err(m)),
            other => other?,
        };
        let v = match v {
            // MariaDB returns the aggregate as a JSON string inside COALESCE.
            Value::String(s) => serde_json::from_str(&s).map_err(|e| ModuleError::failed(e.to_string()))?,
            other => other,
        };
        decode_catalog(v).map(Ok)
    }

    fn plan(a: &SqlRowsArgs, s: &Result<Vec<Vec<Cell>>, String>) -> Result<RowsPlan, ModuleError> {
        match s {
            Ok(rows) => plan(a, rows, &sha512_crypt).map_err(ModuleError::failed),
            Err(missing) => {
                // Show the rows that will be inserted once the table exists.
                let cols = a.columns();
                let after = if a.state == "absent" {
                    String::new()
                } else {
                    a.effective_rows()
                        .iter()
                        .map(|r| describe(a, &cols, &cols.iter().map(|c| r.get(c).and_then(|v| cell(a.engine, v))).collect::<Vec<_>>()))
                        .collect()
                };
                // Nothing to insert (and nothing there to delete): no change.
                let missing = (a.state != "absent" && !a.rows.is_empty()).then(|| missing.clone());
                Ok(RowsPlan {
                    missing,
                    table: a.table.clone(),
                    statements: vec![],
                    before: String::new(),
                    after,
                    inserted: 0,
                    updated: 0,
                    deleted: 0,
                })
            }
        }
    }

    fn check_result(_a: &SqlRowsArgs, _s: &Result<Vec<Vec<Cell>>, String>, p: &RowsPlan) -> ModuleResult {
        predicted(p.changes_anything(), p.missing.as_ref())
    }

    async fn apply(a: &SqlRowsArgs, p: RowsPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        if let Some(m) = p.missing {
            return Err(ModuleError::failed(m));
        }
        run_sql(ctx.host, a.engine, &a.login, Some(&a.db), &transaction(&p.statements)).await?;
        Ok(ModuleResult::changed(true).with("inserted", p.inserted).with("updated", p.updated).with("deleted", p.deleted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    fn args(v: Value) -> SqlRowsArgs {
        let a: SqlRowsArgs = parse_args("sql_rows", &v).unwrap();
        SqlRowsModule::validate(&a).unwrap();
        a
    }

    fn fixed(clear: &str) -> String {
        format!("HASH({})", clear.len())
    }

    // `openssl passwd -6 -salt abcdefgh secret`, as stored by an earlier run.
    const SECRET_HASH: &str = "$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG.";

    fn users(pw: &str, quota: Value) -> SqlRowsArgs {
        args(json!({"engine": "pgsql", "db": "mail", "table": "users", "keys": "email", "crypt_columns": "password",
            "rows": [{"email": "a@example.org", "password": pw, "quota_kb": quota}, {"email": "b@example.org", "password": "pw-b"}]}))
    }

    #[test]
    fn inserts_missing_rows_with_hashed_passwords_and_hides_them() {
        // The probe's reply (json_agg of ::text columns) for one existing user.
        let cur: Vec<Vec<Cell>> = serde_json::from_value(json!([["a@example.org", SECRET_HASH, "1024"]])).unwrap();
        let p = plan(&users("secret", json!(1024)), &cur, &fixed).unwrap();
        assert_eq!(p.statements, vec!["INSERT INTO \"users\" (\"email\", \"password\") VALUES ('b@example.org', 'HASH(4)')"]);
        assert_eq!(p.after, "email=b@example.org password=(secret) quota_kb=NULL\n");
        assert!(!format!("{:?}", p.diffs()).contains("pw-b"));
    }

    #[test]
    fn a_changed_password_or_column_updates_that_row_only() {
        let cur: Vec<Vec<Cell>> =
            serde_json::from_value(json!([["a@example.org", SECRET_HASH, "1024"], ["b@example.org", SECRET_HASH, null]])).unwrap();
        let p = plan(&users("secret", json!(2048)), &cur, &fixed).unwrap();
        assert_eq!(
            p.statements,
            vec![
                "UPDATE \"users\" SET \"quota_kb\" = '2048' WHERE \"email\" = 'a@example.org'",
                "UPDATE \"users\" SET \"password\" = 'HASH(4)' WHERE \"email\" = 'b@example.org'"
            ]
        );
        assert_eq!(p.before, "email=a@example.org password=(secret) quota_kb=1024\nemail=b@example.org password=(secret) quota_kb=NULL\n");
        assert_eq!(p.after, "email=a@example.org password=(secret) quota_kb=2048\nemail=b@example.org password=(secret) quota_kb=NULL\n");
    }

    #[test]
    fn converged_rows_plan_nothing() {
        let a = args(json!({"engine": "mysql", "db": "mail", "table": "forwardings", "keys": ["source", "destination"],
            "rows": [{"source": "key-submission@example.org", "destination": "example.org@wks.localdomain"}, {"source": "example.org@wks.localdomain", "destination": ""}]}));
        let cur: Vec<Vec<Cell>> = serde_json::from_value(json!([
            ["example.org@wks.localdomain", ""],
            ["key-submission@example.org", "example.org@wks.localdomain"]
        ]))
        .unwrap();
        assert!(!plan(&a, &cur, &fixed).unwrap().changes_anything());
    }

    #[test]
    fn absent_and_exhaustive_delete() {
        let cur: Vec<Vec<Cell>> = serde_json::from_value(json!([["example.org"], ["old.example"]])).unwrap();
        let a = args(
            json!({"engine": "mysql", "db": "mail", "table": "domains", "keys": "domain", "rows": [{"domain": "example.org"}], "exhaustive": true}),
        );
        assert_eq!(plan(&a, &cur, &fixed).unwrap().statements, vec!["DELETE FROM `domains` WHERE `domain` = 'old.example'"]);
        let a = args(
            json!({"engine": "mysql", "db": "mail", "table": "domains", "keys": "domain", "rows": [{"domain": "example.org"}], "state": "absent"}),
        );
        assert_eq!(plan(&a, &cur, &fixed).unwrap().statements, vec!["DELETE FROM `domains` WHERE `domain` = 'example.org'"]);
    }

    #[test]
    fn single_key_rows_may_be_values_and_columns_restrict_rows() {
        let a = args(
            json!({"engine": "pgsql", "db": "mail", "table": "domains", "keys": "domain", "rows": ["example.org", "wks.localdomain"]}),
        );
        let cur: Vec<Vec<Cell>> = serde_json::from_value(json!([["example.org"]])).unwrap();
        assert_eq!(plan(&a, &cur, &fixed).unwrap().statements, vec!["INSERT INTO \"domains\" (\"domain\") VALUES ('wks.localdomain')"]);
        let a = args(json!({"engine": "mysql", "db": "mail", "table": "sender_relays", "keys": "source", "columns": "relay",
            "rows": [{"source": "a@example.org", "relay": "[smtp.example.net]:587", "username": "u", "password": "p"}]}));
        assert_eq!(a.columns(), ["source", "relay"]);
        // What `zip` makes: lists in the order keys, then columns.
        let a = args(
            json!({"engine": "pgsql", "db": "mail", "table": "forwardings", "keys": ["source", "destination"], "rows": [["key-submission@example.org", "example.org@wks.localdomain"]]}),
        );
        assert_eq!(plan(&a, &[], &fixed).unwrap().statements, vec!["INSERT INTO \"forwardings\" (\"source\", \"destination\") VALUES ('key-submission@example.org', 'example.org@wks.localdomain')"]);
        let bad: SqlRowsArgs =
            parse_args("sql_rows", &json!({"engine": "pgsql", "db": "m", "table": "t", "keys": "k", "rows": [["a", "b"]]})).unwrap();
        assert!(SqlRowsModule::validate(&bad).is_err());
    }

    #[test]
    fn rows_must_carry_their_keys() {
        let a: SqlRowsArgs =
            parse_args("sql_rows", &json!({"engine": "pgsql", "db": "m", "table": "t", "keys": "email", "rows": [{"mail": "x"}]})).unwrap();
        assert_eq!(SqlRowsModule::validate(&a).unwrap_err(), "row 1 has no value for key column 'email'");
        assert!(
            parse_args::<SqlRowsArgs>("sql_rows", &json!({"engine": "oracle", "db": "m", "table": "t", "keys": "k", "rows": []})).is_err()
        );
    }
}
