//! `copy`: put content (inline or from the controller's `files/`) at a
//! destination, atomically, with owner/group/mode. `template` shares the
//! destination half of this module.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;
use sha1::Digest;

use crate::args::{loose_bool, loose_opt_string};
use crate::host::{quote, Command, FileAttrs, FileKind, FileStat, Host};
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};
use crate::planned::{Attrs, Effect, PathChange};

use super::copy_tree::{
    apply_tree, list_tree, missing_dirs, plan_host, plan_local, probe_local, HostTree, LocalTree, TreeOp, TreeOptions, TreePlan,
};
use super::copy_walk::walk_dirs;
use super::file_attrs::{self, describe, plan_attrs, AttrChanges, WantedAttrs};

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyArgs {
    /// Inline content; a non-string value is written as JSON, like Ansible.
    #[serde(default)]
    pub content: Option<Value>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub src: Option<String>,
    /// Required; missing fails the task (not the playbook), as in Ansible.
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub dest: Option<String>,
    #[serde(flatten)]
    pub common: DestArgs,
    #[serde(default, deserialize_with = "loose_bool")]
    pub remote_src: bool,
    /// Symlinks in a source folder: follow them (Ansible's action
    /// default for a controller folder) or copy them as links.
    #[serde(default, deserialize_with = "crate::args::loose_opt_bool")]
    pub local_follow: Option<bool>,
    /// Internal to Ansible's action and module: a task giving them fails.
    #[serde(default, rename = "_original_basename")]
    pub original_basename: Option<Value>,
    #[serde(default, rename = "_diff_peek")]
    pub diff_peek: Option<Value>,
    /// A vault-encrypted `src` on the controller is decrypted (Ansible's
    /// default) or, when false, copied encrypted.
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    pub decrypt: bool,
}

/// Destination options shared with `template`.
#[derive(Debug, Deserialize, Default)]
pub struct DestArgs {
    #[serde(default)]
    pub mode: Value,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub owner: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub group: Option<String>,
    #[serde(default, deserialize_with = "loose_bool")]
    pub backup: bool,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub validate: Option<String>,
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    pub force: bool,
    /// The mode of the folders a copy makes (copy only; refused by the others).
    #[serde(default)]
    pub directory_mode: Value,
    /// A symlink at the destination: write to its target (`true`) or
    /// replace the link with a file (`false`, Ansible's default).
    #[serde(default, deserialize_with = "crate::args::loose_opt_bool")]
    pub follow: Option<bool>,
    /// The SHA-1 the new content must have; a mismatch fails before writing.
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub checksum: Option<String>,
    /// Refused when true: writes are always atomic.
    #[serde(default, deserialize_with = "loose_bool")]
    pub unsafe_writes: bool,
}

impl DestArgs {
    /// Arguments Ansible has that mailplay does not carry out: refused by
    /// name rather than accepted and ignored.
    pub fn refuse_unsupported(&self) -> Result<(), String> {
        if !self.directory_mode.is_null() {
            return Err(
                "directory_mode is not supported by mailplay: it never creates directories for a file; create them with the file module"
                    .into(),
            );
        }
        self.refuse_unsafe_writes()
    }

    /// `copy` makes folders (a `dest` ending with `/`, recursive copies),
    /// so it takes `directory_mode`.
    pub fn refuse_unsafe_writes(&self) -> Result<(), String> {
        if self.unsafe_writes {
            return Err("unsafe_writes is not supported by mailplay: files are always written atomically".into());
        }
        Ok(())
    }

    pub fn wanted(&self) -> Result<WantedAttrs, String> {
        Ok(WantedAttrs { owner: self.owner.clone(), group: self.group.clone(), mode: file_attrs::parse_mode(&self.mode)? })
    }

    /// `directory_mode` as the mode of a new folder.
    pub fn directory_mode(&self) -> Result<Option<u32>, String> {
        let wanted = WantedAttrs { mode: file_attrs::parse_mode(&self.directory_mode)?, ..Default::default() };
        file_attrs::mode_for_new(&wanted, true)
    }

    /// What a folder the copy makes gets.
    fn dir_attrs(&self) -> Result<FileAttrs, String> {
        Ok(FileAttrs { owner: self.owner.clone(), group: self.group.clone(), mode: self.directory_mode()? })
    }
}

