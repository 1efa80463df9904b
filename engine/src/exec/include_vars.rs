//! `include_vars`: load variables from a YAML/JSON file or a folder of them
//! at run time. They land at the set_fact level, as in Ansible.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::playbook::ast::Role;

use super::result::Outcome;

fn find(name: &str, roots: &[PathBuf], role: Option<&Role>) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.exists().then(|| p.to_path_buf());
    }
    let mut candidates = Vec::new();
    if let Some(r) = role {
        candidates.push(r.path.join("vars").join(name));
    }
    for root in roots {
        candidates.push(root.join("vars").join(name));
        candidates.push(root.join(name));
    }
    candidates.into_iter().find(|c| c.exists())
}

fn load_file(path: &Path) -> Result<Map<String, Value>, String> {
    let node = crate::yaml::parse_file(path).map_err(|d| d.render())?;
    match node.to_value() {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        other => Err(format!("{} must contain a mapping, not {}", path.display(), other)),
    }
}

pub fn run(args: &Value, roots: &[PathBuf], role: Option<&Role>) -> Outcome {
    let get = |k: &str| args.get(k).and_then(Value::as_str);
    let file = get("file").or_else(|| get("_raw_params"));
    let dir = get("dir");
    let mut vars = Map::new();
    let mut files = Vec::new();
    match (file, dir) {
        (Some(f), _) => match find(f, roots, role) {
            Some(p) => match load_file(&p) {
                Ok(m) => {
                    vars.extend(m);
                    files.push(p);
                }
                Err(e) => return Outcome::failed(e),
            },
            None => return Outcome::failed(format!("Could not find or access '{f}'")),
        },
        (None, Some(d)) => {
            let Some(p) = find(d, roots, role) else { return Outcome::failed(format!("Could not find or access directory '{d}'")) };
            let mut entries: Vec<PathBuf> = match std::fs::read_dir(&p) {
                Ok(rd) => rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml" | "json")))
                    .collect(),
                Err(e) => return Outcome::failed(format!("cannot read {}: {e}", p.display())),
            };
            entries.sort();
            for f in entries {
                match load_file(&f) {
                    Ok(m) => vars.extend(m),
                    Err(e) => return Outcome::failed(e),
                }
                files.push(f);
            }
        }
        (None, None) => return Outcome::failed("include_vars needs 'file' or 'dir'"),
    }
    let facts = match get("name") {
        Some(name) => {
            let mut m = Map::new();
            m.insert(name.to_string(), Value::Object(vars));
            m
        }
        None => vars,
    };
    let mut o = Outcome::from_module(mailplay_modules::module::ModuleResult::ok());
    o.data.insert("ansible_included_var_files".into(), Value::from(files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>()));
    o.facts = facts;
    o
}
