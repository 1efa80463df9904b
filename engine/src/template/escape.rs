//! Ansible's `escape_backslashes` (its `AnsibleLexer`): in a template
//! string from a playbook or vars file, the backslashes of string
//! constants inside `{{ }}` are doubled before Jinja reads its escapes, so
//! they reach filters as YAML gave them: `"{{ x | regex_replace('(a)',
//! '\\1') }}"` passes `\1`, not the character `\x01`. Not applied to
//! `{% %}` statements, to conditionals, nor to template files, as in
//! Ansible.

use std::borrow::Cow;

/// `source` (a template) with the string constants inside `{{ }}` escaped.
pub fn in_template(source: &str) -> Cow<'_, str> {
    escape(source, false)
}

/// `expr` (the inside of one `{{ }}`) with its string constants escaped.
pub fn in_expression(expr: &str) -> Cow<'_, str> {
    escape(expr, true)
}

fn escape(source: &str, mut in_variable: bool) -> Cow<'_, str> {
    if !source.contains('\\') {
        return Cow::Borrowed(source);
    }
    let mut out = String::with_capacity(source.len() + 8);
    let mut chars = source.chars().peekable();
    // Open brackets inside `{{ }}`: a `}}` closes the variable only at 0.
    let mut depth = 0usize;
    while let Some(c) = chars.next() {
        if !in_variable {
            out.push(c);
            if c == '{' && chars.peek() == Some(&'{') {
                out.push(chars.next().unwrap_or('{'));
                in_variable = true;
                depth = 0;
            }
            continue;
        }
        match c {
            '}' if depth == 0 && chars.peek() == Some(&'}') => {
                out.push(c);
                out.push(chars.next().unwrap_or('}'));
                in_variable = false;
            }
            '(' | '[' | '{' => {
                depth += 1;
                out.push(c);
            }
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                out.push(c);
            }
            '\'' | '"' => {
                // Jinja's string token: a backslash escapes the next character.
                out.push(c);
                while let Some(d) = chars.next() {
                    if d == '\\' {
                        out.push_str("\\\\");
                        match chars.next() {
                            Some('\\') => out.push_str("\\\\"),
                            Some(e) => out.push(e),
                            None => {}
                        }
                        continue;
                    }
                    out.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            other => out.push(other),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_string_constants_inside_variables_are_escaped() {
        assert_eq!(in_template(r"a\1 {{ x | f('\1', 'b') }} \2"), r"a\1 {{ x | f('\\1', 'b') }} \2");
        assert_eq!(in_template(r"{% set y = '\1' %}{{ '\t' }}"), r"{% set y = '\1' %}{{ '\\t' }}");
        assert_eq!(in_template(r#"{{ {'a': {'b': "\\"}} }} \x"#), r#"{{ {'a': {'b': "\\\\"}} }} \x"#);
        assert_eq!(in_template(r"{{ 'it\'s' }}"), r"{{ 'it\\'s' }}");
        assert_eq!(in_expression(r"x | regex_search('(a)', '\1')"), r"x | regex_search('(a)', '\\1')");
        assert!(matches!(in_template("{{ 'no backslash' }}"), Cow::Borrowed(_)));
    }
}
