//! Lookups (`lookup('file', ...)`, `query`), the regex filters, crypt
//! hashing, and the loader that lets template files `{% include %}` others.

use std::cell::RefCell;
use std::path::PathBuf;

use minijinja::value::{Kwargs, Rest};
use minijinja::{Environment, Error, ErrorKind, State, Value as JValue};

use super::filters::text_of;

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

thread_local! {
    /// Folders searched by `lookup('file')` and `{% include %}` during the
    /// render in progress on this thread.
    static SEARCH_PATHS: RefCell<Vec<PathBuf>> = const { RefCell::new(Vec::new()) };
}

/// Sets the search paths for one render; restores the previous ones on drop.
pub struct SearchPathGuard(Vec<PathBuf>);

impl SearchPathGuard {
    pub fn set(paths: Vec<PathBuf>) -> Self {
        SearchPathGuard(SEARCH_PATHS.with(|s| std::mem::replace(&mut *s.borrow_mut(), paths)))
    }
}

impl Drop for SearchPathGuard {
    fn drop(&mut self) {
        let old = std::mem::take(&mut self.0);
        SEARCH_PATHS.with(|s| *s.borrow_mut() = old);
    }
}

/// The folders of the render in progress.
pub(super) fn search_paths() -> Vec<PathBuf> {
    SEARCH_PATHS.with(|s| s.borrow().clone())
}

pub(super) fn find(name: &str, sub: &str) -> Option<PathBuf> {
    let p = PathBuf::from(name);
    if p.is_absolute() {
        return p.exists().then_some(p);
    }
    SEARCH_PATHS.with(|s| s.borrow().iter().flat_map(|d| [d.join(sub).join(name), d.join(name)]).find(|c| c.exists()))
}

/// Run blocking work (files, commands) called from templating, which is
/// synchronous but runs inside async tasks: on the multi-threaded runtime
/// the worker hands its other tasks to another thread first
/// (`block_in_place`), so timers, signals and other hosts' I/O go on.
/// Elsewhere (tests on a current-thread runtime, no runtime) it just runs.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

pub fn include_loader(name: &str) -> Result<Option<String>, Error> {
    match find(name, "templates") {
        Some(p) => {
            let text = blocking(|| std::fs::read_to_string(&p)).map_err(|e| err(format!("cannot read {}: {e}", p.display())))?;
            super::limits::check_nesting(&text).map_err(|e| err(format!("{}: {}", p.display(), e.message)))?;
            Ok(Some(text))
        }
        None => Ok(None),
    }
}

pub fn register(env: &mut Environment<'static>) {
    env.add_function("lookup", lookup);
    env.add_function("query", query);
    env.add_function("q", query);
    env.add_function("undef", undef);
}

/// Ansible's `undef(hint=None)`: an undefined value (a `default=` that
/// stays undefined, say); when a result holds it, the hint is the error.
fn undef(hint: Option<JValue>, kwargs: Kwargs) -> Result<JValue, Error> {
    let hint = match hint {
        Some(h) => Some(h),
        None => kwargs.get::<Option<JValue>>("hint")?,
    };
    kwargs.assert_all_used()?;
    match hint.filter(|h| !h.is_none()) {
        Some(h) => match h.as_str() {
            Some(s) if !s.is_empty() => super::filters_map::note_missing(s.to_string()),
            Some(_) => plain_undef(),
            None => return Err(err(format!("The 'hint' argument must be a str or NoneType, not {}", super::filters::python_type(&h)))),
        },
        None => plain_undef(),
    }
    Ok(JValue::UNDEFINED)
}

