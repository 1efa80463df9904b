//! The `ssh` connection: one OpenSSH master connection per host (the
//! `openssh` crate, native multiplexing, so ~/.ssh/config, the agent,
//! ProxyJump and known_hosts apply), and a few long-lived remote helpers
//! (helper.pl) per become-user that run framed commands: a task costs one
//! round trip, not a new channel and process.

use std::sync::Arc;
use std::time::Duration;

use mailplay_modules::become_::{handshake, Become, PasswordExchange};
use mailplay_modules::host::{quote, Command, CommandOutput, HostError};
use openssh::{KnownHosts, Session, SessionBuilder, Stdio};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;

use super::framing;
use super::options::{HostKeyPolicy, SshTarget};
pub use super::ssh_host::SshHost;

/// The helper script: its file operations, then its request loop.
pub(super) const HELPER: &str = concat!(include_str!("helper_files.pl"), include_str!("helper.pl"));
/// How perl runs it: `-w` gives the warnings `use warnings` would, without
/// compiling warnings.pm on every login (helper_files.pl).
pub(super) const PERL_FLAGS: &str = "-w";

/// Channels one connection may hold at once: sshd's default MaxSessions is
/// 10, and the 11th channel fails with a misleading error.
pub const MAX_CHANNELS: usize = 8;

struct Helper {
    child: openssh::Child<Arc<Session>>,
    stdin: openssh::ChildStdin,
    stdout: openssh::ChildStdout,
    /// The end of what the helper (or sudo before it) wrote on stderr, for
    /// the message when it stops.
    stderr_tail: Arc<std::sync::Mutex<Vec<u8>>>,
    /// Reads stderr into `stderr_tail` until the helper ends.
    stderr_reader: tokio::task::JoinHandle<()>,
}

struct Slot {
    key: String,
    helper: Arc<Mutex<Option<Helper>>>,
}

