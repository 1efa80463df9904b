//! Recursive `copy`: a folder from the controller (`src: dir` or `dir/`)
//! or, with `remote_src`, a folder on the host, planned as a list of
//! operations on destination paths and applied in that order.
//!
//! The semantics are Ansible's: from the controller, every file is sent
//! where its content differs (the task's mode, owner and group on each),
//! every folder of the source gets `directory_mode`, folders the copy
//! makes get it too, and links are made as links (`copy_walk`). On the
//! host (the module's `copy_directory`), a missing destination is a copy
//! of the whole tree with its modes; an existing one gets the files whose
//! content differs and what it lacks, never loses anything, and the
//! task's owner and group are given to everything below it.

use crate::host::{quote, Command, FileAttrs, FileKind, FileStat, Host};
use crate::module::{Diff, ModuleError, ModuleResult, Plan};
use crate::planned::{Attrs, Effect, PathChange};

use super::copy_walk::Walk;
use super::file_attrs::{plan_attrs, AttrChanges, WantedAttrs};

/// One change to a destination path.
#[derive(Debug, Clone, PartialEq)]
pub enum TreeOp {
    /// A folder that is not there, with the attributes it gets.
    MakeDir { path: String, attrs: FileAttrs },
    /// Owner, group or mode of what is there (a link itself for owner and group).
    SetAttrs { path: String, changes: AttrChanges },
    /// A file with content from the controller, replacing what is there.
    Write { path: String, before: Option<String>, content: Vec<u8>, attrs: FileAttrs, source: String },
    /// A file, link or whole folder copied on the host (`remote_src`);
    /// `deref` copies what links point to; `owner`/`group` go to all of it.
    HostCopy { from: String, path: String, deref: bool, owner: Option<String>, group: Option<String>, is_dir: bool },
    /// A symlink to `target`, replacing what is there.
    Link { path: String, target: String, owner: Option<String>, group: Option<String> },
}

