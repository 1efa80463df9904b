//! `file`: make a path a file, a directory, a link, touched, or absent,
//! with owner/group/mode (recursively for directories when asked).

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use crate::args::{loose_bool, loose_opt_string, loose_string};
use crate::host::{quote, Command, FileKind, FileStat, HostError};
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};
use crate::planned::{Attrs, Effect, PathChange};

use super::file_attrs::{self, plan_attrs, AttrChanges, WantedAttrs};
use super::file_flags::{self, FlagsChange};
use super::file_times::{self, HostTimes, Stamp, TimeSpec, TimesPlan};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileArgs {
    #[serde(alias = "dest", alias = "name", deserialize_with = "loose_string")]
    pub path: String,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub src: Option<String>,
    #[serde(default)]
    pub mode: Value,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub owner: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub group: Option<String>,
    #[serde(default, deserialize_with = "loose_bool")]
    pub recurse: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    pub force: bool,
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    pub follow: bool,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub access_time: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub modification_time: Option<String>,
    /// Python strptime formats of the two times (Ansible's default).
    #[serde(default = "time_format", deserialize_with = "loose_string")]
    pub access_time_format: String,
    #[serde(default = "time_format", deserialize_with = "loose_string")]
    pub modification_time_format: String,
    /// chattr flags: `A`, `+i`, `-a` (see file_flags).
    #[serde(default, alias = "attr", deserialize_with = "loose_opt_string")]
    pub attributes: Option<String>,
    /// Refused when true: mailplay has no non-atomic write path.
    #[serde(default, deserialize_with = "loose_bool")]
    pub unsafe_writes: bool,
    /// Ansible's internal `_diff_peek` (its copy/template actions send it):
    /// answer only whether the file looks binary, change nothing.
    #[serde(default, rename = "_diff_peek")]
    pub diff_peek: Option<Value>,
}

fn yes() -> bool {
    true
}

fn time_format() -> String {
    "%Y%m%d%H%M.%S".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    File,
    Directory,
    Touch,
    Link,
    Hard,
    Absent,
}

impl FileArgs {
    fn target(&self, st: &Option<FileStat>) -> Result<Target, String> {
        Ok(match self.state.as_deref() {
            Some("file") => Target::File,
            Some("directory") => Target::Directory,
            Some("touch") => Target::Touch,
            Some("link") => Target::Link,
            Some("hard") => Target::Hard,
            Some("absent") => Target::Absent,
            Some(other) => return Err(format!("value of state must be one of: absent, directory, file, hard, link, touch, got: {other}")),
            // No state: keep what is there, as Ansible does (a directory
            // when nothing is there and `recurse` is asked).
            None => match st.as_ref().map(|s| s.kind) {
                Some(FileKind::Directory) => Target::Directory,
                Some(FileKind::Link) => Target::Link,
                None if self.recurse => Target::Directory,
                _ => Target::File,
            },
        })
    }

    /// The two times' wanted values for `target` (mtime, atime).
    fn time_specs(&self, target: Target) -> Result<(TimeSpec, TimeSpec), String> {
        let touch = target == Target::Touch;
        let m = file_times::spec(self.modification_time.as_deref(), &self.modification_time_format, touch)?;
        let a = file_times::spec(self.access_time.as_deref(), &self.access_time_format, touch)?;
        let given = |v: &Option<String>| v.as_deref().is_some_and(|v| v != "preserve");
        let explicit = given(&self.modification_time) || given(&self.access_time);
        if explicit && matches!(target, Target::Link | Target::Hard) {
            return Err("mailplay does not support modification_time/access_time with state=link or state=hard".into());
        }
        if explicit && self.recurse {
            return Err("mailplay does not support modification_time/access_time with recurse".into());
        }
        Ok((m, a))
    }

    fn wanted(&self) -> Result<WantedAttrs, String> {
        Ok(WantedAttrs { owner: self.owner.clone(), group: self.group.clone(), mode: file_attrs::parse_mode(&self.mode)? })
    }
}

pub struct FileState {
    /// The path worked on: with `follow`, a symlink's final target.
    path: String,
    stat: Option<FileStat>,
    /// With `recurse`: entries below the directory whose attributes differ.
    recurse_mismatch: usize,
    /// With `_diff_peek`: whether the file's first 8 KiB hold a NUL byte.
    appears_binary: Option<bool>,
    /// With a time other than `preserve`: the path's and the host's times.
    times: Option<HostTimes>,
    /// With `attributes`: the flags lsattr shows (empty if it cannot).
    flags: String,
    /// For state=link/hard: what Ansible's ensure_symlink/ensure_hardlink check.
    link: Option<LinkFacts>,
    /// A folder to remove, in diff mode: what is in it (folders, files),
    /// which Ansible's diff lists.
    walk: Option<(Vec<String>, Vec<String>)>,
    /// Check mode: Ansible's warnings for an owner or group not there (yet).
    warnings: Vec<String>,
}

/// What state=link/hard look at besides the path's lstat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkFacts {
    /// link: `src` joined to the link's folder exists; hard: `src` exists.
    pub src_exists: bool,
    /// Where `src` was looked for (the error message names it).
    pub abs_src: String,
    /// The path is a folder with nothing in it.
    pub dir_empty: bool,
    /// hard: the path (followed) is the same inode as `src`.
    pub same_inode: bool,
    /// The path has more than one hard link (Ansible's state `hard`).
    pub multi_linked: bool,
    /// What the path leads to, followed (None: nothing, a dangling link).
    pub followed: Option<FileStat>,
    /// The followed path.
    pub followed_path: String,
    /// What `src` leads to (followed) and its real path: what a new link
    /// leads to once made.
    pub src_followed: Option<FileStat>,
    pub src_real: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    None,
    CreateDir,
    Touch,
    Link { src: String, replace: bool },
    Hard { src: String },
    Remove,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FilePlan {
    pub path: String,
    pub action: Action,
    pub attrs: AttrChanges,
    pub new_mode: Option<u32>,
    pub recurse: bool,
    pub before_state: String,
    pub after_state: String,
    pub times: Option<TimesPlan>,
    pub flags: Option<FlagsChange>,
    /// Ansible's diff names the state asked for (`touch`) and the path's
    /// uid/gid before; it comes even unchanged, except for `absent`.
    pub diff_state: (String, String),
    pub before_ids: Option<(u32, u32)>,
    pub diff_unchanged: bool,
    /// A symlink's target before and after, when it is repointed.
    pub src_change: Option<(String, String)>,
    /// Where owner/group/mode go when not `path` (a followed link).
    pub path_for_attrs: Option<String>,
    /// state=link/hard/touch: the result names the path `dest`, with `src`.
    pub dest_key: bool,
    pub src: Option<String>,
    /// Removing a folder: its folders and files, for the diff.
    pub path_content: Option<(Vec<String>, Vec<String>)>,
    /// With `recurse`: a symbolic mode for everything below (followed
    /// links too with `follow`).
    pub recurse_symbolic: Option<String>,
    pub follow: bool,
}