pub struct SshConnection {
    name: String,
    session: Arc<Session>,
    login_user: String,
    /// The longest a single request may take (`mailplay_request_timeout`).
    request_limit: Duration,
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
        // A host that stops answering (a frozen machine, a dead link) is
        // noticed by the master within about a minute unless the user's
        // own ServerAlive* options (first, so they win) say otherwise.
        cfg.push_str("  ServerAliveInterval 15\n  ServerAliveCountMax 3\n");
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
        b.config_file(&cfg_path).connect_timeout(t.timeout).control_directory(dir.path());
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
            request_limit: t.request_timeout,
            slots: Mutex::new(Vec::new()),
            _config: dir,
        };
        let whoami = framing::frame(&[b"whoami"]).expect("a small frame");
        let who = conn.request("", None, &whoami).await?;
        conn.login_user = who.stdout_str().trim().to_string();
        Ok(Arc::new(conn))
    }

    /// A `Host` for one task: this connection, as `become_`, with `env`.
    pub fn host(self: &Arc<Self>, become_: Option<Become>, env: Vec<(String, String)>) -> SshHost {
        SshHost::new(self.clone(), become_, env)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn login_user(&self) -> &str {
        &self.login_user
    }

    /// The remote command line that starts a helper, as `become_` if set,
    /// and the password exchange sudo needs, if any.
    fn helper_command(&self, become_: Option<&Become>) -> Result<(String, Option<PasswordExchange>), HostError> {
        let script = format!("exec perl {PERL_FLAGS} -e {}", quote(HELPER));
        let wrapped = match become_ {
            Some(b) => b.wrap(&self.login_user, &script).map_err(|e| HostError::Io(format!("become {} on {}: {e}", b.user, self.name)))?,
            None => None,
        };
        Ok(match wrapped {
            Some(w) => (format!("exec {}", shell_words::join(&w.argv)), w.exchange),
            None => (script, None),
        })
    }

    async fn spawn_helper(&self, become_: Option<&Become>) -> Result<Helper, HostError> {
        let (command, exchange) = self.helper_command(become_)?;
        let mut cmd = self.session.clone().arc_raw_command(command);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().await.map_err(|e| unreachable(&self.name, ssh_error(&e)))?;
        let mut stdin = child.stdin().take().expect("stdin is piped");
        let stdout = child.stdout().take().expect("stdout is piped");
        let mut stderr = child.stderr().take().expect("stderr is piped");
        let mut first = Vec::new();
        if let (Some(ex), Some(b)) = (&exchange, become_) {
            // sudo reads the password only if it asks; it never travels in
            // argv, and the helper's frames start only once it runs.
            match handshake(ex, &b.user, &mut stderr, &mut stdin).await {
                Ok(rest) => first = rest,
                Err(e) => {
                    drop(stdin);
                    let _ = tokio::time::timeout(Duration::from_secs(5), child.disconnect()).await;
                    return Err(HostError::Io(format!("become {} on {}: {e}", b.user, self.name)));
                }
            }
        }
        let stderr_tail = Arc::new(std::sync::Mutex::new(first));
        let tail = stderr_tail.clone();
        let stderr_reader = tokio::spawn(async move {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut chunk).await {
                let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
                t.extend_from_slice(&chunk[..n]);
                let excess = t.len().saturating_sub(4096);
                t.drain(..excess);
            }
        });
        Ok(Helper { child, stdin, stdout, stderr_tail, stderr_reader })
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

    /// Runs `cmd` through the helper for `key`.
    pub(super) async fn run(
        &self,
        key: &str,
        become_: Option<&Become>,
        cmd: &Command,
        env: &[(String, String)],
    ) -> Result<CommandOutput, HostError> {
        let frame = framing::encode(cmd, env).map_err(|e| HostError::Io(format!("{}: {e}", self.name)))?;
        self.request(key, become_, &frame).await
    }

    /// Sends one request frame to the helper for `key` and reads its reply.
    pub(super) async fn request(&self, key: &str, become_: Option<&Become>, frame: &[u8]) -> Result<CommandOutput, HostError> {
        let mut guard = self.acquire(key, become_).await?;
        if guard.is_none() {
            *guard = Some(self.spawn_helper(become_).await?);
        }
        // Until the reply is read, the helper is in the middle of a request:
        // if this future is dropped (a task timeout, an abandoned run) the
        // helper is discarded, and its end of stdin closing makes it kill
        // the command's process group on the host.
        let mut in_flight = InFlight { guard, done: false };
        let helper = in_flight.guard.as_mut().expect("helper present");
        let limit = self.request_limit;
        let result = tokio::time::timeout(limit, async {
            helper.stdin.write_all(frame).await?;
            helper.stdin.flush().await?;
            framing::decode(&mut helper.stdout).await
        })
        .await;
        match result {
            Ok(Ok(out)) => {
                in_flight.done = true;
                Ok(out)
            }
            Err(_) => Err(HostError::Io(format!(
                "{} did not answer within {} s (mailplay_request_timeout); the command was stopped on the host",
                self.name,
                limit.as_secs()
            ))),
            Ok(Err(e)) => {
                // The helper or the connection is gone: forget the helper so
                // a later task starts a new one, and tell why.
                let dead = in_flight.guard.take();
                let alive = tokio::time::timeout(Duration::from_secs(10), self.session.check()).await.map(|r| r.is_ok()).unwrap_or(false);
                let mut said = String::new();
                if let Some(h) = dead {
                    let mut stdout = h.stdout;
                    let mut rest = Vec::new();
                    let _ = tokio::time::timeout(Duration::from_millis(200), stdout.read_to_end(&mut rest)).await;
                    // What sudo or perl said before the helper ended.
                    let _ = tokio::time::timeout(Duration::from_secs(1), h.stderr_reader).await;
                    said = String::from_utf8_lossy(&h.stderr_tail.lock().unwrap_or_else(|e| e.into_inner())).trim().to_string();
                }
                if alive {
                    let who = become_.map(|b| format!(" as {} (become_method {})", b.user, b.method.name())).unwrap_or_default();
                    let said = if said.is_empty() { String::new() } else { format!(": {said}") };
                    Err(HostError::Io(format!("the remote helper on {} stopped{who}: {e}{said}", self.name)))
                } else {
                    Err(HostError::Unreachable(format!(
                        "host {} stopped responding: the ssh connection was lost ({e}; ServerAliveInterval/ServerAliveCountMax decide how soon a silent host counts as gone)",
                        self.name
                    )))
                }
            }
        }
    }

    /// End the master connection now, from synchronous code (a second
    /// Ctrl-C): every channel closes, so each helper on the host sees its
    /// stdin end and stops its command's process group.
    pub fn abort(&self) {
        let child = std::process::Command::new("ssh")
            .arg("-S")
            .arg(self.session.control_socket())
            .args(["-O", "exit", "mailplay-abort"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        // Bounded: the run is being abandoned, it must not wait here.
        if let Ok(mut child) = child {
            for _ in 0..100 {
                if !matches!(child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
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

/// A request on its way: unless marked done, dropping it discards the
/// helper (see `run`).
struct InFlight {
    guard: tokio::sync::OwnedMutexGuard<Option<Helper>>,
    done: bool,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.done {
            if let Some(h) = self.guard.take() {
                // Closing stdin is what the helper watches for.
                drop(h.stdin);
                drop(h.stdout);
                drop(h.child);
            }
        }
    }
}
