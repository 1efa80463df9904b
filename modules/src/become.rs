//! Privilege escalation (`become`): how a command is wrapped to run as
//! another user. Shared by every connection type.
//!
//! The become password goes only to the program that asks for it: `sudo`
//! runs with `-S -p <marker>` (a prompt random per run), `su` prints its own
//! (localized) "Password:" prompt, recognized as Ansible's su plugin does;
//! the wrapped command first prints a success marker on stderr. The
//! connection reads stderr until one of them appears ([`handshake`]): on
//! the prompt it writes the password once, on the success marker the
//! command's own standard input starts. A second prompt, or su's
//! "Authentication failure", means a wrong password. Without a password
//! nothing is ever written before the command runs.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BecomeMethod {
    #[default]
    Sudo,
    Su,
    Runuser,
}

impl BecomeMethod {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sudo" => Some(BecomeMethod::Sudo),
            "su" => Some(BecomeMethod::Su),
            "runuser" => Some(BecomeMethod::Runuser),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BecomeMethod::Sudo => "sudo",
            BecomeMethod::Su => "su",
            BecomeMethod::Runuser => "runuser",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Become {
    pub method: BecomeMethod,
    pub user: String,
    /// For `sudo` without NOPASSWD (`--ask-become-pass`,
    /// `ansible_become_password`); written once, only when sudo prompts.
    pub password: Option<Secret>,
    /// `become_flags`: replaces the method's default flags (sudo: `-H -S -n`).
    pub flags: Option<String>,
    /// `become_exe`: the program to run instead of `sudo`/`su`/`runuser`.
    pub exe: Option<String>,
}

/// A wrapped command line, and what to do on its stderr before the command
/// proper starts (only when a password may be asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapped {
    pub argv: Vec<String>,
    pub exchange: Option<PasswordExchange>,
}

/// The markers of one sudo invocation with a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordExchange {
    /// What sudo prints on stderr when it wants the password (`-p`);
    /// empty for su, whose prompt is matched by [`su_prompt`].
    pub prompt: String,
    /// The become method, for messages ("incorrect su password").
    pub method: BecomeMethod,
    /// The line the wrapped command prints on stderr once it runs as the
    /// become user.
    pub success: String,
    pub password: Secret,
}

/// Random per process: a command's own output cannot guess it, and the
/// prompt does not look like anything a program prints by itself.
fn run_key() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| {
        use rand::Rng;
        let mut rng = rand::rng();
        (0..24).map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.random_range(0..36)])).collect()
    })
}

impl Become {
    pub fn new(method: BecomeMethod, user: impl Into<String>) -> Self {
        Become { method, user: user.into(), ..Default::default() }
    }

    fn split_flags(&self, default: &str) -> Result<Vec<String>, String> {
        let flags = self.flags.as_deref().unwrap_or(default);
        shell_words::split(flags).map_err(|e| format!("cannot parse become_flags '{flags}': {e}"))
    }