impl TreeOp {
    fn path(&self) -> &str {
        match self {
            TreeOp::MakeDir { path, .. }
            | TreeOp::SetAttrs { path, .. }
            | TreeOp::Write { path, .. }
            | TreeOp::HostCopy { path, .. }
            | TreeOp::Link { path, .. } => path,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TreePlan {
    /// What the result calls `dest` and `src`.
    pub dest: String,
    pub src: String,
    pub ops: Vec<TreeOp>,
    /// A controller folder holding one file: Ansible's result is that
    /// file's (its path as `dest`, its checksum).
    pub single_file: Option<String>,
}

fn attrs_of(a: &FileAttrs) -> Attrs {
    Attrs { owner: a.owner.clone(), group: a.group.clone(), mode: a.mode }
}

impl Plan for TreePlan {
    fn changes_anything(&self) -> bool {
        !self.ops.is_empty()
    }

    fn diffs(&self) -> Vec<Diff> {
        self.ops
            .iter()
            .map(|op| match op {
                TreeOp::Write { path, before, content, source, .. } => Diff {
                    before_header: path.clone(),
                    after_header: source.clone(),
                    before: before.clone().unwrap_or_default(),
                    after: String::from_utf8_lossy(content).into_owned(),
                    data: None,
                },
                TreeOp::MakeDir { path, .. } => Diff::new(path.clone(), "state: absent\n", "state: directory\n"),
                TreeOp::Link { path, target, .. } => Diff::new(path.clone(), "", format!("link to {target}\n")),
                TreeOp::HostCopy { path, from, .. } => Diff::new(path.clone(), "", format!("copy of {from}\n")),
                TreeOp::SetAttrs { path, changes } => {
                    let (b, a) = super::file_attrs::describe(changes);
                    Diff::new(path.clone(), b, a)
                }
            })
            .collect()
    }

    fn effects(&self) -> Vec<Effect> {
        self.ops
            .iter()
            .map(|op| {
                let change = match op {
                    TreeOp::MakeDir { attrs, .. } => PathChange::Directory(attrs_of(attrs)),
                    TreeOp::SetAttrs { changes, .. } => PathChange::Attrs(Attrs {
                        owner: changes.owner.as_ref().map(|(_, o)| o.clone()),
                        group: changes.group.as_ref().map(|(_, g)| g.clone()),
                        mode: changes.mode.map(|(_, m)| m),
                    }),
                    TreeOp::Write { content, attrs, .. } => PathChange::Write { content: content.clone(), attrs: attrs_of(attrs) },
                    TreeOp::HostCopy { from, owner, group, is_dir, .. } => PathChange::Unknown {
                        kind: if *is_dir { FileKind::Directory } else { FileKind::File },
                        attrs: Attrs { owner: owner.clone(), group: group.clone(), mode: None },
                        why: format!("a copy of {from}"),
                    },
                    TreeOp::Link { target, .. } => PathChange::Link { target: target.clone() },
                };
                Effect::Path { path: op.path().to_string(), change }
            })
            .collect()
    }
}

fn join(dir: &str, rel: &str) -> String {
    if rel.is_empty() {
        dir.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{rel}")
    } else {
        format!("{dir}/{rel}")
    }
}

fn parent(path: &str) -> Option<&str> {
    let t = path.trim_end_matches('/');
    match t.rsplit_once('/') {
        Some(("", _)) => Some("/"),
        Some((p, _)) => Some(p),
        None => None,
    }
}

/// The folders from `dir` up that do not exist, outermost first.
pub async fn missing_dirs(host: &dyn Host, dir: &str) -> Result<Vec<String>, ModuleError> {
    let mut out = Vec::new();
    let mut cur = Some(dir.trim_end_matches('/').to_string()).filter(|d| !d.is_empty());
    while let Some(d) = cur {
        match host.stat(&d, true).await? {
            Some(st) if st.kind == FileKind::Directory => break,
            Some(_) => return Err(ModuleError::failed(format!("{d} exists and is not a folder"))),
            None => {
                cur = parent(&d).filter(|p| *p != "/").map(str::to_string);
                out.push(d);
            }
        }
    }
    out.reverse();
    Ok(out)
}

// ---------------------------------------------------------------------
// From the controller.

/// A controller file and what its destination holds.
#[derive(Debug, Clone)]
pub struct LocalFile {
    pub rel: String,
    pub source: String,
    pub content: Vec<u8>,
    /// The source's mode, for `mode: preserve`.
    pub source_mode: u32,
    pub dest: Option<FileStat>,
    pub dest_content: Option<Vec<u8>>,
}

/// Everything the plan of a controller folder needs.
#[derive(Debug, Clone)]
pub struct LocalTree {
    /// The destination folder, ending with `/`.
    pub dest: String,
    pub src: String,
    /// Folders above and at `dest` that do not exist.
    pub missing: Vec<String>,
    pub files: Vec<LocalFile>,
    /// (relative path, what is there, listed by the walk itself)
    pub dirs: Vec<(String, Option<FileStat>, bool)>,
    /// (relative path, link target, what is there)
    pub links: Vec<(String, String, Option<FileStat>)>,
}

/// Relative folders a copy needs: the walk's own, and the ones above its
/// files and links (`src: dir` puts everything below `dir/`).
fn needed_dirs(walk: &Walk) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    let mut push = |d: &str, listed: bool| {
        if let Some(e) = out.iter_mut().find(|(x, _)| x == d) {
            e.1 |= listed;
        } else {
            out.push((d.to_string(), listed));
        }
    };
    let above = |rel: &str| -> Vec<String> {
        let parts: Vec<&str> = rel.split('/').collect();
        (1..parts.len()).map(|i| parts[..i].join("/")).collect()
    };
    for (_, rel) in walk.files.iter().chain(walk.dirs.iter()) {
        for d in above(rel) {
            push(&d, false);
        }
    }
    for (_, rel) in &walk.links {
        for d in above(rel) {
            push(&d, false);
        }
    }
    for (_, rel) in &walk.dirs {
        push(rel, true);
    }
    out.sort_by(|a, b| a.0.split('/').count().cmp(&b.0.split('/').count()).then(a.0.cmp(&b.0)));
    out
}

/// Probe the destination of each path of the walk.
pub async fn probe_local(
    host: &dyn Host,
    dest: &str,
    src: &str,
    walk: &Walk,
    read: &(dyn Fn(&std::path::Path) -> Result<Vec<u8>, String> + Sync),
) -> Result<LocalTree, ModuleError> {
    use std::os::unix::fs::PermissionsExt;
    let dest = if dest.ends_with('/') { dest.to_string() } else { format!("{dest}/") };
    let missing = missing_dirs(host, &dest).await?;
    // Below a folder the copy makes, nothing exists yet.
    let fresh = !missing.is_empty();
    let mut files = Vec::new();
    for (path, rel) in &walk.files {
        let content = read(path).map_err(ModuleError::failed)?;
        let source_mode = std::fs::metadata(path).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o644);
        let (st, dest_content) = if fresh { (None, None) } else { host.stat_and_read(&join(&dest, rel)).await? };
        files.push(LocalFile { rel: rel.clone(), source: path.display().to_string(), content, source_mode, dest: st, dest_content });
    }
    let mut dirs = Vec::new();
    for (rel, listed) in needed_dirs(walk) {
        let st = if fresh { None } else { host.stat(&join(&dest, &rel), false).await? };
        dirs.push((rel, st, listed));
    }
    let mut links = Vec::new();
    for (target, rel) in &walk.links {
        let st = if fresh { None } else { host.stat(&join(&dest, rel), false).await? };
        links.push((rel.clone(), target.clone(), st));
    }
    Ok(LocalTree { dest, src: src.to_string(), missing, files, dirs, links })
}

/// The options of the copy task that decide a tree's plan.
#[derive(Debug, Clone, Default)]
pub struct TreeOptions {
    pub wanted: WantedAttrs,
    /// `mode: preserve`: each file keeps its source's mode.
    pub preserve: bool,
    pub directory_mode: Option<u32>,
    pub force: bool,
}

pub fn plan_local(tree: &LocalTree, o: &TreeOptions) -> Result<TreePlan, String> {
    let mut ops = Vec::new();
    let dir_attrs = FileAttrs { owner: o.wanted.owner.clone(), group: o.wanted.group.clone(), mode: o.directory_mode };
    for d in &tree.missing {
        ops.push(TreeOp::MakeDir { path: d.clone(), attrs: dir_attrs.clone() });
    }
    for (rel, st, listed) in &tree.dirs {
        let path = join(&tree.dest, rel);
        match st {
            None => ops.push(TreeOp::MakeDir { path, attrs: dir_attrs.clone() }),
            Some(s) if s.kind != FileKind::Directory => return Err(format!("{path} already exists and is not a folder")),
            Some(s) if *listed => {
                let want = WantedAttrs {
                    owner: o.wanted.owner.clone(),
                    group: o.wanted.group.clone(),
                    mode: o.directory_mode.map(super::file_attrs::Mode::Absolute),
                };
                let changes = plan_attrs(&want, s)?;
                if changes.any() {
                    ops.push(TreeOp::SetAttrs { path, changes });
                }
            }
            Some(_) => {}
        }
    }
    for f in &tree.files {
        let path = join(&tree.dest, &f.rel);
        let wanted = if o.preserve {
            WantedAttrs { mode: Some(super::file_attrs::Mode::Absolute(f.source_mode)), ..o.wanted.clone() }
        } else {
            o.wanted.clone()
        };
        match &f.dest {
            Some(_) if !o.force => {}
            Some(s) if s.kind == FileKind::Directory => return Err(format!("{path} is a folder; cannot copy {} over it", f.source)),
            Some(s) if s.kind == FileKind::File && f.dest_content.as_deref() == Some(&f.content[..]) => {
                let changes = plan_attrs(&wanted, s)?;
                if changes.any() {
                    ops.push(TreeOp::SetAttrs { path, changes });
                }
            }
            st => {
                let attrs = FileAttrs {
                    owner: wanted.owner.clone(),
                    group: wanted.group.clone(),
                    mode: match (&wanted.mode, st) {
                        (Some(super::file_attrs::Mode::Symbolic(s)), Some(cur)) if cur.kind == FileKind::File => {
                            Some(super::file_attrs::apply_symbolic(cur.mode, s, false)?)
                        }
                        _ => super::file_attrs::mode_for_new(&wanted, false)?,
                    },
                };
                let before = f.dest_content.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
                ops.push(TreeOp::Write { path, before, content: f.content.clone(), attrs, source: f.source.clone() });
            }
        }
    }
    for (rel, target, st) in &tree.links {
        let path = join(&tree.dest, rel);
        match st {
            Some(s) if s.kind == FileKind::Link && s.link_target.as_deref() == Some(target.as_str()) => {}
            Some(s) if s.kind == FileKind::Directory => {
                return Err(format!("{path} is a folder; cannot replace it with a link to {target}"))
            }
            _ => ops.push(TreeOp::Link { path, target: target.clone(), owner: o.wanted.owner.clone(), group: o.wanted.group.clone() }),
        }
    }
    let single_file = match &tree.files[..] {
        [only] => Some(join(&tree.dest, &only.rel)),
        _ => None,
    };
    Ok(TreePlan { dest: tree.dest.clone(), src: tree.src.clone(), ops, single_file })
}

// ---------------------------------------------------------------------
// On the host (`remote_src`).

/// One path below a folder on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub rel: String,
    pub kind: FileKind,
    pub mode: u32,
    pub owner: String,
    pub group: String,
    pub uid: u32,
    pub gid: u32,
    /// The content's SHA-1, following a link; None for folders and
    /// what cannot be read.
    pub sha1: Option<String>,
}

