//! `postgresql_privs`: table, column, schema and database privileges,
//! read from the catalogs (`pg_class.relacl`, `pg_attribute.attacl`,
//! `pg_namespace.nspacl`, `pg_database.datacl` through `aclexplode`) and
//! changed by exactly the GRANTs and REVOKEs of the difference, in one
//! transaction.
//!
//! Column privileges are written the SQL way: `privs: SELECT ("source", destination)`.
//! `exhaustive: true` makes the listed privileges the roles' only ones on
//! the object type in scope (for tables: every table of `schema`), so a
//! grant added by hand is revoked on the next run.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::client::{decode_catalog, missing_in_rehearsal, query_json, run_sql, transaction, Engine, Login};
use super::grants::{self, describe, expand, parse_privs, Grant, GrantPlan, Grants, Mode, PrivSpec};
use crate::args::{loose_bool, loose_list, loose_string};
use crate::module::{predicted, ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};

const PG: Engine = Engine::Postgres;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgPrivsArgs {
    /// The database to connect to (and whose tables are meant).
    #[serde(default = "postgres_db", alias = "login_db", alias = "database", deserialize_with = "loose_string")]
    pub db: String,
    #[serde(alias = "role", deserialize_with = "loose_list")]
    pub roles: Vec<String>,
    /// table, schema or database.
    #[serde(rename = "type", default = "table_type", deserialize_with = "loose_string")]
    pub kind: String,
    #[serde(default, alias = "obj", deserialize_with = "loose_list")]
    pub objs: Vec<String>,
    #[serde(default, alias = "priv")]
    pub privs: Option<Value>,
    /// `{table: privs}`: several tables in one task.
    #[serde(default)]
    pub tables: Map<String, Value>,
    #[serde(default = "public_schema", deserialize_with = "loose_string")]
    pub schema: String,
    #[serde(default = "present", deserialize_with = "loose_string")]
    pub state: String,
    #[serde(default, deserialize_with = "loose_bool")]
    pub exhaustive: bool,
    #[serde(flatten)]
    pub login: Login,
}

fn postgres_db() -> String {
    "postgres".into()
}
fn table_type() -> String {
    "table".into()
}
fn public_schema() -> String {
    "public".into()
}
fn present() -> String {
    "present".into()
}

const TABLE_PRIVS: &[&str] = &["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"];
const COLUMN_PRIVS: &[&str] = &["SELECT", "INSERT", "UPDATE", "REFERENCES"];
const SCHEMA_PRIVS: &[&str] = &["USAGE", "CREATE"];
const DATABASE_PRIVS: &[&str] = &["CONNECT", "CREATE", "TEMPORARY"];

/// A privilege list given as text or as a YAML list.
pub fn privs_text(v: &Value) -> Result<String, String> {
    match v {
        Value::Array(items) => items.iter().map(crate::args::scalar_to_string).collect::<Result<Vec<_>, _>>().map(|v| v.join(", ")),
        other => crate::args::scalar_to_string(other),
    }
}

impl PgPrivsArgs {
    fn privilege_lists(&self) -> (&'static [&'static str], &'static [&'static str]) {
        match self.kind.as_str() {
            "schema" => (SCHEMA_PRIVS, &[]),
            "database" => (DATABASE_PRIVS, &[]),
            _ => (TABLE_PRIVS, COLUMN_PRIVS),
        }
    }

    /// (object, privileges) pairs as written; `ALL_IN_SCHEMA` is expanded by the planner.
    pub fn wanted_specs(&self) -> Result<Vec<(String, Vec<PrivSpec>)>, String> {
        let (all, cols) = self.privilege_lists();
        let parse = |v: &Value| -> Result<Vec<PrivSpec>, String> {
            // TEMP is SQL's short name; the catalogs say TEMPORARY.
            let text = regex::Regex::new(r"(?i)\bTEMP\b").expect("valid").replace_all(&privs_text(v)?, "TEMPORARY").into_owned();
            parse_privs(&text, all, cols)
        };
        let mut out = Vec::new();
        if let Some(p) = &self.privs {
            let specs = parse(p)?;
            for o in &self.objs {
                out.push((o.clone(), specs.clone()));
            }
        }
        for (t, p) in &self.tables {
            out.push((t.clone(), parse(p)?));
        }
        Ok(out)
    }
}

