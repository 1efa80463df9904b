//! Modules that talk to the play rather than change a host: `debug`,
//! `set_fact`, `assert`, `fail`, and `ping` (which proves the connection).

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::host::Command;
use crate::module::{ArgDoc, Context, ExprError, Module, ModuleDoc, ModuleError, ModuleResult, Plan};

/// These modules never change a host.
pub struct Nothing;

impl Plan for Nothing {
    fn changes_anything(&self) -> bool {
        false
    }
    fn effects(&self) -> Vec<crate::planned::Effect> {
        Vec::new()
    }
}

macro_rules! report_only {
    () => {
        type State = ModuleResult;
        type Plan = Nothing;
        fn plan(_args: &Self::Args, _state: &ModuleResult) -> Result<Nothing, ModuleError> {
            Ok(Nothing)
        }
        fn unchanged_result(_args: &Self::Args, state: &ModuleResult) -> ModuleResult {
            state.clone()
        }
    };
}

// ---- debug ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebugArgs {
    #[serde(default)]
    pub msg: Option<Value>,
    #[serde(default, deserialize_with = "var_expression")]
    pub var: Option<String>,
    #[serde(default)]
    pub verbosity: u8,
}

/// Ansible 2.19 types `var` as a string without conversion: a mapping,
/// list, number or boolean is refused (its message is Ansible's; the value
/// is shown as JSON, not as Python's `str()`).
fn var_expression<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Value::deserialize(d)?;
    let ty = match &v {
        Value::Null => return Ok(None),
        Value::String(s) => return Ok(Some(s.clone())),
        Value::Object(_) => "dict",
        Value::Array(_) => "list",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
    };
    Err(serde::de::Error::custom(format!(
        "argument 'var' is of type {ty} and we were unable to convert to _check_type_str_no_conversion: '{v}' is not a string and conversion is not allowed"
    )))
}

pub struct DebugModule;

#[async_trait]
impl Module for DebugModule {
    type Args = DebugArgs;
    report_only!();
    async fn apply(_args: &Self::Args, _plan: Nothing, _ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        Err(ModuleError::failed("nothing to apply"))
    }
    const NAME: &'static str = "debug";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Print a message or a variable's value.",
            args: vec![
                ArgDoc { name: "msg", ty: "any", required: false, default: Some("Hello world!"), description: "What to print." },
                ArgDoc {
                    name: "var",
                    ty: "string",
                    required: false,
                    default: None,
                    description: "A variable (or expression) whose value to print.",
                },
                ArgDoc {
                    name: "verbosity",
                    ty: "int",
                    required: false,
                    default: Some("0"),
                    description: "Only print at this -v level or above.",
                },
            ],
            example: "- debug:\n    var: ansible_default_ipv4.address",
        }
    }

    fn validate(a: &DebugArgs) -> Result<(), String> {
        if a.msg.is_some() && a.var.is_some() {
            return Err("parameters are mutually exclusive: msg|var".into());
        }
        Ok(())
    }

    async fn probe(a: &DebugArgs, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let mut r = ModuleResult::ok();
        if ctx.verbosity < a.verbosity {
            r.skipped = true;
            r.data.insert("skipped_reason".into(), Value::from("Verbosity threshold not met."));
            return Ok(r);
        }
        r.always_show = true;
        match &a.var {
            Some(var) => {
                // Ansible 2.19 prints its error marker for an undefined
                // variable (undefined parts of a value are marked by
                // `eval_var`) and fails the task on any other error.
                let v = match ctx.controller.eval_var(var) {
                    Ok(v) => v,
                    Err(ExprError::Undefined(e)) => {
                        // Ansible warns about the error its marker replaces.
                        r.data.insert("warnings".into(), Value::from(vec![format!("Encountered 1 template error.\nerror 1 - {e}")]));
                        Value::from(format!("<< error 1 - {e} >>"))
                    }
                    Err(ExprError::Omitted) => {
                        r.data.insert(
                            "warnings".into(),
                            Value::from(vec!["The result of the `var` expression could not be omitted; a placeholder was used instead."]),
                        );
                        Value::from("<<Omit>>")
                    }
                    Err(ExprError::Failed(e)) => {
                        return Err(ModuleError::failed(format!("Error while resolving `var` expression: {e}")));
                    }
                };
                r.data.insert(var.clone(), v);
            }
            None => {
                r.data.insert("msg".into(), a.msg.clone().unwrap_or_else(|| Value::from("Hello world!")));
            }
        }
        Ok(r)
    }
}