thread_local! {
    /// `undef()` without a hint was called and no lookup has taken it yet:
    /// a lookup given it as `default=` names what is missing itself
    /// (`lookup('env', 'X', default=undef())`: "The environment variable
    /// 'X' is not set."), where an undefined variable as the default keeps
    /// its own name.
    static PLAIN_UNDEF: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Each evaluation starts without a pending `undef()` (one that no lookup
/// took belongs to the expression before).
pub fn forget_plain_undef() {
    PLAIN_UNDEF.with(|p| p.set(false));
}

/// The `default=` of a lookup, and whether it is a hint-less `undef()`.
fn lookup_default(kwargs: &Kwargs) -> Result<(Option<JValue>, bool), Error> {
    let plain = PLAIN_UNDEF.with(|p| p.replace(false));
    // An undefined default (`undef()`) stays undefined (an Option would make it None).
    let default = if kwargs.has("default") { Some(kwargs.get::<JValue>("default")?) } else { None };
    let plain = plain && default.as_ref().is_some_and(JValue::is_undefined);
    Ok((default, plain))
}

fn run_lookup(
    state: &State,
    name: &str,
    terms: &[JValue],
    (default, plain_undef): (Option<&JValue>, bool),
    kwargs: &Kwargs,
) -> Result<Vec<JValue>, Error> {
    // The plugin is looked up before its terms: one that does not exist
    // fails even without terms.
    if !matches!(name, "file" | "env" | "pipe" | "lines" | "vars" | "items" | "list") {
        return Err(plugin_not_found(name));
    }
    let mut out = Vec::new();
    // The file lookup's options: Python's str.lstrip()/rstrip() (whitespace).
    let (lstrip, rstrip) = if name == "file" {
        (kwargs.get::<Option<bool>>("lstrip")?.unwrap_or(false), kwargs.get::<Option<bool>>("rstrip")?.unwrap_or(true))
    } else {
        (false, true)
    };
    for t in terms {
        if name == "vars" && t.as_str().is_none() {
            return Err(err(format!("Variable name must be 'str' not '{}'", super::filters::python_type(t))));
        }
        let term = text_of(t);
        let v = match name {
            "file" => {
                let p = find(&term, "files").ok_or_else(|| err(format!("lookup('file'): could not locate file '{term}'")))?;
                let text = blocking(|| std::fs::read_to_string(&p)).map_err(|e| err(format!("lookup('file'): {}: {e}", p.display())))?;
                let text = if lstrip { text.trim_start() } else { text.as_str() };
                JValue::from(if rstrip { text.trim_end() } else { text }.to_string())
            }
            "env" => {
                // Ansible's env lookup reads the term's first word.
                let var = term.split_whitespace().next().unwrap_or("");
                match std::env::var(var) {
                    Ok(v) => {
                        super::protomatter::note_origin(&v, format!("<environment variable {}>", super::protomatter::py_str_repr(var)));
                        JValue::from(v)
                    }
                    Err(_) => {
                        if plain_undef {
                            super::filters_map::replace_missing(format!(
                                "The environment variable {} is not set.",
                                super::protomatter::py_str_repr(var)
                            ));
                        }
                        default.cloned().unwrap_or_else(|| JValue::from(""))
                    }
                }
            }
            "pipe" => {
                let o = blocking(|| std::process::Command::new("/bin/sh").arg("-c").arg(&term).output())
                    .map_err(|e| err(format!("lookup('pipe'): {e}")))?;
                if !o.status.success() {
                    return Err(err(format!("lookup('pipe'): command '{term}' failed with {}", o.status)));
                }
                JValue::from(String::from_utf8_lossy(&o.stdout).trim_end_matches('\n').to_string())
            }
            // Each line of the command's output is a result.
            "lines" => {
                let o = blocking(|| std::process::Command::new("/bin/sh").arg("-c").arg(&term).output())
                    .map_err(|e| err(format!("lookup('lines'): {e}")))?;
                if !o.status.success() {
                    return Err(err(format!("lookup_plugin.lines({term}) returned {}", o.status.code().unwrap_or(-1))));
                }
                out.extend(String::from_utf8_lossy(&o.stdout).lines().map(|l| JValue::from(l.to_string())));
                continue;
            }
            "vars" => match (state.lookup(&term).filter(|v| !v.is_undefined()), default) {
                (Some(v), _) => v,
                (None, Some(d)) => d.clone(),
                (None, None) => return Err(Error::new(ErrorKind::UndefinedError, format!("No variable named '{term}' was found"))),
            },
            // `items` flattens lists one level; `list` returns its terms.
            // Strings and mappings are single items either way.
            "items" => {
                return Ok(terms
                    .iter()
                    .flat_map(|t| match t.kind() {
                        minijinja::value::ValueKind::Seq => t.try_iter().map(|i| i.collect::<Vec<_>>()).unwrap_or_else(|_| vec![t.clone()]),
                        _ => vec![t.clone()],
                    })
                    .collect())
            }
            "list" => return Ok(terms.to_vec()),
            other => return Err(plugin_not_found(other)),
        };
        out.push(v);
    }
    Ok(out)
}

fn plugin_not_found(name: &str) -> Error {
    err(format!("lookup plugin '{name}' not found (mailplay has file, env, pipe, lines, template, vars, items, list, first_found)"))
}

/// A hint-less `undef()`: Ansible's default hint, which a lookup given it
/// as `default=` replaces with its own reason.
fn plain_undef() {
    PLAIN_UNDEF.with(|p| p.set(true));
    super::filters_map::note_missing("Mandatory variable has not been overridden".into());
}

fn lookup(state: &State, name: String, terms: Rest<JValue>, kwargs: Kwargs) -> Result<JValue, Error> {
    let wantlist = kwargs.get::<Option<bool>>("wantlist")?.unwrap_or(false);
    let ignore = kwargs.get::<Option<String>>("errors")?.map(|e| e == "ignore").unwrap_or(false);
    let (default, plain_undef) = lookup_default(&kwargs)?;
    let values = if name == "first_found" {
        super::first_found::first_found(&terms, &kwargs, |n| find(n, "files"))
    } else if name == "template" {
        super::lookup_template::run(state, &terms, &kwargs)
    } else {
        run_lookup(state, &name, &terms, (default.as_ref(), plain_undef), &kwargs)
    };
    let values = match values {
        Ok(v) => v,
        Err(_) if ignore => return Ok(JValue::from(())),
        Err(e) => return Err(e),
    };
    if wantlist {
        return Ok(JValue::from(values));
    }
    // Like Ansible: a comma-joined string of the results.
    Ok(match values.len() {
        1 => values.into_iter().next().expect("one value"),
        _ => JValue::from(values.iter().map(text_of).collect::<Vec<_>>().join(",")),
    })
}

fn query(state: &State, name: String, terms: Rest<JValue>, kwargs: Kwargs) -> Result<JValue, Error> {
    if name == "first_found" {
        return super::first_found::first_found(&terms, &kwargs, |n| find(n, "files")).map(JValue::from);
    }
    if name == "template" {
        return super::lookup_template::run(state, &terms, &kwargs).map(JValue::from);
    }
    let (default, plain_undef) = lookup_default(&kwargs)?;
    run_lookup(state, &name, &terms, (default.as_ref(), plain_undef), &kwargs).map(JValue::from)
}

fn build_regex(pattern: &str, ignorecase: bool, multiline: bool) -> Result<regex::Regex, Error> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|e| err(format!("invalid regular expression: {e}")))
}

