//! The `ssh` connection: one OpenSSH master connection per host (the
//! `openssh` crate, native multiplexing, so ~/.ssh/config, the agent,
//! ProxyJump and known_hosts apply), and a few long-lived remote helpers
//! (helper.pl) per become-user that run framed commands: a task costs one
//! round trip, not a new channel and process.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mailplay_modules::become_::Become;
use mailplay_modules::host::{quote, Command, CommandOutput, Host, HostError};
use openssh::{KnownHosts, Session, SessionBuilder, Stdio};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;

use super::framing;
use super::options::{HostKeyPolicy, SshTarget};

const HELPER: &str = include_str!("helper.pl");

/// Channels one connection may hold at once: sshd's default MaxSessions is
/// 10, and the 11th channel fails with a misleading error.
pub const MAX_CHANNELS: usize = 8;

struct Helper {
    child: openssh::Child<Arc<Session>>,
    stdin: openssh::ChildStdin,
    stdout: openssh::ChildStdout,
}

struct Slot {
    key: String,
    helper: Arc<Mutex<Option<Helper>>>,
}

pub struct SshConnection {
    name: String,
    session: Arc<Session>,
    login_user: String,
    slots: Mutex<Vec<Slot>>,
    /// Keeps the generated ssh_config alive for the session's lifetime.
    _config: tempfile::TempDir,
}

fn unreachable(name: &str, what: impl std::fmt::Display) -> HostError {
    HostError::Unreachable(format!("Failed to connect to the host via ssh: {what} ({name})"))
}

/// ssh's own message, as Ansible shows it ("Permission denied (publickey)").
fn ssh_error(e: &openssh::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        msg.push_str(&format!(": {inner}"));
        src = inner.source();
    }
    msg
}

