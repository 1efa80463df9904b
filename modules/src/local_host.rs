//! The `local` connection: runs commands on the controller itself.
//!
//! It is a real connection, not a shortcut: commands run as processes with
//! the task's environment and become user, and file operations are native
//! (atomic temp-file-and-rename) unless a become user is involved, in which
//! case they go through commands like on any other host.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Stdio;

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::become_::Become;
use crate::host::{Command, CommandOutput, FileAttrs, FileKind, FileStat, Host, HostError};

pub struct LocalHost {
    name: String,
    become_: Option<Become>,
    env: Vec<(String, String)>,
    current_user: String,
}

impl LocalHost {
    pub fn new(name: impl Into<String>) -> Self {
        LocalHost { name: name.into(), become_: None, env: Vec::new(), current_user: current_user() }
    }

    /// The same host, running as another user.
    pub fn with_become(mut self, become_: Option<Become>) -> Self {
        self.become_ = become_.filter(|b| b.user != self.current_user);
        self
    }

    /// The task's `environment:`.
    pub fn with_env(mut self, env: Vec<(String, String)>) -> Self {
        self.env = env;
        self
    }

    fn native_files(&self) -> bool {
        self.become_.is_none()
    }
}

/// The process groups of commands still running, so that a run that is
/// abandoned (a second Ctrl-C) can end them: [`kill_running_commands`].
static RUNNING: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());

/// A started command's process group: killed (SIGKILL to the whole group)
/// if the command is abandoned before it finished, e.g. by a task timeout
/// that drops the future waiting for it.
struct ProcessGroup(Option<i32>);

impl ProcessGroup {
    fn new(pid: Option<u32>) -> Self {
        let pgid = pid.map(|p| p as i32);
        if let Some(g) = pgid {
            RUNNING.lock().unwrap_or_else(|e| e.into_inner()).push(g);
        }
        ProcessGroup(pgid)
    }
    fn finished(mut self) {
        self.forget();
    }
    fn forget(&mut self) {
        if let Some(g) = self.0.take() {
            RUNNING.lock().unwrap_or_else(|e| e.into_inner()).retain(|x| *x != g);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if let Some(g) = self.0 {
            // TERM first: sudo passes it on to a command that runs as
            // another user (which a non-root mailplay may not signal
            // itself); KILL whatever is left a moment later.
            // SAFETY: kill has no memory preconditions; the group is ours.
            unsafe { libc::kill(-g, libc::SIGTERM) };
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_secs(2));
                // SAFETY: as above.
                unsafe { libc::kill(-g, libc::SIGKILL) };
            });
            self.forget();
        }
    }
}

/// Kill every command this process started and that still runs.
pub fn kill_running_commands() {
    for g in RUNNING.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
        // SAFETY: as above.
        unsafe { libc::kill(-g, libc::SIGKILL) };
    }
}

pub fn current_user() -> String {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    user_name(uid).unwrap_or_else(|| uid.to_string())
}

/// The user's name through NSS (getpwuid_r: files, LDAP, sssd alike), as
/// `stat -c %U` does on the remote side.
pub fn user_name(uid: u32) -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok().flatten().map(|u| u.name)
}

/// The group's name through NSS (getgrgid_r).
pub fn group_name(gid: u32) -> Option<String> {
    nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid)).ok().flatten().map(|g| g.name)
}

#[async_trait]
impl Host for LocalHost {
    fn name(&self) -> &str {
        &self.name
    }

