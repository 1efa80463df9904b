//! `postgresql_slot`: a physical replication slot on a primary, so that it
//! keeps the WAL a standby has not received yet (bounded by the server's
//! `max_slot_wal_keep_size`). Logical slots are refused by name: nothing
//! here uses them, and a slot of the wrong kind is an error, not a drop.

use async_trait::async_trait;
use serde::Deserialize;

use super::client::{read_catalog, run_sql, Engine, Login};
use crate::args::{loose_bool, loose_string};
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};

const PG: Engine = Engine::Postgres;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgSlotArgs {
    #[serde(alias = "slot_name", deserialize_with = "loose_string")]
    pub name: String,
    #[serde(default = "physical", deserialize_with = "loose_string")]
    pub slot_type: String,
    #[serde(default = "present", deserialize_with = "loose_string")]
    pub state: String,
    /// Reserve WAL from the slot's creation on (not only from the first
    /// connection of its standby).
    #[serde(default, deserialize_with = "loose_bool")]
    pub immediately_reserve: bool,
    #[serde(default = "postgres", alias = "login_db", deserialize_with = "loose_string")]
    pub db: String,
    #[serde(flatten)]
    pub login: Login,
}

fn physical() -> String {
    "physical".into()
}
fn present() -> String {
    "present".into()
}
fn postgres() -> String {
    "postgres".into()
}

/// The slot as pg_replication_slots has it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct PgSlot {
    pub slot_type: String,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PgSlotPlan {
    pub statement: Option<String>,
    pub before: String,
    pub after: String,
}

impl Plan for PgSlotPlan {
    fn changes_anything(&self) -> bool {
        self.statement.is_some()
    }
    /// Database objects are not in the overlay.
    fn effects(&self) -> Vec<crate::planned::Effect> {
        Vec::new()
    }
    fn diffs(&self) -> Vec<Diff> {
        vec![Diff::new("replication slot", self.before.clone(), self.after.clone())]
    }
}

/// PostgreSQL's own rule for slot names (ReplicationSlotValidateName).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 63 && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

pub fn plan(a: &PgSlotArgs, cur: Option<&PgSlot>) -> Result<PgSlotPlan, String> {
    let name = PG.literal(&a.name);
    let show = |s: &PgSlot| format!("slot: {}\ntype: {}\nactive: {}\n", a.name, s.slot_type, s.active);
    match (a.state.as_str(), cur) {
        ("absent", None) | ("present", Some(_)) if cur.is_none_or(|c| c.slot_type == a.slot_type) => {
            Ok(PgSlotPlan { statement: None, before: String::new(), after: String::new() })
        }
        ("absent", Some(c)) if c.active => {
            Err(format!("replication slot {} is in use by a standby; stop the standby before removing its slot", a.name))
        }
        ("absent", Some(c)) => {
            Ok(PgSlotPlan { statement: Some(format!("SELECT pg_drop_replication_slot({name})")), before: show(c), after: String::new() })
        }
        (_, Some(c)) => {
            Err(format!("replication slot {} exists as a {} slot, not {}; it is not replaced", a.name, c.slot_type, a.slot_type))
        }
        (_, None) => Ok(PgSlotPlan {
            statement: Some(format!("SELECT pg_create_physical_replication_slot({name}, {})", a.immediately_reserve)),
            before: String::new(),
            after: format!("slot: {}\ntype: physical\n", a.name),
        }),
    }
}

pub struct PostgresqlSlotModule;

