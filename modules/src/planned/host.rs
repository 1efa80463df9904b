//! The host as check mode's probes see it: the real host, with the files
//! earlier tasks of the run planned laid over it.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::host::{Command, CommandOutput, FileAttrs, FileKind, FileStat, Host, HostError};

use super::paths::{planned_stat, Identity, PlannedPath};
use super::{Notes, Planned, PlannedState};

/// Links are followed through the overlay at most this often.
const MAX_LINKS: usize = 40;

/// A [`Host`] whose `stat` and `read_file` answer from the overlay where a
/// plan touched the path, and from the host everywhere else. Commands run
/// on the host as they are (a probe that reads a file with a command sees
/// the real file; the modules that do so merge the overlay themselves).
pub struct PlannedHost<'a> {
    inner: &'a dyn Host,
    planned: &'a PlannedState,
    notes: &'a Notes,
    who: Mutex<Option<Identity>>,
}

impl<'a> PlannedHost<'a> {
    pub fn new(inner: &'a dyn Host, planned: &'a PlannedState, notes: &'a Notes) -> Self {
        PlannedHost { inner, planned, notes, who: Mutex::new(None) }
    }

    /// Who owns what a task creates: the connection's (become) user.
    async fn identity(&self) -> Result<Identity, HostError> {
        if let Some(who) = self.who.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(who);
        }
        let out = self.inner.exec(&Command::shell("id -un; id -gn")).await?;
        let text = out.stdout_str();
        let mut lines = text.lines();
        let who = Identity { user: lines.next().unwrap_or("root").to_string(), group: lines.next().unwrap_or("root").to_string() };
        *self.who.lock().unwrap_or_else(|e| e.into_inner()) = Some(who.clone());
        Ok(who)
    }

    /// Follow links planned in the overlay: the final path and its plan.
    fn resolve(&self, path: &str) -> (String, Option<PlannedPath>) {
        let mut path = path.to_string();
        for _ in 0..MAX_LINKS {
            match self.planned.path(&path) {
                Some(p) if p.kind == Some(FileKind::Link) => {
                    let target = p.link_target.clone().unwrap_or_default();
                    path = if target.starts_with('/') {
                        target
                    } else {
                        let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                        format!("{dir}/{target}")
                    };
                }
                other => return (path, other),
            }
        }
        (path.clone(), self.planned.path(&path))
    }
}

#[async_trait]
impl Host for PlannedHost<'_> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn exec(&self, cmd: &Command) -> Result<CommandOutput, HostError> {
        self.inner.exec(cmd).await
    }

    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        let (path, planned) = self.resolve(path);
        let Some(p) = planned else { return self.inner.read_file(&path).await };
        match (p.kind, p.content) {
            (None, _) if p.kind_from_host => self.inner.read_file(&path).await,
            (None, _) => Ok(None),
            (Some(FileKind::Directory), _) => Err(HostError::Io(format!("reading {path} failed: it is a directory (planned)"))),
            (Some(_), Planned::Will(content)) => Ok(Some(content)),
            (Some(_), Planned::Unknown(why)) => {
                self.notes.assume(format!("the content of {path}: {why}"));
                Ok(Some(Vec::new()))
            }
            // Kept if the host has it, else new and empty (touch).
            (Some(_), Planned::Unchanged) => Ok(Some(self.inner.read_file(&path).await?.unwrap_or_default())),
        }
    }

    /// From the host as it is, as the checksum command was before: a file
    /// only planned has no checksum to read yet.
    async fn checksum(&self, path: &str, algorithm: &str) -> Result<Option<String>, HostError> {
        self.inner.checksum(path, algorithm).await
    }

    /// Check mode writes nothing; a module that tried would be a bug.
    async fn write_file(&self, path: &str, _content: &[u8], _attrs: &FileAttrs) -> Result<(), HostError> {
        Err(HostError::Io(format!("internal error: check mode must not write {path}")))
    }

    /// A link planned in the overlay resolves through the overlay (and no
    /// further: what it points to is planned or taken as it is).
    async fn link_target(&self, path: &str) -> Result<Option<String>, HostError> {
        let (target, _) = self.resolve(path);
        if target != path {
            return Ok(Some(target));
        }
        self.inner.link_target(path).await
    }

    async fn stat(&self, path: &str, follow: bool) -> Result<Option<FileStat>, HostError> {
        let (path, planned) = if follow { self.resolve(path) } else { (path.to_string(), self.planned.path(path)) };
        let Some(p) = planned else { return self.inner.stat(&path, follow).await };
        let real = self.inner.stat(&path, follow && p.kind_from_host).await?;
        Ok(planned_stat(real.as_ref(), &p, &self.identity().await?))
    }
}