/// The destination as found on the host.
#[derive(Debug, Clone)]
pub struct DestState {
    /// Where the content goes (dest, or dest/basename(src) for a folder).
    pub path: String,
    pub stat: Option<FileStat>,
    pub content: Option<Vec<u8>>,
    /// The bytes to write.
    pub new_content: Vec<u8>,
    /// What the diff calls the new content (`dest`, or the source file).
    pub after_header: String,
    /// Folders above the file that do not exist (`dest` ended with `/`),
    /// outermost first: made before the write.
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DestPlan {
    /// Folders made first, with their attributes.
    pub new_dirs: Vec<(String, FileAttrs)>,
    pub path: String,
    /// New bytes to write, with the old text for the diff.
    pub write: Option<(String, Vec<u8>)>,
    pub attrs: AttrChanges,
    /// For new files: the mode to create them with.
    pub new_mode: Option<u32>,
    pub after_header: String,
    /// The destination existed before (so a backup makes sense).
    pub existed: bool,
}

impl Plan for DestPlan {
    fn changes_anything(&self) -> bool {
        self.write.is_some() || self.attrs.any() || !self.new_dirs.is_empty()
    }
    fn diffs(&self) -> Vec<Diff> {
        let mut out: Vec<Diff> = self.new_dirs.iter().map(|(d, _)| Diff::new(d.clone(), "state: absent\n", "state: directory\n")).collect();
        if let Some((before, after)) = &self.write {
            let after_text = String::from_utf8_lossy(after).into_owned();
            out.push(Diff {
                before_header: self.path.clone(),
                after_header: self.after_header.clone(),
                before: before.clone(),
                after: after_text,
                data: None,
            });
        }
        if self.attrs.any() {
            let (b, a) = describe(&self.attrs);
            out.push(Diff::new(self.path.clone(), b, a));
        }
        out
    }
    fn effects(&self) -> Vec<Effect> {
        let attrs = Attrs {
            owner: self.attrs.owner.as_ref().map(|(_, o)| o.clone()),
            group: self.attrs.group.as_ref().map(|(_, g)| g.clone()),
            mode: self.attrs.mode.map(|(_, m)| m).or(self.new_mode),
        };
        let mut out: Vec<Effect> = self
            .new_dirs
            .iter()
            .map(|(d, a)| Effect::Path {
                path: d.clone(),
                change: PathChange::Directory(Attrs { owner: a.owner.clone(), group: a.group.clone(), mode: a.mode }),
            })
            .collect();
        let change = match &self.write {
            Some((_, content)) => PathChange::Write { content: content.clone(), attrs },
            None if self.attrs.any() => PathChange::Attrs(attrs),
            None => return out,
        };
        out.push(Effect::Path { path: self.path.clone(), change });
        out
    }
}

/// As Ansible's module: the folder of a new file must exist. In a
/// rehearsal a package this run installs ships it (its listing read), or
/// may bring it (its contents unread: assumed, and said) rather than fail; without such a package the
/// real run would fail, so the rehearsal does too.
fn folder_missing(ctx: &Context<'_>, dir: &str) -> Result<(), ModuleError> {
    // A package this run installs, whose listing was read, ships it.
    if ctx.rehearsal().and_then(|p| p.provider(&[&format!("{dir}/"), dir], &[])).is_some() {
        return Ok(());
    }
    let unread = ctx.rehearsal().map(|p| p.unread_packages()).unwrap_or_default();
    if unread.is_empty() {
        return Err(ModuleError::failed(format!("Destination directory {dir} does not exist")));
    }
    ctx.assume(format!("{dir} may come with {}, which this run installs (their contents were not read)", unread.join(", ")));
    Ok(())
}

/// Probe the destination: its stat and (when it is a file) its content.
pub async fn probe_dest(
    ctx: &Context<'_>,
    dest: &str,
    src_name: Option<&str>,
    new_content: Vec<u8>,
    after_header: String,
    follow: bool,
) -> Result<DestState, ModuleError> {
    let host = ctx.host;
    // A `dest` ending with `/` is a folder, made with its missing parents.
    let missing = if dest.ends_with('/') { super::copy_tree::missing_dirs(host, dest).await? } else { Vec::new() };
    let (mut path, mut st, is_dir, mut content) =
        if missing.is_empty() { locate(host, dest, follow).await? } else { (dest.to_string(), None, true, None) };
    if is_dir || dest.ends_with('/') {
        let base = src_name
            .and_then(|s| s.trim_end_matches('/').rsplit('/').next())
            .ok_or_else(|| ModuleError::failed("can not use content with a dir as dest"))?;
        let inner_path = format!("{}/{}", dest.trim_end_matches('/'), base);
        if missing.is_empty() {
            let (inner, inner_st, inner_is_dir, inner_content) = locate(host, &inner_path, follow).await?;
            if inner_is_dir {
                return Err(ModuleError::failed(format!("{inner} is a directory")));
            }
            (path, st, content) = (inner, inner_st, inner_content);
        } else {
            (path, st, content) = (inner_path, None, None);
        }
    }
    if st.is_none() && missing.is_empty() {
        // As Ansible's module: the folder of a new file must exist.
        if let Some(dir) = path.rsplit_once('/').map(|(d, _)| d).filter(|d| !d.is_empty()) {
            if !matches!(host.stat(dir, true).await?, Some(d) if d.kind == FileKind::Directory) {
                folder_missing(ctx, dir)?;
            }
        }
    }
    // Read now what was not read with the stat (a link's target, a device).
    let content = match (&st, content) {
        (_, Some(c)) => Some(c),
        (Some(_), None) => host.read_file(&path).await?,
        (None, None) => None,
    };
    Ok(DestState { path, stat: st, content, new_content, after_header, missing })
}

/// Where a write to `path` lands, what is there now, whether it is (or
/// points to) a directory, and a regular file's content: one round trip
/// for a plain or missing file (`Host::stat_and_read`). With `follow` a
/// symlink is followed to its final target; without it the link is to be
/// replaced by the file, so it counts as absent (as in Ansible).
async fn locate(host: &dyn Host, path: &str, follow: bool) -> Result<(String, Option<FileStat>, bool, Option<Vec<u8>>), ModuleError> {
    match host.stat_and_read(path).await? {
        (Some(s), _) if s.kind == FileKind::Link => {
            let target = host.stat(path, true).await?;
            if matches!(&target, Some(t) if t.kind == FileKind::Directory) {
                Ok((path.to_string(), target, true, None))
            } else if follow {
                Ok((link_target(host, path).await?, target, false, None))
            } else {
                Ok((path.to_string(), None, false, None))
            }
        }
        (Some(s), _) if s.kind == FileKind::Directory => Ok((path.to_string(), Some(s), true, None)),
        (other, content) => Ok((path.to_string(), other, false, content)),
    }
}

/// The file a write to `path` lands in (a symlink's final target, what
/// lineinfile, blockinfile and file edit, as in Ansible) and its stat: one
/// stat for anything but a link.
pub async fn resolve_link(host: &dyn Host, path: &str) -> Result<(String, Option<FileStat>), ModuleError> {
    let st = host.stat(path, false).await?;
    resolve_link_at(host, path, st).await
}

/// [`resolve_link`] for a path already lstat'ed.
pub async fn resolve_link_at(host: &dyn Host, path: &str, lstat: Option<FileStat>) -> Result<(String, Option<FileStat>), ModuleError> {
    match lstat {
        Some(s) if s.kind == FileKind::Link => {
            let target = link_target(host, path).await?;
            let st = host.stat(&target, true).await?;
            Ok((target, st))
        }
        other => Ok((path.to_string(), other)),
    }
}

/// Where the symlink at `path` finally points.
async fn link_target(host: &dyn Host, path: &str) -> Result<String, ModuleError> {
    host.link_target(path).await?.ok_or_else(|| ModuleError::failed(format!("cannot resolve the link {path}")))
}

pub fn plan_dest(common: &DestArgs, state: &DestState) -> Result<DestPlan, ModuleError> {
    common.refuse_unsafe_writes().map_err(ModuleError::failed)?;
    let dir_attrs = common.dir_attrs().map_err(ModuleError::failed)?;
    let new_dirs = state.missing.iter().map(|d| (d.clone(), dir_attrs.clone())).collect();
    if let Some(want) = &common.checksum {
        let got = sha1_hex(&state.new_content);
        if !got.eq_ignore_ascii_case(want.trim()) {
            return Err(ModuleError::failed(format!("checksum mismatch: the content's SHA-1 is {got}, checksum says {want}")));
        }
    }
    let wanted = common.wanted().map_err(ModuleError::failed)?;
    let write = match (&state.content, &state.stat) {
        (Some(old), Some(_)) if old == &state.new_content => None,
        (Some(_), Some(_)) if !common.force => None,
        (old, _) => Some((old.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default(), state.new_content.clone())),
    };
    let attrs = match &state.stat {
        Some(st) => plan_attrs(&wanted, st).map_err(ModuleError::failed)?,
        None => AttrChanges::default(),
    };
    let new_mode = if state.stat.is_none() { file_attrs::mode_for_new(&wanted, false).map_err(ModuleError::failed)? } else { None };
    // New files get owner/group through the write itself; report them in the diff.
    let mut attrs = attrs;
    if state.stat.is_none() {
        if let Some(o) = &wanted.owner {
            attrs.owner = Some((String::new(), o.clone()));
        }
        if let Some(g) = &wanted.group {
            attrs.group = Some((String::new(), g.clone()));
        }
        attrs.mode = None;
    }
    Ok(DestPlan {
        new_dirs,
        path: state.path.clone(),
        write,
        attrs,
        new_mode,
        after_header: state.after_header.clone(),
        existed: state.stat.is_some(),
    })
}

fn sha1_hex(b: &[u8]) -> String {
    format!("{:x}", sha1::Sha1::digest(b))
}

/// Write the planned content (validated, backed up) and fix attributes.
pub async fn apply_dest(common: &DestArgs, plan: DestPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
    let host = ctx.host;
    let mut result = ModuleResult::changed(true);
    for (dir, attrs) in &plan.new_dirs {
        host.make_dir(dir, None).await.map_err(|e| ModuleError::failed(format!("cannot make the folder {dir}: {e}")))?;
        host.set_attrs(dir, attrs).await.map_err(|e| ModuleError::failed(format!("cannot set attributes of {dir}: {e}")))?;
    }
    if let Some((_, bytes)) = &plan.write {
        if common.backup && plan.existed {
            let out = host.exec(&Command::shell(crate::host::backup_script(&plan.path))).await?;
            if !out.success() {
                return Err(ModuleError::failed(format!("backup of {} failed: {}", plan.path, out.stderr_str().trim())));
            }
            result = result.with("backup_file", out.stdout_str());
        }
        let attrs = FileAttrs {
            owner: plan.attrs.owner.as_ref().map(|(_, o)| o.clone()),
            group: plan.attrs.group.as_ref().map(|(_, g)| g.clone()),
            mode: plan.attrs.mode.map(|(_, m)| m).or(plan.new_mode),
        };
        match &common.validate {
            Some(cmd) => {
                if !cmd.contains("%s") {
                    return Err(ModuleError::failed(format!("validate must contain %s: {cmd}")));
                }
                // Validate a temporary copy beside the destination, then rename it in place.
                let dir = plan.path.rsplit_once('/').map(|(d, _)| if d.is_empty() { "/" } else { d }).unwrap_or(".");
                // An unpredictable name; write_file renames over it, so a
                // planted symlink is replaced, never followed.
                let tmp = format!("{}/.mailplay-validate.{}", dir, crate::host::random_suffix());
                // The copy replaces the file, so it is made with the file's
                // own owner, group and mode wherever the task sets none
                // (as Ansible's atomic move keeps them).
                let kept = match host.stat(&plan.path, true).await? {
                    Some(st) => FileAttrs {
                        owner: attrs.owner.clone().or_else(|| Some(st.uid.to_string())),
                        group: attrs.group.clone().or_else(|| Some(st.gid.to_string())),
                        mode: attrs.mode.or(Some(st.mode)),
                    },
                    None => attrs.clone(),
                };
                host.write_file(&tmp, bytes, &kept).await?;
                let out = host.exec(&Command::shell(cmd.replace("%s", &quote(&tmp)))).await?;
                if !out.success() {
                    let _ = host.exec(&Command::argv(["rm", "-f", &tmp])).await;
                    let mut r = ModuleResult::failed(format!("failed to validate: rc:{} error:{}", out.rc, out.stderr_str().trim()));
                    r.data.insert("exit_status".into(), Value::from(out.rc));
                    r.data.insert("stdout".into(), Value::from(out.stdout_str()));
                    r.data.insert("stderr".into(), Value::from(out.stderr_str()));
                    return Ok(r);
                }
                let mv = host.exec(&Command::argv(["mv", "-f", &tmp, &plan.path])).await?;
                if !mv.success() {
                    return Err(ModuleError::failed(format!(
                        "cannot move the validated file into {}: {}",
                        plan.path,
                        mv.stderr_str().trim()
                    )));
                }
            }
            None => host.write_file(&plan.path, bytes, &attrs).await?,
        }
    } else {
        file_attrs::apply_attrs(host, &plan.path, &plan.attrs, false).await?;
    }
    let st = host.stat(&plan.path, true).await?.ok_or_else(|| ModuleError::failed(format!("{} is missing after writing it", plan.path)))?;
    let content = match &plan.write {
        Some((_, b)) => b.clone(),
        None => host.read_file(&plan.path).await?.unwrap_or_default(),
    };
    result = result.with("dest", plan.path.clone()).with("checksum", sha1_hex(&content)).with("state", "file");
    // Ansible's copy and template report the written content's MD5 too.
    if plan.write.is_some() {
        result = result.with("md5sum", md5_hex(&content));
    }
    file_attrs::add_stat_keys(&mut result, &st);
    Ok(result)
}

fn md5_hex(b: &[u8]) -> String {
    use md5::Digest as _;
    format!("{:x}", md5::Md5::digest(b))
}

/// The result of an unchanged destination, with Ansible's keys.
pub fn unchanged(state: &DestState) -> ModuleResult {
    // As Ansible's file module answers for an unchanged copy: `path` too.
    let mut r = ModuleResult::ok()
        .with("dest", state.path.clone())
        .with("path", state.path.clone())
        .with("checksum", sha1_hex(state.content.as_deref().unwrap_or_default()))
        .with("state", "file");
    if let Some(st) = &state.stat {
        file_attrs::add_stat_keys(&mut r, st);
    }
    r
}

/// A controller file's permission bits as a `mode:` value (`preserve`).
pub fn controller_mode(path: &std::path::Path) -> Result<Value, ModuleError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| ModuleError::failed(format!("cannot stat {}: {e}", path.display())))?;
    Ok(Value::String(format!("{:04o}", meta.permissions().mode() & 0o7777)))
}

