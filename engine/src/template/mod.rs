//! Jinja templating with Ansible's semantics, on minijinja.
//!
//! - One shared `Environment` (filters, tests, lookups registered once).
//! - Variables are a [`Scope`] exposed to minijinja as a lazy object: only
//!   the variables a template touches are converted, and a variable whose
//!   value holds templates is rendered when read, recursively, with cycle
//!   detection (Ansible's lazy resolution).
//! - Ansible's undefined: using an undefined variable is an error naming
//!   it, except under `is defined` / `default`; an attribute or item of an
//!   undefined value is undefined too (`nope.x | default(1)`), through the
//!   patched minijinja (vendor/minijinja/MAILPLAY-PATCH.md).
//! - Native types: a string that is one `{{ expression }}` yields the
//!   expression's value (list, dict, int, bool), otherwise a string.
//! - `omit`: a mapping entry whose value renders to the omit token is dropped.

pub mod conditional;
mod escape;
mod filters;
mod filters_data;
mod filters_hash;
pub(crate) mod filters_json;
mod filters_map;
mod filters_math;
pub(crate) mod filters_path;
mod filters_random;
mod filters_text;
mod filters_time;
mod filters_url;
mod first_found;
mod fqcn;
mod func_now;
mod limits;
mod lookup_consts;
pub mod lookup_template;
mod lookups;
pub mod managed;
pub mod markers;
mod missing_item;
mod native;
mod overrides;
mod protomatter;
pub mod python_filters;
mod rspamd_hash;
mod scope;
mod tests_;
mod tests_files;
mod to_yaml;
pub mod trust;
mod vars_object;
mod version_cmp;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value as JValue};
use serde_json::Value;

pub use conditional::is_possibly_all_template;
pub use overrides::TemplateOverrides;
pub use scope::{HostvarsSource, Layer, Origin, Scope};
pub(crate) use vars_object::AnsibleMessage;
use vars_object::VarsObject;

/// The value `omit` renders to; module args equal to it are removed.
pub const OMIT_TOKEN: &str = "__omit_place_holder__b6e3c0d5a1f94b1c";

/// The loader's mark on a YAML `!unsafe` string (Ansible's
/// `AnsibleUnsafeText`): rendering gives its text as it is, never
/// templated; an expression (`var:`, `when:`, `that:`) refuses it, as
/// Ansible 2.19 refuses an untrusted one.
pub const UNSAFE_MARK: &str = "\u{1}mailplay-unsafe\u{1}";

/// The string `!unsafe` text becomes at load.
pub fn mark_unsafe(text: &str) -> String {
    format!("{UNSAFE_MARK}{text}")
}

/// The literal text of a `!unsafe` string, if `s` is one.
pub fn unsafe_text(s: &str) -> Option<&str> {
    s.strip_prefix(UNSAFE_MARK)
}

use conditional::UNTRUSTED;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    /// Line inside the template text, when minijinja knows it.
    pub line: Option<u32>,
    /// An undefined variable (not another error): `debug: var=` prints a
    /// placeholder for it where any other error fails the task.
    pub undefined: bool,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TemplateError {}

/// The work one render or evaluation may do: minijinja's fuel, about one
/// instruction, or 64 bytes of data made, per unit (so at most ~256 MiB
/// and a few seconds). Ample for configuration files with thousands of
/// lines; a template that needs more is stopped with a clear error.
pub const FUEL: u64 = 4_000_000;

/// The environment every render uses: the builtin one, plus the Python
/// filter plugins found so far (`python_filters`). Rebuilt (rarely: when a
/// plugin folder brings new filters) and never freed, so a render in
/// progress keeps the one it started with.
static CURRENT_ENV: std::sync::RwLock<Option<&'static Environment<'static>>> = std::sync::RwLock::new(None);

fn env() -> &'static Environment<'static> {
    if let Some(e) = *CURRENT_ENV.read().unwrap_or_else(|e| e.into_inner()) {
        return e;
    }
    let mut current = CURRENT_ENV.write().unwrap_or_else(|e| e.into_inner());
    current.get_or_insert_with(|| with_python_filters(base_env()))
}