impl Plan for FilePlan {
    fn changes_anything(&self) -> bool {
        self.action != Action::None || self.attrs.any() || self.times.is_some() || self.flags.is_some() || self.recurse_symbolic.is_some()
    }
    fn diff_when_unchanged(&self) -> bool {
        self.diff_unchanged
    }
    /// Ansible's data diff: path, state, owner/group (ids before), mode,
    /// attributes, mtime/atime.
    fn diffs(&self) -> Vec<Diff> {
        let mut before = serde_json::Map::new();
        let mut after = serde_json::Map::new();
        before.insert("path".into(), Value::from(self.path.clone()));
        after.insert("path".into(), Value::from(self.path.clone()));
        if self.diff_state.0 != self.diff_state.1 {
            before.insert("state".into(), Value::from(self.diff_state.0.clone()));
            after.insert("state".into(), Value::from(self.diff_state.1.clone()));
        }
        let principal = |name: &str| name.parse::<u32>().map(Value::from).unwrap_or_else(|_| Value::from(name));
        let ids = self.before_ids;
        if let Some((b, a)) = &self.attrs.owner {
            before.insert("owner".into(), ids.map(|(u, _)| Value::from(u)).unwrap_or_else(|| principal(b)));
            after.insert("owner".into(), principal(a));
        }
        if let Some((b, a)) = &self.attrs.group {
            before.insert("group".into(), ids.map(|(_, g)| Value::from(g)).unwrap_or_else(|| principal(b)));
            after.insert("group".into(), principal(a));
        }
        if let Some((b, a)) = &self.attrs.mode {
            before.insert("mode".into(), Value::from(format!("0{b:03o}")));
            after.insert("mode".into(), Value::from(format!("0{a:03o}")));
        }
        if let Some((dirs, files)) = &self.path_content {
            before.insert("path_content".into(), serde_json::json!({"directories": dirs, "files": files}));
        }
        if let Some((b, a)) = &self.src_change {
            before.insert("src".into(), Value::from(b.clone()));
            after.insert("src".into(), Value::from(a.clone()));
        }
        if let Some(f) = &self.flags {
            before.insert("attributes".into(), Value::from(f.before.clone()));
            after.insert("attributes".into(), Value::from(f.arg()));
        }
        if let Some(t) = &self.times {
            for (key, change) in [("mtime", &t.mtime), ("atime", &t.atime)] {
                if let Some((b, a)) = change {
                    before.insert(key.into(), b.as_ref().map(Stamp::as_value).unwrap_or(Value::Null));
                    after.insert(key.into(), a.as_value());
                }
            }
        }
        vec![Diff::data(Value::Object(before), Value::Object(after))]
    }
    /// With `recurse`, what changes below the folder is not tracked.
    fn effects(&self) -> Vec<Effect> {
        let attrs = Attrs {
            owner: self.attrs.owner.as_ref().map(|(_, o)| o.clone()),
            group: self.attrs.group.as_ref().map(|(_, g)| g.clone()),
            mode: self.attrs.mode.map(|(_, m)| m).or(self.new_mode),
        };
        let change = match &self.action {
            Action::None if self.attrs.any() => PathChange::Attrs(attrs),
            Action::None => return Vec::new(),
            Action::CreateDir => PathChange::Directory(attrs),
            Action::Touch => PathChange::Touch(attrs),
            Action::Link { src, .. } => PathChange::Link { target: src.clone() },
            Action::Hard { src } => PathChange::Unknown {
                kind: FileKind::File,
                attrs,
                why: format!("a hard link to {src}, whose planned state check mode does not follow"),
            },
            Action::Remove => PathChange::Absent,
        };
        vec![Effect::Path { path: self.path.clone(), change }]
    }
}

fn state_name(st: &Option<FileStat>) -> String {
    match st.as_ref().map(|s| s.kind) {
        None => "absent",
        Some(FileKind::File) => "file",
        Some(FileKind::Directory) => "directory",
        Some(FileKind::Link) => "link",
        Some(FileKind::Other) => "other",
    }
    .to_string()
}