/// What the catalogs say, as the probe query returns it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PgPrivsState {
    /// Which of the asked roles exist.
    pub roles: Vec<String>,
    /// Objects in scope → their columns (tables) or `[]`.
    pub objects: Map<String, Value>,
    /// Object → owner; the owner holds every privilege implicitly.
    pub owners: Map<String, Value>,
    /// `[role, object, privilege, column|null]` rows.
    pub grants: Vec<(String, String, String, Option<String>)>,
    /// Probed in check mode: a missing object is a prediction, not an error.
    #[serde(skip)]
    pub check_mode: bool,
    /// What was missing when probed in check mode.
    #[serde(skip)]
    pub missing: Option<String>,
}

fn sql_text_array(items: &[String]) -> String {
    format!("ARRAY[{}]::text[]", items.iter().map(|s| PG.literal(s)).collect::<Vec<_>>().join(", "))
}

/// One query returning the whole state as JSON.
pub fn probe_sql(a: &PgPrivsArgs) -> String {
    let roles = sql_text_array(&a.roles);
    let grants = |acl: &str, owner: &str| {
        format!("CROSS JOIN LATERAL aclexplode(coalesce({acl}, acldefault({owner}))) e JOIN r ON r.oid = e.grantee AND e.grantee <> o.owner_oid")
    };
    let (objects, grant_rows) = match a.kind.as_str() {
        "schema" => (
            format!("SELECT n.oid, n.nspname AS name, n.nspowner AS owner_oid, n.nspacl AS acl FROM pg_namespace n WHERE n.nspname = ANY({})", sql_text_array(&a.objs)),
            format!("SELECT json_build_array(r.rolname, o.name, e.privilege_type, NULL) AS g FROM o {}", grants("o.acl", "'n', o.owner_oid")),
        ),
        "database" => (
            format!("SELECT d.oid, d.datname AS name, d.datdba AS owner_oid, d.datacl AS acl FROM pg_database d WHERE d.datname = ANY({})", sql_text_array(&a.objs)),
            format!("SELECT json_build_array(r.rolname, o.name, e.privilege_type, NULL) AS g FROM o {}", grants("o.acl", "'d', o.owner_oid")),
        ),
        _ => (
            format!(
                "SELECT c.oid, c.relname AS name, c.relowner AS owner_oid, c.relacl AS acl FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = {} AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
                PG.literal(&a.schema)
            ),
            format!(
                "SELECT json_build_array(r.rolname, o.name, e.privilege_type, NULL) AS g FROM o {} \
                 UNION ALL SELECT json_build_array(r.rolname, o.name, e.privilege_type, a.attname) FROM o JOIN pg_attribute a ON a.attrelid = o.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL \
                 CROSS JOIN LATERAL aclexplode(a.attacl) e JOIN r ON r.oid = e.grantee AND e.grantee <> o.owner_oid",
                grants("o.acl", "'r', o.owner_oid")
            ),
        ),
    };
    let columns = if a.kind == "table" || a.kind.is_empty() {
        "(SELECT coalesce(json_agg(a.attname ORDER BY a.attnum), '[]') FROM pg_attribute a WHERE a.attrelid = o.oid AND a.attnum > 0 AND NOT a.attisdropped)"
    } else {
        "'[]'::json"
    };
    format!(
        "WITH r AS (SELECT oid, rolname FROM pg_roles WHERE rolname = ANY({roles})), o AS ({objects})\n\
         SELECT json_build_object(\n\
           'roles', (SELECT coalesce(json_agg(rolname), '[]') FROM r),\n\
           'objects', (SELECT coalesce(json_object_agg(o.name, {columns}), '{{}}') FROM o),\n\
           'owners', (SELECT coalesce(json_object_agg(o.name, pg_get_userbyid(o.owner_oid)), '{{}}') FROM o),\n\
           'grants', (SELECT coalesce(json_agg(g), '[]') FROM ({grant_rows}) x));\n"
    )
}

#[derive(Debug, Clone, PartialEq)]
pub struct PgPrivsPlan {
    /// Check mode only: an object the grants need does not exist yet.
    pub missing: Option<String>,
    pub grants: GrantPlan,
    pub statements: Vec<String>,
    pub db: String,
}

impl Plan for PgPrivsPlan {
    fn changes_anything(&self) -> bool {
        self.missing.is_some() || self.grants.changes_anything()
    }
    /// Database objects are not in the overlay: a later SQL task predicts
    /// them as missing ("assuming an earlier task of this run creates it").
    fn effects(&self) -> Vec<crate::planned::Effect> {
        Vec::new()
    }
    fn diffs(&self) -> Vec<Diff> {
        vec![Diff::new(format!("privileges in database {}", self.db), describe(&self.grants.before), describe(&self.grants.after))]
    }
}

