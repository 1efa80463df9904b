//! Running SQL on the target as the database's OS superuser, over the
//! existing connection: `psql` as `postgres` (peer authentication) or
//! `mariadb` as `root` (unix_socket authentication). The SQL travels on
//! standard input, so nothing secret is ever on a command line.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::host::{quote, Command, Host};
use crate::module::{Context, ModuleError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Engine {
    #[serde(rename = "pgsql", alias = "postgresql", alias = "postgres")]
    Postgres,
    #[serde(rename = "mysql", alias = "mariadb")]
    Mysql,
}

/// Where and as whom to connect; shared by every SQL module's args.
/// Flattened into each module's args (which reject unknown fields).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Login {
    /// The OS user that may log in without a password.
    #[serde(default, deserialize_with = "crate::args::loose_opt_string")]
    pub login_unix_user: Option<String>,
    /// PostgreSQL's port (selects the cluster) or MariaDB's.
    #[serde(default, alias = "login_port")]
    pub port: Option<u16>,
}

pub const LOGIN_ARGS: &[&str] = &["login_unix_user", "port"];

impl Engine {
    /// The client programs and the server packages of the engine: in check
    /// mode, a server one of these comes with is only planned.
    pub(crate) fn provided_by(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Engine::Postgres => (&["/usr/bin/psql", "/usr/lib/postgresql"], &["postgresql", "postgresql-15", "postgresql-16"]),
            Engine::Mysql => (&["/usr/bin/mariadb", "/usr/bin/mysql"], &["mariadb-server", "default-mysql-server", "mysql-server"]),
        }
    }

    fn default_unix_user(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mysql => "root",
        }
    }

    /// Quote an identifier (table, column, role, database).
    pub fn ident(self, name: &str) -> String {
        match self {
            Engine::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
            Engine::Mysql => format!("`{}`", name.replace('`', "``")),
        }
    }

    /// Quote a string literal.
    pub fn literal(self, s: &str) -> String {
        match self {
            Engine::Postgres => format!("'{}'", s.replace('\'', "''")),
            Engine::Mysql => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''")),
        }
    }
}

/// The shell command that runs the engine's client as `unix_user`.
fn client_command(engine: Engine, login: &Login, db: Option<&str>, headers: bool) -> String {
    let user = login.login_unix_user.as_deref().unwrap_or(engine.default_unix_user());
    let mut args = match engine {
        // -X: no ~/.psqlrc; -A -t: bare values; stop at the first error.
        Engine::Postgres => vec!["psql".to_string(), "-X".into(), "-q".into(), "-A".into(), "-v".into(), "ON_ERROR_STOP=1".into()],
        Engine::Mysql => vec!["\"$client\"".to_string(), "--batch".into(), "--raw".into()],
    };
    match (engine, headers) {
        (Engine::Postgres, false) => args.push("-t".into()),
        (Engine::Postgres, true) => args.push("--field-separator=\"$(printf '\\t')\"".into()),
        (Engine::Mysql, false) => args.push("--skip-column-names".into()),
        (Engine::Mysql, true) => {}
    }
    if let Some(p) = login.port {
        args.push(format!("--port={p}"));
    }
    if let Some(db) = db {
        args.push(match engine {
            Engine::Postgres => format!("--dbname={}", quote(db)),
            Engine::Mysql => format!("--database={}", quote(db)),
        });
    }
    let pick_client = match engine {
        Engine::Postgres => "",
        Engine::Mysql => {
            "client=$(command -v mariadb || command -v mysql) || { echo 'neither mariadb nor mysql is installed' >&2; exit 127; }; "
        }
    };
    let cmd = args.join(" ");
    format!(
        "cd / && {pick_client}if [ \"$(id -un)\" = {u} ]; then exec {cmd}; elif [ \"$(id -u)\" = 0 ]; then exec runuser -u {u} -- {cmd}; else exec sudo -n -u {u} -- {cmd}; fi",
        u = quote(user)
    )
}

/// Run `sql` and return its standard output. A failure (server down, SQL
/// error) is a module error carrying the client's message.
pub async fn run_sql(host: &dyn Host, engine: Engine, login: &Login, db: Option<&str>, sql: &str) -> Result<String, ModuleError> {
    run(host, engine, login, db, sql, false).await
}