pub fn plan_file(args: &FileArgs, state: &FileState) -> Result<FilePlan, String> {
    let st = &state.stat;
    let target = args.target(st)?;
    if args.recurse && target != Target::Directory {
        return Err("recurse option requires state to be 'directory'".into());
    }
    if args.src.is_some() && !matches!(target, Target::Link | Target::Hard) {
        return Err("src option requires state to be 'link' or 'hard'".into());
    }
    let wanted = args.wanted()?;
    let (mtime, atime) = args.time_specs(target)?;
    let before_state = state_name(st);
    let asked = match target {
        Target::File => "file",
        Target::Directory => "directory",
        Target::Touch => "touch",
        Target::Link => "link",
        Target::Hard => "hard",
        Target::Absent => "absent",
    };
    let mut plan = FilePlan {
        path: state.path.clone(),
        action: Action::None,
        attrs: AttrChanges::default(),
        new_mode: None,
        recurse: false,
        before_state: before_state.clone(),
        after_state: before_state.clone(),
        times: None,
        flags: None,
        diff_state: (if before_state == "other" { "file".into() } else { before_state.clone() }, asked.into()),
        before_ids: st.as_ref().map(|s| (s.uid, s.gid)),
        diff_unchanged: target != Target::Absent,
        src_change: None,
        path_for_attrs: None,
        dest_key: matches!(target, Target::Link | Target::Hard | Target::Touch),
        src: args.src.clone().filter(|_| matches!(target, Target::Link | Target::Hard)),
        path_content: None,
        recurse_symbolic: None,
        follow: args.follow,
    };
    let attrs_of = |s: &FileStat| plan_attrs(&wanted, s);
    match target {
        Target::Absent => {
            if st.is_some() {
                plan.action = Action::Remove;
                plan.after_state = "absent".into();
                plan.path_content = state.walk.clone();
            }
        }
        Target::File => match st {
            None => return Err(format!("file ({}) is absent, cannot continue", args.path)),
            Some(s) if s.kind == FileKind::Directory && args.state.is_some() => {
                return Err(format!("{} is a directory, not a file", args.path))
            }
            Some(s) => plan.attrs = attrs_of(s)?,
        },
        Target::Directory => match st {
            None => {
                plan.action = Action::CreateDir;
                plan.after_state = "directory".into();
                plan.new_mode = file_attrs::mode_for_new(&wanted, true)?;
                plan.attrs.owner = wanted.owner.clone().map(|o| (String::new(), o));
                plan.attrs.group = wanted.group.clone().map(|g| (String::new(), g));
            }
            Some(s) if s.kind != FileKind::Directory => return Err(format!("{} already exists as a {}", args.path, state_name(st))),
            Some(s) => {
                plan.attrs = attrs_of(s)?;
                if args.recurse && state.recurse_mismatch > 0 {
                    plan.recurse = true;
                    // Something below differs: re-apply the whole set recursively.
                    plan.attrs.owner = wanted.owner.clone().map(|o| (s.owner.clone(), o));
                    plan.attrs.group = wanted.group.clone().map(|g| (s.group.clone(), g));
                    match &wanted.mode {
                        Some(file_attrs::Mode::Absolute(m)) => plan.attrs.mode = Some((s.mode, *m)),
                        // chmod -R applies it to each entry by its own mode, as Ansible does.
                        Some(file_attrs::Mode::Symbolic(spec)) => plan.recurse_symbolic = Some(spec.clone()),
                        _ => {}
                    }
                }
            }
        },
        // The times (`now` unless given) are planned below.
        Target::Touch => match st {
            Some(s) => plan.attrs = attrs_of(s)?,
            None => {
                plan.action = Action::Touch;
                plan.after_state = "file".into();
                plan.new_mode = file_attrs::mode_for_new(&wanted, false)?;
                plan.attrs.owner = wanted.owner.clone().map(|o| (String::new(), o));
                plan.attrs.group = wanted.group.clone().map(|g| (String::new(), g));
            }
        },
        Target::Link | Target::Hard => {
            let facts = state.link.clone().unwrap_or_default();
            return plan_link(args, st, target, plan, &facts, &wanted);
        }
    }
    if matches!(target, Target::File | Target::Directory | Target::Touch) {
        if let Some(host_times) = &state.times {
            plan.times = file_times::plan_times(&mtime, &atime, host_times);
        }
        plan.flags = file_flags::plan_flags(args.attributes.as_deref(), &state.flags);
    }
    Ok(plan)
}

/// Ansible's ensure_symlink and ensure_hardlink: the checks and messages,
/// then owner/group/mode on what the link leads to (`follow`) or itself.
fn plan_link(
    args: &FileArgs,
    st: &Option<FileStat>,
    target: Target,
    mut plan: FilePlan,
    facts: &LinkFacts,
    wanted: &WantedAttrs,
) -> Result<FilePlan, String> {
    let prev = match st.as_ref().map(|s| s.kind) {
        Some(FileKind::File | FileKind::Other) if facts.multi_linked => "hard".to_string(),
        _ => plan.diff_state.0.clone(),
    };
    plan.diff_state.0 = prev.clone();
    let old_src = st.as_ref().filter(|s| s.kind == FileKind::Link).and_then(|s| s.link_target.clone());
    if target == Target::Link {
        let src = args.src.clone().or_else(|| old_src.clone().filter(|_| args.follow && facts.followed.is_some()));
        if src.is_some() && !args.force && !facts.src_exists {
            {
                return Err(format!("src file does not exist, use 'force=yes' if you really want to create the link: {}", facts.abs_src));
            }
        }
        match prev.as_str() {
            "directory" if !args.force => return Err(format!("refusing to convert from directory to symlink for {}", args.path)),
            "directory" if !facts.dir_empty => return Err(format!("the directory {} is not empty, refusing to convert it", args.path)),
            "file" | "hard" if !args.force => return Err(format!("refusing to convert from {prev} to symlink for {}", args.path)),
            _ => {}
        }
        match (prev.as_str(), &src) {
            ("link", Some(src)) => {
                if old_src.as_deref() != Some(src.as_str()) {
                    plan.src_change = Some((old_src.clone().unwrap_or_default(), src.clone()));
                    plan.action = Action::Link { src: src.clone(), replace: true };
                }
            }
            ("link", None) => {}
            (_, None) => return Err("src is required for creating new symlinks".into()),
            ("absent", Some(src)) => plan.action = Action::Link { src: src.clone(), replace: false },
            (_, Some(src)) => plan.action = Action::Link { src: src.clone(), replace: true },
        }
        if plan.action != Action::None {
            plan.after_state = "link".into();
        }
    } else {
        if prev != "hard" && args.src.is_none() {
            return Err("src is required for creating new hardlinks".into());
        }
        if args.src.is_some() && !facts.src_exists {
            return Err("src does not exist".into());
        }
        let src = args.src.clone().unwrap_or_default();
        match prev.as_str() {
            "absent" => plan.action = Action::Hard { src },
            "link" => {
                if old_src.as_deref() != Some(src.as_str()) {
                    plan.src_change = Some((old_src.clone().unwrap_or_default(), src.clone()));
                    plan.action = Action::Hard { src };
                }
            }
            "hard" if args.src.is_some() && !facts.same_inode => {
                if !args.force {
                    return Err("Cannot link, different hard link exists at destination".into());
                }
                plan.action = Action::Hard { src };
            }
            "hard" => {}
            "file" | "other" => {
                if !args.force {
                    return Err(format!("Cannot link, {prev} exists at destination"));
                }
                plan.action = Action::Hard { src };
            }
            _ => {
                if !facts.same_inode && !args.force {
                    return Err("Cannot link: different hard link exists at destination".into());
                }
                if !facts.same_inode {
                    plan.action = Action::Hard { src };
                }
            }
        }
        if plan.action != Action::None {
            plan.after_state = "hard".into();
        }
    }
    // Owner, group and mode: on what the link leads to when followed
    // (nothing to set on a dangling one), else on the path itself.
    let new = plan.action != Action::None;
    let on = match (args.follow, new) {
        (true, true) => facts.src_followed.as_ref(),
        (true, false) => facts.followed.as_ref(),
        (false, _) => st.as_ref(),
    };
    match on {
        Some(s) if new && args.follow => {
            plan.attrs = plan_attrs(wanted, s)?;
            if target == Target::Link {
                plan.path_for_attrs = Some(facts.src_real.clone());
            }
        }
        Some(s) if plan.action == Action::None || target == Target::Hard => {
            plan.attrs = plan_attrs(wanted, s)?;
            if s.kind == FileKind::Link {
                // A link's own mode cannot change on Linux; Ansible's
                // chmod attempt leaves it and reports no change.
                plan.attrs.mode = None;
            }
            if args.follow {
                plan.path_for_attrs = Some(facts.followed_path.clone());
            }
        }
        // A new or replaced link itself (not followed): its owner and
        // group are set after it is made; its mode cannot be.
        _ if !args.follow && target == Target::Link && plan.action != Action::None => {
            plan.attrs.owner = wanted.owner.clone().map(|o| (String::new(), o));
            plan.attrs.group = wanted.group.clone().map(|g| (String::new(), g));
        }
        _ => {}
    }
    Ok(plan)
}