    async fn exec(&self, cmd: &Command) -> Result<CommandOutput, HostError> {
        let (argv, exchange) = match &self.become_ {
            Some(b) => match b
                .wrap(&self.current_user, &cmd.to_shell_string())
                .map_err(|e| HostError::Io(format!("become on {}: {e}", self.name)))?
            {
                Some(w) => (w.argv, w.exchange),
                None => (vec!["/bin/sh".into(), "-c".into(), cmd.to_shell_string()], None),
            },
            None => match &cmd.shell {
                Some(script) => (vec!["/bin/sh".into(), "-c".into(), script.clone()], None),
                None => (cmd.argv.clone(), None),
            },
        };
        let (program, rest) = argv.split_first().ok_or_else(|| HostError::Io("empty command".into()))?;
        let mut child = tokio::process::Command::new(program);
        child.args(rest).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        child.envs(self.env.iter().cloned()).envs(cmd.env.iter().cloned());
        // Its own process group: a timeout or an abandoned run ends the
        // command and everything it started, and the terminal's Ctrl-C
        // reaches mailplay, which decides.
        child.process_group(0);
        if let Some(dir) = &cmd.cwd {
            child.current_dir(dir);
        }
        let mut child = child.spawn().map_err(|e| HostError::NotStarted {
            program: program.clone(),
            errno: e.raw_os_error().unwrap_or(0),
            msg: e.to_string(),
        })?;
        let group = ProcessGroup::new(child.id());
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        // With a become password: sudo gets it once, when it asks, and the
        // command's own input follows only once it runs.
        let mut err_start = Vec::new();
        if let (Some(ex), Some(b)) = (&exchange, &self.become_) {
            err_start = crate::become_::handshake(ex, &b.user, &mut stderr, &mut stdin)
                .await
                .map_err(|e| HostError::Io(format!("become {} on {}: {e}", b.user, self.name)))?;
        }
        let input = cmd.stdin.clone().unwrap_or_default();
        // Feed stdin concurrently with reading the output so a large input
        // and a large output cannot deadlock on full pipes.
        let writer = async move {
            let _ = stdin.write_all(&input).await;
            drop(stdin);
        };
        let started = std::time::Instant::now();
        let last_output = std::sync::atomic::AtomicU64::new(0);
        let (mut out, mut err) = (Vec::new(), err_start);
        let status = {
            let read_out = pump(&mut stdout, &mut out, started, &last_output);
            let read_err = pump(&mut stderr, &mut err, started, &last_output);
            let reading = async { tokio::join!(writer, read_out, read_err) };
            tokio::pin!(reading);
            tokio::select! {
                ((), o, e) = &mut reading => {
                    o.and(e).map_err(|e| HostError::Io(e.to_string()))?;
                    child.wait().await
                }
                s = child.wait() => {
                    // The command ended but something it started in the
                    // background still holds its output open: as Ansible's
                    // run_command, read on while output keeps coming and stop
                    // after a quiet second instead of waiting for the end.
                    loop {
                        let quiet = started.elapsed().saturating_sub(std::time::Duration::from_millis(
                            last_output.load(std::sync::atomic::Ordering::Relaxed),
                        ));
                        let Some(left) = QUIET_AFTER_EXIT.checked_sub(quiet).filter(|l| !l.is_zero()) else { break };
                        if let Ok(((), o, e)) = tokio::time::timeout(left, &mut reading).await {
                            o.and(e).map_err(|e| HostError::Io(e.to_string()))?;
                            break;
                        }
                    }
                    s
                }
            }
        }
        .map_err(|e| HostError::Io(e.to_string()))?;
        group.finished();
        Ok(CommandOutput {
            rc: status.code().unwrap_or_else(|| 128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)),
            stdout: out,
            stderr: err,
        })
    }

    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        if !self.native_files() {
            return default_read(self, path).await;
        }
        match tokio::fs::read(path).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(HostError::Io(format!("reading {path}: {e}"))),
        }
    }

    async fn write_file(&self, path: &str, content: &[u8], attrs: &FileAttrs) -> Result<(), HostError> {
        if !self.native_files() || attrs.owner.is_some() || attrs.group.is_some() {
            // chown by name needs the user database of the target; the
            // shell path handles names and become alike.
            return default_write(self, path, content, attrs).await;
        }
        let (path, content, mode) = (path.to_string(), content.to_vec(), attrs.mode);
        // File system calls block: off the async workers.
        tokio::task::spawn_blocking(move || write_native(&path, &content, mode))
            .await
            .map_err(|e| HostError::Io(format!("writing a file: {e}")))?
    }

    async fn stat(&self, path: &str, follow: bool) -> Result<Option<FileStat>, HostError> {
        if !self.native_files() {
            return default_stat(self, path, follow).await;
        }
        // stat and the NSS lookups block: off the async workers.
        let path = path.to_string();
        tokio::task::spawn_blocking(move || stat_native(&path, follow)).await.map_err(|e| HostError::Io(format!("stat: {e}")))?
    }
}

/// The native atomic write: a temporary file beside the target with a
/// random name, created with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600, given
/// its final mode on the descriptor before any content is written, synced,
/// then renamed over the target.
fn write_native(path: &str, content: &[u8], mode: Option<u32>) -> Result<(), HostError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path_buf = std::path::PathBuf::from(path);
    let dir = path_buf.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let existing_mode = std::fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o7777);
    let mode = mode.or(existing_mode).unwrap_or(0o644);
    let mut attempt = 0;
    let (tmp, mut file) = loop {
        let tmp = dir.join(format!(".mailplay.{}", crate::host::random_suffix()));
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).custom_flags(libc::O_NOFOLLOW).open(&tmp) {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 20 => attempt += 1,
            Err(e) => return Err(HostError::Io(format!("creating a temporary file in {}: {e}", dir.display()))),
        }
    };
    let result = (|| -> std::io::Result<()> {
        // Before the mode: a POSIX ACL's entries follow a later chmod.
        copy_xattrs(&path_buf, &file);
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.write_all(content)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        HostError::Io(format!("writing {path}: {e}"))
    })
}