/// Parse `find -printf '%y\0%m\0%u\0%g\0%U\0%G\0%P\0'` output.
pub fn parse_listing(out: &[u8]) -> Vec<Entry> {
    let fields: Vec<String> = out.split(|b| *b == 0).map(|f| String::from_utf8_lossy(f).into_owned()).collect();
    fields
        .chunks_exact(7)
        .filter_map(|c| {
            let kind = match c[0].as_str() {
                "f" => FileKind::File,
                "d" => FileKind::Directory,
                "l" => FileKind::Link,
                _ => FileKind::Other,
            };
            Some(Entry {
                rel: c[6].clone(),
                kind,
                mode: u32::from_str_radix(&c[1], 8).ok()?,
                owner: c[2].clone(),
                group: c[3].clone(),
                uid: c[4].parse().ok()?,
                gid: c[5].parse().ok()?,
                sha1: None,
            })
        })
        .collect()
}

/// Parse `sha1sum -z` output of paths given as `./rel`.
pub fn parse_sums(out: &[u8]) -> Vec<(String, String)> {
    out.split(|b| *b == 0)
        .filter_map(|rec| {
            let rec = String::from_utf8_lossy(rec).into_owned();
            let (sum, name) = rec.split_once("  ")?;
            Some((name.strip_prefix("./").unwrap_or(name).to_string(), sum.trim_start_matches('\\').to_string()))
        })
        .collect()
}

