//! Ansible 2.19's native results for templates that are more than one
//! expression: when a render outputs exactly one value and no text around
//! it (`{% for x in [1] %}{{ x }}{% endfor %}`, `{% if a %}{{ [1] }}{% endif %}`),
//! the result is that value with its type (Jinja's native concat of a
//! single node), not its text. minijinja writes every `{{ }}` output
//! through the environment's formatter, which records them here while a
//! render asks for it ([`recording`]). It also refuses to output a
//! container holding an undefined value.

use std::cell::RefCell;

use minijinja::{Error, Output, State, Value as JValue};

thread_local! {
    /// One list per render in progress that records (nested renders of
    /// variables push their own), of each value output and its text.
    static OUTPUTS: RefCell<Vec<Vec<(JValue, String)>>> = const { RefCell::new(Vec::new()) };
}

/// The environment's formatter: writes the value as minijinja does, and
/// records it for the innermost recording render.
pub fn formatter(out: &mut Output, state: &mut State, value: &JValue) -> Result<(), Error> {
    // A list or mapping holding an undefined value is an error when output,
    // as in Ansible (`{{ [x] }} text` with `x` undefined).
    if matches!(value.kind(), minijinja::value::ValueKind::Seq | minijinja::value::ValueKind::Map) && super::holds_undefined(value) {
        return Err(Error::new(minijinja::ErrorKind::UndefinedError, "the output holds an undefined value"));
    }
    // Ansible 2.19 leaves a None node out of a template's output
    // (`_flatten_nodes`): `{{ x }}-{{ x }}` with `x: null` is "-".
    if value.is_none() {
        return Ok(());
    }
    let recording = OUTPUTS.with(|o| !o.borrow().is_empty());
    // Ansible's templates are never autoescaped; were one, minijinja's
    // own formatting applies and nothing is recorded.
    if !recording || !matches!(state.auto_escape(), minijinja::AutoEscape::None) {
        return minijinja::escape_formatter(out, state, value);
    }
    // With no escaping, minijinja writes a value as it displays.
    let text = value.to_string();
    out.write_str(&text).map_err(|e| Error::new(minijinja::ErrorKind::WriteFailure, e.to_string()))?;
    OUTPUTS.with(|o| {
        if let Some(top) = o.borrow_mut().last_mut() {
            // Only the first two matter: one value, or more than one.
            if top.len() < 2 {
                top.push((value.clone(), text));
            }
        }
    });
    Ok(())
}

/// Runs a render; gives its result and, when its whole output was one
/// non-string value, that value.
pub fn recording<E>(render: impl FnOnce() -> Result<String, E>) -> Result<(String, Option<JValue>), E> {
    OUTPUTS.with(|o| o.borrow_mut().push(Vec::new()));
    let result = render();
    let outputs = OUTPUTS.with(|o| o.borrow_mut().pop()).unwrap_or_default();
    let text = result?;
    let single = match outputs.as_slice() {
        [(v, t)] if *t == text && v.as_str().is_none() && !v.is_undefined() => Some(v.clone()),
        _ => None,
    };
    Ok((text, single))
}
