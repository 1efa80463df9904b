//! `template`: render a Jinja file from the controller (the role's
//! `templates/` first) and write it like `copy` does.

use async_trait::async_trait;
use serde::Deserialize;

use crate::args::loose_string;
use crate::module::{ArgDoc, Context, Module, ModuleDoc, ModuleError, ModuleResult};

use super::copy::{apply_dest, plan_dest, probe_dest, unchanged, DestArgs, DestPlan, DestState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateArgs {
    #[serde(deserialize_with = "loose_string")]
    pub src: String,
    #[serde(deserialize_with = "loose_string")]
    pub dest: String,
    #[serde(flatten)]
    pub common: DestArgs,
    /// Only Ansible's defaults (trim_blocks on, lstrip_blocks off, utf-8) are
    /// accepted; other values are refused in `validate`.
    #[serde(default)]
    pub trim_blocks: Option<serde_json::Value>,
    #[serde(default)]
    pub lstrip_blocks: Option<serde_json::Value>,
    #[serde(default)]
    pub newline_sequence: Option<String>,
    #[serde(default)]
    pub output_encoding: Option<String>,
}

pub struct TemplateModule;

pub struct TemplateState {
    dest: DestState,
}

#[async_trait]
impl Module for TemplateModule {
    type Args = TemplateArgs;
    type State = TemplateState;
    type Plan = DestPlan;
    const NAME: &'static str = "template";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Render a Jinja template from the controller and write it atomically.",
            args: [
                ArgDoc {
                    name: "src",
                    ty: "path",
                    required: true,
                    default: None,
                    description: "Template file, searched in the role's templates/ then the playbook's.",
                },
                ArgDoc { name: "dest", ty: "path", required: true, default: None, description: "Where to write the result." },
            ]
            .into_iter()
            .chain(super::copy::dest_arg_docs())
            .collect(),
            example: "- template:\n    src: main.cf.j2\n    dest: /etc/postfix/main.cf\n    validate: postfix -c %s check",
        }
    }

    fn validate(args: &TemplateArgs) -> Result<(), String> {
        // mailplay renders with Ansible's defaults only; another setting is
        // refused rather than silently rendered the default way.
        let flag = |v: &Option<serde_json::Value>| v.as_ref().and_then(crate::args::parse_bool);
        if flag(&args.trim_blocks) == Some(false) {
            return Err(
                "trim_blocks: false is not supported: mailplay renders templates with trim_blocks on, as Ansible does by default".into()
            );
        }
        if flag(&args.lstrip_blocks) == Some(true) {
            return Err("lstrip_blocks: true is not supported: mailplay renders templates without lstrip_blocks".into());
        }
        if args.output_encoding.as_deref().is_some_and(|e| !e.eq_ignore_ascii_case("utf-8") && !e.eq_ignore_ascii_case("utf8")) {
            return Err("output_encoding other than utf-8 is not supported".into());
        }
        if args.newline_sequence.as_deref().is_some_and(|n| n != "\n" && n != "\\n") {
            return Err("newline_sequence other than \\n is not supported".into());
        }
        args.common.refuse_unsupported()?;
        args.common.wanted().map(|_| ())
    }

    async fn probe(args: &TemplateArgs, ctx: &Context<'_>) -> Result<TemplateState, ModuleError> {
        let path = ctx.controller.find_file("templates", &args.src).map_err(ModuleError::failed)?;
        let rendered = ctx.controller.render_template_file(&path).map_err(ModuleError::failed)?;
        let dest = probe_dest(
            ctx.host,
            &args.dest,
            Some(args.src.trim_end_matches(".j2")),
            rendered.into_bytes(),
            path.display().to_string(),
            args.common.follow.unwrap_or(false),
        )
        .await?;
        Ok(TemplateState { dest })
    }

    fn plan(args: &TemplateArgs, state: &TemplateState) -> Result<DestPlan, ModuleError> {
        plan_dest(&args.common, &state.dest)
    }

    async fn apply(args: &TemplateArgs, plan: DestPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        apply_dest(&args.common, plan, ctx).await
    }

    fn unchanged_result(_args: &TemplateArgs, state: &TemplateState) -> ModuleResult {
        unchanged(&state.dest)
    }
}