/// What is below the host folder `root` (the root itself excluded),
/// with `follow` seen through links (`find -L`).
pub async fn list_tree(host: &dyn Host, root: &str, follow: bool) -> Result<Vec<Entry>, ModuleError> {
    let r = quote(root.trim_end_matches('/'));
    let l = if follow { "-L " } else { "" };
    // A loop below the root under -L makes find complain and go on.
    let list = host
        .exec(&Command::shell(format!(
            "cd {r}/ || exit 1; find {l}. -mindepth 1 -printf '%y\\0%m\\0%u\\0%g\\0%U\\0%G\\0%P\\0' 2>/dev/null; exit 0"
        )))
        .await?;
    if !list.success() {
        return Err(ModuleError::failed(format!("cannot list {root}: {}", list.stderr_str().trim())));
    }
    let mut entries = parse_listing(&list.stdout);
    let sums = host
        .exec(&Command::shell(format!(
            "cd {r}/ && find {l}. -mindepth 1 \\( -type f -o -type l \\) -exec sha1sum -z -- {{}} + 2>/dev/null; true"
        )))
        .await?;
    for (rel, sum) in parse_sums(&sums.stdout) {
        if let Some(e) = entries.iter_mut().find(|e| e.rel == rel) {
            e.sha1 = Some(sum);
        }
    }
    Ok(entries)
}

/// A folder copied on the host, as probed.
#[derive(Debug, Clone)]
pub struct HostTree {
    /// The source folder, as given.
    pub src: String,
    /// Where the tree goes (`dest`, or `dest/basename(src)`).
    pub root: String,
    /// What the result calls `dest`, whose own attributes the task sets.
    pub dest: String,
    pub dest_stat: Option<FileStat>,
    /// `dest` ended with `/` and these folders above the root are missing.
    pub missing: Vec<String>,
    /// None: the root does not exist.
    pub existing: Option<Vec<Entry>>,
    pub source: Vec<Entry>,
    /// `local_follow` as given (unset keeps links, as Ansible's module).
    pub local_follow: Option<bool>,
}

