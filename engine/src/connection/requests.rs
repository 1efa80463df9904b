//! The typed requests the remote helper answers itself, without starting
//! a process (helper_files.pl), and the reading of their replies. Each
//! reply is the helper's usual (rc, stdout, stderr); what the operation
//! found travels in stdout.

use mailplay_modules::host::{CommandOutput, FileAttrs, FileKind, FileStat, HostError};

use super::framing;

/// rc of a native operation: the path is absent.
const ABSENT: i32 = 3;
/// rc of `read`: the file is longer than the limit.
const TOO_LARGE: i32 = 4;
/// rc of `digest`: this host's perl lacks the digest module.
const UNAVAILABLE: i32 = 5;

/// A file operation the helper does in its own process.
#[derive(Debug, Clone, Copy)]
pub enum FileRequest<'a> {
    /// lstat (or stat with `follow`), with owner and group names.
    Stat { path: &'a str, follow: bool },
    /// lstat and, for a regular file, its content (refused beyond
    /// `limit` bytes): one round trip for what copy and the text editors
    /// look at first.
    StatRead { path: &'a str, limit: u32 },
    /// The whole content, refused beyond `limit` bytes.
    Read { path: &'a str, limit: u32 },
    /// The atomic write (temporary file with its final owner and mode
    /// before any byte, fsync, rename); the content travels in the frame.
    Write { path: &'a str, attrs: &'a FileAttrs, content: &'a [u8] },
    /// Where a path finally points (`readlink -f`).
    Realpath { path: &'a str },
    /// The hex digest of a file's content (sha1, sha224, ..., md5).
    Digest { path: &'a str, algorithm: &'a str },
    /// `mkdir -p`, then the mode on the last folder.
    MakeDir { path: &'a str, mode: Option<u32> },
    /// `chown -h`, `chgrp -h`, `chmod` of one path; `None` keeps.
    SetAttrs { path: &'a str, attrs: &'a FileAttrs },
}

fn octal(mode: Option<u32>) -> String {
    mode.map(|m| format!("{m:o}")).unwrap_or_default()
}

impl FileRequest<'_> {
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        match *self {
            FileRequest::Stat { path, follow } => framing::frame(&[b"stat", path.as_bytes(), if follow { b"1" } else { b"0" }]),
            FileRequest::StatRead { path, limit } => framing::frame(&[b"statread", path.as_bytes(), limit.to_string().as_bytes()]),
            FileRequest::Read { path, limit } => framing::frame(&[b"read", path.as_bytes(), limit.to_string().as_bytes()]),
            FileRequest::Write { path, attrs, content } => {
                let (owner, group) = (attrs.owner.as_deref().unwrap_or(""), attrs.group.as_deref().unwrap_or(""));
                framing::frame(&[b"write", path.as_bytes(), octal(attrs.mode).as_bytes(), owner.as_bytes(), group.as_bytes(), content])
            }
            FileRequest::Realpath { path } => framing::frame(&[b"realpath", path.as_bytes()]),
            FileRequest::Digest { path, algorithm } => framing::frame(&[b"digest", path.as_bytes(), algorithm.as_bytes()]),
            FileRequest::MakeDir { path, mode } => framing::frame(&[b"mkdir", path.as_bytes(), octal(mode).as_bytes()]),
            FileRequest::SetAttrs { path, attrs } => {
                let (owner, group) = (attrs.owner.as_deref().unwrap_or(""), attrs.group.as_deref().unwrap_or(""));
                framing::frame(&[b"attrs", path.as_bytes(), owner.as_bytes(), group.as_bytes(), octal(attrs.mode).as_bytes()])
            }
        }
    }
}

fn failed(what: &str, path: &str, out: &CommandOutput) -> HostError {
    HostError::Io(format!("{what} {path} failed (rc={}): {}", out.rc, out.stderr_str().trim()))
}

/// The reply to `Stat`: kind, mode, uid, gid, owner, group, size, mtime
/// and link target, NUL-separated.
pub fn stat_reply(path: &str, out: &CommandOutput) -> Result<Option<FileStat>, HostError> {
    match out.rc {
        0 => parse_stat(&out.stdout)
            .map(Some)
            .ok_or_else(|| HostError::Io(format!("cannot parse the stat of {path}: {:?}", out.stdout_str()))),
        ABSENT => Ok(None),
        _ => Err(failed("stat", path, out)),
    }
}

/// The reply to `StatRead`: the stat's fields, then for a regular file a
/// NUL and the content (which may hold any byte: it is all that follows
/// the ninth field, never split).
pub fn stat_read_reply(path: &str, out: CommandOutput) -> Result<(Option<FileStat>, Option<Vec<u8>>), HostError> {
    match out.rc {
        0 => {
            let bad = || HostError::Io(format!("cannot parse the stat of {path}: {:?}", String::from_utf8_lossy(&out.stdout)));
            let mut parts = out.stdout.splitn(10, |b| *b == 0);
            let st = parse_fields(parts.by_ref().take(9)).ok_or_else(bad)?;
            let content = parts.next().map(<[u8]>::to_vec);
            // A regular file comes with its content, nothing else does.
            if (st.kind == FileKind::File) != content.is_some() {
                return Err(bad());
            }
            Ok((Some(st), content))
        }
        ABSENT => Ok((None, None)),
        TOO_LARGE => Err(HostError::Io(format!("reading {path} failed: {}", out.stderr_str().trim()))),
        _ => Err(failed("reading", path, &out)),
    }
}

fn parse_stat(reply: &[u8]) -> Option<FileStat> {
    parse_fields(reply.split(|b| *b == 0))
}

/// Exactly nine fields: kind, mode, uid, gid, owner, group, size, mtime,
/// link target.
fn parse_fields<'a>(fields: impl Iterator<Item = &'a [u8]>) -> Option<FileStat> {
    let f: Vec<String> = fields.map(|s| String::from_utf8_lossy(s).into_owned()).collect();
    let [kind, mode, uid, gid, owner, group, size, mtime, link] = <[String; 9]>::try_from(f).ok()?;
    let kind = match kind.as_str() {
        "f" => FileKind::File,
        "d" => FileKind::Directory,
        "l" => FileKind::Link,
        "o" => FileKind::Other,
        _ => return None,
    };
    Some(FileStat {
        kind,
        mode: u32::from_str_radix(&mode, 8).ok()?,
        owner,
        group,
        uid: uid.parse().ok()?,
        gid: gid.parse().ok()?,
        size: size.parse().ok()?,
        mtime: mtime.parse().ok()?,
        link_target: (kind == FileKind::Link).then_some(link),
    })
}

/// The reply to `Read`: the content, `None` when absent.
pub fn read_reply(path: &str, out: CommandOutput) -> Result<Option<Vec<u8>>, HostError> {
    match out.rc {
        0 => Ok(Some(out.stdout)),
        ABSENT => Ok(None),
        TOO_LARGE => Err(HostError::Io(format!("reading {path} failed: {}", out.stderr_str().trim()))),
        _ => Err(failed("reading", path, &out)),
    }
}

/// The reply to `Write`.
pub fn write_reply(path: &str, out: &CommandOutput) -> Result<(), HostError> {
    if out.success() {
        Ok(())
    } else {
        Err(HostError::Io(format!("writing {path} failed: {}", out.stderr_str().trim())))
    }
}

/// The reply to `MakeDir` and `SetAttrs`: the tool's message (as mkdir,
/// chown, chmod word it) when it failed.
pub fn done_reply(out: &CommandOutput) -> Result<(), HostError> {
    if out.success() {
        Ok(())
    } else {
        Err(HostError::Io(out.stderr_str().trim().to_string()))
    }
}

/// The reply to `Realpath`: `None` when the path does not resolve, as
/// `readlink -f` failing.
pub fn realpath_reply(out: &CommandOutput) -> Option<String> {
    out.success().then(|| out.stdout_str())
}

/// What a `Digest` request found.
#[derive(Debug, PartialEq, Eq)]
pub enum DigestReply {
    Hex(String),
    /// No digest module on the host: the caller runs a command instead.
    Unavailable,
    /// Absent, unreadable or not a file: no checksum, as `sha1sum` failing.
    None,
}

pub fn digest_reply(out: &CommandOutput) -> DigestReply {
    match out.rc {
        0 => DigestReply::Hex(out.stdout_str()),
        UNAVAILABLE => DigestReply::Unavailable,
        _ => DigestReply::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(stdout: &[u8]) -> CommandOutput {
        CommandOutput { rc: 0, stdout: stdout.to_vec(), stderr: Vec::new() }
    }

    #[test]
    fn stat_replies_parse() {
        let s = stat_reply("/f", &ok(b"f\x00644\x000\x000\x00root\x00root\x0012\x001700000000\x00")).unwrap().unwrap();
        assert_eq!(
            (s.kind, s.mode, s.owner.as_str(), s.size, s.mtime, s.link_target),
            (FileKind::File, 0o644, "root", 12, 1700000000, None)
        );
        // A link target may hold any byte but NUL, a '|' or a newline too.
        let l = stat_reply("/l", &ok(b"l\x00777\x001000\x00100\x001000\x00users\x005\x001\x00a|b\nc")).unwrap().unwrap();
        assert_eq!((l.kind, l.owner.as_str(), l.uid, l.gid, l.link_target.as_deref()), (FileKind::Link, "1000", 1000, 100, Some("a|b\nc")));
        let d = stat_reply("/d", &ok(b"d\x002755\x000\x000\x00root\x00staff\x004096\x001\x00")).unwrap().unwrap();
        assert_eq!((d.kind, d.mode, d.group.as_str()), (FileKind::Directory, 0o2755, "staff"));
        assert_eq!(stat_reply("/x", &CommandOutput { rc: 3, ..Default::default() }).unwrap(), None);
    }

    #[test]
    fn broken_stat_replies_are_errors() {
        for bad in [
            &b""[..],
            b"f\x00644",
            b"f\x00644\x000\x000\x00r\x00r\x001\x001\x00\x00extra",
            b"x\x00644\x000\x000\x00r\x00r\x001\x001\x00",
            b"f\x009\x000\x000\x00r\x00r\x001\x001\x00",
            b"f\x00644\x00-1\x000\x00r\x00r\x001\x001\x00",
        ] {
            assert!(stat_reply("/p", &ok(bad)).is_err(), "{bad:?}");
        }
        let e = stat_reply("/p", &CommandOutput { rc: 1, stdout: Vec::new(), stderr: b"boom\n".to_vec() }).unwrap_err();
        assert_eq!(e.to_string(), "stat /p failed (rc=1): boom");
    }

    #[test]
    fn stat_read_replies_keep_the_content_whole() {
        let (st, content) = stat_read_reply("/f", ok(b"f\x00600\x000\x000\x00root\x00root\x004\x001\x00\x00a\x00\x00b")).unwrap();
        assert_eq!((st.unwrap().size, content.as_deref()), (4, Some(&b"a\x00\x00b"[..])));
        let (st, content) = stat_read_reply("/f", ok(b"f\x00600\x000\x000\x00root\x00root\x000\x001\x00\x00")).unwrap();
        assert_eq!((st.is_some(), content), (true, Some(Vec::new())));
        let (st, content) = stat_read_reply("/d", ok(b"d\x00755\x000\x000\x00root\x00root\x004096\x001\x00")).unwrap();
        assert_eq!((st.unwrap().kind, content), (FileKind::Directory, None));
        assert_eq!(stat_read_reply("/x", CommandOutput { rc: 3, ..Default::default() }).unwrap(), (None, None));
        // A file without its content, or content for anything else, is a broken reply.
        assert!(stat_read_reply("/f", ok(b"f\x00600\x000\x000\x00root\x00root\x000\x001\x00")).is_err());
        assert!(stat_read_reply("/d", ok(b"d\x00755\x000\x000\x00root\x00root\x000\x001\x00\x00x")).is_err());
        assert!(stat_read_reply("/f", ok(b"f\x00600")).is_err());
    }

    #[test]
    fn read_write_realpath_digest_replies() {
        assert_eq!(read_reply("/f", ok(b"a\x00b")).unwrap(), Some(b"a\x00b".to_vec()));
        assert_eq!(read_reply("/f", CommandOutput { rc: 3, ..Default::default() }).unwrap(), None);
        let big = CommandOutput { rc: 4, stdout: Vec::new(), stderr: b"mailplay: /f is larger than 9 bytes\n".to_vec() };
        assert_eq!(read_reply("/f", big).unwrap_err().to_string(), "reading /f failed: mailplay: /f is larger than 9 bytes");
        assert!(write_reply("/f", &ok(b"")).is_ok());
        assert_eq!(realpath_reply(&ok(b"/usr/bin/dash")).as_deref(), Some("/usr/bin/dash"));
        assert_eq!(realpath_reply(&CommandOutput { rc: 1, ..Default::default() }), None);
        assert_eq!(digest_reply(&ok(b"ab12")), DigestReply::Hex("ab12".into()));
        assert_eq!(digest_reply(&CommandOutput { rc: 5, ..Default::default() }), DigestReply::Unavailable);
        assert_eq!(digest_reply(&CommandOutput { rc: 1, ..Default::default() }), DigestReply::None);
    }

    #[test]
    fn requests_encode_their_fields() {
        let attrs = FileAttrs { owner: Some("mail".into()), group: None, mode: Some(0o640) };
        let f = FileRequest::Write { path: "/etc/x", attrs: &attrs, content: b"secret\x00" }.encode().unwrap();
        let fields = split_frame(&f);
        assert_eq!(fields, [&b"write"[..], b"/etc/x", b"640", b"mail", b"", b"secret\x00"]);
        let f = FileRequest::Stat { path: "/a b", follow: true }.encode().unwrap();
        assert_eq!(split_frame(&f), [&b"stat"[..], b"/a b", b"1"]);
    }

    fn split_frame(f: &[u8]) -> Vec<&[u8]> {
        let n = u32::from_be_bytes(f[..4].try_into().unwrap()) as usize;
        let mut at = 4;
        (0..n)
            .map(|_| {
                let len = u32::from_be_bytes(f[at..at + 4].try_into().unwrap()) as usize;
                at += 4 + len;
                &f[at - len..at]
            })
            .collect()
    }
}
