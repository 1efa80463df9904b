//! Ansible 2.19's error markers for showing a value: where a variable's
//! value holds an undefined part (`s: {a: "{{ nope }}"}`), `debug: var=s`
//! shows the rest of the value with `<< error 1 - 'nope' is undefined >>`
//! in the undefined part's place, numbered in order, instead of failing.
//! Only on while [`with_markers`] runs; everywhere else an undefined part
//! is an error, as in Ansible.

use std::cell::RefCell;

thread_local! {
    /// The errors replaced by markers so far, while markers are on.
    static MARKERS: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// Runs `f` with markers on; returns its result and the errors replaced.
pub fn with_markers<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let outer = MARKERS.with(|m| m.borrow_mut().replace(Vec::new()));
    let out = f();
    let errors = MARKERS.with(|m| std::mem::replace(&mut *m.borrow_mut(), outer)).unwrap_or_default();
    (out, errors)
}

/// The marker for an undefined part, when markers are on.
pub fn substitute(message: &str) -> Option<String> {
    MARKERS.with(|m| {
        let mut m = m.borrow_mut();
        let errors = m.as_mut()?;
        errors.push(message.to_string());
        Some(format!("<< error {} - {message} >>", errors.len()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_numbered_and_only_on_inside_with_markers() {
        assert_eq!(substitute("x"), None);
        let (_, errors) = with_markers(|| {
            assert_eq!(substitute("'a' is undefined").as_deref(), Some("<< error 1 - 'a' is undefined >>"));
            assert_eq!(substitute("'b' is undefined").as_deref(), Some("<< error 2 - 'b' is undefined >>"));
        });
        assert_eq!(errors.len(), 2);
        assert_eq!(substitute("x"), None);
    }
}
