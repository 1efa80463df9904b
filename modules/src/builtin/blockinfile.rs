//! `blockinfile`: a block of lines between marker lines, inserted, updated
//! or removed; a pure edit of the text like Ansible's, written atomically.

use async_trait::async_trait;
use serde::Deserialize;

use crate::args::{loose_bool, loose_opt_string, loose_string};
use crate::module::{ArgDoc, Context, Module, ModuleDoc, ModuleError, ModuleResult};

use super::copy::DestArgs;
use super::text_edit::{apply_edit, plan_edit, read_text_resolved, BackupKey, EditPlan, EditState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockArgs {
    #[serde(alias = "dest", alias = "destfile", alias = "name", deserialize_with = "loose_string")]
    pub path: String,
    #[serde(default, alias = "content", deserialize_with = "loose_string")]
    pub block: String,
    #[serde(default = "default_marker", deserialize_with = "loose_string")]
    pub marker: String,
    #[serde(default = "begin", deserialize_with = "loose_string")]
    pub marker_begin: String,
    #[serde(default = "end", deserialize_with = "loose_string")]
    pub marker_end: String,
    #[serde(default = "present", deserialize_with = "loose_string")]
    pub state: String,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub insertafter: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub insertbefore: Option<String>,
    #[serde(default, deserialize_with = "loose_bool")]
    pub create: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    pub append_newline: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    pub prepend_newline: bool,
    #[serde(flatten)]
    pub common: DestArgs,
}

fn default_marker() -> String {
    "# {mark} ANSIBLE MANAGED BLOCK".into()
}
fn begin() -> String {
    "BEGIN".into()
}
fn end() -> String {
    "END".into()
}
fn present() -> String {
    "present".into()
}

/// A pattern with the multi-line flag (`(?m)` at its start, as Python
/// requires global flags) is searched in the whole text, not line by line.
fn is_multiline(pattern: &str) -> bool {
    pattern.strip_prefix("(?").and_then(|r| r.split([')', ':']).next()).is_some_and(|flags| flags.contains('m') && !flags.contains('-'))
}

fn multiline_match<'t>(re: &regex::Regex, pattern: &str, text: &'t str) -> Option<regex::Match<'t>> {
    is_multiline(pattern).then(|| re.find(text)).flatten()
}

/// Ansible's blockinfile edit. Returns the new text and the message.
pub fn edit(text: Option<&str>, a: &BlockArgs) -> Result<(String, String), String> {
    let marker0 = a.marker.replace("{mark}", &a.marker_begin);
    let marker1 = a.marker.replace("{mark}", &a.marker_end);
    let original = text.unwrap_or("");
    let mut lines: Vec<String> = original.split_inclusive('\n').map(str::to_string).collect();
    let block_lines: Vec<String> = if a.state == "present" && !a.block.is_empty() {
        let mut b = vec![marker0.clone()];
        b.extend(a.block.trim_end_matches('\n').split('\n').map(str::to_string));
        b.push(marker1.clone());
        b
    } else {
        Vec::new()
    };
    let strip = |l: &str| l.trim_end_matches(['\r', '\n']).to_string();
    let n0 = lines.iter().position(|l| strip(l) == marker0);
    let n1 = lines.iter().position(|l| strip(l) == marker1);
    let mut at = match (n0, n1) {
        (Some(a0), Some(a1)) => {
            let (lo, hi) = if a0 < a1 { (a0, a1) } else { (a1, a0) };
            lines.drain(lo..=hi);
            lo
        }
        _ => {
            let re = |p: &str| regex::Regex::new(p).map_err(|e| format!("invalid regular expression '{p}': {e}"));
            match (&a.insertbefore, &a.insertafter) {
                (Some(b), _) if b == "BOF" => 0,
                (Some(b), _) => {
                    let r = re(b)?;
                    match multiline_match(&r, b, original) {
                        Some(m) => original[..m.start()].matches('\n').count(),
                        None if is_multiline(b) => lines.len(),
                        None => lines.iter().rposition(|l| py_search(&r, l).is_some()).unwrap_or(lines.len()),
                    }
                }
                (None, Some(x)) if x != "EOF" => {
                    let r = re(x)?;
                    match multiline_match(&r, x, original) {
                        Some(m) => original[..m.end()].matches('\n').count() + 1,
                        None if is_multiline(x) => lines.len(),
                        None => lines.iter().rposition(|l| py_search(&r, l).is_some()).map(|i| i + 1).unwrap_or(lines.len()),
                    }
                }
                _ => lines.len(),
            }
        }
    };
    if at > 0 && !block_lines.is_empty() && !lines[at - 1].ends_with('\n') {
        lines[at - 1].push('\n');
    }
    if !block_lines.is_empty() {
        let mut insert: Vec<String> = Vec::new();
        // As Ansible: a blank line before/after the block unless one is
        // already there (so a second run changes nothing).
        if a.prepend_newline && at > 0 && lines[at - 1] != "\n" {
            insert.push("\n".into());
        }
        insert.extend(block_lines.iter().map(|l| format!("{l}\n")));
        if a.append_newline && at < lines.len() && lines[at] != "\n" {
            insert.push("\n".into());
        }
        let n = insert.len();
        lines.splice(at..at, insert);
        at += n;
    }
    let _ = at;
    let result = lines.concat();
    let msg = if result == original {
        String::new()
    } else if text.is_none() {
        "File created".into()
    } else if block_lines.is_empty() {
        "Block removed".into()
    } else {
        "Block inserted".into()
    };
    Ok((result, msg))
}

