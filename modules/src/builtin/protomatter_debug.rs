//! `ansible._protomatter.debug`: ansible-core's internal action that
//! evaluates a list of expressions (as written, never rendered first) and
//! returns every result. An expression that fails (an undefined value, a
//! failing filter) does not fail the task: its result is Ansible's marker
//! `<< error N - message >>`, numbered over the task, and a warning says
//! what failed, as Ansible's `ReplacingMarkerBehavior` reports it.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use super::control::Nothing;
use crate::module::{ArgDoc, Context, Module, ModuleDoc, ModuleError, ModuleResult};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtomatterDebugArgs {
    /// Ansible checks a strict list of strings.
    pub expression: Vec<String>,
}

pub struct ProtomatterDebugModule;

#[async_trait]
impl Module for ProtomatterDebugModule {
    type Args = ProtomatterDebugArgs;
    type State = ModuleResult;
    type Plan = Nothing;
    const NAME: &'static str = "ansible._protomatter.debug";

    fn plan(_args: &Self::Args, _state: &ModuleResult) -> Result<Nothing, ModuleError> {
        Ok(Nothing)
    }

    fn unchanged_result(_args: &Self::Args, state: &ModuleResult) -> ModuleResult {
        state.clone()
    }

    async fn apply(_args: &Self::Args, _plan: Nothing, _ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        Err(ModuleError::failed("nothing to apply"))
    }

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Evaluate expressions and show every result, errors as markers (ansible-core's internal debug action).",
            args: vec![ArgDoc {
                name: "expression",
                ty: "list",
                required: true,
                default: None,
                description: "Expressions, evaluated as written.",
            }],
            example: "- ansible._protomatter.debug:\n    expression:\n      - lookup('env', 'HOME', default=undef())",
        }
    }

    async fn probe(a: &ProtomatterDebugArgs, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let mut results = Vec::new();
        let mut warnings = Vec::new();
        for expr in &a.expression {
            match ctx.controller.eval_expression(expr) {
                Ok(v) => results.push(v),
                Err(e) => {
                    let n = warnings.len() + 1;
                    results.push(Value::from(format!("<< error {n} - {e} >>")));
                    warnings.push(Value::from(format!("Encountered 1 template error.\nerror {n} - {e}")));
                }
            }
        }
        let mut r = ModuleResult::ok().with("expression_result", results);
        if !warnings.is_empty() {
            r = r.with("warnings", warnings);
        }
        r.always_show = true;
        Ok(r)
    }
}