pub fn plan_host(t: &HostTree, wanted: &WantedAttrs, directory_mode: Option<u32>) -> Result<TreePlan, String> {
    let mut ops = Vec::new();
    let deref = t.local_follow == Some(true);
    let owner = wanted.owner.clone();
    let group = wanted.group.clone();
    let dir_attrs = FileAttrs { owner: owner.clone(), group: group.clone(), mode: directory_mode };
    for d in &t.missing {
        ops.push(TreeOp::MakeDir { path: d.clone(), attrs: dir_attrs.clone() });
    }
    let src_root = t.src.trim_end_matches('/');
    match &t.existing {
        None if t.missing.iter().any(|m| m == t.root.trim_end_matches('/')) => {
            // Made above: its contents are copied into it one by one.
            for e in t.source.iter().filter(|e| !e.rel.contains('/')) {
                ops.push(copy_op(src_root, &t.root, e, deref, &owner, &group));
            }
        }
        None => ops.push(TreeOp::HostCopy {
            from: format!("{src_root}/"),
            path: t.root.clone(),
            deref,
            owner: owner.clone(),
            group: group.clone(),
            is_dir: true,
        }),
        Some(existing) => {
            let find = |rel: &str| existing.iter().find(|e| e.rel == rel);
            let mut copied: Vec<String> = Vec::new();
            for e in &t.source {
                if copied.iter().any(|c| e.rel.starts_with(&format!("{c}/"))) {
                    continue;
                }
                // Only below folders both sides have (dircmp's common_dirs).
                if let Some((p, _)) = e.rel.rsplit_once('/') {
                    if !matches!(find(p), Some(d) if d.kind == FileKind::Directory) {
                        continue;
                    }
                }
                match find(&e.rel) {
                    None => {
                        copied.push(e.rel.clone());
                        ops.push(copy_op(src_root, &t.root, e, deref, &owner, &group));
                    }
                    Some(d) if (deref || e.kind != FileKind::Link) && e.sha1.is_some() && d.sha1.is_some() && e.sha1 != d.sha1 => {
                        ops.push(TreeOp::HostCopy {
                            from: join(src_root, &e.rel),
                            path: join(&t.root, &d.rel),
                            deref: true,
                            owner: owner.clone(),
                            group: group.clone(),
                            is_dir: false,
                        });
                    }
                    Some(_) => {}
                }
            }
            // The task's owner and group on everything already there.
            let want = WantedAttrs { owner: owner.clone(), group: group.clone(), mode: None };
            for d in existing {
                let st = entry_stat(d);
                let changes = plan_attrs(&want, &st)?;
                if changes.any() {
                    ops.push(TreeOp::SetAttrs { path: join(&t.root, &d.rel), changes });
                }
            }
        }
    }
    // The destination itself: mode, owner and group as for a file.
    if let Some(st) = &t.dest_stat {
        let changes = plan_attrs(wanted, st)?;
        if changes.any() {
            ops.push(TreeOp::SetAttrs { path: t.dest.clone(), changes });
        }
    } else if wanted.mode.is_some() || owner.is_some() || group.is_some() {
        let mode = super::file_attrs::mode_for_new(wanted, true)?;
        if mode.is_some() {
            ops.push(TreeOp::SetAttrs {
                path: t.dest.clone(),
                changes: AttrChanges { owner: None, group: None, mode: mode.map(|m| (0, m)) },
            });
        }
    }
    Ok(TreePlan { dest: t.dest.clone(), src: t.src.clone(), ops, single_file: None })
}

fn entry_stat(e: &Entry) -> FileStat {
    FileStat {
        kind: e.kind,
        mode: e.mode,
        owner: e.owner.clone(),
        group: e.group.clone(),
        uid: e.uid,
        gid: e.gid,
        size: 0,
        mtime: 0,
        link_target: None,
    }
}

