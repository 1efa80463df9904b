//! Ansible 2.19 renders a string constant holding a template when it is
//! an argument of `lookup`, `query` or `q` (not the lookup's name) in
//! template text the user wrote: `{{ lookup('pipe', 'echo {{ x }}') }}`
//! runs `echo` with `x`'s value. Other constants inside a template stay
//! as written. The constant is rendered and bound to a name the call then
//! uses, so what it renders to is never read as template text.

use serde_json::Value;

use super::conditional::{is_lookup_call, read_literal, ConstTemplate};
use super::{Scope, Templar, TemplateError};

/// The lookup arguments holding templates in the `{{ }}` and `{% %}`
/// blocks of `src`.
pub fn lookup_arg_templates(src: &str) -> Vec<ConstTemplate> {
    let mut out = Vec::new();
    if !(src.contains("lookup(") || src.contains("query(") || src.contains("q(")) {
        return out;
    }
    let mut i = 0;
    while let Some(open) = next_block(src, i) {
        i = scan_block(src, open + 2, &mut out);
    }
    out
}

/// Where the next `{{` or `{%` starts at or after `from`.
fn next_block(src: &str, from: usize) -> Option<usize> {
    let rest = src.get(from..)?;
    [rest.find("{{"), rest.find("{%")].into_iter().flatten().min().map(|p| from + p)
}

/// Scan one block from `start` (after its opening delimiter) to its end,
/// noting lookup arguments; returns where scanning goes on.
fn scan_block(src: &str, start: usize, out: &mut Vec<ConstTemplate>) -> usize {
    // Open brackets: whether each is a lookup call, and its argument index.
    let mut stack: Vec<(bool, usize)> = Vec::new();
    let bytes = src.as_bytes();
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'}' | b'%' if stack.is_empty() && bytes.get(i + 1) == Some(&b'}') => return i + 2,
            b'\'' | b'"' => {
                let Some((end, text)) = read_literal(src, i) else { return bytes.len() };
                if matches!(stack.last(), Some((true, n)) if *n >= 1) && Templar::is_template(&text) {
                    out.push(ConstTemplate { range: i..end, text });
                }
                i = end;
                continue;
            }
            b'(' => stack.push((is_lookup_call(&src[start..i]), 0)),
            b'[' | b'{' => stack.push((false, 0)),
            b')' | b']' | b'}' => {
                stack.pop();
            }
            b',' => {
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i
}

/// `src` with each lookup argument template replaced by a name bound to
/// its rendered value, and the scope holding them; None when there is
/// none.
pub fn bind(templar: &Templar, src: &str, scope: &Scope) -> Result<Option<(String, Scope)>, TemplateError> {
    let consts = lookup_arg_templates(src);
    if consts.is_empty() {
        return Ok(None);
    }
    let mut scope = scope.clone();
    let mut out = String::with_capacity(src.len());
    let mut last = 0;
    for (n, c) in consts.iter().enumerate() {
        let value: Value = templar.render_value(&Value::String(c.text.clone()), &scope)?;
        let name = format!("__mailplay_lookup_arg_{n}");
        out.push_str(&src[last..c.range.start]);
        out.push_str(&name);
        last = c.range.end;
        scope.set(&name, value);
    }
    out.push_str(&src[last..]);
    Ok(Some((out, scope)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn texts(src: &str) -> Vec<String> {
        lookup_arg_templates(src).into_iter().map(|c| c.text).collect()
    }

    #[test]
    fn only_lookup_arguments_inside_blocks_are_found() {
        assert_eq!(texts(r#"{{ lookup('pipe', 'echo {{ "dude" }}') == "dude" }}"#), [r#"echo {{ "dude" }}"#]);
        assert_eq!(texts(r#"{{ query('pipe', 'echo {{ "dude" }}') }}"#), [r#"echo {{ "dude" }}"#]);
        // The lookup's name, other functions' arguments and plain text are not.
        assert!(texts(r#"{{ lookup('{{ "pipe" }}') }}"#).is_empty());
        assert!(texts(r#"{% set p = joiner('{{ "d" }}') %}x{{ p() }}"#).is_empty());
        assert!(texts(r#"it's 'lookup(' {{ x }} '{{ y }}'"#).is_empty());
        // Nested brackets inside the call count as one argument.
        assert_eq!(texts(r#"{{ lookup('vars', ['a', 'b'][0], default='{{ z }}') }}"#), ["{{ z }}"]);
    }

    #[test]
    fn bound_values_are_rendered_not_spliced() {
        let t = Templar::new();
        let mut s = Scope::new();
        s.set("x", json!("a') ~ lookup('pipe', 'false"));
        let (text, scope) = bind(&t, "{{ lookup('list', 'v={{ x }}') }}", &s).unwrap().unwrap();
        assert_eq!(text, "{{ lookup('list', __mailplay_lookup_arg_0) }}");
        assert_eq!(scope.get("__mailplay_lookup_arg_0"), Some(&json!("v=a') ~ lookup('pipe', 'false")));
    }
}
