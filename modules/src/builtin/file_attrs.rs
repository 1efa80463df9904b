//! Owner, group and mode as the file-family modules take them (`mode:
//! 0644`, `"0644"`, `"u=rw,g=r,o="`, `preserve`), compared with what is on
//! the host, and planned as data.

use serde_json::Value;

use crate::host::{attrs_script, Command, FileAttrs, FileStat, Host, HostError};
use crate::module::ModuleError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Absolute(u32),
    Symbolic(String),
    /// `preserve`: keep the source's mode (copy) — here: do not change.
    Preserve,
}

/// Parse `mode:` the way Ansible does. An integer is taken as the mode
/// value itself (YAML `0644` is already 420 = 0o644).
pub fn parse_mode(v: &Value) -> Result<Option<Mode>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_u64().map(|m| Some(Mode::Absolute(m as u32 & 0o7777))).ok_or_else(|| format!("invalid mode {n}")),
        Value::String(s) if s == "preserve" => Ok(Some(Mode::Preserve)),
        Value::String(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) => u32::from_str_radix(s, 8)
            .map(|m| Some(Mode::Absolute(m)))
            .map_err(|_| format!("mode must be in octal or symbolic form, got '{s}'")),
        Value::String(s) => {
            apply_symbolic(0, s, false)?;
            Ok(Some(Mode::Symbolic(s.clone())))
        }
        other => Err(format!("invalid mode {other}")),
    }
}

/// Apply `u+x,g-w,o=r` style changes to `current`.
pub fn apply_symbolic(current: u32, spec: &str, is_dir: bool) -> Result<u32, String> {
    let mut mode = current;
    for clause in spec.split(',') {
        let op_at = clause.find(['+', '-', '=']).ok_or_else(|| format!("bad symbolic mode '{clause}'"))?;
        let (who, rest) = clause.split_at(op_at);
        let op = rest.chars().next().expect("has an operator");
        let perms = &rest[1..];
        let who = if who.is_empty() { "a" } else { who };
        let mut mask = 0u32;
        for w in who.chars() {
            mask |= match w {
                'u' => 0o4700,
                'g' => 0o2070,
                'o' => 0o1007,
                'a' => 0o7777,
                _ => return Err(format!("bad symbolic mode '{clause}': unknown who '{w}'")),
            };
        }
        let mut bits = 0u32;
        for p in perms.chars() {
            bits |= match p {
                'r' => 0o444,
                'w' => 0o222,
                'x' => 0o111,
                'X' => {
                    if is_dir || current & 0o111 != 0 {
                        0o111
                    } else {
                        0
                    }
                }
                's' => 0o6000,
                't' => 0o1000,
                _ => return Err(format!("bad symbolic mode '{clause}': unknown permission '{p}'")),
            };
        }
        let bits = bits & mask;
        mode = match op {
            '+' => mode | bits,
            '-' => mode & !bits,
            _ => {
                (mode
                    & !(mask & 0o777
                        | if who.contains(['u', 'a']) { 0o4000 } else { 0 }
                        | if who.contains(['g', 'a']) { 0o2000 } else { 0 }))
                    | bits
            }
        };
    }
    Ok(mode & 0o7777)
}

/// The desired owner/group/mode of a path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WantedAttrs {
    pub owner: Option<String>,
    pub group: Option<String>,
    pub mode: Option<Mode>,
}

/// What must change on an existing path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttrChanges {
    pub owner: Option<(String, String)>,
    pub group: Option<(String, String)>,
    pub mode: Option<(u32, u32)>,
}

impl AttrChanges {
    pub fn any(&self) -> bool {
        self.owner.is_some() || self.group.is_some() || self.mode.is_some()
    }
}

fn is_same_principal(current_name: &str, current_id: u32, wanted: &str) -> bool {
    wanted == current_name || wanted.parse::<u32>().map(|id| id == current_id).unwrap_or(false)
}

/// Compare wanted attributes with the path's stat.
pub fn plan_attrs(wanted: &WantedAttrs, st: &FileStat) -> Result<AttrChanges, String> {
    let mut c = AttrChanges::default();
    if let Some(o) = &wanted.owner {
        if !is_same_principal(&st.owner, st.uid, o) {
            c.owner = Some((st.owner.clone(), o.clone()));
        }
    }
    if let Some(g) = &wanted.group {
        if !is_same_principal(&st.group, st.gid, g) {
            c.group = Some((st.group.clone(), g.clone()));
        }
    }
    let target = match &wanted.mode {
        Some(Mode::Absolute(m)) => Some(*m),
        Some(Mode::Symbolic(s)) => Some(apply_symbolic(st.mode, s, st.kind == crate::host::FileKind::Directory)?),
        Some(Mode::Preserve) | None => None,
    };
    if let Some(t) = target {
        if t != st.mode {
            c.mode = Some((st.mode, t));
        }
    }
    Ok(c)
}