// ---- set_fact ----

pub struct SetFactModule;

#[async_trait]
impl Module for SetFactModule {
    type Args = Map<String, Value>;
    report_only!();
    async fn apply(_args: &Self::Args, _plan: Nothing, _ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        Err(ModuleError::failed("nothing to apply"))
    }
    const NAME: &'static str = "set_fact";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Set host variables (facts) from the task's key: value pairs.",
            args: vec![ArgDoc {
                name: "<any name>",
                ty: "any",
                required: false,
                default: None,
                description: "Each key becomes a variable on the host.",
            }],
            example: "- set_fact:\n    mail_fqdn: \"{{ ansible_fqdn }}\"",
        }
    }

    fn validate(a: &Map<String, Value>) -> Result<(), String> {
        for k in a.keys().filter(|k| *k != "cacheable") {
            if !crate::args::valid_variable_name(k) {
                return Err(format!("Invalid variable name '{k}'. Variable names must be strings starting with a letter or underscore character, and contain only letters, numbers and underscores."));
            }
        }
        if a.keys().all(|k| k == "cacheable") {
            return Err("No key/value pairs provided, at least one is required for this action to succeed".into());
        }
        Ok(())
    }

    async fn probe(a: &Map<String, Value>, _ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let mut r = ModuleResult::ok();
        r.facts_cacheable = match a.get("cacheable") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => matches!(s.to_lowercase().as_str(), "yes" | "on" | "1" | "true" | "y" | "t"),
            Some(Value::Number(n)) => n.as_f64() == Some(1.0),
            Some(_) => false,
        };
        for (k, v) in a {
            if k != "cacheable" {
                r.facts.insert(k.clone(), v.clone());
            }
        }
        Ok(r)
    }
}

// ---- assert ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertArgs {
    #[serde(deserialize_with = "loose_list_any")]
    pub that: Vec<String>,
    #[serde(default, alias = "msg")]
    pub fail_msg: Option<Value>,
    #[serde(default)]
    pub success_msg: Option<Value>,
    #[serde(default, deserialize_with = "crate::args::loose_bool")]
    pub quiet: bool,
}

/// `that:` items may be booleans already (after templating).
fn loose_list_any<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Value::deserialize(d)?;
    let items = match v {
        Value::Array(a) => a,
        other => vec![other],
    };
    Ok(items
        .into_iter()
        .map(|i| match i {
            Value::String(s) => s,
            // Evaluated as an empty conditional, which Ansible refuses.
            Value::Null => String::new(),
            Value::Bool(b) => {
                if b {
                    "True".into()
                } else {
                    "False".into()
                }
            }
            other => other.to_string(),
        })
        .collect())
}

pub struct AssertModule;

