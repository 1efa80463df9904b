//! Ansible filter plugins written in Python (`filter_plugins/*.py` beside
//! a playbook or in a role, or on `ANSIBLE_FILTER_PLUGINS`), called from
//! mailplay's templates through one Python process on the controller.
//!
//! The plugins are controller code the user wrote, trusted like the
//! playbooks. Values cross as JSON lines: a filter's arguments go in, its
//! result (JSON-able, or its `repr`) comes back; a plugin's own prints go to
//! stderr, never into the answers. Every answer is waited for at most
//! `ANSWER_TIMEOUT`. The Python is `MAILPLAY_ANSIBLE_PYTHON`, else `python3`
//! on PATH (ansible-playbook's own, when ansible-core is beside mailplay),
//! so a plugin that imports `ansible` works where ansible-core is installed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Mutex;
use std::time::Duration;

use minijinja::value::{Kwargs, Rest};
use minijinja::{Error, ErrorKind, Value as JValue};
use serde_json::{json, Value};

/// How long a filter (or loading a plugin file) may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

const BRIDGE: &str = r#"
import importlib.util, json, os, sys
proto = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)  # a plugin's prints go to stderr, not into the answers
plugins = {}
def plain(v):
    if isinstance(v, (set, frozenset, tuple)):
        return list(v)
    return repr(v)
for line in sys.stdin:
    try:
        req = json.loads(line)
        if req["op"] == "load":
            path = req["path"]
            spec = importlib.util.spec_from_file_location("mailplay_filter_plugin_%d" % len(plugins), path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            plugins[path] = mod.FilterModule().filters()
            answer = {"ok": sorted(plugins[path])}
        else:
            f = plugins[req["path"]][req["name"]]
            answer = {"ok": f(*req["args"], **req["kwargs"])}
        text = json.dumps(answer, default=plain)
    except Exception as e:
        text = json.dumps({"error": "%s: %s" % (type(e).__name__, e)})
    proto.write(text + "\n")
    proto.flush()
"#;

struct Bridge {
    _child: Child,
    stdin: ChildStdin,
    answers: Receiver<String>,
}

impl Bridge {
    fn start() -> Result<Bridge, String> {
        let python = match std::env::var("MAILPLAY_ANSIBLE_PYTHON") {
            Ok(p) if !p.is_empty() => p,
            _ => "python3".to_string(),
        };
        let mut child = Command::new(&python)
            .args(["-u", "-c", BRIDGE])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {python} for the Python filter plugins: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin for the Python filter plugins")?;
        let stdout = child.stdout.take().ok_or("no stdout for the Python filter plugins")?;
        let (tx, answers) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Bridge { _child: child, stdin, answers })
    }

    fn ask(&mut self, request: &Value) -> Result<Value, String> {
        let mut line = request.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).map_err(|e| format!("the Python filter plugins stopped: {e}"))?;
        let answer = self
            .answers
            .recv_timeout(ANSWER_TIMEOUT)
            .map_err(|_| format!("the Python filter plugins did not answer within {} s", ANSWER_TIMEOUT.as_secs()))?;
        let mut v: Value = serde_json::from_str(&answer).map_err(|e| format!("the Python filter plugins answered badly: {e}"))?;
        match (v.get_mut("ok").map(Value::take), v.get("error").and_then(Value::as_str)) {
            (Some(ok), _) => Ok(ok),
            (None, Some(err)) => Err(err.to_string()),
            _ => Err("the Python filter plugins answered badly".into()),
        }
    }
}

#[derive(Default)]
struct Plugins {
    bridge: Option<Bridge>,
    dirs: Vec<PathBuf>,
    /// Filter name → the plugin file that has it (the first found wins).
    filters: BTreeMap<String, PathBuf>,
}

static PLUGINS: Mutex<Option<Plugins>> = Mutex::new(None);

fn with<T>(f: impl FnOnce(&mut Plugins) -> T) -> T {
    let mut g = PLUGINS.lock().unwrap_or_else(|e| e.into_inner());
    f(g.get_or_insert_with(Plugins::default))
}

/// The filters known so far, for a new template environment.
pub(super) fn known() -> Vec<(String, PathBuf)> {
    with(|p| p.filters.iter().map(|(n, f)| (n.clone(), f.clone())).collect())
}

