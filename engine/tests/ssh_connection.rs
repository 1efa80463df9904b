//! The SSH connection against a real sshd on loopback: framed commands over
//! one master connection, binary-safe large transfers, the channel cap,
//! become, unreachable hosts with ssh's reason, and atomic writes when the
//! connection dies mid-transfer.

mod common;

#[path = "common/sshd.rs"]
mod sshd;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mailplay::connection::{HostKeyPolicy, SshConnection, SshTarget};
use mailplay_modules::become_::{Become, BecomeMethod};
use mailplay_modules::host::{Command, FileAttrs, Host, HostError};
use sshd::Sshd;

fn target(s: &Sshd) -> SshTarget {
    SshTarget {
        host: "127.0.0.1".into(),
        port: Some(s.port),
        user: Some("root".into()),
        private_key: Some(s.path("client_key")),
        options: vec![("UserKnownHostsFile".into(), s.path("known_hosts").display().to_string())],
        config_file: None,
        timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(mailplay::connection::options::DEFAULT_REQUEST_TIMEOUT),
        policy: HostKeyPolicy::Strict,
    }
}

async fn connect(s: &Sshd) -> Arc<SshConnection> {
    SshConnection::connect("test", &target(s)).await.unwrap_or_else(|e| panic!("{e}\nsshd log:\n{}", s.log()))
}

#[tokio::test]
async fn commands_keep_stdout_stderr_and_exit_codes_apart() {
    let s = Sshd::start();
    let c = connect(&s).await;
    let h = c.host(None, vec![("TASK_ENV".into(), "yes".into())]);
    let out = h.exec(&Command::shell("printf 'out %s' \"$TASK_ENV\"; cat; echo err >&2; exit 7").stdin(b" in".to_vec())).await.unwrap();
    assert_eq!((out.rc, out.stdout_str(), out.stderr_str()), (7, "out yes in".to_string(), "err\n".to_string()));
    let out = h.exec(&Command::argv(["printf", "%s|", "a b", "it's"]).cwd("/tmp")).await.unwrap();
    assert_eq!(out.stdout_str(), "a b|it's|");
    c.close().await;
}

#[tokio::test]
async fn fifty_megabytes_round_trip_binary_safe() {
    let s = Sshd::start();
    let c = connect(&s).await;
    let h = c.host(None, vec![]);
    let data: Vec<u8> = (0..50 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let path = s.path("big.bin").display().to_string();
    h.write_file(&path, &data, &FileAttrs { mode: Some(0o600), ..Default::default() }).await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), data);
    assert_eq!(h.read_file(&path).await.unwrap().unwrap().len(), data.len());
    assert_eq!(h.stat(&path, true).await.unwrap().unwrap().mode, 0o600);
}

#[tokio::test]
async fn many_commands_share_one_connection_and_helper() {
    let s = Sshd::start();
    let c = connect(&s).await;
    let h = c.host(None, vec![]);
    let start = Instant::now();
    for i in 0..200 {
        let out = h.exec(&Command::argv(["echo", &i.to_string()])).await.unwrap();
        assert_eq!(out.stdout_str().trim(), i.to_string());
    }
    let per = start.elapsed() / 200;
    println!("sequential command latency over one helper: {per:?}");
    let accepted = s.log().matches("Accepted publickey").count();
    assert_eq!(accepted, 1, "one SSH connection for everything:\n{}", s.log());
}

#[tokio::test]
async fn sixty_concurrent_commands_stay_under_max_sessions() {
    let s = Sshd::start();
    let c = connect(&s).await;
    let jobs = (0..60).map(|i| {
        let h = c.host(None, vec![]);
        async move { h.exec(&Command::shell(format!("sleep 0.05; echo {i}"))).await }
    });
    let results = futures::future::join_all(jobs).await;
    for (i, r) in results.into_iter().enumerate() {
        let out = r.unwrap_or_else(|e| panic!("command {i}: {e}"));
        assert_eq!(out.stdout_str().trim(), i.to_string());
    }
    assert!(!s.log().contains("no more sessions"), "{}", s.log());
}

#[tokio::test]
async fn become_user_gets_its_own_helper() {
    let s = Sshd::start();
    let c = connect(&s).await;
    let b = Become::new(BecomeMethod::Sudo, "nobody");
    let out = c.host(Some(b), vec![]).exec(&Command::argv(["id", "-un"])).await.unwrap();
    assert_eq!(out.stdout_str().trim(), "nobody");
    let out = c.host(None, vec![]).exec(&Command::argv(["id", "-un"])).await.unwrap();
    assert_eq!(out.stdout_str().trim(), "root");
}

fn unreachable_reason(r: Result<Arc<SshConnection>, HostError>) -> String {
    match r {
        Err(HostError::Unreachable(m)) => m,
        Err(e) => panic!("expected unreachable, got {e}"),
        Ok(_) => panic!("expected unreachable, connected"),
    }
}

#[tokio::test]
async fn unreachable_hosts_say_why() {
    let s = Sshd::start();
    // A known_hosts entry with another key: a changed host key.
    let other = tempfile::tempdir().unwrap();
    let kf = other.path().join("k");
    std::process::Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&kf).status().unwrap();
    let wrong_known = other.path().join("known_hosts");
    std::fs::write(&wrong_known, format!("[127.0.0.1]:{} {}", s.port, std::fs::read_to_string(kf.with_extension("pub")).unwrap())).unwrap();
    let mut t = target(&s);
    t.options = vec![("UserKnownHostsFile".into(), wrong_known.display().to_string())];
    let m = unreachable_reason(SshConnection::connect("badkey", &t).await);
    assert!(m.contains("Host key verification failed") || m.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"), "{m}");

    // A client key the server does not accept.
    let mut t = target(&s);
    t.private_key = Some(kf.clone());
    let m = unreachable_reason(SshConnection::connect("refused", &t).await);
    assert!(m.contains("Permission denied"), "{m}");

    // Nothing listening.
    let mut t = target(&s);
    t.port = Some(std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
    let m = unreachable_reason(SshConnection::connect("down", &t).await);
    assert!(m.contains("Connection refused"), "{m}");
}

#[tokio::test]
async fn a_dropped_connection_never_leaves_a_half_written_file() {
    let s = Sshd::start();
    let c = connect(&s).await;
    let path = s.path("precious.conf").display().to_string();
    std::fs::write(&path, "old content\n").unwrap();
    let big = vec![b'x'; 300 * 1024 * 1024];
    let h = c.host(None, vec![]);
    let writer = tokio::spawn(async move { h.write_file(&path, &big, &FileAttrs::default()).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Kill the sshd processes serving the connection (not the listener).
    let listener = s.child.id();
    let out = std::process::Command::new("pgrep").args(["-P", &listener.to_string()]).output().unwrap();
    for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        std::process::Command::new("kill").args(["-9", pid]).status().unwrap();
    }
    let r = tokio::time::timeout(Duration::from_secs(30), writer).await.expect("the write must fail, not hang").unwrap();
    assert!(r.is_err(), "the write cannot have succeeded");
    assert_eq!(std::fs::read_to_string(s.path("precious.conf")).unwrap(), "old content\n");
    let leftovers: Vec<_> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".mailplay"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}