/// One round trip: the path's times, the host's clock, and the given
/// times read as the host's local time by its `date`.
async fn probe_times(ctx: &Context<'_>, path: &str, exists: bool, m: &TimeSpec, a: &TimeSpec) -> Result<HostTimes, ModuleError> {
    let local = |spec: &TimeSpec| match spec {
        TimeSpec::At(b) => format!("date -d {} +%s || echo bad", quote(&b.date_arg())),
        _ => "echo none".into(),
    };
    let stat = if exists { format!("stat -L -c '%.9Y %.9X' -- {}", quote(path)) } else { "echo none".into() };
    let script = format!("{stat}; date +%s.%N; {}; {}", local(m), local(a));
    let out = ctx.host.exec(&Command::shell(script)).await?;
    let text = out.stdout_str();
    let lines: Vec<&str> = text.lines().collect();
    let bad = || ModuleError::failed(format!("cannot read the times of {path}: {}{}", text.trim(), out.stderr_str().trim()));
    let [stat_line, now, m_line, a_line] = lines.as_slice() else { return Err(bad()) };
    let (mtime, atime) = match stat_line.split_once(' ') {
        Some((m, a)) => (Some(Stamp::parse(m).ok_or_else(bad)?), Some(Stamp::parse(a).ok_or_else(bad)?)),
        None => (None, None),
    };
    let wanted = |spec: &TimeSpec, line: &str| -> Result<Option<Stamp>, ModuleError> {
        match spec {
            TimeSpec::At(b) => match line.trim().parse::<i64>() {
                Ok(secs) => Ok(Some(Stamp::at(secs))),
                Err(_) => {
                    Err(ModuleError::failed(format!("the host's date cannot read the time {}: {}", b.date_arg(), out.stderr_str().trim())))
                }
            },
            _ => Ok(None),
        }
    };
    Ok(HostTimes {
        mtime,
        atime,
        now: Stamp::parse(now).ok_or_else(bad)?,
        wanted_mtime: wanted(m, m_line)?,
        wanted_atime: wanted(a, a_line)?,
    })
}

/// `ln` to a temporary name beside the path, renamed over it.
fn replace_script(plan: &FilePlan, ln: &str) -> String {
    let p = quote(&plan.path);
    let dir = plan.path.rsplit_once('/').map(|(d, _)| if d.is_empty() { "/" } else { d }).unwrap_or(".");
    let rmdir = if plan.before_state == "directory" { format!("rmdir -- {p} && ") } else { String::new() };
    format!("t={}/.mailplay.$$.tmp; {rmdir}{ln} \"$t\" && mv -Tf -- \"$t\" {p} || {{ rm -f -- \"$t\"; exit 1; }}", quote(dir))
}

/// The result's path keys as Ansible's add_path_info: `dest` (and `src`)
/// for links, the lstat's owner/mode/size and state when the path exists
/// followed; a dangling followed link gets the warning Ansible gives.
fn path_keys(r: &mut ModuleResult, plan: &FilePlan, args: &FileArgs, lstat: Option<&FileStat>) {
    r.data.insert(if plan.dest_key { "dest" } else { "path" }.into(), Value::from(plan.path.clone()));
    if let Some(src) = &plan.src {
        r.data.insert("src".into(), Value::from(src.clone()));
    }
    match lstat {
        Some(st) => {
            file_attrs::add_stat_keys(r, st);
            let state = match st.kind {
                FileKind::Link => "link",
                FileKind::Directory => "directory",
                _ if plan.after_state == "hard" || plan.diff_state.0 == "hard" => "hard",
                _ => "file",
            };
            r.data.insert("state".into(), Value::from(state));
        }
        None if args.follow && plan.after_state == "link" || plan.before_state == "link" && args.follow && plan.dest_key => {
            let w = "Cannot set fs attributes on a non-existent symlink target. follow should be set to False to avoid this.";
            r.data.insert("warnings".into(), Value::from(vec![w]));
        }
        None => {}
    }
}

/// What ensure_symlink/ensure_hardlink check, in one round trip.
async fn probe_link(ctx: &Context<'_>, args: &FileArgs, path: &str, st: &Option<FileStat>, hard: bool) -> Result<LinkFacts, ModuleError> {
    let is_real_dir = st.as_ref().is_some_and(|s| s.kind == FileKind::Directory);
    let abs_src = match &args.src {
        Some(src) if hard || src.starts_with('/') => src.clone(),
        Some(src) => {
            // os.path.join(the link's folder, src); a real folder at path is the folder.
            let dir = if is_real_dir { path.to_string() } else { path.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default() };
            if dir.is_empty() {
                src.clone()
            } else {
                format!("{dir}/{src}")
            }
        }
        None => String::new(),
    };
    let p = quote(path);
    let a = quote(&abs_src);
    let script = format!(
        "[ -e {a} ] && echo y || echo n; [ -d {p} ] && [ ! -L {p} ] && [ -z \"$(ls -A -- {p})\" ] && echo y || echo n; \
         [ -e {p} ] && [ -e {a} ] && [ \"$(stat -L -c %d:%i -- {p})\" = \"$(stat -L -c %d:%i -- {a})\" ] && echo y || echo n; \
         [ -e {p} ] && [ ! -L {p} ] && [ \"$(stat -L -c %h -- {p})\" -gt 1 ] && echo y || echo n"
    );
    let out = ctx.host.exec(&Command::shell(script)).await?;
    let text = out.stdout_str();
    let flags: Vec<bool> = text.lines().map(|l| l.trim() == "y").collect();
    let [src_exists, dir_empty, same_inode, multi_linked] = flags.as_slice() else {
        return Err(ModuleError::failed(format!("cannot examine {path}: {}", out.stderr_str().trim())));
    };
    let (followed_path, followed) = match st {
        Some(s) if s.kind == FileKind::Link => {
            super::copy::resolve_link_at(ctx.host, path, st.clone()).await.unwrap_or((path.to_string(), None))
        }
        _ => (path.to_string(), st.clone()),
    };
    let (src_real, src_followed) = if abs_src.is_empty() {
        (String::new(), None)
    } else {
        let real = ctx.host.link_target(&abs_src).await?.unwrap_or_else(|| abs_src.clone());
        (real, ctx.host.stat(&abs_src, true).await?)
    };
    // A rehearsal: an earlier task's planned file counts (or its planned
    // removal), as every other probe sees the run's planned changes.
    let planned_src = ctx.rehearsal().filter(|_| !abs_src.is_empty()).and_then(|p| p.path(&abs_src));
    let src_exists = match &planned_src {
        Some(p) if !p.kind_from_host => p.kind.is_some(),
        _ => *src_exists,
    };
    Ok(LinkFacts {
        src_real,
        src_followed,
        src_exists,
        abs_src,
        dir_empty: *dir_empty,
        same_inode: *same_inode,
        multi_linked: *multi_linked,
        followed,
        followed_path,
    })
}

