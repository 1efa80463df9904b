//! The operations a module may perform on a target host.
//!
//! Modules only ever see `&dyn Host`. The engine hands them a host that is
//! already bound to a connection (local, ssh) and to the task's `become` user
//! and `environment`, so a module never thinks about SSH, sudo or env vars.
//!
//! Every method except `exec` has a default implementation built on `exec`
//! with plain POSIX tools, so a new connection type only has to run commands;
//! connections that can do better (the local one reads files directly)
//! override them.

use async_trait::async_trait;

/// What to run on the host.
#[derive(Debug, Clone, Default)]
pub struct Command {
    /// The program and its arguments, passed to exec without a shell.
    /// Exactly one of `argv` and `shell` is used; `shell` wins when both are set.
    pub argv: Vec<String>,
    /// A shell snippet run with `/bin/sh -c`.
    pub shell: Option<String>,
    /// Bytes written to the command's standard input (then closed).
    /// Secrets travel here, never in argv.
    pub stdin: Option<Vec<u8>>,
    /// Working directory.
    pub cwd: Option<String>,
    /// Extra environment, on top of the task's `environment:`.
    pub env: Vec<(String, String)>,
}

impl Command {
    pub fn argv<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Command { argv: args.into_iter().map(Into::into).collect(), ..Default::default() }
    }

    pub fn shell(script: impl Into<String>) -> Self {
        Command { shell: Some(script.into()), ..Default::default() }
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn cwd(mut self, dir: impl Into<String>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// The command as one `sh -c` string, every argv element quoted.
    /// Connections that talk to a remote shell use this.
    pub fn to_shell_string(&self) -> String {
        match &self.shell {
            Some(script) => script.clone(),
            None => shell_words::join(&self.argv),
        }
    }
}

/// What a command produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    pub rc: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl CommandOutput {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    pub fn success(&self) -> bool {
        self.rc == 0
    }
}

/// Owner, group and mode to give a written file. `None` keeps what is there
/// (or the umask default for a new file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileAttrs {
    pub owner: Option<String>,
    pub group: Option<String>,
    /// Permission bits, e.g. 0o644.
    pub mode: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    File,
    Directory,
    Link,
    Other,
}

/// The subset of stat(2) that modules compare against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStat {
    pub kind: FileKind,
    /// Permission bits including setuid/setgid/sticky (mode & 0o7777).
    pub mode: u32,
    pub owner: String,
    pub group: String,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    /// Target of a symlink (only for `FileKind::Link`).
    pub link_target: Option<String>,
}

/// A failure to talk to the host at all (as opposed to a command that ran
/// and failed). The engine reports these as `UNREACHABLE!`.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Io(String),
}

/// Quote one word for a POSIX shell.
pub fn quote(word: &str) -> String {
    shell_words::quote(word).into_owned()
}

#[async_trait]
pub trait Host: Send + Sync {
    /// The inventory name of the host, for messages.
    fn name(&self) -> &str;

    /// Run a command and wait for it. A non-zero exit code is not an error.
    async fn exec(&self, cmd: &Command) -> Result<CommandOutput, HostError>;

