//! `postgresql_query`, `postgresql_script` and `mysql_query`: run SQL.
//!
//! A read-only query (SELECT, WITH, VALUES, TABLE, SHOW) returns its rows
//! as `query_result` and never reports a change. Anything else reports
//! `changed`, unless the `unless` guard query returns a row: that is how a
//! schema script stays idempotent (`unless: SELECT 1 FROM pg_tables WHERE
//! tablename = 'users'`). A script runs in one transaction. In check mode,
//! PostgreSQL runs the statements inside `BEGIN ... ROLLBACK` to prove they
//! would succeed; MariaDB commits DDL implicitly, so there it only reports.
//! A read-only query runs in check mode too, and returns its rows.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::client::{missing_in_rehearsal, query_json, run_sql, run_sql_with_headers, Engine, Login};
use crate::args::loose_opt_string;
use crate::module::{predicted, ArgDoc, Context, Module, ModuleDoc, ModuleError, ModuleResult, Plan};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryArgs {
    #[serde(default, alias = "login_db", alias = "database", deserialize_with = "loose_opt_string")]
    pub db: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub query: Option<String>,
    /// A file from the role's or playbook's `files/`.
    #[serde(default, alias = "path", deserialize_with = "loose_opt_string")]
    pub src: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub content: Option<String>,
    /// A query; when it returns a row, nothing is run.
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub unless: Option<String>,
    #[serde(flatten)]
    pub login: Login,
}

impl QueryArgs {
    fn given(&self) -> usize {
        [self.query.is_some(), self.src.is_some(), self.content.is_some()].iter().filter(|b| **b).count()
    }
}

/// Whether SQL only reads: its first keyword (after comments) is one of these.
pub fn is_read_only(sql: &str) -> bool {
    let body: String = sql.lines().map(|l| l.split("--").next().unwrap_or("")).collect::<Vec<_>>().join(" ");
    let first = body.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
    let single = body.trim().trim_end_matches(';').matches(';').count() == 0;
    single && matches!(first.trim_start_matches('('), "SELECT" | "WITH" | "VALUES" | "TABLE" | "SHOW")
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueryState {
    pub sql: String,
    /// The `unless` guard returned a row.
    pub guarded: bool,
    /// Check mode: the database does not exist yet (an earlier task creates it).
    pub missing: Option<String>,
    /// Check mode: a read-only query's rows (reading changes nothing, so it runs).
    pub rows: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueryPlan {
    pub run: bool,
    pub read_only: bool,
    pub sql: String,
}

impl Plan for QueryPlan {
    fn changes_anything(&self) -> bool {
        self.run && !self.read_only
    }
    /// Database objects are not in the overlay: a later SQL task predicts
    /// them as missing ("assuming an earlier task of this run creates it").
    fn effects(&self) -> Vec<crate::planned::Effect> {
        Vec::new()
    }
}

fn doc_args(engine: Engine, script: bool) -> Vec<ArgDoc> {
    let (user, port) = match engine {
        Engine::Postgres => ("postgres", "5432"),
        Engine::Mysql => ("root", "3306"),
    };
    let mut v = vec![ArgDoc { name: "db", ty: "string", required: false, default: None, description: "Database to run in." }];
    if !script {
        v.push(ArgDoc {
            name: "query",
            ty: "string",
            required: false,
            default: None,
            description: "The SQL; a read-only query returns query_result.",
        });
    }
    v.extend([
        ArgDoc { name: "src", ty: "path", required: false, default: None, description: "A SQL file from files/ (run in one transaction)." },
        ArgDoc { name: "content", ty: "string", required: false, default: None, description: "SQL text (run in one transaction)." },
        ArgDoc {
            name: "unless",
            ty: "string",
            required: false,
            default: None,
            description: "A guard query: when it returns a row, nothing runs (ok).",
        },
        ArgDoc { name: "login_unix_user", ty: "string", required: false, default: Some(user), description: "OS user the client runs as." },
        ArgDoc { name: "port", ty: "int", required: false, default: Some(port), description: "Server port." },
    ]);
    v
}

async fn probe(engine: Engine, a: &QueryArgs, ctx: &Context<'_>) -> Result<QueryState, ModuleError> {
    let sql = match (&a.query, &a.src, &a.content) {
        (Some(q), _, _) | (_, _, Some(q)) => q.clone(),
        (_, Some(src), _) => {
            let path = ctx.controller.find_file("files", src).map_err(ModuleError::failed)?;
            std::fs::read_to_string(&path).map_err(|e| ModuleError::failed(format!("{}: {e}", path.display())))?
        }
        _ => return Err(ModuleError::failed("give query, src or content")),
    };
    let guarded = match &a.unless {
        None => false,
        Some(guard) => {
            match run_sql(ctx.host, engine, &a.login, a.db.as_deref(), &format!("{};\n", guard.trim().trim_end_matches(';'))).await {
                Err(ModuleError::Failed(m)) if missing_in_rehearsal(ctx, engine, &m) => {
                    return Ok(QueryState { sql, guarded: false, missing: Some(m), rows: None })
                }
                other => !other?.trim().is_empty(),
            }
        }
    };
    let mut state = QueryState { sql, guarded, missing: None, rows: None };
    if ctx.check_mode && !guarded && is_read_only(&state.sql) {
        match read_rows(engine, a, ctx, &state.sql).await {
            Ok(rows) => state.rows = Some(rows),
            Err(ModuleError::Failed(m)) if missing_in_rehearsal(ctx, engine, &m) => state.missing = Some(m),
            Err(e) => return Err(e),
        }
    }
    Ok(state)
}

fn plan(s: &QueryState) -> QueryPlan {
    QueryPlan { run: !s.guarded, read_only: is_read_only(&s.sql), sql: s.sql.clone() }
}

/// Rows of a read-only query as a list of objects.
async fn read_rows(engine: Engine, a: &QueryArgs, ctx: &Context<'_>, sql: &str) -> Result<Value, ModuleError> {
    let sql = sql.trim().trim_end_matches(';');
    match engine {
        Engine::Postgres if !sql.to_ascii_uppercase().starts_with("SHOW") => {
            query_json(ctx.host, engine, &a.login, a.db.as_deref(), &format!("SELECT coalesce(json_agg(q), '[]') FROM ({sql}) q;\n")).await
        }
        _ => {
            let out = run_sql_with_headers(ctx.host, engine, &a.login, a.db.as_deref(), &format!("{sql};\n")).await?;
            Ok(Value::Array(parse_tsv(&out)))
        }
    }
}

/// Tab-separated rows under a header line (mariadb --batch, psql -A -F tab).
pub fn parse_tsv(out: &str) -> Vec<Value> {
    let mut lines = out.lines();
    let Some(header) = lines.next() else { return vec![] };
    let names: Vec<&str> = header.split('\t').collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            Value::Object(
                names
                    .iter()
                    .zip(l.split('\t'))
                    .map(|(n, v)| (n.to_string(), if v == "NULL" { Value::Null } else { Value::String(v.to_string()) }))
                    .collect::<Map<_, _>>(),
            )
        })
        .collect()
}

