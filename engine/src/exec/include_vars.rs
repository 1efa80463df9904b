//! `include_vars`: load variables from a YAML/JSON file or a folder of them
//! at run time, as Ansible's action does (`plugins/action/include_vars.py`):
//! `file`/free form, or `dir` with `depth`, `files_matching`,
//! `ignore_files`, `extensions`, `ignore_unknown_extensions`; `name` and
//! `hash_behaviour` for both. They land at the set_fact level, as in
//! Ansible. A vault-encrypted file's result is censored, as Ansible's
//! `_ansible_no_log`, whatever the task's `no_log`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::playbook::ast::Role;
use crate::template::{Scope, Templar};

use super::result::Outcome;

const DIR_ARGS: &[&str] = &["dir", "depth", "files_matching", "ignore_files", "extensions", "ignore_unknown_extensions"];
const FILE_ARGS: &[&str] = &["file", "_raw_params"];
const ALL_ARGS: &[&str] = &["name", "hash_behaviour"];

/// Where the task is and what it sees.
pub struct IncludeVarsCtx<'a> {
    /// The search path: the role's folder, then the playbook's.
    pub roots: &'a [PathBuf],
    pub role: Option<&'a Role>,
    /// The folder of the file the task is written in (`dir` outside roles).
    pub task_dir: Option<&'a Path>,
    pub templar: &'a Templar,
    pub scope: &'a Scope,
}

/// What loading gave: the variables, the files read, whether one was encrypted.
#[derive(Default)]
struct Loaded {
    vars: Map<String, Value>,
    files: Vec<String>,
    encrypted: bool,
}

/// An error raised before anything loads (Ansible's AnsibleError: `msg`).
fn refused(msg: String) -> Outcome {
    Outcome::failed(msg)
}

/// A load failure, as the action reports it: `message`, with the generic
/// `msg` ansible-core 2.19 adds to a failed action result.
fn load_failed(message: String, loaded: &Loaded) -> Outcome {
    let mut o = Outcome::failed("Task failed: Action failed: Unknown error.");
    o.data.insert("message".into(), Value::String(message));
    o.data.insert("ansible_facts".into(), Value::Object(Map::new()));
    o.data.insert("ansible_included_var_files".into(), Value::from(loaded.files.clone()));
    o.censored = loaded.encrypted;
    o
}

pub fn run(args: &Value, ctx: &IncludeVarsCtx<'_>) -> Outcome {
    let empty = Map::new();
    let args = args.as_object().unwrap_or(&empty);
    let (mut dirs, mut files) = (0, 0);
    for k in args.keys() {
        if DIR_ARGS.contains(&k.as_str()) {
            dirs += 1;
        } else if FILE_ARGS.contains(&k.as_str()) {
            files += 1;
        } else if !ALL_ARGS.contains(&k.as_str()) {
            return refused(format!("{k} is not a valid option in include_vars"));
        }
    }
    if dirs > 0 && files > 0 {
        return refused("You are mixing file only and dir only arguments, these are incompatible".into());
    }
    let text = |k: &str| args.get(k).filter(|v| !v.is_null()).map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
    let mut loaded = Loaded::default();
    let result = match text("dir") {
        Some(dir) => match DirOptions::from_args(args) {
            Ok(opts) => load_dir(&dir, &opts, ctx, &mut loaded),
            Err(e) => return refused(e),
        },
        None => {
            let file = text("file").or_else(|| text("_raw_params").map(|f| f.trim_end_matches('\n').trim().to_string()));
            match file.as_deref().filter(|f| !f.is_empty()) {
                None => Err("Could not find file on the Ansible Controller.\nIf you are using a module and expect the file to exist on the remote, see the remote_src option".to_string()),
                Some(f) => match find(f, ctx) {
                    Ok(p) => load_file(&p, None, &mut loaded),
                    Err(e) => Err(e),
                },
            }
        }
    };
    if let Err(e) = result {
        return load_failed(e, &loaded);
    }
    let mut vars = std::mem::take(&mut loaded.vars);
    if let Some(name) = text("name") {
        let mut m = Map::new();
        m.insert(name, Value::Object(vars));
        vars = m;
    }
    // `hash_behaviour: merge` merges each mapping into the variable's value
    // so far (Ansible's combine_vars); `replace` is the default.
    if text("hash_behaviour").as_deref() == Some("merge") {
        for (k, v) in vars.iter_mut() {
            if let Some(raw) = ctx.scope.get(k) {
                if let Ok(existing) = ctx.templar.render_value(raw, ctx.scope) {
                    *v = merge_hashes(existing, std::mem::take(v));
                }
            }
        }
    }
    let mut o = Outcome::from_module(mailplay_modules::module::ModuleResult::ok());
    o.data.insert("ansible_included_var_files".into(), Value::from(loaded.files.clone()));
    o.facts = vars;
    o.censored = loaded.encrypted;
    o
}

