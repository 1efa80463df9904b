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
    /// The program could not be started at all (not found, not
    /// executable): `errno` is the system's error number, which Ansible's
    /// command module returns as `rc`.
    #[error("cannot run {program}: {msg}")]
    NotStarted { program: String, errno: i32, msg: String },
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

    /// `mkdir -p` the path, then give the last folder `mode` if set. An
    /// `Io` error carries the tool's message.
    async fn make_dir(&self, path: &str, mode: Option<u32>) -> Result<(), HostError> {
        let p = quote(path);
        let script = format!("mkdir -p -- {p}{}", mode.map(|m| format!(" && chmod {m:o} {p}")).unwrap_or_default());
        tool_result(self.exec(&Command::shell(script)).await?)
    }

    /// Owner and group of the path itself (`chown -h`: a link, not what it
    /// points to), then its mode; `None` keeps. An `Io` error carries the
    /// tool's message.
    async fn set_attrs(&self, path: &str, attrs: &FileAttrs) -> Result<(), HostError> {
        tool_result(self.exec(&Command::shell(attrs_script(path, attrs, false))).await?)
    }

    /// Where the symlink at `path` finally points (`readlink -f`); `None`
    /// when it cannot be resolved.
    async fn link_target(&self, path: &str) -> Result<Option<String>, HostError> {
        let out = self.exec(&Command::argv(["readlink", "-f", "--", path])).await?;
        Ok(out.success().then(|| out.stdout_str().trim_end_matches('\n').to_string()))
    }

    /// lstat the path and, when it is a regular file, read it: what copy,
    /// template and the text editors look at first. A connection that can
    /// answers both in one round trip; this default asks twice, through
    /// `stat` and `read_file` (so check mode's overlay answers both).
    async fn stat_and_read(&self, path: &str) -> Result<(Option<FileStat>, Option<Vec<u8>>), HostError> {
        let st = self.stat(path, false).await?;
        let content = match &st {
            Some(s) if s.kind == FileKind::File => self.read_file(path).await?,
            _ => None,
        };
        Ok((st, content))
    }

    /// The hex digest of a file's content (`sha1`, `sha224`, `sha256`,
    /// `sha384`, `sha512`, `md5`); `None` when it cannot be computed (no
    /// such file, unreadable), as Ansible's stat leaves `checksum` out.
    async fn checksum(&self, path: &str, algorithm: &str) -> Result<Option<String>, HostError> {
        default_checksum(self, path, algorithm).await
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

fn tool_result(out: CommandOutput) -> Result<(), HostError> {
    if out.success() {
        Ok(())
    } else {
        Err(HostError::Io(out.stderr_str().trim().to_string()))
    }
}

/// The commands that give `path` (and with `recurse` what is below it)
/// the owner, group and mode in `attrs`, stopping at the first failure.
pub fn attrs_script(path: &str, attrs: &FileAttrs, recurse: bool) -> String {
    let r = if recurse { "-R " } else { "" };
    let mut script = String::from("set -e; ");
    if let Some(o) = &attrs.owner {
        script.push_str(&format!("chown {r}-h {} {}; ", quote(o), quote(path)));
    }
    if let Some(g) = &attrs.group {
        script.push_str(&format!("chgrp {r}-h {} {}; ", quote(g), quote(path)));
    }
    if let Some(m) = &attrs.mode {
        script.push_str(&format!("chmod {r}{:o} {}; ", m, quote(path)));
    }
    script
}

/// The `checksum` of a host that only runs commands (`sha1sum` and its
/// kin, in coreutils); callable from an override that falls back.
pub async fn default_checksum<H: Host + ?Sized>(host: &H, path: &str, algorithm: &str) -> Result<Option<String>, HostError> {
    if !matches!(algorithm, "sha1" | "sha224" | "sha256" | "sha384" | "sha512" | "md5") {
        return Err(HostError::Io(format!("unknown checksum algorithm {algorithm}")));
    }
    let out = host.exec(&Command::shell(format!("{algorithm}sum < {}", quote(path)))).await?;
    Ok(out.success().then(|| out.stdout_str().split_whitespace().next().unwrap_or("").to_string()))
}

/// Creates the temporary file of an atomic write: a random name beside the
/// target, `O_CREAT|O_EXCL|O_NOFOLLOW` and mode 0600 at creation, then the
/// final owner (fchown) and mode (fchmod) on the descriptor, all before any
/// content is written; then the content from stdin, fsync, rename. So the
/// file is never readable with more permissions than its final ones, and a
/// planted symlink is never followed. Owners and groups resolve through
/// NSS (getpwnam/getgrnam). Perl is always on Debian (perl-base).
const ATOMIC_WRITE_PL: &str = r#"use strict; use warnings; use Fcntl qw(O_WRONLY O_CREAT O_EXCL O_NOFOLLOW); use IO::Handle;
my ($path, $mode, $owner, $group) = @ARGV;
my $dir = $path =~ m{^(.*)/[^/]*$} ? ($1 eq '' ? '/' : $1) : '.';
my @st = stat($path);
my $m = length $mode ? oct($mode) : (@st ? $st[2] & 07777 : 0644);
my ($uid, $gid) = (-1, -1);
if (length $owner) { $uid = $owner =~ /^\d+$/ ? $owner : getpwnam($owner); die "mailplay: no such user: $owner\n" unless defined $uid; }
if (length $group) { $gid = $group =~ /^\d+$/ ? $group : getgrnam($group); die "mailplay: no such group: $group\n" unless defined $gid; }
sub rnd { open(my $r, '<', '/dev/urandom') or die "mailplay: /dev/urandom: $!\n"; my $b = ''; read($r, $b, 9) == 9 or die "mailplay: /dev/urandom: short read\n"; close $r; my $s = unpack('H*', $b); return $s; }
my ($fh, $tmp);
for (1 .. 20) { $tmp = "$dir/.mailplay." . rnd(); last if sysopen($fh, $tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600); die "mailplay: cannot create a temporary file in $dir: $!\n" unless $!{EEXIST}; undef $fh; }
die "mailplay: cannot create a temporary file in $dir\n" unless $fh;
my $ok = eval {
  # Keep the replaced file's owner where allowed (as Ansible does), then
  # what the task says; the mode last, since chown clears set-id bits.
  chown($st[4], $st[5], $fh) if @st;
  if ($uid != -1 || $gid != -1) { chown($uid, $gid, $fh) or die "mailplay: cannot give $tmp owner " . ($owner // '') . " group " . ($group // '') . ": $!\n"; }
  chmod($m, $fh) or die "mailplay: cannot chmod $tmp: $!\n";
  binmode STDIN;
  while (1) {
    my $n = sysread(STDIN, my $buf, 1 << 20); die "mailplay: reading the content: $!\n" unless defined $n; last unless $n;
    my $off = 0; while ($off < $n) { my $w = syswrite($fh, $buf, $n - $off, $off); die "mailplay: writing $tmp: $!\n" unless defined $w; $off += $w; }
  }
  $fh->sync or die "mailplay: fsync $tmp: $!\n";
  close($fh) or die "mailplay: closing $tmp: $!\n";
  rename($tmp, $path) or die "mailplay: cannot rename $tmp to $path: $!\n";
  1;
};
if (!$ok) { my $e = $@; unlink $tmp; die $e; }
"#;

/// A copy of a file beside it under an unpredictable name
/// (`path.<random>.<date>~`), created exclusively without following
/// symlinks, with the source's owner and mode set before its content is
/// copied, and the source's times. Prints the backup's name.
const BACKUP_PL: &str = r#"use strict; use warnings; use Fcntl qw(O_WRONLY O_CREAT O_EXCL O_NOFOLLOW O_RDONLY); use POSIX qw(strftime);
my ($path) = @ARGV;
sysopen(my $in, $path, O_RDONLY) or die "mailplay: cannot read $path: $!\n";
my @st = stat($in) or die "mailplay: cannot stat $path: $!\n";
open(my $r, '<', '/dev/urandom') or die "mailplay: /dev/urandom: $!\n"; read($r, my $b, 6) == 6 or die "mailplay: /dev/urandom\n"; close $r;
my $dest = sprintf("%s.%s.%s~", $path, unpack('H*', $b), strftime('%Y-%m-%d@%H:%M:%S', localtime));
sysopen(my $out, $dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600) or die "mailplay: cannot create $dest: $!\n";
my $ok = eval {
  chown($st[4], $st[5], $out);
  chmod($st[2] & 07777, $out) or die "mailplay: cannot chmod $dest: $!\n";
  while (1) {
    my $n = sysread($in, my $buf, 1 << 20); die "mailplay: reading $path: $!\n" unless defined $n; last unless $n;
    my $off = 0; while ($off < $n) { my $w = syswrite($out, $buf, $n - $off, $off); die "mailplay: writing $dest: $!\n" unless defined $w; $off += $w; }
  }
  close($out) or die "mailplay: closing $dest: $!\n";
  utime($st[8], $st[9], $dest);
  1;
};
if (!$ok) { my $e = $@; unlink $dest; die $e; }
print $dest;
"#;

/// 24 random lowercase letters and digits, for names nobody can guess.
pub fn random_suffix() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..24).map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.random_range(0..36)])).collect()
}

/// The command behind the default `write_file`: content on stdin.
pub fn atomic_write_script(path: &str, attrs: &FileAttrs) -> String {
    let mode = attrs.mode.map(|m| format!("{m:o}")).unwrap_or_default();
    shell_words::join([
        "perl",
        "-e",
        ATOMIC_WRITE_PL,
        "--",
        path,
        &mode,
        attrs.owner.as_deref().unwrap_or(""),
        attrs.group.as_deref().unwrap_or(""),
    ])
}

/// The command that backs a file up beside itself (copy/template
/// `backup: yes`); prints the backup's path.
pub fn backup_script(path: &str) -> String {
    shell_words::join(["perl", "-e", BACKUP_PL, "--", path])
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
        // GNU stat resolves names through NSS and says UNKNOWN for an id
        // without one; the local connection shows the number then.
        owner: if f[2] == "UNKNOWN" { f[4].to_string() } else { f[2].to_string() },
        group: if f[3] == "UNKNOWN" { f[5].to_string() } else { f[3].to_string() },
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