/// `mailplay doc` entries of the destination arguments (`DestArgs`) that
/// `copy` and `template` share.
pub fn dest_arg_docs() -> Vec<ArgDoc> {
    vec![
        ArgDoc { name: "mode", ty: "mode", required: false, default: None, description: "0644, \"0640\" or symbolic u=rw,g=r,o=." },
        ArgDoc { name: "owner", ty: "string", required: false, default: None, description: "Owner (name or uid)." },
        ArgDoc { name: "group", ty: "string", required: false, default: None, description: "Group (name or gid)." },
        ArgDoc {
            name: "backup",
            ty: "bool",
            required: false,
            default: Some("false"),
            description: "Keep a timestamped copy of the old file.",
        },
        ArgDoc {
            name: "validate",
            ty: "string",
            required: false,
            default: None,
            description: "Command run on the new file (%s) before it replaces the old one.",
        },
        ArgDoc {
            name: "force",
            ty: "bool",
            required: false,
            default: Some("true"),
            description: "Replace an existing file whose content differs; false only creates.",
        },
        ArgDoc {
            name: "follow",
            ty: "bool",
            required: false,
            default: Some("false"),
            description: "A symlink at dest: write to its target (true) or replace the link with the file (false).",
        },
        ArgDoc {
            name: "checksum",
            ty: "string",
            required: false,
            default: None,
            description: "SHA-1 the new content must have; a mismatch fails before anything is written.",
        },
    ]
}