/// Ansible's `merge_hash`: mappings merged recursively, the rest replaced.
fn merge_hashes(a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Object(mut x), Value::Object(y)) => {
            for (k, v) in y {
                let merged = match x.remove(&k) {
                    Some(old) => merge_hashes(old, v),
                    None => v,
                };
                x.insert(k, merged);
            }
            Value::Object(x)
        }
        (_, b) => b,
    }
}

/// `file`: the role's `vars/`, then each search root's `vars/` and the root.
fn find(name: &str, ctx: &IncludeVarsCtx<'_>) -> Result<PathBuf, String> {
    let p = Path::new(name);
    if p.is_absolute() {
        return if p.exists() { Ok(p.to_path_buf()) } else { Err(not_found(name, &[p.to_path_buf()])) };
    }
    let mut candidates = Vec::new();
    if let Some(r) = ctx.role {
        candidates.push(r.path.join("vars").join(name));
        candidates.push(r.path.join(name));
    }
    for root in ctx.roots {
        for c in [root.join("vars").join(name), root.join(name)] {
            if !candidates.contains(&c) {
                candidates.push(c);
            }
        }
    }
    candidates.iter().find(|c| c.exists()).cloned().ok_or_else(|| not_found(name, &candidates))
}

fn not_found(name: &str, searched: &[PathBuf]) -> String {
    let searched: Vec<String> = searched.iter().map(|c| c.display().to_string()).collect();
    format!(
        "Could not find or access '{name}'\nSearched in:\n\t{} on the Ansible Controller.\nIf you are using a module and expect the file to exist on the remote, see the remote_src option",
        searched.join("\n\t")
    )
}

/// Loads one file; with `extensions` (files of a `dir`), its extension
/// must be one of them. Nothing of a file's content goes into an error.
fn load_file(path: &Path, extensions: Option<&[String]>, loaded: &mut Loaded) -> Result<(), String> {
    if let Some(exts) = extensions {
        if !valid_extension(path, exts) {
            return Err(format!("{} does not have a valid extension: {}", path.display(), exts.join(", ")));
        }
    }
    let (text, encrypted) = crate::vault::read_text(path, &crate::vault::context()).map_err(|d| d.render())?;
    // Known before parsing: a parse error may quote the decrypted text.
    loaded.encrypted |= encrypted;
    let node = crate::yaml::parse_str(&text, path).map_err(|d| d.render())?;
    // A vars file is the user's: its text is template source, as Ansible trusts it.
    crate::template::trust::remember_node(&node);
    match node.to_value() {
        Value::Object(m) => loaded.vars.extend(m),
        Value::Null => {}
        _ => return Err(format!("{} must be stored as a dictionary/hash", path.display())),
    }
    loaded.files.push(path.display().to_string());
    Ok(())
}

/// Python's `os.path.splitext(name)[1][1:] in extensions` (`''` for none).
fn valid_extension(path: &Path, exts: &[String]) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    // splitext ignores leading dots: `.hidden` has no extension.
    let stem_start = name.len() - name.trim_start_matches('.').len();
    let ext = match name[stem_start..].rfind('.') {
        Some(i) => &name[stem_start + i + 1..],
        None => "",
    };
    exts.iter().any(|e| e == ext)
}

