//! The `first_found` lookup (ansible-core's `plugins/lookup/first_found.py`):
//! the first of the named files that exists, searched like `lookup('file')`
//! (the role's and the task file's folders, then the playbook's, each
//! `files/` first), or at each of `paths`.

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Error, ErrorKind, Value as JValue};

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Options given as keyword arguments or in a mapping term.
#[derive(Default, Clone)]
struct Options {
    files: Vec<String>,
    paths: Vec<String>,
    skip: bool,
}

/// `a,b;c` → `[a, b, c]` (Ansible's deprecated splitting, still done).
fn split_on(v: &JValue, splitters: &[char]) -> Result<Vec<String>, Error> {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => Ok(Vec::new()),
        ValueKind::String => Ok(v.as_str().unwrap_or("").split(splitters).map(str::to_string).collect()),
        ValueKind::Seq | ValueKind::Iterable => {
            let mut out = Vec::new();
            for x in v.try_iter()? {
                out.extend(split_on(&x, splitters)?);
            }
            Ok(out)
        }
        _ => Err(err(format!("first_found: expected a string or a list, got {v}"))),
    }
}

fn options(get: impl Fn(&str) -> Result<Option<JValue>, Error>, base: &Options) -> Result<Options, Error> {
    let mut o = base.clone();
    if let Some(f) = get("files")? {
        o.files = split_on(&f, &[',', ';'])?;
    }
    if let Some(p) = get("paths")? {
        o.paths = split_on(&p, &[',', ':', ';'])?;
    }
    if let Some(s) = get("skip")? {
        o.skip = s.is_true();
    }
    Ok(o)
}

/// The candidates in order, and whether a miss is allowed.
fn candidates(terms: &[JValue], opts: &mut Options, out: &mut Vec<String>) -> Result<(), Error> {
    for term in terms {
        let (files, term_opts) = match term.kind() {
            ValueKind::Map => {
                *opts = options(|k| Ok(term.get_attr(k).ok().filter(|v| !v.is_undefined())), opts)?;
                (opts.files.clone(), opts.clone())
            }
            ValueKind::String => (split_on(term, &[',', ';'])?, opts.clone()),
            ValueKind::Seq | ValueKind::Iterable => {
                candidates(&term.try_iter()?.collect::<Vec<_>>(), opts, out)?;
                continue;
            }
            _ => return Err(err(format!("Invalid term supplied. A string, dict or list is required, not {term}"))),
        };
        if term_opts.paths.is_empty() {
            out.extend(files);
        } else {
            for p in &term_opts.paths {
                out.extend(files.iter().map(|f| format!("{}/{f}", p.trim_end_matches('/'))));
            }
        }
    }
    Ok(())
}

/// The path found (one item), none with `skip`, else an error.
pub fn first_found(terms: &[JValue], kwargs: &Kwargs, find: impl Fn(&str) -> Option<std::path::PathBuf>) -> Result<Vec<JValue>, Error> {
    let mut opts = options(|k| kwargs.get::<Option<JValue>>(k), &Options::default())?;
    let mut names = Vec::new();
    let terms: Vec<JValue> = if terms.is_empty() { opts.files.iter().map(|f| JValue::from(f.as_str())).collect() } else { terms.to_vec() };
    candidates(&terms, &mut opts, &mut names)?;
    if let Some(p) = names.iter().find_map(|n| find(n)) {
        return Ok(vec![JValue::from(p.display().to_string())]);
    }
    if opts.skip {
        return Ok(Vec::new());
    }
    Err(err("No file was found when using first_found."))
}
