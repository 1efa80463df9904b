//! Conditionals as ansible-core 2.19 evaluates them
//! (`TemplateEngine._normalize_and_evaluate_conditional`):
//!
//! - the text is stripped; empty is an error;
//! - text that starts and ends with Jinja delimiters is a template: it is
//!   rendered, a non-string result (a boolean) is the answer, and a string
//!   result is an expression to evaluate only if the user wrote exactly
//!   that text (`template::trust`): indirection through trusted text
//!   (`that: '{{ item }}'` over a playbook list) works, meta-templating
//!   (`'{{ "a" }} == {{ "b" }}'`) and host output are refused;
//! - any other text is an expression, in which a string constant holding
//!   a template is rendered first (`"dude" == "du{{ 'de' }}"`). The
//!   rendered value is bound to a name the expression then refers to, so a
//!   value a template produced is never parsed as expression text.

use serde_json::Value;

use super::{Scope, TemplateError};

/// Ansible's message for text that is not trusted as a template.
pub const UNTRUSTED: &str = "Encountered untrusted template or expression.";

/// Ansible's deprecation for a conditional that is a template giving a
/// value (`that: '{{ x == 1 }}'`).
pub const AS_TEMPLATE_DEPRECATION: &str = "Conditionals should not be surrounded by templating delimiters such as {{ }} or {% %}.";

