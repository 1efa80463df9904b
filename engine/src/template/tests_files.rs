//! Ansible's path tests (`plugins/test/files.py`: `directory`, `file`,
//! `link`, `exists`, ... with their old `is_*` names) and math tests
//! (`plugins/test/mathstuff.py`: `subset`, `superset`, `contains`, `nan`).
//! Like Ansible's, the path tests look at the controller's file system,
//! relative paths from the controller's current directory.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use minijinja::value::ValueKind;
use minijinja::{Environment, Error, ErrorKind, Value as JValue};

pub fn register(env: &mut Environment<'static>) {
    for name in ["directory", "is_dir"] {
        env.add_test(name, |p: String| Path::new(&p).is_dir());
    }
    for name in ["file", "is_file"] {
        env.add_test(name, |p: String| Path::new(&p).is_file());
    }
    for name in ["link", "is_link"] {
        env.add_test(name, |p: String| Path::new(&p).is_symlink());
    }
    env.add_test("exists", |p: String| Path::new(&p).exists());
    env.add_test("link_exists", |p: String| std::fs::symlink_metadata(&p).is_ok());
    for name in ["abs", "is_abs"] {
        env.add_test(name, |p: String| p.starts_with('/'));
    }
    for name in ["same_file", "is_same_file"] {
        env.add_test(name, same_file);
    }
    for name in ["mount", "is_mount"] {
        env.add_test(name, |p: String| is_mount(&p));
    }
    for name in ["subset", "issubset"] {
        env.add_test(name, |a: JValue, b: JValue| -> Result<bool, Error> { subset(&a, &b) });
    }
    for name in ["superset", "issuperset"] {
        env.add_test(name, |a: JValue, b: JValue| -> Result<bool, Error> { subset(&b, &a) });
    }
    env.add_test("contains", |seq: JValue, v: JValue| -> Result<bool, Error> { contains(&seq, &v) });
    for name in ["nan", "isnan"] {
        env.add_test(name, |v: JValue| v.as_f64_strict().is_some_and(f64::is_nan));
    }
}

trait StrictFloat {
    fn as_f64_strict(&self) -> Option<f64>;
}

impl StrictFloat for JValue {
    /// Python's `math.isnan` takes numbers only (a string is `TypeError`,
    /// which the test turns into false).
    fn as_f64_strict(&self) -> Option<f64> {
        match self.kind() {
            ValueKind::Number => f64::try_from(self.clone()).ok(),
            _ => None,
        }
    }
}

/// `os.path.samefile`: both exist and are the same inode; a missing path
/// is an error, as in Python.
fn same_file(a: String, b: String) -> Result<bool, Error> {
    let meta = |p: &str| std::fs::metadata(p).map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("same_file: {p}: {e}")));
    let (ma, mb) = (meta(&a)?, meta(&b)?);
    Ok(ma.dev() == mb.dev() && ma.ino() == mb.ino())
}

/// `os.path.ismount`: a directory (not a symbolic link) whose parent is on
/// another device or is the same inode (the root).
fn is_mount(p: &str) -> bool {
    let path = Path::new(p);
    let Ok(meta) = std::fs::symlink_metadata(path) else { return false };
    if !meta.is_dir() {
        return false;
    }
    let Ok(parent) = std::fs::metadata(path.join("..")) else { return false };
    parent.dev() != meta.dev() || parent.ino() == meta.ino()
}

fn items(v: &JValue) -> Result<Vec<JValue>, Error> {
    Ok(v.try_iter()?.collect())
}

/// `set(a) <= set(b)`.
fn subset(a: &JValue, b: &JValue) -> Result<bool, Error> {
    let b = items(b)?;
    Ok(items(a)?.iter().all(|x| b.contains(x)))
}

/// Python's `value in seq`: a substring of a string, a key of a mapping,
/// an item of a list.
fn contains(seq: &JValue, v: &JValue) -> Result<bool, Error> {
    match seq.kind() {
        ValueKind::String => match v.as_str() {
            Some(needle) => Ok(seq.as_str().unwrap_or("").contains(needle)),
            None => Err(Error::new(ErrorKind::InvalidOperation, "'in <string>' requires string as left operand")),
        },
        ValueKind::Map => Ok(seq.get_item(v).is_ok_and(|x| !x.is_undefined())),
        _ => Ok(items(seq)?.contains(v)),
    }
}
