//! Planned files, directories, links and removals, and how they override
//! what `stat` and `read_file` find on the host.

use std::collections::BTreeMap;

use crate::host::{FileKind, FileStat};

use super::Planned;

/// Owner, group and mode a plan sets (None: left as they are, or the
/// default for something new).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attrs {
    pub owner: Option<String>,
    pub group: Option<String>,
    pub mode: Option<u32>,
}

impl Attrs {
    fn over(self, base: &Attrs) -> Attrs {
        Attrs { owner: self.owner.or(base.owner.clone()), group: self.group.or(base.group.clone()), mode: self.mode.or(base.mode) }
    }
}

/// What a plan does to one path.
#[derive(Debug, Clone, PartialEq)]
pub enum PathChange {
    /// A regular file with this content (replacing whatever was there).
    Write {
        content: Vec<u8>,
        attrs: Attrs,
    },
    /// Owner, group or mode of what is there.
    Attrs(Attrs),
    Directory(Attrs),
    /// A file exists (its content kept, empty when new).
    Touch(Attrs),
    Link {
        target: String,
    },
    Absent,
    /// Something of `kind` will be there, its content unknown to check
    /// mode (`why`: a command's `creates`, a package's file).
    Unknown {
        kind: FileKind,
        attrs: Attrs,
        why: String,
    },
}

/// The planned state of one path.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedPath {
    /// None: absent.
    pub kind: Option<FileKind>,
    pub content: Planned<Vec<u8>>,
    pub attrs: Attrs,
    pub link_target: Option<String>,
    /// Created where nothing was planned to be (after a removal): what the
    /// host has below it is gone.
    pub emptied: bool,
    /// The plan kept whatever kind the host has (attributes only).
    pub kind_from_host: bool,
}

impl PlannedPath {
    fn absent() -> Self {
        PlannedPath {
            kind: None,
            content: Planned::Unchanged,
            attrs: Attrs::default(),
            link_target: None,
            emptied: true,
            kind_from_host: false,
        }
    }
}

/// Record `change` at `path`, over what earlier plans recorded there.
pub fn record(paths: &mut BTreeMap<String, PlannedPath>, path: &str, change: PathChange) {
    let path = normalize(path);
    let old = lookup(paths, &path);
    let was_absent = old.as_ref().is_some_and(|o| o.kind.is_none());
    let old_attrs = old.as_ref().map(|o| o.attrs.clone()).unwrap_or_default();
    let fresh = |kind, content, attrs: Attrs| PlannedPath {
        kind: Some(kind),
        content,
        attrs,
        link_target: None,
        emptied: was_absent,
        kind_from_host: false,
    };
    let new = match change {
        // A write keeps an existing file's owner and mode unless it sets them.
        PathChange::Write { content, attrs } => fresh(FileKind::File, Planned::Will(content), attrs.over(&old_attrs)),
        PathChange::Attrs(attrs) => match old {
            Some(o) => PlannedPath { attrs: attrs.over(&o.attrs), ..o },
            None => PlannedPath { kind: None, content: Planned::Unchanged, attrs, link_target: None, emptied: false, kind_from_host: true },
        },
        PathChange::Directory(attrs) => fresh(FileKind::Directory, Planned::Unchanged, attrs.over(&old_attrs)),
        PathChange::Touch(attrs) => match old {
            Some(o) if o.kind.is_some() || o.kind_from_host => PlannedPath { attrs: attrs.over(&o.attrs), ..o },
            Some(_) => fresh(FileKind::File, Planned::Will(Vec::new()), attrs),
            // Kept if the host has it, else new and empty: decided on lookup.
            None => fresh(FileKind::File, Planned::Unchanged, attrs),
        },
        PathChange::Link { target } => {
            PlannedPath { link_target: Some(target), ..fresh(FileKind::Link, Planned::Unchanged, Attrs::default()) }
        }
        PathChange::Absent => {
            paths.retain(|p, _| !is_below(p, &path));
            PlannedPath::absent()
        }
        PathChange::Unknown { kind, attrs, why } => fresh(kind, Planned::Unknown(why), attrs),
    };
    paths.insert(path, new);
}

