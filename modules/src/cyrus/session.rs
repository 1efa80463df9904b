//! Talking IMAP and ManageSieve to Cyrus from the target itself.
//!
//! A session is one `openssl s_client` run on the host (STARTTLS or
//! implicit TLS to 127.0.0.1): the whole conversation —
//! authentication, the commands, LOGOUT — goes in on standard input
//! (pipelined, which both protocols allow), and the server's replies come
//! back on standard output. One round trip per probe or apply, nothing on
//! the command line but the address, and the password only inside the
//! base64 SASL PLAIN response on stdin.
//!
//! `s_client` does not verify the server's certificate, so the server must
//! be on the target itself (a loopback address); anything else is refused.
//! Strings built from arguments never carry CR, LF or NUL (no command can
//! be smuggled into the session), and the server's replies are untrusted
//! data: parsing them never panics, literals are bounded by what arrived.

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

/// Is `server` an address of the target host itself?
fn is_loopback(server: &str) -> bool {
    server.eq_ignore_ascii_case("localhost") || server.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl ServerArgs {
    pub fn validate(&self) -> Result<(), String> {
        if !matches!(self.tls.as_str(), "starttls" | "tls") {
            return Err(format!("tls must be starttls or tls, got: {}", self.tls));
        }
        if !is_loopback(&self.server) {
            return Err(format!(
                "server must be a loopback address (127.0.0.1, ::1 or localhost), got '{}': the session runs on the target \
                 through openssl s_client, which does not verify the server's certificate, so only a server on the target \
                 itself is spoken to (run the task on the server's host)",
                self.server
            ));
        }
        // SASL PLAIN separates its fields with NUL.
        if self.admin_user.contains('\0') {
            return Err("admin_user must not contain a NUL byte".into());
        }
        if self.admin_password.expose().contains('\0') {
            return Err("admin_password must not contain a NUL byte".into());
        }
        check_string("admin_user", &self.admin_user)
    }

    /// `host:port` for `-connect` (IPv6 in brackets).
    fn address(&self, proto: Protocol) -> String {
        if self.server.contains(':') {
            format!("[{}]:{}", self.server, self.port(proto))
        } else {
            format!("{}:{}", self.server, self.port(proto))
        }
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

/// An IMAP session as the admin: AUTHENTICATE, the commands tagged t1..,
/// LOGOUT.
pub fn admin_imap_session(server: &ServerArgs, commands: &[String]) -> String {
    let mut s = format!("a AUTHENTICATE PLAIN {}\r\n", server.plain_response(None));
    for (i, c) in commands.iter().enumerate() {
        s.push_str(&format!("t{} {c}\r\n", i + 1));
    }
    s.push_str("z LOGOUT\r\n");
    s
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
        addr = quote(&s.address(proto)),
    );
    format!(
        "command -v openssl >/dev/null || {{ echo 'openssl is not installed on the host' >&2; exit 127; }}; exec bash -c {}",
        quote(&script)
    )
}

/// Check mode could not talk to Cyrus: when a package this run installs
/// brings it, the prediction (an empty server) says it rests on that.
pub fn note_if_planned(ctx: &crate::module::Context<'_>) {
    ctx.pending_provider(&["/usr/lib/cyrus/bin/master", "/usr/sbin/cyrmaster"], &["cyrus-imapd"]);
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

/// How deep parenthesised lists may nest in a reply (Cyrus sends two).
pub const MAX_DEPTH: usize = 32;
/// The largest literal believed (Cyrus's own limits are far lower: sieve
/// scripts 32 KiB, metadata values 64 KiB by default).
pub const MAX_LITERAL: u64 = 16 << 20;

/// Split a server's output into responses, reading literals (`{n}`) whole.
/// An error for a reply that is cut off (a literal or list not complete)
/// or beyond the limits: the server's text is never trusted to be sane.
pub fn parse_responses(out: &str, imap: bool) -> Result<Vec<Response>, String> {
    let bytes = out.as_bytes();
    let mut pos = 0;
    let mut out_list = Vec::new();
    while pos < bytes.len() {
        let start = pos;
        let (tokens, end) = parse_tokens(bytes, pos, 0)?;
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
    Ok(out_list)
}

/// Tokens up to the end of the line (or the closing paren at depth > 0).
fn parse_tokens(b: &[u8], mut pos: usize, depth: usize) -> Result<(Vec<Token>, usize), String> {
    let mut toks = Vec::new();
    while pos < b.len() {
        match b[pos] {
            b'\r' | b'\n' if depth == 0 => {
                while pos < b.len() && (b[pos] == b'\r' || b[pos] == b'\n') {
                    pos += 1;
                }
                return Ok((toks, pos));
            }
            b' ' | b'\r' | b'\n' => pos += 1,
            b'(' if depth >= MAX_DEPTH => return Err(format!("reply nested deeper than {MAX_DEPTH} lists")),
            b'(' => {
                let (inner, end) = parse_tokens(b, pos + 1, depth + 1)?;
                toks.push(Token::List(inner));
                pos = end;
            }
            b')' if depth > 0 => return Ok((toks, pos + 1)),
            b'"' => {
                let mut s = Vec::new();
                pos += 1;
                loop {
                    match b.get(pos) {
                        None => return Err("reply truncated inside a quoted string".into()),
                        Some(b'"') => break,
                        Some(b'\\') if pos + 1 < b.len() => {
                            s.push(b[pos + 1]);
                            pos += 2;
                        }
                        Some(c) => {
                            s.push(*c);
                            pos += 1;
                        }
                    }
                }
                pos += 1;
                toks.push(Token::Str(String::from_utf8_lossy(&s).into_owned()));
            }
            b'{' if literal_length(&b[pos..])?.is_some() => {
                let (n, header) = literal_length(&b[pos..])?.expect("checked");
                let mut p = pos + header;
                if b.get(p) == Some(&b'\r') {
                    p += 1;
                }
                if b.get(p) == Some(&b'\n') {
                    p += 1;
                }
                let arrived = b.len() - p;
                if n > arrived as u64 {
                    return Err(format!("reply truncated: a literal of {n} bytes, only {arrived} arrived"));
                }
                let end = p + n as usize;
                toks.push(Token::Str(String::from_utf8_lossy(&b[p..end]).into_owned()));
                pos = end;
            }
            _ => {
                let start = pos;
                while pos < b.len() && !matches!(b[pos], b' ' | b'\r' | b'\n' | b'(' | b')') {
                    pos += 1;
                }
                // A `)` with no list open is text: take it, or this loop
                // would never move on.
                if pos == start {
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
    if depth > 0 {
        return Err("reply truncated inside a parenthesised list".into());
    }
    Ok((toks, pos))
}

/// `{n}` or `{n+}` at the start of `b`: the length and the header's size;
/// None when the brace starts no literal (plain text in a message).
fn literal_length(b: &[u8]) -> Result<Option<(u64, usize)>, String> {
    let digits = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut close = 1 + digits;
    if b.get(close) == Some(&b'+') {
        close += 1;
    }
    match b.get(close) {
        None => Err("reply truncated inside a literal's {length}".into()),
        Some(b'}') if digits > 0 => {
            let text = String::from_utf8_lossy(&b[1..1 + digits]);
            match text.parse::<u64>() {
                Ok(n) if n <= MAX_LITERAL => Ok(Some((n, close + 1))),
                _ => Err(format!("reply announces a literal of {text} bytes, more than the limit of {MAX_LITERAL}")),
            }
        }
        Some(_) => Ok(None),
    }
}

/// An IMAP or ManageSieve quoted string; an error for CR, LF or NUL, which
/// a quoted string cannot carry (they would end the command early and
/// start another).
pub fn quoted(s: &str) -> Result<String, String> {
    if let Some(c) = s.chars().find(|c| matches!(c, '\r' | '\n' | '\0')) {
        let what = if c == '\0' { "a NUL byte" } else { "a line break" };
        return Err(format!("'{}' contains {what}, which an IMAP or ManageSieve string cannot carry", s.escape_debug()));
    }
    Ok(format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
}

/// Check that argument `what` can travel as a quoted string.
pub fn check_string(what: &str, s: &str) -> Result<(), String> {
    quoted(s).map(|_| ()).map_err(|e| format!("{what}: {e}"))
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
        let r = parse_responses(out, true).unwrap();
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
        let r = parse_responses(out, false).unwrap();
        assert_eq!(r[0].tokens, vec![Token::Str("mailplay".into()), Token::Atom("ACTIVE".into())]);
        assert_eq!(r[3].tokens, vec![Token::Str("require \"fileinto\";\r\n".into())]);
    }

    #[test]
    fn truncated_or_hostile_replies_are_errors_not_panics() {
        // A reply cut off right after a literal's `{` used to panic slicing.
        for cut in ["* METADATA m (/shared/x {", "* METADATA m (/shared/x {12", "* METADATA m (/shared/x {5}\r\nab"] {
            assert!(parse_responses(cut, true).unwrap_err().contains("truncated"), "{cut}");
        }
        // A length that overflows when added to the position.
        let e = parse_responses("* METADATA m (/shared/x {18446744073709551615}\r\nab)\r\n", true).unwrap_err();
        assert!(e.contains("18446744073709551615"), "{e}");
        // Nesting that would overflow the stack.
        let deep = format!("* LIST {}\r\n", "(".repeat(100_000));
        assert!(parse_responses(&deep, true).unwrap_err().contains("nested"));
        // A stray `)` used to stop the tokenizer in place: an endless loop
        // filling memory with empty atoms (found by fuzzing).
        let r = parse_responses("* META)DATA m (x)\r\nt1 OK done\r\n", true).unwrap();
        assert_eq!(r[0].tokens[..3], [Token::Atom("META".into()), Token::Atom(")".into()), Token::Atom("DATA".into())]);
        assert!(tagged_status(&r, "t1").is_ok());
        // A brace that is no literal stays text.
        let r = parse_responses("a NO {weird} text\r\n", true).unwrap();
        assert_eq!(r[0].text, "NO {weird} text");
    }

    #[test]
    fn line_breaks_cannot_be_smuggled_into_quoted_strings() {
        assert_eq!(quoted("a\\b\"c").unwrap(), r#""a\\b\"c""#);
        for bad in ["INBOX\r\na DELETE user.victim", "x\ny", "x\0y"] {
            let e = quoted(bad).unwrap_err();
            assert!(e.contains("line break") || e.contains("NUL"), "{e}");
        }
    }

    fn server(addr: &str) -> ServerArgs {
        ServerArgs {
            server: addr.into(),
            port: None,
            tls: "starttls".into(),
            admin_user: "cyrus".into(),
            admin_password: Secret::new("pw"),
        }
    }

    #[test]
    fn only_loopback_servers_are_spoken_to() {
        for ok in ["127.0.0.1", "127.1.2.3", "::1", "localhost"] {
            assert_eq!(server(ok).validate(), Ok(()), "{ok}");
        }
        for bad in ["mail.example.org", "10.0.0.5", "::ffff:10.0.0.5", "", "127.0.0.1 -proxy x"] {
            let e = server(bad).validate().unwrap_err();
            assert!(e.contains("loopback"), "{bad}: {e}");
        }
        assert!(client_command(&server("::1"), Protocol::Imap).contains("-connect '\\''[::1]:143'"));
        let mut s = server("127.0.0.1");
        s.admin_user = "cyrus\0other".into();
        assert!(s.validate().unwrap_err().contains("NUL"));
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