fn copy_op(src_root: &str, root: &str, e: &Entry, deref: bool, owner: &Option<String>, group: &Option<String>) -> TreeOp {
    TreeOp::HostCopy {
        from: join(src_root, &e.rel),
        path: join(root, &e.rel),
        deref,
        owner: owner.clone(),
        group: group.clone(),
        is_dir: e.kind == FileKind::Directory,
    }
}

// ---------------------------------------------------------------------

/// Carry out a tree plan, in its order.
pub async fn apply_tree(host: &dyn Host, plan: &TreePlan) -> Result<ModuleResult, ModuleError> {
    for op in &plan.ops {
        match op {
            TreeOp::MakeDir { path, attrs } => {
                let st = host.stat(path, true).await?;
                if st.is_none() {
                    host.make_dir(path, None).await.map_err(|e| ModuleError::failed(format!("cannot make the folder {path}: {e}")))?;
                }
                host.set_attrs(path, attrs).await.map_err(|e| ModuleError::failed(format!("cannot set attributes of {path}: {e}")))?;
            }
            TreeOp::SetAttrs { path, changes } => super::file_attrs::apply_attrs(host, path, changes, false).await?,
            TreeOp::Write { path, content, attrs, .. } => {
                // A link there is replaced by the file, never written through.
                if let Some(st) = host.stat(path, false).await? {
                    if st.kind == FileKind::Link {
                        run(host, &format!("rm -f -- {}", quote(path)), path).await?;
                    }
                }
                host.write_file(path, content, attrs).await?
            }
            TreeOp::HostCopy { from, path, deref, owner, group, is_dir } => {
                let flags = match (is_dir, deref) {
                    (true, true) => "-RL",
                    (true, false) => "-RP",
                    (false, true) => "-L",
                    (false, false) => "-P",
                };
                let mut script = format!(
                    "mkdir -p -- \"$(dirname -- {p})\" && cp {flags} -T --preserve=mode,timestamps -- {f} {p}",
                    p = quote(path),
                    f = quote(from.trim_end_matches('/'))
                );
                let attrs = FileAttrs { owner: owner.clone(), group: group.clone(), mode: None };
                if owner.is_some() || group.is_some() {
                    script = format!("{script} && ( {} )", crate::host::attrs_script(path, &attrs, true));
                }
                run(host, &script, path).await?;
            }
            TreeOp::Link { path, target, owner, group } => {
                if let Some(st) = host.stat(path, false).await? {
                    if st.kind != FileKind::Directory {
                        run(host, &format!("rm -f -- {}", quote(path)), path).await?;
                    }
                }
                run(host, &format!("mkdir -p -- \"$(dirname -- {p})\" && ln -s -- {} {p}", quote(target), p = quote(path)), path).await?;
                if owner.is_some() || group.is_some() {
                    host.set_attrs(path, &FileAttrs { owner: owner.clone(), group: group.clone(), mode: None }).await?;
                }
            }
        }
    }
    Ok(ModuleResult::changed(!plan.ops.is_empty()).with("dest", plan.dest.clone()).with("src", plan.src.clone()))
}

