//! What a package brings, read from its .deb in check mode: the files it
//! ships (`dpkg-deb -c`, with the content of small conffiles), the
//! services it ships and, by Debian policy, what its postinst does with
//! them (`deb-systemd-helper enable`, `deb-systemd-invoke start`,
//! `update-rc.d`, `invoke-rc.d`), and the system users and groups its
//! postinst creates (`adduser`, `useradd`, `addgroup`, `groupadd`).

use std::collections::{BTreeMap, BTreeSet};

use crate::host::FileKind;

use super::{Attrs, Effect, PathChange, Planned, ServiceChange, UserChange};

/// One entry of `dpkg-deb -c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippedFile {
    pub path: String,
    pub kind: FileKind,
    pub mode: u32,
    pub owner: String,
    pub group: String,
    pub link_target: Option<String>,
    /// The content, for the conffiles check mode read.
    pub content: Option<Vec<u8>>,
}

/// A service as the package's postinst leaves it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShippedService {
    pub name: String,
    pub enabled: bool,
    /// Started by `deb-systemd-invoke` (a native unit: it runs).
    pub started: bool,
    /// Started through its init script (`invoke-rc.d`), which may decline.
    pub started_by_init_script: bool,
    /// The unit's `ConditionPathExists=` values (`!` negates): systemd skips
    /// the start when one does not hold (Postfix's needs a main.cf).
    pub start_conditions: Vec<String>,
    /// The condition that will not hold at the install, when one will not.
    pub condition_unmet: Option<String>,
    /// The host has the unit already, disabled or masked: debhelper's
    /// postinst then neither enables nor starts it (an admin's choice).
    pub disabled_on_host: bool,
    /// The host has the unit or init script already (in any state).
    pub known_on_host: bool,
    /// `update-rc.d NAME defaults-disabled`: installed with stop links
    /// only, so invoke-rc.d then declines to start it (sasl2-bin's saslauthd).
    pub disabled_by_default: bool,
}

impl ShippedService {
    /// Settle the start conditions with `exists` (the host as the run will
    /// have left it by the install, and what the packages ship).
    pub fn settle_conditions(&mut self, exists: impl Fn(&str) -> bool) {
        let unmet = self.start_conditions.iter().find(|c| {
            let c = c.trim_start_matches('|');
            match c.strip_prefix('!') {
                Some(path) => exists(path),
                None => !exists(c),
            }
        });
        self.condition_unmet = unmet.map(|c| format!("ConditionPathExists={c}"));
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PackageContents {
    pub files: Vec<ShippedFile>,
    pub services: Vec<ShippedService>,
    pub users: Vec<String>,
    pub groups: Vec<String>,
}

/// Parse a `dpkg-deb -c` listing:
/// `-rw-r--r-- root/root      1234 2023-01-05 10:00 ./etc/x.conf`.
pub fn parse_listing(out: &str) -> Vec<ShippedFile> {
    out.lines().filter_map(parse_listing_line).collect()
}

fn parse_listing_line(line: &str) -> Option<ShippedFile> {
    // perms, owner/group, size, date, time, name (` -> target` for a link).
    let f: Vec<&str> = line.split_whitespace().collect();
    let (perms, owner_group) = (*f.first()?, *f.get(1)?);
    if perms.len() != 10 || f.len() < 6 {
        return None;
    }
    let name = f[5..].join(" ");
    let (name, link_target) = match name.split_once(" -> ") {
        Some((n, t)) => (n.to_string(), Some(t.to_string())),
        None => (name, None),
    };
    let kind = match perms.as_bytes()[0] {
        b'-' | b'h' => FileKind::File,
        b'd' => FileKind::Directory,
        b'l' => FileKind::Link,
        _ => FileKind::Other,
    };
    let path = match name.trim_start_matches('.').trim_end_matches('/') {
        "" => "/".to_string(),
        p => p.to_string(),
    };
    let (owner, group) = owner_group.split_once('/')?;
    Some(ShippedFile { path, kind, mode: mode_of(perms)?, owner: owner.into(), group: group.into(), link_target, content: None })
}

/// `rwsr-x--T`-style permissions (after the type letter) as bits.
fn mode_of(perms: &str) -> Option<u32> {
    let p = perms.as_bytes();
    let mut mode = 0u32;
    for (i, shift) in [(1, 6), (4, 3), (7, 0)] {
        let (r, w, x) = (p[i], p[i + 1], p[i + 2]);
        mode |= (u32::from(r == b'r') << 2 | u32::from(w == b'w') << 1 | u32::from(matches!(x, b'x' | b's' | b't'))) << shift;
        let special = match (i, x) {
            (1, b's' | b'S') => 0o4000,
            (4, b's' | b'S') => 0o2000,
            (7, b't' | b'T') => 0o1000,
            _ => 0,
        };
        mode |= special;
    }
    Some(mode)
}

/// Words of a shell line, quotes removed; `None` for a word made of a
/// variable (unknowable here).
fn words(line: &str) -> Vec<Option<String>> {
    shell_words::split(line)
        .unwrap_or_else(|_| line.split_whitespace().map(str::to_string).collect())
        .into_iter()
        .map(|w| (!w.contains('$')).then_some(w))
        .collect()
}

/// Options of adduser/useradd/addgroup/groupadd that take a value.
const VALUE_OPTIONS: &[&str] = &[
    "--home",
    "--shell",
    "--gecos",
    "--comment",
    "--ingroup",
    "--uid",
    "--gid",
    "--firstuid",
    "--lastuid",
    "--firstgid",
    "--lastgid",
    "--conf",
    "-d",
    "-s",
    "-c",
    "-g",
    "-G",
    "-u",
    "-K",
    "-k",
    "-e",
    "-f",
    "-p",
    "-b",
];

/// The names (non-option words) of one adduser-like command.
fn names(args: &[Option<String>]) -> Vec<Option<String>> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
            continue;
        }
        match a {
            Some(w) if w.starts_with('-') => skip = VALUE_OPTIONS.contains(&w.as_str()),
            other => out.push(other.clone()),
        }
    }
    out
}

