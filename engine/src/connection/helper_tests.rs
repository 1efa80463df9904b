//! The helper's file operations through a local perl, against what the
//! local connection (native Rust) and the coreutils the shell probes used
//! say about the same paths: the ssh connection must see a host exactly as
//! before, only without starting processes.

use mailplay_modules::host::{CommandOutput, FileAttrs, FileKind, Host};
use mailplay_modules::local_host::LocalHost;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::framing;
use super::requests::{self, DigestReply, FileRequest};
use super::ssh::{HELPER, PERL_FLAGS};

struct Helper {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

/// The helper as ssh starts it; `prelude` runs first (to hide a module).
fn start(prelude: &str) -> Helper {
    let mut child = tokio::process::Command::new("perl")
        .args([PERL_FLAGS, "-e", prelude, "-e", HELPER])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("perl runs");
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    Helper { child, stdin, stdout }
}

impl Helper {
    async fn ask(&mut self, req: FileRequest<'_>) -> CommandOutput {
        self.send(&req.encode().unwrap()).await
    }
    async fn send(&mut self, frame: &[u8]) -> CommandOutput {
        self.stdin.write_all(frame).await.unwrap();
        framing::decode(&mut self.stdout).await.unwrap()
    }
}

fn tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    std::fs::write(d.join("file"), b"content\n").unwrap();
    std::fs::create_dir(d.join("dir")).unwrap();
    std::os::unix::fs::symlink("file", d.join("link")).unwrap();
    std::os::unix::fs::symlink("dir/../file", d.join("link2")).unwrap();
    std::os::unix::fs::symlink("missing", d.join("dangling")).unwrap();
    std::os::unix::fs::symlink("loop", d.join("loop")).unwrap();
    std::os::unix::fs::symlink(d.join("dir"), d.join("dirlink")).unwrap();
    std::fs::write(d.join("odd name|\nx"), b"").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.join("dir"), std::fs::Permissions::from_mode(0o2750)).unwrap();
    t
}

const NAMES: &[&str] =
    &["file", "dir", "link", "link2", "dangling", "loop", "dirlink", "odd name|\nx", "missing", "file/below", "dirlink/x/y", "dir/../file"];

#[tokio::test]
async fn stat_is_the_local_connections() {
    let t = tree();
    let local = LocalHost::new("local");
    let mut h = start("");
    for name in NAMES {
        let p = format!("{}/{name}", t.path().display());
        for follow in [false, true] {
            let got = requests::stat_reply(&p, &h.ask(FileRequest::Stat { path: &p, follow }).await).unwrap();
            match local.stat(&p, follow).await {
                Ok(want) => assert_eq!(got, want, "{name} follow={follow}"),
                // What cannot be stat'ed at all (a link loop, a path below
                // a file) is absent, as the shell probe's `[ -e ]` had it.
                Err(e) => assert_eq!(got, None, "{name} follow={follow}: local says {e}"),
            }
        }
    }
}

/// One round trip, the same answers as the two requests it replaces.
#[tokio::test]
async fn stat_and_read_is_stat_then_read() {
    let t = tree();
    let mut h = start("");
    for name in NAMES {
        let p = format!("{}/{name}", t.path().display());
        let (st, content) = requests::stat_read_reply(&p, h.ask(FileRequest::StatRead { path: &p, limit: 100 }).await).unwrap();
        let want_st = requests::stat_reply(&p, &h.ask(FileRequest::Stat { path: &p, follow: false }).await).unwrap();
        let want_content = match &want_st {
            Some(s) if s.kind == FileKind::File => {
                requests::read_reply(&p, h.ask(FileRequest::Read { path: &p, limit: 100 }).await).unwrap()
            }
            _ => None,
        };
        assert_eq!((st, content), (want_st, want_content), "{name:?}");
    }
    let p = format!("{}/file", t.path().display());
    let e = requests::stat_read_reply(&p, h.ask(FileRequest::StatRead { path: &p, limit: 3 }).await).unwrap_err();
    assert!(e.to_string().contains("larger than 3 bytes"), "{e}");
}

#[tokio::test]
async fn realpath_is_readlink_f() {
    let t = tree();
    let mut h = start("");
    for name in NAMES.iter().chain(&["", ".", "dir/", "dirlink/..", "/"]) {
        let p = if name.starts_with('/') { name.to_string() } else { format!("{}/{name}", t.path().display()) };
        let want = std::process::Command::new("readlink").args(["-f", "--", &p]).output().unwrap();
        let want = want.status.success().then(|| String::from_utf8_lossy(&want.stdout).trim_end_matches('\n').to_string());
        assert_eq!(requests::realpath_reply(&h.ask(FileRequest::Realpath { path: &p }).await), want, "{name:?}");
    }
    // Relative to the helper's working directory, as readlink -f.
    assert_eq!(requests::realpath_reply(&h.ask(FileRequest::Realpath { path: "" }).await), None);
    let want = std::process::Command::new("readlink").args(["-f", "--", "Cargo.toml"]).output().unwrap();
    let want = String::from_utf8_lossy(&want.stdout).trim_end_matches('\n').to_string();
    assert_eq!(requests::realpath_reply(&h.ask(FileRequest::Realpath { path: "Cargo.toml" }).await), Some(want));
}

