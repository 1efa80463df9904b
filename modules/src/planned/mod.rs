//! Check mode's memory of its own plans: a per-host overlay of what the
//! earlier tasks of the run *would have* changed (issue 10).
//!
//! Check mode applies nothing, so without this a task that depends on an
//! earlier task's planned change would plan from the host as it is: a
//! role run twice predicts its changes twice, a service started after its
//! package was (only) planned is "not found". So check mode plans from the
//! real state overridden by this overlay:
//!
//! - recording: every [`Plan`](crate::module::Plan) names its
//!   [`Effect`]s, and the generic [`Runner`](crate::module::Runner) records
//!   them here after planning in check mode (no module can forget);
//! - consulting: files are read through [`PlannedHost`], a [`Host`](crate::host::Host)
//!   wrapper every probe gets in check mode, so `stat` and `read_file` see
//!   planned content, modes, owners, links and removals; the other kinds
//!   (services, users, groups, packages, debconf answers, statoverrides,
//!   settings of postconf and postconf_service) are merged by their
//!   module's probe through the typed accessors below.
//!
//! Where the overlay only knows that something will exist but not what it
//! will be (a file a command `creates`, a package's file whose content was
//! not captured, a service a package's maintainer script starts through an
//! init script), reading it notes an assumption ([`Notes`]); the task is
//! then reported changed with a message that says its prediction rests on
//! the run's earlier changes, never `ok`.

pub mod accounts;
mod host;
pub mod packages;
mod paths;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

pub use host::PlannedHost;
pub use packages::PackageContents;
pub use paths::{Attrs, PathChange, PlannedPath};

/// What one planned change leaves behind, as data.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A path's kind, content or attributes.
    Path {
        path: String,
        change: PathChange,
    },
    Service {
        name: String,
        change: ServiceChange,
    },
    User(UserChange),
    Group {
        name: String,
        present: bool,
        gid: Option<u32>,
    },
    /// A package installed (with what it ships, when check mode read its
    /// .deb) or removed.
    Package {
        name: String,
        installed: bool,
        contents: Option<Box<PackageContents>>,
    },
    Debconf {
        package: String,
        question: String,
        value: String,
    },
    /// A `dpkg-statoverride` entry: (owner, group, mode), or none.
    StatOverride {
        path: String,
        value: Option<(String, String, u32)>,
    },
    /// A named setting in a configuration file that a tool edits
    /// (`postconf` main.cf parameters, master.cf entries): None removes it.
    Setting {
        file: String,
        key: String,
        value: Option<String>,
    },
}

/// What is known of a value after the planned changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Planned<T> {
    /// Not changed by the plan: the host's value holds.
    #[default]
    Unchanged,
    Will(T),
    /// Something changes it in a way check mode cannot know; why.
    Unknown(String),
}

impl<T: Clone> Planned<T> {
    fn then(&self, later: &Planned<T>) -> Planned<T> {
        match later {
            Planned::Unchanged => self.clone(),
            other => other.clone(),
        }
    }
}

/// A service's planned state: each field as the plan leaves it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceChange {
    /// The unit will exist (a package ships it).
    pub exists: bool,
    pub active: Planned<bool>,
    pub enabled: Planned<bool>,
    pub masked: Planned<bool>,
}

/// A planned account: created, changed or removed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserChange {
    pub name: String,
    pub present: bool,
    pub uid: Option<u32>,
    /// Primary group (name or gid as given).
    pub group: Option<String>,
    /// Supplementary groups after the change (None: unchanged).
    pub groups: Option<BTreeSet<String>>,
    pub home: Option<String>,
    pub shell: Option<String>,
    pub comment: Option<String>,
    pub password: Option<String>,
    /// Who creates it, when not a `user` task (a package's maintainer script).
    pub source: Option<String>,
}

/// The overlay of one host for one run. The engine owns one per host and
/// hands it to every task through [`Context`](crate::module::Context).
#[derive(Debug, Default)]
pub struct PlannedState {
    inner: Mutex<Overlay>,
}

#[derive(Debug, Default, Clone)]
struct Overlay {
    paths: BTreeMap<String, PlannedPath>,
    services: BTreeMap<String, ServiceChange>,
    users: BTreeMap<String, UserChange>,
    groups: BTreeMap<String, (bool, Option<u32>)>,
    /// Package → installed after the run's planned changes.
    packages: BTreeMap<String, bool>,
    /// Files shipped by packages planned for installation → the package.
    shipped: BTreeMap<String, String>,
    /// Packages planned for installation whose .deb check mode could not read.
    unread: BTreeSet<String>,
    debconf: BTreeMap<(String, String), String>,
    statoverrides: BTreeMap<String, Option<(String, String, u32)>>,
    settings: BTreeMap<(String, String), Option<String>>,
    /// Modules of tasks check mode skipped (a `command` without `creates`):
    /// what they do is unknown.
    unseen: BTreeSet<String>,
    /// Accounts asked of the host (getent) during the run: exists or not.
    host_accounts: BTreeMap<accounts::Account, bool>,
}

