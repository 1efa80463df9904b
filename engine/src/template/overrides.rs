//! Jinja settings a template may change for itself: the template module's
//! and the template lookup's `variable_start_string`, `block_*`,
//! `comment_*`, `trim_blocks`, `lstrip_blocks` and `newline_sequence`
//! (Ansible's `TemplateOverrides`), and Ansible's handling of a template's
//! trailing newlines, which every top-level render shares.

use std::borrow::Cow;

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, Error, ErrorKind};

/// Ansible's defaults are Jinja's, except `trim_blocks`, which is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateOverrides {
    pub variable_start_string: String,
    pub variable_end_string: String,
    pub block_start_string: String,
    pub block_end_string: String,
    pub comment_start_string: String,
    pub comment_end_string: String,
    pub trim_blocks: bool,
    pub lstrip_blocks: bool,
    /// `\n`, `\r` or `\r\n`: what the template's own line breaks become.
    pub newline_sequence: String,
}

impl Default for TemplateOverrides {
    fn default() -> Self {
        TemplateOverrides {
            variable_start_string: "{{".into(),
            variable_end_string: "}}".into(),
            block_start_string: "{%".into(),
            block_end_string: "%}".into(),
            comment_start_string: "{#".into(),
            comment_end_string: "#}".into(),
            trim_blocks: true,
            lstrip_blocks: false,
            newline_sequence: "\n".into(),
        }
    }
}

/// The settings of the shared environment: Ansible's defaults. Jinja drops
/// one trailing newline of every template (included ones too); a top-level
/// render puts the source's trailing newlines back ([`preserve_trailing_newlines`]).
pub(super) fn default_syntax() -> SyntaxConfig {
    TemplateOverrides::default().syntax().expect("Ansible's default syntax is valid")
}

impl TemplateOverrides {
    fn syntax(&self) -> Result<SyntaxConfig, Error> {
        SyntaxConfig::builder()
            .variable_delimiters(self.variable_start_string.clone(), self.variable_end_string.clone())
            .block_delimiters(self.block_start_string.clone(), self.block_end_string.clone())
            .comment_delimiters(self.comment_start_string.clone(), self.comment_end_string.clone())
            .trim_blocks(self.trim_blocks)
            .lstrip_blocks(self.lstrip_blocks)
            .keep_trailing_newline(false)
            .build()
    }

    /// Checks `newline_sequence` as Ansible's template module does.
    pub fn check(&self) -> Result<(), String> {
        if !["\n", "\r", "\r\n"].contains(&self.newline_sequence.as_str()) {
            return Err("newline_sequence needs to be one of: \n, \r or \r\n".into());
        }
        for (name, s) in [
            ("variable_start_string", &self.variable_start_string),
            ("variable_end_string", &self.variable_end_string),
            ("block_start_string", &self.block_start_string),
            ("block_end_string", &self.block_end_string),
            ("comment_start_string", &self.comment_start_string),
            ("comment_end_string", &self.comment_end_string),
        ] {
            if s.is_empty() {
                return Err(format!("{name} must not be empty"));
            }
        }
        Ok(())
    }

    /// The shared environment, or a copy with these settings (filters and
    /// lookups are shared; only the syntax differs).
    pub(super) fn environment(&self, shared: &'static Environment<'static>) -> Result<Cow<'static, Environment<'static>>, Error> {
        if *self == TemplateOverrides::default() {
            return Ok(Cow::Borrowed(shared));
        }
        self.check().map_err(|m| Error::new(ErrorKind::InvalidOperation, m))?;
        let mut env = shared.clone();
        env.set_syntax(self.syntax()?);
        Ok(Cow::Owned(env))
    }

    /// Jinja's `newline_sequence`: the template's own line breaks, not
    /// those inside values, become the sequence. Applied to the source.
    pub(super) fn apply_newlines<'a>(&self, source: &'a str) -> Cow<'a, str> {
        if self.newline_sequence == "\n" && !source.contains('\r') {
            return Cow::Borrowed(source);
        }
        let unified = source.replace("\r\n", "\n").replace('\r', "\n");
        Cow::Owned(if self.newline_sequence == "\n" { unified } else { unified.replace('\n', &self.newline_sequence) })
    }
}

/// Ansible (`_post_render_mutation`): Jinja drops a template's final
/// newline, so a top-level render adds back as many newlines as the source
/// ended with beyond those the result ends with. Included templates keep
/// Jinja's behaviour (`Hello {% include 'world.txt' %}!` has no break).
pub fn preserve_trailing_newlines(source: &str, mut result: String, newline: &str) -> String {
    let count = |s: &str| {
        let mut n = 0;
        let mut rest = s;
        loop {
            if let Some(r) = rest.strip_suffix("\r\n") {
                rest = r;
            } else if let Some(r) = rest.strip_suffix('\n').or_else(|| rest.strip_suffix('\r')) {
                rest = r;
            } else {
                return n;
            }
            n += 1;
        }
    };
    let (want, have) = (count(source), count(&result));
    if want > have {
        result.push_str(&newline.repeat(want - have));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_newlines_come_back_as_many_as_the_source_had() {
        assert_eq!(preserve_trailing_newlines("a\n\n", "a".into(), "\n"), "a\n\n");
        assert_eq!(preserve_trailing_newlines("{% if x %}\na\n{% endif %}\n", "a\n".into(), "\n"), "a\n");
        assert_eq!(preserve_trailing_newlines("{{ x }}", "a\n".into(), "\n"), "a\n");
        assert_eq!(preserve_trailing_newlines("x\r\n", "x".into(), "\r\n"), "x\r\n");
    }

    #[test]
    fn newline_sequence_is_checked_and_applied() {
        let crlf = TemplateOverrides { newline_sequence: "\r\n".into(), ..Default::default() };
        assert_eq!(crlf.apply_newlines("a\nb\r\n"), "a\r\nb\r\n");
        let bad = TemplateOverrides { newline_sequence: "x".into(), ..Default::default() };
        assert!(bad.check().is_err());
    }
}
