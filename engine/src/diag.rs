//! Errors that point into a source file: `file:line:column`, the message,
//! and a snippet of the offending line with a caret, like a compiler.
//!
//! Every user-facing parse error (YAML, Jinja, inventory, module args)
//! becomes a `Diagnostic`; the CLI prints it and picks the exit code.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A position in a source file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pos {
    pub file: Option<Arc<PathBuf>>,
    pub line: u32,
    pub column: u32,
}

impl Pos {
    pub fn new(file: &Arc<PathBuf>, line: u32, column: u32) -> Self {
        Pos { file: Some(file.clone()), line, column }
    }
    pub fn unknown() -> Self {
        Pos::default()
    }
    pub fn is_known(&self) -> bool {
        self.line > 0
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) if self.line > 0 => write!(f, "{}:{}:{}", file.display(), self.line, self.column),
            Some(file) => write!(f, "{}", file.display()),
            None => write!(f, "<unknown>"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub pos: Pos,
    pub message: String,
    /// Optional extra line, e.g. "did you mean 'dest'?".
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic { pos, message: message.into(), help: None }
    }
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    pub fn in_file(file: &Path, message: impl Into<String>) -> Self {
        Diagnostic::new(Pos { file: Some(Arc::new(file.to_path_buf())), line: 0, column: 0 }, message)
    }

    /// The full report: position, message, snippet with caret, help.
    pub fn render(&self) -> String {
        let mut out = format!("{}: {}", self.pos, self.message);
        if let Some(snippet) = self.snippet() {
            out.push('\n');
            out.push_str(&snippet);
        }
        if let Some(help) = &self.help {
            out.push_str(&format!("\n  = help: {help}"));
        }
        out
    }

    fn snippet(&self) -> Option<String> {
        let file = self.pos.file.as_ref()?;
        if self.pos.line == 0 {
            return None;
        }
        let text = std::fs::read_to_string(file.as_ref()).ok()?;
        // The file is a vault: its lines are ciphertext, not what the
        // position refers to (and the plaintext must not be shown).
        if crate::vault::is_encrypted(text.as_bytes()) {
            return None;
        }
        Some(snippet_of(&text, self.pos.line, self.pos.column))
    }
}

/// Two lines of context before the line, the line, and a caret under the column.
pub fn snippet_of(text: &str, line: u32, column: u32) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let idx = (line as usize).saturating_sub(1);
    let first = idx.saturating_sub(2);
    let width = (idx + 1).to_string().len();
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate().take(idx + 1).skip(first) {
        out.push_str(&format!("{:>width$} | {}\n", i + 1, l));
    }
    let pad = " ".repeat(width);
    out.push_str(&format!("{pad} | {}^", " ".repeat((column as usize).saturating_sub(1))));
    out
}

/// Where a task failed, as ansible-core 2.19 shows it under `[ERROR]:`
/// (`_error_utils.SourceContext`): `Origin: file:line:col`, then two lines
/// of context and the line, each after its right-aligned number, and a
/// `^ column N` marker. Lines longer than 120 characters are cut with `...`.
pub fn ansible_origin(pos: &Pos) -> Option<String> {
    let file = pos.file.as_ref()?;
    let shown = std::path::absolute(file.as_ref()).unwrap_or_else(|_| file.as_ref().clone());
    let mut out = format!("Origin: {}:{}:{}", shown.display(), pos.line, pos.column);
    if pos.line == 0 {
        return Some(out);
    }
    let Ok(text) = std::fs::read_to_string(file.as_ref()) else { return Some(out) };
    if crate::vault::is_encrypted(text.as_bytes()) {
        return Some(out);
    }
    let target = pos.line as usize;
    let lines: Vec<&str> = text.split('\n').collect();
    if lines.len() < target {
        return Some(out);
    }
    let width = target.to_string().len();
    let max_len = 120 - width - 1;
    let mut usable = max_len;
    out.push('\n');
    for (n, line) in lines.iter().enumerate().take(target).skip(target.saturating_sub(3)) {
        let mut line = line.replace('\t', " ");
        if line.chars().count() > max_len {
            line = line.chars().take(max_len - 3).collect::<String>() + "...";
            usable = max_len - 3;
        }
        let sep = if line.is_empty() { "" } else { " " };
        out.push_str(&format!("\n{:>width$}{sep}{line}", n + 1));
    }
    let col = pos.column as usize;
    if col >= 1 && usable >= col {
        let marker = format!("column {col}");
        let marker = if col - 1 + 2 + marker.len() > max_len {
            format!("{}{marker} ^", " ".repeat((col - 1).saturating_sub(marker.len() + 1)))
        } else {
            format!("{}^ {marker}", " ".repeat(col - 1))
        };
        out.push_str(&format!("\n{} {marker}", " ".repeat(width)));
    }
    Some(out)
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for Diagnostic {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansible_origin_numbers_the_lines_and_marks_the_column() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.yml");
        std::fs::write(&f, "- hosts: x\n  tasks:\n\n    - fail:\n").unwrap();
        let pos = Pos::new(&Arc::new(f.clone()), 4, 7);
        let want = format!("Origin: {}:4:7\n\n2   tasks:\n3\n4     - fail:\n        ^ column 7", f.display());
        assert_eq!(ansible_origin(&pos).unwrap(), want);
    }

    #[test]
    fn snippet_points_at_the_column() {
        let s = snippet_of("a: 1\nb: 2\nc: [\n", 3, 4);
        assert_eq!(s, "1 | a: 1\n2 | b: 2\n3 | c: [\n  |    ^");
    }
}
