//! The `Host` a module sees on an ssh connection: commands run through
//! the helper as processes; stat, reading, writing, resolving a link and a
//! checksum (and stat with the content, for one round trip), and making a
//! folder and setting owner, group and mode are typed requests the helper answers itself (requests.rs),
//! so a probe starts no process on the host.

use std::sync::Arc;

use async_trait::async_trait;
use mailplay_modules::become_::Become;
use mailplay_modules::host::{default_checksum, Command, CommandOutput, FileAttrs, FileStat, Host, HostError};

use super::framing::MAX_OUTPUT;
use super::requests::{self, DigestReply, FileRequest};
use super::ssh::SshConnection;

pub struct SshHost {
    conn: Arc<SshConnection>,
    become_: Option<Become>,
    env: Vec<(String, String)>,
}

impl SshHost {
    pub(super) fn new(conn: Arc<SshConnection>, become_: Option<Become>, env: Vec<(String, String)>) -> SshHost {
        SshHost { conn, become_, env }
    }

    /// The become that applies: none when it is the login user already.
    /// The helper runs as that user, so its file operations see the host
    /// with the same rights as the task's commands.
    fn active(&self) -> (String, Option<&Become>) {
        let active = self.become_.as_ref().filter(|b| b.user != self.conn.login_user());
        (active.map(|b| format!("{}:{:?}", b.user, b.method)).unwrap_or_default(), active)
    }

    async fn file_request(&self, req: FileRequest<'_>) -> Result<CommandOutput, HostError> {
        let frame = req.encode().map_err(|e| HostError::Io(format!("{}: {e}", self.conn.name())))?;
        let (key, active) = self.active();
        self.conn.request(&key, active, &frame).await
    }
}

#[async_trait]
impl Host for SshHost {
    fn name(&self) -> &str {
        self.conn.name()
    }

    async fn exec(&self, cmd: &Command) -> Result<CommandOutput, HostError> {
        let (key, active) = self.active();
        self.conn.run(&key, active, cmd, &self.env).await
    }

    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        // The reply's own limit: a longer file could not come back.
        let out = self.file_request(FileRequest::Read { path, limit: MAX_OUTPUT }).await?;
        requests::read_reply(path, out)
    }

    async fn stat_and_read(&self, path: &str) -> Result<(Option<FileStat>, Option<Vec<u8>>), HostError> {
        let out = self.file_request(FileRequest::StatRead { path, limit: MAX_OUTPUT }).await?;
        requests::stat_read_reply(path, out)
    }

    async fn write_file(&self, path: &str, content: &[u8], attrs: &FileAttrs) -> Result<(), HostError> {
        let out = self.file_request(FileRequest::Write { path, attrs, content }).await?;
        requests::write_reply(path, &out)
    }

    async fn make_dir(&self, path: &str, mode: Option<u32>) -> Result<(), HostError> {
        requests::done_reply(&self.file_request(FileRequest::MakeDir { path, mode }).await?)
    }

    async fn set_attrs(&self, path: &str, attrs: &FileAttrs) -> Result<(), HostError> {
        requests::done_reply(&self.file_request(FileRequest::SetAttrs { path, attrs }).await?)
    }

    async fn link_target(&self, path: &str) -> Result<Option<String>, HostError> {
        let out = self.file_request(FileRequest::Realpath { path }).await?;
        Ok(requests::realpath_reply(&out))
    }

    async fn stat(&self, path: &str, follow: bool) -> Result<Option<FileStat>, HostError> {
        let out = self.file_request(FileRequest::Stat { path, follow }).await?;
        requests::stat_reply(path, &out)
    }

    async fn checksum(&self, path: &str, algorithm: &str) -> Result<Option<String>, HostError> {
        let out = self.file_request(FileRequest::Digest { path, algorithm }).await?;
        match requests::digest_reply(&out) {
            DigestReply::Hex(h) => Ok(Some(h)),
            DigestReply::None => Ok(None),
            // Digest::SHA is in Debian's perl, not perl-base: a minimal
            // host has coreutils' sha1sum instead.
            DigestReply::Unavailable => default_checksum(self, path, algorithm).await,
        }
    }
}
