//! Bounds on template text that minijinja itself does not keep within a
//! thread's stack: its parser recurses per nested call, list, dict or
//! parenthesis, and at about 100 nested calls overflows the 2 MiB stack of
//! a tokio worker in a debug build (release frames are smaller). Its own
//! guard (150 levels) comes too late for calls, so mailplay refuses text
//! nested deeper than [`MAX_NESTING`] brackets before parsing it.

use super::TemplateError;

/// Brackets (`(`, `[`, `{`, the `{{`/`{%` delimiters included) open at once.
pub const MAX_NESTING: usize = 64;

/// How many variables may be resolved inside one another (`a: "{{ b }}"`,
/// `b: "{{ c }}"`, ...): each is a render on the same stack.
pub const MAX_VARIABLE_DEPTH: usize = 32;

/// An error naming the line where the text first nests too deep.
pub fn check_nesting(text: &str) -> Result<(), TemplateError> {
    let mut depth = 0usize;
    let mut line = 1u32;
    for b in text.bytes() {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(TemplateError {
                        message: format!(
                            "template nests brackets deeper than {MAX_NESTING} levels (line {line}); mailplay refuses it before parsing"
                        ),
                        line: Some(line),
                        undefined: false,
                    });
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'\n' => line += 1,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_counted_across_delimiters_and_lines() {
        assert!(check_nesting(&format!("{{{{ {}1{} }}}}", "f(".repeat(60), ")".repeat(60))).is_ok());
        let e = check_nesting(&format!("a\n{{{{ {}1{} }}}}", "f(".repeat(70), ")".repeat(70))).unwrap_err();
        assert_eq!(e.line, Some(2));
        // Closed brackets do not add up.
        assert!(check_nesting(&"{{ f(1) }}\n".repeat(1000)).is_ok());
    }
}