#[tokio::test]
async fn reads_are_bounded_and_tell_absent_from_unreadable() {
    let t = tree();
    let mut h = start("");
    let p = |n: &str| format!("{}/{n}", t.path().display());
    let read = |out| requests::read_reply("p", out);
    assert_eq!(read(h.ask(FileRequest::Read { path: &p("link"), limit: 100 }).await).unwrap(), Some(b"content\n".to_vec()));
    assert_eq!(read(h.ask(FileRequest::Read { path: &p("missing"), limit: 100 }).await).unwrap(), None);
    assert_eq!(read(h.ask(FileRequest::Read { path: &p("dangling"), limit: 100 }).await).unwrap(), None);
    let e = read(h.ask(FileRequest::Read { path: &p("file"), limit: 7 }).await).unwrap_err();
    assert!(e.to_string().contains("is larger than 7 bytes"), "{e}");
    let e = read(h.ask(FileRequest::Read { path: &p("dir"), limit: 7 }).await).unwrap_err();
    assert!(e.to_string().contains("Is a directory"), "{e}");
    // A FIFO is refused at once, not waited on.
    let fifo = p("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let e = read(h.ask(FileRequest::Read { path: &fifo, limit: 7 }).await).unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");
    // /proc files announce no size: the limit counts what arrives.
    let e = read(h.ask(FileRequest::Read { path: "/proc/self/maps", limit: 10 }).await).unwrap_err();
    assert!(e.to_string().contains("larger than 10"), "{e}");
}

#[tokio::test]
async fn writes_are_atomic_with_the_final_mode_and_owner() {
    use std::os::unix::fs::MetadataExt;
    let t = tree();
    let mut h = start("");
    let p = format!("{}/new", t.path().display());
    let content = b"bin\x00ary\xff";
    let attrs = FileAttrs { owner: Some("nobody".into()), group: Some("0".into()), mode: Some(0o640) };
    requests::write_reply(&p, &h.ask(FileRequest::Write { path: &p, attrs: &attrs, content }).await).unwrap();
    let m = std::fs::metadata(&p).unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), content);
    assert_eq!((m.mode() & 0o7777, m.gid()), (0o640, 0));
    assert_eq!(mailplay_modules::local_host::user_name(m.uid()).as_deref(), Some("nobody"));
    // Rewritten without attributes: owner and mode stay.
    requests::write_reply(&p, &h.ask(FileRequest::Write { path: &p, attrs: &FileAttrs::default(), content: b"2" }).await).unwrap();
    let m2 = std::fs::metadata(&p).unwrap();
    assert_eq!((m2.mode() & 0o7777, m2.uid(), std::fs::read(&p).unwrap()), (0o640, m.uid(), b"2".to_vec()));
    // A new file without a mode: 0644, as the shell write had it.
    let q = format!("{}/fresh", t.path().display());
    requests::write_reply(&q, &h.ask(FileRequest::Write { path: &q, attrs: &FileAttrs::default(), content: b"" }).await).unwrap();
    assert_eq!(std::fs::metadata(&q).unwrap().mode() & 0o7777, 0o644);
    // Errors name the cause and leave no temporary file behind.
    let bad = FileAttrs { owner: Some("no-such-user-mp".into()), ..Default::default() };
    let e = requests::write_reply(&q, &h.ask(FileRequest::Write { path: &q, attrs: &bad, content: b"x" }).await).unwrap_err();
    assert!(e.to_string().contains("no such user: no-such-user-mp"), "{e}");
    let r = format!("{}/nodir/x", t.path().display());
    let e =
        requests::write_reply(&r, &h.ask(FileRequest::Write { path: &r, attrs: &FileAttrs::default(), content: b"x" }).await).unwrap_err();
    assert!(e.to_string().contains("cannot create a temporary file"), "{e}");
    let left: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".mailplay"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn digests_match_coreutils_or_say_unavailable() {
    let t = tree();
    let p = format!("{}/file", t.path().display());
    let mut h = start("");
    for alg in ["sha1", "sha256", "md5"] {
        let want = std::process::Command::new(format!("{alg}sum")).arg(&p).output().unwrap();
        let want = String::from_utf8_lossy(&want.stdout).split_whitespace().next().unwrap().to_string();
        assert_eq!(requests::digest_reply(&h.ask(FileRequest::Digest { path: &p, algorithm: alg }).await), DigestReply::Hex(want));
    }
    let missing = format!("{}/missing", t.path().display());
    assert_eq!(requests::digest_reply(&h.ask(FileRequest::Digest { path: &missing, algorithm: "sha1" }).await), DigestReply::None);
    // perl-base without Digest::SHA (a minimal Debian): the caller falls back.
    let mut bare = start("unshift @INC, sub { die qq(hidden\\n) if $_[1] =~ m{^Digest/} };");
    assert_eq!(requests::digest_reply(&bare.ask(FileRequest::Digest { path: &p, algorithm: "sha1" }).await), DigestReply::Unavailable);
    // ... and still answers everything else.
    assert!(bare.ask(FileRequest::Stat { path: &p, follow: false }).await.success());
}