pub struct CopyModule;

/// What the probe found: one file's destination, a controller folder's
/// tree, or a host folder's tree.
pub enum CopyState {
    File(DestState),
    Local(LocalTree),
    Host(HostTree),
}

#[derive(Debug, Clone, PartialEq)]
pub enum CopyPlan {
    File(DestPlan),
    Tree(TreePlan),
}

impl Plan for CopyPlan {
    fn changes_anything(&self) -> bool {
        match self {
            CopyPlan::File(p) => p.changes_anything(),
            CopyPlan::Tree(p) => p.changes_anything(),
        }
    }
    fn diffs(&self) -> Vec<Diff> {
        match self {
            CopyPlan::File(p) => p.diffs(),
            CopyPlan::Tree(p) => p.diffs(),
        }
    }
    fn effects(&self) -> Vec<Effect> {
        match self {
            CopyPlan::File(p) => p.effects(),
            CopyPlan::Tree(p) => p.effects(),
        }
    }
}

impl CopyArgs {
    /// `src`, where given and not empty (Ansible's `not source`).
    fn source(&self) -> Option<&str> {
        self.src.as_deref().filter(|s| !s.is_empty())
    }

    fn dest(&self) -> &str {
        self.dest.as_deref().unwrap_or_default()
    }

    fn tree_options(&self) -> Result<TreeOptions, String> {
        Ok(TreeOptions {
            wanted: self.common.wanted()?,
            preserve: self.common.mode.as_str() == Some("preserve"),
            directory_mode: self.common.directory_mode()?,
            force: self.common.force,
        })
    }
}