fn with_python_filters(base: &'static Environment<'static>) -> &'static Environment<'static> {
    let known = python_filters::known();
    if known.is_empty() {
        return base;
    }
    let mut env = base.clone();
    for (name, path) in known {
        env.add_filter(name.clone(), python_filters::filter(name, path));
    }
    Box::leak(Box::new(env))
}

/// New Python filters were found: later renders see them.
fn rebuild_env() {
    *CURRENT_ENV.write().unwrap_or_else(|e| e.into_inner()) = Some(with_python_filters(base_env()));
}

fn base_env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_fuel(Some(FUEL));
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_syntax(overrides::default_syntax());
        env.set_formatter(native::formatter);
        native::install_capture_hooks();
        env.set_unknown_method_callback(list_methods);
        minijinja_contrib::add_to_environment(&mut env);
        filters::register(&mut env);
        filters_url::register(&mut env);
        filters_map::register(&mut env);
        filters_math::register(&mut env);
        filters_path::register(&mut env);
        filters_json::register(&mut env);
        filters_data::register(&mut env);
        filters_hash::register(&mut env);
        filters_text::register(&mut env);
        filters_random::register(&mut env);
        filters_time::register(&mut env);
        tests_::register(&mut env);
        tests_files::register(&mut env);
        lookups::register(&mut env);
        func_now::register(&mut env);
        protomatter::register(&mut env);
        // Last: the full names alias the filters and tests above.
        fqcn::register(&mut env);
        env.set_loader(lookups::include_loader);
        env
    })
}

/// Python's methods on values, as Ansible's templates call them:
/// minijinja-contrib's, plus a list's `index` and `count`.
fn list_methods(state: &mut minijinja::State, value: &JValue, method: &str, args: &[JValue]) -> Result<JValue, minijinja::Error> {
    if value.kind() == minijinja::value::ValueKind::Seq && matches!(method, "index" | "count") {
        let [x] = args else {
            return Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("list.{method}() takes exactly one argument ({} given)", args.len()),
            ));
        };
        let items: Vec<JValue> = value.try_iter()?.collect();
        return if method == "count" {
            Ok(JValue::from(items.iter().filter(|i| *i == x).count()))
        } else {
            items
                .iter()
                .position(|i| i == x)
                .map(JValue::from)
                .ok_or_else(|| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, format!("{x} is not in list")))
        };
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

/// Renders strings, values and files against a [`Scope`]. Cheap to share.
#[derive(Clone, Default)]
pub struct Templar {
    _private: (),
}

impl Templar {
    pub fn new() -> Self {
        let _ = env();
        Templar { _private: () }
    }

    /// Does the string contain Jinja syntax at all?
    pub fn is_template(s: &str) -> bool {
        // A `!unsafe` string goes through rendering too, which unmarks it.
        s.contains("{{") || s.contains("{%") || s.contains("{#") || s.starts_with(UNSAFE_MARK)
    }

    /// Does any string inside the value (a mapping's keys too, which
    /// [`Templar::render_value`] renders) contain Jinja syntax?
    pub fn value_has_template(v: &Value) -> bool {
        match v {
            Value::String(s) => Self::is_template(s),
            Value::Array(a) => a.iter().any(Self::value_has_template),
            Value::Object(m) => m.iter().any(|(k, v)| Self::is_template(k) || Self::value_has_template(v)),
            _ => false,
        }
    }