/// A frame beyond the limits (only a broken or hostile sender makes one:
/// `framing::frame` refuses to) ends the helper with a message; it never
/// allocates what a length only announces.
#[tokio::test]
async fn the_helper_refuses_requests_beyond_its_limits() {
    for frame in [(70000u32).to_be_bytes().to_vec(), 0u32.to_be_bytes().to_vec(), [1u32.to_be_bytes(), u32::MAX.to_be_bytes()].concat()] {
        let mut h = start("");
        h.stdin.write_all(&frame).await.unwrap();
        drop(h.stdin);
        let out = h.child.wait_with_output().await.unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("mailplay helper: a request of"), "{err}");
    }
    // An unknown operation is an answer, not the end.
    let mut h = start("");
    let out = h.send(&framing::frame(&[b"bogus"]).unwrap()).await;
    assert_eq!((out.rc, out.stderr_str()), (127, "mailplay helper: unknown request bogus".to_string()));
    assert!(h.ask(FileRequest::Stat { path: "/", follow: false }).await.success());
}

/// What `mkdir -p` + `chmod` and `chown -h`/`chgrp -h`/`chmod` leave, in
/// two like trees: one through the helper, one through the commands the
/// shell path runs (the local connection's defaults).
#[tokio::test]
async fn mkdir_and_attrs_leave_what_the_commands_leave() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let local = LocalHost::new("local");
    let mut h = start("");
    let (native, shell) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for t in [&native, &shell] {
        let d = t.path();
        // A set-group-ID parent: new folders inherit the bit, and chmod
        // with four digits keeps it on a folder (GNU), not on a file.
        std::fs::create_dir(d.join("sgid")).unwrap();
        std::fs::set_permissions(d.join("sgid"), std::fs::Permissions::from_mode(0o2775)).unwrap();
        std::fs::write(d.join("suid"), b"").unwrap();
        std::fs::set_permissions(d.join("suid"), std::fs::Permissions::from_mode(0o4755)).unwrap();
        std::fs::write(d.join("target"), b"").unwrap();
        std::os::unix::fs::symlink("target", d.join("link")).unwrap();
    }
    let nobody = FileAttrs { owner: Some("nobody".into()), group: Some("nogroup".into()), mode: None };
    let chmod = |m| FileAttrs { mode: Some(m), ..Default::default() };
    let steps: Vec<(&str, Option<FileAttrs>, Option<u32>)> = vec![
        ("sgid/a/b/c", None, Some(0o750)),
        ("plain/x", None, None),
        ("sgid", Some(chmod(0o755)), None),
        ("suid", Some(chmod(0o755)), None),
        ("link", Some(nobody.clone()), None),
        ("sgid/a", Some(FileAttrs { owner: Some("65534".into()), mode: Some(0o2700), ..Default::default() }), None),
    ];
    for (path, attrs, mode) in &steps {
        let n = format!("{}/{path}", native.path().display());
        let s = format!("{}/{path}", shell.path().display());
        let (got, want) = match attrs {
            None => (requests::done_reply(&h.ask(FileRequest::MakeDir { path: &n, mode: *mode }).await), local.make_dir(&s, *mode).await),
            Some(a) => (requests::done_reply(&h.ask(FileRequest::SetAttrs { path: &n, attrs: a }).await), local.set_attrs(&s, a).await),
        };
        assert_eq!(got.is_ok(), want.is_ok(), "{path}: {got:?} / {want:?}");
    }
    for p in ["sgid", "sgid/a", "sgid/a/b", "sgid/a/b/c", "plain", "plain/x", "suid", "link", "target"] {
        let meta = |t: &tempfile::TempDir| {
            let m = std::fs::symlink_metadata(t.path().join(p)).unwrap();
            (m.mode(), m.uid(), m.gid())
        };
        assert_eq!(meta(&native), meta(&shell), "{p}");
    }
    // Failures carry the tool's words.
    let file = format!("{}/suid/below", native.path().display());
    let e = requests::done_reply(&h.ask(FileRequest::MakeDir { path: &file, mode: None }).await).unwrap_err();
    assert!(e.to_string().starts_with("mkdir: cannot create directory"), "{e}");
    let bad = FileAttrs { owner: Some("no-such-user-mp".into()), ..Default::default() };
    let e = requests::done_reply(&h.ask(FileRequest::SetAttrs { path: &file, attrs: &bad }).await).unwrap_err();
    assert_eq!(e.to_string(), "chown: invalid user: 'no-such-user-mp'");
    let e = requests::done_reply(&h.ask(FileRequest::SetAttrs { path: &file, attrs: &chmod(0o600) }).await).unwrap_err();
    assert!(e.to_string().starts_with("chmod: cannot access"), "{e}");
}