pub struct BlockInFileModule;

#[async_trait]
impl Module for BlockInFileModule {
    type Args = BlockArgs;
    type State = EditState;
    type Plan = EditPlan;
    const NAME: &'static str = "blockinfile";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Insert, update or remove a block of lines between marker lines.",
            args: vec![
                ArgDoc { name: "path", ty: "path", required: true, default: None, description: "The file." },
                ArgDoc { name: "block", ty: "string", required: false, default: Some("\"\""), description: "The lines to put between the markers." },
                ArgDoc { name: "marker", ty: "string", required: false, default: Some("# {mark} ANSIBLE MANAGED BLOCK"), description: "Marker line template; {mark} becomes BEGIN/END." },
                ArgDoc { name: "state", ty: "string", required: false, default: Some("present"), description: "present or absent." },
                ArgDoc { name: "insertafter", ty: "string", required: false, default: Some("EOF"), description: "EOF or a regex (last match)." },
                ArgDoc { name: "insertbefore", ty: "string", required: false, default: None, description: "BOF or a regex (last match)." },
                ArgDoc { name: "create", ty: "bool", required: false, default: Some("false"), description: "Create the file if missing." },
            ],
            example: "- blockinfile:\n    path: /etc/rspamd/local.d/milter_headers.conf\n    create: yes\n    block: |\n      extended_spam_headers = true;",
        }
    }

    fn validate(a: &BlockArgs) -> Result<(), String> {
        if a.state != "present" && a.state != "absent" {
            return Err(format!("value of state must be one of: absent, present, got: {}", a.state));
        }
        if a.insertafter.is_some() && a.insertbefore.is_some() {
            return Err("parameters are mutually exclusive: insertafter|insertbefore".into());
        }
        a.common.refuse_unsupported()?;
        super::text_edit::refuse_copy_only(&a.common, "blockinfile")?;
        a.common.wanted().map(|_| ())
    }

    /// Ansible's `type='path'`: `~` and `$VAR` expand on the target.
    async fn resolve(a: &mut BlockArgs, ctx: &Context<'_>) -> Result<(), ModuleError> {
        super::command_expand::expand_path(ctx.host, &mut a.path).await?;
        Ok(())
    }

    async fn probe(a: &BlockArgs, ctx: &Context<'_>) -> Result<EditState, ModuleError> {
        let (path, st, text) = read_text_resolved(ctx.host, &a.path).await?;
        let (new_text, msg) = edit(text.as_deref(), a).map_err(ModuleError::failed)?;
        let mut s = EditState::new(&path, st, text, new_text, msg);
        super::text_edit::note_made_by_package(ctx, &mut s);
        Ok(s)
    }

    fn plan(a: &BlockArgs, s: &EditState) -> Result<EditPlan, ModuleError> {
        plan_edit(&a.common, s, a.state == "absent", a.create, "File not present", format!("Path {} does not exist !", a.path))
    }

    async fn apply(a: &BlockArgs, plan: EditPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        apply_edit(&a.common, plan, ctx, BackupKey::BackupFile).await
    }

    fn unchanged_result(_a: &BlockArgs, s: &EditState) -> ModuleResult {
        ModuleResult::ok().with_msg(if s.exists { "" } else { "File not present" })
    }
}

