//! `file`: make a path a file, a directory, a link, touched, or absent,
//! with owner/group/mode (recursively for directories when asked).

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use crate::args::{loose_bool, loose_opt_string, loose_string};
use crate::host::{quote, Command, FileKind, FileStat, HostError};
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};
use crate::planned::{Attrs, Effect, PathChange};

use super::file_attrs::{self, describe, plan_attrs, AttrChanges, WantedAttrs};

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
}

impl Plan for FilePlan {
    fn changes_anything(&self) -> bool {
        self.action != Action::None || self.attrs.any()
    }
    fn diffs(&self) -> Vec<Diff> {
        let mut before = String::new();
        let mut after = String::new();
        if self.before_state != self.after_state {
            before.push_str(&format!("state: {}\n", self.before_state));
            after.push_str(&format!("state: {}\n", self.after_state));
        }
        let (b, a) = describe(&self.attrs);
        before.push_str(&b);
        after.push_str(&a);
        if before.is_empty() && after.is_empty() {
            return Vec::new();
        }
        vec![Diff::new(self.path.clone(), before, after)]
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
    let wanted = args.wanted()?;
    let before_state = state_name(st);
    let mut plan = FilePlan {
        path: state.path.clone(),
        action: Action::None,
        attrs: AttrChanges::default(),
        new_mode: None,
        recurse: false,
        before_state: before_state.clone(),
        after_state: before_state.clone(),
    };
    let attrs_of = |s: &FileStat| plan_attrs(&wanted, s);
    match target {
        Target::Absent => {
            if st.is_some() {
                plan.action = Action::Remove;
                plan.after_state = "absent".into();
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
                    if let Some(file_attrs::Mode::Absolute(m)) = &wanted.mode {
                        plan.attrs.mode = Some((s.mode, *m));
                    }
                }
            }
        },
        Target::Touch => {
            let preserve = args.access_time.as_deref() == Some("preserve") && args.modification_time.as_deref() == Some("preserve");
            match st {
                Some(s) => {
                    plan.attrs = attrs_of(s)?;
                    if !preserve {
                        plan.action = Action::Touch;
                    }
                }
                None => {
                    plan.action = Action::Touch;
                    plan.after_state = "file".into();
                    plan.new_mode = file_attrs::mode_for_new(&wanted, false)?;
                    plan.attrs.owner = wanted.owner.clone().map(|o| (String::new(), o));
                    plan.attrs.group = wanted.group.clone().map(|g| (String::new(), g));
                }
            }
        }
        Target::Link | Target::Hard => {
            let src = args
                .src
                .clone()
                .ok_or_else(|| format!("src is required for state={}", if target == Target::Link { "link" } else { "hard" }))?;
            match st {
                Some(s) if target == Target::Link && s.kind == FileKind::Link && s.link_target.as_deref() == Some(src.as_str()) => {}
                Some(s) if target == Target::Link && s.kind != FileKind::Link && !args.force => {
                    return Err(format!("refusing to convert from {} to symlink for {}", state_name(st), args.path));
                }
                Some(_) if target == Target::Hard => plan.action = Action::Hard { src },
                Some(_) => {
                    plan.action = Action::Link { src, replace: true };
                    plan.after_state = "link".into();
                }
                None => {
                    plan.action = if target == Target::Link { Action::Link { src, replace: false } } else { Action::Hard { src } };
                    plan.after_state = if target == Target::Link { "link".into() } else { "hard".into() };
                }
            }
        }
    }
    Ok(plan)
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
            return Ok(FileState { path: args.path.clone(), stat: None, recurse_mismatch: 0, appears_binary: Some(binary) });
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
            if let Ok(Some(file_attrs::Mode::Absolute(m))) = file_attrs::parse_mode(&args.mode) {
                tests.push(format!("! -perm {:o}", m));
            }
            if !tests.is_empty() {
                let script = format!("find {} -mindepth 1 \\( {} \\) -print | wc -l", quote(&path), tests.join(" -o "));
                let out = ctx.host.exec(&Command::shell(script)).await?;
                recurse_mismatch = out.stdout_str().trim().parse().unwrap_or(1);
            }
        }
        Ok(FileState { path, stat, recurse_mismatch, appears_binary: None })
    }

    fn plan(args: &FileArgs, state: &FileState) -> Result<FilePlan, ModuleError> {
        if state.appears_binary.is_some() {
            let none = state_name(&None);
            return Ok(FilePlan {
                path: state.path.clone(),
                action: Action::None,
                attrs: AttrChanges::default(),
                new_mode: None,
                recurse: false,
                before_state: none.clone(),
                after_state: none,
            });
        }
        plan_file(args, state).map_err(ModuleError::failed)
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
            Action::Link { src, replace } => Some(format!("ln -s{} -- {} {p}", if *replace { "fn" } else { "" }, quote(src))),
            Action::Hard { src } => Some(format!("ln -f -- {} {p}", quote(src))),
        };
        if let Some(s) = script {
            let out = ctx.host.exec(&Command::shell(s)).await?;
            if !out.success() {
                return Ok(ModuleResult::failed(format!("{}: {}", plan.path, out.stderr_str().trim())));
            }
        }
        if plan.action != Action::Remove {
            let mut attrs = plan.attrs.clone();
            if plan.action == Action::CreateDir || plan.before_state == "absent" {
                attrs.mode = None;
            }
            file_attrs::apply_attrs(ctx.host, &plan.path, &attrs, plan.recurse).await?;
        }
        let _ = args;
        let mut r = ModuleResult::changed(true).with("path", plan.path.clone()).with("state", plan.after_state.clone());
        if plan.action != Action::Remove {
            if let Some(st) = ctx.host.stat(&plan.path, false).await? {
                file_attrs::add_stat_keys(&mut r, &st);
            }
        }
        Ok(r)
    }

    fn unchanged_result(args: &FileArgs, state: &FileState) -> ModuleResult {
        if let Some(binary) = state.appears_binary {
            return ModuleResult::ok().with("path", args.path.clone()).with("appears_binary", binary);
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
        plan_file(&args, &FileState { path, stat: s, recurse_mismatch: 0, appears_binary: None })
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
    fn touch_is_always_a_change() {
        assert_eq!(plan(json!({"path": "/t", "state": "touch"}), st(FileKind::File, 0o644)).unwrap().action, Action::Touch);
    }
}