/// Ansible's check_owner_exists/check_group_exists: in check mode an owner
/// or group the host lacks is a warning (an earlier task may make it).
async fn missing_accounts(ctx: &Context<'_>, args: &FileArgs) -> Result<Vec<String>, ModuleError> {
    let mut warnings = Vec::new();
    for (db, what, wanted) in [("passwd", "user", &args.owner), ("group", "group", &args.group)] {
        let Some(name) = wanted else { continue };
        let out = ctx.host.exec(&Command::argv(["getent", db, name])).await?;
        if out.rc == 2 {
            let by = match name.parse::<u32>() {
                Ok(id) => format!("{what} with {} {id}", if db == "passwd" { "uid" } else { "gid" }),
                Err(_) => format!("{what} {name}"),
            };
            warnings.push(format!("failed to look up {by}. Create {what} up to this point in real play"));
        }
    }
    Ok(warnings)
}

/// How many entries below `path` a symbolic mode would change, each by
/// its own mode (links are followed with `follow`, else left: a link's own
/// mode cannot change).
async fn symbolic_mismatch(ctx: &Context<'_>, path: &str, spec: &str, follow: bool) -> Result<usize, ModuleError> {
    let mut argv = vec!["find".to_string()];
    if follow {
        argv.push("-L".into());
    }
    argv.extend([path.to_string(), "-mindepth".into(), "1".into(), "-printf".into(), "%m %y\\n".into()]);
    let out = ctx.host.exec(&Command::argv(argv)).await?;
    let mut n = 0;
    for line in out.stdout_str().lines() {
        let Some((mode, kind)) = line.split_once(' ') else { continue };
        let Ok(mode) = u32::from_str_radix(mode, 8) else { continue };
        if kind == "l" {
            continue;
        }
        if file_attrs::apply_symbolic(mode, spec, kind == "d").map_err(ModuleError::failed)? != mode {
            n += 1;
        }
    }
    Ok(n)
}

/// Nothing to do (diff_peek, or a plan that failed).
fn noop_plan(state: &FileState) -> FilePlan {
    let none = state_name(&None);
    FilePlan {
        path: state.path.clone(),
        action: Action::None,
        attrs: AttrChanges::default(),
        new_mode: None,
        recurse: false,
        before_state: none.clone(),
        after_state: none.clone(),
        times: None,
        flags: None,
        diff_state: (none.clone(), none),
        before_ids: None,
        diff_unchanged: false,
        src_change: None,
        path_for_attrs: None,
        dest_key: false,
        src: None,
        path_content: None,
        recurse_symbolic: None,
        follow: false,
    }
}

pub struct FileModule;

