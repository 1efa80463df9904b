//! The controller side of a recursive `copy`: which files, folders and
//! symlinks a source folder holds, as Ansible's copy action lists them
//! (`_walk_dirs` in `plugins/action/copy.py`).
//!
//! `src: dir` copies the folder itself (paths relative to its parent,
//! `dir/...`), `src: dir/` its contents. With `local_follow` symlinks are
//! followed where that cannot loop: a link to a file becomes that file, a
//! link to a folder that is not one of the link's own ancestors is walked;
//! everything else (broken links, loops, all links without
//! `local_follow`) is copied as the link itself.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What a source folder holds, in walk order; every destination path is
/// relative to the copy's destination folder.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Walk {
    /// (controller file to send, relative destination)
    pub files: Vec<(PathBuf, String)>,
    /// (controller folder, relative destination)
    pub dirs: Vec<(PathBuf, String)>,
    /// (link target as written, relative destination)
    pub links: Vec<(String, String)>,
}

type DevIno = (u64, u64);

fn dev_ino(p: &Path) -> Option<DevIno> {
    fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

fn join_rel(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}/{name}")
    }
}

/// Walk `top` (a folder on the controller). `trailing_slash`: the task's
/// `src` ended with `/`, so the folder's contents are copied, not the
/// folder itself.
pub fn walk_dirs(top: &Path, local_follow: bool, trailing_slash: bool) -> Result<Walk, String> {
    let mut walk = Walk::default();
    let name = top.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let rel_top = if trailing_slash { String::new() } else { name.clone() };
    let is_link = fs::symlink_metadata(top).map(|m| m.file_type().is_symlink()).unwrap_or(false);
    if is_link && !local_follow {
        let target = fs::read_link(top).map_err(|e| format!("cannot read the link {}: {e}", top.display()))?;
        walk.links.push((target.to_string_lossy().into_owned(), name));
        return Ok(walk);
    }
    let parents: HashSet<DevIno> = dev_ino(top).into_iter().collect();
    recurse(top, &rel_top, &parents, local_follow, &mut walk)?;
    Ok(walk)
}

/// One folder, top-down as `os.walk` goes: its files and links, then
/// its sub-folders (each listed, then walked).
fn recurse(dir: &Path, rel: &str, parents: &HashSet<DevIno>, local_follow: bool, walk: &mut Walk) -> Result<(), String> {
    let mut entries: Vec<_> =
        fs::read_dir(dir).map_err(|e| format!("cannot read the folder {}: {e}", dir.display()))?.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    let mut sub_dirs = Vec::new();
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let dest = join_rel(rel, &name);
        let lstat = fs::symlink_metadata(&path).map_err(|e| format!("cannot stat {}: {e}", path.display()))?;
        let is_link = lstat.file_type().is_symlink();
        // os.walk sorts by what the entry points to: a link to a folder
        // is a folder, a broken link a file.
        let points_to_dir = fs::metadata(&path).map(|m| m.is_dir()).unwrap_or(false);
        if !points_to_dir {
            if is_link {
                let real = fs::canonicalize(&path).ok();
                match real.filter(|r| local_follow && r.is_file()) {
                    Some(real) => walk.files.push((real, dest)),
                    None => walk.links.push((read_link(&path)?, dest)),
                }
            } else {
                walk.files.push((path, dest));
            }
            continue;
        }
        sub_dirs.push((path, dest, is_link));
    }
    for (path, dest, is_link) in sub_dirs {
        if !is_link {
            walk.dirs.push((path.clone(), dest.clone()));
            recurse(&path, &dest, parents, local_follow, walk)?;
            continue;
        }
        if !local_follow {
            walk.links.push((read_link(&path)?, dest));
            continue;
        }
        let real = fs::canonicalize(&path).map_err(|e| format!("cannot resolve {}: {e}", path.display()))?;
        let target = dev_ino(&real);
        if target.is_some_and(|t| parents.contains(&t)) {
            // The folder is being copied already: keep the link.
            walk.links.push((read_link(&path)?, dest));
            continue;
        }
        // The link's own ancestors up to the part of the tree already
        // known: a link to one of them would loop.
        let mut new_parents = HashSet::new();
        let mut up = path.parent();
        while let Some(p) = up.filter(|p| !p.as_os_str().is_empty()) {
            match dev_ino(p) {
                Some(id) if parents.contains(&id) => break,
                Some(id) => {
                    new_parents.insert(id);
                }
                None => {}
            }
            up = p.parent();
        }
        if target.is_some_and(|t| new_parents.contains(&t)) {
            walk.links.push((read_link(&path)?, dest));
        } else {
            walk.dirs.push((real.clone(), dest.clone()));
            let all: HashSet<DevIno> = parents.union(&new_parents).copied().collect();
            recurse(&real, &dest, &all, local_follow, walk)?;
        }
    }
    Ok(())
}

fn read_link(p: &Path) -> Result<String, String> {
    fs::read_link(p).map(|t| t.to_string_lossy().into_owned()).map_err(|e| format!("cannot read the link {}: {e}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let s = t.path().join("src");
        fs::create_dir_all(s.join("a/b")).unwrap();
        fs::write(s.join("top.txt"), "top").unwrap();
        fs::write(s.join("a/b/deep.txt"), "deep").unwrap();
        symlink("../top.txt", s.join("a/to_file")).unwrap();
        symlink("b", s.join("a/to_dir")).unwrap();
        symlink("../", s.join("a/circle")).unwrap();
        symlink("missing", s.join("a/broken")).unwrap();
        t
    }

    #[test]
    fn without_follow_every_link_is_kept() {
        let t = tree();
        let w = walk_dirs(&t.path().join("src"), false, false).unwrap();
        let files: Vec<&str> = w.files.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(files, ["src/top.txt", "src/a/b/deep.txt"]);
        let dirs: Vec<&str> = w.dirs.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(dirs, ["src/a", "src/a/b"]);
        let mut links: Vec<(&str, &str)> = w.links.iter().map(|(t, r)| (t.as_str(), r.as_str())).collect();
        links.sort();
        assert_eq!(links, [("../", "src/a/circle"), ("../top.txt", "src/a/to_file"), ("b", "src/a/to_dir"), ("missing", "src/a/broken")]);
    }

    #[test]
    fn follow_copies_targets_but_keeps_loops_and_broken_links() {
        let t = tree();
        let w = walk_dirs(&t.path().join("src"), true, true).unwrap();
        let files: Vec<&str> = w.files.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(files, ["top.txt", "a/to_file", "a/b/deep.txt", "a/to_dir/deep.txt"]);
        let dirs: Vec<&str> = w.dirs.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(dirs, ["a", "a/b", "a/to_dir"]);
        let mut links: Vec<(&str, &str)> = w.links.iter().map(|(t, r)| (t.as_str(), r.as_str())).collect();
        links.sort();
        assert_eq!(links, [("../", "a/circle"), ("missing", "a/broken")]);
    }
}
