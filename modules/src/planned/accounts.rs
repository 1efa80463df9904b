//! Check mode's answer to "does this owner or group exist?": the real run
//! fails a task that sets a file's owner or group to a name the host does
//! not know ("no such group"), so a check that predicts a change there
//! would lie. A name is known when the host has it, or an earlier task of
//! the run creates it (a `user`/`group` task, a package whose maintainer
//! script makes it); while a package this run installs is not yet there,
//! its scripts may make it too, which check mode assumes and says.

use std::collections::BTreeSet;

use super::{Attrs, Effect, PathChange, PlannedState};

/// An account name a plan needs: a file's owner (user) or group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Account {
    User(String),
    Group(String),
}

impl Account {
    /// The name as getent(1) takes it, with its database.
    pub fn getent(&self) -> (&'static str, &str) {
        match self {
            Account::User(n) => ("passwd", n),
            Account::Group(n) => ("group", n),
        }
    }

    /// "user NAME" or "group NAME".
    pub fn describe(&self) -> String {
        match self {
            Account::User(n) => format!("user {n}"),
            Account::Group(n) => format!("group {n}"),
        }
    }

    /// The real run's error for it (the helper's words).
    pub fn missing_msg(&self) -> String {
        match self {
            Account::User(n) => format!("no such user: {n}"),
            Account::Group(n) => format!("no such group: {n}"),
        }
    }
}

/// The owner and group names (not numbers) the plan's own file changes
/// set. A package's shipped files are left out: dpkg makes their owners.
pub fn needed(effects: &[Effect]) -> BTreeSet<Account> {
    if effects.iter().any(|e| matches!(e, Effect::Package { .. })) {
        return BTreeSet::new();
    }
    let mut out = BTreeSet::new();
    for e in effects {
        let Effect::Path { change, .. } = e else { continue };
        let attrs: &Attrs = match change {
            PathChange::Write { attrs, .. } | PathChange::Directory(attrs) | PathChange::Touch(attrs) | PathChange::Attrs(attrs) => attrs,
            PathChange::Unknown { attrs, .. } => attrs,
            PathChange::Link { .. } | PathChange::Absent => continue,
        };
        let name = |n: &Option<String>| n.as_ref().filter(|n| !n.is_empty() && !n.bytes().all(|b| b.is_ascii_digit())).cloned();
        if let Some(u) = name(&attrs.owner) {
            out.insert(Account::User(u));
        }
        if let Some(g) = name(&attrs.group) {
            out.insert(Account::Group(g));
        }
    }
    out
}

/// What the run's earlier plans say of an account.
#[derive(Debug, PartialEq, Eq)]
pub enum PlannedAccount {
    /// Created by an earlier task (or a package's script): it will exist.
    Made,
    /// Removed by an earlier task.
    Removed,
    /// Not planned; packages this run installs, or tasks check mode
    /// skipped, may still make it.
    MaybeBy(Vec<String>),
    /// Nothing planned touches it: the host's answer holds.
    Unplanned,
}

impl PlannedState {
    /// The account as the earlier plans of this run leave it.
    pub fn account(&self, account: &Account) -> PlannedAccount {
        let planned = match account {
            Account::User(n) => self.user(n).map(|u| u.present),
            // A user made with its own group (useradd's default) makes it too.
            Account::Group(n) => self.group(n).map(|(present, _)| present).or_else(|| self.user(n).filter(|u| u.present).map(|_| true)),
        };
        match planned {
            Some(true) => PlannedAccount::Made,
            Some(false) => PlannedAccount::Removed,
            None => {
                let mut makers: Vec<String> = self.installed_packages().into_iter().map(|p| format!("the package {p}")).collect();
                makers.extend(self.unseen().into_iter().map(|m| format!("a {m} task check mode skipped")));
                if makers.is_empty() {
                    PlannedAccount::Unplanned
                } else {
                    PlannedAccount::MaybeBy(makers)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planned::UserChange;

    fn write(owner: Option<&str>, group: Option<&str>) -> Effect {
        Effect::Path {
            path: "/etc/x".into(),
            change: PathChange::Write {
                content: b"x".to_vec(),
                attrs: Attrs { owner: owner.map(Into::into), group: group.map(Into::into), mode: Some(0o640) },
            },
        }
    }

    #[test]
    fn names_are_needed_numbers_are_not() {
        let got = needed(&[write(Some("cyrus"), Some("0")), write(None, Some("_rspamd"))]);
        assert_eq!(got.into_iter().collect::<Vec<_>>(), [Account::User("cyrus".into()), Account::Group("_rspamd".into())]);
        assert!(needed(&[write(Some("1000"), None)]).is_empty());
    }

    #[test]
    fn a_package_plans_owners_of_its_own_files() {
        let pkg = Effect::Package { name: "redis-server".into(), installed: true, contents: None };
        assert!(needed(&[pkg, write(Some("redis"), Some("redis"))]).is_empty());
    }

    #[test]
    fn earlier_plans_decide_before_the_host() {
        let p = PlannedState::new();
        assert_eq!(p.account(&Account::Group("cyrus".into())), PlannedAccount::Unplanned);
        p.record(vec![Effect::Group { name: "cyrus".into(), present: true, gid: None }]);
        assert_eq!(p.account(&Account::Group("cyrus".into())), PlannedAccount::Made);
        p.record(vec![Effect::User(UserChange { name: "mailauth".into(), present: true, ..Default::default() })]);
        assert_eq!(p.account(&Account::Group("mailauth".into())), PlannedAccount::Made, "useradd makes the user's group");
        assert_eq!(p.account(&Account::User("mailauth".into())), PlannedAccount::Made);
        p.record(vec![Effect::Group { name: "cyrus".into(), present: false, gid: None }]);
        assert_eq!(p.account(&Account::Group("cyrus".into())), PlannedAccount::Removed);
        p.record(vec![Effect::Package { name: "cyrus-common".into(), installed: true, contents: None }]);
        assert_eq!(p.account(&Account::User("nobody-yet".into())), PlannedAccount::MaybeBy(vec!["the package cyrus-common".into()]));
        let q = PlannedState::new();
        q.skipped_unseen("shell");
        assert_eq!(
            q.account(&Account::Group("made-by-a-script".into())),
            PlannedAccount::MaybeBy(vec!["a shell task check mode skipped".into()])
        );
    }
}
