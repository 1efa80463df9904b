//! Talking IMAP and ManageSieve to Cyrus from the target itself.
//!
//! A session is one `openssl s_client` run on the host (STARTTLS or
//! implicit TLS to 127.0.0.1 by default): the whole conversation —
//! authentication, the commands, LOGOUT — goes in on standard input
//! (pipelined, which both protocols allow), and the server's replies come
//! back on standard output. One round trip per probe or apply, nothing on
//! the command line but the address, and the password only inside the
//! base64 SASL PLAIN response on stdin.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Deserialize;

use crate::host::{quote, Command, Host};
use crate::module::ModuleError;
use crate::secret::Secret;

/// How to reach the server; flattened into the Cyrus modules' args.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerArgs {
    /// Address as seen from the target host.
    #[serde(default = "loopback", deserialize_with = "crate::args::loose_string")]
    pub server: String,
    #[serde(default)]
    pub port: Option<u16>,
    /// `starttls` (default) or `tls` (implicit, e.g. 993).
    #[serde(default = "starttls", deserialize_with = "crate::args::loose_string")]
    pub tls: String,
    #[serde(default = "cyrus", deserialize_with = "crate::args::loose_string")]
    pub admin_user: String,
    pub admin_password: Secret,
}

fn loopback() -> String {
    "127.0.0.1".into()
}
fn starttls() -> String {
    "starttls".into()
}
fn cyrus() -> String {
    "cyrus".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Imap,
    Sieve,
}

impl ServerArgs {
    pub fn validate(&self) -> Result<(), String> {
        if !matches!(self.tls.as_str(), "starttls" | "tls") {
            return Err(format!("tls must be starttls or tls, got: {}", self.tls));
        }
        Ok(())
    }

    fn port(&self, proto: Protocol) -> u16 {
        self.port.unwrap_or(match (proto, self.tls.as_str()) {
            (Protocol::Imap, "tls") => 993,
            (Protocol::Imap, _) => 143,
            (Protocol::Sieve, _) => 4190,
        })
    }

    /// SASL PLAIN initial response: authorize as `authz` (or the admin itself).
    pub fn plain_response(&self, authz: Option<&str>) -> String {
        let raw = format!("{}\0{}\0{}", authz.unwrap_or(""), self.admin_user, self.admin_password.expose());
        B64.encode(raw.as_bytes())
    }
}

/// The shell command that carries a session (no secrets in it).
///
/// Servers must not receive commands pipelined behind AUTHENTICATE (Cyrus
/// re-reads its buffer when the SASL layer starts and answers `BAD Already
/// authenticated`), so the first input line (the authentication) is sent
/// alone and the rest only once its reply has arrived; bash's coproc keeps
/// both directions of `openssl s_client` open for that. Its descriptors are
/// duplicated at once: bash forgets a coproc's as soon as it exits, which
/// a quick server reply to LOGOUT can make happen before the last read.
fn client_command(s: &ServerArgs, proto: Protocol) -> String {
    let (starttls, auth_replied) = match proto {
        Protocol::Imap => (" -starttls imap", "case \"$line\" in 'a '*) break;; esac"),
        // After STARTTLS the server repeats its capabilities, ending in OK;
        // the next OK/NO answers AUTHENTICATE.
        Protocol::Sieve => (" -starttls sieve", "case \"$line\" in OK*|NO*|BYE*) n=$((n+1));; esac; [ $n -ge 2 ] && break"),
    };
    let starttls = if s.tls == "tls" { "" } else { starttls };
    let script = format!(
        "coproc S {{ exec timeout 60 openssl s_client -quiet -ign_eof -connect {addr}{starttls} 2>/dev/null; }}\n\
         exec 3<&\"${{S[0]}}\" 4>&\"${{S[1]}}\"\n\
         IFS= read -r auth; printf '%s\\n' \"$auth\" >&4\n\
         n=0; while IFS= read -r line <&3; do printf '%s\\n' \"$line\"; {auth_replied}; done\n\
         cat >&4\n\
         cat <&3\n",
        addr = quote(&format!("{}:{}", s.server, s.port(proto))),
    );
    format!(
        "command -v openssl >/dev/null || {{ echo 'openssl is not installed on the host' >&2; exit 127; }}; exec bash -c {}",
        quote(&script)
    )
}

