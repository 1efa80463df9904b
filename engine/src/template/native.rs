//! Ansible 2.19's native results (Jinja's native `concat`, as
//! `AnsibleEnvironment.concat` has it): the output of a template, and of
//! every piece of a template that Jinja joins on its own — a macro's body
//! (and `caller()`), a `{% set %}` or `{% filter %}` block, a block or
//! `super()` call, a recursive `loop()` — is
//! - the one value output, with its type, when exactly one value and no
//!   text around it was output (`{% for x in [1] %}{{ x }}{% endfor %}`
//!   is 1, a macro whose body is `{{ {"a": 1} }}` returns that dict);
//! - None when nothing at all was output (a `None` value counts as
//!   nothing, as Ansible's `_flatten_nodes` drops it);
//! - otherwise the text.
//!
//! minijinja writes every `{{ }}` output through the environment's
//! formatter, which records them here, and tells the capture hooks (the
//! patched minijinja, vendor/minijinja/MAILPLAY-PATCH.md) when a capture
//! begins and ends: each capture and each recording render has its own
//! frame on a per-thread stack, and the end of a capture applies the rule
//! to its frame. The formatter also refuses to output a container holding
//! an undefined value.

use std::cell::RefCell;

use minijinja::{Error, Output, State, Value as JValue};

/// What was output in one capture or recording render: its first two
/// values and their text (only one value, or more than one, matters).
type Frame = Vec<(JValue, String)>;

thread_local! {
    /// One frame per capture or recording render in progress, innermost last.
    static OUTPUTS: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// Installs the capture hooks (once per process; the environment's setup).
pub fn install_capture_hooks() {
    minijinja::set_capture_hooks(minijinja::CaptureHooks { begin: begin_capture, end: end_capture });
}

fn begin_capture() {
    OUTPUTS.with(|o| o.borrow_mut().push(Frame::new()));
}

/// The value a capture gives: see the module's rule.
fn end_capture(captured: JValue) -> JValue {
    let Some(frame) = OUTPUTS.with(|o| o.borrow_mut().pop()) else { return captured };
    // Only a plain string is Jinja's concat: a discarded capture is
    // undefined, an autoescaped one is markup (never in Ansible).
    if captured.is_safe() {
        return captured;
    }
    let Some(text) = captured.as_str() else { return captured };
    if frame.is_empty() && text.is_empty() {
        return JValue::from(());
    }
    single(&frame, text).unwrap_or(captured)
}

/// The one non-string value output, when it is the whole `text`.
fn single(frame: &Frame, text: &str) -> Option<JValue> {
    match frame.as_slice() {
        [(v, t)] if t == text && v.as_str().is_none() && !v.is_undefined() => Some(v.clone()),
        _ => None,
    }
}

/// The environment's formatter: writes the value as minijinja does, and
/// records it for the innermost capture or recording render.
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
            if top.len() < 2 {
                top.push((value.clone(), text));
            }
        }
    });
    Ok(())
}

/// Runs a render in a frame of its own; gives its result and, when its
/// whole output was one non-string value, that value. Frames of captures
/// that a failed render left open are dropped with it.
pub fn recording<E>(render: impl FnOnce() -> Result<String, E>) -> Result<(String, Option<JValue>), E> {
    let depth = OUTPUTS.with(|o| {
        let mut o = o.borrow_mut();
        o.push(Frame::new());
        o.len() - 1
    });
    let result = render();
    let frame = OUTPUTS.with(|o| {
        let mut o = o.borrow_mut();
        let frame = o.get_mut(depth).map(std::mem::take).unwrap_or_default();
        o.truncate(depth);
        frame
    });
    let text = result?;
    let single = single(&frame, &text);
    Ok((text, single))
}

/// Runs a render that keeps its text (a template file's) in a frame of
/// its own: captures inside it still give native values, its own outputs
/// are not taken for an enclosing render's, and frames a failed render
/// left open are dropped.
pub fn isolated<T>(render: impl FnOnce() -> T) -> T {
    let depth = OUTPUTS.with(|o| {
        let mut o = o.borrow_mut();
        o.push(Frame::new());
        o.len() - 1
    });
    let result = render();
    OUTPUTS.with(|o| o.borrow_mut().truncate(depth));
    result
}