/// Load the plugin files of `dir` (a `filter_plugins` folder) once; the
/// template environment is rebuilt when they bring new filters. Errors
/// (Python missing, a plugin that does not import) are returned once.
pub fn add_dir(dir: &Path) -> Result<(), String> {
    if !dir.is_dir() {
        return Ok(());
    }
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "py")).collect(),
        Err(e) => return Err(format!("cannot read {}: {e}", dir.display())),
    };
    files.retain(|p| p.file_name().is_some_and(|n| n != "__init__.py"));
    files.sort();
    let added = with(|p| -> Result<bool, String> {
        if p.dirs.contains(&dir) || files.is_empty() {
            return Ok(false);
        }
        p.dirs.push(dir.clone());
        if p.bridge.is_none() {
            p.bridge = Some(Bridge::start()?);
        }
        let mut added = false;
        for file in &files {
            let path = file.display().to_string();
            let names = p.bridge.as_mut().expect("started").ask(&json!({"op": "load", "path": path}));
            let names = names.map_err(|e| format!("the filter plugin {path} cannot be loaded: {e}"))?;
            for name in names.as_array().into_iter().flatten().filter_map(Value::as_str) {
                if !p.filters.contains_key(name) {
                    p.filters.insert(name.to_string(), file.clone());
                    added = true;
                }
            }
        }
        Ok(added)
    })?;
    if added {
        super::rebuild_env();
    }
    Ok(())
}

/// The minijinja filter that calls `name` of the plugin at `path`.
pub(super) fn filter(
    name: String,
    path: PathBuf,
) -> impl Fn(JValue, Rest<JValue>, Kwargs) -> Result<JValue, Error> + Send + Sync + 'static {
    move |value: JValue, args: Rest<JValue>, kwargs: Kwargs| {
        let to_json = |v: &JValue| -> Result<Value, Error> {
            if v.is_undefined() {
                return Err(Error::new(ErrorKind::UndefinedError, format!("an argument of the filter {name} is undefined")));
            }
            serde_json::to_value(v).map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))
        };
        let mut positional = vec![to_json(&value)?];
        for a in args.iter() {
            positional.push(to_json(a)?);
        }
        let mut named = serde_json::Map::new();
        for k in kwargs.args() {
            let v: JValue = kwargs.get(k)?;
            named.insert(k.to_string(), to_json(&v)?);
        }
        let request = json!({"op": "call", "path": path.display().to_string(), "name": name, "args": positional, "kwargs": named});
        let answer = with(|p| match p.bridge.as_mut() {
            Some(b) => b.ask(&request),
            None => Err("the Python filter plugins are not running".into()),
        });
        match answer {
            Ok(v) => Ok(super::from_json(&v)),
            Err(e) => Err(Error::new(ErrorKind::InvalidOperation, format!("the filter {name} ({}) failed: {e}", path.display()))),
        }
    }
}

/// Folders configured for filter plugins (`filter_plugins`, `ANSIBLE_FILTER_PLUGINS`).
pub fn add_configured(dirs: &[PathBuf]) -> Vec<String> {
    dirs.iter().filter_map(|d| add_dir(d).err()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{Scope, Templar};

    #[test]
    fn a_python_filter_is_called_with_its_arguments_and_its_prints_stay_out() {
        let d = tempfile::tempdir().unwrap();
        let plugins = d.path().join("filter_plugins");
        std::fs::create_dir(&plugins).unwrap();
        std::fs::write(
            plugins.join("unit_tools.py"),
            "def loud(v, end='!', n=1):\n    print('noise on stdout')\n    return (v.upper() + end) * n\n\
             def broken(v):\n    raise ValueError('no way')\n\
             class FilterModule:\n    def filters(self):\n        return {'unit_loud': loud, 'unit_broken': broken, 'unit_set': lambda v: set(v)}\n",
        )
        .unwrap();
        add_dir(&plugins).unwrap();
        let t = Templar::new();
        let s = Scope::new();
        assert_eq!(t.render_string("{{ 'ab' | unit_loud }}-{{ 'c' | unit_loud('?', n=2) }}", &s).unwrap(), "AB!-C?C?");
        assert_eq!(t.render_value(&json!("{{ [1, 1, 2] | unit_set }}"), &s).unwrap(), json!([1, 2]));
        let err = t.render_string("{{ 'x' | unit_broken }}", &s).unwrap_err().message;
        assert!(err.contains("unit_broken") && err.contains("ValueError: no way"), "{err}");
        // A folder is loaded once.
        add_dir(&plugins).unwrap();
    }

    #[test]
    fn a_plugin_that_cannot_load_is_reported() {
        let d = tempfile::tempdir().unwrap();
        let plugins = d.path().join("filter_plugins");
        std::fs::create_dir(&plugins).unwrap();
        std::fs::write(plugins.join("bad.py"), "import no_such_module_here\n").unwrap();
        let err = add_dir(&plugins).unwrap_err();
        assert!(err.contains("bad.py cannot be loaded") && err.contains("ModuleNotFoundError"), "{err}");
    }
}
