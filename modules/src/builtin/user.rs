//! `user`: a local account with its uid, groups, home, shell and password
//! hash. One round trip reads passwd, the supplementary groups, the
//! primary group's gid and the shadow hash; useradd/usermod get only the
//! options that differ. The password hash goes to `chpasswd -e` on stdin
//! and is never shown.

use std::collections::BTreeSet;

use async_trait::async_trait;
use serde::Deserialize;

use crate::args::{loose_bool, loose_opt_f64, loose_opt_i64, loose_opt_string, loose_string, value_to_list};
use crate::host::{quote, Command};
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};
use crate::planned::{Effect, UserChange};
use crate::secret::Secret;

fn yes() -> bool {
    true
}
fn present() -> String {
    "present".into()
}

fn opt_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    value_to_list(&v).map(Some).map_err(serde::de::Error::custom)
}

fn always() -> String {
    "always".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserArgs {
    #[serde(deserialize_with = "loose_string")]
    pub name: String,
    #[serde(default = "present", deserialize_with = "loose_string")]
    pub state: String,
    #[serde(default, deserialize_with = "crate::args::loose_opt_u32")]
    pub uid: Option<u32>,
    /// Primary group.
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub group: Option<String>,
    /// Supplementary groups (exactly these, unless `append`).
    #[serde(default, deserialize_with = "opt_list")]
    pub groups: Option<Vec<String>>,
    #[serde(default, deserialize_with = "loose_bool")]
    pub append: bool,
    #[serde(default, deserialize_with = "loose_bool")]
    pub system: bool,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub home: Option<String>,
    /// Ansible's alias `createhome` too.
    #[serde(default = "yes", deserialize_with = "loose_bool", alias = "createhome")]
    pub create_home: bool,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub shell: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub comment: Option<String>,
    /// A crypt hash (`$6$...`), as in Ansible.
    #[serde(default)]
    pub password: Option<Secret>,
    /// Account expiry, seconds since the epoch (Ansible's float); negative
    /// removes it. Compared and set by the day (UTC), as Ansible does.
    #[serde(default, deserialize_with = "loose_opt_f64")]
    pub expires: Option<f64>,
    /// Password aging in days (`chage -m`, `-M`, `-W`).
    #[serde(default, deserialize_with = "loose_opt_i64")]
    pub password_expire_min: Option<i64>,
    #[serde(default, deserialize_with = "loose_opt_i64")]
    pub password_expire_max: Option<i64>,
    #[serde(default, deserialize_with = "loose_opt_i64")]
    pub password_expire_warn: Option<i64>,
    /// Days after the password expires until the account is disabled (`-f`).
    #[serde(default, deserialize_with = "loose_opt_i64")]
    pub password_expire_account_disable: Option<i64>,
    /// `always` (the default) or `on_create`: the password of an existing
    /// account is then left as it is.
    #[serde(default = "always", deserialize_with = "loose_string")]
    pub update_password: String,
    /// With state=absent: remove the home directory too.
    #[serde(default, deserialize_with = "loose_bool")]
    pub remove: bool,
    /// With state=absent: `userdel -f` (even while logged in, a home
    /// another user shares), as Ansible; present ignores it, as Ansible.
    #[serde(default, deserialize_with = "loose_bool")]
    pub force: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Account {
    pub uid: u32,
    pub gid: u32,
    pub comment: String,
    pub home: String,
    pub shell: String,
    pub groups: BTreeSet<String>,
    pub password: String,
    /// Shadow's expiry, days since the epoch (None: never).
    pub expires_days: Option<i64>,
    /// Shadow's aging fields: minimum, maximum, warning, inactive days
    /// (None: empty).
    pub aging: [Option<i64>; 4],
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserState {
    pub account: Option<Account>,
    /// gid of the wanted primary group (None: no such group, or not asked).
    pub group_gid: Option<u32>,
    /// Probed in check mode: a missing group may come from an earlier task.
    pub check_mode: bool,
}

/// Probe output: `passwd:LINE`, `groups:NAMES`, `gid:N`, `shadow:HASH`.
pub fn parse_state(out: &str) -> UserState {
    let get = |k: &str| out.lines().find_map(|l| l.strip_prefix(k)).map(str::trim);
    let account = get("passwd:").filter(|l| !l.is_empty()).and_then(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7).then(|| Account {
            uid: f[2].parse().unwrap_or(0),
            gid: f[3].parse().unwrap_or(0),
            comment: f[4].to_string(),
            home: f[5].to_string(),
            shell: f[6].to_string(),
            groups: BTreeSet::new(),
            password: String::new(),
            expires_days: None,
            aging: [None; 4],
        })
    });
    let account = account.map(|mut a| {
        // `id -nG` lists the primary group first; only the others are supplementary.
        let names: Vec<&str> = get("groups:").unwrap_or("").split_whitespace().collect();
        a.groups = names.iter().skip(1).map(|s| s.to_string()).collect();
        a.password = get("shadow:").unwrap_or("").to_string();
        a.expires_days = get("expire:").and_then(|d| d.parse().ok());
        let aging: Vec<Option<i64>> = get("aging:").unwrap_or("").split(':').map(|f| f.trim().parse().ok()).collect();
        for (slot, value) in a.aging.iter_mut().zip(aging) {
            *slot = value;
        }
        a
    });
    UserState { account, group_gid: get("gid:").and_then(|g| g.parse().ok()), check_mode: false }
}

#[derive(Debug, Clone, PartialEq)]
pub struct UserPlan {
    pub command: Option<Vec<String>>,
    /// `chage` for the password aging (after the command).
    pub chage: Option<Vec<String>>,
    /// The account after applying (check mode's overlay), when anything changes.
    pub effect: Option<UserChange>,
    /// Set the password hash (after the command).
    pub set_password: bool,
    pub before: String,
    pub after: String,
}

impl Plan for UserPlan {
    fn changes_anything(&self) -> bool {
        self.command.is_some() || self.chage.is_some() || self.set_password
    }
    fn diffs(&self) -> Vec<Diff> {
        vec![Diff::new("user", self.before.clone(), self.after.clone())]
    }
    fn effects(&self) -> Vec<Effect> {
        self.effect.iter().map(|u| Effect::User(u.clone())).collect()
    }
}

/// The plan, with its effect on the account when it changes anything.
pub fn plan(a: &UserArgs, s: &UserState) -> Result<UserPlan, String> {
    let mut p = plan_commands(a, s)?;
    if a.state != "absent" {
        if let Some((argv, before, after)) = aging_change(a, s.account.as_ref()) {
            let header = format!("user: {}\n", a.name);
            if p.before.is_empty() && s.account.is_some() {
                p.before = header.clone();
            }
            if p.after.is_empty() {
                p.after = header;
            }
            p.before.push_str(&before);
            p.after.push_str(&after);
            p.chage = Some(argv);
        }
    }
    if p.changes_anything() {
        p.effect = Some(super::user_planned::effect(a, s));
    }
    Ok(p)
}

/// Ansible's set_password_expire: `chage` with the aging fields that
/// differ from the shadow entry (all given ones for a new account), and the
/// diff lines.
fn aging_change(a: &UserArgs, cur: Option<&Account>) -> Option<(Vec<String>, String, String)> {
    let wanted = [
        ("-m", "password_expire_min", a.password_expire_min),
        ("-M", "password_expire_max", a.password_expire_max),
        ("-W", "password_expire_warn", a.password_expire_warn),
    ];
    let mut argv = vec!["chage".to_string()];
    let (mut before, mut after) = (String::new(), String::new());
    for (i, (flag, label, want)) in wanted.iter().enumerate() {
        let Some(want) = want else { continue };
        let have = cur.and_then(|c| c.aging[i]);
        if cur.is_some() && have == Some(*want) {
            continue;
        }
        argv.extend([flag.to_string(), want.to_string()]);
        if let Some(h) = have {
            before.push_str(&format!("{label}: {h}\n"));
        }
        after.push_str(&format!("{label}: {want}\n"));
    }
    if argv.len() == 1 {
        return None;
    }
    argv.push(a.name.clone());
    Some((argv, before, after))
}

fn plan_commands(a: &UserArgs, s: &UserState) -> Result<UserPlan, String> {
    let s_ = |v: &str| v.to_string();
    let mut before = Vec::new();
    let mut after = Vec::new();
    if a.state == "absent" {
        return Ok(match &s.account {
            None => UserPlan { effect: None, command: None, chage: None, set_password: false, before: String::new(), after: String::new() },
            Some(_) => {
                let mut c = vec![s_("userdel")];
                if a.force {
                    c.push(s_("-f"));
                }
                if a.remove {
                    c.push(s_("-r"));
                }
                c.push(a.name.clone());
                UserPlan {
                    effect: None,
                    chage: None,
                    command: Some(c),
                    set_password: false,
                    before: format!("user: {}\n", a.name),
                    after: String::new(),
                }
            }
        });
    }
    if let (Some(g), None, false) = (&a.group, s.group_gid, s.check_mode) {
        return Err(format!("group {g} does not exist"));
    }
    let wanted_hash = a.password.as_ref().map(|p| p.expose().to_string());
    match &s.account {
        None => {
            let mut c = vec![s_("useradd")];
            let mut opt = |flag: &str, v: &Option<String>, label: &str| {
                if let Some(v) = v {
                    c.extend([s_(flag), v.clone()]);
                    after.push(format!("{label}: {v}"));
                }
            };
            opt("-u", &a.uid.map(|u| u.to_string()), "uid");
            opt("-g", &a.group, "group");
            opt("-G", &a.groups.as_ref().filter(|g| !g.is_empty()).map(|g| g.join(",")), "groups");
            opt("-d", &a.home, "home");
            opt("-s", &a.shell, "shell");
            opt("-c", &a.comment, "comment");
            if let Some(days) = a.password_expire_account_disable {
                c.extend([s_("-f"), days.to_string()]);
                after.push(format!("password_expire_account_disable: {days}"));
            }
            if let Some(e) = a.expires {
                let date = expiry_date(e);
                after.push(format!("expires: {}", if date.is_empty() { "never" } else { &date }));
                c.extend([s_("-e"), date]);
            }
            if a.system {
                c.push(s_("-r"));
            }
            c.push(s_(if a.create_home { "-m" } else { "-M" }));
            c.push(a.name.clone());
            after.insert(0, format!("user: {}", a.name));
            if wanted_hash.is_some() {
                after.push(s_("password: (set)"));
            }
            Ok(UserPlan {
                effect: None,
                chage: None,
                command: Some(c),
                set_password: wanted_hash.is_some(),
                before: String::new(),
                after: lines(&after),
            })
        }
        Some(cur) => {
            let mut c = vec![s_("usermod")];
            let mut field = |flag: &str, label: &str, want: Option<String>, have: String| {
                if let Some(w) = want.filter(|w| *w != have) {
                    c.extend([s_(flag), w.clone()]);
                    before.push(format!("{label}: {have}"));
                    after.push(format!("{label}: {w}"));
                }
            };
            field("-u", "uid", a.uid.map(|u| u.to_string()), cur.uid.to_string());
            if let Some(g) = &a.group {
                // No gid yet only in check mode: the group is still to be created.
                if s.group_gid != Some(cur.gid) {
                    field("-g", "group", Some(g.clone()), cur.gid.to_string());
                }
            }
            field("-d", "home", a.home.clone(), cur.home.clone());
            field("-s", "shell", a.shell.clone(), cur.shell.clone());
            field("-c", "comment", a.comment.clone(), cur.comment.clone());
            if let Some(groups) = &a.groups {
                let want: BTreeSet<String> = groups.iter().cloned().collect();
                let missing: Vec<String> = want.difference(&cur.groups).cloned().collect();
                let exact_differs = want != cur.groups;
                if a.append && !missing.is_empty() {
                    c.extend([s_("-a"), s_("-G"), missing.join(",")]);
                } else if !a.append && exact_differs {
                    c.extend([s_("-G"), want.iter().cloned().collect::<Vec<_>>().join(",")]);
                }
                if (a.append && !missing.is_empty()) || (!a.append && exact_differs) {
                    let have: Vec<String> = cur.groups.iter().cloned().collect();
                    let new: BTreeSet<String> = if a.append { cur.groups.union(&want).cloned().collect() } else { want };
                    before.push(format!("groups: {}", have.join(",")));
                    after.push(format!("groups: {}", new.into_iter().collect::<Vec<_>>().join(",")));
                }
            }
            if let Some(days) = a.password_expire_account_disable {
                // An empty field is -1 for usermod -f (never disabled).
                let have = cur.aging[3].unwrap_or(-1);
                if have != days {
                    c.extend([s_("-f"), days.to_string()]);
                    before.push(format!("password_expire_account_disable: {have}"));
                    after.push(format!("password_expire_account_disable: {days}"));
                }
            }
            if let Some(e) = a.expires {
                let want = (e >= 0.0).then(|| (e / 86400.0).floor() as i64);
                let have = cur.expires_days.filter(|d| *d >= 0);
                if want != have {
                    let shown = |d: Option<i64>| d.map(civil_date).unwrap_or_else(|| "never".into());
                    before.push(format!("expires: {}", shown(have)));
                    after.push(format!("expires: {}", shown(want)));
                    c.extend([s_("-e"), expiry_date(e)]);
                }
            }
            let set_password = a.update_password == "always" && wanted_hash.as_ref().is_some_and(|h| *h != cur.password);
            if set_password {
                before.push(s_("password: (old)"));
                after.push(s_("password: (changed)"));
            }
            c.push(a.name.clone());
            let command = (c.len() > 2).then_some(c);
            if command.is_none() && !set_password {
                return Ok(UserPlan {
                    effect: None,
                    command: None,
                    chage: None,
                    set_password: false,
                    before: String::new(),
                    after: String::new(),
                });
            }
            before.insert(0, format!("user: {}", a.name));
            after.insert(0, format!("user: {}", a.name));
            Ok(UserPlan { effect: None, command, chage: None, set_password, before: lines(&before), after: lines(&after) })
        }
    }
}

/// `useradd/usermod -e`: the UTC date of `expires`, or empty (never).
fn expiry_date(expires: f64) -> String {
    if expires < 0.0 {
        String::new()
    } else {
        civil_date((expires / 86400.0).floor() as i64)
    }
}

/// YYYY-MM-DD of a day count since 1970-01-01 (the proleptic Gregorian
/// calendar, H. Hinnant's civil_from_days).
fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn lines(v: &[String]) -> String {
    v.iter().map(|l| format!("{l}\n")).collect()
}

pub struct UserModule;

#[async_trait]
impl Module for UserModule {
    type Args = UserArgs;
    type State = UserState;
    type Plan = UserPlan;
    const NAME: &'static str = "user";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Add, change or remove a local user: uid, primary and supplementary groups, home, shell, password hash.",
            args: vec![
                ArgDoc { name: "name", ty: "string", required: true, default: None, description: "User name." },
                ArgDoc { name: "state", ty: "string", required: false, default: Some("present"), description: "present or absent." },
                ArgDoc { name: "uid", ty: "int", required: false, default: None, description: "User id." },
                ArgDoc { name: "group", ty: "string", required: false, default: None, description: "Primary group." },
                ArgDoc { name: "groups", ty: "list", required: false, default: None, description: "Supplementary groups." },
                ArgDoc {
                    name: "append",
                    ty: "bool",
                    required: false,
                    default: Some("false"),
                    description: "Add to groups instead of setting exactly these.",
                },
                ArgDoc { name: "system", ty: "bool", required: false, default: Some("false"), description: "Create a system account." },
                ArgDoc { name: "home", ty: "path", required: false, default: None, description: "Home directory." },
                ArgDoc {
                    name: "create_home",
                    ty: "bool",
                    required: false,
                    default: Some("true"),
                    description: "Create the home directory with a new user.",
                },
                ArgDoc { name: "shell", ty: "path", required: false, default: None, description: "Login shell." },
                ArgDoc { name: "comment", ty: "string", required: false, default: None, description: "GECOS field." },
                ArgDoc {
                    name: "password",
                    ty: "secret",
                    required: false,
                    default: None,
                    description: "Crypt hash ($6$...), set with chpasswd -e, never shown.",
                },
                ArgDoc {
                    name: "password_expire_min",
                    ty: "int",
                    required: false,
                    default: None,
                    description: "Minimum days between password changes (chage -m).",
                },
                ArgDoc {
                    name: "password_expire_max",
                    ty: "int",
                    required: false,
                    default: None,
                    description: "Maximum days a password is valid (chage -M).",
                },
                ArgDoc {
                    name: "password_expire_warn",
                    ty: "int",
                    required: false,
                    default: None,
                    description: "Days of warning before a password expires (chage -W).",
                },
                ArgDoc {
                    name: "password_expire_account_disable",
                    ty: "int",
                    required: false,
                    default: None,
                    description: "Days after the password expires until the account is disabled (-f).",
                },
                ArgDoc {
                    name: "expires",
                    ty: "float",
                    required: false,
                    default: None,
                    description: "Account expiry in seconds since the epoch (by the UTC day); negative: never.",
                },
                ArgDoc {
                    name: "update_password",
                    ty: "string",
                    required: false,
                    default: Some("always"),
                    description: "always, or on_create: an existing account keeps its password.",
                },
                ArgDoc {
                    name: "remove",
                    ty: "bool",
                    required: false,
                    default: Some("false"),
                    description: "With absent: remove the home directory.",
                },
                ArgDoc {
                    name: "force",
                    ty: "bool",
                    required: false,
                    default: Some("false"),
                    description: "With absent: userdel -f (remove even while the user is logged in).",
                },
            ],
            example: "- user:\n    name: cyrus\n    groups: [sasl, ssl-cert]\n    append: yes",
        }
    }

    fn validate(a: &UserArgs) -> Result<(), String> {
        if !matches!(a.state.as_str(), "present" | "absent") {
            return Err(format!("value of state must be one of: present, absent, got: {}", a.state));
        }
        if !["always", "on_create"].contains(&a.update_password.as_str()) {
            return Err(format!("value of update_password must be one of: always, on_create, got: {}", a.update_password));
        }
        if a.password.as_ref().is_some_and(|p| !p.expose().starts_with('$') && p.expose() != "!" && p.expose() != "*") {
            return Err("password must be a crypt hash (use the password_hash filter), not clear text".into());
        }
        Ok(())
    }

    fn secret_values(a: &UserArgs) -> Vec<String> {
        a.password.iter().map(|p| p.expose().to_string()).collect()
    }

    async fn probe(a: &UserArgs, ctx: &Context<'_>) -> Result<UserState, ModuleError> {
        let n = quote(&a.name);
        let mut script = format!("printf 'passwd:%s\\n' \"$(getent passwd {n})\"; printf 'groups:%s\\n' \"$(id -nG {n} 2>/dev/null)\"; printf 'shadow:%s\\n' \"$(getent shadow {n} | cut -d: -f2)\"; printf 'expire:%s\\n' \"$(getent shadow {n} | cut -d: -f8)\"; printf 'aging:%s\\n' \"$(getent shadow {n} | cut -d: -f4-7)\"");
        if let Some(g) = &a.group {
            script.push_str(&format!("; printf 'gid:%s\\n' \"$(getent group {} | cut -d: -f3)\"", quote(g)));
        }
        let out = ctx.host.exec(&Command::shell(script)).await?;
        let state = UserState { check_mode: ctx.check_mode, ..parse_state(&out.stdout_str()) };
        Ok(match ctx.rehearsal() {
            Some(planned) => super::user_planned::with_planned(state, planned, a, &|why| ctx.assume(why)),
            None => state,
        })
    }

    fn plan(a: &UserArgs, s: &UserState) -> Result<UserPlan, ModuleError> {
        plan(a, s).map_err(ModuleError::failed)
    }

    async fn apply(a: &UserArgs, p: UserPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        if let Some(argv) = &p.command {
            let out = ctx.host.exec(&Command::argv(argv.clone())).await?;
            if !out.success() {
                return Ok(ModuleResult::failed(format!("{} failed: {}", argv[0], out.stderr_str().trim())));
            }
        }
        if let Some(argv) = &p.chage {
            let out = ctx.host.exec(&Command::argv(argv.clone())).await?;
            if !out.success() {
                return Ok(ModuleResult::failed(out.stderr_str().trim().to_string()).with("name", a.name.clone()).with("rc", out.rc));
            }
        }
        if p.set_password {
            let hash = a.password.as_ref().map(|p| p.expose().to_string()).unwrap_or_default();
            let out = ctx.host.exec(&Command::argv(["chpasswd", "-e"]).stdin(format!("{}:{hash}\n", a.name).into_bytes())).await?;
            if !out.success() {
                return Ok(ModuleResult::failed(format!("chpasswd failed: {}", out.stderr_str().trim())));
            }
        }
        let r = ModuleResult::changed(true).with("name", a.name.clone()).with("state", a.state.clone());
        if a.state != "present" {
            return Ok(r);
        }
        // What the account is now, as Ansible's module reports it.
        let out = ctx.host.exec(&Command::argv(["getent", "passwd", &a.name])).await?;
        let now = parse_state(&format!("passwd:{}", out.stdout_str().trim()));
        Ok(match &now.account {
            Some(acct) => account_keys(r, acct).with("system", a.system).with("create_home", a.create_home),
            None => r,
        })
    }

    fn unchanged_result(a: &UserArgs, s: &UserState) -> ModuleResult {
        let r = ModuleResult::ok().with("name", a.name.clone()).with("state", a.state.clone());
        match &s.account {
            Some(acct) if a.state == "present" => account_keys(r, acct).with("append", a.append),
            _ => r,
        }
    }
}

