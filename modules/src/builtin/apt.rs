//! `apt`: Debian packages present, absent or latest. One round trip reads
//! every named package's state (`dpkg-query`), the candidate versions when
//! `latest` is asked, the age of the package lists, and what `apt-get -s`
//! would install (dependencies and recommends included), so that check mode
//! knows an unknown package fails and diff mode shows every package that
//! comes with the named ones; the plan names exactly what apt-get will
//! install, upgrade or remove.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::args::{loose_bool, loose_list, loose_opt_bool, loose_string};
use crate::host::{quote, Command};
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};
use crate::planned::{Effect, PackageContents, PlannedState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AptArgs {
    #[serde(default, alias = "pkg", alias = "package", deserialize_with = "loose_list")]
    pub name: Vec<String>,
    #[serde(default = "present", deserialize_with = "loose_string")]
    pub state: String,
    #[serde(default, alias = "update-cache", deserialize_with = "loose_bool")]
    pub update_cache: bool,
    /// Seconds; the lists are refreshed only when older.
    #[serde(default)]
    pub cache_valid_time: u64,
    #[serde(default, alias = "install-recommends", deserialize_with = "loose_opt_bool")]
    pub install_recommends: Option<bool>,
    #[serde(default, deserialize_with = "loose_bool")]
    pub purge: bool,
    /// Seconds to wait for the dpkg lock.
    #[serde(default = "lock_timeout")]
    pub lock_timeout: u64,
}

fn present() -> String {
    "present".into()
}
fn lock_timeout() -> u64 {
    60
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AptState {
    /// name → installed version (None: not installed).
    pub installed: Vec<(String, Option<String>)>,
    /// name → candidate version (for `latest`).
    pub candidates: Vec<(String, Option<String>)>,
    /// Age of the package lists in seconds (None: never updated).
    pub lists_age: Option<u64>,
    /// `apt-get -s install` of the packages to install or upgrade, if any.
    pub simulation: Option<Simulation>,
    /// Check mode fetched fresh lists (into a scratch folder) for the
    /// candidates and the simulation, as the run's cache update will.
    pub fresh_lists: bool,
    /// Check mode read the packages it would install (their .deb files).
    pub contents: Vec<(String, PackageContents)>,
    /// What apt-get said when check mode's update of the lists (into the
    /// scratch folder) failed: the run's own update would fail the same way.
    pub update_error: Option<String>,
}

/// What apt-get would do, from its simulation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Simulation {
    pub rc: i32,
    /// `Inst` lines: package and the version it would get.
    pub installs: Vec<(String, String)>,
    /// `E:` lines.
    pub errors: Vec<String>,
}

/// Parse `apt-get -s install` output: `Inst hello (2.10-3 Debian:12.0/stable [amd64])`,
/// `Inst postfix [3.7.10-0+deb12u1] (3.7.11-0+deb12u1 ...)` and `E: ...`.
pub fn parse_simulation(out: &str, rc: i32) -> Simulation {
    let mut sim = Simulation { rc, ..Default::default() };
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("Inst ") {
            let name = rest.split_whitespace().next().unwrap_or("").to_string();
            let version = rest.split_once('(').map(|(_, v)| v.split_whitespace().next().unwrap_or("").to_string()).unwrap_or_default();
            sim.installs.push((name, version));
        } else if let Some(e) = line.strip_prefix("E: ") {
            sim.errors.push(e.trim().to_string());
        }
    }
    sim
}

