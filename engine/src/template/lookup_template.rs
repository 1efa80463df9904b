//! `lookup('template', name, ...)`: render a file from the search path's
//! `templates/` with the task's variables, as Ansible's template lookup
//! does: its Jinja options (`variable_start_string`, `comment_*`,
//! `trim_blocks`), `template_vars`, the `template_*` and `ansible_managed`
//! variables, includes relative to the file, and a native result (one
//! expression gives its value, nothing at all gives None).

use std::cell::Cell;
use std::path::Path;

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Error, ErrorKind, State, Value as JValue};

use super::lookups::{blocking, find, search_paths, SearchPathGuard};
use super::overrides::{preserve_trailing_newlines, TemplateOverrides};

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// A template that looks itself up would recurse until the stack ends.
const MAX_DEPTH: u32 = 16;

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

struct DepthGuard;

impl DepthGuard {
    fn enter() -> Result<DepthGuard, Error> {
        let d = DEPTH.with(|d| d.get());
        if d >= MAX_DEPTH {
            return Err(err(format!("lookup('template'): templates nested more than {MAX_DEPTH} deep")));
        }
        DEPTH.with(|c| c.set(d + 1));
        Ok(DepthGuard)
    }
}

impl Drop for DepthGuard {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// The lookup's options; the deprecated `convert_data` and `jinja2_native`
/// have no effect in Ansible 2.19 either (native results always).
fn options(kwargs: &Kwargs) -> Result<(TemplateOverrides, Option<JValue>), Error> {
    let mut o = TemplateOverrides::default();
    for (name, slot) in [
        ("variable_start_string", &mut o.variable_start_string),
        ("variable_end_string", &mut o.variable_end_string),
        ("comment_start_string", &mut o.comment_start_string),
        ("comment_end_string", &mut o.comment_end_string),
    ] {
        if let Some(v) = kwargs.get::<Option<String>>(name)? {
            *slot = v;
        }
    }
    if let Some(b) = kwargs.get::<Option<bool>>("trim_blocks")? {
        o.trim_blocks = b;
    }
    let _: Option<JValue> = kwargs.get("convert_data")?;
    let _: Option<JValue> = kwargs.get("jinja2_native")?;
    let template_vars = kwargs.get::<Option<JValue>>("template_vars")?.filter(|v| !v.is_none());
    if let Some(v) = &template_vars {
        if v.kind() != ValueKind::Map {
            return Err(err("lookup('template'): template_vars must be a dictionary"));
        }
    }
    Ok((o, template_vars))
}

pub fn run(state: &State, terms: &[JValue], kwargs: &Kwargs) -> Result<Vec<JValue>, Error> {
    let (o, template_vars) = options(kwargs)?;
    let mut out = Vec::new();
    for t in terms {
        let term = super::filters::text_of(t);
        let path = find(&term, "templates").ok_or_else(|| err(format!("the template file {term} could not be found for the lookup")))?;
        out.push(render(state, &term, &path, &o, template_vars.as_ref())?);
    }
    Ok(out)
}

/// The variables the template sees: the task's, then Ansible's generated
/// ones, then `template_vars`.
fn variables(state: &State, term: &str, path: &Path, template_vars: Option<&JValue>) -> Result<JValue, Error> {
    let mut vars: indexmap::IndexMap<String, JValue> =
        state.known_variables().into_iter().filter_map(|k| state.lookup(&k).map(|v| (k.to_string(), v))).collect();
    let has_managed = vars.get("ansible_managed").is_some_and(|v| !v.is_undefined());
    for (k, v) in generated_vars(term, path, None) {
        vars.insert(k, super::from_json(&v));
    }
    if !has_managed {
        let managed = managed(state, path, &vars)?;
        vars.insert("ansible_managed".to_string(), managed);
    }
    if let Some(tv) = template_vars {
        for k in tv.try_iter()? {
            vars.insert(super::filters::text_of(&k), tv.get_item(&k)?);
        }
    }
    Ok(JValue::from(vars.into_iter().map(|(k, v)| (JValue::from(k), v)).collect::<indexmap::IndexMap<JValue, JValue>>()))
}

fn render(state: &State, term: &str, path: &Path, o: &TemplateOverrides, template_vars: Option<&JValue>) -> Result<JValue, Error> {
    let _depth = DepthGuard::enter()?;
    let text = blocking(|| std::fs::read_to_string(path)).map_err(|e| err(format!("lookup('template'): {}: {e}", path.display())))?;
    super::limits::check_nesting(&text).map_err(|e| err(format!("lookup('template'): {}: {}", path.display(), e.message)))?;
    let (text, o) = super::overrides::extract_header(&text, o).map_err(err)?;
    let o = &o;
    let text = o.apply_newlines(text);
    let ctx = variables(state, term, path, template_vars)?;
    // Includes: the file's own folder first, then the search path.
    let mut paths = vec![path.parent().map(Path::to_path_buf).unwrap_or_default()];
    paths.extend(search_paths());
    let _guard = SearchPathGuard::set(paths);
    let env = o.environment(super::env())?;
    // Ansible's native result (native.rs): a template that outputs one
    // value and nothing else gives that value; one that outputs nothing
    // gives None.
    let (rendered, single) = super::native::recording(|| env.render_str(&text, ctx)).map_err(undefined_as_ansible_says)?;
    if let Some(v) = single {
        return Ok(v);
    }
    if rendered.is_empty() {
        return Ok(JValue::from(()));
    }
    Ok(JValue::from(preserve_trailing_newlines(&text, rendered, &o.newline_sequence)))
}

/// `ansible_managed` (managed.rs), its template rendered with the
/// template's variables. A setting Python cannot format fails the lookup
/// (as in Ansible); a render failure is a value that fails where it is
/// used, as Ansible renders it only there.
fn managed(state: &State, path: &Path, vars: &indexmap::IndexMap<String, JValue>) -> Result<JValue, Error> {
    let text = super::managed::mtime_of(path).and_then(super::managed::template_text).map_err(err)?;
    let ctx = JValue::from(vars.iter().map(|(k, v)| (JValue::from(k.as_str()), v.clone())).collect::<indexmap::IndexMap<JValue, JValue>>());
    Ok(match super::native::isolated(|| state.env().render_str(&text, ctx)) {
        Ok(s) => JValue::from(s),
        Err(e) => JValue::from(e),
    })
}

/// An undefined variable anywhere in the template (an included or
/// imported one too) fails the lookup with Ansible's "'name' is
/// undefined", not minijinja's chain of include errors.
fn undefined_as_ansible_says(e: Error) -> Error {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(inner) = cur {
        if let Some(m) = inner.downcast_ref::<Error>() {
            let name = m.detail().and_then(|d| d.strip_prefix('`')?.strip_suffix("` is undefined"));
            if let Some(name) = name.filter(|n| !n.is_empty() && n.chars().all(|c| c.is_alphanumeric() || c == '_')) {
                let message = format!("'{name}' is undefined");
                return Error::new(ErrorKind::UndefinedError, message.clone()).with_source(super::AnsibleMessage(message));
            }
        }
        cur = inner.source();
    }
    e
}

/// The variables Ansible adds for a template (`generate_ansible_template_vars`):
/// `template_host`, `template_path` (as given), `template_fullpath`,
/// `template_uid` (the file owner's name), `template_destpath`; its
/// `ansible_managed`, where the play sets none, is template text
/// ([`super::managed`]). (`template_mtime` and `template_run_date` are
/// Python datetimes; not given.)
pub fn generated_vars(term: &str, path: &Path, dest: Option<&str>) -> Vec<(String, serde_json::Value)> {
    use serde_json::Value;
    vec![
        ("template_host".to_string(), Value::from(hostname())),
        ("template_path".to_string(), Value::from(term)),
        ("template_fullpath".to_string(), Value::from(path.display().to_string())),
        ("template_uid".to_string(), owner(path)),
        ("template_destpath".to_string(), dest.map(Value::from).unwrap_or(Value::Null)),
    ]
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
}

/// The file owner's name, or the uid when it has none (as Ansible).
fn owner(path: &Path) -> serde_json::Value {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = path.metadata().map(|m| m.uid()) else { return serde_json::Value::Null };
    match mailplay_modules::local_host::user_name(uid) {
        Some(name) => serde_json::Value::from(name),
        None => serde_json::Value::from(uid),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::super::{Scope, Templar};

    #[test]
    fn options_includes_and_native_results_like_ansible() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("templates");
        std::fs::create_dir(&t).unwrap();
        std::fs::write(t.join("hello.txt"), "Hello {% include 'world.txt' %}!\n").unwrap();
        std::fs::write(t.join("world.txt"), "world\n").unwrap();
        std::fs::write(t.join("custom.txt"), "[# note #]\nHello [% who %]!\n").unwrap();
        std::fs::write(t.join("none.j2"), "{# nothing #}\n").unwrap();
        std::fs::write(t.join("list.j2"), "{{ [1, 2] }}\n").unwrap();
        std::fs::write(t.join("macro.j2"), "{% macro m() %}{{ {'a': 1} }}{% endmacro %}\n{{ m() }}\n").unwrap();
        std::fs::write(t.join("managed.j2"), "{{ ansible_managed }} {{ template_path }}").unwrap();
        let mut s = Scope::new().with_search_paths(Arc::new(vec![dir.path().to_path_buf()]));
        s.set("who", json!("you"));
        let r = |e: &str| Templar::new().render_value(&json!(e), &s).unwrap();
        // The included file's final newline goes, the lookup's own stays.
        assert_eq!(r("{{ lookup('template', 'hello.txt') }}"), json!("Hello world!\n"));
        assert_eq!(
            r("{{ lookup('template', 'custom.txt', variable_start_string='[%', variable_end_string='%]', comment_start_string='[#', comment_end_string='#]') }}"),
            json!("Hello you!\n")
        );
        assert_eq!(
            r("{{ lookup('template', 'custom.txt', variable_start_string='[%', variable_end_string='%]', comment_start_string='[#', comment_end_string='#]', template_vars={'who': 'me'}) }}"),
            json!("Hello me!\n")
        );
        assert_eq!(r("{{ lookup('template', 'none.j2') }}"), json!(null));
        assert_eq!(r("{{ lookup('template', 'list.j2') }}"), json!([1, 2]));
        // A macro whose body is one value returns it (native.rs).
        assert_eq!(r("{{ lookup('template', 'macro.j2') }}"), json!({"a": 1}));
        assert_eq!(r("{{ lookup('template', 'managed.j2') }}"), json!("Ansible managed managed.j2"));
    }

    #[test]
    fn a_template_that_looks_itself_up_is_stopped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("self.j2"), "x{{ lookup('template', 'self.j2') }}").unwrap();
        let s = Scope::new().with_search_paths(Arc::new(vec![dir.path().to_path_buf()]));
        let e = Templar::new().render_value(&json!("{{ lookup('template', 'self.j2') }}"), &s).unwrap_err();
        assert!(e.message.contains("nested more than"), "{}", e.message);
    }
}
