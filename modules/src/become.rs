//! Privilege escalation (`become`): how a command is wrapped to run as
//! another user. Shared by every connection type.

use crate::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BecomeMethod {
    #[default]
    Sudo,
    Su,
    Runuser,
}

impl BecomeMethod {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sudo" => Some(BecomeMethod::Sudo),
            "su" => Some(BecomeMethod::Su),
            "runuser" => Some(BecomeMethod::Runuser),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Become {
    pub method: BecomeMethod,
    pub user: String,
    /// For `sudo` without NOPASSWD (`--ask-become-pass`); sent on stdin.
    pub password: Option<Secret>,
}

impl Become {
    /// Wrap a `sh -c` script so it runs as the become user.
    /// `current_user` is the login user: when it already is the target user
    /// nothing is wrapped, and root uses `runuser`, which needs no password
    /// and no tty whatever `become_method` says.
    pub fn wrap(&self, current_user: &str, script: &str) -> Option<Vec<String>> {
        if self.user == current_user {
            return None;
        }
        let method = if current_user == "root" { BecomeMethod::Runuser } else { self.method };
        let argv: Vec<String> = match method {
            BecomeMethod::Runuser => {
                vec!["runuser".into(), "-u".into(), self.user.clone(), "--".into(), "/bin/sh".into(), "-c".into(), script.into()]
            }
            BecomeMethod::Sudo if self.password.is_some() => vec![
                "sudo".into(),
                "-S".into(),
                "-p".into(),
                "".into(),
                "-H".into(),
                "-u".into(),
                self.user.clone(),
                "--".into(),
                "/bin/sh".into(),
                "-c".into(),
                script.into(),
            ],
            BecomeMethod::Sudo => vec![
                "sudo".into(),
                "-n".into(),
                "-H".into(),
                "-u".into(),
                self.user.clone(),
                "--".into(),
                "/bin/sh".into(),
                "-c".into(),
                script.into(),
            ],
            BecomeMethod::Su => vec!["su".into(), "-s".into(), "/bin/sh".into(), self.user.clone(), "-c".into(), script.into()],
        };
        Some(argv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_uses_runuser_and_same_user_is_not_wrapped() {
        let b = Become { method: BecomeMethod::Sudo, user: "postgres".into(), password: None };
        assert_eq!(b.wrap("root", "id").unwrap()[0], "runuser");
        assert_eq!(b.wrap("alice", "id").unwrap()[..2], ["sudo", "-n"]);
        assert!(Become { user: "root".into(), ..b }.wrap("root", "id").is_none());
    }
}