/// Parse the probe's output: `pkg|<status abbrev>|version` lines from
/// dpkg-query, `cand|name|version` lines, and `age=SECONDS`.
pub fn parse_state(out: &str, names: &[String]) -> AptState {
    let mut st = AptState::default();
    for n in names {
        let line = out.lines().find(|l| l.strip_prefix("pkg|").is_some_and(|r| r.split('|').next() == Some(n.as_str())));
        // Status "ii " = installed; "un", "rc" (config files only) = not installed.
        let version = line.and_then(|l| {
            let f: Vec<&str> = l.split('|').collect();
            (f.len() >= 4 && f[2].starts_with("ii")).then(|| f[3].to_string())
        });
        st.installed.push((n.clone(), version));
        let cand = out
            .lines()
            .find_map(|l| l.strip_prefix(&format!("cand|{n}|")))
            .map(str::trim)
            .filter(|c| !c.is_empty() && *c != "(none)")
            .map(str::to_string);
        st.candidates.push((n.clone(), cand));
    }
    st.lists_age = out.lines().find_map(|l| l.strip_prefix("age=")).and_then(|a| a.trim().parse().ok());
    st.fresh_lists = out.lines().any(|l| l == "fresh-lists");
    let update_error: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("update-error|")).collect();
    if !update_error.is_empty() {
        st.update_error = Some(update_error.join("\n"));
    }
    st.contents = super::apt_contents::parse(out).packages;
    if let Some((_, rest)) = out.split_once("sim-begin\n") {
        let (sim, rc) = rest.rsplit_once("sim-rc=").unwrap_or((rest, "1"));
        st.simulation = Some(parse_simulation(sim, rc.trim().parse().unwrap_or(1)));
    }
    st
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AptPlan {
    pub update: bool,
    pub install: Vec<String>,
    pub upgrade: Vec<String>,
    pub remove: Vec<String>,
    /// `name version` of every package apt-get would install or upgrade
    /// (from its simulation; empty when the lists are to be updated first).
    pub simulated: Vec<String>,
    /// What those packages contain, when check mode read them.
    pub contents: Vec<(String, PackageContents)>,
}

impl Plan for AptPlan {
    fn changes_anything(&self) -> bool {
        !self.install.is_empty() || !self.upgrade.is_empty() || !self.remove.is_empty()
    }
    fn diffs(&self) -> Vec<Diff> {
        let mut before = String::new();
        let mut after = String::new();
        if self.simulated.is_empty() {
            for p in &self.install {
                after.push_str(&format!("installed: {p}\n"));
            }
            for p in &self.upgrade {
                before.push_str(&format!("{p}: current version\n"));
                after.push_str(&format!("{p}: latest version\n"));
            }
        } else {
            for p in &self.simulated {
                after.push_str(&format!("installed: {p}\n"));
            }
        }
        for p in &self.remove {
            before.push_str(&format!("installed: {p}\n"));
        }
        if before.is_empty() && after.is_empty() {
            return Vec::new();
        }
        vec![Diff::new("packages", before, after)]
    }
    /// Every package installed (the simulation's, dependencies included,
    /// with what check mode read of them), upgraded or removed; with a
    /// cache update, later apt tasks of the rehearsal use fresh lists too.
    fn effects(&self) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.update {
            out.push(Effect::Setting { file: PLANNED_KEY.into(), key: "lists".into(), value: Some("fresh".into()) });
        }
        let simulated = self.simulated.iter().filter_map(|s| s.split_whitespace().next()).map(str::to_string);
        let installed: Vec<String> =
            if self.simulated.is_empty() { self.install.iter().chain(&self.upgrade).cloned().collect() } else { simulated.collect() };
        for name in installed {
            let contents = self.contents.iter().find(|(n, _)| *n == name).map(|(_, c)| Box::new(c.clone()));
            out.push(Effect::Package { name, installed: true, contents });
        }
        out.extend(self.remove.iter().map(|name| Effect::Package { name: name.clone(), installed: false, contents: None }));
        out
    }
}

/// Where check mode's overlay notes that the package lists were updated.
const PLANNED_KEY: &str = "(apt)";

