//! The `user` and `group` modules and check mode's overlay: what a plan
//! leaves behind, and the account or group as earlier plans of the run
//! left it.

use std::collections::BTreeSet;

use crate::planned::{PlannedState, UserChange};

use super::user::{Account, UserArgs, UserState};

/// The account after `a` is applied to `s`.
pub fn effect(a: &UserArgs, s: &UserState) -> UserChange {
    if a.state == "absent" {
        return UserChange { name: a.name.clone(), present: false, ..Default::default() };
    }
    let have = s.account.as_ref().map(|c| c.groups.clone());
    let groups = match (&a.groups, have) {
        (Some(g), have) => {
            let want: BTreeSet<String> = g.iter().cloned().collect();
            Some(if a.append { have.unwrap_or_default().union(&want).cloned().collect() } else { want })
        }
        // useradd without -G: no supplementary groups.
        (None, None) => Some(BTreeSet::new()),
        (None, Some(_)) => None,
    };
    UserChange {
        name: a.name.clone(),
        present: true,
        uid: a.uid,
        group: a.group.clone(),
        groups,
        home: a.home.clone(),
        shell: a.shell.clone(),
        comment: a.comment.clone(),
        password: a.password.as_ref().map(|p| p.expose().to_string()),
        source: None,
    }
}

/// The probed state with the account and primary group as the run's
/// earlier plans left them. A field this task asks about that no plan
/// set, of an account only planned, is noted (`assume`) and left so that
/// the task plans a change.
pub fn with_planned(mut s: UserState, planned: &PlannedState, a: &UserArgs, assume: &dyn Fn(String)) -> UserState {
    if let (Some(g), None) = (&a.group, s.group_gid) {
        if let Some((true, gid)) = planned.group(g) {
            s.group_gid = Some(gid.unwrap_or(u32::MAX));
        }
    }
    let Some(p) = planned.user(&a.name) else { return s };
    if !p.present {
        s.account = None;
        return s;
    }
    let by = p.source.clone().unwrap_or_else(|| "an earlier task of this run".into());
    let unknown = u32::MAX;
    let mut acc = s.account.take().unwrap_or_else(|| {
        let note = |asked: bool, field: &str, known: bool| {
            if asked && !known {
                assume(format!("the {field} of user {} created by {by}", a.name));
            }
        };
        note(a.uid.is_some(), "uid", p.uid.is_some());
        note(a.group.is_some(), "primary group", p.group.is_some() && p.group == a.group);
        note(a.home.is_some(), "home", p.home.is_some());
        note(a.shell.is_some(), "shell", p.shell.is_some());
        note(a.comment.is_some(), "comment", p.comment.is_some());
        note(a.password.is_some(), "password", p.password.is_some());
        note(a.groups.is_some(), "groups", p.groups.is_some());
        Account {
            uid: p.uid.unwrap_or(unknown),
            gid: if p.group.is_some() && p.group == a.group { s.group_gid.unwrap_or(unknown) } else { unknown },
            ..Default::default()
        }
    });
    if let Some(uid) = p.uid {
        acc.uid = uid;
    }
    if let Some(g) = p.groups {
        acc.groups = g;
    }
    for (field, value) in
        [(&mut acc.home, p.home), (&mut acc.shell, p.shell), (&mut acc.comment, p.comment), (&mut acc.password, p.password)]
    {
        if let Some(v) = value {
            *field = v;
        }
    }
    s.account = Some(acc);
    s
}

/// A group's gid as the run's earlier plans left it: `Some(u32::MAX)`
/// for a planned group whose gid was not given.
pub fn group_with_planned(
    gid: Option<u32>,
    planned: &PlannedState,
    name: &str,
    wanted_gid: Option<u32>,
    assume: &dyn Fn(String),
) -> Option<u32> {
    match planned.group(name) {
        None => gid,
        Some((false, _)) => None,
        Some((true, Some(g))) => Some(g),
        Some((true, None)) if gid.is_some() => gid,
        Some((true, None)) => {
            if wanted_gid.is_some() {
                assume(format!("the gid of group {name}, created by an earlier task of this run"));
            }
            Some(u32::MAX)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::Plan;
    use crate::planned::Effect;
    use serde_json::json;

    fn args(v: serde_json::Value) -> UserArgs {
        crate::args::parse_args("user", &v).unwrap()
    }

    #[test]
    fn a_planned_user_exists_with_its_planned_groups() {
        let planned = PlannedState::new();
        let first = args(json!({"name": "webkey", "system": true, "shell": "/bin/sh", "groups": "mail", "append": true}));
        planned.record(vec![Effect::User(effect(&first, &UserState::default()))]);
        let notes = std::cell::RefCell::new(Vec::new());
        let s = with_planned(UserState::default(), &planned, &first, &|w| notes.borrow_mut().push(w));
        assert!(notes.borrow().is_empty());
        assert!(!super::super::user::plan(&first, &s).unwrap().changes_anything(), "the same task again is ok");
        let more = args(json!({"name": "webkey", "groups": ["ssl-cert"], "append": true}));
        let p = super::super::user::plan(&more, &s).unwrap();
        assert_eq!(p.command.unwrap(), ["usermod", "-a", "-G", "ssl-cert", "webkey"]);
    }

    #[test]
    fn what_no_plan_set_is_noted() {
        let planned = PlannedState::new();
        planned.record(vec![Effect::User(UserChange {
            name: "cyrus".into(),
            present: true,
            source: Some("cyrus-common".into()),
            ..Default::default()
        })]);
        let notes = std::cell::RefCell::new(Vec::new());
        let a = args(json!({"name": "cyrus", "shell": "/bin/sh"}));
        let s = with_planned(UserState::default(), &planned, &a, &|w| notes.borrow_mut().push(w));
        assert!(s.account.is_some());
        assert_eq!(notes.borrow().as_slice(), ["the shell of user cyrus created by cyrus-common"]);
    }

    #[test]
    fn planned_groups() {
        let planned = PlannedState::new();
        planned.record(vec![Effect::Group { name: "sasl".into(), present: true, gid: None }]);
        planned.record(vec![Effect::Group { name: "old".into(), present: false, gid: None }]);
        let none = |_: String| {};
        assert_eq!(group_with_planned(None, &planned, "sasl", None, &none), Some(u32::MAX));
        assert_eq!(group_with_planned(Some(45), &planned, "sasl", None, &none), Some(45));
        assert_eq!(group_with_planned(Some(7), &planned, "old", None, &none), None);
        assert_eq!(group_with_planned(Some(7), &planned, "other", None, &none), Some(7));
    }
}
