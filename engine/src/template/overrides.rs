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
    /// A line starting with it is a statement (`# for x in y`); none by default.
    pub line_statement_prefix: Option<String>,
    /// A line starting with it is a comment; none by default.
    pub line_comment_prefix: Option<String>,
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
            line_statement_prefix: None,
            line_comment_prefix: None,
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
        let mut b = SyntaxConfig::builder();
        b.variable_delimiters(self.variable_start_string.clone(), self.variable_end_string.clone())
            .block_delimiters(self.block_start_string.clone(), self.block_end_string.clone())
            .comment_delimiters(self.comment_start_string.clone(), self.comment_end_string.clone())
            .trim_blocks(self.trim_blocks)
            .lstrip_blocks(self.lstrip_blocks)
            .keep_trailing_newline(false);
        if let Some(p) = &self.line_statement_prefix {
            b.line_statement_prefix(p.clone());
        }
        if let Some(p) = &self.line_comment_prefix {
            b.line_comment_prefix(p.clone());
        }
        b.build()
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

/// A template's own first line `#jinja2: key: 'value', ...` (Ansible's
/// `_extract_template_overrides`): settings for this template, over `base`;
/// the rest of the text is the template.
pub fn extract_header<'a>(text: &'a str, base: &TemplateOverrides) -> Result<(&'a str, TemplateOverrides), String> {
    const HEADER: &str = "#jinja2:";
    let Some(rest) = text.strip_prefix(HEADER) else { return Ok((text, base.clone())) };
    let eol = rest.find('\n').ok_or_else(|| format!("Missing newline after {HEADER:?} override."))?;
    let (line, body) = (&rest[..eol], &rest[eol + 1..]);
    let mut o = base.clone();
    for pair in line.split(',') {
        if pair.trim().is_empty() {
            return Err(format!("Empty {HEADER:?} override pair not allowed."));
        }
        let (key, val) =
            pair.split_once(':').ok_or_else(|| format!("Missing key-value separator `:` in {HEADER:?} override pair {pair:?}."))?;
        let val = literal(val.trim()).ok_or_else(|| format!("Invalid {HEADER:?} override value {:?}.", val.trim()))?;
        let text = || match &val {
            Literal::Str(s) => Ok(s.clone()),
            Literal::Bool(_) => Err(format!("{HEADER:?} override {} must be a string", key.trim())),
        };
        let flag = || match &val {
            Literal::Bool(b) => Ok(*b),
            Literal::Str(_) => Err(format!("{HEADER:?} override {} must be True or False", key.trim())),
        };
        match key.trim() {
            "variable_start_string" => o.variable_start_string = text()?,
            "variable_end_string" => o.variable_end_string = text()?,
            "block_start_string" => o.block_start_string = text()?,
            "block_end_string" => o.block_end_string = text()?,
            "comment_start_string" => o.comment_start_string = text()?,
            "comment_end_string" => o.comment_end_string = text()?,
            "newline_sequence" => o.newline_sequence = text()?,
            "line_statement_prefix" => o.line_statement_prefix = Some(text()?),
            "line_comment_prefix" => o.line_comment_prefix = Some(text()?),
            "trim_blocks" => o.trim_blocks = flag()?,
            "lstrip_blocks" => o.lstrip_blocks = flag()?,
            other => return Err(format!("Invalid {HEADER:?} override key {other:?}.")),
        }
    }
    Ok((body, o))
}

enum Literal {
    Str(String),
    Bool(bool),
}

/// The Python literals a header value may be (`ast.literal_eval`): a
/// quoted string (with its backslash escapes) or True/False.
fn literal(v: &str) -> Option<Literal> {
    match v {
        "True" => return Some(Literal::Bool(true)),
        "False" => return Some(Literal::Bool(false)),
        _ => {}
    }
    let quote = v.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = v.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            other => out.push(other),
        }
    }
    Some(Literal::Str(out))
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
    fn a_jinja2_header_sets_the_templates_own_options() {
        let (body, o) = extract_header(
            "#jinja2:variable_start_string:'<<' , variable_end_string:'>>', trim_blocks: False\nx << y >>\n",
            &TemplateOverrides::default(),
        )
        .unwrap();
        assert_eq!(body, "x << y >>\n");
        assert_eq!((o.variable_start_string.as_str(), o.variable_end_string.as_str(), o.trim_blocks), ("<<", ">>", false));
        assert!(extract_header("#jinja2:nope:'x'\n", &TemplateOverrides::default()).is_err());
        assert_eq!(extract_header("no header", &TemplateOverrides::default()).unwrap().0, "no header");
    }

    #[test]
    fn newline_sequence_is_checked_and_applied() {
        let crlf = TemplateOverrides { newline_sequence: "\r\n".into(), ..Default::default() };
        assert_eq!(crlf.apply_newlines("a\nb\r\n"), "a\r\nb\r\n");
        let bad = TemplateOverrides { newline_sequence: "x".into(), ..Default::default() };
        assert!(bad.check().is_err());
    }
}