/// The account's keys in Ansible's result (`group` is the primary gid).
fn account_keys(r: ModuleResult, acct: &Account) -> ModuleResult {
    r.with("uid", acct.uid)
        .with("group", acct.gid)
        .with("home", acct.home.clone())
        .with("shell", acct.shell.clone())
        .with("comment", acct.comment.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    fn args(v: serde_json::Value) -> UserArgs {
        parse_args("user", &v).unwrap()
    }

    // The probe's output on Debian 12 for cyrus-common's user.
    const CYRUS: &str = "passwd:cyrus:x:106:8:Cyrus Mailsystem User,,,:/var/spool/cyrus:/usr/sbin/nologin\ngroups:mail sasl\nshadow:!\n";

    #[test]
    fn reads_the_account() {
        let s = parse_state(CYRUS);
        let a = s.account.unwrap();
        assert_eq!((a.uid, a.gid, a.shell.as_str()), (106, 8, "/usr/sbin/nologin"));
        assert_eq!(a.groups, ["sasl".to_string()].into());
        assert_eq!(parse_state("passwd:\ngroups:\nshadow:\n").account, None);
    }

    #[test]
    fn append_adds_only_missing_groups_and_exact_sets_replace() {
        let s = parse_state(CYRUS);
        let p = plan(&args(json!({"name": "cyrus", "groups": ["sasl", "ssl-cert"], "append": true})), &s).unwrap();
        assert_eq!(p.command.unwrap(), ["usermod", "-a", "-G", "ssl-cert", "cyrus"]);
        assert!(!plan(&args(json!({"name": "cyrus", "groups": "sasl", "append": true})), &s).unwrap().changes_anything());
        let p = plan(&args(json!({"name": "cyrus", "groups": ["ssl-cert"]})), &s).unwrap();
        assert_eq!(p.command.unwrap(), ["usermod", "-G", "ssl-cert", "cyrus"]);
        assert_eq!(p.before, "user: cyrus\ngroups: sasl\n");
    }

    #[test]
    fn creates_a_system_user_and_sets_the_hash_without_showing_it() {
        let hash = "$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG.";
        let p = plan(
            &args(json!({"name": "webkey", "system": true, "home": "/var/lib/webkey", "shell": "/usr/sbin/nologin", "password": hash})),
            &UserState::default(),
        )
        .unwrap();
        assert_eq!(p.command.clone().unwrap(), ["useradd", "-d", "/var/lib/webkey", "-s", "/usr/sbin/nologin", "-r", "-m", "webkey"]);
        assert!(p.set_password);
        assert!(!format!("{:?}", p.diffs()).contains(hash));
        let mut s = parse_state(CYRUS);
        s.account.as_mut().unwrap().password = hash.into();
        assert!(!plan(&args(json!({"name": "cyrus", "password": hash})), &s).unwrap().changes_anything());
    }

    /// The file target removes its user with `force: yes, remove: yes`.
    #[test]
    fn force_removes_with_userdel_f() {
        let p = plan(&args(json!({"name": "cyrus", "state": "absent", "force": true, "remove": true})), &parse_state(CYRUS)).unwrap();
        assert_eq!(p.command.unwrap(), ["userdel", "-f", "-r", "cyrus"]);
        let p = plan(&args(json!({"name": "cyrus", "state": "absent"})), &parse_state(CYRUS)).unwrap();
        assert_eq!(p.command.unwrap(), ["userdel", "cyrus"]);
    }

    #[test]
    fn password_aging_goes_to_chage_when_it_differs() {
        // `getent shadow u | cut -d: -f4-7` on Debian 12 after useradd: min 0, max 99999, warn 7.
        let s = parse_state("passwd:u:x:1001:1001::/home/u:/bin/sh\ngroups:u\nshadow:!\nexpire:\naging:0:99999:7:\n");
        let p = plan(&args(json!({"name": "u", "password_expire_max": 10, "password_expire_warn": 7})), &s).unwrap();
        assert_eq!(p.chage.unwrap(), ["chage", "-M", "10", "u"]);
        assert!(p.command.is_none());
        assert!(!plan(&args(json!({"name": "u", "password_expire_min": 0, "password_expire_max": 99999})), &s).unwrap().changes_anything());
        let p = plan(&args(json!({"name": "u", "password_expire_account_disable": 15})), &s).unwrap();
        assert_eq!(p.command.unwrap(), ["usermod", "-f", "15", "u"]);
        let new = plan(&args(json!({"name": "n", "password_expire_min": 5, "password_expire_account_disable": 15})), &UserState::default())
            .unwrap();
        assert_eq!(new.chage.unwrap(), ["chage", "-m", "5", "n"]);
        assert!(new.command.unwrap().windows(2).any(|w| w == ["-f", "15"]));
    }

    #[test]
    fn expires_is_set_and_compared_by_the_day() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(20_787), "2026-11-30");
        assert_eq!(expiry_date(1_796_063_721.5), "2026-11-30");
        assert_eq!(expiry_date(-1.0), "");
        let s = parse_state("passwd:u:x:1001:1001::/home/u:/bin/sh\ngroups:u\nshadow:!\nexpire:\n");
        assert!(!plan(&args(json!({"name": "u", "expires": -1})), &s).unwrap().changes_anything());
        let p = plan(&args(json!({"name": "u", "expires": 1_796_063_721})), &s).unwrap();
        assert_eq!(p.command.unwrap(), ["usermod", "-e", "2026-11-30", "u"]);
        let set = parse_state("passwd:u:x:1001:1001::/home/u:/bin/sh\ngroups:u\nshadow:!\nexpire:20787\n");
        assert!(!plan(&args(json!({"name": "u", "expires": 1_796_063_721})), &set).unwrap().changes_anything());
        assert_eq!(plan(&args(json!({"name": "u", "expires": -1})), &set).unwrap().command.unwrap(), ["usermod", "-e", "", "u"]);
    }

    #[test]
    fn on_create_leaves_an_existing_password() {
        let hash = "$6$salt$abcdefghijklmnopqrstuvwxyz";
        let s = parse_state("passwd:u:x:1001:1001::/home/u:/bin/sh\ngroups:u\nshadow:$6$other$zzz\n");
        assert!(plan(&args(json!({"name": "u", "password": hash})), &s).unwrap().set_password);
        let p = plan(&args(json!({"name": "u", "password": "*", "update_password": "on_create"})), &s).unwrap();
        assert!(!p.changes_anything());
        assert!(UserModule::validate(&args(json!({"name": "u", "update_password": "sometimes"}))).is_err());
    }

    #[test]
    fn clear_text_passwords_and_missing_groups_are_refused() {
        assert!(UserModule::validate(&args(json!({"name": "u", "password": "hunter2"}))).is_err());
        assert_eq!(plan(&args(json!({"name": "u", "group": "nope"})), &UserState::default()).unwrap_err(), "group nope does not exist");
        let rehearsal = UserState { check_mode: true, ..Default::default() };
        assert!(plan(&args(json!({"name": "u", "group": "nope"})), &rehearsal).unwrap().changes_anything(), "check mode predicts");
    }
}