/// The extended attributes of the file being replaced (its POSIX ACL in
/// `system.posix_acl_access`, SELinux context, user.*) onto the new one,
/// as Ansible's atomic_move does (`shutil.copystat`): replacing a file must
/// not drop the ACL someone set on it. Like copystat, attributes the file
/// system or the user cannot set are skipped; a symlink or a missing
/// destination has none to copy.
fn copy_xattrs(dest: &std::path::Path, to: &std::fs::File) {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::io::AsRawFd;
    let Ok(c_path) = std::ffi::CString::new(dest.as_os_str().as_bytes()) else { return };
    if !std::fs::symlink_metadata(dest).is_ok_and(|m| m.is_file()) {
        return;
    }
    // Sizes are asked first; the kernel caps a list and a value at 64 KiB.
    let size = unsafe { libc::llistxattr(c_path.as_ptr(), std::ptr::null_mut(), 0) };
    if !(1..=65536).contains(&size) {
        return;
    }
    let mut names = vec![0u8; size as usize];
    let got = unsafe { libc::llistxattr(c_path.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if got <= 0 {
        return;
    }
    names.truncate(got as usize);
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let Ok(c_name) = std::ffi::CString::new(name) else { continue };
        let len = unsafe { libc::lgetxattr(c_path.as_ptr(), c_name.as_ptr(), std::ptr::null_mut(), 0) };
        if !(0..=65536).contains(&len) {
            continue;
        }
        let mut value = vec![0u8; len as usize];
        let got = unsafe { libc::lgetxattr(c_path.as_ptr(), c_name.as_ptr(), value.as_mut_ptr().cast(), value.len()) };
        if got < 0 {
            continue;
        }
        // Errors (not supported, not permitted) leave that attribute out, as copystat.
        let _ = unsafe { libc::fsetxattr(to.as_raw_fd(), c_name.as_ptr(), value.as_ptr().cast(), got as usize, 0) };
    }
}

/// stat(2) and the owner's and group's names, on the calling thread.
fn stat_native(path: &str, follow: bool) -> Result<Option<FileStat>, HostError> {
    let meta = if follow { std::fs::metadata(path) } else { std::fs::symlink_metadata(path) };
    let meta = match meta {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(HostError::Io(format!("stat {path}: {e}"))),
    };
    let ft = meta.file_type();
    let kind = if ft.is_symlink() {
        FileKind::Link
    } else if ft.is_dir() {
        FileKind::Directory
    } else if ft.is_file() {
        FileKind::File
    } else {
        FileKind::Other
    };
    let link_target = if kind == FileKind::Link { std::fs::read_link(path).ok().map(|p| p.to_string_lossy().into_owned()) } else { None };
    Ok(Some(FileStat {
        kind,
        mode: meta.mode() & 0o7777,
        owner: user_name(meta.uid()).unwrap_or_else(|| meta.uid().to_string()),
        group: group_name(meta.gid()).unwrap_or_else(|| meta.gid().to_string()),
        uid: meta.uid(),
        gid: meta.gid(),
        size: meta.size(),
        mtime: meta.mtime(),
        link_target,
    }))
}

// The trait's default bodies, callable from an override that falls back.
struct Fallback<'a>(&'a LocalHost);

#[async_trait]
impl Host for Fallback<'_> {
    fn name(&self) -> &str {
        self.0.name()
    }
    async fn exec(&self, cmd: &Command) -> Result<CommandOutput, HostError> {
        self.0.exec(cmd).await
    }
}