fn object_sql(a: &PgPrivsArgs, object: &str) -> String {
    match a.kind.as_str() {
        "schema" => format!("SCHEMA {}", PG.ident(object)),
        "database" => format!("DATABASE {}", PG.ident(object)),
        _ => format!("TABLE {}.{}", PG.ident(&a.schema), PG.ident(object)),
    }
}

fn statements(a: &PgPrivsArgs, p: &GrantPlan) -> Vec<String> {
    let render = |verb: &str, prep: &str, list: &[Grant]| -> Vec<String> {
        grants::group(list)
            .into_iter()
            .map(|(role, obj, privilege, cols)| {
                let cols = cols.map(|c| format!(" ({})", c.iter().map(|c| PG.ident(c)).collect::<Vec<_>>().join(", "))).unwrap_or_default();
                format!("{verb} {privilege}{cols} ON {} {prep} {}", object_sql(a, &obj), PG.ident(&role))
            })
            .collect()
    };
    let mut out = render("REVOKE", "FROM", &p.revoke);
    out.extend(render("GRANT", "TO", &p.grant));
    out
}

pub fn plan(a: &PgPrivsArgs, s: &PgPrivsState) -> Result<PgPrivsPlan, String> {
    let predicted = |m: String| {
        // Show what will be granted once the missing objects exist.
        let wanted: Grants = match a.wanted_specs() {
            Ok(specs) => specs
                .iter()
                .filter(|(o, _)| o != "ALL_IN_SCHEMA")
                .flat_map(|(o, sp)| a.roles.iter().flat_map(move |r| expand(r, o, sp)))
                .collect(),
            Err(_) => Grants::new(),
        };
        let after = if a.state == "absent" { Grants::new() } else { wanted };
        PgPrivsPlan { missing: Some(m), grants: GrantPlan { after, ..Default::default() }, statements: vec![], db: a.db.clone() }
    };
    if let Some(m) = &s.missing {
        return Ok(predicted(m.clone()));
    }
    match plan_grants(a, s) {
        Err(e) if s.check_mode => Ok(predicted(e)),
        other => other,
    }
}

fn plan_grants(a: &PgPrivsArgs, s: &PgPrivsState) -> Result<PgPrivsPlan, String> {
    let missing: Vec<&String> = a.roles.iter().filter(|r| !s.roles.contains(r)).collect();
    if !missing.is_empty() {
        return Err(format!("role {} does not exist", missing.iter().map(|r| format!("'{r}'")).collect::<Vec<_>>().join(", ")));
    }
    let what = if a.kind == "table" { format!("table {}.", a.schema) } else { format!("{} ", a.kind) };
    let mut wanted = Grants::new();
    for (object, specs) in a.wanted_specs()? {
        let objects: Vec<String> = if object == "ALL_IN_SCHEMA" { s.objects.keys().cloned().collect() } else { vec![object] };
        for object in objects {
            let Some(columns) = s.objects.get(&object) else {
                return Err(format!("{what}{object} does not exist in database {}", a.db));
            };
            for spec in &specs {
                for c in spec.columns.iter().flatten() {
                    if !columns.as_array().is_some_and(|cs| cs.iter().any(|x| x.as_str() == Some(c))) {
                        return Err(format!("column {c} does not exist in table {}.{object}", a.schema));
                    }
                }
            }
            for role in &a.roles {
                // The owner holds every privilege implicitly; nothing to grant.
                if s.owners.get(&object).and_then(Value::as_str) == Some(role) {
                    continue;
                }
                wanted.extend(expand(role, &object, &specs));
            }
        }
    }
    let current: Grants =
        s.grants.iter().map(|(r, o, p, c)| Grant { role: r.clone(), object: o.clone(), privilege: p.clone(), column: c.clone() }).collect();
    let mode = match (a.state.as_str(), a.exhaustive) {
        ("absent", _) => Mode::Absent,
        (_, true) => Mode::Exhaustive,
        _ => Mode::Present,
    };
    let gp = grants::plan(&current, &wanted, mode, true);
    Ok(PgPrivsPlan { missing: None, statements: statements(a, &gp), grants: gp, db: a.db.clone() })
}

pub struct PostgresqlPrivsModule;