    /// Render every string inside `v` (recursively), with native types for
    /// single-expression strings, dropping mapping entries that are `omit`.
    pub fn render_value(&self, v: &Value, scope: &Scope) -> Result<Value, TemplateError> {
        match v {
            Value::String(s) if unsafe_text(s).is_some() => Ok(Value::String(unsafe_text(s).unwrap_or_default().to_string())),
            Value::String(s) if Self::is_template(s) => self.render_native(s, scope),
            Value::Array(items) => items.iter().map(|i| self.render_part(i, scope)).collect::<Result<Vec<_>, _>>().map(Value::Array),
            Value::Object(m) => {
                let mut out = serde_json::Map::new();
                for (k, val) in m {
                    let key = if Self::is_template(k) { self.render_string(k, scope)? } else { k.clone() };
                    let rendered = self.render_part(val, scope)?;
                    if rendered.as_str() != Some(OMIT_TOKEN) {
                        out.insert(key, rendered);
                    }
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }

    /// An item of a list or mapping: while markers are on (showing a
    /// value, [`markers`]), an undefined part becomes Ansible's marker.
    fn render_part(&self, v: &Value, scope: &Scope) -> Result<Value, TemplateError> {
        match self.render_value(v, scope) {
            Err(e) if e.undefined => markers::substitute(&e.message).map(Value::String).ok_or(e),
            other => other,
        }
    }

    /// Evaluate a variable (`debug: var=`) to show it: undefined parts of
    /// its value are shown as Ansible's markers rather than failing. Only
    /// for a plain variable path (`s`, `s.a`, `l[0]`): an expression that
    /// computes with a value would compute with the marker's text.
    pub fn eval_for_display(&self, expr: &str, scope: &Scope) -> Result<Value, TemplateError> {
        match self.eval_expression(expr, scope) {
            Err(e) if e.undefined && is_variable_path(expr.trim()) => {
                let (v, _) = markers::with_markers(|| self.eval_expression(expr, scope));
                v
            }
            other => other,
        }
    }

    /// Render a template string to text.
    pub fn render_string(&self, s: &str, scope: &Scope) -> Result<String, TemplateError> {
        if let Some(text) = unsafe_text(s) {
            return Ok(text.to_string());
        }
        if !Self::is_template(s) {
            return Ok(s.to_string());
        }
        let out = native::isolated(|| self.render_text(s, scope))?;
        Ok(overrides::preserve_trailing_newlines(s, out, "\n"))
    }

    /// Jinja's output of a template string (its final newline dropped).
    /// Its string constants are escaped as Ansible's are ([`escape`]).
    fn render_text(&self, s: &str, scope: &Scope) -> Result<String, TemplateError> {
        limits::check_nesting(s)?;
        if let Some((bound, scope)) = lookup_consts::bind(self, s, scope)? {
            return self.render_text(&bound, &scope);
        }
        protomatter::clear_origins();
        lookups::forget_plain_undef();
        let ctx = JValue::from_object(VarsObject::new(scope.clone()));
        let _guard = lookups::SearchPathGuard::set(scope.search_paths().to_vec());
        let s = escape::in_template(s);
        env().render_str(&s, ctx).map_err(|e| self.explain(e, &s, scope))
    }

    /// A string: one `{{ expr }}` gives the expression's native value.
    /// Like Ansible 2.19, one trailing newline is not part of the template
    /// (Jinja drops it) and is put back only when the result is a string:
    /// `"{{ n }}\n"` is the integer `n`, `"{{ s }}\n"` is `s` plus a newline.
    fn render_native(&self, s: &str, scope: &Scope) -> Result<Value, TemplateError> {
        let (body, newline) = match s.strip_suffix('\n') {
            Some(b) => (b, true),
            None => (s, false),
        };
        if let Some(expr) = single_expression(body) {
            return Ok(match self.eval_expression(&escape::in_expression(expr), scope)? {
                Value::String(mut text) if newline => {
                    text.push('\n');
                    Value::String(text)
                }
                other => other,
            });
        }
        // One value output and nothing else: that value, natively.
        let (text, single) = native::recording(|| self.render_text(s, scope))?;
        if let Some(v) = single {
            return to_json(&v);
        }
        Ok(Value::String(overrides::preserve_trailing_newlines(s, text, "\n")))
    }

    /// Evaluate an expression (no braces) to its value.
    pub fn eval_expression(&self, expr: &str, scope: &Scope) -> Result<Value, TemplateError> {
        if unsafe_text(expr).is_some() {
            return Err(TemplateError { message: UNTRUSTED.into(), line: None, undefined: false });
        }
        limits::check_nesting(expr)?;
        filters_map::take_missing();
        protomatter::clear_origins();
        lookups::forget_plain_undef();
        let ctx = JValue::from_object(VarsObject::new(scope.clone()));
        let _guard = lookups::SearchPathGuard::set(scope.search_paths().to_vec());
        let compiled = env().compile_expression(expr).map_err(|e| self.explain(e, expr, scope))?;
        let v = compiled.eval(ctx).map_err(|e| self.explain_expr(e, expr, scope))?;
        if v.is_undefined() {
            // `undef(hint)` and `map` record why their value is undefined.
            let message = filters_map::take_missing()
                .or_else(|| first_undefined(compiled.undeclared_variables(true), scope, expr).map(|m| m.message()))
                .or_else(|| missing_item::message(expr.trim(), scope))
                .unwrap_or_else(|| format!("'{expr}' is undefined"));
            return Err(TemplateError { message, line: None, undefined: true });
        }
        to_json(&v).map_err(|mut e| {
            // An undefined variable inside the result: name it, as Ansible does.
            if e.undefined && e.message == HOLDS_UNDEFINED {
                if let Some(missing) = first_undefined(compiled.undeclared_variables(true), scope, expr) {
                    e.message = missing.message();
                }
            }
            e
        })
    }

    /// Evaluate a `when:`-style conditional the user wrote, as Ansible
    /// 2.19 does (`conditional.rs`): an all-template conditional is
    /// rendered and a string it gives is evaluated only if the user wrote
    /// that text; string constants holding templates are rendered.
    pub fn eval_condition(&self, expr: &str, scope: &Scope) -> Result<bool, TemplateError> {
        if unsafe_text(expr).is_some() {
            return Err(TemplateError { message: UNTRUSTED.into(), line: None, undefined: false });
        }
        let trimmed = expr.trim();
        if trimmed.is_empty() {
            return Err(conditional::empty_error());
        }
        let v = if conditional::is_possibly_all_template(trimmed) {
            // `when: "{{ x }}"` works in Ansible (with a deprecation warning).
            let rendered = match single_expression(trimmed) {
                Some(bare) => self.eval_expression(bare, scope)?,
                None => self.render_native(trimmed, scope)?,
            };
            match rendered {
                Value::String(s) => self.eval_plain_condition(&conditional::trusted_expression(s)?, scope)?,
                other => {
                    conditional::note_deprecation(conditional::AS_TEMPLATE_DEPRECATION);
                    other
                }
            }
        } else {
            self.eval_plain_condition(trimmed, scope)?
        };
        truthy(&v).ok_or_else(|| TemplateError {
            message: format!(
                "Conditional result ({v}) of '{expr}' is a string that is not a boolean; conditionals must have a boolean result"
            ),
            line: None,
            undefined: false,
        })
    }

    /// Ansible's `resolve_to_container` (assert's `that: '{{ checks }}'`):
    /// the list or mapping a whole template gives, its contents not
    /// rendered. A template naming a variable gives the variable's value
    /// as written (trusted templates inside stay templates, evaluated one
    /// by one later); another template is rendered. None unless a list or
    /// mapping results.
    pub fn resolve_to_container(&self, s: &str, scope: &Scope) -> Option<Value> {
        let as_written = single_expression(s.trim()).filter(|e| is_variable_path(e) && !e.contains('[')).and_then(|path| {
            let mut parts = path.split('.');
            let mut v = scope.get(parts.next()?)?;
            for p in parts {
                v = v.get(p)?;
            }
            Some(v.clone())
        });
        let v = match as_written {
            Some(v @ (Value::Array(_) | Value::Object(_))) => v,
            _ => self.render_value(&Value::String(s.to_string()), scope).ok()?,
        };
        matches!(v, Value::Array(_) | Value::Object(_)).then_some(v)
    }

    /// A conditional expression (no surrounding braces), its string
    /// constants holding templates rendered first.
    fn eval_plain_condition(&self, expr: &str, scope: &Scope) -> Result<Value, TemplateError> {
        match conditional::bind_const_templates(self, expr, scope)? {
            Some((bound, scope)) => self.eval_expression(&bound, &scope),
            None => self.eval_expression(expr, scope),
        }
    }

    /// Render a template file (the `template` module) with Ansible's
    /// defaults: `trim_blocks`, the trailing newlines kept, `{% include %}`
    /// relative to the file's folder.
    pub fn render_file(&self, path: &Path, scope: &Scope) -> Result<String, TemplateError> {
        self.render_file_with(path, scope, &TemplateOverrides::default())
    }

    /// Render a template file with the template module's Jinja settings.
    pub fn render_file_with(&self, path: &Path, scope: &Scope, o: &TemplateOverrides) -> Result<String, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|e| TemplateError {
            message: format!("cannot read template {}: {e}", path.display()),
            line: None,
            undefined: false,
        })?;
        limits::check_nesting(&text)?;
        let fail = |message: String| TemplateError { message, line: None, undefined: false };
        let (text, o) = overrides::extract_header(&text, o).map_err(fail)?;
        let text = o.apply_newlines(text);
        let mut paths = vec![path.parent().map(Path::to_path_buf).unwrap_or_default()];
        paths.extend(scope.search_paths().iter().flat_map(|p| [p.join("templates"), p.clone()]));
        let ctx = JValue::from_object(VarsObject::new(scope.clone()));
        let _guard = lookups::SearchPathGuard::set(paths);
        let env = o.environment(env()).map_err(|e| fail(describe(&e)))?;
        let out = native::isolated(|| env.render_str(&text, ctx)).map_err(|e| self.explain(e, &text, scope))?;
        Ok(overrides::preserve_trailing_newlines(&text, out, &o.newline_sequence))
    }

    /// Only check that a template compiles (for `--syntax-check`).
    pub fn check_syntax(&self, s: &str) -> Result<(), TemplateError> {
        limits::check_nesting(s)?;
        env().template_from_str(s).map(|_| ()).map_err(|e| TemplateError {
            message: describe(&e),
            line: e.line().map(|l| l as u32),
            undefined: false,
        })
    }

    /// Check that an expression compiles.
    pub fn check_expression(&self, expr: &str) -> Result<(), TemplateError> {
        let bare = single_expression(expr.trim()).unwrap_or(expr);
        limits::check_nesting(bare)?;
        env().compile_expression(bare).map(|_| ()).map_err(|e| TemplateError {
            message: describe(&e),
            line: e.line().map(|l| l as u32),
            undefined: false,
        })
    }

    /// Turn a minijinja error into ours, naming the undefined variable the
    /// way Ansible does ("'foo' is undefined").
    fn explain(&self, e: minijinja::Error, source: &str, scope: &Scope) -> TemplateError {
        if let Some(message) = vars_object::ansible_message(&e) {
            return TemplateError {
                message: message.to_string(),
                line: e.line().map(|l| l as u32),
                undefined: e.kind() == ErrorKind::UndefinedError,
            };
        }
        if e.kind() == ErrorKind::UndefinedError {
            if let Ok(t) = env().template_from_str(source) {
                if let Some(missing) = first_undefined(t.undeclared_variables(true), scope, source) {
                    return TemplateError { message: undefined_message(&e, &missing), line: e.line().map(|l| l as u32), undefined: true };
                }
            }
            if let Some(message) = undefined_item(&e, scope) {
                return TemplateError { message, line: e.line().map(|l| l as u32), undefined: true };
            }
        }
        TemplateError { message: describe(&e), line: e.line().map(|l| l as u32), undefined: e.kind() == ErrorKind::UndefinedError }
    }

    fn explain_expr(&self, e: minijinja::Error, expr: &str, scope: &Scope) -> TemplateError {
        if let Some(message) = vars_object::ansible_message(&e) {
            return TemplateError { message: message.to_string(), line: None, undefined: e.kind() == ErrorKind::UndefinedError };
        }
        if e.kind() == ErrorKind::UndefinedError {
            if let Ok(c) = env().compile_expression(expr) {
                if let Some(missing) = first_undefined(c.undeclared_variables(true), scope, expr) {
                    return TemplateError { message: undefined_message(&e, &missing), line: None, undefined: true };
                }
            }
            if let Some(message) = undefined_item(&e, scope) {
                return TemplateError { message, line: None, undefined: true };
            }
        }
        TemplateError { message: describe(&e), line: e.line().map(|l| l as u32), undefined: e.kind() == ErrorKind::UndefinedError }
    }
}

/// What is undefined in an expression: a variable, or an attribute a
/// defined value lacks.
enum Missing {
    Variable(String),
    Attribute {
        of: &'static str,
        name: String,
    },
    /// A path into a value whose type could not be learnt here.
    Path(String),
}

thread_local! {
    /// Set while [`first_undefined`] renders a variable to look into it.
    static NAMING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Missing {
    /// Ansible's message: "'x' is undefined", "object of type 'dict' has
    /// no attribute 'b'".
    fn message(&self) -> String {
        match self {
            Missing::Variable(v) => format!("'{v}' is undefined"),
            Missing::Attribute { of, name } => format!("object of type '{of}' has no attribute '{name}'"),
            Missing::Path(p) => format!("'{p}' is undefined"),
        }
    }
}

/// Ansible's message for minijinja's "`foo[0]` is undefined" when the
/// path is an item or attribute a variable's value lacks ([`missing_item`]),
/// or why a value was made undefined (a variable whose template is
/// undefined, `undef(hint)`).
fn undefined_item(e: &minijinja::Error, scope: &Scope) -> Option<String> {
    let path = e.detail().and_then(|d| d.strip_prefix('`')?.strip_suffix("` is undefined"));
    path.and_then(|p| missing_item::message(p, scope)).or_else(filters_map::take_missing)
}

/// The message for an undefined error: `mandatory`'s "Mandatory variable
/// 'x' not defined." (with the missing name), else [`Missing::message`].
fn undefined_message(e: &minijinja::Error, missing: &Missing) -> String {
    if e.detail().is_some_and(|d| d.contains(filters::MANDATORY)) {
        let (Missing::Variable(name) | Missing::Attribute { name, .. } | Missing::Path(name)) = missing;
        return format!("Mandatory variable '{name}' not defined.");
    }
    missing.message()
}

/// Python's type name of a JSON value, as Ansible's messages name it.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// The undefined dotted name with the fewest dots (`a` before `a.b`),
/// among those the one written first in `source` (as rendering meets them).
fn first_undefined(names: std::collections::HashSet<String>, scope: &Scope, source: &str) -> Option<Missing> {
    let mut names: Vec<String> = names.into_iter().collect();
    names.sort_by_key(|n| (n.matches('.').count(), first_use(source, n), n.clone()));
    for name in names {
        let mut parts = name.split('.');
        let root = parts.next().unwrap_or("");
        // Functions (`lookup`, `range`, ...) are not variables.
        if vars_object::is_magic(root) || env().globals().any(|(g, _)| g == root) {
            continue;
        }
        // Ansible names the undefined variable, not the path below it.
        let Some((raw, origin)) = scope.lookup(root) else { return Some(Missing::Variable(root.to_string())) };
        if !name.contains('.') {
            continue;
        }
        let Some(root_value) = rendered_for_naming(raw, origin, scope) else { return Some(Missing::Path(name)) };
        let mut v = root_value.as_ref();
        for p in parts {
            match v.get(p) {
                Some(next) => v = next,
                None => return Some(Missing::Attribute { of: json_type(v), name: p.to_string() }),
            }
        }
    }
    None
}

/// A variable's value to look into while naming what is undefined: a
/// value that is template source as it renders; None if that render
/// fails, or while naming an error of such a render itself (a variable
/// that refers to itself would recurse without end).
fn rendered_for_naming<'a>(raw: &'a Value, origin: Origin, scope: &Scope) -> Option<std::borrow::Cow<'a, Value>> {
    if origin == Origin::Data || !Templar::value_has_template(raw) {
        return Some(std::borrow::Cow::Borrowed(raw));
    }
    if NAMING.with(std::cell::Cell::get) {
        return None;
    }
    NAMING.with(|n| n.set(true));
    let out = shared().render_value(raw, scope);
    NAMING.with(|n| n.set(false));
    out.ok().map(std::borrow::Cow::Owned)
}