impl SshConnection {
    pub async fn connect(name: &str, t: &SshTarget) -> Result<Arc<SshConnection>, HostError> {
        // Our options first (ssh takes the first value it sees), then the
        // user's own config so their Host blocks still apply.
        let dir = tempfile::Builder::new().prefix("mailplay-ssh.").tempdir().map_err(|e| HostError::Io(e.to_string()))?;
        let mut cfg = String::from("Host *\n");
        for (k, v) in &t.options {
            cfg.push_str(&format!("  {k} {v}\n"));
        }
        if !t.options.iter().any(|(k, _)| k.eq_ignore_ascii_case("KexAlgorithms")) {
            // curve25519 halves the connection time against the default (lab-notes).
            cfg.push_str("  KexAlgorithms ^curve25519-sha256\n");
        }
        cfg.push_str("  BatchMode yes\n");
        let user_cfg = t
            .config_file
            .clone()
            .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".ssh/config")).filter(|p| p.exists()));
        if let Some(u) = user_cfg {
            cfg.push_str(&format!("Include {}\n", u.display()));
        }
        let cfg_path = dir.path().join("ssh_config");
        std::fs::write(&cfg_path, cfg).map_err(|e| HostError::Io(e.to_string()))?;

        let mut b = SessionBuilder::default();
        b.config_file(&cfg_path).connect_timeout(t.timeout).server_alive_interval(Duration::from_secs(15)).control_directory(dir.path());
        b.known_hosts_check(match t.policy {
            HostKeyPolicy::Strict => KnownHosts::Strict,
            HostKeyPolicy::AcceptNew => KnownHosts::Add,
        });
        if let Some(u) = &t.user {
            b.user(u.clone());
        }
        if let Some(p) = t.port {
            b.port(p);
        }
        if let Some(k) = &t.private_key {
            b.keyfile(k);
        }
        let session = b.connect_mux(&t.host).await.map_err(|e| unreachable(name, ssh_error(&e)))?;
        let mut conn = SshConnection {
            name: name.to_string(),
            session: Arc::new(session),
            login_user: String::new(),
            slots: Mutex::new(Vec::new()),
            _config: dir,
        };
        let who = conn.run("", None, &Command::argv(["id", "-un"]), &[]).await?;
        conn.login_user = who.stdout_str().trim().to_string();
        Ok(Arc::new(conn))
    }

    /// A `Host` for one task: this connection, as `become_`, with `env`.
    pub fn host(self: &Arc<Self>, become_: Option<Become>, env: Vec<(String, String)>) -> SshHost {
        SshHost { conn: self.clone(), become_, env }
    }

    pub fn login_user(&self) -> &str {
        &self.login_user
    }

    /// The remote command line that starts a helper, as `become_` if set.
    fn helper_command(&self, become_: Option<&Become>) -> String {
        let script = format!("exec perl -e {}", quote(HELPER));
        match become_.and_then(|b| b.wrap(&self.login_user, &script)) {
            Some(argv) => format!("exec {}", shell_words::join(&argv)),
            None => script,
        }
    }

    async fn spawn_helper(&self, become_: Option<&Become>) -> Result<Helper, HostError> {
        let mut cmd = self.session.clone().arc_raw_command(self.helper_command(become_));
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = cmd.spawn().await.map_err(|e| unreachable(&self.name, ssh_error(&e)))?;
        let mut stdin = child.stdin().take().expect("stdin is piped");
        let stdout = child.stdout().take().expect("stdout is piped");
        if let Some(pw) = become_.and_then(|b| b.password.as_ref()) {
            // sudo -S reads the password first; it never travels in argv.
            stdin.write_all(format!("{}\n", pw.expose()).as_bytes()).await.map_err(|e| HostError::Io(e.to_string()))?;
        }
        Ok(Helper { child, stdin, stdout })
    }

    /// A helper for `key`: an idle one, a new one while under the channel
    /// cap, or the first to become free.
    async fn acquire(&self, key: &str, become_: Option<&Become>) -> Result<tokio::sync::OwnedMutexGuard<Option<Helper>>, HostError> {
        loop {
            let mut slots = self.slots.lock().await;
            for s in slots.iter().filter(|s| s.key == key) {
                if let Ok(g) = s.helper.clone().try_lock_owned() {
                    return Ok(g);
                }
            }
            if slots.len() < MAX_CHANNELS {
                let slot = Arc::new(Mutex::new(None));
                let guard = slot.clone().try_lock_owned().expect("new slot is free");
                slots.push(Slot { key: key.to_string(), helper: slot });
                drop(slots);
                return Ok(guard);
            }
            // At the cap: retire an idle helper of another user, if any.
            if let Some(pos) = slots.iter().position(|s| s.key != key && s.helper.try_lock().is_ok()) {
                let old = slots.remove(pos);
                if let Ok(mut g) = old.helper.try_lock() {
                    if let Some(h) = g.take() {
                        drop(h.stdin);
                        let _ = h.child.disconnect().await;
                    }
                }
                continue;
            }
            drop(slots);
            let _ = become_;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    async fn run(&self, key: &str, become_: Option<&Become>, cmd: &Command, env: &[(String, String)]) -> Result<CommandOutput, HostError> {
        let mut guard = self.acquire(key, become_).await?;
        if guard.is_none() {
            *guard = Some(self.spawn_helper(become_).await?);
        }
        let helper = guard.as_mut().expect("helper present");
        let frame = framing::encode(cmd, env);
        let result = async {
            helper.stdin.write_all(&frame).await?;
            helper.stdin.flush().await?;
            framing::decode(&mut helper.stdout).await
        }
        .await;
        match result {
            Ok(out) => Ok(out),
            Err(e) => {
                // The helper or the connection is gone: forget the helper so
                // a later task starts a new one, and tell why.
                let dead = guard.take();
                let alive = self.session.check().await.is_ok();
                if let Some(h) = dead {
                    let mut stdout = h.stdout;
                    let mut rest = Vec::new();
                    let _ = tokio::time::timeout(Duration::from_millis(200), stdout.read_to_end(&mut rest)).await;
                }
                if alive {
                    let who = become_
                        .map(|b| format!(" as {} (become_method {:?}; sudo may need a password: -K)", b.user, b.method))
                        .unwrap_or_default();
                    Err(HostError::Io(format!("the remote helper on {} stopped{who}: {e}", self.name)))
                } else {
                    Err(unreachable(&self.name, format!("connection lost: {e}")))
                }
            }
        }
    }

    /// End every helper and the master connection.
    pub async fn close(&self) {
        let mut slots = self.slots.lock().await;
        for s in slots.drain(..) {
            if let Some(h) = s.helper.lock().await.take() {
                drop(h.stdin);
                let _ = h.child.disconnect().await;
            }
        }
        let _ = self.session.check().await;
    }
}

pub struct SshHost {
    conn: Arc<SshConnection>,
    become_: Option<Become>,
    env: Vec<(String, String)>,
}

#[async_trait]
impl Host for SshHost {
    fn name(&self) -> &str {
        &self.conn.name
    }

    async fn exec(&self, cmd: &Command) -> Result<CommandOutput, HostError> {
        let active = self.become_.as_ref().filter(|b| b.user != self.conn.login_user);
        let key = active.map(|b| format!("{}:{:?}", b.user, b.method)).unwrap_or_default();
        self.conn.run(&key, active, cmd, &self.env).await
    }
}