#[async_trait]
impl Module for AssertModule {
    type Args = AssertArgs;
    report_only!();
    async fn apply(_args: &Self::Args, _plan: Nothing, _ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        Err(ModuleError::failed("nothing to apply"))
    }
    const NAME: &'static str = "assert";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Fail unless every condition holds.",
            args: vec![
                ArgDoc { name: "that", ty: "list", required: true, default: None, description: "Conditions, as in when:." },
                ArgDoc {
                    name: "fail_msg",
                    ty: "string",
                    required: false,
                    default: Some("Assertion failed"),
                    description: "Message when a condition is false (alias msg).",
                },
                ArgDoc {
                    name: "success_msg",
                    ty: "string",
                    required: false,
                    default: Some("All assertions passed"),
                    description: "Message when all hold.",
                },
                ArgDoc { name: "quiet", ty: "bool", required: false, default: Some("false"), description: "Less output." },
            ],
            example:
                "- assert:\n    that:\n      - mail_db_engine in ['mysql', 'pgsql']\n    fail_msg: mail_db_engine must be mysql or pgsql",
        }
    }

    async fn probe(a: &AssertArgs, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        for cond in &a.that {
            let ok = ctx.controller.eval_condition(cond).map_err(ModuleError::failed)?;
            if !ok {
                let mut r = ModuleResult::failed("Assertion failed");
                if let Some(m) = &a.fail_msg {
                    r.msg = Some(m.as_str().map(str::to_string).unwrap_or_else(|| m.to_string()));
                }
                r.data.insert("assertion".into(), Value::from(cond.clone()));
                r.data.insert("evaluated_to".into(), Value::Bool(false));
                // Shown in full even when failed_when clears the failure.
                r.always_show = !a.quiet;
                return Ok(r);
            }
        }
        let mut r = ModuleResult::ok().with_msg(
            a.success_msg
                .as_ref()
                .map(|m| m.as_str().map(str::to_string).unwrap_or_else(|| m.to_string()))
                .unwrap_or_else(|| "All assertions passed".into()),
        );
        r.always_show = !a.quiet;
        Ok(r)
    }
}

// ---- fail ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailArgs {
    #[serde(default)]
    pub msg: Option<Value>,
}

pub struct FailModule;

#[async_trait]
impl Module for FailModule {
    type Args = FailArgs;
    report_only!();
    async fn apply(_args: &Self::Args, _plan: Nothing, _ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        Err(ModuleError::failed("nothing to apply"))
    }
    const NAME: &'static str = "fail";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Fail the task with a message.",
            args: vec![ArgDoc {
                name: "msg",
                ty: "string",
                required: false,
                default: Some("Failed as requested from task"),
                description: "The message.",
            }],
            example: "- fail:\n    msg: mail_domains must not be empty\n  when: mail_domains | length == 0",
        }
    }

    async fn probe(a: &FailArgs, _ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let msg = a
            .msg
            .as_ref()
            .map(|m| m.as_str().map(str::to_string).unwrap_or_else(|| m.to_string()))
            .unwrap_or_else(|| "Failed as requested from task".into());
        Ok(ModuleResult::failed(msg))
    }
}

// ---- ping ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PingArgs {
    #[serde(default = "pong", deserialize_with = "crate::args::loose_string")]
    pub data: String,
}

fn pong() -> String {
    "pong".into()
}

pub struct PingModule;

#[async_trait]
impl Module for PingModule {
    type Args = PingArgs;
    report_only!();
    async fn apply(_args: &Self::Args, _plan: Nothing, _ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        Err(ModuleError::failed("nothing to apply"))
    }
    const NAME: &'static str = "ping";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Check that the host can be reached and run commands.",
            args: vec![ArgDoc {
                name: "data",
                ty: "string",
                required: false,
                default: Some("pong"),
                description: "Returned as ping; 'crash' makes the module fail.",
            }],
            example: "- ping:",
        }
    }

    async fn probe(a: &PingArgs, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let out = ctx.host.exec(&Command::argv(["true"])).await?;
        if !out.success() {
            return Ok(ModuleResult::failed("the host could not run a command"));
        }
        if a.data == "crash" {
            // Ansible's ping raises an exception; ansible-core 2.19 reports a
            // module that raised as "Task failed: Module failed: <error>",
            // with an `exception` (no traceback without -vvv).
            return Ok(ModuleResult::failed("Task failed: Module failed: boom").with("exception", "(traceback unavailable)"));
        }
        Ok(ModuleResult::ok().with("ping", a.data.clone()))
    }
}