/// A controller folder (`src: dir` or `dir/`): walk it, then probe
/// where each of its paths goes.
async fn probe_local_tree(args: &CopyArgs, src: &str, path: &std::path::Path, ctx: &Context<'_>) -> Result<LocalTree, ModuleError> {
    let trailing = src.ends_with('/');
    let walk = walk_dirs(path, args.local_follow.unwrap_or(true), trailing).map_err(ModuleError::failed)?;
    let shown = if trailing { format!("{}/", path.display().to_string().trim_end_matches('/')) } else { path.display().to_string() };
    let read = |p: &std::path::Path| ctx.controller.read_source(p, args.decrypt);
    probe_local(ctx.host, args.dest(), &shown, &walk, &read).await
}

/// What is below a host folder. In check mode a folder an earlier task
/// only plans to make cannot be listed: its contents are unknown, which
/// the prediction says it assumes.
async fn list_or_assume(ctx: &Context<'_>, root: &str, follow: bool) -> Result<Vec<super::copy_tree::Entry>, ModuleError> {
    match list_tree(ctx.host, root, follow).await {
        Err(ModuleError::Failed(_)) if ctx.rehearsal().is_some() => {
            ctx.assume(format!("{root} is made by an earlier task; what it will hold is unknown"));
            Ok(Vec::new())
        }
        other => other,
    }
}