    /// Read a whole file; `None` when it does not exist.
    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        let script = format!("if [ -e {p} ]; then exec cat -- {p}; else exit 3; fi", p = quote(path));
        let out = self.exec(&Command::shell(script)).await?;
        match out.rc {
            0 => Ok(Some(out.stdout)),
            3 => Ok(None),
            rc => Err(HostError::Io(format!("reading {path} failed (rc={rc}): {}", out.stderr_str().trim()))),
        }
    }

    /// Write a file atomically: the bytes go to a temporary file in the same
    /// directory, which gets its owner and mode and is then renamed over the
    /// target, so a reader never sees a half-written file.
    async fn write_file(&self, path: &str, content: &[u8], attrs: &FileAttrs) -> Result<(), HostError> {
        let out = self.exec(&Command::shell(atomic_write_script(path, attrs)).stdin(content.to_vec())).await?;
        if out.success() {
            Ok(())
        } else {
            Err(HostError::Io(format!("writing {path} failed: {}", out.stderr_str().trim())))
        }
    }

    /// stat the path; `None` when it does not exist. With `follow`, symlinks
    /// are followed (a dangling link then reads as absent).
    async fn stat(&self, path: &str, follow: bool) -> Result<Option<FileStat>, HostError> {
        let flag = if follow { "-L " } else { "" };
        let script = format!(
            "if [ -e {p} ] || [ -L {p} ]; then stat {flag}-c '%F|%a|%U|%G|%u|%g|%s|%Y' -- {p} && {{ [ -L {p} ] && readlink -- {p} || true; }}; else exit 3; fi",
            p = quote(path)
        );
        let out = self.exec(&Command::shell(script)).await?;
        match out.rc {
            0 => parse_stat_output(&out.stdout_str())
                .map(Some)
                .ok_or_else(|| HostError::Io(format!("cannot parse stat output for {path}: {:?}", out.stdout_str()))),
            3 => Ok(None),
            rc => Err(HostError::Io(format!("stat {path} failed (rc={rc}): {}", out.stderr_str().trim()))),
        }
    }
}

/// The shell script behind the default `write_file`: content on stdin.
pub fn atomic_write_script(path: &str, attrs: &FileAttrs) -> String {
    let p = quote(path);
    let mut s = format!("set -e; d=$(dirname -- {p}); t=$(mktemp \"$d/.mailplay.XXXXXX\"); trap 'rm -f \"$t\"' EXIT; cat > \"$t\"; ");
    // Keep the existing file's owner and mode unless told otherwise, as
    // Ansible does when it replaces a file.
    s.push_str(&format!(
        "if [ -e {p} ]; then chown --reference={p} \"$t\" 2>/dev/null || true; chmod --reference={p} \"$t\"; else chmod 0644 \"$t\"; fi; "
    ));
    if let Some(owner) = &attrs.owner {
        s.push_str(&format!("chown {} \"$t\"; ", quote(owner)));
    }
    if let Some(group) = &attrs.group {
        s.push_str(&format!("chgrp {} \"$t\"; ", quote(group)));
    }
    if let Some(mode) = attrs.mode {
        s.push_str(&format!("chmod {:o} \"$t\"; ", mode));
    }
    s.push_str(&format!("mv -f \"$t\" {p}; trap - EXIT"));
    s
}

/// Parse `%F|%a|%U|%G|%u|%g|%s|%Y` and an optional second line (link target).
pub fn parse_stat_output(out: &str) -> Option<FileStat> {
    let mut lines = out.lines();
    let first = lines.next()?;
    let f: Vec<&str> = first.split('|').collect();
    if f.len() != 8 {
        return None;
    }
    let kind = match f[0] {
        "regular file" | "regular empty file" => FileKind::File,
        "directory" => FileKind::Directory,
        "symbolic link" => FileKind::Link,
        _ => FileKind::Other,
    };
    Some(FileStat {
        kind,
        mode: u32::from_str_radix(f[1], 8).ok()?,
        owner: f[2].to_string(),
        group: f[3].to_string(),
        uid: f[4].parse().ok()?,
        gid: f[5].parse().ok()?,
        size: f[6].parse().ok()?,
        mtime: f[7].parse().ok()?,
        link_target: if kind == FileKind::Link { lines.next().map(str::to_string) } else { None },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_of_a_file_and_a_link() {
        let s = parse_stat_output("regular file|644|root|root|0|0|12|1700000000\n").unwrap();
        assert_eq!(s.kind, FileKind::File);
        assert_eq!(s.mode, 0o644);
        assert_eq!(s.link_target, None);
        let l = parse_stat_output("symbolic link|777|root|root|0|0|4|1700000000\n/etc/hosts\n").unwrap();
        assert_eq!(l.kind, FileKind::Link);
        assert_eq!(l.link_target.as_deref(), Some("/etc/hosts"));
    }

    #[test]
    fn argv_is_quoted_for_the_shell() {
        let c = Command::argv(["echo", "a b", "it's"]);
        assert_eq!(c.to_shell_string(), "echo 'a b' 'it'\\''s'");
    }
}