/// How long output may pause after the command ended before mailplay stops
/// reading it (Ansible's run_command selects with a one-second timeout).
const QUIET_AFTER_EXIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Copy a pipe into `buf` until its end, noting when output last came
/// (milliseconds since `started`). Dropped early, `buf` keeps what came.
async fn pump<R: tokio::io::AsyncRead + Unpin>(
    pipe: &mut R,
    buf: &mut Vec<u8>,
    started: std::time::Instant,
    last_output: &std::sync::atomic::AtomicU64,
) -> std::io::Result<()> {
    let mut chunk = [0u8; 8192];
    loop {
        let n = pipe.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        last_output.store(started.elapsed().as_millis() as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

async fn default_read(h: &LocalHost, path: &str) -> Result<Option<Vec<u8>>, HostError> {
    Fallback(h).read_file(path).await
}
async fn default_write(h: &LocalHost, path: &str, content: &[u8], attrs: &FileAttrs) -> Result<(), HostError> {
    Fallback(h).write_file(path, content, attrs).await
}
async fn default_stat(h: &LocalHost, path: &str, follow: bool) -> Result<Option<FileStat>, HostError> {
    Fallback(h).stat(path, follow).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command_shell target's `shell: 'yoink.sh &'`: a background
    /// process keeps the output pipes open; the command is done when it
    /// ends, as in Ansible, not when they close.
    #[tokio::test]
    async fn a_background_process_holding_the_output_does_not_hold_the_command() {
        let h = LocalHost::new("localhost");
        let t = std::time::Instant::now();
        let out = h.exec(&Command::shell("echo started; sleep 30 & echo done")).await.unwrap();
        assert!(t.elapsed() < std::time::Duration::from_secs(10), "waited for the background process");
        assert_eq!((out.rc, out.stdout_str().as_str()), (0, "started\ndone\n"));
        // Output that keeps coming after the command ended is still read.
        let out = h.exec(&Command::shell("(sleep 0.3; echo late) & echo now")).await.unwrap();
        assert_eq!(out.stdout_str(), "now\nlate\n");
    }

    /// The lineinfile target's acls.yml: a file's ACL survives its
    /// atomic replacement.
    #[tokio::test]
    async fn replacing_a_file_keeps_its_acl() {
        if std::process::Command::new("setfacl").arg("--version").output().is_err() {
            eprintln!("setfacl missing: skipped");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.txt");
        std::fs::write(&f, "TEST").unwrap();
        let ok = std::process::Command::new("setfacl").args(["-m", "nobody:rwx"]).arg(&f).status().unwrap().success();
        if !ok {
            eprintln!("this file system has no ACLs: skipped");
            return;
        }
        write_native(f.to_str().unwrap(), b"UPDATE", None).unwrap();
        let acl = std::process::Command::new("getfacl").arg("-c").arg(&f).output().unwrap();
        let acl = String::from_utf8_lossy(&acl.stdout).into_owned();
        assert!(acl.contains("user:nobody:rwx"), "{acl}");
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "UPDATE");
    }

    #[tokio::test]
    async fn runs_commands_with_stdin_and_env() {
        let h = LocalHost::new("localhost").with_env(vec![("GREETING".into(), "hi".into())]);
        let out = h.exec(&Command::shell("printf '%s ' \"$GREETING\"; cat; echo err >&2; exit 3").stdin(b"there".to_vec())).await.unwrap();
        assert_eq!(out.rc, 3);
        assert_eq!(out.stdout_str(), "hi there");
        assert_eq!(out.stderr_str(), "err\n");
    }

    #[tokio::test]
    async fn native_and_shell_file_operations_agree() {
        let dir = tempfile::tempdir().unwrap();
        let h = LocalHost::new("localhost");
        let p = dir.path().join("f.txt");
        let p = p.to_str().unwrap();
        assert_eq!(h.read_file(p).await.unwrap(), None);
        h.write_file(p, b"one\n", &FileAttrs { mode: Some(0o600), ..Default::default() }).await.unwrap();
        assert_eq!(h.read_file(p).await.unwrap().unwrap(), b"one\n");
        let native = h.stat(p, true).await.unwrap().unwrap();
        let shell = Fallback(&h).stat(p, true).await.unwrap().unwrap();
        assert_eq!(native, shell);
        assert_eq!(native.mode, 0o600);
        // Replacing keeps the mode when none is given, through both paths.
        Fallback(&h).write_file(p, b"two\n", &FileAttrs::default()).await.unwrap();
        assert_eq!(Fallback(&h).read_file(p).await.unwrap().unwrap(), b"two\n");
        assert_eq!(h.stat(p, true).await.unwrap().unwrap().mode, 0o600);
        // No temporary files are left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[tokio::test]
    async fn owners_resolve_the_same_natively_and_through_stat() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: chown needs root (tests/run-all.sh runs as root)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let h = LocalHost::new("localhost");
        let p = dir.path().join("f");
        std::fs::write(&p, "x").unwrap();
        let p = p.to_str().unwrap();
        // root through NSS, and ids that have no name at all.
        for (uid, gid) in [(0, 0), (54321, 54322)] {
            std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
            let native = h.stat(p, false).await.unwrap().unwrap();
            let shell = Fallback(&h).stat(p, false).await.unwrap().unwrap();
            assert_eq!(native, shell);
        }
        assert_eq!(h.stat(p, false).await.unwrap().unwrap().owner, "54321");
    }
}
