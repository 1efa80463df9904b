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
    #[serde(deserialize_with = "crate::args::loose_string")]
    pub dest: String,
    #[serde(flatten)]
    pub common: DestArgs,
    #[serde(default, deserialize_with = "loose_bool")]
    pub remote_src: bool,
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
    /// Refused when set: mailplay's copy never creates directories.
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
        if self.unsafe_writes {
            return Err("unsafe_writes is not supported by mailplay: files are always written atomically".into());
        }
        Ok(())
    }

    pub fn wanted(&self) -> Result<WantedAttrs, String> {
        Ok(WantedAttrs { owner: self.owner.clone(), group: self.group.clone(), mode: file_attrs::parse_mode(&self.mode)? })
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
}

#[derive(Debug, Clone, PartialEq)]
pub struct DestPlan {
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
        self.write.is_some() || self.attrs.any()
    }
    fn diffs(&self) -> Vec<Diff> {
        let mut out = Vec::new();
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
        let change = match &self.write {
            Some((_, content)) => PathChange::Write { content: content.clone(), attrs },
            None if self.attrs.any() => PathChange::Attrs(attrs),
            None => return Vec::new(),
        };
        vec![Effect::Path { path: self.path.clone(), change }]
    }
}

/// Probe the destination: its stat and (when it is a file) its content.
pub async fn probe_dest(
    host: &dyn Host,
    dest: &str,
    src_name: Option<&str>,
    new_content: Vec<u8>,
    after_header: String,
    follow: bool,
) -> Result<DestState, ModuleError> {
    let (mut path, mut st, is_dir, mut content) = locate(host, dest, follow).await?;
    if is_dir || dest.ends_with('/') {
        let base = src_name
            .and_then(|s| s.rsplit('/').next())
            .ok_or_else(|| ModuleError::failed(format!("dest '{dest}' is a directory; give src or a file name")))?;
        let (inner, inner_st, inner_is_dir, inner_content) =
            locate(host, &format!("{}/{}", dest.trim_end_matches('/'), base), follow).await?;
        if inner_is_dir {
            return Err(ModuleError::failed(format!("{inner} is a directory")));
        }
        (path, st, content) = (inner, inner_st, inner_content);
    }
    // Read now what was not read with the stat (a link's target, a device).
    let content = match (&st, content) {
        (_, Some(c)) => Some(c),
        (Some(_), None) => host.read_file(&path).await?,
        (None, None) => None,
    };
    Ok(DestState { path, stat: st, content, new_content, after_header })
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
    common.refuse_unsupported().map_err(ModuleError::failed)?;
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

pub struct CopyState {
    dest: DestState,
}

#[async_trait]
impl Module for CopyModule {
    type Args = CopyArgs;
    type State = CopyState;
    type Plan = DestPlan;
    const NAME: &'static str = "copy";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Write a file from inline content or the controller's files/, atomically.",
            args: [
                ArgDoc {
                    name: "dest",
                    ty: "path",
                    required: true,
                    default: None,
                    description: "Where to write; a folder means folder/basename(src).",
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
                    description: "A file on the controller, searched in the role's files/ then the playbook's.",
                },
                ArgDoc {
                    name: "remote_src",
                    ty: "bool",
                    required: false,
                    default: Some("false"),
                    description: "src is a path on the target host.",
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

    fn validate(args: &CopyArgs) -> Result<(), String> {
        match (&args.content, &args.src) {
            (Some(_), Some(_)) => Err("parameters are mutually exclusive: content|src".into()),
            (None, None) => Err("src (or content) is required".into()),
            _ => args.common.refuse_unsupported().and_then(|_| args.common.wanted().map(|_| ())),
        }
    }

    /// Ansible's `type='path'`: `~` and `$VAR` expand on the target.
    /// `mode: preserve` is the source file's mode.
    async fn resolve(a: &mut CopyArgs, ctx: &Context<'_>) -> Result<(), ModuleError> {
        super::command_expand::expand_path(ctx.host, &mut a.dest).await?;
        if let (Some("preserve"), Some(src)) = (a.common.mode.as_str(), &a.src) {
            a.common.mode = if a.remote_src {
                let st = ctx.host.stat(src, true).await?.ok_or_else(|| ModuleError::failed(format!("Source {src} not found")))?;
                Value::String(format!("{:04o}", st.mode & 0o7777))
            } else {
                controller_mode(&ctx.controller.find_file("files", src).map_err(ModuleError::failed)?)?
            };
        }
        Ok(())
    }

    async fn probe(args: &CopyArgs, ctx: &Context<'_>) -> Result<CopyState, ModuleError> {
        let (bytes, header, src_name) = match (&args.content, &args.src) {
            (Some(Value::String(s)), _) => (s.clone().into_bytes(), "dynamically generated".to_string(), None),
            (Some(other), _) => (serde_json::to_string(other).unwrap_or_default().into_bytes(), "dynamically generated".to_string(), None),
            (None, Some(src)) if args.remote_src => {
                let b = ctx.host.read_file(src).await?.ok_or_else(|| ModuleError::failed(format!("Source {src} not found")))?;
                (b, src.clone(), Some(src.as_str()))
            }
            (None, Some(src)) => {
                let path = ctx.controller.find_file("files", src).map_err(ModuleError::failed)?;
                if path.is_dir() {
                    return Err(ModuleError::failed(format!("copying the folder {} is not supported yet; copy its files", path.display())));
                }
                let b = ctx.controller.read_source(&path, args.decrypt).map_err(ModuleError::failed)?;
                (b, path.display().to_string(), Some(src.as_str()))
            }
            (None, None) => unreachable!("validate requires content or src"),
        };
        Ok(CopyState { dest: probe_dest(ctx.host, &args.dest, src_name, bytes, header, args.common.follow.unwrap_or(false)).await? })
    }

    fn plan(args: &CopyArgs, state: &CopyState) -> Result<DestPlan, ModuleError> {
        plan_dest(&args.common, &state.dest)
    }

    async fn apply(args: &CopyArgs, plan: DestPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        // Ansible's `src` is its staged copy on the target; mailplay writes
        // in place, so it names the source file (none for `content`).
        let source = args.src.as_ref().map(|_| plan.after_header.clone());
        let wrote = plan.write.is_some();
        let r = apply_dest(&args.common, plan, ctx).await?;
        Ok(match source {
            Some(src) if wrote && !r.failed => r.with("src", src),
            _ => r,
        })
    }

    fn unchanged_result(_args: &CopyArgs, state: &CopyState) -> ModuleResult {
        unchanged(&state.dest)
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