/// A folder on the host (`remote_src`), as Ansible's module copies it.
async fn probe_host_tree(args: &CopyArgs, src: &str, ctx: &Context<'_>) -> Result<HostTree, ModuleError> {
    let host = ctx.host;
    let dest = args.dest();
    let missing = if dest.ends_with('/') { missing_dirs(host, dest).await? } else { Vec::new() };
    let dest_st = if missing.is_empty() { host.stat(dest, true).await? } else { None };
    let dest_is_dir = !missing.is_empty() || matches!(&dest_st, Some(s) if s.kind == FileKind::Directory);
    if dest_st.is_none() && missing.is_empty() {
        if let Some(dir) = dest.trim_end_matches('/').rsplit_once('/').map(|(d, _)| d).filter(|d| !d.is_empty()) {
            if !matches!(host.stat(dir, true).await?, Some(d) if d.kind == FileKind::Directory) {
                folder_missing(ctx, dir)?;
            }
        }
    }
    if dest_st.as_ref().is_some_and(|s| s.kind != FileKind::Directory) {
        return Err(ModuleError::failed(format!("cannot copy the folder {src} over {dest}, which is not a folder")));
    }
    // `src/` copies the contents; `src` the folder itself, into dest.
    let base = if src.ends_with('/') { "" } else { src.rsplit('/').next().unwrap_or(src) };
    let join = |d: &str, b: &str| if b.is_empty() { d.to_string() } else { format!("{}/{b}", d.trim_end_matches('/')) };
    let root = join(dest, base);
    let shown_dest = if dest_is_dir { join(dest, base) } else { dest.to_string() };
    let root_missing = missing.iter().any(|m| m == root.trim_end_matches('/'));
    let existing = match if root_missing { None } else { host.stat(&root, true).await? } {
        Some(st) if st.kind == FileKind::Directory => Some(list_or_assume(ctx, &root, false).await?),
        Some(_) => return Err(ModuleError::failed(format!("{root} exists and is not a folder"))),
        None => None,
    };
    // What the task's mode, owner and group apply to, as it is now.
    let dest_stat = if missing.is_empty() { host.stat(&shown_dest, true).await? } else { None };
    let source = list_or_assume(ctx, src, args.local_follow == Some(true)).await?;
    Ok(HostTree { src: src.to_string(), root, dest: shown_dest, dest_stat, missing, existing, source, local_follow: args.local_follow })
}

