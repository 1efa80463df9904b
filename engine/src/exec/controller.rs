//! The controller-side services a module may ask for (`Controller` in the
//! modules crate), backed by the task's variables and minijinja.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mailplay_modules::module::{Controller, ExprError, TemplateSyntax};
use serde_json::Value;

use crate::template::{Scope, Templar, TemplateOverrides};

pub struct TaskController {
    pub templar: Arc<Templar>,
    pub scope: Scope,
    /// Role folder first, then the playbook's folder.
    pub search_roots: Vec<PathBuf>,
    /// Deprecations the module's conditionals noted (`assert`'s `that`).
    pub deprecations: std::sync::Mutex<Vec<String>>,
}

impl TaskController {
    /// Ansible's search order for `src:`: `<root>/<kind>/<name>`, then `<root>/<name>`.
    fn candidates(&self, kind: &str, name: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for root in &self.search_roots {
            out.push(root.join(kind).join(name));
            out.push(root.join(name));
        }
        out
    }
}

impl Controller for TaskController {
    fn find_file(&self, kind: &str, name: &str) -> Result<PathBuf, String> {
        let p = Path::new(name);
        if p.is_absolute() {
            return if p.exists() {
                Ok(p.to_path_buf())
            } else {
                Err(format!("Could not find or access '{name}' on the Ansible Controller."))
            };
        }
        let candidates = self.candidates(kind, name);
        candidates.iter().find(|c| c.exists()).cloned().ok_or_else(|| {
            let searched: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
            format!("Could not find or access '{name}'\nSearched in:\n\t{}", searched.join("\n\t"))
        })
    }

    fn read_source(&self, path: &Path, decrypt: bool) -> Result<Vec<u8>, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if !decrypt || !crate::vault::format::is_encrypted(&bytes) {
            return Ok(bytes);
        }
        let secrets = &crate::vault::context().secrets;
        // Ansible's DataLoader.get_real_file says so, naming the file.
        if secrets.is_empty() {
            return Err(format!("A vault password or secret must be specified to decrypt {}", path.display()));
        }
        let opened = crate::vault::format::decrypt(&bytes, secrets).map_err(|e| crate::vault::file_error(path, &e).message)?;
        Ok(opened.plaintext)
    }

    fn render_template_file(&self, path: &Path, syntax: &TemplateSyntax) -> Result<String, String> {
        let mut scope = self.scope.clone();
        let has_managed = scope.contains("ansible_managed");
        for (k, v) in
            crate::template::lookup_template::generated_vars(&path.display().to_string(), path, syntax.dest.as_deref(), !has_managed)
        {
            scope.set(&k, v);
        }
        let mut o = TemplateOverrides::default();
        let strings = [
            (&syntax.variable_start_string, &mut o.variable_start_string),
            (&syntax.variable_end_string, &mut o.variable_end_string),
            (&syntax.block_start_string, &mut o.block_start_string),
            (&syntax.block_end_string, &mut o.block_end_string),
            (&syntax.comment_start_string, &mut o.comment_start_string),
            (&syntax.comment_end_string, &mut o.comment_end_string),
            (&syntax.newline_sequence, &mut o.newline_sequence),
        ];
        for (given, slot) in strings {
            if let Some(v) = given {
                *slot = v.clone();
            }
        }
        o.trim_blocks = syntax.trim_blocks.unwrap_or(o.trim_blocks);
        o.lstrip_blocks = syntax.lstrip_blocks.unwrap_or(o.lstrip_blocks);
        o.check()?;
        self.templar.render_file_with(path, &scope, &o).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn eval_expression(&self, expr: &str) -> Result<Value, String> {
        self.templar.eval_expression(expr, &self.scope).map_err(|e| e.to_string())
    }

    fn eval_var(&self, expr: &str) -> Result<Value, ExprError> {
        match self.templar.eval_for_display(expr, &self.scope) {
            Ok(Value::String(s)) if s == crate::template::OMIT_TOKEN => Err(ExprError::Omitted),
            Ok(v) => Ok(v),
            Err(e) if e.undefined => Err(ExprError::Undefined(e.message)),
            Err(e) => Err(ExprError::Failed(e.message)),
        }
    }

    fn eval_condition(&self, expr: &str) -> Result<bool, String> {
        let (result, noted) = crate::template::conditional::with_deprecations(|| self.templar.eval_condition(expr, &self.scope));
        self.deprecations.lock().unwrap_or_else(|e| e.into_inner()).extend(noted);
        result.map_err(|e| {
            // Ansible's action fails with these as task errors.
            if crate::template::conditional::is_refusal(&e) {
                format!("Task failed: {e}")
            } else {
                e.to_string()
            }
        })
    }
}