/// The mode a new file gets: absolute as given, symbolic applied to 0644/0755.
pub fn mode_for_new(wanted: &WantedAttrs, is_dir: bool) -> Result<Option<u32>, String> {
    match &wanted.mode {
        Some(Mode::Absolute(m)) => Ok(Some(*m)),
        Some(Mode::Symbolic(s)) => apply_symbolic(if is_dir { 0o755 } else { 0o644 }, s, is_dir).map(Some),
        _ => Ok(None),
    }
}

/// Lines for `--diff` describing attribute changes, as "key: old → new".
pub fn describe(c: &AttrChanges) -> (String, String) {
    let mut before = String::new();
    let mut after = String::new();
    if let Some((a, b)) = &c.owner {
        before.push_str(&format!("owner: {a}\n"));
        after.push_str(&format!("owner: {b}\n"));
    }
    if let Some((a, b)) = &c.group {
        before.push_str(&format!("group: {a}\n"));
        after.push_str(&format!("group: {b}\n"));
    }
    if let Some((a, b)) = &c.mode {
        before.push_str(&format!("mode: {a:04o}\n"));
        after.push_str(&format!("mode: {b:04o}\n"));
    }
    (before, after)
}

/// Apply attribute changes: through the host's own `set_attrs` for one
/// path (no process on an ssh host), with `chown -R` and co. below a folder.
pub async fn apply_attrs(host: &dyn Host, path: &str, c: &AttrChanges, recurse: bool) -> Result<(), ModuleError> {
    if !c.any() {
        return Ok(());
    }
    let attrs = FileAttrs {
        owner: c.owner.as_ref().map(|(_, o)| o.clone()),
        group: c.group.as_ref().map(|(_, g)| g.clone()),
        mode: c.mode.map(|(_, m)| m),
    };
    let done = if recurse {
        let out = host.exec(&Command::shell(attrs_script(path, &attrs, true))).await?;
        if out.success() {
            Ok(())
        } else {
            Err(HostError::Io(out.stderr_str().trim().to_string()))
        }
    } else {
        host.set_attrs(path, &attrs).await
    };
    match done {
        Err(HostError::Io(m)) => Err(ModuleError::failed(format!("cannot set attributes of {path}: {m}"))),
        other => Ok(other?),
    }
}

/// Add Ansible's result keys for a path (`mode` as "0644", owner, ...).
pub fn add_stat_keys(r: &mut crate::module::ModuleResult, st: &FileStat) {
    for (k, v) in stat_keys(st) {
        r.data.insert(k.to_string(), v);
    }
}

fn stat_keys(st: &FileStat) -> Vec<(&'static str, Value)> {
    vec![
        // Ansible's '0%03o': 0644, 01777.
        ("mode", Value::from(format!("0{:03o}", st.mode))),
        ("owner", Value::from(st.owner.clone())),
        ("group", Value::from(st.group.clone())),
        ("uid", Value::from(st.uid)),
        ("gid", Value::from(st.gid)),
        ("size", Value::from(st.size)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::FileKind;
    use serde_json::json;

    fn st(mode: u32) -> FileStat {
        FileStat {
            kind: FileKind::File,
            mode,
            owner: "root".into(),
            group: "root".into(),
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 0,
            link_target: None,
        }
    }

    #[test]
    fn modes_as_ansible_reads_them() {
        assert_eq!(parse_mode(&json!(420)).unwrap(), Some(Mode::Absolute(0o644)));
        assert_eq!(parse_mode(&json!("0640")).unwrap(), Some(Mode::Absolute(0o640)));
        assert_eq!(parse_mode(&json!("750")).unwrap(), Some(Mode::Absolute(0o750)));
        assert_eq!(parse_mode(&json!("u=rw,g=r")).unwrap(), Some(Mode::Symbolic("u=rw,g=r".into())));
        assert!(parse_mode(&json!("0999")).is_err());
        assert!(parse_mode(&json!("u~x")).is_err());
    }

    #[test]
    fn symbolic_modes() {
        assert_eq!(apply_symbolic(0o644, "u+x", false).unwrap(), 0o744);
        assert_eq!(apply_symbolic(0o777, "go-w", false).unwrap(), 0o755);
        assert_eq!(apply_symbolic(0o755, "u=rw,g=r,o=", false).unwrap(), 0o640);
        assert_eq!(apply_symbolic(0o644, "a+X", true).unwrap(), 0o755);
        assert_eq!(apply_symbolic(0o644, "a+X", false).unwrap(), 0o644);
    }

    #[test]
    fn plans_only_what_differs() {
        let w = WantedAttrs { owner: Some("root".into()), group: Some("0".into()), mode: Some(Mode::Absolute(0o600)) };
        let c = plan_attrs(&w, &st(0o644)).unwrap();
        assert_eq!(c, AttrChanges { owner: None, group: None, mode: Some((0o644, 0o600)) });
        assert!(!plan_attrs(&w, &st(0o600)).unwrap().any());
    }
}