/// Where the name `name` is first written in `source` as a whole word.
fn first_use(source: &str, name: &str) -> usize {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    source
        .match_indices(name)
        .find(|(i, _)| {
            let before = source[..*i].chars().next_back();
            let after = source[i + name.len()..].chars().next();
            !before.is_some_and(ident) && !after.is_some_and(ident)
        })
        .map(|(i, _)| i)
        .unwrap_or(usize::MAX)
}

fn describe(e: &minijinja::Error) -> String {
    if e.kind() == ErrorKind::OutOfFuel {
        return format!(
            "template does too much work: it was stopped after {FUEL} steps (an instruction, 64 bytes of data made, \
             or a comparison in a filter each); make it loop over less"
        );
    }
    let mut msg = match e.detail() {
        Some(d) => format!("{}: {}", e.kind(), python_zero_division(d).unwrap_or(d)),
        None => e.kind().to_string(),
    };
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        msg.push_str(&format!(": {inner}"));
        src = inner.source();
    }
    msg
}

/// Python's words for a division by zero, which Ansible's messages carry
/// (minijinja says "unable to calculate 5 / 0").
fn python_zero_division(detail: &str) -> Option<&'static str> {
    let calc = detail.strip_prefix("unable to calculate ")?;
    let (lhs, rest) = calc.split_once(' ')?;
    let (op, rhs) = rest.split_once(' ')?;
    if rhs.parse::<f64>().ok()? != 0.0 {
        return None;
    }
    let float = lhs.contains('.') || rhs.contains('.');
    Some(match (op, float) {
        ("/", false) => "division by zero",
        ("/", true) => "float division by zero",
        ("//", false) => "integer division or modulo by zero",
        ("//", true) => "float floor division by zero",
        ("%", false) => "integer modulo by zero",
        ("%", true) => "float modulo",
        _ => return None,
    })
}