async fn apply(engine: Engine, a: &QueryArgs, sql: &str, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
    if is_read_only(sql) {
        let rows = read_rows(engine, a, ctx, sql).await?;
        let n = rows.as_array().map(Vec::len).unwrap_or(0);
        return Ok(ModuleResult::ok().with("query_result", rows).with("rowcount", n));
    }
    let script = format!("BEGIN;\n{}\n;\nCOMMIT;\n", sql.trim());
    run_sql(ctx.host, engine, &a.login, a.db.as_deref(), &script).await?;
    Ok(ModuleResult::changed(true))
}

/// Check mode: PostgreSQL proves the statements inside a rolled-back transaction.
async fn rehearse(engine: Engine, a: &QueryArgs, s: &QueryState, ctx: &Context<'_>) -> Result<(), ModuleError> {
    if engine != Engine::Postgres || is_read_only(&s.sql) {
        return Ok(());
    }
    match run_sql(ctx.host, engine, &a.login, a.db.as_deref(), &format!("BEGIN;\n{}\n;\nROLLBACK;\n", s.sql.trim())).await {
        Err(ModuleError::Failed(m)) if m.contains("cannot run inside a transaction block") => Ok(()),
        other => other.map(|_| ()),
    }
}

macro_rules! query_module {
    ($ty:ident, $name:literal, $engine:expr, $script:literal, $summary:literal, $example:literal) => {
        pub struct $ty;

        #[async_trait]
        impl Module for $ty {
            type Args = QueryArgs;
            type State = QueryState;
            type Plan = QueryPlan;
            const NAME: &'static str = $name;

            fn doc() -> ModuleDoc {
                ModuleDoc { summary: $summary, args: doc_args($engine, $script), example: $example }
            }

            fn validate(a: &QueryArgs) -> Result<(), String> {
                if $script && a.query.is_some() {
                    return Err("use src or content (query is for postgresql_query)".into());
                }
                if a.given() != 1 {
                    return Err(if $script {
                        "give exactly one of src and content".into()
                    } else {
                        "give exactly one of query, src and content".into()
                    });
                }
                Ok(())
            }

            async fn probe(a: &QueryArgs, ctx: &Context<'_>) -> Result<QueryState, ModuleError> {
                let s = probe($engine, a, ctx).await?;
                if ctx.check_mode && !s.guarded && s.missing.is_none() {
                    rehearse($engine, a, &s, ctx).await?;
                }
                Ok(s)
            }

            fn plan(_a: &QueryArgs, s: &QueryState) -> Result<QueryPlan, ModuleError> {
                Ok(plan(s))
            }

            fn check_result(_a: &QueryArgs, s: &QueryState, p: &QueryPlan) -> ModuleResult {
                let r = predicted(p.changes_anything(), s.missing.as_ref());
                match &s.rows {
                    Some(rows) => r.with("query_result", rows.clone()).with("rowcount", rows.as_array().map(Vec::len).unwrap_or(0)),
                    None => r,
                }
            }

            fn always_apply() -> bool {
                // A read-only query runs to return its rows.
                true
            }

            async fn apply(a: &QueryArgs, p: QueryPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
                if !p.run {
                    return Ok(ModuleResult::ok().with_msg("skipped: the unless query returned a row"));
                }
                apply($engine, a, &p.sql, ctx).await
            }
        }
    };
}

