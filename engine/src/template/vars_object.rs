//! The scope as minijinja sees it: a lazy map. A variable is converted (and,
//! if it holds templates, rendered) only when a template reads it.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::{Error, ErrorKind, Value as JValue};
use serde_json::Value;

use super::{from_json, HostvarsSource, Origin, Scope, Templar, OMIT_TOKEN};

thread_local! {
    /// Variables being resolved on this thread, to catch `a: "{{ b }}"`, `b: "{{ a }}"`.
    static RESOLVING: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    /// Set when resolution went deeper than the limit, until the outermost returns.
    static TOO_DEEP: Cell<bool> = const { Cell::new(false) };
}

/// Names the object answers itself rather than from the scope.
pub fn is_magic(name: &str) -> bool {
    matches!(name, "omit" | "hostvars" | "vars")
}

#[derive(Debug)]
pub struct VarsObject {
    scope: Scope,
}

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope").field("keys", &self.keys().len()).finish()
    }
}

impl VarsObject {
    pub fn new(scope: Scope) -> Self {
        VarsObject { scope }
    }
}

/// A variable's value, rendered if it is template source that holds
/// templates (recursively). Data is never rendered.
fn resolve(name: &str, raw: &Value, origin: Origin, scope: &Scope) -> JValue {
    if origin == Origin::Data || !Templar::value_has_template(raw) {
        return from_json(raw);
    }
    let cycle = RESOLVING.with(|r| r.borrow().iter().any(|n| n == name));
    if cycle {
        return JValue::from(Error::new(ErrorKind::InvalidOperation, format!("recursive loop detected in template for '{name}'")));
    }
    // Each level is a whole render on this thread's stack: 100 overflowed
    // a 2 MiB tokio worker (debug build).
    // Once the limit is hit, every level above fails at once: minijinja
    // looks a failed variable up again, which made the way out exponential.
    let depth = RESOLVING.with(|r| r.borrow().len());
    if depth >= super::limits::MAX_VARIABLE_DEPTH || TOO_DEEP.with(Cell::get) {
        TOO_DEEP.with(|t| t.set(true));
        let limit = super::limits::MAX_VARIABLE_DEPTH;
        return JValue::from(Error::new(
            ErrorKind::InvalidOperation,
            format!("'{name}': variables refer to variables more than {limit} deep"),
        ));
    }
    RESOLVING.with(|r| r.borrow_mut().push(name.to_string()));
    let rendered = super::shared().render_value(raw, scope);
    RESOLVING.with(|r| r.borrow_mut().pop());
    if depth == 0 {
        TOO_DEEP.with(|t| t.set(false));
    }
    match rendered {
        Ok(v) => from_json(&v),
        // Ansible's lazy templating: a variable whose template is
        // undefined is an undefined value (`is undefined`, `default`
        // work), and using it fails with why (`deep_undefined:
        // "{{ nope }}"` fails with "'nope' is undefined").
        Err(e) if e.undefined && raw.is_string() => {
            super::filters_map::note_missing(e.message);
            JValue::UNDEFINED
        }
        Err(e) => JValue::from(
            Error::new(ErrorKind::UndefinedError, format!("while templating '{name}': {}", e.message))
                .with_source(AnsibleMessage(e.message)),
        ),
    }
}

/// An error whose message is already Ansible's, reported as it is
/// (`explain`): the error of rendering a variable's value (`a: "{{ nope }}"`,
/// `{{ a }}` fails with "'nope' is undefined"), a template lookup's. The
/// minijinja error around it keeps minijinja's own wording.
#[derive(Debug)]
pub struct AnsibleMessage(pub String);

impl std::fmt::Display for AnsibleMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AnsibleMessage {}

/// The Ansible message `e` carries, if it does.
pub fn ansible_message(e: &minijinja::Error) -> Option<&str> {
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        if let Some(v) = inner.downcast_ref::<AnsibleMessage>() {
            return Some(&v.0);
        }
        src = inner.source();
    }
    None
}

impl Object for VarsObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let name = key.as_str()?;
        match name {
            "omit" if !self.scope.contains("omit") => Some(JValue::from(OMIT_TOKEN)),
            "hostvars" if !self.scope.contains("hostvars") => {
                self.scope.hostvars.clone().map(|h| JValue::from_object(HostvarsObject { source: h }))
            }
            "vars" if !self.scope.contains("vars") => Some(JValue::from_object(VarsObject { scope: self.scope.clone() })),
            _ => self.scope.lookup(name).map(|(raw, origin)| resolve(name, raw, origin, &self.scope)),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Iter(Box::new(self.scope.keys().into_iter().map(JValue::from)))
    }
}

/// `hostvars`: each host's variables, looked up lazily.
struct HostvarsObject {
    source: Arc<dyn HostvarsSource>,
}

impl std::fmt::Debug for HostvarsObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("hostvars")
    }
}

impl Object for HostvarsObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let host = key.as_str()?;
        self.source.scope_for(host).map(|s| JValue::from_object(VarsObject::new(s)))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Iter(Box::new(self.source.host_names().into_iter().map(JValue::from)))
    }
}
