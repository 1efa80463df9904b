//! `cyrus_mailbox`: a mailbox with its special use, ACL, quota and
//! metadata, managed over IMAP as the Cyrus admin.
//!
//! Probe: one session (LIST, GETACL, GETQUOTAROOT, GETMETADATA). Plan: the
//! commands for what differs, comparing ACL rights after normalising
//! Cyrus's legacy rights (`c`, `d`), the quota as STORAGE KiB, metadata
//! values as text. Apply: one session with only those commands. Cyrus
//! answers OK to a SETACL that changes nothing, so comparing first is what
//! makes `changed` truthful.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use super::session::{
    admin_imap_session, check_string, converse, parse_responses, quoted, tagged_status, Protocol, Response, ServerArgs, Token,
};
use crate::args::{loose_bool, loose_opt_string, loose_string, scalar_to_string};
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxArgs {
    /// As the admin names it, e.g. `user.u.Junk@example.org`.
    #[serde(deserialize_with = "loose_string")]
    pub name: String,
    #[serde(default = "present", deserialize_with = "loose_string")]
    pub state: String,
    /// `Junk`, `\Sent`, ...: set when the mailbox is created.
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub special_use: Option<String>,
    /// identifier → rights (`lrswipkxtea`); empty or null removes the entry.
    #[serde(default)]
    pub acl: IndexMap<String, Value>,
    /// Remove ACL entries of identifiers not listed.
    #[serde(default, deserialize_with = "loose_bool")]
    pub acl_exhaustive: bool,
    /// STORAGE limit in KiB; `none` removes the quota root.
    #[serde(default)]
    pub quota: Option<Value>,
    /// Entry → value (null removes), e.g. `/shared/vendor/cmu/cyrus-imapd/expire: 7`.
    #[serde(default)]
    pub metadata: IndexMap<String, Value>,
    /// A missing user INBOX is made by logging in as the user (admin proxy
    /// authorisation), so that Cyrus's autocreate makes the INBOX with its
    /// folders and subscriptions (autocreate_* settings), instead of a bare CREATE.
    #[serde(default, deserialize_with = "loose_bool")]
    pub autocreate: bool,
    #[serde(flatten)]
    pub server: ServerArgs,
}

fn present() -> String {
    "present".into()
}

/// Quota wanted: a limit, or explicitly none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quota {
    Limit(u64),
    None,
}

impl MailboxArgs {
    fn quota(&self) -> Result<Option<Quota>, String> {
        match &self.quota {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(Quota::None)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("none") => Ok(Some(Quota::None)),
            Some(v) => scalar_to_string(v)?
                .parse::<u64>()
                .map(|n| Some(Quota::Limit(n)))
                .map_err(|_| format!("quota must be a number of KiB or none, got {v}")),
        }
    }

    fn acl(&self) -> Result<Vec<(String, String)>, String> {
        self.acl.iter().map(|(id, v)| Ok((id.clone(), if v.is_null() { String::new() } else { scalar_to_string(v)? }))).collect()
    }

    fn metadata(&self) -> Result<Vec<(String, Option<String>)>, String> {
        self.metadata.iter().map(|(k, v)| Ok((k.clone(), if v.is_null() { None } else { Some(scalar_to_string(v)?) }))).collect()
    }

    fn special_use(&self) -> Option<String> {
        self.special_use.as_ref().map(|s| if s.starts_with('\\') { s.clone() } else { format!("\\{s}") })
    }
}