/// Python's `\1` / `\g<name>` backreferences in Rust's `${1}` / `${name}` form.
fn python_replacement(s: &str) -> String {
    let re = regex::Regex::new(r"\\(\d+)|\\g<(\w+)>").expect("valid");
    re.replace_all(&s.replace('$', "$$"), |c: &regex::Captures| format!("${{{}}}", c.get(1).or(c.get(2)).map(|m| m.as_str()).unwrap_or("")))
        .into_owned()
}

pub fn regex_replace(v: JValue, pattern: String, replacement: Option<String>, kwargs: Kwargs) -> Result<String, Error> {
    let ignorecase = kwargs.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let multiline = kwargs.get::<Option<bool>>("multiline")?.unwrap_or(false);
    let count = kwargs.get::<Option<usize>>("count")?.unwrap_or(0);
    let mandatory_count = kwargs.get::<Option<usize>>("mandatory_count")?.unwrap_or(0);
    kwargs.assert_all_used()?;
    let re = build_regex(&pattern, ignorecase, multiline)?;
    let rep = python_replacement(&replacement.unwrap_or_default());
    let text = text_of(&v);
    if mandatory_count != 0 {
        let matches = re.find_iter(&text).take(if count == 0 { usize::MAX } else { count }).count();
        if matches != mandatory_count {
            // Ansible's message (which shows `count` where it means the matches).
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("'{pattern}' should match {mandatory_count} times, but matches {count} times in '{text}'"),
            ));
        }
    }
    Ok(re.replacen(&text, count, rep.as_str()).into_owned())
}

pub fn regex_search(v: JValue, pattern: String, groups: Rest<String>, kwargs: Kwargs) -> Result<JValue, Error> {
    let ignorecase = kwargs.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let multiline = kwargs.get::<Option<bool>>("multiline")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    // `\g<name>` or `\N`, as Ansible reads them, before searching;
    // anything else is refused.
    let groups: Vec<Result<usize, String>> = groups
        .iter()
        .map(|g| {
            if let Some((name, _)) = g.strip_prefix("\\g<").and_then(|k| k.split_once('>')) {
                Ok(name.parse::<usize>().map_err(|_| name.to_string()))
            } else if let Some(n) =
                g.strip_prefix('\\').and_then(|d| d.split(|c: char| !c.is_ascii_digit()).next()).and_then(|d| d.parse().ok())
            {
                Ok(Ok(n))
            } else {
                Err(Error::new(ErrorKind::InvalidOperation, "Unknown argument"))
            }
        })
        .collect::<Result<_, _>>()?;
    let re = build_regex(&pattern, ignorecase, multiline)?;
    let text = text_of(&v);
    let Some(caps) = re.captures(&text) else { return Ok(JValue::from(())) };
    if groups.is_empty() {
        return Ok(JValue::from(caps.get(0).map(|m| m.as_str()).unwrap_or("")));
    }
    let found = groups.iter().map(|g| {
        let m = match g {
            Ok(i) => caps.get(*i),
            Err(name) => caps.name(name),
        };
        JValue::from(m.map(|m| m.as_str()).unwrap_or(""))
    });
    Ok(JValue::from(found.collect::<Vec<_>>()))
}

pub fn regex_findall(v: JValue, pattern: String, kwargs: Kwargs) -> Result<JValue, Error> {
    let ignorecase = kwargs.get::<Option<bool>>("ignorecase")?.unwrap_or(false);
    let multiline = kwargs.get::<Option<bool>>("multiline")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    let re = build_regex(&pattern, ignorecase, multiline)?;
    let text = text_of(&v);
    let found: Vec<JValue> = re
        .captures_iter(&text)
        .map(|c| match c.len() {
            1 => JValue::from(c.get(0).map(|m| m.as_str()).unwrap_or("")),
            2 => JValue::from(c.get(1).map(|m| m.as_str()).unwrap_or("")),
            n => JValue::from((1..n).map(|i| JValue::from(c.get(i).map(|m| m.as_str()).unwrap_or(""))).collect::<Vec<_>>()),
        })
        .collect();
    Ok(JValue::from(found))
}
