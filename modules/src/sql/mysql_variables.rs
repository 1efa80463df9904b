//! `mysql_variables`: a global server variable (`SET GLOBAL`), compared
//! with the running value first. MariaDB has no SET PERSIST: put lasting
//! settings into a config file too.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use super::client::{run_sql, server_not_yet, Engine, Login};
use crate::args::{loose_string, scalar_to_string};
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};

const MY: Engine = Engine::Mysql;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MyVarArgs {
    #[serde(deserialize_with = "loose_string")]
    pub variable: String,
    pub value: Value,
    #[serde(flatten)]
    pub login: Login,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MyVarPlan {
    pub statement: Option<String>,
    pub before: String,
    pub after: String,
}

impl Plan for MyVarPlan {
    fn changes_anything(&self) -> bool {
        self.statement.is_some()
    }
    /// Database objects are not in the overlay: a later SQL task predicts
    /// them as missing ("assuming an earlier task of this run creates it").
    fn effects(&self) -> Vec<crate::planned::Effect> {
        Vec::new()
    }
    fn diffs(&self) -> Vec<Diff> {
        vec![Diff::new("global variables", self.before.clone(), self.after.clone())]
    }
}

/// `ON`/`1`/`true` and `OFF`/`0`/`false` are the same value to the server.
fn normalize(v: &str) -> String {
    match v.trim().to_ascii_uppercase().as_str() {
        "ON" | "TRUE" | "YES" => "1".into(),
        "OFF" | "FALSE" | "NO" => "0".into(),
        other => other.to_string(),
    }
}

pub fn plan(a: &MyVarArgs, current: &str) -> Result<MyVarPlan, String> {
    let want = scalar_to_string(&a.value)?;
    if normalize(&want) == normalize(current) {
        return Ok(MyVarPlan { statement: None, before: String::new(), after: String::new() });
    }
    let literal = if want.parse::<f64>().is_ok() || matches!(want.to_ascii_uppercase().as_str(), "ON" | "OFF") {
        want.clone()
    } else {
        MY.literal(&want)
    };
    Ok(MyVarPlan {
        statement: Some(format!("SET GLOBAL {} = {literal}", a.variable)),
        before: format!("{} = {current}\n", a.variable),
        after: format!("{} = {want}\n", a.variable),
    })
}

pub struct MysqlVariablesModule;

#[async_trait]
impl Module for MysqlVariablesModule {
    type Args = MyVarArgs;
    type State = String;
    type Plan = MyVarPlan;
    const NAME: &'static str = "mysql_variables";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Set a MariaDB/MySQL global variable when it differs.",
            args: vec![
                ArgDoc {
                    name: "variable",
                    ty: "string",
                    required: true,
                    default: None,
                    description: "Variable name, e.g. max_connections.",
                },
                ArgDoc { name: "value", ty: "string", required: true, default: None, description: "Wanted value." },
                ArgDoc {
                    name: "login_unix_user",
                    ty: "string",
                    required: false,
                    default: Some("root"),
                    description: "OS user the client runs as.",
                },
                ArgDoc { name: "port", ty: "int", required: false, default: Some("3306"), description: "Server port." },
            ],
            example: "- mysql_variables:\n    variable: max_connections\n    value: 200",
        }
    }

    fn validate(a: &MyVarArgs) -> Result<(), String> {
        if a.variable.is_empty() || !a.variable.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("'{}' is not a variable name", a.variable));
        }
        Ok(())
    }

    async fn probe(a: &MyVarArgs, ctx: &Context<'_>) -> Result<String, ModuleError> {
        let out = match run_sql(ctx.host, MY, &a.login, None, &format!("SELECT @@GLOBAL.{};\n", a.variable)).await {
            // Check mode on a fresh host: the server is not started yet; predict the change.
            Err(ModuleError::Failed(m)) if server_not_yet(ctx, MY, &m) => return Ok(String::new()),
            other => other?,
        };
        Ok(out.trim_end_matches('\n').to_string())
    }

    fn plan(a: &MyVarArgs, s: &String) -> Result<MyVarPlan, ModuleError> {
        plan(a, s).map_err(ModuleError::failed)
    }

    async fn apply(a: &MyVarArgs, p: MyVarPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let Some(statement) = p.statement else { return Ok(ModuleResult::ok()) };
        run_sql(ctx.host, MY, &a.login, None, &format!("{statement};\n")).await?;
        Ok(ModuleResult::changed(true).with("queries", vec![statement]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> MyVarArgs {
        crate::args::parse_args("mysql_variables", &v).unwrap()
    }

    #[test]
    fn compares_the_running_value() {
        // `SELECT @@GLOBAL.max_connections` prints 151 on a fresh MariaDB 10.11.
        assert!(!plan(&args(json!({"variable": "max_connections", "value": 151})), "151").unwrap().changes_anything());
        assert_eq!(
            plan(&args(json!({"variable": "max_connections", "value": 200})), "151").unwrap().statement.as_deref(),
            Some("SET GLOBAL max_connections = 200")
        );
        assert!(!plan(&args(json!({"variable": "general_log", "value": "OFF"})), "0").unwrap().changes_anything());
        assert_eq!(
            plan(&args(json!({"variable": "sql_mode", "value": "STRICT_ALL_TABLES"})), "").unwrap().statement.as_deref(),
            Some("SET GLOBAL sql_mode = 'STRICT_ALL_TABLES'")
        );
        assert!(MysqlVariablesModule::validate(&args(json!({"variable": "a; DROP", "value": 1}))).is_err());
    }
}