/// Rights as a set of RFC 4314 letters. Cyrus shows the obsolete `c`
/// (create, = `k` and `x`) and `d` (delete, = `t` and `e`) alongside the
/// new ones: granting `x` reads back as `xc`. Expand them when asked for,
/// drop them when read.
pub fn normalize_rights(rights: &str, from_server: bool) -> BTreeSet<char> {
    let mut set = BTreeSet::new();
    for c in rights.chars() {
        match (c, from_server) {
            ('c' | 'd', true) => {}
            ('c', false) => {
                set.insert('k');
                set.insert('x');
            }
            ('d', false) => {
                set.insert('t');
                set.insert('e');
            }
            (c, _) => {
                set.insert(c);
            }
        }
    }
    set
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MailboxState {
    pub exists: bool,
    pub acl: BTreeMap<String, String>,
    /// The STORAGE limit when this mailbox is its own quota root.
    pub quota: Option<u64>,
    pub metadata: BTreeMap<String, Option<String>>,
}

fn texts(tokens: &[Token]) -> Vec<String> {
    tokens.iter().filter_map(|t| t.text().map(str::to_string)).collect()
}

/// Read the probe session's responses.
pub fn parse_state(name: &str, responses: &[Response]) -> MailboxState {
    let mut s = MailboxState::default();
    for r in responses.iter().filter(|r| r.tag == "*") {
        let kind = r.tokens.first().and_then(Token::text).unwrap_or("").to_ascii_uppercase();
        match kind.as_str() {
            "LIST" if r.tokens.last().and_then(Token::text) == Some(name) => s.exists = true,
            "ACL" => {
                // `* ACL mailbox id rights id rights ...`
                let t = texts(&r.tokens[1..]);
                for pair in t.get(1..).unwrap_or_default().chunks(2) {
                    if let [id, rights] = pair {
                        s.acl.insert(id.clone(), rights.clone());
                    }
                }
            }
            "QUOTA" if r.tokens.get(1).and_then(Token::text) == Some(name) => {
                if let Some(Token::List(items)) = r.tokens.get(2) {
                    let t = texts(items);
                    if let Some(i) = t.iter().position(|x| x.eq_ignore_ascii_case("STORAGE")) {
                        s.quota = t.get(i + 2).and_then(|l| l.parse().ok());
                    }
                }
            }
            "METADATA" => {
                if let Some(Token::List(items)) = r.tokens.get(2) {
                    for pair in items.chunks(2) {
                        if let [k, v] = pair {
                            s.metadata.insert(k.text().unwrap_or("").to_string(), v.text().map(str::to_string));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    s
}

#[derive(Debug, Clone, PartialEq)]
pub struct MailboxPlan {
    /// Log in as this user first (Cyrus autocreates the INBOX).
    pub login_as: Option<String>,
    /// IMAP commands without tags.
    pub commands: Vec<String>,
    pub before: String,
    pub after: String,
}

impl Plan for MailboxPlan {
    fn changes_anything(&self) -> bool {
        self.login_as.is_some() || !self.commands.is_empty()
    }
    /// Mailboxes and scripts live in the server, not in the overlay.
    fn effects(&self) -> Vec<crate::planned::Effect> {
        Vec::new()
    }
    fn diffs(&self) -> Vec<Diff> {
        vec![Diff::new("mailbox", self.before.clone(), self.after.clone())]
    }
}

pub fn plan(a: &MailboxArgs, s: &MailboxState) -> Result<MailboxPlan, String> {
    let mbox = quoted(&a.name)?;
    let mut cmds = Vec::new();
    let mut before = Vec::new();
    let mut after = Vec::new();
    if a.state == "absent" {
        if s.exists {
            // Even an admin needs the x right to delete a mailbox.
            cmds.push(format!("SETACL {mbox} {} x", quoted(&a.server.admin_user)?));
            cmds.push(format!("DELETE {mbox}"));
            before.push(format!("mailbox: {}", a.name));
        }
        return Ok(MailboxPlan { login_as: None, commands: cmds, before: lines(&before), after: lines(&after) });
    }
    let mut login_as = None;
    if !s.exists && a.autocreate {
        let owner = inbox_owner(&a.name)
            .ok_or_else(|| format!("autocreate is for a user's INBOX (user.NAME@DOMAIN or user/NAME@DOMAIN), not {}", a.name))?;
        after.push(format!("mailbox: {} (autocreated at a login as {owner})", a.name));
        login_as = Some(owner);
    } else if !s.exists {
        match a.special_use() {
            Some(u) => cmds.push(format!("CREATE {mbox} (USE ({u}))")),
            None => cmds.push(format!("CREATE {mbox}")),
        }
        after.push(format!("mailbox: {}{}", a.name, a.special_use().map(|u| format!(" ({u})")).unwrap_or_default()));
    }
    let mut wanted_ids = BTreeSet::new();
    for (id, rights) in a.acl()? {
        wanted_ids.insert(id.clone());
        let have = s.acl.get(&id);
        if rights.is_empty() {
            if let Some(h) = have {
                cmds.push(format!("DELETEACL {mbox} {}", quoted(&id)?));
                before.push(format!("acl {id}: {h}"));
            }
        } else if have.is_none_or(|h| normalize_rights(h, true) != normalize_rights(&rights, false)) {
            cmds.push(format!("SETACL {mbox} {} {}", quoted(&id)?, quoted(&rights)?));
            if let Some(h) = have {
                before.push(format!("acl {id}: {h}"));
            }
            after.push(format!("acl {id}: {rights}"));
        }
    }
    if a.acl_exhaustive {
        for (id, h) in &s.acl {
            if !wanted_ids.contains(id) {
                cmds.push(format!("DELETEACL {mbox} {}", quoted(id)?));
                before.push(format!("acl {id}: {h}"));
            }
        }
    }
    match (a.quota()?, s.quota) {
        (Some(Quota::Limit(n)), have) if have != Some(n) => {
            cmds.push(format!("SETQUOTA {mbox} (STORAGE {n})"));
            if let Some(h) = have {
                before.push(format!("quota: {h} KiB"));
            }
            after.push(format!("quota: {n} KiB"));
        }
        (Some(Quota::None), Some(h)) => {
            cmds.push(format!("SETQUOTA {mbox} ()"));
            before.push(format!("quota: {h} KiB"));
        }
        _ => {}
    }
    for (k, v) in a.metadata()? {
        let have = s.metadata.get(&k).cloned().flatten();
        if have != v {
            let value = v.as_deref().map(quoted).transpose()?.unwrap_or_else(|| "NIL".into());
            cmds.push(format!("SETMETADATA {mbox} ({} {value})", quoted(&k)?));
            if let Some(h) = &have {
                before.push(format!("{k}: {h}"));
            }
            if let Some(v) = &v {
                after.push(format!("{k}: {v}"));
            }
        }
    }
    Ok(MailboxPlan { login_as, commands: cmds, before: lines(&before), after: lines(&after) })
}

/// The user whose INBOX `name` is, in either hierarchy convention:
/// `user.first^last@example.org` (`.` separator, dots as `^`) or
/// `user/first.last@example.org` (`unixhierarchysep: yes`) →
/// `first.last@example.org`; None for other mailboxes.
pub fn inbox_owner(name: &str) -> Option<String> {
    let (rest, separator) = match (name.strip_prefix("user."), name.strip_prefix("user/")) {
        (Some(rest), _) => (rest, '.'),
        (None, Some(rest)) => (rest, '/'),
        (None, None) => return None,
    };
    let (local, domain) = match rest.split_once('@') {
        Some((l, d)) => (l, Some(d)),
        None => (rest, None),
    };
    if local.is_empty() || local.contains(separator) {
        return None;
    }
    let local = if separator == '.' { local.replace('^', ".") } else { local.to_string() };
    Some(match domain {
        Some(d) => format!("{local}@{d}"),
        None => local,
    })
}

/// Did the user's `LIST "" INBOX` (tag b) list the INBOX?
fn inbox_listed(r: &[Response]) -> bool {
    tagged_status(r, "b").is_ok()
        && r.iter().any(|x| {
            x.tag == "*"
                && x.tokens.first().and_then(Token::text).is_some_and(|k| k.eq_ignore_ascii_case("LIST"))
                && x.tokens.last().and_then(Token::text).is_some_and(|n| n.eq_ignore_ascii_case("INBOX"))
        })
}

fn lines(v: &[String]) -> String {
    v.iter().map(|l| format!("{l}\n")).collect()
}

fn unreadable(r: Result<Vec<Response>, String>) -> Result<Vec<Response>, ModuleError> {
    r.map_err(|e| ModuleError::failed(format!("unreadable reply from the IMAP server: {e}")))
}

fn check_auth(a: &MailboxArgs, r: &[Response]) -> Result<(), ModuleError> {
    tagged_status(r, "a").map_err(|e| ModuleError::failed(format!("IMAP login as {} failed: {e}", a.server.admin_user)))
}

pub struct CyrusMailboxModule;

#[async_trait]
impl Module for CyrusMailboxModule {
    type Args = MailboxArgs;
    type State = MailboxState;
    type Plan = MailboxPlan;
    const NAME: &'static str = "cyrus_mailbox";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Create a Cyrus mailbox (with special use) and set its ACL, quota and metadata over IMAP, changing only what differs.",
            args: vec![
                ArgDoc { name: "name", ty: "string", required: true, default: None, description: "Mailbox as the admin names it, e.g. user.u.Junk@example.org." },
                ArgDoc { name: "state", ty: "string", required: false, default: Some("present"), description: "present or absent." },
                ArgDoc { name: "special_use", ty: "string", required: false, default: None, description: "Junk, Sent, Drafts, Trash, ... (applied at creation)." },
                ArgDoc { name: "acl", ty: "dict", required: false, default: None, description: "identifier: rights; empty removes the entry." },
                ArgDoc { name: "acl_exhaustive", ty: "bool", required: false, default: Some("false"), description: "Remove entries of other identifiers." },
                ArgDoc { name: "quota", ty: "int", required: false, default: None, description: "STORAGE limit in KiB, or none." },
                ArgDoc { name: "metadata", ty: "dict", required: false, default: None, description: "entry: value (null removes)." },
                ArgDoc { name: "autocreate", ty: "bool", required: false, default: Some("false"), description: "Make a missing user INBOX by logging in as the user (Cyrus autocreates it with the folders and subscriptions of autocreate_inbox_folders and autocreate_subscribe_folder)." },
                ArgDoc { name: "admin_user", ty: "string", required: false, default: Some("cyrus"), description: "Cyrus admin (SASL PLAIN)." },
                ArgDoc { name: "admin_password", ty: "secret", required: true, default: None, description: "The admin's password." },
                ArgDoc { name: "server", ty: "string", required: false, default: Some("127.0.0.1"), description: "IMAP server on the host itself: a loopback address (127.0.0.1, ::1, localhost); others are refused, as the certificate is not verified." },
                ArgDoc { name: "port", ty: "int", required: false, default: Some("143 (993 with tls)"), description: "IMAP port." },
                ArgDoc { name: "tls", ty: "string", required: false, default: Some("starttls"), description: "starttls or tls." },
            ],
            example: "- cyrus_mailbox:\n    name: user.u.Junk@example.org\n    special_use: Junk\n    metadata:\n      /shared/vendor/cmu/cyrus-imapd/expire: 7\n    admin_password: \"{{ mail_admin_password }}\"",
        }
    }

    fn validate(a: &MailboxArgs) -> Result<(), String> {
        if !matches!(a.state.as_str(), "present" | "absent") {
            return Err(format!("value of state must be one of: present, absent, got: {}", a.state));
        }
        a.server.validate()?;
        a.quota()?;
        check_string("name", &a.name)?;
        if let Some(u) = &a.special_use {
            let word = u.strip_prefix('\\').unwrap_or(u);
            if word.is_empty() || !word.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!("special_use must be one word such as Junk or \\Sent, got: {}", u.escape_debug()));
            }
        }
        for (id, rights) in a.acl()? {
            check_string("acl identifier", &id)?;
            if let Some(bad) = rights.chars().find(|c| !"lrswipkxteacdn0123456789".contains(*c)) {
                return Err(format!("'{bad}' is not an IMAP ACL right (in '{rights}' for {id})"));
            }
        }
        for (k, v) in a.metadata()? {
            check_string("metadata entry", &k)?;
            if let Some(v) = v {
                check_string(&format!("metadata {k}"), &v)?;
            }
            if !(k.starts_with("/shared/") || k.starts_with("/private/")) {
                return Err(format!("metadata entry '{k}' must start with /shared/ or /private/"));
            }
        }
        Ok(())
    }

    fn secret_values(a: &MailboxArgs) -> Vec<String> {
        vec![a.server.admin_password.expose().to_string()]
    }

    async fn probe(a: &MailboxArgs, ctx: &Context<'_>) -> Result<MailboxState, ModuleError> {
        let mbox = quoted(&a.name).map_err(ModuleError::failed)?;
        let mut cmds = vec![format!("LIST \"\" {mbox}"), format!("GETACL {mbox}"), format!("GETQUOTAROOT {mbox}")];
        if !a.metadata.is_empty() {
            cmds.push(format!(
                "GETMETADATA {mbox} ({})",
                a.metadata.keys().map(|k| quoted(k)).collect::<Result<Vec<_>, _>>().map_err(ModuleError::failed)?.join(" ")
            ));
        }
        let out = match converse(ctx.host, &a.server, Protocol::Imap, admin_imap_session(&a.server, &cmds), !ctx.check_mode).await {
            // Check mode on a fresh host: Cyrus is not started yet; nothing exists.
            Err(ModuleError::Failed(m)) if ctx.check_mode && m.starts_with("cannot talk to") => {
                super::session::note_if_planned(ctx);
                return Ok(MailboxState::default());
            }
            other => other?,
        };
        let r = unreadable(parse_responses(&out, true))?;
        check_auth(a, &r)?;
        tagged_status(&r, "t1").map_err(|e| ModuleError::failed(format!("LIST failed: {e}")))?;
        Ok(parse_state(&a.name, &r))
    }

    fn plan(a: &MailboxArgs, s: &MailboxState) -> Result<MailboxPlan, ModuleError> {
        plan(a, s).map_err(ModuleError::failed)
    }

    async fn apply(a: &MailboxArgs, p: MailboxPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        if let Some(user) = &p.login_as {
            // A login succeeds even when the autocreation fails (in a murder
            // the mupdate master refuses a name another backend holds), so
            // the user's own LIST says whether the INBOX is there now.
            let login = format!("a AUTHENTICATE PLAIN {}\r\nb LIST \"\" INBOX\r\nz LOGOUT\r\n", a.server.plain_response(Some(user)));
            let out = converse(ctx.host, &a.server, Protocol::Imap, login, !ctx.check_mode).await?;
            let r = unreadable(parse_responses(&out, true))?;
            if let Err(e) = tagged_status(&r, "a") {
                return Ok(ModuleResult::failed(format!("logging in as {user} (to autocreate the INBOX) failed: {e}")));
            }
            if !inbox_listed(&r) {
                return Ok(ModuleResult::failed(format!(
                    "{user} logged in but Cyrus did not create the INBOX (its log says why; in a murder, another backend may hold it)"
                )));
            }
        }
        if p.commands.is_empty() {
            return Ok(ModuleResult::changed(true));
        }
        let out = converse(ctx.host, &a.server, Protocol::Imap, admin_imap_session(&a.server, &p.commands), !ctx.check_mode).await?;
        let r = unreadable(parse_responses(&out, true))?;
        check_auth(a, &r)?;
        for (i, c) in p.commands.iter().enumerate() {
            if let Err(e) = tagged_status(&r, &format!("t{}", i + 1)) {
                // IMAP has no transactions: commands before this one took effect.
                let mut r = ModuleResult::failed(format!("{c}: {e}"));
                r.changed = i > 0;
                return Ok(r);
            }
        }
        Ok(ModuleResult::changed(true).with("commands", p.commands))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    fn args(v: Value) -> MailboxArgs {
        let mut v = v;
        v["admin_password"] = json!("pw");
        let a: MailboxArgs = parse_args("cyrus_mailbox", &v).unwrap();
        CyrusMailboxModule::validate(&a).unwrap();
        a
    }

    /// The probe session's replies from Cyrus 3.6 for an existing Junk folder.
    const JUNK: &str = "* LIST (\\HasNoChildren) \".\" user.u.Junk@example.org\r\nt1 OK Completed (0.000 secs 2 calls)\r\n\
        * ACL user.u.Junk@example.org u@example.org lrswipkxtecdan cyrus xc\r\nt2 OK Completed\r\n\
        * QUOTAROOT user.u.Junk@example.org user.u@example.org\r\n* QUOTA user.u@example.org (STORAGE 3 1024)\r\nt3 OK Completed\r\n\
        * METADATA user.u.Junk@example.org (/shared/vendor/cmu/cyrus-imapd/expire \"7\")\r\nt4 OK Completed\r\n";

    #[test]
    fn an_autocreation_is_believed_only_when_the_inbox_is_listed() {
        let made = "a OK [CAPABILITY IMAP4rev1] User logged in\r\n* LIST (\\HasNoChildren) \"/\" INBOX\r\nb OK Completed\r\n";
        assert!(inbox_listed(&parse_responses(made, true).unwrap()));
        // Cyrus 3.6 in a murder when the mupdate master refused the name.
        let refused = "a OK [CAPABILITY IMAP4rev1] User logged in\r\nb OK Completed (0.000 secs 0 calls)\r\n";
        assert!(!inbox_listed(&parse_responses(refused, true).unwrap()));
    }

    #[test]
    fn legacy_rights_are_normalised() {
        assert_eq!(normalize_rights("xc", true), normalize_rights("x", false));
        assert_eq!(normalize_rights("lrswipkxtecdan", true), normalize_rights("lrswipkxtean", false));
        assert_eq!(
            normalize_rights("lrswipkxtecdan", true),
            normalize_rights("lrswipcda", false).union(&"n".chars().collect()).cloned().collect()
        );
    }

    #[test]
    fn a_converged_junk_folder_plans_nothing() {
        let s = parse_state("user.u.Junk@example.org", &parse_responses(JUNK, true).unwrap());
        assert!(s.exists);
        assert_eq!(s.quota, None, "the quota root is the user's INBOX");
        let a = args(
            json!({"name": "user.u.Junk@example.org", "special_use": "Junk", "acl": {"cyrus": "x"}, "metadata": {"/shared/vendor/cmu/cyrus-imapd/expire": 7}}),
        );
        assert!(!plan(&a, &s).unwrap().changes_anything(), "{:?}", plan(&a, &s));
    }

    #[test]
    fn creates_with_special_use_then_sets_quota_and_expiry() {
        let a = args(json!({"name": "user.u@example.org", "quota": 1024}));
        let p = plan(&a, &MailboxState::default()).unwrap();
        assert_eq!(p.commands, vec!["CREATE \"user.u@example.org\"", "SETQUOTA \"user.u@example.org\" (STORAGE 1024)"]);
        let a = args(
            json!({"name": "user.u.Junk@example.org", "special_use": "Junk", "metadata": {"/shared/vendor/cmu/cyrus-imapd/expire": "7"}}),
        );
        let p = plan(&a, &MailboxState::default()).unwrap();
        assert_eq!(
            p.commands,
            vec![
                "CREATE \"user.u.Junk@example.org\" (USE (\\Junk))",
                "SETMETADATA \"user.u.Junk@example.org\" (\"/shared/vendor/cmu/cyrus-imapd/expire\" \"7\")"
            ]
        );
        assert_eq!(p.diffs()[0].after, "mailbox: user.u.Junk@example.org (\\Junk)\n/shared/vendor/cmu/cyrus-imapd/expire: 7\n");
    }

    #[test]
    fn changed_acl_quota_and_removals() {
        let s = parse_state("user.u.Junk@example.org", &parse_responses(JUNK, true).unwrap());
        let a = args(
            json!({"name": "user.u.Junk@example.org", "acl": {"anyone": "p", "cyrus": null}, "quota": 2048, "metadata": {"/shared/vendor/cmu/cyrus-imapd/expire": null}}),
        );
        let p = plan(&a, &s).unwrap();
        assert_eq!(
            p.commands,
            vec![
                "SETACL \"user.u.Junk@example.org\" \"anyone\" \"p\"",
                "DELETEACL \"user.u.Junk@example.org\" \"cyrus\"",
                "SETQUOTA \"user.u.Junk@example.org\" (STORAGE 2048)",
                "SETMETADATA \"user.u.Junk@example.org\" (\"/shared/vendor/cmu/cyrus-imapd/expire\" NIL)",
            ]
        );
        let a = args(json!({"name": "user.u.Junk@example.org", "acl": {"u@example.org": "lrswipkxtecdan"}, "acl_exhaustive": true}));
        assert_eq!(plan(&a, &s).unwrap().commands, vec!["DELETEACL \"user.u.Junk@example.org\" \"cyrus\""]);
    }

    #[test]
    fn autocreate_logs_in_as_the_owner_instead_of_creating() {
        let a = args(json!({"name": "user.first^last@example.org", "autocreate": true, "quota": 1024}));
        let p = plan(&a, &MailboxState::default()).unwrap();
        assert_eq!(p.login_as.as_deref(), Some("first.last@example.org"));
        assert_eq!(p.commands, vec!["SETQUOTA \"user.first^last@example.org\" (STORAGE 1024)"]);
        assert!(plan(&args(json!({"name": "user.u.Junk@example.org", "autocreate": true})), &MailboxState::default()).is_err());
        assert_eq!(inbox_owner("user.cyrus"), Some("cyrus".into()));
        assert_eq!(inbox_owner("user/first.last@example.org"), Some("first.last@example.org".into()));
        assert_eq!(inbox_owner("user/u/Junk@example.org"), None);
        assert_eq!(inbox_owner("user.u.Junk@example.org"), None);
        assert_eq!(inbox_owner("users/u@example.org"), None);
    }

    #[test]
    fn short_and_odd_server_replies_do_not_panic() {
        let s =
            parse_state("m", &parse_responses("* ACL\r\n* ACL m\r\n* ACL m u\r\n* QUOTA\r\n* METADATA\r\n* LIST\r\n*\r\n", true).unwrap());
        assert!(s.acl.is_empty() && !s.exists, "{s:?}");
    }

    #[test]
    fn injected_commands_are_refused_before_anything_is_sent() {
        let invalid = |v: Value| {
            let mut v = v;
            v["admin_password"] = json!("pw");
            let a: MailboxArgs = parse_args("cyrus_mailbox", &v).unwrap();
            CyrusMailboxModule::validate(&a).unwrap_err()
        };
        let e = invalid(json!({"name": "user.u@example.org\r\nt9 DELETE user.victim@example.org"}));
        assert!(e.contains("name") && e.contains("line break"), "{e}");
        let e = invalid(json!({"name": "m", "acl": {"anyone\r\nt9 DELETE x": "lr"}}));
        assert!(e.contains("acl") && e.contains("line break"), "{e}");
        let e = invalid(json!({"name": "m", "metadata": {"/shared/comment": "a\nb"}}));
        assert!(e.contains("/shared/comment") && e.contains("line break"), "{e}");
        let e = invalid(json!({"name": "m", "metadata": {"/shared/x\r\n": "1"}}));
        assert!(e.contains("line break"), "{e}");
        let e = invalid(json!({"name": "m", "special_use": "Junk))\r\nt9 DELETE x"}));
        assert!(e.contains("special_use"), "{e}");
        let e = invalid(json!({"name": "m", "server": "imap.example.org"}));
        assert!(e.contains("loopback"), "{e}");
        // And the plan cannot build one either, whatever validated.
        let mut a = args(json!({"name": "m"}));
        a.name = "m\r\nt9 LOGOUT".into();
        assert!(plan(&a, &MailboxState::default()).unwrap_err().contains("line break"));
    }

    #[test]
    fn bad_rights_and_entries_are_refused() {
        let mut v = json!({"name": "x", "acl": {"u": "lrz"}, "admin_password": "pw"});
        let a: MailboxArgs = parse_args("cyrus_mailbox", &v).unwrap();
        assert!(CyrusMailboxModule::validate(&a).unwrap_err().contains("'z' is not an IMAP ACL right"));
        v = json!({"name": "x", "metadata": {"expire": 7}, "admin_password": "pw"});
        let a: MailboxArgs = parse_args("cyrus_mailbox", &v).unwrap();
        assert!(CyrusMailboxModule::validate(&a).is_err());
        assert!(parse_args::<MailboxArgs>("cyrus_mailbox", &json!({"name": "x"})).is_err(), "admin_password is required");
    }
}