/// Python's `re.search` on a line with its newline: `$` also matches just
/// before a final `\n`, which Rust's `$` does not; so a pattern that fails
/// on the whole line is tried without that newline.
fn py_search<'a>(re: &regex::Regex, line: &'a str) -> Option<&'a str> {
    if re.is_match(line) {
        return Some(line);
    }
    line.strip_suffix('\n').filter(|l| re.is_match(l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::{json, Value};

    fn a(v: Value) -> BlockArgs {
        parse_args("blockinfile", &v).unwrap()
    }

    #[test]
    fn inserts_updates_and_removes() {
        let (t, m) = edit(Some("keep\n"), &a(json!({"path": "f", "block": "x=1"}))).unwrap();
        assert_eq!(t, "keep\n# BEGIN ANSIBLE MANAGED BLOCK\nx=1\n# END ANSIBLE MANAGED BLOCK\n");
        assert_eq!(m, "Block inserted");
        let (t2, m2) = edit(Some(&t), &a(json!({"path": "f", "block": "x=1"}))).unwrap();
        assert_eq!((t2.as_str(), m2.as_str()), (t.as_str(), ""));
        let (t3, _) = edit(Some(&t), &a(json!({"path": "f", "block": "x=2\ny=3\n"}))).unwrap();
        assert_eq!(t3, "keep\n# BEGIN ANSIBLE MANAGED BLOCK\nx=2\ny=3\n# END ANSIBLE MANAGED BLOCK\n");
        let (t4, m4) = edit(Some(&t3), &a(json!({"path": "f", "state": "absent"}))).unwrap();
        assert_eq!((t4.as_str(), m4.as_str()), ("keep\n", "Block removed"));
    }

    #[test]
    fn placement_and_creation() {
        let (t, _) = edit(Some("a\nb\n"), &a(json!({"path": "f", "block": "x", "insertbefore": "BOF", "marker": "## {mark}"}))).unwrap();
        assert_eq!(t, "## BEGIN\nx\n## END\na\nb\n");
        let (t, _) = edit(Some("a\nb"), &a(json!({"path": "f", "block": "x", "insertafter": "^a", "marker": "## {mark}"}))).unwrap();
        assert_eq!(t, "a\n## BEGIN\nx\n## END\nb");
        let (t, m) = edit(None, &a(json!({"path": "f", "block": "x", "marker": "## {mark}"}))).unwrap();
        assert_eq!((t.as_str(), m.as_str()), ("## BEGIN\nx\n## END\n", "File created"));
    }

    /// As ansible-core 2.19: `$` matches before a line's newline, and a
    /// `(?m)` pattern is searched across lines (the upstream target's
    /// multiline_search).
    #[test]
    fn python_anchors_and_multiline_patterns() {
        let text = "L =\n  (S =\n    x\nM =\n  (S =\n";
        let (t, _) =
            edit(Some(text), &a(json!({"path": "f", "block": "b", "insertafter": "(?m)L =\n.*\\(S =", "marker": "#{mark}"}))).unwrap();
        assert_eq!(t, "L =\n  (S =\n#BEGIN\nb\n#END\n    x\nM =\n  (S =\n");
        let (t, _) = edit(Some(text), &a(json!({"path": "f", "block": "b", "insertbefore": "(?m)^M =$", "marker": "#{mark}"}))).unwrap();
        assert_eq!(t, "L =\n  (S =\n    x\n#BEGIN\nb\n#END\nM =\n  (S =\n");
        let (t, _) = edit(Some("a\nb\n"), &a(json!({"path": "f", "block": "x", "insertafter": "^a$", "marker": "#{mark}"}))).unwrap();
        assert_eq!(t, "a\n#BEGIN\nx\n#END\nb\n");
    }

    /// append_newline/prepend_newline add a blank line only where there is
    /// none, so a second run changes nothing (as Ansible's module).
    #[test]
    fn blank_lines_around_the_block_once() {
        let args =
            a(json!({"path": "f", "block": "x", "insertafter": "a", "marker": "#{mark}", "append_newline": true, "prepend_newline": true}));
        let (t, _) = edit(Some("a\nb\n"), &args).unwrap();
        assert_eq!(t, "a\n\n#BEGIN\nx\n#END\n\nb\n");
        let (t2, m2) = edit(Some(&t), &args).unwrap();
        assert_eq!((t2.as_str(), m2.as_str()), (t.as_str(), ""));
    }
}