/// A unit name as systemd resolves it: `postfix` and `postfix.service` are one.
fn unit_key(name: &str) -> String {
    name.strip_suffix(".service").unwrap_or(name).to_string()
}

impl PlannedState {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Overlay> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Record a plan's effects, in order.
    pub fn record(&self, effects: Vec<Effect>) {
        let mut o = self.lock();
        for e in effects {
            o.apply(e);
        }
    }

    /// The planned state of a path, if a plan touched it or a folder above
    /// it was removed.
    pub fn path(&self, path: &str) -> Option<PlannedPath> {
        paths::lookup(&self.lock().paths, path)
    }

    pub fn service(&self, name: &str) -> Option<ServiceChange> {
        self.lock().services.get(&unit_key(name)).cloned()
    }

    pub fn user(&self, name: &str) -> Option<UserChange> {
        self.lock().users.get(name).cloned()
    }

    /// `Some((present, gid))` when a plan created or removed the group.
    pub fn group(&self, name: &str) -> Option<(bool, Option<u32>)> {
        self.lock().groups.get(name).cloned()
    }

    /// `Some(installed)` when a plan installs or removes the package.
    pub fn package(&self, name: &str) -> Option<bool> {
        self.lock().packages.get(name).copied()
    }

    pub fn debconf(&self, package: &str, question: &str) -> Option<String> {
        self.lock().debconf.get(&(package.to_string(), question.to_string())).cloned()
    }

    pub fn statoverride(&self, path: &str) -> Option<Option<(String, String, u32)>> {
        self.lock().statoverrides.get(path).cloned()
    }

    /// Every planned setting of `file`: key → value (None: removed).
    pub fn settings(&self, file: &str) -> Vec<(String, Option<String>)> {
        self.lock().settings.iter().filter(|((f, _), _)| f == file).map(|((_, k), v)| (k.clone(), v.clone())).collect()
    }

    /// Packages this run installs whose contents check mode does not know.
    pub fn unread_packages(&self) -> Vec<String> {
        self.lock().unread.iter().cloned().collect()
    }

    /// A task of this module was skipped by check mode: its effects are unknown.
    pub fn skipped_unseen(&self, module: &str) {
        self.lock().unseen.insert(module.to_string());
    }

    /// Modules of the tasks check mode skipped so far.
    pub fn unseen(&self) -> Vec<String> {
        self.lock().unseen.iter().cloned().collect()
    }

    /// Packages this run installs.
    pub fn installed_packages(&self) -> Vec<String> {
        self.lock().packages.iter().filter(|(_, installed)| **installed).map(|(name, _)| name.clone()).collect()
    }

    /// What the host said of an account earlier in this run (getent), if asked.
    pub fn host_account(&self, account: &accounts::Account) -> Option<bool> {
        self.lock().host_accounts.get(account).copied()
    }

    pub fn remember_host_account(&self, account: accounts::Account, exists: bool) {
        self.lock().host_accounts.insert(account, exists);
    }

    /// The planned package that provides a program or file: one of
    /// `paths` shipped by a package this run installs, or one of
    /// `packages` planned for installation (when their .deb was not read).
    /// A server or tool that cannot be reached in check mode is only
    /// predicted when this names its package.
    /// The planned package that ships a folder `path` lies in (below the
    /// top level: `/etc/postgresql/`, not `/etc/`), when `path` itself is
    /// not known: a file its maintainer scripts make, such as a cluster's
    /// `pg_hba.conf`.
    pub fn maker_of(&self, path: &str) -> Option<String> {
        let o = self.lock();
        let mut dir = std::path::Path::new(path).parent();
        while let Some(d) = dir {
            if d.components().count() <= 2 {
                return None;
            }
            let key = format!("{}/", d.display());
            if let Some(p) = o.shipped.get(&key).or_else(|| o.shipped.get(&d.display().to_string())) {
                return Some(p.clone());
            }
            dir = d.parent();
        }
        None
    }

    pub fn provider(&self, paths: &[&str], packages: &[&str]) -> Option<String> {
        let o = self.lock();
        paths
            .iter()
            .find_map(|p| o.shipped.get(*p).cloned())
            .or_else(|| packages.iter().find(|p| o.packages.get(**p) == Some(&true)).map(|p| p.to_string()))
    }
}