async fn run(host: &dyn Host, script: &str, path: &str) -> Result<(), ModuleError> {
    let out = host.exec(&Command::shell(script)).await?;
    if out.success() {
        Ok(())
    } else {
        Err(ModuleError::failed(format!("cannot copy to {path}: {}", out.stderr_str().trim())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(kind: FileKind, mode: u32) -> Option<FileStat> {
        Some(FileStat { kind, mode, owner: "root".into(), group: "root".into(), uid: 0, gid: 0, size: 0, mtime: 0, link_target: None })
    }

    fn file(rel: &str, content: &str, dest: Option<FileStat>, dest_content: Option<&str>) -> LocalFile {
        LocalFile {
            rel: rel.into(),
            source: format!("/src/{rel}"),
            content: content.as_bytes().to_vec(),
            source_mode: 0o640,
            dest,
            dest_content: dest_content.map(|c| c.as_bytes().to_vec()),
        }
    }

    #[test]
    fn needed_dirs_include_the_ones_above_files() {
        let walk = Walk {
            files: vec![("/s/d/a.txt".into(), "d/a.txt".into())],
            dirs: vec![("/s/d/x".into(), "d/x".into())],
            links: vec![("t".into(), "d/x/l".into())],
        };
        assert_eq!(needed_dirs(&walk), [("d".to_string(), false), ("d/x".to_string(), true)]);
    }

    #[test]
    fn a_new_tree_is_made_and_an_equal_one_is_left_alone() {
        let o = TreeOptions { directory_mode: Some(0o700), force: true, ..Default::default() };
        let tree = LocalTree {
            dest: "/d/".into(),
            src: "/s".into(),
            missing: vec![],
            files: vec![file("sub/a", "A", None, None)],
            dirs: vec![("sub".into(), None, false)],
            links: vec![("sub/l".into(), "../a".into(), None)],
        };
        let p = plan_local(&tree, &o).unwrap();
        assert!(matches!(&p.ops[0], TreeOp::MakeDir { path, attrs } if path == "/d/sub" && attrs.mode == Some(0o700)));
        assert!(matches!(&p.ops[1], TreeOp::Write { path, .. } if path == "/d/sub/a"));
        assert!(matches!(&p.ops[2], TreeOp::Link { path, target, .. } if path == "/d/sub/l" && target == "../a"));
        let mut link = st(FileKind::Link, 0o777);
        link.as_mut().unwrap().link_target = Some("../a".into());
        let same = LocalTree {
            files: vec![file("sub/a", "A", st(FileKind::File, 0o644), Some("A"))],
            dirs: vec![("sub".into(), st(FileKind::Directory, 0o755), false)],
            links: vec![("sub/l".into(), "../a".into(), link)],
            ..tree
        };
        assert!(!plan_local(&same, &o).unwrap().changes_anything());
    }

    #[test]
    fn listed_dirs_get_directory_mode_and_preserve_keeps_source_modes() {
        let o = TreeOptions { directory_mode: Some(0o700), force: true, preserve: true, ..Default::default() };
        let tree = LocalTree {
            dest: "/d/".into(),
            src: "/s/".into(),
            missing: vec![],
            files: vec![file("a", "A", st(FileKind::File, 0o644), Some("A"))],
            dirs: vec![("x".into(), st(FileKind::Directory, 0o755), true)],
            links: vec![],
        };
        let p = plan_local(&tree, &o).unwrap();
        assert!(matches!(&p.ops[0], TreeOp::SetAttrs { path, changes } if path == "/d/x" && changes.mode == Some((0o755, 0o700))));
        assert!(matches!(&p.ops[1], TreeOp::SetAttrs { path, changes } if path == "/d/a" && changes.mode == Some((0o644, 0o640))));
    }

    #[test]
    fn host_listing_and_sums_parse() {
        let l = parse_listing(b"d\x00755\x00root\x00root\x000\x000\x00sub\x00f\x00644\x00root\x00root\x000\x000\x00sub/a\x00");
        assert_eq!(l.len(), 2);
        assert_eq!((l[1].rel.as_str(), l[1].kind, l[1].mode), ("sub/a", FileKind::File, 0o644));
        assert_eq!(parse_sums(b"abc  ./sub/a\x00"), [("sub/a".to_string(), "abc".to_string())]);
    }

    fn entry(rel: &str, kind: FileKind, sha: Option<&str>) -> Entry {
        Entry {
            rel: rel.into(),
            kind,
            mode: 0o644,
            owner: "root".into(),
            group: "root".into(),
            uid: 0,
            gid: 0,
            sha1: sha.map(str::to_string),
        }
    }

    #[test]
    fn an_existing_host_tree_gets_what_differs_and_what_it_lacks() {
        let t = HostTree {
            src: "/s/".into(),
            root: "/d/".into(),
            dest: "/d/".into(),
            dest_stat: st(FileKind::Directory, 0o755),
            missing: vec![],
            existing: Some(vec![
                entry("a", FileKind::File, Some("1")),
                entry("sub", FileKind::Directory, None),
                entry("extra", FileKind::File, Some("9")),
            ]),
            source: vec![
                entry("a", FileKind::File, Some("2")),
                entry("sub", FileKind::Directory, None),
                entry("sub/new", FileKind::Directory, None),
                entry("sub/new/f", FileKind::File, Some("3")),
            ],
            local_follow: None,
        };
        let p = plan_host(&t, &WantedAttrs::default(), None).unwrap();
        let paths: Vec<&str> = p.ops.iter().map(|o| o.path()).collect();
        assert_eq!(paths, ["/d/a", "/d/sub/new"]);
    }
}
