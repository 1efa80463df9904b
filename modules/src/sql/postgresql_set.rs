//! `postgresql_set`: a server setting through `ALTER SYSTEM`, reloaded at
//! once; `restart_required` tells a handler when only a restart applies it.
//!
//! The value is compared with what `postgresql.auto.conf` already says
//! (pending a restart or not), else with the running value, after
//! normalising units (`128MB` = `131072kB`), so a set value is never set again.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use super::client::{read_catalog, run_sql, Engine, Login};
use crate::args::{loose_bool, loose_string, scalar_to_string};
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};

const PG: Engine = Engine::Postgres;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgSetArgs {
    #[serde(deserialize_with = "loose_string")]
    pub name: String,
    #[serde(default)]
    pub value: Option<Value>,
    /// Remove the setting from postgresql.auto.conf (ALTER SYSTEM RESET).
    #[serde(default, deserialize_with = "loose_bool")]
    pub reset: bool,
    #[serde(flatten)]
    pub login: Login,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct PgSetting {
    /// Whether the server knows the parameter at all.
    pub known: bool,
    /// `current_setting(name)`, with units.
    pub current: Option<String>,
    /// The value in postgresql.auto.conf, if any.
    pub auto_conf: Option<String>,
    /// pg_settings.context: postmaster means a restart applies it.
    pub context: Option<String>,
}

/// Bring `8MB`, `8192kB`, `1h`, `60min` to one base unit; other text is
/// compared case-insensitively.
pub fn normalize(v: &str) -> String {
    let v = v.trim().trim_matches('\'');
    let split = v.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-')).unwrap_or(v.len());
    let (num, unit) = (&v[..split], v[split..].trim());
    let Ok(n) = num.parse::<f64>() else { return v.to_ascii_lowercase() };
    let factor = match unit {
        "B" => 1.0,
        "kB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        "GB" => 1024.0 * 1024.0 * 1024.0,
        "TB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        "" => 1.0,
        _ => return v.to_ascii_lowercase(),
    };
    let kind = match unit {
        "B" | "kB" | "MB" | "GB" | "TB" => "bytes",
        "" => "",
        _ => "ms",
    };
    format!("{}{kind}", n * factor)
}

#[derive(Debug, Clone, PartialEq)]
pub struct PgSetPlan {
    pub statement: Option<String>,
    pub before: String,
    pub after: String,
    pub restart_required: bool,
}

impl Plan for PgSetPlan {
    fn changes_anything(&self) -> bool {
        self.statement.is_some()
    }
    /// Database objects are not in the overlay: a later SQL task predicts
    /// them as missing ("assuming an earlier task of this run creates it").
    fn effects(&self) -> Vec<crate::planned::Effect> {
        Vec::new()
    }
    fn diffs(&self) -> Vec<Diff> {
        vec![Diff::new("postgresql.auto.conf", self.before.clone(), self.after.clone())]
    }
}

pub fn plan(a: &PgSetArgs, s: &PgSetting) -> Result<PgSetPlan, String> {
    if !s.known {
        return Err(format!("unrecognized configuration parameter \"{}\"", a.name));
    }
    let restart = s.context.as_deref() == Some("postmaster");
    let line = |v: &str| format!("{} = '{}'\n", a.name, v);
    let nothing = PgSetPlan { statement: None, before: String::new(), after: String::new(), restart_required: false };
    if a.reset {
        return Ok(match &s.auto_conf {
            None => nothing,
            Some(v) => PgSetPlan {
                statement: Some(format!("ALTER SYSTEM RESET {}", PG.ident(&a.name))),
                before: line(v),
                after: String::new(),
                restart_required: restart,
            },
        });
    }
    let want = scalar_to_string(a.value.as_ref().ok_or("value is required unless reset is set")?)?;
    let have = s.auto_conf.clone().or(s.current.clone()).unwrap_or_default();
    if normalize(&want) == normalize(&have) {
        return Ok(nothing);
    }
    Ok(PgSetPlan {
        statement: Some(format!("ALTER SYSTEM SET {} = {}", PG.ident(&a.name), PG.literal(&want))),
        before: s.auto_conf.as_deref().map(line).unwrap_or_default(),
        after: line(&want),
        restart_required: restart,
    })
}

pub struct PostgresqlSetModule;

#[async_trait]
impl Module for PostgresqlSetModule {
    type Args = PgSetArgs;
    type State = PgSetting;
    type Plan = PgSetPlan;
    const NAME: &'static str = "postgresql_set";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Set a PostgreSQL server parameter with ALTER SYSTEM and reload; reports restart_required for handlers.",
            args: vec![
                ArgDoc { name: "name", ty: "string", required: true, default: None, description: "Parameter name, e.g. wal_level." },
                ArgDoc {
                    name: "value",
                    ty: "string",
                    required: false,
                    default: None,
                    description: "Wanted value (units allowed: 128MB, 5min).",
                },
                ArgDoc {
                    name: "reset",
                    ty: "bool",
                    required: false,
                    default: Some("false"),
                    description: "Remove it from postgresql.auto.conf instead.",
                },
                ArgDoc {
                    name: "login_unix_user",
                    ty: "string",
                    required: false,
                    default: Some("postgres"),
                    description: "OS user psql runs as.",
                },
                ArgDoc { name: "port", ty: "int", required: false, default: Some("5432"), description: "Port of the cluster." },
            ],
            example: "- postgresql_set:\n    name: wal_level\n    value: logical\n  register: wal\n  notify: restart postgresql",
        }
    }

    fn validate(a: &PgSetArgs) -> Result<(), String> {
        if a.value.is_none() && !a.reset {
            return Err("give value, or reset: true".into());
        }
        Ok(())
    }

    async fn probe(a: &PgSetArgs, ctx: &Context<'_>) -> Result<PgSetting, ModuleError> {
        let n = PG.literal(&a.name);
        let sql = format!(
            "SELECT json_build_object('known', EXISTS (SELECT 1 FROM pg_settings WHERE name = {n}), \
             'current', current_setting({n}, true), \
             'context', (SELECT context FROM pg_settings WHERE name = {n}), \
             'auto_conf', (SELECT setting FROM pg_file_settings WHERE name = {n} AND sourcefile LIKE '%/postgresql.auto.conf' ORDER BY seqno DESC LIMIT 1));\n"
        );
        let read = read_catalog(ctx, PG, &a.login, Some("postgres"), &sql).await?;
        // Check mode on a fresh host: the server is not started yet; predict the change.
        Ok(read.unwrap_or(PgSetting { known: true, current: None, auto_conf: None, context: None }))
    }

    fn plan(a: &PgSetArgs, s: &PgSetting) -> Result<PgSetPlan, ModuleError> {
        plan(a, s).map_err(ModuleError::failed)
    }

    fn check_result(_a: &PgSetArgs, _s: &PgSetting, p: &PgSetPlan) -> ModuleResult {
        ModuleResult::changed(p.changes_anything()).with("restart_required", p.restart_required)
    }

    fn unchanged_result(_a: &PgSetArgs, _s: &PgSetting) -> ModuleResult {
        ModuleResult::ok().with("restart_required", false)
    }

    async fn apply(a: &PgSetArgs, p: PgSetPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let Some(statement) = &p.statement else { return Ok(ModuleResult::ok()) };
        // ALTER SYSTEM cannot run in a transaction block.
        run_sql(ctx.host, PG, &a.login, Some("postgres"), &format!("{statement};\nSELECT pg_reload_conf();\n")).await?;
        Ok(ModuleResult::changed(true).with("restart_required", p.restart_required).with("name", a.name.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    fn args(v: Value) -> PgSetArgs {
        parse_args("postgresql_set", &v).unwrap()
    }

    fn setting(json: &str) -> PgSetting {
        serde_json::from_str(json).unwrap()
    }

    // Probe replies captured on PostgreSQL 15.
    const SHARED_BUFFERS: &str = r#"{"known" : true, "current" : "128MB", "context" : "postmaster", "auto_conf" : null}"#;
    const PENDING: &str = r#"{"known" : true, "current" : "128MB", "context" : "postmaster", "auto_conf" : "256MB"}"#;
    const WORK_MEM: &str = r#"{"known" : true, "current" : "4MB", "context" : "user", "auto_conf" : null}"#;
    const UNKNOWN: &str = r#"{"known" : false, "current" : null, "context" : null, "auto_conf" : null}"#;

    #[test]
    fn equal_values_in_other_units_are_unchanged() {
        assert!(!plan(&args(json!({"name": "shared_buffers", "value": "131072kB"})), &setting(SHARED_BUFFERS)).unwrap().changes_anything());
        assert!(!plan(&args(json!({"name": "work_mem", "value": "4096kB"})), &setting(WORK_MEM)).unwrap().changes_anything());
    }

    #[test]
    fn a_change_to_a_postmaster_setting_needs_a_restart_once() {
        let p = plan(&args(json!({"name": "shared_buffers", "value": "256MB"})), &setting(SHARED_BUFFERS)).unwrap();
        assert_eq!(p.statement.as_deref(), Some("ALTER SYSTEM SET \"shared_buffers\" = '256MB'"));
        assert!(p.restart_required);
        // Set but not yet restarted: nothing more to do.
        assert!(!plan(&args(json!({"name": "shared_buffers", "value": "256MB"})), &setting(PENDING)).unwrap().changes_anything());
        let p = plan(&args(json!({"name": "work_mem", "value": "8MB"})), &setting(WORK_MEM)).unwrap();
        assert!(!p.restart_required);
    }

    #[test]
    fn unknown_parameters_and_reset() {
        assert!(plan(&args(json!({"name": "shared_bufers", "value": "1"})), &setting(UNKNOWN)).unwrap_err().contains("unrecognized"));
        assert_eq!(
            plan(&args(json!({"name": "shared_buffers", "reset": true})), &setting(PENDING)).unwrap().statement.as_deref(),
            Some("ALTER SYSTEM RESET \"shared_buffers\"")
        );
        assert!(!plan(&args(json!({"name": "shared_buffers", "reset": true})), &setting(SHARED_BUFFERS)).unwrap().changes_anything());
    }
}