impl Overlay {
    fn apply(&mut self, e: Effect) {
        match e {
            Effect::Path { path, change } => paths::record(&mut self.paths, &path, change),
            Effect::Service { name, change } => {
                let key = unit_key(&name);
                let old = self.services.remove(&key).unwrap_or_default();
                let merged = ServiceChange {
                    exists: old.exists || change.exists,
                    active: old.active.then(&change.active),
                    enabled: old.enabled.then(&change.enabled),
                    masked: old.masked.then(&change.masked),
                };
                self.services.insert(key, merged);
            }
            Effect::User(change) => {
                let merged = match self.users.remove(&change.name) {
                    Some(old) if change.present && old.present => UserChange {
                        uid: change.uid.or(old.uid),
                        group: change.group.or(old.group),
                        groups: change.groups.or(old.groups),
                        home: change.home.or(old.home),
                        shell: change.shell.or(old.shell),
                        comment: change.comment.or(old.comment),
                        password: change.password.or(old.password),
                        source: change.source.or(old.source),
                        ..change
                    },
                    _ => change,
                };
                self.users.insert(merged.name.clone(), merged);
            }
            Effect::Group { name, present, gid } => {
                self.groups.insert(name, (present, gid));
            }
            Effect::Package { name, installed, contents } => {
                self.packages.insert(name.clone(), installed);
                if installed && contents.is_none() {
                    self.unread.insert(name.clone());
                } else {
                    self.unread.remove(&name);
                }
                if let Some(c) = contents {
                    for f in &c.files {
                        self.shipped.insert(f.path.clone(), name.clone());
                    }
                    for e in c.effects(&name) {
                        self.apply(e);
                    }
                }
            }
            Effect::Debconf { package, question, value } => {
                self.debconf.insert((package, question), value);
            }
            Effect::StatOverride { path, value } => {
                self.statoverrides.insert(path, value);
            }
            Effect::Setting { file, key, value } => {
                self.settings.insert((file, key), value);
            }
        }
    }
}

/// Assumptions a task's rehearsal rested on (see the module docs). One
/// per module run; the runner turns them into the task's message.
#[derive(Debug, Default)]
pub struct Notes {
    list: Mutex<Vec<String>>,
}

impl Notes {
    pub fn assume(&self, why: impl Into<String>) {
        let why = why.into();
        let mut l = self.list.lock().unwrap_or_else(|e| e.into_inner());
        if !l.contains(&why) {
            l.push(why);
        }
    }

    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.list.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The message of a task whose prediction rests on assumptions.
pub fn assumption_msg(notes: &[String]) -> String {
    format!("predicted changed: the prediction rests on changes this run makes first ({})", notes.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_service_change_keeps_what_it_does_not_touch() {
        let s = PlannedState::new();
        s.record(vec![Effect::Service {
            name: "postgresql.service".into(),
            change: ServiceChange { exists: true, active: Planned::Will(true), enabled: Planned::Will(true), ..Default::default() },
        }]);
        s.record(vec![Effect::Service {
            name: "postgresql".into(),
            change: ServiceChange { active: Planned::Will(false), ..Default::default() },
        }]);
        let got = s.service("postgresql").unwrap();
        assert!(got.exists);
        assert_eq!((got.active, got.enabled), (Planned::Will(false), Planned::Will(true)));
    }

    #[test]
    fn users_accumulate_and_removal_forgets() {
        let s = PlannedState::new();
        let add = UserChange { name: "webkey".into(), present: true, shell: Some("/bin/sh".into()), ..Default::default() };
        s.record(vec![Effect::User(add)]);
        let groups = Some(["mail".to_string()].into_iter().collect());
        s.record(vec![Effect::User(UserChange { name: "webkey".into(), present: true, groups, ..Default::default() })]);
        let u = s.user("webkey").unwrap();
        assert_eq!((u.shell.as_deref(), u.groups.unwrap().len()), (Some("/bin/sh"), 1));
        s.record(vec![Effect::User(UserChange { name: "webkey".into(), present: false, ..Default::default() })]);
        assert!(!s.user("webkey").unwrap().present && s.user("webkey").unwrap().shell.is_none());
    }

    #[test]
    fn a_file_in_a_folder_a_planned_package_ships_is_made_by_it() {
        let s = PlannedState::new();
        let listing = "drwxr-xr-x root/root 0 2022-12-10 13:23 ./etc/\n\
                       drwxr-xr-x root/root 0 2022-12-10 13:23 ./etc/postgresql/\n";
        let contents = super::packages::contents(listing, "", vec![], &[], &[]);
        assert_eq!(s.maker_of("/etc/postgresql/15/main/pg_hba.conf"), None);
        s.record(vec![Effect::Package { name: "postgresql-common".into(), installed: true, contents: Some(Box::new(contents)) }]);
        assert_eq!(s.maker_of("/etc/postgresql/15/main/pg_hba.conf").as_deref(), Some("postgresql-common"));
        assert_eq!(s.maker_of("/etc/other.conf"), None, "a top-level folder says nothing");
    }

    #[test]
    fn a_provider_is_a_shipped_file_or_a_planned_package() {
        let s = PlannedState::new();
        assert_eq!(s.provider(&["/usr/bin/psql"], &["postgresql"]), None);
        s.record(vec![Effect::Package { name: "postgresql".into(), installed: true, contents: None }]);
        assert_eq!(s.provider(&["/usr/bin/psql"], &["postgresql"]).as_deref(), Some("postgresql"));
        s.record(vec![Effect::Package { name: "postgresql".into(), installed: false, contents: None }]);
        assert_eq!(s.provider(&[], &["postgresql"]), None);
    }
}