    /// Wrap a `sh -c` script so it runs as the become user.
    /// `current_user` is the login user: when it already is the target user
    /// nothing is wrapped (`Ok(None)`), and root uses `runuser`, which needs
    /// no password and no tty whatever `become_method` says (unless
    /// `become_exe` names a program). Errors name what cannot work.
    pub fn wrap(&self, current_user: &str, script: &str) -> Result<Option<Wrapped>, String> {
        if self.user == current_user {
            return Ok(None);
        }
        if self.password.is_some() && self.method == BecomeMethod::Runuser {
            return Err("become_method runuser cannot use a become password (runuser never asks for one): \
                        remove ansible_become_password/-K, or use become_method sudo"
                .into());
        }
        let method = if current_user == "root" && self.exe.is_none() { BecomeMethod::Runuser } else { self.method };
        let exe = self.exe.clone().unwrap_or_else(|| method.name().to_string());
        let sh = |s: &str| vec!["/bin/sh".to_string(), "-c".to_string(), s.to_string()];
        let wrapped = match method {
            BecomeMethod::Runuser => {
                let mut argv = vec![exe];
                argv.extend(self.split_flags("")?);
                argv.extend(["-u".into(), self.user.clone(), "--".into()]);
                argv.extend(sh(script));
                Wrapped { argv, exchange: None }
            }
            BecomeMethod::Su => {
                let mut argv = vec![exe];
                argv.extend(self.split_flags("")?);
                argv.extend(["-s".into(), "/bin/sh".into(), self.user.clone(), "-c".into()]);
                match &self.password {
                    Some(pw) => {
                        let exchange = PasswordExchange {
                            prompt: String::new(),
                            method: BecomeMethod::Su,
                            success: format!("MAILPLAY-BECOME-SUCCESS-{}", run_key()),
                            password: pw.clone(),
                        };
                        argv.push(format!("echo {} >&2; exec /bin/sh -c {}", exchange.success, crate::host::quote(script)));
                        Wrapped { argv, exchange: Some(exchange) }
                    }
                    None => {
                        argv.push(script.into());
                        Wrapped { argv, exchange: None }
                    }
                }
            }
            BecomeMethod::Sudo => {
                let mut flags = self.split_flags("-H -S -n")?;
                let mut argv = vec![exe];
                match &self.password {
                    Some(pw) => {
                        // As Ansible does: a password means no -n, and -S
                        // so sudo reads it from the pipe.
                        flags.retain(|f| f != "-n" && f != "--non-interactive");
                        for f in flags.iter_mut().filter(|f| !f.starts_with("--") && f.starts_with('-')) {
                            *f = format!("-{}", f[1..].replace('n', ""));
                        }
                        flags.retain(|f| f != "-");
                        if !flags.iter().any(|f| f == "-S" || f == "--stdin") {
                            flags.push("-S".into());
                        }
                        let key = run_key();
                        let exchange = PasswordExchange {
                            prompt: format!("[mailplay sudo password, key={key}]"),
                            method: BecomeMethod::Sudo,
                            success: format!("MAILPLAY-BECOME-SUCCESS-{key}"),
                            password: pw.clone(),
                        };
                        argv.extend(flags);
                        argv.extend(["-p".into(), exchange.prompt.clone(), "-u".into(), self.user.clone(), "--".into()]);
                        argv.extend(sh(&format!("echo {} >&2; exec /bin/sh -c {}", exchange.success, crate::host::quote(script))));
                        Wrapped { argv, exchange: Some(exchange) }
                    }
                    None => {
                        // Never wait on a prompt nobody will answer.
                        if !flags.iter().any(|f| f == "-n" || f == "--non-interactive") {
                            flags.push("-n".into());
                        }
                        argv.extend(flags);
                        argv.extend(["-u".into(), self.user.clone(), "--".into()]);
                        argv.extend(sh(script));
                        Wrapped { argv, exchange: None }
                    }
                }
            }
        };
        Ok(Some(wrapped))
    }
}

/// How long sudo may take to either ask for the password or start the
/// command (PAM and NSS lookups; never a human).
pub const HANDSHAKE_LIMIT: Duration = Duration::from_secs(60);

/// Why a become handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("incorrect {0} password (the become password was refused)")]
    IncorrectPassword(&'static str),
    #[error("{0}")]
    Failed(String),
}

