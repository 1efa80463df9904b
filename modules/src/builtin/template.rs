//! `template`: render a Jinja file from the controller (the role's
//! `templates/` first) and write it like `copy` does.

use async_trait::async_trait;
use serde::Deserialize;

use crate::args::loose_string;
use crate::module::{ArgDoc, Context, Module, ModuleDoc, ModuleError, ModuleResult, TemplateSyntax};

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
    /// Jinja's settings for this template (Ansible's defaults when absent).
    #[serde(default)]
    pub trim_blocks: Option<serde_json::Value>,
    #[serde(default)]
    pub lstrip_blocks: Option<serde_json::Value>,
    #[serde(default)]
    pub newline_sequence: Option<String>,
    #[serde(default)]
    pub variable_start_string: Option<String>,
    #[serde(default)]
    pub variable_end_string: Option<String>,
    #[serde(default)]
    pub block_start_string: Option<String>,
    #[serde(default)]
    pub block_end_string: Option<String>,
    #[serde(default)]
    pub comment_start_string: Option<String>,
    #[serde(default)]
    pub comment_end_string: Option<String>,
    /// The file's encoding (utf-8 by default; any label encoding_rs knows
    /// but UTF-16, which it cannot write).
    #[serde(default)]
    pub output_encoding: Option<String>,
}

impl TemplateArgs {
    /// Ansible's action accepts `newline_sequence` escaped too (`'\r\n'`
    /// in single quotes is four characters).
    fn newline_sequence(&self) -> Result<Option<String>, String> {
        let Some(n) = &self.newline_sequence else { return Ok(None) };
        let n = match n.as_str() {
            "\\n" | "\n" => "\n",
            "\\r" | "\r" => "\r",
            "\\r\\n" | "\r\n" => "\r\n",
            _ => return Err("newline_sequence needs to be one of: \\n, \\r or \\r\\n".into()),
        };
        Ok(Some(n.to_string()))
    }

    fn syntax(&self) -> Result<TemplateSyntax, String> {
        let flag = |name: &str, v: &Option<serde_json::Value>| -> Result<Option<bool>, String> {
            match v {
                None => Ok(None),
                Some(v) => crate::args::parse_bool(v).map(Some).ok_or_else(|| format!("{name} must be a boolean")),
            }
        };
        Ok(TemplateSyntax {
            variable_start_string: self.variable_start_string.clone(),
            variable_end_string: self.variable_end_string.clone(),
            block_start_string: self.block_start_string.clone(),
            block_end_string: self.block_end_string.clone(),
            comment_start_string: self.comment_start_string.clone(),
            comment_end_string: self.comment_end_string.clone(),
            trim_blocks: flag("trim_blocks", &self.trim_blocks)?,
            lstrip_blocks: flag("lstrip_blocks", &self.lstrip_blocks)?,
            newline_sequence: self.newline_sequence()?,
            dest: Some(self.dest.clone()),
            src: Some(self.src.clone()),
        })
    }

    /// The encoder for `output_encoding`; `None` for UTF-8 (also `''`).
    fn encoding(&self) -> Result<Option<&'static encoding_rs::Encoding>, String> {
        let label = self.output_encoding.as_deref().unwrap_or("").trim();
        if label.is_empty() {
            return Ok(None);
        }
        let enc = encoding_rs::Encoding::for_label(label.as_bytes()).ok_or_else(|| format!("unknown output_encoding '{label}'"))?;
        if enc == encoding_rs::UTF_8 {
            return Ok(None);
        }
        if enc.output_encoding() != enc {
            return Err(format!("output_encoding '{label}' is not supported: mailplay cannot write it"));
        }
        Ok(Some(enc))
    }
}

/// The rendered text in the wanted encoding; a character it cannot hold
/// fails the task, as Python's strict encoding does.
fn encode(text: String, enc: Option<&'static encoding_rs::Encoding>) -> Result<Vec<u8>, String> {
    match enc {
        None => Ok(text.into_bytes()),
        Some(enc) => {
            let (bytes, _, unmappable) = enc.encode(&text);
            if unmappable {
                return Err(format!("the rendered template has characters {} cannot encode", enc.name()));
            }
            Ok(bytes.into_owned())
        }
    }
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
        args.syntax()?;
        args.encoding()?;
        args.common.refuse_unsupported()?;
        args.common.wanted().map(|_| ())
    }

    /// `dest` expands `~` and `$VAR` on the target (copy's `type='path'`);
    /// `mode: preserve` is the template file's own mode.
    async fn resolve(a: &mut TemplateArgs, ctx: &Context<'_>) -> Result<(), ModuleError> {
        super::command_expand::expand_path(ctx.host, &mut a.dest).await?;
        if a.common.mode.as_str() == Some("preserve") {
            let path = ctx.controller.find_file("templates", &a.src).map_err(ModuleError::failed)?;
            a.common.mode = super::copy::controller_mode(&path)?;
        }
        Ok(())
    }

    async fn probe(args: &TemplateArgs, ctx: &Context<'_>) -> Result<TemplateState, ModuleError> {
        let path = ctx.controller.find_file("templates", &args.src).map_err(ModuleError::failed)?;
        let syntax = args.syntax().map_err(ModuleError::failed)?;
        let rendered = ctx.controller.render_template_file(&path, &syntax).map_err(ModuleError::failed)?;
        let bytes = encode(rendered, args.encoding().map_err(ModuleError::failed)?).map_err(ModuleError::failed)?;
        let dest = probe_dest(
            ctx,
            &args.dest,
            // A folder gets the file under the template's own name, as in Ansible.
            Some(args.src.as_str()),
            bytes,
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
        // Ansible's `src` is its rendered copy on the target; mailplay
        // writes the rendered bytes straight into place, so it names the
        // template the content came from.
        let source = plan.after_header.clone();
        let wrote = plan.write.is_some();
        let r = apply_dest(&args.common, plan, ctx).await?;
        Ok(if wrote && !r.failed { r.with("src", source) } else { r })
    }

    fn unchanged_result(_args: &TemplateArgs, state: &TemplateState) -> ModuleResult {
        unchanged(&state.dest)
    }
}