/// The packages as the run's earlier apt plans left them: planned ones
/// count as installed (at their candidate version), removed ones as not.
/// A unit a package starts at its install runs only if its start
/// conditions hold then: on the host as the run will have left it by that
/// task (check mode's host answers from the planned state) or among the
/// files these packages ship. Postfix's, for one, needs a main.cf.
async fn settle_start_conditions(contents: &mut [(String, PackageContents)], host: &dyn crate::host::Host) -> Result<(), ModuleError> {
    use std::collections::BTreeSet;
    let shipped: BTreeSet<&str> = contents.iter().flat_map(|(_, c)| c.files.iter().map(|f| f.path.as_str())).collect();
    let asked: BTreeSet<String> = contents
        .iter()
        .flat_map(|(_, c)| c.services.iter().flat_map(|s| s.start_conditions.iter()))
        .map(|c| c.trim_start_matches('|').trim_start_matches('!').to_string())
        .collect();
    let mut existing = BTreeSet::new();
    for path in asked {
        if shipped.contains(path.as_str()) || host.stat(&path, true).await?.is_some() {
            existing.insert(path);
        }
    }
    for (_, c) in contents.iter_mut() {
        for service in &mut c.services {
            service.settle_conditions(|p| existing.contains(p));
        }
    }
    Ok(())
}

/// Seconds one `apt-get update` may take before it is stopped and tried
/// once more: apt's http method can wait forever on a connection a proxy
/// closed (seen behind apt-cacher-ng), and no remote wait is unbounded.
const UPDATE_TIMEOUT: u64 = 180;

/// `apt-get update` with the given options, bounded and tried twice; says
/// on stderr when it ran out of time.
fn bounded_update(options: &str) -> String {
    format!(
        "for try in 1 2; do rc=0; timeout -k 10 {UPDATE_TIMEOUT} apt-get -q {options} update || rc=$?; \
           [ $rc -eq 124 ] || [ $rc -eq 137 ] || break; \
           echo \"apt-get update did not finish within {UPDATE_TIMEOUT} s (try $try of 2)\" >&2; done; [ $rc -eq 0 ]"
    )
}

fn with_planned(mut s: AptState, planned: &PlannedState) -> AptState {
    for (name, version) in &mut s.installed {
        match planned.package(name) {
            Some(true) if version.is_none() => {
                let cand = s.candidates.iter().find(|(n, _)| n == name).and_then(|(_, c)| c.clone());
                *version = Some(cand.unwrap_or_else(|| "(planned)".into()));
            }
            Some(false) => *version = None,
            _ => {}
        }
    }
    s
}

pub fn plan(a: &AptArgs, s: &AptState) -> Result<AptPlan, String> {
    let mut p = AptPlan {
        update: a.update_cache && s.lists_age.is_none_or(|age| a.cache_valid_time == 0 || age > a.cache_valid_time),
        ..Default::default()
    };
    for (name, version) in &s.installed {
        match a.state.as_str() {
            "present" | "installed" if version.is_none() => p.install.push(name.clone()),
            "latest" if version.is_none() => p.install.push(name.clone()),
            "latest" => {
                let cand = s.candidates.iter().find(|(n, _)| n == name).and_then(|(_, c)| c.clone());
                if cand.is_some() && cand != *version {
                    p.upgrade.push(name.clone());
                }
            }
            "absent" | "removed" if version.is_some() => p.remove.push(name.clone()),
            "present" | "installed" | "absent" | "removed" => {}
            other => return Err(format!("value of state must be one of: absent, latest, present, got: {other}")),
        }
    }
    // Check mode's fetch of the lists failed: so would the run's update.
    if let Some(e) = s.update_error.as_ref().filter(|_| p.update) {
        return Err(format!("Failed to update apt cache: {e}"));
    }
    // With lists still to be updated, a simulation against the old ones
    // says nothing about the run, unless check mode fetched fresh ones.
    let sim_holds = !p.update || s.fresh_lists;
    if let Some(sim) = s.simulation.as_ref().filter(|_| sim_holds) {
        if sim.rc == 0 {
            p.simulated = sim.installs.iter().map(|(n, v)| format!("{n} {v}")).collect();
        } else {
            // The real run would fail the same way.
            return Err(unavailable(&sim.errors));
        }
    }
    if p.changes_anything() {
        p.contents = s.contents.clone();
    }
    Ok(p)
}

