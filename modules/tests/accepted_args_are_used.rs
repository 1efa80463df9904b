//! The reverse of the documentation tests: an argument a module accepts
//! must do something. Every field of every argument struct (a `Deserialize`
//! struct in `modules/src`) is read somewhere in the code that uses that
//! struct (`.field`), so nothing is parsed and then silently ignored — the
//! way `follow`, `checksum`, `directory_mode` and setup's `gather_subset`
//! once were. An argument mailplay does not carry out is refused by name in
//! code, which reads it too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `pub struct Name { ... }` blocks that derive Deserialize: name → fields
/// (flattened fields are other structs, checked on their own).
fn arg_structs(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i].trim();
        if l.starts_with("#[derive(") && l.contains("Deserialize") {
            let mut j = i + 1;
            while j < lines.len() && lines[j].trim().starts_with("#[") {
                j += 1;
            }
            let head = lines.get(j).map(|s| s.trim()).unwrap_or("");
            if let Some(rest) = head.strip_prefix("pub struct ").or_else(|| head.strip_prefix("struct ")) {
                if let Some(name) = rest.strip_suffix(" {") {
                    let mut fields = Vec::new();
                    let mut flatten = false;
                    let mut k = j + 1;
                    while k < lines.len() && lines[k].trim() != "}" {
                        let f = lines[k].trim();
                        if f.starts_with("#[serde(") && f.contains("flatten") {
                            flatten = true;
                        } else if let Some(decl) =
                            f.strip_prefix("pub ").or(Some(f)).filter(|d| d.contains(':') && !d.starts_with("//") && !d.starts_with("#"))
                        {
                            let field = decl.split(':').next().unwrap().trim().to_string();
                            if !flatten && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                                fields.push(field);
                            }
                            flatten = false;
                        }
                        k += 1;
                    }
                    out.push((name.to_string(), fields));
                    i = k;
                }
            }
        }
        i += 1;
    }
    out
}

#[test]
fn every_accepted_argument_is_read_by_the_code_that_takes_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let texts: BTreeMap<PathBuf, String> = files.iter().map(|f| (f.clone(), std::fs::read_to_string(f).unwrap())).collect();
    let mut unused = Vec::new();
    let mut checked = 0;
    for (file, text) in &texts {
        // Structs inside a file's unit tests are not arguments.
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
        for (name, fields) in arg_structs(code) {
            // The struct's own file and every file that names the struct.
            let users: Vec<&String> = texts.iter().filter(|(f, t)| *f == file || t.contains(&name)).map(|(_, t)| t).collect();
            for field in fields {
                checked += 1;
                let access = format!(".{field}");
                let read = users.iter().any(|t| {
                    t.match_indices(&access).any(|(at, _)| {
                        let next = t[at + access.len()..].chars().next();
                        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                    })
                });
                if !read {
                    unused.push(format!("{}: {name}.{field}", file.strip_prefix(&root).unwrap().display()));
                }
            }
        }
    }
    assert!(checked > 100, "the scan found only {checked} argument fields: is the parser still right?");
    assert!(unused.is_empty(), "arguments accepted but never read (implement them or refuse them by name):\n{}", unused.join("\n"));
}