/// Run a conversation; returns the server's output (CRLF kept as sent).
/// `patient`: a server restarted by a handler just before may take a moment
/// to listen again, so retry a silent connection for up to ten seconds (not
/// in check mode, where no restart really happened).
pub async fn converse(host: &dyn Host, s: &ServerArgs, proto: Protocol, input: String, patient: bool) -> Result<String, ModuleError> {
    let cmd = Command::shell(client_command(s, proto)).stdin(input.into_bytes());
    let mut out = host.exec(&cmd).await?;
    for _ in 0..if patient { 20 } else { 0 } {
        if !out.stdout.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        out = host.exec(&cmd).await?;
    }
    let text = out.stdout_str();
    if text.trim().is_empty() {
        let err = out.stderr_str();
        let reason = err.lines().find(|l| l.contains("rror") || l.contains("refused") || l.contains("connect:")).unwrap_or(err.trim());
        return Err(ModuleError::failed(format!(
            "cannot talk to {}:{} ({}): {}",
            s.server,
            s.port(proto),
            if proto == Protocol::Imap { "IMAP" } else { "ManageSieve" },
            reason.trim()
        )));
    }
    Ok(text)
}

/// One token of an IMAP response line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Atom(String),
    /// Quoted string or literal.
    Str(String),
    Nil,
    List(Vec<Token>),
}