#[async_trait]
impl Module for FileModule {
    type Args = FileArgs;
    type State = FileState;
    type Plan = FilePlan;
    const NAME: &'static str = "file";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Make a path a file, directory, link or absent, with owner/group/mode.",
            args: vec![
                ArgDoc { name: "path", ty: "path", required: true, default: None, description: "The path (aliases dest, name)." },
                ArgDoc {
                    name: "state",
                    ty: "string",
                    required: false,
                    default: Some("file"),
                    description: "file, directory, touch, link, hard or absent.",
                },
                ArgDoc { name: "src", ty: "path", required: false, default: None, description: "Link target for state=link/hard." },
                ArgDoc {
                    name: "mode",
                    ty: "mode",
                    required: false,
                    default: None,
                    description: "0755, \"0750\" or symbolic u=rwx,g=rx,o=.",
                },
                ArgDoc { name: "owner", ty: "string", required: false, default: None, description: "Owner." },
                ArgDoc { name: "group", ty: "string", required: false, default: None, description: "Group." },
                ArgDoc {
                    name: "recurse",
                    ty: "bool",
                    required: false,
                    default: Some("false"),
                    description: "Apply owner/group/mode below a directory too.",
                },
                ArgDoc {
                    name: "force",
                    ty: "bool",
                    required: false,
                    default: Some("false"),
                    description: "Replace an existing file with a link.",
                },
            ],
            example: "- file:\n    path: /etc/postfix/maps\n    state: directory\n    group: postfix\n    mode: \"0750\"",
        }
    }

    fn validate(args: &FileArgs) -> Result<(), String> {
        args.wanted().map(|_| ())?;
        if args.unsafe_writes {
            return Err("unsafe_writes is not supported by mailplay: changes are always made atomically".into());
        }
        // Without `state`, whether the path is a directory is known only
        // on the host (plan_file checks it then).
        if args.recurse && args.state.as_deref().is_some_and(|s| s != "directory") {
            return Err("recurse option requires state to be 'directory'".into());
        }
        Ok(())
    }

    /// Ansible's `type='path'`: `~` and `$VAR` expand on the target.
    async fn resolve(a: &mut FileArgs, ctx: &Context<'_>) -> Result<(), ModuleError> {
        super::command_expand::expand_path(ctx.host, &mut a.path).await?;
        Ok(())
    }

    async fn probe(args: &FileArgs, ctx: &Context<'_>) -> Result<FileState, ModuleError> {
        if args.diff_peek.as_ref().is_some_and(|v| !v.is_null()) {
            // As Ansible's execute_diff_peek: a file that cannot be read is text.
            let out = ctx.host.exec(&Command::argv(["head", "-c", "8192", "--", &args.path])).await?;
            let binary = out.success() && out.stdout.contains(&0);
            return Ok(FileState {
                path: args.path.clone(),
                stat: None,
                recurse_mismatch: 0,
                appears_binary: Some(binary),
                times: None,
                flags: String::new(),
                link: None,
                walk: None,
                warnings: Vec::new(),
            });
        }
        // `follow` (Ansible's default): attributes and touch act on what a
        // symlink points to; link, hard and absent act on the path itself.
        let (path, stat) = match args.state.as_deref() {
            Some("link" | "hard" | "absent") => (args.path.clone(), ctx.host.stat(&args.path, false).await?),
            _ if args.follow => super::copy::resolve_link(ctx.host, &args.path).await?,
            _ => (args.path.clone(), ctx.host.stat(&args.path, false).await?),
        };
        let mut recurse_mismatch = 0;
        if args.recurse && matches!(&stat, Some(s) if s.kind == FileKind::Directory) {
            // One round trip listing what below differs.
            let mut tests = Vec::new();
            if let Some(o) = &args.owner {
                tests.push(format!("! -user {}", quote(o)));
            }
            if let Some(g) = &args.group {
                tests.push(format!("! -group {}", quote(g)));
            }
            match file_attrs::parse_mode(&args.mode) {
                Ok(Some(file_attrs::Mode::Absolute(m))) => tests.push(format!("! -perm {:o}", m)),
                Ok(Some(file_attrs::Mode::Symbolic(spec))) => {
                    recurse_mismatch += symbolic_mismatch(ctx, &path, &spec, args.follow).await?;
                }
                _ => {}
            }
            if !tests.is_empty() {
                let script = format!("find {} -mindepth 1 \\( {} \\) -print | wc -l", quote(&path), tests.join(" -o "));
                let out = ctx.host.exec(&Command::shell(script)).await?;
                recurse_mismatch += out.stdout_str().trim().parse().unwrap_or(1);
            }
        }
        let target = args.target(&stat).ok().filter(|t| matches!(t, Target::File | Target::Directory | Target::Touch));
        let times = match target.map(|t| args.time_specs(t)) {
            Some(Ok((m, a))) if m != TimeSpec::Preserve || a != TimeSpec::Preserve => {
                Some(probe_times(ctx, &path, stat.is_some(), &m, &a).await?)
            }
            _ => None,
        };
        let mut flags = String::new();
        if target.is_some() && stat.is_some() && file_flags::wants_flags(args.attributes.as_deref()) {
            let out = ctx.host.exec(&Command::argv(["lsattr", "-d", "--", &path])).await?;
            flags = file_flags::parse_lsattr(out.rc, &out.stdout_str());
        }
        let link = match args.state.as_deref() {
            Some(kind @ ("link" | "hard")) => Some(probe_link(ctx, args, &path, &stat, kind == "hard").await?),
            _ => None,
        };
        let walk = match &stat {
            Some(s) if ctx.diff && s.kind == FileKind::Directory && args.state.as_deref() == Some("absent") => {
                // As os.walk: a link to a folder counts as a folder.
                let out = ctx.host.exec(&Command::argv(["find", &path, "-mindepth", "1", "-printf", "%Y %p\\n"])).await?;
                let (mut dirs, mut files) = (Vec::new(), Vec::new());
                for line in out.stdout_str().lines() {
                    match line.split_once(' ') {
                        Some(("d", p)) => dirs.push(p.to_string()),
                        Some((_, p)) => files.push(p.to_string()),
                        None => {}
                    }
                }
                Some((dirs, files))
            }
            _ => None,
        };
        let warnings =
            if ctx.check_mode && args.state.as_deref() != Some("absent") { missing_accounts(ctx, args).await? } else { Vec::new() };
        Ok(FileState { path, stat, recurse_mismatch, appears_binary: None, times, flags, link, walk, warnings })
    }

    /// A plan that cannot be made is a failed result (unchanged_result
    /// builds it) carrying Ansible's keys, not a bare error.
    fn plan(args: &FileArgs, state: &FileState) -> Result<FilePlan, ModuleError> {
        if state.appears_binary.is_some() {
            return Ok(noop_plan(state));
        }
        Ok(plan_file(args, state).unwrap_or_else(|_| noop_plan(state)))
    }

    async fn apply(args: &FileArgs, plan: FilePlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let p = quote(&plan.path);
        let script = match &plan.action {
            Action::None => None,
            Action::Remove => Some(format!("rm -rf -- {p}")),
            Action::CreateDir => match ctx.host.make_dir(&plan.path, plan.new_mode).await {
                Ok(()) => None,
                Err(HostError::Io(m)) => return Ok(ModuleResult::failed(format!("{}: {m}", plan.path))),
                Err(e) => return Err(e.into()),
            },
            Action::Touch => Some(format!("touch -- {p}{}", plan.new_mode.map(|m| format!(" && chmod {m:o} {p}")).unwrap_or_default())),
            // Replace by renaming a new link over the path, as Ansible does
            // (an empty folder goes first).
            Action::Link { src, .. } => Some(replace_script(&plan, &format!("ln -s -- {}", quote(src)))),
            Action::Hard { src } => Some(replace_script(&plan, &format!("ln{} -- {}", if args.follow { " -L" } else { "" }, quote(src)))),
        };
        if let Some(s) = script {
            let out = ctx.host.exec(&Command::shell(s)).await?;
            if !out.success() {
                return Ok(ModuleResult::failed(format!("{}: {}", plan.path, out.stderr_str().trim())));
            }
        }
        if plan.action != Action::Remove {
            let mut attrs = plan.attrs.clone();
            // A new file or folder got its mode when made.
            if matches!(plan.action, Action::CreateDir | Action::Touch) && plan.before_state == "absent" {
                attrs.mode = None;
            }
            let on = plan.path_for_attrs.as_deref().unwrap_or(&plan.path);
            if let Some(spec) = &plan.recurse_symbolic {
                // chmod has no -L: with `follow`, find walks through the
                // links and chmod changes what each leads to (not a dangling one).
                let argv: Vec<String> = if plan.follow {
                    ["find", "-L", on, "!", "-type", "l", "-exec", "chmod", spec.as_str(), "--", "{}", "+"].map(String::from).to_vec()
                } else {
                    ["chmod", "-R", spec.as_str(), "--", on].map(String::from).to_vec()
                };
                let out = ctx.host.exec(&Command::argv(argv)).await?;
                if !out.success() {
                    return Ok(ModuleResult::failed(format!("chmod failed: {}", out.stderr_str().trim())).with("path", on.to_string()));
                }
            }
            if let Err(e) = file_attrs::apply_attrs(ctx.host, on, &attrs, plan.recurse).await {
                if plan.action == Action::Touch && plan.before_state == "absent" {
                    // As Ansible's execute_touch: a file it just made goes again.
                    ctx.host.exec(&Command::argv(["rm", "-f", "--", &plan.path])).await?;
                    return Ok(ModuleResult::failed(e.to_string()).with("path", plan.path.clone()));
                }
                return Err(e);
            }
        }
        if let Some(f) = &plan.flags {
            // As Ansible: anything on stderr is a failure too.
            // chattr takes no `--`: a relative path is kept from reading as flags.
            let target = if plan.path.starts_with('-') { format!("./{}", plan.path) } else { plan.path.clone() };
            let out = ctx.host.exec(&Command::argv(["chattr".to_string(), f.arg(), target])).await?;
            if !out.success() || !out.stderr.is_empty() {
                let details = format!("Error while setting attributes: {}{}", out.stdout_str(), out.stderr_str());
                return Ok(ModuleResult::failed("chattr failed").with("path", plan.path.clone()).with("details", details));
            }
        }
        if let Some(t) = &plan.times {
            let out = ctx.host.exec(&Command::shell(file_times::touch_script(t, &p))).await?;
            if !out.success() {
                let msg = format!("Error while updating modification or access time: {}", out.stderr_str().trim());
                return Ok(ModuleResult::failed(msg).with("path", plan.path.clone()));
            }
        }
        let mut r = ModuleResult::changed(true);
        if plan.action == Action::Remove {
            return Ok(r.with("path", plan.path.clone()).with("state", "absent"));
        }
        let lstat = ctx.host.stat(&plan.path, false).await?;
        let exists = match &lstat {
            Some(s) if s.kind == FileKind::Link => ctx.host.stat(&plan.path, true).await?.is_some(),
            other => other.is_some(),
        };
        path_keys(&mut r, &plan, args, lstat.as_ref().filter(|_| exists));
        Ok(r)
    }

    /// As Ansible's module in check mode: the path's keys as it still is.
    fn check_result(args: &FileArgs, state: &FileState, plan: &FilePlan) -> ModuleResult {
        if !plan.changes_anything() {
            return Self::unchanged_result(args, state);
        }
        let mut r = ModuleResult::changed(true);
        let exists = match &state.link {
            Some(facts) => facts.followed.is_some(),
            None => state.stat.is_some(),
        };
        path_keys(&mut r, plan, args, state.stat.as_ref().filter(|_| exists));
        with_warnings(r, &state.warnings)
    }

    fn unchanged_result(args: &FileArgs, state: &FileState) -> ModuleResult {
        let r = Self::unchanged_result_keys(args, state);
        with_warnings(r, &state.warnings)
    }
}