#[async_trait]
impl Module for CopyModule {
    type Args = CopyArgs;
    type State = CopyState;
    type Plan = CopyPlan;
    const NAME: &'static str = "copy";
    const DIFF_AS_LIST: bool = true;

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Write a file from inline content or the controller's files/, atomically; or copy a folder.",
            args: [
                ArgDoc {
                    name: "dest",
                    ty: "path",
                    required: true,
                    default: None,
                    description: "Where to write; a folder (or a path ending with /) means folder/basename(src).",
                },
                ArgDoc {
                    name: "content",
                    ty: "string",
                    required: false,
                    default: None,
                    description: "The file's content (mutually exclusive with src).",
                },
                ArgDoc {
                    name: "src",
                    ty: "path",
                    required: false,
                    default: None,
                    description: "A file or folder on the controller, searched in the role's files/ then the playbook's; dir/ copies the folder's contents, dir the folder itself.",
                },
                ArgDoc {
                    name: "remote_src",
                    ty: "bool",
                    required: false,
                    default: Some("false"),
                    description: "src is a path on the target host.",
                },
                ArgDoc {
                    name: "local_follow",
                    ty: "bool",
                    required: false,
                    default: Some("true"),
                    description: "Symlinks in a source folder: copy what they point to (where that cannot loop), or the links themselves (false).",
                },
                ArgDoc {
                    name: "directory_mode",
                    ty: "mode",
                    required: false,
                    default: None,
                    description: "Mode of the folders a recursive copy makes or copies.",
                },
                ArgDoc {
                    name: "decrypt",
                    ty: "bool",
                    required: false,
                    default: Some("true"),
                    description: "Decrypt a vault-encrypted src on the controller with the run's vault secrets.",
                },
            ]
            .into_iter()
            .chain(dest_arg_docs())
            .collect(),
            example: "- copy:\n    content: \"smtpd_banner = $myhostname ESMTP\\n\"\n    dest: /etc/postfix/banner\n    mode: \"0644\"",
        }
    }

    /// In the order of Ansible's copy action, with its messages.
    fn validate(args: &CopyArgs) -> Result<(), String> {
        for (name, v) in [("_original_basename", &args.original_basename), ("_diff_peek", &args.diff_peek)] {
            if v.as_ref().is_some_and(|v| !v.is_null()) {
                return Err(format!("Invalid parameter specified: \"{name}\""));
            }
        }
        if args.source().is_none() && args.content.is_none() {
            return Err("src (or content) is required".into());
        }
        if args.dest().is_empty() {
            return Err("dest is required".into());
        }
        if args.source().is_some() && args.content.is_some() {
            return Err("src and content are mutually exclusive".into());
        }
        if args.content.is_some() && args.dest().ends_with('/') {
            return Err("can not use content with a dir as dest".into());
        }
        args.common.refuse_unsafe_writes()?;
        args.common.wanted()?;
        args.common.directory_mode().map(|_| ())
    }

    /// Ansible's `type='path'`: `~` and `$VAR` expand on the target.
    /// `mode: preserve` is the source file's mode (each file's own, for a
    /// controller folder).
    async fn resolve(a: &mut CopyArgs, ctx: &Context<'_>) -> Result<(), ModuleError> {
        if let Some(d) = a.dest.as_mut() {
            let slash = d.ends_with('/');
            super::command_expand::expand_path(ctx.host, d).await?;
            if slash && !d.ends_with('/') {
                d.push('/');
            }
        }
        // The module's `src` is a path on the target too (`remote_src`).
        if a.remote_src {
            if let Some(src) = a.src.as_mut().filter(|s| !s.is_empty()) {
                super::command_expand::expand_path(ctx.host, src).await?;
            }
        }
        if let (Some("preserve"), Some(src)) = (a.common.mode.as_str(), a.source()) {
            let src = src.to_string();
            if a.remote_src {
                let st = ctx.host.stat(&src, true).await?.ok_or_else(|| ModuleError::failed(format!("Source {src} not found")))?;
                a.common.mode = Value::String(format!("{:04o}", st.mode & 0o7777));
            } else {
                let path = ctx.controller.find_file("files", &src).map_err(ModuleError::failed)?;
                if !path.is_dir() {
                    a.common.mode = controller_mode(&path)?;
                }
            }
        }
        Ok(())
    }

    async fn probe(args: &CopyArgs, ctx: &Context<'_>) -> Result<CopyState, ModuleError> {
        let follow = args.common.follow.unwrap_or(false);
        let dest = args.dest();
        let (bytes, header, src_name) = match (&args.content, args.source()) {
            (Some(Value::String(s)), _) => (s.clone().into_bytes(), None, None),
            (Some(other), _) => (serde_json::to_string(other).unwrap_or_default().into_bytes(), None, None),
            (None, Some(src)) if args.remote_src => {
                let st = ctx.host.stat(src, true).await?.ok_or_else(|| ModuleError::failed(format!("Source {src} not found")))?;
                match st.kind {
                    FileKind::Directory => return Ok(CopyState::Host(probe_host_tree(args, src, ctx).await?)),
                    FileKind::File => {}
                    _ => return Err(ModuleError::failed(format!("Cannot copy invalid source '{src}': not a file"))),
                }
                let b = ctx.host.read_file(src).await?.ok_or_else(|| ModuleError::failed(format!("Source {src} not found")))?;
                (b, Some(src.to_string()), Some(src))
            }
            (None, Some(src)) => {
                let path = ctx.controller.find_file("files", src).map_err(ModuleError::failed)?;
                if path.is_dir() {
                    return Ok(CopyState::Local(probe_local_tree(args, src, &path, ctx).await?));
                }
                let b = ctx.controller.read_source(&path, args.decrypt).map_err(ModuleError::failed)?;
                (b, Some(path.display().to_string()), Some(src))
            }
            (None, None) => unreachable!("validate requires content or src"),
        };
        let mut state = probe_dest(ctx, dest, src_name, bytes, header.clone().unwrap_or_default(), follow).await?;
        // Ansible's diff of inline content is headed by the destination.
        if header.is_none() {
            state.after_header = state.path.clone();
        }
        Ok(CopyState::File(state))
    }

    fn plan(args: &CopyArgs, state: &CopyState) -> Result<CopyPlan, ModuleError> {
        match state {
            CopyState::File(s) => plan_dest(&args.common, s).map(CopyPlan::File),
            CopyState::Local(t) => {
                plan_local(t, &args.tree_options().map_err(ModuleError::failed)?).map(CopyPlan::Tree).map_err(ModuleError::failed)
            }
            CopyState::Host(t) => {
                let o = args.tree_options().map_err(ModuleError::failed)?;
                plan_host(t, &o.wanted, o.directory_mode).map(CopyPlan::Tree).map_err(ModuleError::failed)
            }
        }
    }

    async fn apply(args: &CopyArgs, plan: CopyPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let plan = match plan {
            CopyPlan::File(p) => p,
            CopyPlan::Tree(p) => {
                let mut r = apply_tree(ctx.host, &p).await?;
                if let Some(path) = &p.single_file {
                    if let Some(st) = ctx.host.stat(path, true).await? {
                        r = r.with("dest", path.clone()).with("state", "file");
                        if let Some(sum) = ctx.host.checksum(path, "sha1").await? {
                            r = r.with("checksum", sum);
                        }
                        // As for one file: the MD5 of what was written.
                        if p.ops.iter().any(|op| matches!(op, TreeOp::Write { path: w, .. } if w == path)) {
                            if let Some(sum) = ctx.host.checksum(path, "md5").await? {
                                r = r.with("md5sum", sum);
                            }
                        }
                        file_attrs::add_stat_keys(&mut r, &st);
                    }
                }
                if args.remote_src {
                    if let Some(st) = ctx.host.stat(&p.dest, true).await? {
                        file_attrs::add_stat_keys(&mut r, &st);
                        r = r.with("state", "directory");
                    }
                }
                return Ok(r);
            }
        };
        // Ansible's `src` is its staged copy on the target; mailplay writes
        // in place, so it names the source file (none for `content`).
        let source = args.source().map(|_| plan.after_header.clone());
        let wrote = plan.write.is_some();
        let r = apply_dest(&args.common, plan, ctx).await?;
        Ok(match source {
            Some(src) if wrote && !r.failed => r.with("src", src),
            _ => r,
        })
    }

    fn unchanged_result(_args: &CopyArgs, state: &CopyState) -> ModuleResult {
        match state {
            CopyState::File(s) => unchanged(s),
            CopyState::Local(t) => match (&t.files[..], t.files.first().and_then(|f| f.dest.as_ref())) {
                // One file: its result, as Ansible's action gives it.
                ([f], Some(st)) => {
                    let path = format!("{}{}", t.dest, f.rel);
                    let mut r = ModuleResult::ok()
                        .with("dest", path.clone())
                        .with("path", path)
                        .with("src", t.src.clone())
                        .with("checksum", sha1_hex(&f.content))
                        .with("state", "file");
                    file_attrs::add_stat_keys(&mut r, st);
                    r
                }
                _ => ModuleResult::ok().with("dest", t.dest.clone()).with("src", t.src.clone()),
            },
            CopyState::Host(t) => {
                let mut r = ModuleResult::ok().with("dest", t.dest.clone()).with("src", t.src.clone());
                if let Some(st) = &t.dest_stat {
                    file_attrs::add_stat_keys(&mut r, st);
                    r = r.with("state", "directory");
                }
                r
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use crate::host::FileKind;
    use serde_json::json;

    fn state(content: Option<&str>, mode: u32, new: &str) -> DestState {
        DestState {
            path: "/etc/x".into(),
            stat: content.map(|_| FileStat {
                kind: FileKind::File,
                mode,
                owner: "root".into(),
                group: "root".into(),
                uid: 0,
                gid: 0,
                size: 1,
                mtime: 0,
                link_target: None,
            }),
            content: content.map(|c| c.as_bytes().to_vec()),
            new_content: new.as_bytes().to_vec(),
            after_header: "dynamically generated".into(),
            missing: Vec::new(),
        }
    }

    fn args(v: Value) -> CopyArgs {
        parse_args("copy", &v).unwrap()
    }

    #[test]
    fn same_content_and_mode_plans_nothing() {
        let a = args(json!({"content": "a\n", "dest": "/etc/x", "mode": "0644"}));
        assert!(!plan_dest(&a.common, &state(Some("a\n"), 0o644, "a\n")).unwrap().changes_anything());
    }

    #[test]
    fn new_content_is_written_with_a_diff() {
        let a = args(json!({"content": "b\n", "dest": "/etc/x"}));
        let p = plan_dest(&a.common, &state(Some("a\n"), 0o644, "b\n")).unwrap();
        assert_eq!(p.write, Some(("a\n".into(), b"b\n".to_vec())));
        assert_eq!(p.diffs()[0].before, "a\n");
    }

    #[test]
    fn only_the_mode_differs() {
        let a = args(json!({"content": "a\n", "dest": "/etc/x", "mode": 0o600}));
        let p = plan_dest(&a.common, &state(Some("a\n"), 0o644, "a\n")).unwrap();
        assert!(p.write.is_none());
        assert_eq!(p.attrs.mode, Some((0o644, 0o600)));
    }

    #[test]
    fn force_false_never_replaces() {
        let a = args(json!({"content": "b\n", "dest": "/etc/x", "force": "no"}));
        assert!(!plan_dest(&a.common, &state(Some("a\n"), 0o644, "b\n")).unwrap().changes_anything());
        assert!(plan_dest(&a.common, &state(None, 0, "b\n")).unwrap().changes_anything());
    }

    #[test]
    fn unknown_args_and_exclusive_options_are_rejected() {
        let e = parse_args::<CopyArgs>("copy", &json!({"content": "x", "dest": "/x", "moed": "0644"})).unwrap_err();
        assert!(e.to_string().contains("moed"), "{e}");
        assert!(CopyModule::validate(&args(json!({"content": "x", "src": "y", "dest": "/x"}))).is_err());
    }
}