/// Like [`run_sql`], with a header line of column names (tab-separated output).
pub async fn run_sql_with_headers(
    host: &dyn Host,
    engine: Engine,
    login: &Login,
    db: Option<&str>,
    sql: &str,
) -> Result<String, ModuleError> {
    run(host, engine, login, db, sql, true).await
}

async fn run(host: &dyn Host, engine: Engine, login: &Login, db: Option<&str>, sql: &str, headers: bool) -> Result<String, ModuleError> {
    let out = host.exec(&Command::shell(client_command(engine, login, db, headers)).stdin(sql.as_bytes().to_vec())).await?;
    if !out.success() {
        return Err(ModuleError::failed(client_error(&out.stderr_str())));
    }
    Ok(out.stdout_str())
}

/// The useful part of a client's error output.
pub fn client_error(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let text = lines.join("; ");
    // psql prefixes script errors with "psql:<stdin>:N:".
    let text = text.strip_prefix("psql:<stdin>:").map(|r| r.split_once(": ").map(|(_, m)| m).unwrap_or(r)).unwrap_or(&text);
    text.trim().to_string()
}

/// Run a query whose single result is one JSON document (or no row at all).
pub async fn query_json(host: &dyn Host, engine: Engine, login: &Login, db: Option<&str>, sql: &str) -> Result<Value, ModuleError> {
    let out = run_sql(host, engine, login, db, sql).await?;
    let text = out.trim();
    if text.is_empty() || text == "NULL" {
        return Ok(Value::Null);
    }
    serde_json::from_str(text).map_err(|e| ModuleError::failed(format!("unexpected reply from the database ({e}): {text}")))
}

/// A probe's catalog reply (`query_json`) decoded as the module's state.
/// `None` when, in check mode, the server is not running yet (the task
/// that starts it was only rehearsed) or not even installed (a package
/// this run installs brings it): the module then plans from an empty
/// server instead of failing.
pub async fn read_catalog<T: DeserializeOwned>(
    ctx: &Context<'_>,
    engine: Engine,
    login: &Login,
    db: Option<&str>,
    sql: &str,
) -> Result<Option<T>, ModuleError> {
    let v = match query_json(ctx.host, engine, login, db, sql).await {
        Err(ModuleError::Failed(m)) if server_not_yet(ctx, engine, &m) => return Ok(None),
        other => other?,
    };
    decode_catalog(v).map(Some)
}

/// Check mode, and the server cannot answer because an earlier task of
/// the run only planned it: started (the server is down) or installed (a
/// planned package brings it; noted as the prediction's assumption). A
/// server nothing planned still fails.
pub fn server_not_yet(ctx: &Context<'_>, engine: Engine, msg: &str) -> bool {
    let (programs, packages) = engine.provided_by();
    ctx.check_mode && (is_server_down(msg) || ctx.pending_provider(programs, packages).is_some())
}

/// Check mode, and what the task reads is missing or not there yet (see
/// [`is_missing_object`], [`server_not_yet`]).
pub fn missing_in_rehearsal(ctx: &Context<'_>, engine: Engine, msg: &str) -> bool {
    ctx.check_mode && (is_missing_object(msg) || server_not_yet(ctx, engine, msg))
}

/// A catalog reply decoded; a reply of another shape is a failure.
pub fn decode_catalog<T: DeserializeOwned>(v: Value) -> Result<T, ModuleError> {
    serde_json::from_value(v).map_err(|e| ModuleError::failed(format!("unexpected catalog reply: {e}")))
}

/// Whether a client error says an object is missing (database, table,
/// column, role). In check mode that is expected when an earlier task of
/// the same run would have created it: the module then predicts a change
/// instead of failing.
pub fn is_missing_object(msg: &str) -> bool {
    msg.contains("does not exist") || msg.contains("doesn't exist") || msg.contains("Unknown database") || is_server_down(msg)
}

/// Whether the server is not running (yet: in check mode, the task that
/// starts it was only rehearsed).
pub fn is_server_down(msg: &str) -> bool {
    msg.contains("Is the server running")
        || msg.contains("Can't connect to local server")
        || msg.contains("Connection refused")
        || msg.contains("Can't connect to server")
}

