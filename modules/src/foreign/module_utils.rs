//! ansible-core's `module_utils`, sent with a Python module that imports
//! them (as Ansible's AnsiballZ sends them): read once per run from the
//! ansible-core installed on the controller and zipped in memory, so the
//! host's Python imports them from one file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The zip and what it came from.
#[derive(Debug)]
pub struct ModuleUtils {
    /// `ansible/__init__.py` and `ansible/module_utils/**` (no bytecode).
    pub zip: Vec<u8>,
    /// ansible-core's version (`_ansible_version` for the module).
    pub version: String,
}

/// The python that finds ansible-core: `MAILPLAY_ANSIBLE_PYTHON`, else
/// `python3` (then `python`) on the controller's PATH — ansible-playbook's
/// own python when ansible-core is installed beside mailplay.
fn controller_pythons() -> Vec<String> {
    match std::env::var("MAILPLAY_ANSIBLE_PYTHON") {
        Ok(p) if !p.is_empty() => vec![p],
        _ => vec!["python3".into(), "python".into()],
    }
}

const LOCATE: &str = "import os, ansible.module_utils as m\nfrom ansible.module_utils.ansible_release import __version__ as v\nprint(os.path.dirname(m.__file__))\nprint(v)\n";

/// The run's bundle, made on first use; the error says what is missing.
pub fn bundle() -> Result<Arc<ModuleUtils>, String> {
    static BUNDLE: OnceLock<Result<Arc<ModuleUtils>, String>> = OnceLock::new();
    BUNDLE.get_or_init(|| locate().and_then(|(dir, version)| build(&dir, version).map(Arc::new))).clone()
}

fn locate() -> Result<(PathBuf, String), String> {
    let mut tried = Vec::new();
    for py in controller_pythons() {
        match std::process::Command::new(&py).args(["-c", LOCATE]).stdin(std::process::Stdio::null()).output() {
            Ok(o) if o.status.success() => {
                let text = String::from_utf8_lossy(&o.stdout);
                let mut lines = text.lines();
                if let (Some(dir), Some(version)) = (lines.next(), lines.next()) {
                    return Ok((PathBuf::from(dir.trim()), version.trim().to_string()));
                }
                tried.push(format!("{py}: unexpected answer"));
            }
            Ok(o) => {
                let err = String::from_utf8_lossy(&o.stderr);
                tried.push(format!("{py}: {}", err.lines().last().unwrap_or("failed").trim()));
            }
            Err(e) => tried.push(format!("{py}: {e}")),
        }
    }
    Err(format!(
        "it imports ansible.module_utils, which mailplay sends from an ansible-core installed on the controller, and none was found ({}); install ansible-core or set MAILPLAY_ANSIBLE_PYTHON to a python that has it",
        tried.join("; ")
    ))
}

/// Zip `dir` (ansible's module_utils) as `ansible/module_utils/...`.
pub fn build(dir: &Path, version: String) -> Result<ModuleUtils, String> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files).map_err(|e| format!("cannot read ansible-core's module_utils at {}: {e}", dir.display()))?;
    files.sort();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let err = |e: &dyn std::fmt::Display| format!("cannot zip ansible-core's module_utils: {e}");
    zip.start_file("ansible/__init__.py", opts).map_err(|e| err(&e))?;
    for rel in &files {
        let content = std::fs::read(dir.join(rel)).map_err(|e| err(&e))?;
        zip.start_file(format!("ansible/module_utils/{rel}"), opts).map_err(|e| err(&e))?;
        zip.write_all(&content).map_err(|e| err(&e))?;
    }
    let zip = zip.finish().map_err(|e| err(&e))?.into_inner();
    Ok(ModuleUtils { zip, version })
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if name != "__pycache__" {
                collect(root, &path, out)?;
            }
        } else if kind.is_file() && !name.ends_with(".pyc") && !name.ends_with(".pyo") {
            if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zip_holds_the_package_without_bytecode() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("common/__pycache__")).unwrap();
        std::fs::write(dir.path().join("basic.py"), "X = 1\n").unwrap();
        std::fs::write(dir.path().join("common/text.py"), "Y = 2\n").unwrap();
        std::fs::write(dir.path().join("common/__pycache__/text.cpython-311.pyc"), "junk").unwrap();
        let b = build(dir.path(), "2.19.14".into()).unwrap();
        let archive = zip::ZipArchive::new(std::io::Cursor::new(b.zip)).unwrap();
        let mut names: Vec<String> = (0..archive.len()).map(|i| archive.name_for_index(i).unwrap().unwrap().to_string()).collect();
        names.sort();
        assert_eq!(names, ["ansible/__init__.py", "ansible/module_utils/basic.py", "ansible/module_utils/common/text.py"]);
    }
}