/// Add warnings (after any the result has).
fn with_warnings(mut r: ModuleResult, warnings: &[String]) -> ModuleResult {
    if warnings.is_empty() {
        return r;
    }
    let mut all: Vec<Value> = r.data.get("warnings").and_then(Value::as_array).cloned().unwrap_or_default();
    all.extend(warnings.iter().map(|w| Value::from(w.clone())));
    r.data.insert("warnings".into(), Value::Array(all));
    r
}

impl FileModule {
    fn unchanged_result_keys(args: &FileArgs, state: &FileState) -> ModuleResult {
        if let Some(binary) = state.appears_binary {
            return ModuleResult::ok().with("path", args.path.clone()).with("appears_binary", binary);
        }
        if let Err(msg) = plan_file(args, state) {
            // The keys Ansible's fail_json gives each of these failures.
            if msg.starts_with("Error while obtaining timestamp") {
                return ModuleResult::failed(msg);
            }
            let mut r = ModuleResult::failed(msg.clone()).with("path", args.path.clone());
            if msg.ends_with("cannot continue") {
                r = r.with("state", state_name(&state.stat));
            }
            if msg.starts_with("src file does not exist") {
                r = r.with("src", args.src.clone().unwrap_or_default());
            }
            // ensure_hardlink's failures name the path `dest`, with `src`.
            if msg == "src does not exist" || msg.starts_with("Cannot link") {
                r.data.remove("path");
                r = r.with("dest", args.path.clone()).with("src", args.src.clone().unwrap_or_default());
            }
            return r;
        }
        if let (Some(facts), Ok(plan)) = (&state.link, plan_file(args, state)) {
            let mut r = ModuleResult::ok();
            let exists = facts.followed.is_some();
            path_keys(&mut r, &plan, args, state.stat.as_ref().filter(|_| exists));
            return r;
        }
        let mut r = ModuleResult::ok().with("path", args.path.clone()).with("state", state_name(&state.stat));
        if let Some(st) = &state.stat {
            file_attrs::add_stat_keys(&mut r, st);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    fn st(kind: FileKind, mode: u32) -> Option<FileStat> {
        Some(FileStat { kind, mode, owner: "root".into(), group: "root".into(), uid: 0, gid: 0, size: 0, mtime: 0, link_target: None })
    }
    fn plan(a: Value, s: Option<FileStat>) -> Result<FilePlan, String> {
        let args: FileArgs = parse_args("file", &a).unwrap();
        let path = args.path.clone();
        plan_file(
            &args,
            &FileState {
                path,
                stat: s,
                recurse_mismatch: 0,
                appears_binary: None,
                times: None,
                flags: String::new(),
                link: Some(LinkFacts { src_exists: true, ..LinkFacts::default() }),
                walk: None,
                warnings: Vec::new(),
            },
        )
    }

    fn plan_with(a: Value, s: Option<FileStat>, times: Option<HostTimes>, flags: &str) -> Result<FilePlan, String> {
        let args: FileArgs = parse_args("file", &a).unwrap();
        let path = args.path.clone();
        plan_file(
            &args,
            &FileState {
                path,
                stat: s,
                recurse_mismatch: 0,
                appears_binary: None,
                times,
                flags: flags.into(),
                link: None,
                walk: None,
                warnings: Vec::new(),
            },
        )
    }

    fn host_times(m: i64) -> Option<HostTimes> {
        let at = |s| Some(Stamp::at(s));
        Some(HostTimes { mtime: at(m), atime: at(7), now: Stamp::at(99), wanted_mtime: at(1644329640), wanted_atime: None })
    }

    /// modification_time: a change with its diff, then nothing to do; the
    /// unchanged diff is Ansible's `{"path": ...}` alone.
    #[test]
    fn modification_time_as_ansible() {
        let a = json!({"path": "/f", "modification_time": "202202081414.00", "modification_time_format": "%Y%m%d%H%M.%S"});
        let p = plan_with(a.clone(), st(FileKind::File, 0o644), host_times(5), "").unwrap();
        assert!(p.changes_anything());
        let d = &p.diffs()[0];
        assert_eq!(d.data, Some((json!({"path": "/f", "mtime": 5.0}), json!({"path": "/f", "mtime": 1644329640.0}))));
        let p = plan_with(a, st(FileKind::File, 0o644), host_times(1644329640), "").unwrap();
        assert!(!p.changes_anything());
        assert!(p.diff_when_unchanged());
        assert_eq!(p.diffs()[0].data, Some((json!({"path": "/f"}), json!({"path": "/f"}))));
        let bad = json!({"path": "/f", "modification_time": "2022", "modification_time_format": "%Y%m"});
        assert!(plan_with(bad, st(FileKind::File, 0o644), host_times(5), "").unwrap_err().starts_with("Error while obtaining timestamp"));
    }

    /// A symbolic mode with recurse goes below as chmod -R applies it
    /// (each entry by its own mode) when the probe found one to change.
    #[test]
    fn recurse_with_a_symbolic_mode() {
        let args: FileArgs = parse_args("file", &json!({"path": "/d", "mode": "a-x", "recurse": true, "follow": true})).unwrap();
        let state = |n| FileState {
            path: "/d".into(),
            stat: st(FileKind::Directory, 0o644),
            recurse_mismatch: n,
            appears_binary: None,
            times: None,
            flags: String::new(),
            link: None,
            walk: None,
            warnings: Vec::new(),
        };
        let p = plan_file(&args, &state(2)).unwrap();
        assert_eq!((p.recurse_symbolic.as_deref(), p.follow), (Some("a-x"), true));
        assert!(!plan_file(&args, &state(0)).unwrap().changes_anything());
    }

    #[test]
    fn attributes_as_ansible() {
        let a = json!({"path": "/f", "attributes": "A"});
        let p = plan_with(a.clone(), st(FileKind::File, 0o644), None, "").unwrap();
        assert_eq!(p.flags.as_ref().map(|f| f.arg()).as_deref(), Some("=A"));
        assert_eq!(p.diffs()[0].data.as_ref().unwrap().1["attributes"], json!("=A"));
        assert!(!plan_with(a, st(FileKind::File, 0o644), None, "A").unwrap().changes_anything());
        assert!(plan_with(json!({"path": "/f", "attr": "-A"}), st(FileKind::File, 0o644), None, "").unwrap().changes_anything());
    }

    /// As Ansible's module: without `state`, `recurse` needs the path to be
    /// a directory on the host (or absent: one is made), not in the task.
    #[test]
    fn recurse_without_state_follows_what_is_there() {
        let a = json!({"path": "/t", "mode": "u+rwx", "recurse": true, "follow": false});
        let args: FileArgs = parse_args("file", &a).unwrap();
        assert_eq!(FileModule::validate(&args), Ok(()));
        assert!(plan(a.clone(), st(FileKind::Directory, 0o700)).is_ok());
        assert_eq!(plan(a.clone(), None).unwrap().after_state, "directory");
        assert_eq!(plan(a, st(FileKind::File, 0o600)).err().as_deref(), Some("recurse option requires state to be 'directory'"));
        let args: FileArgs = parse_args("file", &json!({"path": "/t", "recurse": true, "state": "file"})).unwrap();
        assert!(FileModule::validate(&args).is_err());
    }

    #[test]
    fn directory_is_created_once() {
        let p = plan(json!({"path": "/d", "state": "directory", "mode": "0750"}), None).unwrap();
        assert_eq!(p.action, Action::CreateDir);
        assert_eq!(p.new_mode, Some(0o750));
        assert!(!plan(json!({"path": "/d", "state": "directory", "mode": "0750"}), st(FileKind::Directory, 0o750))
            .unwrap()
            .changes_anything());
        assert!(plan(json!({"path": "/d", "state": "directory"}), st(FileKind::File, 0o644)).is_err());
    }

    #[test]
    fn absent_removes_only_what_exists() {
        assert_eq!(plan(json!({"path": "/x", "state": "absent"}), st(FileKind::File, 0o644)).unwrap().action, Action::Remove);
        assert!(!plan(json!({"path": "/x", "state": "absent"}), None).unwrap().changes_anything());
    }

    #[test]
    fn file_state_needs_the_file() {
        assert!(plan(json!({"path": "/x"}), None).unwrap_err().contains("is absent"));
        let p = plan(json!({"path": "/x", "mode": "u+x"}), st(FileKind::File, 0o644)).unwrap();
        assert_eq!(p.attrs.mode, Some((0o644, 0o744)));
    }

    #[test]
    fn links() {
        let mut s = st(FileKind::Link, 0o777);
        s.as_mut().unwrap().link_target = Some("/a".into());
        assert!(!plan(json!({"path": "/l", "state": "link", "src": "/a"}), s.clone()).unwrap().changes_anything());
        assert!(plan(json!({"path": "/l", "state": "link", "src": "/b"}), s).unwrap().changes_anything());
        assert!(plan(json!({"path": "/l", "state": "link", "src": "/b"}), st(FileKind::File, 0o644)).is_err());
    }

    #[test]
    fn touch_is_a_change_unless_times_are_kept() {
        let t = plan_with(json!({"path": "/t", "state": "touch"}), st(FileKind::File, 0o644), host_times(5), "").unwrap();
        assert!(t.times.as_ref().unwrap().both_now);
        assert_eq!(t.diff_state, ("file".to_string(), "touch".to_string()));
        let keep = json!({"path": "/t", "state": "touch", "modification_time": "preserve", "access_time": "preserve"});
        assert!(!plan_with(keep, st(FileKind::File, 0o644), None, "").unwrap().changes_anything());
        assert_eq!(plan(json!({"path": "/t", "state": "touch"}), None).unwrap().action, Action::Touch);
    }
}