/// The planned state at `path`: its own entry, or absent when the nearest
/// planned folder above it was removed or made anew.
pub fn lookup(paths: &BTreeMap<String, PlannedPath>, path: &str) -> Option<PlannedPath> {
    let path = normalize(path);
    if let Some(p) = paths.get(&path) {
        return Some(p.clone());
    }
    let mut dir = path.as_str();
    while let Some((parent, _)) = dir.rsplit_once('/') {
        let parent = if parent.is_empty() { "/" } else { parent };
        if let Some(p) = paths.get(parent) {
            if p.kind.is_none() || p.emptied {
                return Some(PlannedPath::absent());
            }
        }
        if parent == "/" {
            break;
        }
        dir = parent;
    }
    None
}

fn is_below(p: &str, dir: &str) -> bool {
    p.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/')) || (dir == "/" && p != "/")
}

/// `a//b/` and `a/b` are one path.
fn normalize(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for part in path.split('/') {
        if part.is_empty() || part == "." {
            continue;
        }
        out.push('/');
        out.push_str(part);
    }
    if out.is_empty() {
        "/".into()
    } else if path.starts_with('/') {
        out
    } else {
        out[1..].to_string()
    }
}

/// The user and group new files get: the connection's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub group: String,
}

/// What `stat` (without following) sees at a planned path, given what the
/// host has there. A name set by a plan has no known number: its uid/gid
/// read as `u32::MAX`, which matches no numeric owner.
pub fn planned_stat(real: Option<&FileStat>, p: &PlannedPath, who: &Identity) -> Option<FileStat> {
    let kind = match (p.kind, real) {
        (None, Some(r)) if p.kind_from_host => r.kind,
        (None, _) => return None,
        (Some(k), _) => k,
    };
    let base = match real {
        Some(r) if r.kind == kind && !p.emptied => r.clone(),
        _ => FileStat {
            kind,
            mode: match kind {
                FileKind::Directory => 0o755,
                FileKind::Link => 0o777,
                _ => 0o644,
            },
            owner: who.user.clone(),
            group: who.group.clone(),
            uid: u32::MAX,
            gid: u32::MAX,
            size: 0,
            mtime: 0,
            link_target: None,
        },
    };
    let mut st = base;
    if let Some(o) = &p.attrs.owner {
        if *o != st.owner {
            (st.owner, st.uid) = (o.clone(), o.parse().unwrap_or(u32::MAX));
        }
    }
    if let Some(g) = &p.attrs.group {
        if *g != st.group {
            (st.group, st.gid) = (g.clone(), g.parse().unwrap_or(u32::MAX));
        }
    }
    if let Some(m) = p.attrs.mode {
        st.mode = m;
    }
    if let Planned::Will(c) = &p.content {
        st.size = c.len() as u64;
    }
    if kind == FileKind::Link {
        st.link_target = p.link_target.clone();
    }
    Some(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who() -> Identity {
        Identity { user: "root".into(), group: "root".into() }
    }

    fn real(kind: FileKind, mode: u32) -> FileStat {
        FileStat { kind, mode, owner: "root".into(), group: "root".into(), uid: 0, gid: 0, size: 3, mtime: 1, link_target: None }
    }

    fn at(paths: &BTreeMap<String, PlannedPath>, p: &str, host: Option<&FileStat>) -> Option<FileStat> {
        lookup(paths, p).and_then(|pp| planned_stat(host, &pp, &who()))
    }

    #[test]
    fn a_planned_write_is_a_file_with_its_content_and_mode() {
        let mut m = BTreeMap::new();
        let attrs = Attrs { owner: None, group: Some("sasl".into()), mode: Some(0o600) };
        record(&mut m, "/etc/x.conf", PathChange::Write { content: b"abc\n".to_vec(), attrs });
        let st = at(&m, "/etc/x.conf", None).unwrap();
        assert_eq!((st.kind, st.mode, st.owner.as_str(), st.group.as_str(), st.size), (FileKind::File, 0o600, "root", "sasl", 4));
        assert_eq!(lookup(&m, "/etc/x.conf").unwrap().content, Planned::Will(b"abc\n".to_vec()));
        // An existing file keeps its owner; the planned group has no known gid.
        let st = at(&m, "/etc/x.conf", Some(&real(FileKind::File, 0o644))).unwrap();
        assert_eq!((st.uid, st.gid), (0, u32::MAX));
    }

    #[test]
    fn attributes_apply_to_what_the_host_or_an_earlier_plan_has() {
        let mut m = BTreeMap::new();
        record(&mut m, "/srv/d", PathChange::Attrs(Attrs { mode: Some(0o710), ..Default::default() }));
        assert_eq!(at(&m, "/srv/d", Some(&real(FileKind::Directory, 0o755))).unwrap().mode, 0o710);
        assert_eq!(at(&m, "/srv/d", Some(&real(FileKind::Directory, 0o755))).unwrap().kind, FileKind::Directory);
        assert!(at(&m, "/srv/d", None).is_none());
        record(&mut m, "/srv/new", PathChange::Directory(Attrs { mode: Some(0o750), ..Default::default() }));
        record(&mut m, "/srv/new", PathChange::Attrs(Attrs { owner: Some("cyrus".into()), ..Default::default() }));
        let st = at(&m, "/srv/new", None).unwrap();
        assert_eq!((st.kind, st.mode, st.owner.as_str()), (FileKind::Directory, 0o750, "cyrus"));
    }

    #[test]
    fn removing_a_folder_removes_what_is_below_until_something_is_made_again() {
        let mut m = BTreeMap::new();
        record(&mut m, "/srv/a/b", PathChange::Write { content: vec![], attrs: Attrs::default() });
        record(&mut m, "/srv/a", PathChange::Absent);
        assert!(at(&m, "/srv/a/b", Some(&real(FileKind::File, 0o644))).is_none());
        assert!(at(&m, "/srv/a/c/d", Some(&real(FileKind::File, 0o644))).is_none());
        assert!(lookup(&m, "/srv/ab").is_none(), "a sibling with a longer name is not below");
        record(&mut m, "/srv/a/", PathChange::Directory(Attrs::default()));
        assert_eq!(at(&m, "/srv/a", Some(&real(FileKind::Directory, 0o700))).unwrap().mode, 0o755, "made anew");
        assert!(at(&m, "/srv/a/c", Some(&real(FileKind::File, 0o644))).is_none(), "the old content is gone");
        record(&mut m, "/srv/a/c", PathChange::Touch(Attrs::default()));
        assert_eq!(lookup(&m, "/srv/a/c").unwrap().content, Planned::Will(Vec::new()));
    }

    #[test]
    fn links_and_unknown_content() {
        let mut m = BTreeMap::new();
        record(&mut m, "/etc/l", PathChange::Link { target: "/etc/x".into() });
        let st = at(&m, "/etc/l", Some(&real(FileKind::File, 0o644))).unwrap();
        assert_eq!((st.kind, st.link_target.as_deref()), (FileKind::Link, Some("/etc/x")));
        let why = "created by a command".to_string();
        record(&mut m, "/var/x.bc", PathChange::Unknown { kind: FileKind::File, attrs: Attrs::default(), why: why.clone() });
        assert_eq!(lookup(&m, "/var/x.bc").unwrap().content, Planned::Unknown(why));
        assert!(at(&m, "/var/x.bc", None).is_some());
    }

    #[test]
    fn paths_are_compared_normalized() {
        assert_eq!(normalize("/a//b/./c/"), "/a/b/c");
        assert_eq!(normalize("/"), "/");
        assert!(is_below("/a/b", "/a") && !is_below("/ab", "/a") && !is_below("/a", "/a"));
    }
}