/// Run the password exchange on a freshly started wrapped command: read
/// its stderr until the success marker, answering sudo's prompt once.
/// Returns what stderr carried after the marker (the command's own).
/// The caller stops the process on error.
pub async fn handshake<R, W>(ex: &PasswordExchange, user: &str, stderr: &mut R, stdin: &mut W) -> Result<Vec<u8>, HandshakeError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let work = async {
        let mut buf: Vec<u8> = Vec::new();
        let mut sent = false;
        let success = format!("{}\n", ex.success);
        loop {
            let prompt_end = match ex.method {
                BecomeMethod::Su => su_prompt(&buf),
                _ => find(&buf, ex.prompt.as_bytes()).map(|pos| pos + ex.prompt.len()),
            };
            if let Some(end) = prompt_end {
                if sent {
                    return Err(HandshakeError::IncorrectPassword(ex.method.name()));
                }
                buf.drain(..end);
                let mut line = ex.password.expose().as_bytes().to_vec();
                line.push(b'\n');
                let send_err = |e: std::io::Error| HandshakeError::Failed(format!("cannot send the password to {}: {e}", ex.method.name()));
                stdin.write_all(&line).await.map_err(send_err)?;
                stdin.flush().await.map_err(send_err)?;
                sent = true;
                continue;
            }
            if let Some(pos) = find(&buf, success.as_bytes()) {
                return Ok(buf.split_off(pos + success.len()));
            }
            let mut chunk = [0u8; 4096];
            let n = stderr.read(&mut chunk).await.map_err(|e| HandshakeError::Failed(format!("reading sudo's output: {e}")))?;
            if n == 0 {
                let said = String::from_utf8_lossy(&buf).replace(&ex.prompt, "").trim().to_string();
                let said = if said.is_empty() { "no message".to_string() } else { said };
                if sent && (said.contains("incorrect password") || said.contains("Authentication failure")) {
                    return Err(HandshakeError::IncorrectPassword(ex.method.name()));
                }
                return Err(HandshakeError::Failed(format!("{} to {user} failed: {said}", ex.method.name())));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    match tokio::time::timeout(HANDSHAKE_LIMIT, work).await {
        Ok(r) => r,
        Err(_) => Err(HandshakeError::Failed(format!(
            "{} to {user} neither asked for the password nor started the command within {} s",
            ex.method.name(),
            HANDSHAKE_LIMIT.as_secs()
        ))),
    }
}

/// su's password prompt in the languages Ansible's su plugin knows
/// (`Password:`, `Passwort:`, `Mot de passe :` ...): its end in `buf`.
pub fn su_prompt(buf: &[u8]) -> Option<usize> {
    static RE: OnceLock<regex::bytes::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        let prompts = [
            "Password",
            "암호",
            "パスワード",
            "Adgangskode",
            "Contraseña",
            "Contrasenya",
            "Hasło",
            "Heslo",
            "Jelszó",
            "Lösenord",
            "Mật khẩu",
            "Mot de passe",
            "Parola",
            "Parool",
            "Pasahitza",
            "Passord",
            "Passwort",
            "Salasana",
            "Sandi",
            "Senha",
            "Wachtwoord",
            "ססמה",
            "Лозинка",
            "Парола",
            "Пароль",
            "गुप्तशब्द",
            "शब्दकूट",
            "సంకేతపదము",
            "හස්පදය",
            "密码",
            "密碼",
            "口令",
        ];
        regex::bytes::Regex::new(&format!(r"(?i)(\w+'s )?({}) ?(:|：) ?", prompts.join("|"))).expect("valid prompt pattern")
    });
    re.find(buf).map(|m| m.end())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_uses_runuser_and_same_user_is_not_wrapped() {
        let b = Become::new(BecomeMethod::Sudo, "postgres");
        assert_eq!(b.wrap("root", "id").unwrap().unwrap().argv[0], "runuser");
        assert_eq!(b.wrap("alice", "id").unwrap().unwrap().argv[..4], ["sudo", "-H", "-S", "-n"]);
        assert!(Become { user: "root".into(), ..b }.wrap("root", "id").unwrap().is_none());
    }

    #[test]
    fn a_password_goes_to_sudo_behind_a_random_prompt_never_in_argv() {
        let b = Become { password: Some(Secret::new("hunter22")), ..Become::new(BecomeMethod::Sudo, "postgres") };
        let w = b.wrap("alice", "id").unwrap().unwrap();
        let ex = w.exchange.clone().unwrap();
        assert!(!w.argv.iter().any(|a| a.contains("hunter22")), "{:?}", w.argv);
        assert!(!w.argv.iter().any(|a| a == "-n"), "{:?}", w.argv);
        assert!(w.argv.contains(&"-S".to_string()) && w.argv.contains(&ex.prompt), "{:?}", w.argv);
        assert!(ex.prompt.len() > 30 && ex.success.contains(run_key()));
    }

    #[test]
    fn flags_and_exe_replace_the_defaults_and_unusable_passwords_are_refused() {
        let b = Become { flags: Some("-E -n".into()), exe: Some("/usr/local/bin/sudo".into()), ..Become::new(BecomeMethod::Sudo, "www") };
        assert_eq!(b.wrap("alice", "id").unwrap().unwrap().argv[..5], ["/usr/local/bin/sudo", "-E", "-n", "-u", "www"]);
        let pw = Some(Secret::new("pw"));
        let r = Become { password: pw.clone(), ..Become::new(BecomeMethod::Runuser, "www") }.wrap("root", "id");
        assert!(r.unwrap_err().contains("runuser cannot use a become password"));
        let w = Become { password: pw, ..Become::new(BecomeMethod::Su, "www") }.wrap("alice", "id").unwrap().unwrap();
        assert_eq!(w.exchange.unwrap().method, BecomeMethod::Su);
        assert!(su_prompt(b"Password: ").is_some() && su_prompt(b"Mot de passe : ").is_some() && su_prompt(b"hello").is_none());
    }

    #[tokio::test]
    async fn the_handshake_answers_one_prompt_and_a_second_one_is_a_wrong_password() {
        let ex = PasswordExchange { prompt: "[P]".into(), method: BecomeMethod::Sudo, success: "OK-1".into(), password: Secret::new("pw") };
        let mut sent = Vec::new();
        let mut err: &[u8] = b"[P]OK-1\nreal stderr";
        let rest = handshake(&ex, "u", &mut err, &mut sent).await.unwrap();
        assert_eq!((sent.as_slice(), rest.as_slice()), (&b"pw\n"[..], &b"real stderr"[..]));
        // No prompt (NOPASSWD or cached): nothing is written.
        let mut sent = Vec::new();
        let mut err: &[u8] = b"OK-1\n";
        handshake(&ex, "u", &mut err, &mut sent).await.unwrap();
        assert!(sent.is_empty());
        let mut err: &[u8] = b"[P]Sorry, try again.\n[P]";
        let e = handshake(&ex, "u", &mut err, &mut Vec::new()).await.unwrap_err();
        assert!(e.to_string().contains("incorrect sudo password"), "{e}");
    }
}