/// Read a postinst: services enabled and started, users and groups made.
pub fn parse_postinst(text: &str, units: &BTreeSet<String>, init_scripts: &BTreeSet<String>) -> PackageContents {
    let mut services: BTreeMap<String, ShippedService> = BTreeMap::new();
    let mut c = PackageContents::default();
    let unit = |w: &str| w.strip_suffix(".service").unwrap_or(w).to_string();
    for line in text.lines() {
        // One command per `;`/`&&`/`||`/`|` segment.
        for seg in line.split([';', '&', '|']) {
            let w = words(seg.trim());
            let Some(Some(cmd)) = w.first() else { continue };
            let args = &w[1..];
            let arg = |i: usize| args.get(i).cloned().flatten();
            let non_options: Vec<String> = args.iter().flatten().filter(|a| !a.starts_with('-')).cloned().collect();
            match cmd.as_str() {
                "deb-systemd-helper" if arg(0).as_deref() == Some("enable") => {
                    for u in non_options.iter().skip(1) {
                        services.entry(unit(u)).or_insert_with(|| ShippedService { name: unit(u), ..Default::default() }).enabled = true;
                    }
                }
                // `deb-systemd-invoke $_dh_action 'x.service'` is debhelper's start (or
                // restart on upgrade) of a new installation.
                "deb-systemd-invoke" if arg(0).is_none() || matches!(arg(0).as_deref(), Some("start" | "restart")) => {
                    for u in non_options.iter().filter(|u| !matches!(u.as_str(), "start" | "restart")) {
                        services.entry(unit(u)).or_insert_with(|| ShippedService { name: unit(u), ..Default::default() }).started = true;
                    }
                }
                "update-rc.d" if matches!(arg(1).as_deref(), Some("defaults" | "enable" | "defaults-disabled")) => {
                    if let Some(n) = arg(0).filter(|n| init_scripts.contains(n) && !units.contains(n)) {
                        let s = services.entry(n.clone()).or_insert_with(|| ShippedService { name: n, ..Default::default() });
                        if arg(1).as_deref() == Some("defaults-disabled") {
                            s.disabled_by_default = true;
                        } else {
                            s.enabled = true;
                        }
                    }
                }
                "invoke-rc.d" => {
                    let n: Vec<&String> = non_options.iter().collect();
                    if let Some(name) = n.first().filter(|n| init_scripts.contains(**n) && !units.contains(**n)) {
                        let s = services
                            .entry((*name).clone())
                            .or_insert_with(|| ShippedService { name: (*name).clone(), ..Default::default() });
                        s.started_by_init_script = true;
                    }
                }
                "adduser" | "useradd" | "addgroup" | "groupadd" => {
                    let names: Vec<Option<String>> = names(args);
                    let system = args.iter().flatten().any(|a| a == "--system" || a == "-r");
                    match (cmd.contains("group"), names.as_slice()) {
                        (true, [Some(g)]) => c.groups.push(g.clone()),
                        // `adduser USER GROUP` adds a membership, it makes no user.
                        (false, [Some(_), Some(_)]) if !system && cmd == "adduser" => {}
                        (false, [Some(u)]) => {
                            c.users.push(u.clone());
                            // `adduser --system --group x` makes the group x too.
                            if args.iter().flatten().any(|a| a == "--group") {
                                c.groups.push(u.clone());
                            }
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    }
    c.services = services.into_values().collect();
    c
}

/// Unit names (`postfix` for `.../postfix.service`) and init script
/// names among shipped files.
pub fn services_shipped(files: &[ShippedFile]) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut units = BTreeSet::new();
    let mut scripts = BTreeSet::new();
    for f in files {
        if let Some(name) = ["/lib/systemd/system/", "/usr/lib/systemd/system/"]
            .iter()
            .find_map(|d| f.path.strip_prefix(d))
            .and_then(|n| n.strip_suffix(".service"))
            .filter(|n| !n.contains('/') && !n.ends_with('@'))
        {
            units.insert(name.to_string());
        }
        if let Some(name) = f.path.strip_prefix("/etc/init.d/").filter(|n| !n.contains('/')) {
            scripts.insert(name.to_string());
        }
    }
    (units, scripts)
}

/// A package's contents from what check mode read of its .deb.
pub fn contents(
    listing: &str,
    postinst: &str,
    conffiles: Vec<(String, Vec<u8>)>,
    unit_conditions: &[(String, String)],
    unit_states: &[(String, String)],
) -> PackageContents {
    let mut files = parse_listing(listing);
    let conf: BTreeMap<String, Vec<u8>> = conffiles.into_iter().collect();
    for f in &mut files {
        f.content = conf.get(&f.path).cloned();
    }
    let (units, scripts) = services_shipped(&files);
    let mut c = parse_postinst(postinst, &units, &scripts);
    // Shipped services the postinst does not mention still exist.
    for name in units.iter().chain(scripts.iter().filter(|s| !units.contains(*s))) {
        if !c.services.iter().any(|s| &s.name == name) {
            c.services.push(ShippedService { name: name.clone(), ..Default::default() });
        }
    }
    for s in &mut c.services {
        s.start_conditions = unit_conditions.iter().filter(|(u, _)| *u == s.name).map(|(_, cond)| cond.clone()).collect();
        s.disabled_on_host = unit_states.iter().any(|(u, state)| *u == s.name && matches!(state.as_str(), "disabled" | "masked"));
        s.known_on_host = unit_states.iter().any(|(u, state)| *u == s.name && !state.is_empty());
    }
    c.files = files;
    c
}

impl PackageContents {
    /// What installing the package `name` does, as overlay effects.
    pub fn effects(&self, name: &str) -> Vec<Effect> {
        let why = format!("shipped by {name}, which this run installs (content not read)");
        let mut out = Vec::new();
        for f in &self.files {
            let attrs = Attrs { owner: Some(f.owner.clone()), group: Some(f.group.clone()), mode: Some(f.mode) };
            let change = match (f.kind, &f.content, &f.link_target) {
                (FileKind::Directory, _, _) => PathChange::Directory(attrs),
                (FileKind::Link, _, Some(t)) => PathChange::Link { target: t.clone() },
                (FileKind::File, Some(c), _) => PathChange::Write { content: c.clone(), attrs },
                (kind, _, _) => PathChange::Unknown { kind, attrs, why: why.clone() },
            };
            // The folders a package shares with the system keep the host's state.
            if f.kind == FileKind::Directory && f.path.matches('/').count() <= 2 {
                continue;
            }
            out.push(Effect::Path { path: f.path.clone(), change });
        }
        for s in &self.services {
            if s.disabled_on_host {
                // deb-systemd-helper keeps it disabled, deb-systemd-invoke
                // does not start a disabled unit: it stays as it is.
                continue;
            }
            let active = if s.started && s.condition_unmet.is_some() {
                // systemd skips the start (an unmet condition): it stays inactive.
                Planned::Will(false)
            } else if s.started {
                Planned::Will(true)
            } else if s.started_by_init_script && s.disabled_by_default && !s.known_on_host {
                // Stop links only: invoke-rc.d starts no script that is
                // neither enabled nor running.
                Planned::Will(false)
            } else if s.started_by_init_script {
                Planned::Unknown(format!("{name}'s maintainer script starts {} through its init script, which may decline", s.name))
            } else {
                Planned::Unknown(format!("{name} ships {} but its maintainer script does not start it", s.name))
            };
            let enabled = if s.enabled {
                Planned::Will(true)
            } else if s.disabled_by_default {
                // update-rc.d leaves the links a host already has alone.
                if s.known_on_host {
                    Planned::Unchanged
                } else {
                    Planned::Will(false)
                }
            } else {
                Planned::Unknown(format!("{name} ships {} but its maintainer script does not enable it", s.name))
            };
            out.push(Effect::Service {
                name: s.name.clone(),
                change: ServiceChange { exists: true, active, enabled, masked: Planned::Unchanged },
            });
        }
        for g in &self.groups {
            out.push(Effect::Group { name: g.clone(), present: true, gid: None });
        }
        for u in &self.users {
            out.push(Effect::User(UserChange {
                name: u.clone(),
                present: true,
                source: Some(format!("{name}'s maintainer script")),
                ..Default::default()
            }));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `dpkg-deb -c hello_2.10-3_amd64.deb` (Debian 12), abridged.
    const HELLO: &str = "drwxr-xr-x root/root         0 2022-12-10 13:23 ./\n\
drwxr-xr-x root/root         0 2022-12-10 13:23 ./usr/\n\
drwxr-xr-x root/root         0 2022-12-10 13:23 ./usr/bin/\n\
-rwxr-xr-x root/root     31064 2022-12-10 13:23 ./usr/bin/hello\n\
drwxr-xr-x root/root         0 2022-12-10 13:23 ./usr/share/doc/hello/\n\
-rw-r--r-- root/root      1868 2022-12-10 13:23 ./usr/share/doc/hello/copyright\n\
lrwxrwxrwx root/root         0 2022-12-10 13:23 ./usr/share/doc/hello/NEWS.gz -> ../NEWS.gz\n";

    // The debhelper snippets of postgresql-common's and sasl2-bin's postinst
    // (Debian 12), and cyrus-common's user creation.
    const POSTINST: &str = r#"#!/bin/sh
set -e
if ! getent passwd cyrus >/dev/null; then
    adduser --system --ingroup mail --home /var/spool/cyrus --shell /bin/sh --no-create-home --disabled-password --gecos "Cyrus Mailsystem User" --quiet cyrus
fi
addgroup --system sasl
adduser cyrus ssl-cert
# Automatically added by dh_installsystemd/13.11.4
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ] ; then
	# was-enabled defaults to true, so new installations run enable.
	if deb-systemd-helper --quiet was-enabled 'postgresql.service'; then
		deb-systemd-helper enable 'postgresql.service' >/dev/null || true
	fi
fi
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ] ; then
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		if [ -n "$2" ]; then
			_dh_action=restart
		else
			_dh_action=start
		fi
		deb-systemd-invoke $_dh_action 'postgresql.service' >/dev/null || true
	fi
fi
# Automatically added by dh_installinit/13.11.4
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ] ; then
	if [ -z "${DPKG_ROOT:-}" ] && [ -x "/etc/init.d/saslauthd" ]; then
		update-rc.d saslauthd defaults-disabled >/dev/null
		if [ -n "$2" ]; then
			_dh_action=restart
		else
			_dh_action=start
		fi
		invoke-rc.d --skip-systemd-native saslauthd $_dh_action || exit 1
	fi
fi
"#;

    #[test]
    fn a_listing_gives_kinds_modes_owners_and_links() {
        let files = parse_listing(HELLO);
        assert_eq!(files.len(), 7);
        assert_eq!(files[0].path, "/");
        let hello = files.iter().find(|f| f.path == "/usr/bin/hello").unwrap();
        assert_eq!((hello.kind, hello.mode, hello.owner.as_str()), (FileKind::File, 0o755, "root"));
        let news = files.iter().find(|f| f.path == "/usr/share/doc/hello/NEWS.gz").unwrap();
        assert_eq!((news.kind, news.link_target.as_deref()), (FileKind::Link, Some("../NEWS.gz")));
        assert_eq!(mode_of("drwxr-s---"), Some(0o2750));
        assert_eq!(mode_of("drwxrwxrwt"), Some(0o1777));
        assert_eq!(mode_of("-rwSr--r--"), Some(0o4644));
    }

    #[test]
    fn a_postinst_enables_and_starts_units_and_makes_users() {
        let units: BTreeSet<String> = ["postgresql".to_string()].into();
        let scripts: BTreeSet<String> = ["saslauthd".to_string()].into();
        let c = parse_postinst(POSTINST, &units, &scripts);
        let pg = c.services.iter().find(|s| s.name == "postgresql").unwrap();
        assert!(pg.enabled && pg.started && !pg.started_by_init_script);
        let sasl = c.services.iter().find(|s| s.name == "saslauthd").unwrap();
        assert!(!sasl.enabled && sasl.disabled_by_default && !sasl.started && sasl.started_by_init_script);
        assert_eq!(c.users, vec!["cyrus".to_string()]);
        assert_eq!(c.groups, vec!["sasl".to_string()], "`adduser cyrus ssl-cert` is a membership, not a user");
    }

    #[test]
    fn effects_of_a_package() {
        let listing = format!(
            "{HELLO}drwxr-xr-x root/root 0 2022-12-10 13:23 ./etc/\n-rw-r--r-- root/root 12 2022-12-10 13:23 ./etc/hello.conf\n-rw-r--r-- root/root 10 2022-12-10 13:23 ./lib/systemd/system/postgresql.service\n"
        );
        let c = contents(&listing, POSTINST, vec![("/etc/hello.conf".into(), b"greeting=hi\n".to_vec())], &[], &[]);
        let e = c.effects("hello");
        assert!(e.contains(&Effect::Path {
            path: "/etc/hello.conf".into(),
            change: PathChange::Write {
                content: b"greeting=hi\n".to_vec(),
                attrs: Attrs { owner: Some("root".into()), group: Some("root".into()), mode: Some(0o644) }
            }
        }));
        assert!(matches!(
            e.iter().find(|x| matches!(x, Effect::Path { path, .. } if path == "/usr/bin/hello")),
            Some(Effect::Path { change: PathChange::Unknown { .. }, .. })
        ));
        assert!(
            !e.iter().any(|x| matches!(x, Effect::Path { path, .. } if path == "/usr" || path == "/")),
            "shared folders are left alone"
        );
        let pg = e.iter().find_map(|x| match x {
            Effect::Service { name, change } if name == "postgresql" => Some(change.clone()),
            _ => None,
        });
        assert_eq!(pg.map(|c| (c.exists, c.active, c.enabled)), Some((true, Planned::Will(true), Planned::Will(true))));
        assert!(e.iter().any(|x| matches!(x, Effect::User(u) if u.name == "cyrus" && u.present)));
        // saslauthd's init script comes with stop links only: invoke-rc.d
        // does not start it, on a host that did not have it.
        let service = |e: &[Effect], n: &str| {
            e.iter().find_map(|x| match x {
                Effect::Service { name, change } if name == n => Some((change.active.clone(), change.enabled.clone())),
                _ => None,
            })
        };
        let with_script = format!("{listing}-rwxr-xr-x root/root 10 2022-12-10 13:23 ./etc/init.d/saslauthd\n");
        let fresh = contents(&with_script, POSTINST, vec![], &[], &[("saslauthd".into(), String::new())]);
        assert_eq!(service(&fresh.effects("sasl2-bin"), "saslauthd"), Some((Planned::Will(false), Planned::Will(false))));
        // A host that has it (enabled by its admin): its links stay, and
        // whether the script starts it is not known.
        let kept = contents(&with_script, POSTINST, vec![], &[], &[("saslauthd".into(), "enabled".into())]);
        assert!(matches!(service(&kept.effects("sasl2-bin"), "saslauthd"), Some((Planned::Unknown(_), Planned::Unchanged))));
    }
}