/// The modules a helper has loaded when its stdin ends, as its END block
/// (added by `prelude`, in the helper's process only) prints them.
const LOADED: &str = "my $helper = $$; END { print STDERR join(' ', 'loaded:', sort keys %INC), \"\\n\" if $$ == $helper }";

async fn loaded_after(h: Helper) -> Vec<String> {
    drop(h.stdin);
    let out = h.child.wait_with_output().await.unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err.lines().find_map(|l| l.strip_prefix("loaded: ")).unwrap_or_else(|| panic!("no module list in {err:?}"));
    line.split(' ').map(str::to_string).collect()
}

/// Each login compiles the helper, so what it loads is host CPU on every
/// run: `warnings`, `IO::Handle` (for fsync), `POSIX` and `IO::Select`
/// (for commands) cost a login more than the rest of the helper and sshd's
/// share together (~75 M instructions, callgrind). A login that probes,
/// reads, writes and runs commands loads only the small modules below
/// (on the architectures whose setsid number the helper knows).
#[tokio::test]
async fn a_login_loads_no_heavy_module() {
    if !cfg!(target_arch = "x86_64") {
        return;
    }
    let t = tree();
    let mut h = start(LOADED);
    let p = format!("{}/file", t.path().display());
    let new = format!("{}/new", t.path().display());
    assert!(h.ask(FileRequest::Stat { path: &p, follow: false }).await.success());
    assert!(h.ask(FileRequest::StatRead { path: &p, limit: 100 }).await.success());
    requests::write_reply(&new, &h.ask(FileRequest::Write { path: &new, attrs: &FileAttrs::default(), content: b"x" }).await).unwrap();
    assert!(h.ask(FileRequest::MakeDir { path: &format!("{}/d/e", t.path().display()), mode: Some(0o750) }).await.success());
    let out = h.send(&framing::encode(&mailplay_modules::host::Command::shell("echo hi; echo err >&2"), &[]).unwrap()).await;
    assert_eq!((out.rc, out.stdout_str(), out.stderr_str()), (0, "hi\n".into(), "err\n".to_string()));
    assert_eq!(std::fs::read(&new).unwrap(), b"x");
    assert_eq!(loaded_after(h).await, ["Exporter.pm", "Fcntl.pm", "XSLoader.pm", "strict.pm"]);
}

/// A command runs in a session of its own (so ending it ends everything
/// it started, and it has no controlling terminal even under sudo's
/// use_pty), with its stdin, stdout and stderr on the helper's pipes;
/// on an architecture the helper has no setsid number for, through POSIX.
#[tokio::test]
async fn commands_run_in_their_own_session_on_every_architecture() {
    // The session id and the pid of the command (the shell) are the same.
    let cmd = mailplay_modules::host::Command::shell("cut -d' ' -f1,6 /proc/$$/stat; cat; echo e >&2").stdin(b"in\n".to_vec());
    for prelude in ["", "our $EXE = '/dev/null';"] {
        let mut h = start(&format!("{prelude} {LOADED}"));
        let out = h.send(&framing::encode(&cmd, &[]).unwrap()).await;
        let stdout = out.stdout_str();
        let lines: Vec<&str> = stdout.lines().collect();
        let ids: Vec<&str> = lines[0].split(' ').collect();
        assert_eq!((out.rc, ids[0], lines[1], out.stderr_str()), (0, ids[1], "in", "e\n".to_string()), "prelude {prelude:?}");
        let posix = loaded_after(h).await.contains(&"POSIX.pm".to_string());
        assert_eq!(posix, !prelude.is_empty() || !cfg!(target_arch = "x86_64"), "prelude {prelude:?}");
    }
}