query_module!(
    PostgresqlQueryModule,
    "postgresql_query",
    Engine::Postgres,
    false,
    "Run a PostgreSQL query (rows returned for reads), idempotent with an unless guard.",
    "- postgresql_query:\n    db: mail\n    query: SELECT email FROM users"
);
query_module!(
    PostgresqlScriptModule,
    "postgresql_script",
    Engine::Postgres,
    true,
    "Run a SQL script in one PostgreSQL transaction, guarded by an unless query.",
    "- postgresql_script:\n    db: mail\n    src: tut.db.sql\n    unless: SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = 'users'"
);
query_module!(
    MysqlQueryModule,
    "mysql_query",
    Engine::Mysql,
    false,
    "Run a MariaDB/MySQL query or script (rows returned for reads), idempotent with an unless guard.",
    "- mysql_query:\n    db: mail\n    src: tut.db.my.sql\n    unless: SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'mail' AND TABLE_NAME = 'users'"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_queries_are_recognised() {
        assert!(is_read_only("SELECT email FROM users;"));
        assert!(is_read_only("-- who\nwith x as (select 1) select * from x"));
        assert!(!is_read_only("SELECT 1; DROP TABLE users"));
        assert!(!is_read_only("CREATE TABLE t (a int)"));
        assert!(!is_read_only("INSERT INTO t VALUES (1)"));
    }

    #[test]
    fn a_guarded_script_plans_nothing() {
        assert!(!plan(&QueryState { sql: "CREATE TABLE t (a int)".into(), guarded: true, missing: None, rows: None }).changes_anything());
        assert!(plan(&QueryState { sql: "CREATE TABLE t (a int)".into(), guarded: false, missing: None, rows: None }).changes_anything());
        assert!(!plan(&QueryState { sql: "SELECT 1".into(), guarded: false, missing: None, rows: None }).changes_anything());
    }

    #[test]
    fn tsv_rows_become_objects() {
        // mariadb --batch output of SELECT User, Host FROM mysql.user
        let rows = parse_tsv("User\tHost\nmail_access\tlocalhost\nroot\tNULL\n");
        assert_eq!(
            rows,
            vec![serde_json::json!({"User": "mail_access", "Host": "localhost"}), serde_json::json!({"User": "root", "Host": null})]
        );
    }

    #[test]
    fn exactly_one_source_of_sql() {
        let a: QueryArgs = crate::args::parse_args("postgresql_script", &serde_json::json!({"db": "mail", "query": "x"})).unwrap();
        assert!(PostgresqlScriptModule::validate(&a).is_err());
        let a: QueryArgs = crate::args::parse_args("postgresql_query", &serde_json::json!({"db": "mail"})).unwrap();
        assert!(PostgresqlQueryModule::validate(&a).is_err());
    }
}
