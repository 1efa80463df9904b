//! `cyrus_xfer`: a mailbox moved to another backend of a Cyrus murder with
//! IMAP XFER, run on the server that holds it.
//!
//! Probe: one session (LIST, and GETMETADATA of Cyrus's
//! `/shared/vendor/cmu/cyrus-imapd/server`, which names the backend of a
//! mailbox held elsewhere and is empty for one held here). Plan: XFER when
//! the mailbox is here, nothing when it is not here or already on the
//! destination. Apply: the XFER (Cyrus moves a user's INBOX with all their
//! folders, their sieve scripts and seen state, and updates the mupdate
//! master). Being on another host afterwards is what makes a re-run a
//! no-op, so the task runs on the server that held the mailbox.

use async_trait::async_trait;
use serde::Deserialize;

use super::session::{
    admin_imap_session, check_string, converse, parse_responses, quoted, tagged_status, Protocol, Response, ServerArgs, Token,
};
use crate::args::loose_string;
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};

const SERVER_ENTRY: &str = "/shared/vendor/cmu/cyrus-imapd/server";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XferArgs {
    /// As the admin names it, e.g. `user/bob@example.org`.
    #[serde(deserialize_with = "loose_string")]
    pub name: String,
    /// The destination backend's servername (optionally `!partition`).
    #[serde(deserialize_with = "loose_string")]
    pub to: String,
    #[serde(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XferState {
    pub exists: bool,
    /// The backend that holds it, when that is another server.
    pub held_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XferPlan {
    /// The XFER command (without tag), or None.
    pub command: Option<String>,
    pub before: String,
    pub after: String,
}

impl Plan for XferPlan {
    fn changes_anything(&self) -> bool {
        self.command.is_some()
    }
    /// Mailboxes live in the servers, not in the overlay.
    fn effects(&self) -> Vec<crate::planned::Effect> {
        Vec::new()
    }
    fn diffs(&self) -> Vec<Diff> {
        vec![Diff::new("mailbox", self.before.clone(), self.after.clone())]
    }
}

/// The destination's host name, without a `!partition`.
fn destination_host(to: &str) -> &str {
    to.split('!').next().unwrap_or(to)
}

/// Read the probe session's responses.
pub fn parse_state(name: &str, responses: &[Response]) -> XferState {
    let mut s = XferState::default();
    for r in responses.iter().filter(|r| r.tag == "*") {
        let kind = r.tokens.first().and_then(Token::text).unwrap_or("").to_ascii_uppercase();
        match kind.as_str() {
            "LIST" if r.tokens.last().and_then(Token::text) == Some(name) => s.exists = true,
            "METADATA" if r.tokens.get(1).and_then(Token::text) == Some(name) => {
                if let Some(Token::List(items)) = r.tokens.get(2) {
                    for pair in items.chunks(2) {
                        if let [k, v] = pair {
                            if k.text().is_some_and(|k| k.eq_ignore_ascii_case(SERVER_ENTRY)) {
                                s.held_by = v.text().filter(|v| !v.is_empty()).map(str::to_string);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    s
}

pub fn plan(a: &XferArgs, s: &XferState) -> Result<XferPlan, String> {
    let to_host = destination_host(&a.to);
    let (command, before, after) = match (&s.exists, &s.held_by) {
        (false, _) => (None, String::new(), String::new()),
        (true, Some(h)) if h.eq_ignore_ascii_case(to_host) => (None, format!("{} on {h}\n", a.name), format!("{} on {h}\n", a.name)),
        (true, held_by) => (
            Some(format!("XFER {} {}", quoted(&a.name)?, quoted(&a.to)?)),
            format!("{} on {}\n", a.name, held_by.as_deref().unwrap_or("this server")),
            format!("{} on {}\n", a.name, a.to),
        ),
    };
    Ok(XferPlan { command, before, after })
}

fn responses(out: &str, a: &XferArgs) -> Result<Vec<Response>, ModuleError> {
    let r = parse_responses(out, true).map_err(|e| ModuleError::failed(format!("unreadable reply from the IMAP server: {e}")))?;
    tagged_status(&r, "a").map_err(|e| ModuleError::failed(format!("IMAP login as {} failed: {e}", a.server.admin_user)))?;
    Ok(r)
}

/// XFER's outcome: Cyrus answers each user or mailbox with an untagged
/// `* OK USER ...` or `* NO USER ... (why)`, and the tagged reply is OK
/// even when every one of them failed.
pub fn xfer_status(r: &[Response]) -> Result<(), String> {
    tagged_status(r, "t1")?;
    let failed: Vec<&str> = r
        .iter()
        .filter(|x| x.tag == "*" && x.tokens.first().and_then(Token::text).is_some_and(|k| k.eq_ignore_ascii_case("NO")))
        .map(|x| x.text.as_str())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

pub struct CyrusXferModule;

#[async_trait]
impl Module for CyrusXferModule {
    type Args = XferArgs;
    type State = XferState;
    type Plan = XferPlan;
    const NAME: &'static str = "cyrus_xfer";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Move a mailbox (a user's INBOX: with every folder and sieve script) to another backend of a Cyrus murder with XFER, when this server holds it.",
            args: vec![
                ArgDoc { name: "name", ty: "string", required: true, default: None, description: "Mailbox as the admin names it, e.g. user/bob@example.org." },
                ArgDoc { name: "to", ty: "string", required: true, default: None, description: "The destination backend's servername (optionally servername!partition)." },
                ArgDoc { name: "admin_user", ty: "string", required: false, default: Some("cyrus"), description: "Cyrus admin (SASL PLAIN)." },
                ArgDoc { name: "admin_password", ty: "secret", required: true, default: None, description: "The admin's password." },
                ArgDoc { name: "server", ty: "string", required: false, default: Some("127.0.0.1"), description: "IMAP server on the host itself (a loopback address)." },
                ArgDoc { name: "port", ty: "int", required: false, default: Some("143 (993 with tls)"), description: "IMAP port." },
                ArgDoc { name: "tls", ty: "string", required: false, default: Some("starttls"), description: "starttls or tls." },
            ],
            example: "- cyrus_xfer:\n    name: user/bob@example.org\n    to: imap2.example.org\n    admin_password: \"{{ mail_admin_password }}\"",
        }
    }

    fn validate(a: &XferArgs) -> Result<(), String> {
        a.server.validate()?;
        check_string("name", &a.name)?;
        check_string("to", &a.to)?;
        if a.to.is_empty() || a.to.contains(char::is_whitespace) {
            return Err(format!("to must be a backend's servername, got '{}'", a.to.escape_debug()));
        }
        Ok(())
    }

    fn secret_values(a: &XferArgs) -> Vec<String> {
        vec![a.server.admin_password.expose().to_string()]
    }

    async fn probe(a: &XferArgs, ctx: &Context<'_>) -> Result<XferState, ModuleError> {
        let mbox = quoted(&a.name).map_err(ModuleError::failed)?;
        let cmds = [format!("LIST \"\" {mbox}"), format!("GETMETADATA {mbox} ({SERVER_ENTRY})")];
        let out = match converse(ctx.host, &a.server, Protocol::Imap, admin_imap_session(&a.server, &cmds), !ctx.check_mode).await {
            // Check mode on a fresh host: Cyrus is not started yet; nothing exists.
            Err(ModuleError::Failed(m)) if ctx.check_mode && m.starts_with("cannot talk to") => {
                super::session::note_if_planned(ctx);
                return Ok(XferState::default());
            }
            other => other?,
        };
        let r = responses(&out, a)?;
        tagged_status(&r, "t1").map_err(|e| ModuleError::failed(format!("LIST failed: {e}")))?;
        Ok(parse_state(&a.name, &r))
    }

    fn plan(a: &XferArgs, s: &XferState) -> Result<XferPlan, ModuleError> {
        plan(a, s).map_err(ModuleError::failed)
    }

    async fn apply(a: &XferArgs, p: XferPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let Some(command) = p.command else { return Ok(ModuleResult::changed(false)) };
        let out =
            converse(ctx.host, &a.server, Protocol::Imap, admin_imap_session(&a.server, std::slice::from_ref(&command)), !ctx.check_mode)
                .await?;
        let r = responses(&out, a)?;
        if let Err(e) = xfer_status(&r) {
            return Ok(ModuleResult::failed(format!("{command}: {e}")));
        }
        Ok(ModuleResult::changed(true).with("commands", vec![command]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    fn args() -> XferArgs {
        let a: XferArgs =
            parse_args("cyrus_xfer", &json!({"name": "user/bob@example.org", "to": "store1.lab.invalid", "admin_password": "pw"})).unwrap();
        CyrusXferModule::validate(&a).unwrap();
        a
    }

    /// Cyrus 3.6 on the backend that holds bob's INBOX (the server entry
    /// is not sent for a mailbox held here), as captured in the lab.
    const HELD_HERE: &str =
        "* LIST (\\HasChildren) \"/\" user/bob@example.org\r\nt1 OK Completed (0.000 secs 2 calls)\r\nt2 OK Completed\r\n";
    /// A frontend's answer for the same mailbox.
    const ON_STORE2: &str = "* LIST (\\HasChildren) \"/\" user/bob@example.org\r\nt1 OK Completed\r\n\
        * METADATA user/bob@example.org (\"/shared/vendor/cmu/cyrus-imapd/server\" \"store2.lab.invalid\")\r\nt2 OK Completed\r\n";
    /// The backend it has left: no such mailbox.
    const GONE: &str = "t1 OK Completed (0.000 secs 1 calls)\r\nt2 NO Mailbox does not exist\r\n";

    fn state(reply: &str) -> XferState {
        parse_state("user/bob@example.org", &parse_responses(reply, true).unwrap())
    }

    #[test]
    fn a_mailbox_held_here_is_moved() {
        let s = state(HELD_HERE);
        assert_eq!(s, XferState { exists: true, held_by: None });
        let p = plan(&args(), &s).unwrap();
        assert_eq!(p.command.as_deref(), Some("XFER \"user/bob@example.org\" \"store1.lab.invalid\""));
        assert_eq!(p.before, "user/bob@example.org on this server\n");
    }

    #[test]
    fn a_mailbox_gone_or_already_there_is_left_alone() {
        assert!(!plan(&args(), &state(GONE)).unwrap().changes_anything());
        let s = state(ON_STORE2);
        assert_eq!(s.held_by.as_deref(), Some("store2.lab.invalid"));
        let mut a = args();
        a.to = "STORE2.lab.invalid!default".into();
        assert!(!plan(&a, &s).unwrap().changes_anything());
        // Held by another backend than the destination: moved (Cyrus
        // passes the XFER on to the backend that holds it).
        assert!(plan(&args(), &s).unwrap().changes_anything());
    }

    #[test]
    fn a_refused_move_fails_though_the_tagged_reply_is_ok() {
        // Cyrus 3.6 without allowusermoves, as captured in the lab.
        let refused = "* NO USER bob@example.org (Operation is not supported on mailbox)\r\nt1 OK Completed\r\n";
        let e = xfer_status(&parse_responses(refused, true).unwrap()).unwrap_err();
        assert!(e.contains("not supported"), "{e}");
        let moved = "* OK USER bob@example.org\r\nt1 OK Completed\r\n";
        assert!(xfer_status(&parse_responses(moved, true).unwrap()).is_ok());
    }

    #[test]
    fn names_with_line_breaks_are_refused() {
        let a: Result<XferArgs, _> = parse_args("cyrus_xfer", &json!({"name": "user/x\r\nt9 DELETE y", "to": "s", "admin_password": "pw"}));
        assert!(CyrusXferModule::validate(&a.unwrap()).is_err());
        let a: XferArgs = parse_args("cyrus_xfer", &json!({"name": "user/x", "to": "a b", "admin_password": "pw"})).unwrap();
        assert!(CyrusXferModule::validate(&a).is_err());
    }
}