/// Ansible's message for a package apt does not know, else apt's own.
fn unavailable(errors: &[String]) -> String {
    let unknown: Vec<&str> = errors
        .iter()
        .filter_map(|e| {
            e.strip_prefix("Unable to locate package ").or_else(|| e.strip_prefix("Package '").and_then(|r| r.split('\'').next()))
        })
        .collect();
    if unknown.is_empty() {
        format!("apt-get install would fail: {}", errors.join("; "))
    } else {
        format!("No package matching '{}' is available", unknown.join("', '"))
    }
}

fn recommends(a: &AptArgs) -> &'static str {
    match a.install_recommends {
        Some(false) => "--no-install-recommends",
        Some(true) => "--install-recommends",
        None => "",
    }
}

fn apt_get(a: &AptArgs) -> String {
    format!(
        "DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout={} -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold {}",
        a.lock_timeout,
        recommends(a)
    )
}

pub struct AptModule;

#[async_trait]
impl Module for AptModule {
    type Args = AptArgs;
    type State = AptState;
    type Plan = AptPlan;
    const NAME: &'static str = "apt";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Install, upgrade or remove Debian packages; one dpkg-query round trip decides.",
            args: vec![
                ArgDoc { name: "name", ty: "list", required: false, default: None, description: "Package names (aliases pkg, package)." },
                ArgDoc {
                    name: "state",
                    ty: "string",
                    required: false,
                    default: Some("present"),
                    description: "present, absent or latest.",
                },
                ArgDoc {
                    name: "update_cache",
                    ty: "bool",
                    required: false,
                    default: Some("false"),
                    description: "apt-get update first (when older than cache_valid_time).",
                },
                ArgDoc {
                    name: "cache_valid_time",
                    ty: "int",
                    required: false,
                    default: Some("0"),
                    description: "Seconds the package lists stay fresh.",
                },
                ArgDoc {
                    name: "install_recommends",
                    ty: "bool",
                    required: false,
                    default: None,
                    description: "Install recommended packages (default: apt's setting).",
                },
                ArgDoc {
                    name: "purge",
                    ty: "bool",
                    required: false,
                    default: Some("false"),
                    description: "Remove configuration files too (state=absent).",
                },
                ArgDoc {
                    name: "lock_timeout",
                    ty: "int",
                    required: false,
                    default: Some("60"),
                    description: "Seconds to wait for the dpkg lock.",
                },
            ],
            example: "- apt:\n    name: [postfix, postfix-pgsql]\n    state: present\n    update_cache: yes\n    cache_valid_time: 3600",
        }
    }

    fn validate(a: &AptArgs) -> Result<(), String> {
        if a.name.is_empty() && !a.update_cache {
            return Err("one of the following is required: name, update_cache".into());
        }
        for n in &a.name {
            if !n.chars().all(|c| c.is_ascii_alphanumeric() || "+-.:=_".contains(c)) {
                return Err(format!("'{n}' is not a package name"));
            }
        }
        match a.state.as_str() {
            "present" | "installed" | "absent" | "removed" | "latest" => Ok(()),
            other => Err(format!("value of state must be one of: absent, latest, present, got: {other}")),
        }
    }

    async fn probe(a: &AptArgs, ctx: &Context<'_>) -> Result<AptState, ModuleError> {
        let names: Vec<String> = a.name.iter().map(|n| quote(n)).collect();
        let mut script = String::from(
            "age=''; s=/var/lib/apt/periodic/update-success-stamp; [ -e $s ] || s=/var/cache/apt/pkgcache.bin; \
             if [ -e $s ] && [ -n \"$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)\" ]; then age=$(( $(date +%s) - $(stat -c %Y $s) )); echo age=$age; fi; opts=''; scratch=''; ",
        );
        // An earlier apt task of the rehearsal planned a cache update: the
        // run's lists are fresh by now.
        let lists_updated = ctx.rehearsal().is_some_and(|p| !p.settings(PLANNED_KEY).is_empty());
        if ctx.check_mode && (a.update_cache || lists_updated) {
            // Check mode fetches the lists a real run would fetch first into
            // a scratch folder: candidates and the simulation then see what
            // the run will see, and the host's own lists stay untouched.
            script.push_str(&format!(
                "if {lists_updated} || [ -z \"$age\" ] || [ {valid} -eq 0 ] || [ \"$age\" -gt {valid} ]; then \
                   scratch=$(mktemp -d); cp -a /var/lib/apt/lists/. \"$scratch/\" 2>/dev/null; rm -f \"$scratch/lock\"; mkdir -p \"$scratch/partial\"; \
                   if upd_err=$( ( {update} ) 2>&1 >/dev/null ); then \
                     opts=\"-o Dir::State::Lists=$scratch -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=\"; echo fresh-lists; \
                   else printf '%s\\n' \"$upd_err\" | sed 's/^/update-error|/'; fi; \
                 fi; ",
                valid = a.cache_valid_time,
                update = bounded_update("-o Debug::NoLocking=1 -o Dir::State::Lists=\"$scratch\" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache="),
            ));
        }
        if !names.is_empty() {
            script.push_str(&format!(
                "q=$(dpkg-query -W -f='pkg|${{Package}}|${{db:Status-Abbrev}}|${{Version}}\\n' {} 2>/dev/null); echo \"$q\"; ",
                names.join(" ")
            ));
            if a.state == "latest" {
                script.push_str(&format!(
                    "for p in {}; do echo \"cand|$p|$(apt-cache $opts policy \"$p\" 2>/dev/null | sed -n 's/^ *Candidate: //p')\"; done; ",
                    names.join(" ")
                ));
            }
            if !matches!(a.state.as_str(), "absent" | "removed") {
                // Simulate only what would be installed (or, for latest,
                // upgraded): packages that are not installed (read from the
                // query above, no second dpkg-query), or all.
                let latest = if a.state == "latest" { "true" } else { "false" };
                script.push_str(&format!(
                    "sim=''; for p in {names}; do case \"$q\" in *\"pkg|$p|ii\"*) {latest} && sim=\"$sim $p\";; *) sim=\"$sim $p\";; esac; done; \
                     if [ -n \"$sim\" ]; then simout=$(LC_ALL=C apt-get -s -q -o Debug::NoLocking=1 $opts {recommends} install $sim 2>&1); simrc=$?; \
                       {contents}echo sim-begin; printf '%s\\n' \"$simout\"; echo sim-rc=$simrc; fi; ",
                    names = names.join(" "),
                    recommends = recommends(a),
                    // Check mode reads what the packages would bring, for the tasks after it.
                    contents = if ctx.rehearsal().is_some() { super::apt_contents::script() } else { String::new() },
                ));
            }
        }
        script.push_str("[ -z \"$scratch\" ] || rm -rf \"$scratch\"; true");
        let out = ctx.host.exec(&Command::shell(script)).await?;
        let text = out.stdout_str();
        let mut state = parse_state(&text, &a.name);
        Ok(match ctx.rehearsal() {
            Some(planned) => {
                if text.lines().any(|l| l == super::apt_contents::DOWNLOAD_FAILED) {
                    ctx.assume("what the packages contain: apt could not download them to look");
                }
                settle_start_conditions(&mut state.contents, ctx.host).await?;
                with_planned(state, planned)
            }
            None => state,
        })
    }

    fn plan(a: &AptArgs, s: &AptState) -> Result<AptPlan, ModuleError> {
        plan(a, s).map_err(ModuleError::failed)
    }

    /// A cache update alone is done even in an otherwise unchanged run, and
    /// is not reported as a change (like Ansible with cache_valid_time).
    fn always_apply() -> bool {
        true
    }

    async fn apply(a: &AptArgs, p: AptPlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let run = |cmd: String| async move { ctx.host.exec(&Command::shell(cmd)).await };
        let updated = p.update;
        let p = if p.update {
            let out = run(bounded_update(&format!("-o DPkg::Lock::Timeout={}", a.lock_timeout))).await?;
            if !out.success() {
                return Ok(ModuleResult::failed(format!("Failed to update apt cache: {}", out.stderr_str().trim())));
            }
            // What to install or upgrade is decided again against the fresh
            // lists (a newer candidate, a package only they know).
            let fresh = Self::probe(a, ctx).await?;
            match plan(a, &fresh) {
                Ok(p) => p,
                Err(e) => return Ok(ModuleResult::failed(e)),
            }
        } else {
            p
        };
        let mut stdout = String::new();
        let targets: Vec<String> = p.install.iter().chain(&p.upgrade).map(|n| quote(n)).collect();
        if !targets.is_empty() {
            let out = run(format!("{} install {}", apt_get(a), targets.join(" "))).await?;
            stdout.push_str(&out.stdout_str());
            if !out.success() {
                return Ok(ModuleResult::failed(format!("'apt-get install {}' failed: {}", targets.join(" "), out.stderr_str().trim()))
                    .with("stdout", stdout));
            }
        }
        if !p.remove.is_empty() {
            let removes: Vec<String> = p.remove.iter().map(|n| quote(n)).collect();
            let out = run(format!("{} {} {}", apt_get(a), if a.purge { "purge" } else { "remove" }, removes.join(" "))).await?;
            stdout.push_str(&out.stdout_str());
            if !out.success() {
                return Ok(ModuleResult::failed(format!("'apt-get remove {}' failed: {}", removes.join(" "), out.stderr_str().trim()))
                    .with("stdout", stdout));
            }
        }
        let changed = p.changes_anything();
        let mut r = ModuleResult::changed(changed).with("cache_updated", updated);
        if changed {
            r.data.insert("packages".into(), json!({"installed": p.install, "upgraded": p.upgrade, "removed": p.remove}));
            r.data.insert("stdout".into(), Value::String(stdout));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    /// The bounded update's shell, with apt-get replaced by a script that
    /// fails as told: a timeout is tried again, another failure is not.
    #[test]
    fn a_stalled_update_is_stopped_and_tried_once_more() {
        let dir = tempfile::tempdir().unwrap();
        let script = |codes: &str| {
            let fake = dir.path().join("apt-get");
            // Each call takes the next exit code from the list.
            std::fs::write(
                &fake,
                format!(
                    "#!/bin/sh\nn=$(cat {d}/n 2>/dev/null || echo 0); echo $((n+1)) > {d}/n\nset -- {codes}\nshift $n\nexit ${{1:-0}}\n",
                    d = dir.path().display()
                ),
            )
            .unwrap();
            std::process::Command::new("chmod").arg("755").arg(&fake).status().unwrap();
            let _ = std::fs::remove_file(dir.path().join("n"));
            let sh = bounded_update("").replace("timeout -k 10 180 apt-get", &format!("{}/timeout-fake", dir.path().display()));
            std::fs::write(dir.path().join("timeout-fake"), format!("#!/bin/sh\nshift 0\nexec {} \"$@\"\n", fake.display())).unwrap();
            std::process::Command::new("chmod").arg("755").arg(dir.path().join("timeout-fake")).status().unwrap();
            let out = std::process::Command::new("sh").arg("-c").arg(&sh).output().unwrap();
            let calls: u32 = std::fs::read_to_string(dir.path().join("n")).unwrap().trim().parse().unwrap();
            (out.status.success(), calls, String::from_utf8_lossy(&out.stderr).into_owned())
        };
        assert!(script("0").0);
        let (ok, calls, err) = script("124 0");
        assert_eq!((ok, calls), (true, 2), "{err}");
        assert!(err.contains("did not finish within 180 s (try 1 of 2)"), "{err}");
        let (ok, calls, _) = script("124 124");
        assert_eq!((ok, calls), (false, 2), "two timeouts fail");
        let (ok, calls, _) = script("100 0");
        assert_eq!((ok, calls), (false, 1), "another failure is not tried again");
    }

    use super::*;
    use crate::args::parse_args;

    fn args(v: Value) -> AptArgs {
        parse_args("apt", &v).unwrap()
    }

    // Captured from `dpkg-query -W -f='pkg|${Package}|${db:Status-Abbrev}|${Version}\n' postfix hello rspamd` on a lab host.
    const PROBE: &str = "age=120\npkg|postfix|ii |3.7.11-0+deb12u1\npkg|hello|un |\npkg|rspamd|rc |3.4-1\ncand|postfix|3.7.11-0+deb12u1\n";

    #[test]
    fn installs_only_what_is_missing() {
        let a = args(json!({"name": ["postfix", "hello", "rspamd"]}));
        let p = plan(&a, &parse_state(PROBE, &a.name)).unwrap();
        assert_eq!(p.install, vec!["hello", "rspamd"]);
        assert!(p.remove.is_empty() && !p.update);
        let a = args(json!({"name": "postfix"}));
        assert!(!plan(&a, &parse_state(PROBE, &a.name)).unwrap().changes_anything());
    }

    #[test]
    fn absent_latest_and_cache_age() {
        let a = args(json!({"name": "postfix,hello", "state": "absent"}));
        assert_eq!(plan(&a, &parse_state(PROBE, &a.name)).unwrap().remove, vec!["postfix"]);
        let a = args(json!({"name": "postfix", "state": "latest"}));
        assert!(!plan(&a, &parse_state(PROBE, &a.name)).unwrap().changes_anything());
        let newer = PROBE.replace("cand|postfix|3.7.11-0+deb12u1", "cand|postfix|3.7.12-0+deb12u1");
        assert_eq!(plan(&a, &parse_state(&newer, &a.name)).unwrap().upgrade, vec!["postfix"]);
        let a = args(json!({"name": "hello", "update_cache": true, "cache_valid_time": 3600}));
        assert!(!plan(&a, &parse_state(PROBE, &a.name)).unwrap().update);
        assert!(plan(&a, &parse_state("pkg|hello|un |\n", &a.name)).unwrap().update);
    }

    // Captured from `LC_ALL=C apt-get -s -q install ...` on Debian 12.
    const SIM_HELLO: &str = "Reading package lists...\nBuilding dependency tree...\nReading state information...\nThe following NEW packages will be installed:\n  hello\n0 upgraded, 1 newly installed, 0 to remove and 123 not upgraded.\nInst hello (2.10-3 Debian:12.15/oldstable [amd64])\nConf hello (2.10-3 Debian:12.15/oldstable [amd64])\n";
    const SIM_UPGRADE: &str = "Inst libappstream4 [0.16.1-2] (0.16.1-2+b1 Debian:12.15/oldstable [amd64])\nInst appstream [0.16.1-2] (0.16.1-2+b1 Debian:12.15/oldstable [amd64])\nConf libappstream4 (0.16.1-2+b1 Debian:12.15/oldstable [amd64])\n";
    const SIM_UNKNOWN: &str =
        "Reading package lists...\nBuilding dependency tree...\nReading state information...\nE: Unable to locate package nosuchpkg-zz\n";
    const SIM_CONFLICT: &str = "The following packages have unmet dependencies:\n exim4-config : Conflicts: postfix but 3.7.11-0+deb12u1 is to be installed\nE: Error, pkgProblemResolver::Resolve generated breaks, this may be caused by held packages.\n";

    #[test]
    fn the_simulation_names_every_package_that_comes_along() {
        assert_eq!(parse_simulation(SIM_HELLO, 0).installs, vec![("hello".to_string(), "2.10-3".to_string())]);
        assert_eq!(
            parse_simulation(SIM_UPGRADE, 0).installs,
            vec![("libappstream4".to_string(), "0.16.1-2+b1".to_string()), ("appstream".to_string(), "0.16.1-2+b1".to_string())]
        );
        let a = args(json!({"name": ["hello"]}));
        let probe = format!("pkg|hello|un |\nsim-begin\n{SIM_HELLO}sim-rc=0\n");
        let p = plan(&a, &parse_state(&probe, &a.name)).unwrap();
        assert_eq!((p.install.clone(), p.simulated.clone()), (vec!["hello".to_string()], vec!["hello 2.10-3".to_string()]));
        assert_eq!(p.diffs()[0].after, "installed: hello 2.10-3\n");
    }

    #[test]
    fn a_package_apt_cannot_install_fails_in_check_mode_too() {
        let a = args(json!({"name": ["nosuchpkg-zz"]}));
        let probe = format!("age=60\npkg|nosuchpkg-zz|un |\nsim-begin\n{SIM_UNKNOWN}sim-rc=100\n");
        assert_eq!(plan(&a, &parse_state(&probe, &a.name)).unwrap_err(), "No package matching 'nosuchpkg-zz' is available");
        let a = args(json!({"name": ["postfix"]}));
        let probe = format!("age=60\npkg|postfix|un |\nsim-begin\n{SIM_CONFLICT}sim-rc=100\n");
        assert!(plan(&a, &parse_state(&probe, &a.name)).unwrap_err().contains("pkgProblemResolver::Resolve generated breaks"));
        // Lists to be updated first may know it: predicted, not refused,
        // unless check mode fetched fresh lists and they do not know it.
        let a = args(json!({"name": ["nosuchpkg-zz"], "update_cache": true}));
        let probe = format!("pkg|nosuchpkg-zz|un |\nsim-begin\n{SIM_UNKNOWN}sim-rc=100\n");
        let p = plan(&a, &parse_state(&probe, &a.name)).unwrap();
        assert_eq!((p.update, p.install), (true, vec!["nosuchpkg-zz".to_string()]));
        let fresh = format!("fresh-lists\n{probe}");
        assert!(plan(&a, &parse_state(&fresh, &a.name)).is_err());
    }

    /// Check mode fetches the lists the run would fetch; when that fails
    /// (here the lab's proxy answering 400, as captured), the real run's
    /// update would fail too: check mode says so instead of predicting an
    /// install from lists it could not read.
    #[test]
    fn a_cache_update_that_fails_in_check_mode_fails_the_task() {
        let a = args(json!({"name": ["cyrus-common"], "update_cache": true}));
        let probe = "pkg|cyrus-common|un |\n\
            update-error|E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  400  Bad Request [IP: 10.231.0.1 3149]\n\
            update-error|E: The repository 'http://deb.debian.org/debian bookworm InRelease' is not signed.\n\
            sim-begin\nE: Unable to locate package cyrus-common\nsim-rc=100\n";
        assert_eq!(
            plan(&a, &parse_state(probe, &a.name)).unwrap_err(),
            "Failed to update apt cache: E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  400  Bad Request [IP: 10.231.0.1 3149]\n\
             E: The repository 'http://deb.debian.org/debian bookworm InRelease' is not signed."
        );
    }

    #[test]
    fn planned_packages_are_installed_for_later_apt_tasks() {
        let a = args(json!({"name": ["hello"]}));
        let probe = format!("pkg|hello|un |\nsim-begin\n{SIM_HELLO}sim-rc=0\n");
        let first = plan(&a, &parse_state(&probe, &a.name)).unwrap();
        let planned = PlannedState::new();
        planned.record(first.effects());
        assert_eq!(planned.package("hello"), Some(true));
        assert!(!plan(&a, &with_planned(parse_state(&probe, &a.name), &planned)).unwrap().changes_anything());
        let gone = args(json!({"name": ["hello"], "state": "absent"}));
        let removal = plan(&gone, &with_planned(parse_state(&probe, &gone.name), &planned)).unwrap();
        assert_eq!(removal.remove, vec!["hello".to_string()]);
        planned.record(removal.effects());
        assert_eq!(planned.package("hello"), Some(false));
    }

    #[test]
    fn rejects_odd_names_and_states() {
        assert!(AptModule::validate(&args(json!({"name": "foo; rm -rf /"}))).is_err());
        assert!(AptModule::validate(&args(json!({"name": "foo", "state": "installedd"}))).is_err());
    }
}