/// Statements wrapped so that they apply together or not at all.
pub fn transaction(statements: &[String]) -> String {
    let mut s = String::from("BEGIN;\n");
    for st in statements {
        s.push_str(st);
        s.push_str(";\n");
    }
    s.push_str("COMMIT;\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_quoted_per_engine() {
        assert_eq!(Engine::Postgres.ident("source"), "\"source\"");
        assert_eq!(Engine::Postgres.ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(Engine::Mysql.ident("a`b"), "`a``b`");
        assert_eq!(Engine::Postgres.literal("it's"), "'it''s'");
        assert_eq!(Engine::Mysql.literal("a\\'"), "'a\\\\'''");
    }

    #[test]
    fn a_server_that_is_not_running_is_recognised() {
        // psql and mariadb with their servers stopped (Debian 12).
        assert!(is_server_down("psql: error: connection to server on socket \"/var/run/postgresql/.s.PGSQL.5432\" failed: No such file or directory; Is the server running locally and accepting connections on that socket?"));
        assert!(is_server_down("ERROR 2002 (HY000): Can't connect to local server through socket '/run/mysqld/mysqld.sock' (2)"));
        assert!(!is_server_down("ERROR:  permission denied for table users"));
    }

    struct NoController;
    impl crate::module::Controller for NoController {
        fn find_file(&self, _: &str, name: &str) -> Result<std::path::PathBuf, String> {
            Err(name.to_string())
        }
        fn render_template_file(&self, _: &std::path::Path, _: &crate::module::TemplateSyntax) -> Result<String, String> {
            Err(String::new())
        }
        fn eval_expression(&self, _: &str) -> Result<Value, String> {
            Err(String::new())
        }
        fn eval_var(&self, _: &str) -> Result<Value, crate::module::ExprError> {
            Err(crate::module::ExprError::Failed(String::new()))
        }
        fn eval_condition(&self, _: &str) -> Result<bool, String> {
            Err(String::new())
        }
    }

    #[test]
    fn a_missing_client_is_predicted_only_when_its_server_package_is_planned() {
        use crate::planned::{Effect, Notes, PlannedState};
        let host = crate::local_host::LocalHost::new("t");
        let (planned, notes) = (PlannedState::new(), Notes::default());
        let ctx = Context {
            host: &host,
            controller: &NoController,
            check_mode: true,
            diff: false,
            verbosity: 0,
            planned: Some(&planned),
            notes: Some(&notes),
        };
        // Debian 12 without PostgreSQL: runuser finds no postgres user.
        let missing = "runuser: user postgres does not exist";
        assert!(!server_not_yet(&ctx, Engine::Postgres, missing), "nothing planned it: fail as before");
        assert!(server_not_yet(&ctx, Engine::Postgres, "Is the server running locally"), "a server that is down is predicted");
        planned.record(vec![Effect::Package { name: "postgresql".into(), installed: true, contents: None }]);
        assert!(server_not_yet(&ctx, Engine::Postgres, missing));
        assert!(!server_not_yet(&ctx, Engine::Mysql, "neither mariadb nor mysql is installed"), "another engine's package");
        assert_eq!(notes.take(), vec!["postgresql is installed by this run first".to_string()]);
        let real = Context { check_mode: false, ..ctx };
        assert!(!server_not_yet(&real, Engine::Postgres, missing), "only check mode predicts");
    }

    #[test]
    fn errors_lose_the_client_prefix() {
        assert_eq!(
            client_error("psql:<stdin>:1: ERROR:  column \"x\" does not exist\nLINE 1: SELECT x\n"),
            "ERROR:  column \"x\" does not exist; LINE 1: SELECT x"
        );
        assert_eq!(
            client_error("psql: error: connection to server on socket \"/var/run/postgresql/.s.PGSQL.5432\" failed: No such file or directory\n\tIs the server running locally and accepting connections on that socket?\n"),
            "psql: error: connection to server on socket \"/var/run/postgresql/.s.PGSQL.5432\" failed: No such file or directory; Is the server running locally and accepting connections on that socket?"
        );
    }

    #[test]
    fn the_client_runs_as_the_unix_user_with_sql_on_stdin() {
        let c = client_command(Engine::Postgres, &Login { login_unix_user: None, port: Some(5433) }, Some("mail"), false);
        assert!(c.contains("runuser -u postgres -- psql -X -q -A -v ON_ERROR_STOP=1 -t --port=5433 --dbname=mail"), "{c}");
        let c = client_command(Engine::Mysql, &Login { login_unix_user: None, port: None }, None, false);
        assert!(c.contains("[ \"$(id -un)\" = root ]; then exec \"$client\" --batch --raw --skip-column-names"), "{c}");
    }
}
