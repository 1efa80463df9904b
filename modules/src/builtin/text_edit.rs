//! What `lineinfile` and `blockinfile` share: read a text file, turn a pure
//! edit of its text into a destination plan (create only when asked), and
//! write it through `copy`'s atomic destination code.

use crate::host::{FileKind, Host};
use crate::module::{Context, Diff, ModuleError, ModuleResult, Plan};

use super::copy::{apply_dest, plan_dest, DestArgs, DestPlan, DestState};

/// The file's text, or None when it does not exist.
pub async fn read_text(host: &dyn Host, path: &str) -> Result<(Option<crate::host::FileStat>, Option<String>), ModuleError> {
    let st = host.stat(path, true).await?;
    read_text_at(host, path, st).await
}

/// [`read_text`] for a path already stat'ed (followed).
pub async fn read_text_at(
    host: &dyn Host,
    path: &str,
    st: Option<crate::host::FileStat>,
) -> Result<(Option<crate::host::FileStat>, Option<String>), ModuleError> {
    if matches!(&st, Some(s) if s.kind == FileKind::Directory) {
        return Err(ModuleError::failed(format!("Path {path} is a directory !")));
    }
    let text = match &st {
        Some(_) => Some(String::from_utf8_lossy(&host.read_file(path).await?.unwrap_or_default()).into_owned()),
        None => None,
    };
    Ok((st, text))
}

/// The file a text edit works on (a symlink's final target, as
/// `copy::resolve_link`), its stat and its text: one round trip for a
/// plain or missing file (`Host::stat_and_read`).
pub async fn read_text_resolved(
    host: &dyn Host,
    path: &str,
) -> Result<(String, Option<crate::host::FileStat>, Option<String>), ModuleError> {
    match host.stat_and_read(path).await? {
        (Some(st), Some(bytes)) => Ok((path.to_string(), Some(st), Some(String::from_utf8_lossy(&bytes).into_owned()))),
        (lstat, _) => {
            let (path, st) = super::copy::resolve_link_at(host, path, lstat).await?;
            let (st, text) = read_text_at(host, &path, st).await?;
            Ok((path, st, text))
        }
    }
}

/// A probed file and the edited text for it.
pub struct EditState {
    pub dest: DestState,
    pub msg: String,
    pub exists: bool,
    /// Check mode: missing now, but a package this run installs makes it.
    pub made_by_package: bool,
}

impl EditState {
    pub fn new(path: &str, st: Option<crate::host::FileStat>, old: Option<String>, new_text: String, msg: String) -> Self {
        let exists = st.is_some();
        let dest = DestState {
            path: path.to_string(),
            stat: st,
            content: old.map(String::into_bytes),
            new_content: new_text.into_bytes(),
            after_header: path.to_string(),
            missing: Vec::new(),
        };
        EditState { dest, msg, exists, made_by_package: false }
    }
}

/// Check mode: a file that is missing now but lies in a folder a package
/// this run installs ships is taken to be made by that package (its
/// maintainer scripts), an assumption the task's result names.
pub fn note_made_by_package(ctx: &Context<'_>, s: &mut EditState) {
    if s.exists || !ctx.check_mode {
        return;
    }
    if let Some(package) = ctx.rehearsal().and_then(|p| p.maker_of(&s.dest.path)) {
        ctx.assume(format!("{} is made by {package}, which this run installs first", s.dest.path));
        s.made_by_package = true;
    }
}

pub struct EditPlan {
    pub dest: Option<DestPlan>,
    pub msg: String,
}

impl Plan for EditPlan {
    fn changes_anything(&self) -> bool {
        self.dest.as_ref().is_some_and(|d| d.changes_anything())
    }
    fn diffs(&self) -> Vec<Diff> {
        self.dest.as_ref().map(|d| d.diffs()).unwrap_or_default()
    }
    fn effects(&self) -> Vec<crate::planned::Effect> {
        self.dest.as_ref().map(|d| d.effects()).unwrap_or_default()
    }
}

/// Of `copy`'s destination arguments, lineinfile and blockinfile take
/// neither `follow` (they always edit a link's target, as Ansible does) nor
/// `checksum`: refuse them by name.
pub fn refuse_copy_only(common: &DestArgs, module: &str) -> Result<(), String> {
    if common.follow.is_some() {
        return Err(format!("follow is not an argument of {module}: it always edits the file a symlink points to"));
    }
    if common.checksum.is_some() {
        return Err(format!("checksum is not an argument of {module}"));
    }
    Ok(())
}

/// Plan the edit. A missing file is left alone for `absent`, and is an
/// error for `present` unless `create` (`missing` is the message).
pub fn plan_edit(
    common: &DestArgs,
    s: &EditState,
    absent: bool,
    create: bool,
    not_present_msg: &str,
    missing: String,
) -> Result<EditPlan, ModuleError> {
    if !s.exists {
        if absent {
            return Ok(EditPlan { dest: None, msg: not_present_msg.to_string() });
        }
        if !create && !s.made_by_package {
            return Err(ModuleError::failed(missing));
        }
    }
    Ok(EditPlan { dest: Some(plan_dest(common, &s.dest)?), msg: s.msg.clone() })
}

/// The shape of the result: Ansible's lineinfile (changed, msg, `backup`,
/// '' without one) or blockinfile (changed, msg, `backup_file` with one),
/// or copy's destination details (mailplay's own file modules).
#[derive(Clone, Copy)]
pub enum BackupKey {
    Backup,
    BackupFile,
    Dest,
}

/// Write the edit. The result is what Ansible's modules return: changed,
/// msg and the backup, not copy's file details.
pub async fn apply_edit(common: &DestArgs, plan: EditPlan, ctx: &Context<'_>, key: BackupKey) -> Result<ModuleResult, ModuleError> {
    let dest = plan.dest.expect("a plan that changes something has a destination");
    let msg = if dest.write.is_some() { plan.msg } else { "ownership, perms or SE linux context changed".into() };
    if !dest.existed {
        make_parents(ctx.host, &dest.path).await?;
    }
    let mut r = apply_dest(common, dest, ctx).await?;
    // A failed validation keeps its own message.
    if r.failed {
        return Ok(r);
    }
    if matches!(key, BackupKey::Dest) {
        return Ok(r.with_msg(msg));
    }
    let backup = r.data.remove("backup_file");
    r.data.clear();
    match (key, backup) {
        (BackupKey::Backup, b) => {
            r.data.insert("backup".into(), b.unwrap_or_else(|| "".into()));
        }
        (BackupKey::BackupFile, Some(b)) => {
            r.data.insert("backup_file".into(), b);
        }
        (BackupKey::BackupFile, None) | (BackupKey::Dest, _) => {}
    }
    Ok(r.with_msg(msg))
}

/// `create: yes` makes the missing folders above a new file, as Ansible's
/// lineinfile and blockinfile do (`os.makedirs`, modes from the umask).
async fn make_parents(host: &dyn Host, path: &str) -> Result<(), ModuleError> {
    let Some(parent) = std::path::Path::new(path).parent().and_then(|p| p.to_str()).filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    if host.stat(parent, true).await?.is_some() {
        return Ok(());
    }
    let out = host.exec(&crate::host::Command::argv(["mkdir", "-p", "--", parent])).await?;
    if out.success() {
        Ok(())
    } else {
        Err(ModuleError::failed(format!("Error creating {parent} ({})", out.stderr_str().trim())))
    }
}