struct DirOptions {
    depth: usize,
    files_matching: Option<regex::Regex>,
    ignore_files: Vec<regex::Regex>,
    extensions: Vec<String>,
    ignore_unknown_extensions: bool,
}

impl DirOptions {
    fn from_args(args: &Map<String, Value>) -> Result<Self, String> {
        let depth = match args.get("depth") {
            None | Some(Value::Null) => 0,
            Some(v) => v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()).ok_or("depth must be an integer")? as usize,
        };
        let files_matching = match args.get("files_matching").and_then(Value::as_str).filter(|s| !s.is_empty()) {
            Some(p) => Some(regex::Regex::new(p).map_err(|e| format!("Invalid regular expression: {p}: {e}"))?),
            None => None,
        };
        let ignore: Vec<String> = match args.get("ignore_files") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
            Some(Value::Array(a)) => a.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect(),
            Some(other) => return Err(format!("{other} must be a list")),
        };
        // Each pattern must match the end of the name (`re.search(p + '$')`).
        let ignore_files = ignore
            .iter()
            .map(|p| regex::Regex::new(&format!("(?:{p})$")).map_err(|_| format!("Invalid regular expression: {p}")))
            .collect::<Result<_, _>>()?;
        let extensions = match args.get("extensions") {
            None | Some(Value::Null) => vec!["yaml".into(), "yml".into(), "json".into()],
            // Python's list() of a string: its characters.
            Some(Value::String(s)) => s.chars().map(|c| c.to_string()).collect(),
            Some(Value::Array(a)) => a.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect(),
            Some(_) => return Err("Invalid type for \"extensions\" option, it must be a list".into()),
        };
        let ignore_unknown_extensions = args.get("ignore_unknown_extensions").and_then(mailplay_modules::args::parse_bool).unwrap_or(false);
        Ok(DirOptions { depth, files_matching, ignore_files, extensions, ignore_unknown_extensions })
    }
}

/// `dir`: in a role, under its `vars/` (a path starting with `vars` is
/// the role's own, when it exists); elsewhere next to the task's file.
fn source_dir(dir: &str, ctx: &IncludeVarsCtx<'_>) -> PathBuf {
    match ctx.role {
        Some(r) if dir.split('/').next() == Some("vars") => {
            let p = r.path.join(dir);
            if p.exists() {
                p
            } else {
                PathBuf::from(dir)
            }
        }
        Some(r) => r.path.join("vars").join(dir),
        None => ctx.task_dir.map(|d| d.join(dir)).unwrap_or_else(|| PathBuf::from(dir)),
    }
}

fn load_dir(dir: &str, opts: &DirOptions, ctx: &IncludeVarsCtx<'_>, loaded: &mut Loaded) -> Result<(), String> {
    let root = source_dir(dir, ctx);
    if !root.exists() {
        return Err(format!("{} directory does not exist", root.display()));
    }
    if !root.is_dir() {
        return Err(format!("{} is not a directory", root.display()));
    }
    // os.walk(followlinks=True), folders sorted by path; depth 1 is the root.
    let mut folders = Vec::new();
    walk(&root, 1, &mut Vec::new(), &mut folders);
    folders.sort_by(|a, b| a.0.as_os_str().cmp(b.0.as_os_str()));
    for (folder, depth, mut names) in folders {
        if opts.depth != 0 && depth > opts.depth {
            continue;
        }
        names.sort();
        for name in names {
            // A role's vars/main.yml is loaded with the role already.
            if ctx.role.is_some_and(|r| r.path.join("vars").join("main.yml") == folder.join(&name)) {
                continue;
            }
            if opts.files_matching.as_ref().is_some_and(|m| !m.is_match(&name)) {
                continue;
            }
            let path = folder.join(&name);
            if !path.exists() || opts.ignore_files.iter().any(|r| r.is_match(&name)) {
                continue;
            }
            if opts.ignore_unknown_extensions && !valid_extension(&path, &opts.extensions) {
                continue;
            }
            load_file(&path, Some(&opts.extensions), loaded)?;
        }
    }
    Ok(())
}

