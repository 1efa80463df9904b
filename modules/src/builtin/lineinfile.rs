//! `lineinfile`: make sure one line is (or is not) in a file. The editing
//! is a pure function of the file's text, following Ansible's algorithm
//! line for line; writing goes through `copy`'s atomic destination code.

use async_trait::async_trait;
use serde::Deserialize;

use crate::args::{loose_bool, loose_opt_string, loose_string};
use crate::module::{ArgDoc, Context, Module, ModuleDoc, ModuleError, ModuleResult, Plan};

use super::copy::DestArgs;
use super::py_re::{expand, PyRe};
use super::text_edit::{apply_edit, plan_edit, read_text_resolved, BackupKey, EditPlan, EditState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineArgs {
    #[serde(alias = "dest", alias = "destfile", alias = "name", deserialize_with = "loose_string")]
    pub path: String,
    #[serde(default, alias = "regex", deserialize_with = "loose_opt_string")]
    pub regexp: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub search_string: Option<String>,
    #[serde(default, alias = "value", deserialize_with = "loose_opt_string")]
    pub line: Option<String>,
    #[serde(default = "present", deserialize_with = "loose_string")]
    pub state: String,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub insertafter: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub insertbefore: Option<String>,
    #[serde(default, deserialize_with = "loose_bool")]
    pub create: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    pub backrefs: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    pub firstmatch: bool,
    #[serde(flatten)]
    pub common: DestArgs,
}

fn present() -> String {
    "present".into()
}

/// The edit of a file's text: new text (None = file must not be created)
/// and Ansible's message.
#[derive(Debug, PartialEq)]
pub struct Edit {
    pub text: String,
    pub changed: bool,
    pub msg: String,
}

fn compile(re: &str) -> Result<PyRe, String> {
    PyRe::new(re)
}

/// Lines with their endings, like Python's `splitlines(True)`.
fn lines_keepends(text: &str) -> Vec<String> {
    text.split_inclusive('\n').map(str::to_string).collect()
}

fn strip_eol(l: &str) -> &str {
    l.trim_end_matches(['\n', '\r'])
}

fn found(re: &PyRe, line: &str) -> Result<bool, String> {
    Ok(re.search(line)?.is_some())
}

/// Ansible's `present()`, in its order: the regexp over all lines, then
/// the search string; only when neither matched, the exact line and the
/// insertafter/insertbefore anchor. An exact line found in that last pass
/// counts as the line to replace (so a second run after a replacement is
/// unchanged even though its regexp no longer matches).
pub fn edit_present(text: &str, a: &LineArgs) -> Result<Edit, String> {
    let line = a.line.clone().ok_or("line is required with state=present")?;
    let mut lines = lines_keepends(text);
    let bre_m = a.regexp.as_deref().map(compile).transpose()?;
    let bre_ins = match (&a.insertafter, &a.insertbefore) {
        (Some(x), _) if x != "BOF" && x != "EOF" => Some(compile(x)?),
        (None, Some(x)) if x != "BOF" => Some(compile(x)?),
        _ => None,
    };
    let mut index = [-1i64, -1i64];
    // Ansible's `match`: the last (or first) line the regexp or search string matched.
    let mut matched: Option<String> = None;
    if let Some(re) = &bre_m {
        for (n, cur) in lines.iter().enumerate() {
            if found(re, cur)? {
                index[0] = n as i64;
                matched = Some(cur.clone());
                if a.firstmatch {
                    break;
                }
            }
        }
    }
    if let Some(s) = &a.search_string {
        for (n, cur) in lines.iter().enumerate() {
            if cur.contains(s.as_str()) {
                index[0] = n as i64;
                matched = Some(cur.clone());
                if a.firstmatch {
                    break;
                }
            }
        }
    }
    if matched.is_none() {
        for (n, cur) in lines.iter().enumerate() {
            if line == strip_eol(cur) {
                index[0] = n as i64;
            } else if let Some(re) = &bre_ins {
                if found(re, cur)? {
                    if a.insertafter.is_some() {
                        index[1] = n as i64 + 1;
                        if a.firstmatch {
                            break;
                        }
                    }
                    if a.insertbefore.is_some() {
                        index[1] = n as i64;
                        if a.firstmatch {
                            break;
                        }
                    }
                }
            }
        }
    }
    let sep = "\n";
    let mut changed = false;
    let mut msg = String::new();
    let mut add = |lines: &mut Vec<String>, at: usize| {
        lines.insert(at, format!("{line}{sep}"));
        msg = "line added".into();
        changed = true;
    };
    if index[0] != -1 {
        let new_line = match (&bre_m, a.backrefs, &matched) {
            (Some(re), true, Some(m)) => match re.search(m)? {
                Some(c) => expand(&c, &line)?,
                None => line.clone(),
            },
            _ => line.clone(),
        };
        let new_line = if new_line.ends_with(sep) { new_line } else { format!("{new_line}{sep}") };
        let i = index[0] as usize;
        // (Ansible's branch for "no regexp, no search string, no exact line"
        // cannot be reached here: index[0] is only set by one of them.)
        if lines[i] != new_line {
            lines[i] = new_line;
            msg = "line replaced".into();
            changed = true;
        }
    } else if a.backrefs {
        // Nothing: without a match there is nothing to take backreferences from.
    } else if a.insertbefore.as_deref() == Some("BOF") || a.insertafter.as_deref() == Some("BOF") {
        add(&mut lines, 0);
    } else if a.insertafter.as_deref() == Some("EOF") || index[1] == -1 {
        if let Some(last) = lines.last_mut() {
            if !last.ends_with('\n') && !last.ends_with('\r') {
                last.push_str(sep);
            }
        }
        let end = lines.len();
        add(&mut lines, end);
    } else if a.insertafter.is_some() {
        let i = index[1] as usize;
        let neighbour = if lines.len() == i { i - 1 } else { i };
        if strip_eol(&lines[neighbour]) != line {
            add(&mut lines, i);
        }
    } else {
        add(&mut lines, index[1] as usize);
    }
    Ok(Edit { text: lines.concat(), changed, msg })
}

pub fn edit_absent(text: &str, a: &LineArgs) -> Result<Edit, String> {
    let re = a.regexp.as_deref().map(compile).transpose()?;
    let mut removed = 0;
    let mut kept = Vec::new();
    for cur in lines_keepends(text) {
        let m = if let Some(r) = &re {
            found(r, &cur)?
        } else if let Some(s) = &a.search_string {
            cur.contains(s.as_str())
        } else {
            a.line.as_deref() == Some(strip_eol(&cur))
        };
        if m {
            removed += 1;
        } else {
            kept.push(cur);
        }
    }
    Ok(Edit {
        text: kept.concat(),
        changed: removed > 0,
        msg: if removed > 0 { format!("{removed} line(s) removed") } else { String::new() },
    })
}

/// Ansible's warning for an empty `regexp` or `search_string`, which
/// matches every line (so the last line is replaced, not appended to).
fn empty_pattern_warning(a: &LineArgs) -> Option<String> {
    let name = if a.regexp.as_deref() == Some("") {
        "regular expression"
    } else if a.search_string.as_deref() == Some("") {
        "search string"
    } else {
        return None;
    };
    let mut msg = format!(
        "The {name} is an empty string, which will match every line in the file. \
         This may have unintended consequences, such as replacing the last line in the file rather than appending."
    );
    if name == "regular expression" {
        msg.push_str(" If this is desired, use '^' to match every line in the file and avoid this warning.");
    }
    Some(msg)
}

fn with_warnings(a: &LineArgs, r: ModuleResult) -> ModuleResult {
    match empty_pattern_warning(a) {
        Some(w) => r.with("warnings", vec![w]),
        None => r,
    }
}

pub struct LineInFileModule;

#[async_trait]
impl Module for LineInFileModule {
    type Args = LineArgs;
    type State = EditState;
    type Plan = EditPlan;
    const NAME: &'static str = "lineinfile";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Ensure a line is present in (or absent from) a text file.",
            args: vec![
                ArgDoc { name: "path", ty: "path", required: true, default: None, description: "The file (aliases dest, destfile, name)." },
                ArgDoc { name: "line", ty: "string", required: false, default: None, description: "The line to insert or replace with." },
                ArgDoc {
                    name: "regexp",
                    ty: "regex",
                    required: false,
                    default: None,
                    description: "Lines to replace (present) or remove (absent); the last match wins.",
                },
                ArgDoc {
                    name: "search_string",
                    ty: "string",
                    required: false,
                    default: None,
                    description: "Like regexp, a literal substring.",
                },
                ArgDoc { name: "state", ty: "string", required: false, default: Some("present"), description: "present or absent." },
                ArgDoc {
                    name: "insertafter",
                    ty: "string",
                    required: false,
                    default: Some("EOF"),
                    description: "EOF or a regex: insert after its last match.",
                },
                ArgDoc {
                    name: "insertbefore",
                    ty: "string",
                    required: false,
                    default: None,
                    description: "BOF or a regex: insert before its last match.",
                },
                ArgDoc {
                    name: "create",
                    ty: "bool",
                    required: false,
                    default: Some("false"),
                    description: "Create the file if it is missing.",
                },
                ArgDoc {
                    name: "backrefs",
                    ty: "bool",
                    required: false,
                    default: Some("false"),
                    description: "Expand \\1 in line from regexp; no change without a match.",
                },
                ArgDoc {
                    name: "firstmatch",
                    ty: "bool",
                    required: false,
                    default: Some("false"),
                    description: "Use the first match of regexp/insertafter instead of the last.",
                },
                ArgDoc { name: "mode", ty: "mode", required: false, default: None, description: "File mode." },
                ArgDoc {
                    name: "validate",
                    ty: "string",
                    required: false,
                    default: None,
                    description: "Command run on the new file (%s) before it replaces the old one.",
                },
            ],
            example: "- lineinfile:\n    path: /etc/default/saslauthd\n    regexp: '^START='\n    line: START=yes",
        }
    }

    fn validate(a: &LineArgs) -> Result<(), String> {
        if a.state != "present" && a.state != "absent" {
            return Err(format!("value of state must be one of: absent, present, got: {}", a.state));
        }
        if a.insertafter.is_some() && a.insertbefore.is_some() {
            return Err("parameters are mutually exclusive: insertafter|insertbefore".into());
        }
        if a.regexp.is_some() && a.search_string.is_some() {
            return Err("parameters are mutually exclusive: regexp|search_string".into());
        }
        if a.state == "present" && a.line.is_none() {
            return Err("state is present but all of the following are missing: line".into());
        }
        if a.state == "absent" && a.regexp.is_none() && a.search_string.is_none() && a.line.is_none() {
            return Err("one of line, search_string, or regexp is required with state=absent".into());
        }
        if a.backrefs && a.regexp.is_none() {
            return Err("regexp is required with backrefs=true".into());
        }
        a.common.refuse_unsupported()?;
        super::text_edit::refuse_copy_only(&a.common, "lineinfile")?;
        a.common.wanted().map(|_| ())
    }

    /// Ansible's `type='path'`: `~` and `$VAR` expand on the target.
    async fn resolve(a: &mut LineArgs, ctx: &Context<'_>) -> Result<(), ModuleError> {
        super::command_expand::expand_path(ctx.host, &mut a.path).await?;
        Ok(())
    }

    async fn probe(a: &LineArgs, ctx: &Context<'_>) -> Result<EditState, ModuleError> {
        let (path, st, text) = read_text_resolved(ctx.host, &a.path).await?;
        let old = text.clone().unwrap_or_default();
        let edit = if a.state == "present" { edit_present(&old, a) } else { edit_absent(&old, a) }.map_err(ModuleError::failed)?;
        let msg = if edit.changed { edit.msg } else { String::new() };
        let mut s = EditState::new(&path, st, text, edit.text, msg);
        super::text_edit::note_made_by_package(ctx, &mut s);
        Ok(s)
    }

    fn plan(a: &LineArgs, s: &EditState) -> Result<EditPlan, ModuleError> {
        plan_edit(&a.common, s, a.state == "absent", a.create, "file not present", format!("Destination {} does not exist !", a.path))
    }

    async fn apply(a: &LineArgs, plan: EditPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        Ok(with_warnings(a, apply_edit(&a.common, plan, ctx, BackupKey::Backup).await?))
    }

    fn unchanged_result(a: &LineArgs, s: &EditState) -> ModuleResult {
        with_warnings(a, ModuleResult::ok().with_msg(if s.exists { "" } else { "file not present" }).with("backup", ""))
    }

    fn check_result(a: &LineArgs, _s: &EditState, plan: &EditPlan) -> ModuleResult {
        with_warnings(a, ModuleResult::changed(plan.changes_anything()).with_msg(plan.msg.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::{json, Value};

    fn args(v: Value) -> LineArgs {
        parse_args("lineinfile", &v).unwrap()
    }
    fn present(text: &str, v: Value) -> Edit {
        edit_present(text, &args(v)).unwrap()
    }

    #[test]
    fn appends_when_missing_and_is_idempotent() {
        let e = present("a\nb\n", json!({"path": "f", "line": "c"}));
        assert_eq!((e.text.as_str(), e.msg.as_str()), ("a\nb\nc\n", "line added"));
        assert!(!present(&e.text, json!({"path": "f", "line": "c"})).changed);
    }

    #[test]
    fn adds_a_newline_before_appending() {
        assert_eq!(present("a", json!({"path": "f", "line": "c"})).text, "a\nc\n");
        assert_eq!(present("", json!({"path": "f", "line": "c"})).text, "c\n");
    }

    #[test]
    fn regexp_replaces_the_last_match_unless_firstmatch() {
        let t = "x=1\nx=2\n";
        assert_eq!(present(t, json!({"path": "f", "regexp": "^x=", "line": "x=9"})).text, "x=1\nx=9\n");
        assert_eq!(present(t, json!({"path": "f", "regexp": "^x=", "line": "x=9", "firstmatch": true})).text, "x=9\nx=2\n");
        let e = present(t, json!({"path": "f", "regexp": "^x=", "line": "x=2"}));
        assert!(!e.changed);
    }

    #[test]
    fn insertafter_and_insertbefore() {
        let t = "[a]\nk=1\n[b]\n";
        assert_eq!(present(t, json!({"path": "f", "line": "n=2", "insertafter": "^\\[a\\]"})).text, "[a]\nn=2\nk=1\n[b]\n");
        assert_eq!(present(t, json!({"path": "f", "line": "n=2", "insertbefore": "^\\[b\\]"})).text, "[a]\nk=1\nn=2\n[b]\n");
        assert_eq!(present(t, json!({"path": "f", "line": "n=2", "insertbefore": "BOF"})).text, "n=2\n[a]\nk=1\n[b]\n");
        assert_eq!(present(t, json!({"path": "f", "line": "n=2", "insertafter": "^nomatch"})).text, "[a]\nk=1\n[b]\nn=2\n");
        // Already right after the anchor: nothing to do.
        assert!(!present("[a]\nn=2\n", json!({"path": "f", "line": "n=2", "insertafter": "^\\[a\\]"})).changed);
    }

    /// Python's `$` matches before a line's newline (the upstream lineinfile
    /// target anchors its patterns so).
    #[test]
    fn dollar_matches_before_the_newline_as_in_python() {
        let t = "line 1\nline 2\n";
        assert_eq!(present(t, json!({"path": "f", "line": "new", "insertafter": "^line 1$"})).text, "line 1\nnew\nline 2\n");
        assert_eq!(present(t, json!({"path": "f", "line": "L2", "regexp": "^line 2$"})).text, "line 1\nL2\n");
        let r = present(t, json!({"path": "f", "line": "x\\1", "regexp": "^line (1)$", "backrefs": true}));
        assert_eq!(r.text, "x1\nline 2\n");
    }

    #[test]
    fn backrefs() {
        let e = present("START=no\n", json!({"path": "f", "regexp": "^(START)=no", "line": "\\1=yes", "backrefs": true}));
        assert_eq!(e.text, "START=yes\n");
        assert!(!present("other\n", json!({"path": "f", "regexp": "^(START)=", "line": "\\1=yes", "backrefs": true})).changed);
    }

    /// Python's `re` has backreferences in patterns (the upstream target's
    /// `'^(REF) .* \\1$'`); the `regex` crate refused them.
    #[test]
    fn backreference_inside_the_pattern() {
        let a = json!({"path": "f", "regexp": "^(REF) .* \\1$", "line": "\\1 replaced", "backrefs": true});
        let e = present("REF this is a line for backrefs REF\n", a.clone());
        assert_eq!((e.text.as_str(), e.changed), ("REF replaced\n", true));
        assert!(!present("REF no FER\n", a).changed);
    }

    /// The upstream target's test_string01: after the search string's line
    /// was replaced, a second run finds the exact line and changes nothing.
    #[test]
    fn an_exact_line_counts_when_nothing_else_matched() {
        let a = json!({"path": "f", "line": "Thi$ i^ [ine 3", "search_string": "(\\w)"});
        let e = present("a\nx(\\w)y\nb\n", a.clone());
        assert_eq!((e.text.as_str(), e.msg.as_str()), ("a\nThi$ i^ [ine 3\nb\n", "line replaced"));
        assert!(!present(&e.text, a).changed);
        let r = json!({"path": "f", "line": "k=2", "regexp": "^k=1$"});
        assert!(!present("k=2\n", r).changed);
    }

    #[test]
    fn empty_patterns_warn_as_ansible_does() {
        let w = empty_pattern_warning(&args(json!({"path": "f", "regexp": "", "line": "x"}))).unwrap();
        assert!(w.starts_with("The regular expression is an empty string, which will match every line in the file. This may"));
        assert!(w.ends_with("use '^' to match every line in the file and avoid this warning."));
        let w = empty_pattern_warning(&args(json!({"path": "f", "search_string": "", "line": "x"}))).unwrap();
        assert!(w.starts_with("The search string is") && w.ends_with("rather than appending."));
        assert!(empty_pattern_warning(&args(json!({"path": "f", "regexp": "^", "line": "x"}))).is_none());
    }

    #[test]
    fn absent_removes_every_match() {
        let e = edit_absent("a\nb\na\n", &args(json!({"path": "f", "line": "a", "state": "absent"}))).unwrap();
        assert_eq!((e.text.as_str(), e.msg.as_str()), ("b\n", "2 line(s) removed"));
        let e = edit_absent("k=1\nx\n", &args(json!({"path": "f", "regexp": "^k=", "state": "absent"}))).unwrap();
        assert_eq!(e.text, "x\n");
    }
}