impl Token {
    pub fn text(&self) -> Option<&str> {
        match self {
            Token::Atom(s) | Token::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// A response: untagged (`* ...`), tagged (`a1 OK ...`) or a bare reply
/// line (ManageSieve's `OK`, `NO`, `"name" ACTIVE`, literals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// `*` for untagged, the tag for tagged, empty for ManageSieve lines.
    pub tag: String,
    pub tokens: Vec<Token>,
    /// The rest of the line after the status word, for messages.
    pub text: String,
}

/// Split a server's output into responses, reading literals (`{n}`) whole.
pub fn parse_responses(out: &str, imap: bool) -> Vec<Response> {
    let bytes = out.as_bytes();
    let mut pos = 0;
    let mut out_list = Vec::new();
    while pos < bytes.len() {
        let start = pos;
        let (tokens, end) = parse_tokens(bytes, pos, 0);
        pos = end;
        let line = String::from_utf8_lossy(&bytes[start..pos.min(bytes.len())]).trim_end().to_string();
        if tokens.is_empty() {
            continue;
        }
        let (tag, rest) = if imap { (tokens[0].text().unwrap_or("").to_string(), tokens[1..].to_vec()) } else { (String::new(), tokens) };
        // IMAP: the line after the tag ("NO [NONEXISTENT] ..."); ManageSieve: the whole line.
        let text = if imap { line.split_once(' ').map(|(_, r)| r).unwrap_or("").to_string() } else { line.clone() };
        out_list.push(Response { tag, tokens: rest, text });
    }
    out_list
}

/// Tokens up to the end of the line (or the closing paren at depth > 0).
fn parse_tokens(b: &[u8], mut pos: usize, depth: usize) -> (Vec<Token>, usize) {
    let mut toks = Vec::new();
    while pos < b.len() {
        match b[pos] {
            b'\r' | b'\n' if depth == 0 => {
                while pos < b.len() && (b[pos] == b'\r' || b[pos] == b'\n') {
                    pos += 1;
                }
                return (toks, pos);
            }
            b' ' | b'\r' | b'\n' => pos += 1,
            b'(' => {
                let (inner, end) = parse_tokens(b, pos + 1, depth + 1);
                toks.push(Token::List(inner));
                pos = end;
            }
            b')' if depth > 0 => return (toks, pos + 1),
            b'"' => {
                let mut s = Vec::new();
                pos += 1;
                while pos < b.len() && b[pos] != b'"' {
                    if b[pos] == b'\\' && pos + 1 < b.len() {
                        pos += 1;
                    }
                    s.push(b[pos]);
                    pos += 1;
                }
                pos += 1;
                toks.push(Token::Str(String::from_utf8_lossy(&s).into_owned()));
            }
            b'{' => {
                // {n} or {n+} then CRLF then n bytes.
                let close = b[pos..].iter().position(|c| *c == b'}').map(|p| p + pos).unwrap_or(b.len() - 1);
                let n: usize = String::from_utf8_lossy(&b[pos + 1..close]).trim_end_matches('+').parse().unwrap_or(0);
                let mut p = close + 1;
                if b.get(p) == Some(&b'\r') {
                    p += 1;
                }
                if b.get(p) == Some(&b'\n') {
                    p += 1;
                }
                let end = (p + n).min(b.len());
                toks.push(Token::Str(String::from_utf8_lossy(&b[p..end]).into_owned()));
                pos = end;
            }
            _ => {
                let start = pos;
                while pos < b.len() && !matches!(b[pos], b' ' | b'\r' | b'\n' | b'(' | b')') {
                    pos += 1;
                }
                // `[...]` response codes stay inside one atom (they may contain spaces).
                if b[start] == b'[' {
                    while pos < b.len() && b[pos - 1] != b']' && !matches!(b[pos], b'\r' | b'\n') {
                        pos += 1;
                    }
                }
                let atom = String::from_utf8_lossy(&b[start..pos]).into_owned();
                toks.push(if atom.eq_ignore_ascii_case("NIL") { Token::Nil } else { Token::Atom(atom) });
            }
        }
    }
    (toks, pos)
}

/// An IMAP quoted string.
pub fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The status of tagged command `tag`: Ok(()) or Err(server text).
pub fn tagged_status(responses: &[Response], tag: &str) -> Result<(), String> {
    match responses.iter().find(|r| r.tag == tag) {
        None => Err("no reply (connection closed early)".into()),
        Some(r) => match r.tokens.first().and_then(Token::text) {
            Some(s) if s.eq_ignore_ascii_case("OK") => Ok(()),
            _ => Err(r.text.clone()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_responses_cyrus_sends() {
        // Captured from Cyrus 3.6 (imapd) via openssl s_client -starttls imap.
        let out = "* ACL user.u.Junk@example.org u@example.org lrswipkxtecdan cyrus xc\r\nb OK Completed\r\n\
                   * QUOTAROOT user.u@example.org user.u@example.org\r\n* QUOTA user.u@example.org (STORAGE 0 1024)\r\nc OK Completed\r\n\
                   * METADATA user.u.Junk@example.org (/shared/vendor/cmu/cyrus-imapd/expire {1}\r\n7)\r\nd OK Completed\r\n\
                   e NO [NONEXISTENT] Mailbox does not exist\r\n";
        let r = parse_responses(out, true);
        assert_eq!(r[0].tag, "*");
        assert_eq!(r[0].tokens[0], Token::Atom("ACL".into()));
        assert_eq!(r[0].tokens.len(), 6);
        assert_eq!(r[3].tokens[2], Token::List(vec![Token::Atom("STORAGE".into()), Token::Atom("0".into()), Token::Atom("1024".into())]));
        assert_eq!(r[5].tokens[2], Token::List(vec![Token::Atom("/shared/vendor/cmu/cyrus-imapd/expire".into()), Token::Str("7".into())]));
        assert!(tagged_status(&r, "b").is_ok());
        assert_eq!(tagged_status(&r, "e").unwrap_err(), "NO [NONEXISTENT] Mailbox does not exist");
        assert!(tagged_status(&r, "z").is_err());
    }

    #[test]
    fn parses_managesieve_replies() {
        let out = "\"mailplay\" ACTIVE\r\n\"old\"\r\nOK \"Listscripts completed.\"\r\n{21}\r\nrequire \"fileinto\";\r\n\r\nOK\r\n";
        let r = parse_responses(out, false);
        assert_eq!(r[0].tokens, vec![Token::Str("mailplay".into()), Token::Atom("ACTIVE".into())]);
        assert_eq!(r[3].tokens, vec![Token::Str("require \"fileinto\";\r\n".into())]);
    }

    #[test]
    fn the_password_travels_only_inside_the_sasl_response() {
        let s = ServerArgs {
            server: "127.0.0.1".into(),
            port: None,
            tls: "starttls".into(),
            admin_user: "cyrus".into(),
            admin_password: Secret::new("pw"),
        };
        assert_eq!(s.plain_response(Some("u@example.org")), B64.encode("u@example.org\0cyrus\0pw"));
        let cmd = client_command(&s, Protocol::Sieve);
        assert!(cmd.contains("-connect 127.0.0.1:4190 -starttls sieve") && !cmd.contains("pw"), "{cmd}");
    }
}