/// Every folder under `dir` (links followed, each real folder once: a link
/// loop ends) with its depth and its files' names.
fn walk(dir: &Path, depth: usize, seen: &mut Vec<PathBuf>, out: &mut Vec<(PathBuf, usize, Vec<String>)>) {
    let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if seen.contains(&real) {
        return;
    }
    seen.push(real);
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut files = Vec::new();
    let mut subdirs = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            subdirs.push(p);
        } else {
            files.push(name);
        }
    }
    out.push((dir.to_path_buf(), depth, files));
    subdirs.sort();
    for s in subdirs {
        walk(&s, depth + 1, seen, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_as_python_splitext_sees_them() {
        let exts: Vec<String> = vec!["".into(), "yml".into()];
        assert!(valid_extension(Path::new("/a/file_without_extension"), &exts));
        assert!(valid_extension(Path::new("/a/x.yml"), &exts));
        assert!(!valid_extension(Path::new("/a/x.json"), &exts));
        assert!(valid_extension(Path::new("/a/.hidden"), &exts));
    }

    fn ctx_run(args: Value, dir: &Path) -> Outcome {
        let templar = Templar::new();
        let scope = Scope::new();
        let roots = vec![dir.to_path_buf()];
        let ctx = IncludeVarsCtx { roots: &roots, role: None, task_dir: Some(dir), templar: &templar, scope: &scope };
        run(&args, &ctx)
    }

    #[test]
    fn dir_options_like_ansible() {
        let d = tempfile::tempdir().unwrap();
        let v = d.path().join("v");
        std::fs::create_dir_all(v.join("sub/deeper")).unwrap();
        std::fs::write(v.join("a.yml"), "a: 1\nx: a\n").unwrap();
        std::fs::write(v.join("b.json"), "{\"b\": 2, \"x\": \"b\"}").unwrap();
        std::fs::write(v.join("noext"), "n: 3\n").unwrap();
        std::fs::write(v.join("sub/c.yml"), "c: 4\nx: c\n").unwrap();
        std::fs::write(v.join("sub/deeper/d.yml"), "d: 5\n").unwrap();
        // A file without a valid extension fails the task...
        let o = ctx_run(serde_json::json!({"dir": "v"}), d.path());
        assert!(o.is_failed());
        assert!(o.data["message"].as_str().unwrap().contains("does not have a valid extension: yaml, yml, json"));
        // ...unless unknown extensions are ignored; folders in path order.
        let o = ctx_run(serde_json::json!({"dir": "v", "ignore_unknown_extensions": true}), d.path());
        assert_eq!(o.facts["x"], "c");
        assert_eq!(o.data["ansible_included_var_files"].as_array().unwrap().len(), 4);
        let o = ctx_run(serde_json::json!({"dir": "v", "depth": 1, "extensions": ["", "yml", "json"]}), d.path());
        assert_eq!(o.facts["n"], 3);
        assert!(o.facts.get("c").is_none());
        let o = ctx_run(serde_json::json!({"dir": "v", "files_matching": "^[cd]", "name": "only"}), d.path());
        assert_eq!(o.facts["only"], serde_json::json!({"c": 4, "x": "c", "d": 5}));
        let o = ctx_run(serde_json::json!({"dir": "v", "ignore_files": ["noext", "b.json"]}), d.path());
        assert!(!o.is_failed(), "{:?}", o.data);
        assert!(o.facts.get("b").is_none());
        let o = ctx_run(serde_json::json!({"dir": "v", "file": "x"}), d.path());
        assert_eq!(o.data["msg"], "You are mixing file only and dir only arguments, these are incompatible");
    }

    #[test]
    fn a_file_that_is_not_a_mapping_fails_without_showing_its_content() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("s.yml"), "the secret text\n").unwrap();
        let o = ctx_run(serde_json::json!({"file": "s.yml"}), d.path());
        assert!(o.is_failed());
        let shown = serde_json::to_string(&o.data).unwrap();
        assert!(shown.contains("must be stored as a dictionary/hash") && !shown.contains("secret"), "{shown}");
    }
}