thread_local! {
    /// Deprecations of the conditionals evaluated while collecting.
    static DEPRECATIONS: std::cell::RefCell<Option<Vec<String>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f`, returning the deprecations its conditionals noted (nothing
/// is kept outside such a call).
pub fn with_deprecations<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    let outer = DEPRECATIONS.with(|d| d.borrow_mut().replace(Vec::new()));
    let out = f();
    let noted = DEPRECATIONS.with(|d| std::mem::replace(&mut *d.borrow_mut(), outer)).unwrap_or_default();
    (out, noted)
}

pub fn note_deprecation(msg: &str) {
    DEPRECATIONS.with(|d| {
        if let Some(list) = d.borrow_mut().as_mut() {
            list.push(msg.to_string());
        }
    });
}

/// Ansible's `is_possibly_all_template`: the text starts and ends with
/// Jinja delimiters (it may hold several templates).
pub fn is_possibly_all_template(s: &str) -> bool {
    ["{{", "{%", "{#"].iter().any(|m| s.starts_with(m)) && ["}}", "%}", "#}"].iter().any(|m| s.ends_with(m))
}

pub fn empty_error() -> TemplateError {
    TemplateError { message: "Empty conditional expressions are not allowed.".into(), line: None, undefined: false }
}

pub fn untrusted_error() -> TemplateError {
    TemplateError { message: UNTRUSTED.into(), line: None, undefined: false }
}

/// A conditional refused for what it is (untrusted, empty), not for what
/// evaluating it did.
pub fn is_refusal(e: &TemplateError) -> bool {
    *e == empty_error() || *e == untrusted_error()
}

/// The expression a rendered all-template conditional gives, if the user
/// wrote that text; refused otherwise.
pub fn trusted_expression(rendered: String) -> Result<String, TemplateError> {
    let trimmed = rendered.trim();
    if trimmed.is_empty() {
        return Err(empty_error());
    }
    if super::trust::is_trusted(&rendered) || super::trust::is_trusted(trimmed) {
        Ok(trimmed.to_string())
    } else {
        Err(untrusted_error())
    }
}

/// A string constant of an expression that holds a template.
#[derive(Debug, PartialEq)]
pub struct ConstTemplate {
    /// Byte range of the literal, quotes included, in the expression.
    pub range: std::ops::Range<usize>,
    /// The literal's value (escapes resolved).
    pub text: String,
}

/// The string constants of `expr` that hold Jinja syntax, except a
/// lookup's name (`lookup('{{ x }}')` stays a name, as in Ansible).
pub fn const_templates(expr: &str) -> Vec<ConstTemplate> {
    let bytes = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\'' && bytes[i] != b'"' {
            i += 1;
            continue;
        }
        let Some((end, text)) = read_literal(expr, i) else { break };
        if super::Templar::is_template(&text) && !is_lookup_name(&expr[..i]) {
            out.push(ConstTemplate { range: i..end, text });
        }
        i = end;
    }
    out
}

/// The Jinja string literal starting at byte `start` (a quote): where it
/// ends (after the closing quote) and its value; None if unterminated.
pub(super) fn read_literal(expr: &str, start: usize) -> Option<(usize, String)> {
    let q = char::from(*expr.as_bytes().get(start)?);
    let mut text = String::new();
    let mut j = start + 1;
    while let Some(c) = expr[j..].chars().next() {
        if c == q {
            return Some((j + 1, text));
        }
        if c == '\\' {
            let next = expr[j + 1..].chars().next();
            match next {
                Some('n') => text.push('\n'),
                Some('t') => text.push('\t'),
                Some('r') => text.push('\r'),
                Some(n @ ('\\' | '\'' | '"')) => text.push(n),
                Some(n) => {
                    text.push('\\');
                    text.push(n);
                }
                None => text.push('\\'),
            }
            j += 1 + next.map(char::len_utf8).unwrap_or(0);
            continue;
        }
        text.push(c);
        j += c.len_utf8();
    }
    None
}

/// Does the text before a literal end in `lookup(`, `query(` or `q(`?
fn is_lookup_name(before: &str) -> bool {
    let b = before.trim_end();
    let Some(b) = b.strip_suffix('(') else { return false };
    is_lookup_call(b)
}

/// Does the text before a `(` name `lookup`, `query` or `q`?
pub(super) fn is_lookup_call(before_paren: &str) -> bool {
    let b = before_paren.trim_end();
    let name_start = b.rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.')).map(|p| p + 1).unwrap_or(0);
    matches!(&b[name_start..], "lookup" | "query" | "q")
}

/// `expr` with each constant template replaced by a variable bound to its
/// rendered value, and the scope holding those variables; None when the
/// expression has none.
pub fn bind_const_templates(templar: &super::Templar, expr: &str, scope: &Scope) -> Result<Option<(String, Scope)>, TemplateError> {
    let consts = const_templates(expr);
    if consts.is_empty() {
        return Ok(None);
    }
    let mut scope = scope.clone();
    let mut out = String::with_capacity(expr.len());
    let mut last = 0;
    for (n, c) in consts.iter().enumerate() {
        let value: Value = templar.render_value(&Value::String(c.text.clone()), &scope)?;
        let name = format!("__mailplay_const_{n}");
        out.push_str(&expr[last..c.range.start]);
        out.push_str(&name);
        last = c.range.end;
        scope.set(&name, value);
    }
    out.push_str(&expr[last..]);
    Ok(Some((out, scope)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deprecations_are_kept_only_while_collecting() {
        note_deprecation("dropped");
        let ((), noted) = with_deprecations(|| note_deprecation(AS_TEMPLATE_DEPRECATION));
        assert_eq!(noted, [AS_TEMPLATE_DEPRECATION]);
        let ((), noted) = with_deprecations(|| ());
        assert!(noted.is_empty());
    }

    #[test]
    fn all_templates_are_told_from_expressions() {
        assert!(is_possibly_all_template("{{ x }}"));
        assert!(is_possibly_all_template("{{ 'a' }} == {{ 'b' }}"));
        assert!(is_possibly_all_template("{% if x %}true{% endif %}"));
        assert!(!is_possibly_all_template("x == '{{ y }}'"));
        assert!(!is_possibly_all_template("\"dude\" == \"du{{'de'}}\""));
    }

    #[test]
    fn constant_templates_are_found_with_escapes_and_lookup_names_skipped() {
        let e = r#""dude" == "du{{'de'}}""#;
        let c = const_templates(e);
        assert_eq!(c.len(), 1);
        assert_eq!(&e[c[0].range.clone()], r#""du{{'de'}}""#);
        assert_eq!(c[0].text, "du{{'de'}}");
        let c = const_templates(r#"x == 'it\'s {{ y }}'"#);
        assert_eq!(c[0].text, "it's {{ y }}");
        assert!(const_templates("lookup('{{ \"pipe\" }}', 'x')").is_empty());
        assert_eq!(const_templates("lookup('pipe', 'echo {{ \"dude\" }}')").len(), 1);
        assert!(const_templates("a == 'b' and c").is_empty());
        assert!(const_templates("'unterminated {{ x }}").is_empty());
    }

    #[test]
    fn rendered_strings_must_be_text_the_user_wrote() {
        assert_eq!(trusted_expression(" ".into()).unwrap_err(), empty_error());
        assert_eq!(trusted_expression("cond_t_never_written == 1".into()).unwrap_err().message, UNTRUSTED);
        super::super::trust::remember("cond_t_written == 1");
        assert_eq!(trusted_expression("cond_t_written == 1".into()).unwrap(), "cond_t_written == 1");
    }
}