#[async_trait]
impl Module for PostgresqlPrivsModule {
    type Args = PgPrivsArgs;
    type State = PgPrivsState;
    type Plan = PgPrivsPlan;
    const NAME: &'static str = "postgresql_privs";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Grant or revoke PostgreSQL privileges on tables, columns, schemas and databases, exactly.",
            args: vec![
                ArgDoc { name: "db", ty: "string", required: false, default: Some("postgres"), description: "Database to connect to; its tables are meant." },
                ArgDoc { name: "roles", ty: "list", required: true, default: None, description: "Roles to grant to (comma-separated or a list)." },
                ArgDoc { name: "type", ty: "string", required: false, default: Some("table"), description: "table, schema or database." },
                ArgDoc { name: "objs", ty: "list", required: false, default: None, description: "Objects the privs apply to; ALL_IN_SCHEMA for every table." },
                ArgDoc { name: "privs", ty: "string", required: false, default: None, description: "Privileges, SQL style: SELECT, UPDATE (password), ALL." },
                ArgDoc { name: "tables", ty: "dict", required: false, default: None, description: "Several tables at once: {table: privs}." },
                ArgDoc { name: "schema", ty: "string", required: false, default: Some("public"), description: "Schema of the tables." },
                ArgDoc { name: "state", ty: "string", required: false, default: Some("present"), description: "present (grant) or absent (revoke)." },
                ArgDoc { name: "exhaustive", ty: "bool", required: false, default: Some("false"), description: "Revoke the roles' other privileges of this type (tables: in the whole schema)." },
                ArgDoc { name: "login_unix_user", ty: "string", required: false, default: Some("postgres"), description: "OS user psql runs as (peer authentication)." },
                ArgDoc { name: "port", ty: "int", required: false, default: Some("5432"), description: "Port of the cluster." },
            ],
            example: "- postgresql_privs:\n    db: mail\n    roles: mail_transfer\n    exhaustive: true\n    tables:\n      domains: SELECT (domain)\n      forwardings: SELECT (\"source\", destination)",
        }
    }

    fn validate(a: &PgPrivsArgs) -> Result<(), String> {
        if !matches!(a.kind.as_str(), "table" | "schema" | "database") {
            return Err(format!("type must be one of: table, schema, database, got: {}", a.kind));
        }
        if !matches!(a.state.as_str(), "present" | "absent") {
            return Err(format!("value of state must be one of: present, absent, got: {}", a.state));
        }
        if a.roles.is_empty() {
            return Err("roles is empty".into());
        }
        if a.privs.is_some() == a.objs.is_empty() {
            return Err("give privs together with objs (or use tables)".into());
        }
        if !a.tables.is_empty() && a.kind != "table" {
            return Err("tables is only for type table".into());
        }
        if a.exhaustive && a.state == "absent" {
            return Err("exhaustive applies to state=present".into());
        }
        a.wanted_specs().map(|_| ())
    }

    async fn probe(a: &PgPrivsArgs, ctx: &Context<'_>) -> Result<PgPrivsState, ModuleError> {
        let v = match query_json(ctx.host, PG, &a.login, Some(&a.db), &probe_sql(a)).await {
            Err(ModuleError::Failed(m)) if missing_in_rehearsal(ctx, PG, &m) => {
                return Ok(PgPrivsState { check_mode: true, missing: Some(m), ..Default::default() })
            }
            other => other?,
        };
        let mut s: PgPrivsState = decode_catalog(v)?;
        s.check_mode = ctx.check_mode;
        Ok(s)
    }

    fn check_result(_a: &PgPrivsArgs, _s: &PgPrivsState, p: &PgPrivsPlan) -> ModuleResult {
        predicted(p.changes_anything(), p.missing.as_ref())
    }

    fn plan(a: &PgPrivsArgs, s: &PgPrivsState) -> Result<PgPrivsPlan, ModuleError> {
        plan(a, s).map_err(ModuleError::failed)
    }

    async fn apply(a: &PgPrivsArgs, p: PgPrivsPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        if let Some(m) = p.missing {
            return Err(ModuleError::failed(m));
        }
        run_sql(ctx.host, PG, &a.login, Some(&a.db), &transaction(&p.statements)).await?;
        Ok(ModuleResult::changed(true).with("queries", p.statements))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    fn args(v: Value) -> PgPrivsArgs {
        let a: PgPrivsArgs = parse_args("postgresql_privs", &v).unwrap();
        PostgresqlPrivsModule::validate(&a).unwrap();
        a
    }

    /// The probe's reply on PostgreSQL 15 for the tutorial's schema after
    /// `GRANT SELECT ("domain") ON domains TO mail_transfer` and a hand-made
    /// `GRANT INSERT ON userpref TO mail_transfer`.
    fn state() -> PgPrivsState {
        serde_json::from_str(include_str!("testdata/pg_privs_probe.json")).unwrap()
    }

    fn transfer() -> PgPrivsArgs {
        args(json!({"db": "mail", "roles": "mail_transfer", "exhaustive": true, "tables": {
            "domains": "SELECT (\"domain\")",
            "forwardings": "SELECT (\"source\", destination)",
            "users": "SELECT (email)",
            "transports": "SELECT (\"domain\", transport)",
        }}))
    }

    #[test]
    fn exhaustive_grants_the_missing_columns_and_revokes_the_hand_made_grant() {
        let p = plan(&transfer(), &state()).unwrap();
        assert_eq!(
            p.statements,
            vec![
                "REVOKE INSERT ON TABLE \"public\".\"userpref\" FROM \"mail_transfer\"",
                "GRANT SELECT (\"destination\", \"source\") ON TABLE \"public\".\"forwardings\" TO \"mail_transfer\"",
                "GRANT SELECT (\"domain\", \"transport\") ON TABLE \"public\".\"transports\" TO \"mail_transfer\"",
                "GRANT SELECT (\"email\") ON TABLE \"public\".\"users\" TO \"mail_transfer\"",
            ]
        );
        let d = &p.diffs()[0];
        assert_eq!(d.before, "mail_transfer: SELECT (domain) ON domains\nmail_transfer: INSERT ON userpref\n");
        assert!(d.after.contains("mail_transfer: SELECT (destination, source) ON forwardings\n"), "{}", d.after);
        assert!(!d.after.contains("userpref"));
    }

    #[test]
    fn converged_state_plans_nothing() {
        let a = transfer();
        let mut s = state();
        let p = plan(&a, &s).unwrap();
        s.grants = p.grants.after.iter().map(|g| (g.role.clone(), g.object.clone(), g.privilege.clone(), g.column.clone())).collect();
        assert!(!plan(&a, &s).unwrap().changes_anything());
    }

    #[test]
    fn missing_tables_columns_and_roles_are_named() {
        let s = state();
        let e = plan(&args(json!({"db": "mail", "roles": "mail_transfer", "objs": "domainz", "privs": "SELECT"})), &s).unwrap_err();
        assert_eq!(e, "table public.domainz does not exist in database mail");
        let e = plan(&args(json!({"db": "mail", "roles": "mail_transfer", "objs": "users", "privs": "SELECT (mail)"})), &s).unwrap_err();
        assert_eq!(e, "column mail does not exist in table public.users");
        let e = plan(&args(json!({"db": "mail", "roles": "nobody", "objs": "users", "privs": "SELECT"})), &s).unwrap_err();
        assert_eq!(e, "role 'nobody' does not exist");
    }

    #[test]
    fn bad_privileges_are_refused_before_any_host_contact() {
        let a: PgPrivsArgs = parse_args("postgresql_privs", &json!({"roles": "r", "objs": "t", "privs": "SELECT, UPSERT"})).unwrap();
        assert!(PostgresqlPrivsModule::validate(&a).unwrap_err().contains("'UPSERT' is not a privilege"));
        let a: PgPrivsArgs =
            parse_args("postgresql_privs", &json!({"roles": "r", "type": "schema", "objs": "public", "privs": "SELECT"})).unwrap();
        assert!(PostgresqlPrivsModule::validate(&a).is_err());
        let a: PgPrivsArgs =
            parse_args("postgresql_privs", &json!({"roles": "r", "type": "database", "objs": "mail", "privs": "connect,temp"})).unwrap();
        assert!(PostgresqlPrivsModule::validate(&a).is_ok());
    }

    #[test]
    fn state_absent_revokes_a_column_grant() {
        let a = args(json!({"db": "mail", "roles": "mail_transfer", "objs": "domains", "privs": "SELECT(domain)", "state": "absent"}));
        assert_eq!(
            plan(&a, &state()).unwrap().statements,
            vec!["REVOKE SELECT (\"domain\") ON TABLE \"public\".\"domains\" FROM \"mail_transfer\""]
        );
    }
}