/// `name`, `name.attr`, `name['key']`, `name[0]`: a variable, not a computation.
fn is_variable_path(expr: &str) -> bool {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r#"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*|\[(\d+|'[^'\]]*'|"[^"\]]*")\])*$"#).expect("valid regex")
    })
    .is_match(expr)
}

/// `"{{ expr }}"` → `expr`, when the string is exactly one expression.
fn single_expression(s: &str) -> Option<&str> {
    let inner = s.strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") || inner.contains("{#") {
        return None;
    }
    Some(inner.trim())
}

pub(crate) fn to_json(v: &JValue) -> Result<Value, TemplateError> {
    if holds_undefined(v) {
        let message = filters_map::take_missing().unwrap_or_else(|| HOLDS_UNDEFINED.into());
        return Err(TemplateError { message, line: None, undefined: true });
    }
    serde_json::to_value(v).map_err(|e| TemplateError {
        message: format!("cannot convert template result: {e}"),
        line: None,
        undefined: false,
    })
}

const HOLDS_UNDEFINED: &str = "the result holds an undefined value";

/// An undefined value inside a list or mapping (Jinja2 keeps them until
/// the result is used; Ansible then fails).
fn holds_undefined(v: &JValue) -> bool {
    use minijinja::value::ValueKind;
    match v.kind() {
        ValueKind::Undefined => true,
        ValueKind::Seq | ValueKind::Iterable => v.try_iter().is_ok_and(|mut it| it.any(|x| holds_undefined(&x))),
        // A host's variables (`hostvars[host]`, `vars`) are lazy in
        // Ansible: one whose template is undefined is not an error until
        // used (vars_object.rs), so it does not make the whole undefined.
        ValueKind::Map if v.downcast_object_ref::<VarsObject>().is_some() => false,
        ValueKind::Map => v.try_iter().is_ok_and(|mut it| it.any(|k| v.get_item(&k).is_ok_and(|x| holds_undefined(&x)))),
        _ => false,
    }
}

pub(crate) fn from_json(v: &Value) -> JValue {
    JValue::from(minijinja::value::Serde(v))
}

/// Python truthiness, but a string must spell a boolean (Ansible 2.19
/// rejects conditionals like `when: "some text"`).
fn truthy(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Null => Some(false),
        Value::Number(n) => Some(n.as_f64().map(|f| f != 0.0).unwrap_or(true)),
        Value::String(s) => mailplay_modules::args::parse_bool(&Value::String(s.clone())),
        Value::Array(a) => Some(!a.is_empty()),
        Value::Object(m) => Some(!m.is_empty()),
    }
}

#[cfg(test)]
mod tests;

/// A shared templar, for code that has no handle to one.
pub fn shared() -> Arc<Templar> {
    static T: OnceLock<Arc<Templar>> = OnceLock::new();
    T.get_or_init(|| Arc::new(Templar::new())).clone()
}
