//! `sieve_script`: a user's sieve script uploaded and activated over
//! ManageSieve (port 4190), as the Cyrus admin with proxy authorisation
//! (authorize as the user). The current script text is compared first, so
//! an unchanged script is neither uploaded nor re-activated.

use async_trait::async_trait;
use serde::Deserialize;

use super::session::{check_string, converse, parse_responses, quoted, tagged_status, Protocol, Response, ServerArgs, Token};
use crate::args::{loose_bool, loose_opt_string, loose_string};
use crate::module::{predicted, ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SieveArgs {
    /// The user whose script it is (e.g. `u@example.org`).
    #[serde(deserialize_with = "loose_string")]
    pub user: String,
    #[serde(default = "default_name", alias = "script", deserialize_with = "loose_string")]
    pub name: String,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub content: Option<String>,
    /// A template from the role's or playbook's `templates/`.
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub src: Option<String>,
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    pub active: bool,
    /// `false`: the user's choice wins, as with copy's force: the script is
    /// only put when it does not exist, and activated only when the user
    /// has no active script.
    #[serde(default = "yes", deserialize_with = "loose_bool")]
    pub force: bool,
    #[serde(default = "present", deserialize_with = "loose_string")]
    pub state: String,
    #[serde(flatten)]
    pub server: ServerArgs,
}

fn default_name() -> String {
    "mailplay".into()
}
fn yes() -> bool {
    true
}
fn present() -> String {
    "present".into()
}

/// The admin's names of a user's INBOX (virtual domains), with the `.`
/// separator (`first.last@example.org` → `user.first^last@example.org`) and
/// with `unixhierarchysep: yes` (`user/first.last@example.org`); a server
/// knows only the one of its own convention.
pub fn user_inbox_names(user: &str) -> [String; 2] {
    match user.split_once('@') {
        Some((local, domain)) => [format!("user.{}@{domain}", local.replace('.', "^")), format!("user/{local}@{domain}")],
        None => [format!("user.{}", user.replace('.', "^")), format!("user/{user}")],
    }
}

/// Scripts as the server keeps them: CRLF line ends.
fn crlf(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\n', "\r\n")
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SieveState {
    /// Script names and which one is active.
    pub scripts: Vec<(String, bool)>,
    /// The text of the script `name`, if it exists.
    pub current: Option<String>,
    /// The content wanted (rendered from src on the controller).
    pub wanted: Option<String>,
    /// Check mode: the user does not exist yet (an earlier task creates it).
    pub missing: Option<String>,
}

/// Read LISTSCRIPTS and GETSCRIPT replies (in that order).
pub fn parse_state(responses: &[Response]) -> SieveState {
    let mut s = SieveState::default();
    let mut after_list = false;
    for r in responses {
        match r.tokens.first() {
            Some(Token::Atom(a)) if a == "OK" || a == "NO" || a == "BYE" => after_list = true,
            // LISTSCRIPTS: "name" [ACTIVE]
            Some(Token::Str(name)) if !after_list => {
                let active = r.tokens.get(1).and_then(Token::text).is_some_and(|t| t.eq_ignore_ascii_case("ACTIVE"));
                s.scripts.push((name.clone(), active));
            }
            // GETSCRIPT: the script as a literal
            Some(Token::Str(text)) if r.tokens.len() == 1 && s.current.is_none() => s.current = Some(text.clone()),
            _ => {}
        }
    }
    s
}

#[derive(Debug, Clone, PartialEq)]
pub struct SievePlan {
    pub commands: Vec<String>,
    pub before: String,
    pub after: String,
}

impl Plan for SievePlan {
    fn changes_anything(&self) -> bool {
        !self.commands.is_empty()
    }
    /// Mailboxes and scripts live in the server, not in the overlay.
    fn effects(&self) -> Vec<crate::planned::Effect> {
        Vec::new()
    }
    fn diffs(&self) -> Vec<Diff> {
        vec![Diff::new("sieve script", self.before.clone(), self.after.clone())]
    }
}

pub fn plan(a: &SieveArgs, s: &SieveState) -> Result<SievePlan, String> {
    let name = quoted(&a.name)?;
    let is_active = s.scripts.iter().any(|(n, act)| n == &a.name && *act);
    let mut cmds = Vec::new();
    let before = s.current.as_deref().map(|c| c.replace("\r\n", "\n")).unwrap_or_default();
    if a.state == "absent" {
        if s.current.is_some() {
            if is_active {
                cmds.push("SETACTIVE \"\"".to_string());
            }
            cmds.push(format!("DELETESCRIPT {name}"));
        }
        return Ok(SievePlan { commands: cmds, before, after: String::new() });
    }
    let want = crlf(s.wanted.as_deref().unwrap_or(""));
    let other_active = s.scripts.iter().any(|(n, act)| *act && n != &a.name);
    if !a.force && other_active {
        // The user chose a script of their own: leave theirs and ours alone.
        return Ok(SievePlan { commands: cmds, before: before.clone(), after: before });
    }
    let differs = s.current.as_deref().map(crlf).as_deref() != Some(want.as_str());
    if differs && (a.force || s.current.is_none()) {
        cmds.push(format!("PUTSCRIPT {name} {{{}+}}\r\n{want}", want.len()));
    }
    if a.active && !is_active {
        cmds.push(format!("SETACTIVE {name}"));
    }
    let after = if cmds.is_empty() { before.clone() } else { want.replace("\r\n", "\n") };
    Ok(SievePlan { commands: cmds, before, after })
}

/// The session: authenticate as admin for the user, the commands, logout.
fn session(a: &SieveArgs, commands: &[String]) -> String {
    let mut s = format!("AUTHENTICATE \"PLAIN\" \"{}\"\r\n", a.server.plain_response(Some(&a.user)));
    for c in commands {
        s.push_str(c);
        s.push_str("\r\n");
    }
    s.push_str("LOGOUT\r\n");
    s
}

fn unreadable(r: Result<Vec<Response>, String>, server: &str) -> Result<Vec<Response>, ModuleError> {
    r.map_err(|e| ModuleError::failed(format!("unreadable reply from the {server} server: {e}")))
}

/// A command's completion: its position among the replies, whether it was
/// OK, and the server's text.
type Status = (usize, bool, String);

/// The OK/NO lines in order: the first ends the server's capability
/// listing (greeting, or repeated after STARTTLS), the second answers
/// AUTHENTICATE, then one per command.
fn statuses(r: &[Response]) -> Vec<Status> {
    r.iter()
        .enumerate()
        .filter_map(|(i, x)| match x.tokens.first() {
            Some(Token::Atom(a)) if a == "OK" || a == "NO" => Some((i, a == "OK", x.text.clone())),
            _ => None,
        })
        .collect()
}

/// The replies after a successful AUTHENTICATE.
fn after_auth<'r>(a: &SieveArgs, r: &'r [Response], out: &str) -> Result<(&'r [Response], Vec<Status>), ModuleError> {
    let st = statuses(r);
    match st.get(1) {
        Some((i, true, _)) => Ok((&r[i + 1..], st[2..].to_vec())),
        Some((_, false, why)) => {
            Err(ModuleError::failed(format!("ManageSieve login as {} for {} failed: {why}", a.server.admin_user, a.user)))
        }
        None => Err(ModuleError::failed(format!("no reply from ManageSieve: {}", out.trim()))),
    }
}

pub struct SieveScriptModule;

#[async_trait]
impl Module for SieveScriptModule {
    type Args = SieveArgs;
    type State = SieveState;
    type Plan = SievePlan;
    const NAME: &'static str = "sieve_script";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Upload and activate a user's sieve script over ManageSieve, as admin with proxy authorisation; unchanged scripts are left alone.",
            args: vec![
                ArgDoc { name: "user", ty: "string", required: true, default: None, description: "The script's owner, e.g. u@example.org." },
                ArgDoc { name: "name", ty: "string", required: false, default: Some("mailplay"), description: "Script name." },
                ArgDoc { name: "content", ty: "string", required: false, default: None, description: "Script text." },
                ArgDoc { name: "src", ty: "path", required: false, default: None, description: "A template (templates/) rendered on the controller." },
                ArgDoc { name: "active", ty: "bool", required: false, default: Some("true"), description: "Make it the active script." },
                ArgDoc {
                    name: "force",
                    ty: "bool",
                    required: false,
                    default: Some("true"),
                    description: "false: the user's choice wins: put the script only if it does not exist, activate it only if no script is active.",
                },
                ArgDoc { name: "state", ty: "string", required: false, default: Some("present"), description: "present or absent." },
                ArgDoc { name: "admin_user", ty: "string", required: false, default: Some("cyrus"), description: "Admin that authenticates." },
                ArgDoc { name: "admin_password", ty: "secret", required: true, default: None, description: "The admin's password." },
                ArgDoc { name: "server", ty: "string", required: false, default: Some("127.0.0.1"), description: "ManageSieve server on the host itself: a loopback address (127.0.0.1, ::1, localhost); others are refused, as the certificate is not verified." },
                ArgDoc { name: "port", ty: "int", required: false, default: Some("4190"), description: "ManageSieve port." },
                ArgDoc { name: "tls", ty: "string", required: false, default: Some("starttls"), description: "starttls or tls." },
            ],
            example: "- sieve_script:\n    user: u@example.org\n    content: |\n      require \"fileinto\";\n      if header :is \"X-Spam\" \"YES\" { fileinto \"Junk\"; }\n    admin_password: \"{{ mail_admin_password }}\"",
        }
    }

    fn validate(a: &SieveArgs) -> Result<(), String> {
        if !matches!(a.state.as_str(), "present" | "absent") {
            return Err(format!("value of state must be one of: present, absent, got: {}", a.state));
        }
        if a.state == "present" && a.content.is_some() == a.src.is_some() {
            return Err("give exactly one of content and src".into());
        }
        a.server.validate()?;
        check_string("name", &a.name)?;
        check_string("user", &a.user)
    }

    fn secret_values(a: &SieveArgs) -> Vec<String> {
        vec![a.server.admin_password.expose().to_string()]
    }

    async fn probe(a: &SieveArgs, ctx: &Context<'_>) -> Result<SieveState, ModuleError> {
        let wanted = match (&a.content, &a.src) {
            (Some(c), _) => Some(c.clone()),
            (None, Some(src)) => {
                let path = ctx.controller.find_file("templates", src).map_err(ModuleError::failed)?;
                Some(ctx.controller.render_template_file(&path, &Default::default()).map_err(ModuleError::failed)?)
            }
            _ => None,
        };
        let out = match converse(
            ctx.host,
            &a.server,
            Protocol::Sieve,
            session(a, &["LISTSCRIPTS".into(), format!("GETSCRIPT {}", quoted(&a.name).map_err(ModuleError::failed)?)]),
            !ctx.check_mode,
        )
        .await
        {
            // Check mode on a fresh host: Cyrus is not started yet.
            Err(ModuleError::Failed(m)) if ctx.check_mode && m.starts_with("cannot talk to") => {
                super::session::note_if_planned(ctx);
                return Ok(SieveState { missing: Some(m), wanted, ..Default::default() });
            }
            other => other?,
        };
        let r = unreadable(parse_responses(&out, false), "ManageSieve")?;
        let rest = match after_auth(a, &r, &out) {
            Ok((rest, _)) => rest,
            Err(e) => {
                // Proxy authorisation fails for a user without a mailbox.
                // Tell that apart from a wrong admin password over IMAP.
                let imap = ServerArgs { port: None, ..a.server.clone() };
                let [dotted, slashed] = user_inbox_names(&a.user);
                let (dotted, slashed) = (quoted(&dotted).map_err(ModuleError::failed)?, quoted(&slashed).map_err(ModuleError::failed)?);
                let out = converse(
                    ctx.host,
                    &imap,
                    Protocol::Imap,
                    format!(
                        "a AUTHENTICATE PLAIN {}\r\nb LIST \"\" {dotted}\r\nc LIST \"\" {slashed}\r\nz LOGOUT\r\n",
                        imap.plain_response(None)
                    ),
                    !ctx.check_mode,
                )
                .await?;
                let r = unreadable(parse_responses(&out, true), "IMAP")?;
                let has_inbox = r.iter().any(|x| x.tag == "*" && x.tokens.first().and_then(Token::text) == Some("LIST"));
                if tagged_status(&r, "a").is_err() || has_inbox {
                    return Err(e);
                }
                let why = format!("{} may not act for {}: the user has no mailbox", a.server.admin_user, a.user);
                if ctx.check_mode {
                    return Ok(SieveState { missing: Some(why), wanted, ..Default::default() });
                }
                return Err(ModuleError::failed(why));
            }
        };
        let mut s = parse_state(rest);
        s.wanted = wanted;
        Ok(s)
    }

    fn plan(a: &SieveArgs, s: &SieveState) -> Result<SievePlan, ModuleError> {
        plan(a, s).map_err(ModuleError::failed)
    }

    fn check_result(_a: &SieveArgs, s: &SieveState, p: &SievePlan) -> ModuleResult {
        predicted(p.changes_anything(), s.missing.as_ref())
    }

    async fn apply(a: &SieveArgs, p: SievePlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let out = converse(ctx.host, &a.server, Protocol::Sieve, session(a, &p.commands), !ctx.check_mode).await?;
        let r = unreadable(parse_responses(&out, false), "ManageSieve")?;
        let (_, st) = after_auth(a, &r, &out)?;
        for (i, c) in p.commands.iter().enumerate() {
            let what = c.lines().next().unwrap_or(c);
            match st.get(i) {
                Some((_, true, _)) => {}
                Some((_, false, why)) => return Ok(ModuleResult::failed(format!("{what}: {why}"))),
                None => return Ok(ModuleResult::failed(format!("no reply to {what}: {}", out.trim()))),
            }
        }
        Ok(ModuleResult::changed(true).with("script", a.name.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    const SCRIPT: &str = "require \"fileinto\";\nif header :is \"X-Spam\" \"YES\" {\n  fileinto \"Junk\";\n}\n";

    fn args(v: serde_json::Value) -> SieveArgs {
        let mut v = v;
        v["admin_password"] = json!("pw");
        parse_args("sieve_script", &v).unwrap()
    }

    fn state(listing: &str) -> SieveState {
        let mut s = parse_state(&parse_responses(listing, false).unwrap());
        s.wanted = Some(SCRIPT.into());
        s
    }

    #[test]
    fn an_identical_active_script_is_left_alone() {
        let body = crlf(SCRIPT);
        let s = state(&format!(
            "\"mailplay\" ACTIVE\r\nOK \"Listscripts completed.\"\r\n{{{}}}\r\n{body}\r\nOK \"Getscript completed.\"\r\n",
            body.len()
        ));
        assert_eq!(s.scripts, vec![("mailplay".to_string(), true)]);
        assert!(!plan(&args(json!({"user": "u@example.org", "content": SCRIPT})), &s).unwrap().changes_anything());
    }

    #[test]
    fn a_missing_or_different_script_is_put_and_activated() {
        let s = state("OK \"Listscripts completed.\"\r\nNO (NONEXISTENT) \"Script doesn't exist\"\r\n");
        assert_eq!(s.current, None);
        let p = plan(&args(json!({"user": "u@example.org", "content": SCRIPT})), &s).unwrap();
        assert_eq!(p.commands.len(), 2);
        assert!(p.commands[0].starts_with(&format!("PUTSCRIPT \"mailplay\" {{{}+}}\r\nrequire", crlf(SCRIPT).len())));
        assert_eq!(p.commands[1], "SETACTIVE \"mailplay\"");
        let s = state("\"mailplay\"\r\nOK\r\n{5}\r\nkeep;\r\nOK\r\n");
        let p = plan(&args(json!({"user": "u@example.org", "content": SCRIPT})), &s).unwrap();
        assert_eq!(p.diffs()[0].before, "keep;");
    }

    #[test]
    fn without_force_a_users_own_choice_is_kept() {
        let keep =
            |listing: &str| plan(&args(json!({"user": "u@example.org", "content": SCRIPT, "force": false})), &state(listing)).unwrap();
        // The user activated a script of their own: ours is neither put nor activated.
        let own = keep("\"mine\" ACTIVE\r\n\"mailplay\"\r\nOK\r\n{5}\r\nkeep;\r\nOK\r\n");
        assert!(!own.changes_anything(), "{:?}", own.commands);
        // Nothing active, ours exists (edited by the user): activated, not replaced.
        let idle = keep("\"mailplay\"\r\nOK\r\n{5}\r\nkeep;\r\nOK\r\n");
        assert_eq!(idle.commands, ["SETACTIVE \"mailplay\""]);
        // A user without scripts gets ours, active.
        let fresh = keep("OK \"Listscripts completed.\"\r\nNO (NONEXISTENT) \"Script doesn't exist\"\r\n");
        assert_eq!(fresh.commands.len(), 2);
        // With force (the default) ours is put back and activated.
        let forced = plan(
            &args(json!({"user": "u@example.org", "content": SCRIPT})),
            &state("\"mine\" ACTIVE\r\n\"mailplay\"\r\nOK\r\n{5}\r\nkeep;\r\nOK\r\n"),
        )
        .unwrap();
        assert_eq!(forced.commands.len(), 2);
    }

    #[test]
    fn injected_commands_are_refused_before_anything_is_sent() {
        let e = SieveScriptModule::validate(&args(json!({"user": "u", "name": "x\"\r\nDELETESCRIPT \"other", "content": "keep;"})))
            .unwrap_err();
        assert!(e.contains("name") && e.contains("line break"), "{e}");
        let e = SieveScriptModule::validate(&args(json!({"user": "u\0admin", "content": "keep;"}))).unwrap_err();
        assert!(e.contains("user") && e.contains("NUL"), "{e}");
        let e = SieveScriptModule::validate(&args(json!({"user": "u", "content": "keep;", "server": "10.1.1.1"}))).unwrap_err();
        assert!(e.contains("loopback"), "{e}");
        let mut a = args(json!({"user": "u", "content": "keep;"}));
        a.name = "x\nLOGOUT".into();
        assert!(plan(&a, &SieveState::default()).unwrap_err().contains("line break"));
    }

    #[test]
    fn replies_without_a_login_answer_are_an_error() {
        let a = args(json!({"user": "u", "content": "keep;"}));
        for out in ["", "OK\r\n", "\"x\" ACTIVE\r\n{3}\r\nab"] {
            if let Ok(r) = parse_responses(out, false) {
                assert!(after_auth(&a, &r, out).is_err(), "{out:?}");
            }
        }
    }

    #[test]
    fn inbox_names_follow_cyrus_virtual_domains() {
        assert_eq!(user_inbox_names("first.last@example.org"), ["user.first^last@example.org", "user/first.last@example.org"]);
        assert_eq!(user_inbox_names("u"), ["user.u", "user/u"]);
    }

    #[test]
    fn absent_deactivates_and_deletes() {
        let s = state("\"mailplay\" ACTIVE\r\nOK\r\n{5}\r\nkeep;\r\nOK\r\n");
        assert_eq!(
            plan(&args(json!({"user": "u", "state": "absent"})), &s).unwrap().commands,
            vec!["SETACTIVE \"\"", "DELETESCRIPT \"mailplay\""]
        );
    }
}