#[async_trait]
impl Module for PostgresqlSlotModule {
    type Args = PgSlotArgs;
    type State = Option<PgSlot>;
    type Plan = PgSlotPlan;
    const NAME: &'static str = "postgresql_slot";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Create or drop a physical replication slot on a PostgreSQL server.",
            args: vec![
                ArgDoc { name: "name", ty: "string", required: true, default: None, description: "Slot name (a-z, 0-9, _; at most 63)." },
                ArgDoc {
                    name: "slot_type",
                    ty: "string",
                    required: false,
                    default: Some("physical"),
                    description: "physical (logical slots are not supported).",
                },
                ArgDoc { name: "state", ty: "string", required: false, default: Some("present"), description: "present or absent." },
                ArgDoc {
                    name: "immediately_reserve",
                    ty: "bool",
                    required: false,
                    default: Some("false"),
                    description: "Keep WAL from the slot's creation on.",
                },
                ArgDoc { name: "db", ty: "string", required: false, default: Some("postgres"), description: "Database to connect to." },
                ArgDoc { name: "port", ty: "int", required: false, default: Some("5432"), description: "Port of the cluster." },
            ],
            example: "- postgresql_slot:\n    name: db2\n    immediately_reserve: yes",
        }
    }

    fn validate(a: &PgSlotArgs) -> Result<(), String> {
        if !matches!(a.state.as_str(), "present" | "absent") {
            return Err(format!("value of state must be one of: present, absent, got: {}", a.state));
        }
        if a.slot_type != "physical" {
            return Err(format!("slot_type {} is not supported (only physical slots)", a.slot_type));
        }
        if !valid_name(&a.name) {
            return Err(format!(
                "replication slot name {:?} may contain only lower case letters, numbers and underscores (at most 63)",
                a.name
            ));
        }
        Ok(())
    }

    async fn probe(a: &PgSlotArgs, ctx: &Context<'_>) -> Result<Option<PgSlot>, ModuleError> {
        let sql = format!(
            "SELECT json_build_object('slot_type', slot_type, 'active', active) FROM pg_replication_slots WHERE slot_name = {};\n",
            PG.literal(&a.name)
        );
        // No row (no such slot) and a server not started yet in check mode both read as absent.
        Ok(read_catalog(ctx, PG, &a.login, Some(&a.db), &sql).await?.flatten())
    }

    fn plan(a: &PgSlotArgs, s: &Option<PgSlot>) -> Result<PgSlotPlan, ModuleError> {
        plan(a, s.as_ref()).map_err(ModuleError::failed)
    }

    async fn apply(a: &PgSlotArgs, p: PgSlotPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        if let Some(s) = &p.statement {
            run_sql(ctx.host, PG, &a.login, Some(&a.db), &format!("{s};\n")).await?;
        }
        Ok(ModuleResult::changed(p.statement.is_some()).with("name", a.name.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    fn args(v: serde_json::Value) -> PgSlotArgs {
        parse_args("postgresql_slot", &v).unwrap()
    }

    /// The probe's reply on PostgreSQL 15 for a slot whose standby streams.
    fn streaming() -> PgSlot {
        serde_json::from_str(r#"{"slot_type" : "physical", "active" : true}"#).unwrap()
    }

    #[test]
    fn creates_once() {
        let p = plan(&args(json!({"name": "db2", "immediately_reserve": true})), None).unwrap();
        assert_eq!(p.statement.as_deref(), Some("SELECT pg_create_physical_replication_slot('db2', true)"));
        assert!(!plan(&args(json!({"name": "db2"})), Some(&streaming())).unwrap().changes_anything());
    }

    #[test]
    fn a_slot_in_use_is_not_dropped() {
        let e = plan(&args(json!({"name": "db2", "state": "absent"})), Some(&streaming())).unwrap_err();
        assert!(e.contains("in use by a standby"), "{e}");
        let idle = PgSlot { active: false, ..streaming() };
        assert_eq!(
            plan(&args(json!({"name": "db2", "state": "absent"})), Some(&idle)).unwrap().statement.as_deref(),
            Some("SELECT pg_drop_replication_slot('db2')")
        );
        assert!(!plan(&args(json!({"name": "db2", "state": "absent"})), None).unwrap().changes_anything());
    }

    #[test]
    fn names_and_kinds_postgresql_refuses_are_refused_first() {
        for bad in ["db2.example.org", "DB2", "", &"x".repeat(64)] {
            assert!(PostgresqlSlotModule::validate(&args(json!({"name": bad}))).is_err(), "{bad:?}");
        }
        let logical = PostgresqlSlotModule::validate(&args(json!({"name": "x", "slot_type": "logical"}))).unwrap_err();
        assert!(logical.contains("not supported"), "{logical}");
        let other = PgSlot { slot_type: "logical".into(), active: false };
        assert!(plan(&args(json!({"name": "x"})), Some(&other)).unwrap_err().contains("exists as a logical slot"));
    }
}
