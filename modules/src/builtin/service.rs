//! `service` / `systemd`: a service started, stopped, restarted or
//! reloaded, enabled or not. systemd where it is PID 1, the sysv `service`
//! command otherwise. Daemons are started with their standard streams
//! redirected so they cannot hold the connection open.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

use crate::args::{loose_bool, loose_opt_bool, loose_opt_string, loose_string};
use crate::host::{quote, Command};
use crate::module::{ArgDoc, Context, Diff, Module, ModuleDoc, ModuleError, ModuleResult, Plan};
use crate::planned::{Effect, Planned, PlannedState, ServiceChange};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceArgs {
    /// Empty when not given: systemd then only reloads its units.
    #[serde(default, alias = "service", alias = "unit", deserialize_with = "loose_string")]
    pub name: String,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_bool")]
    pub enabled: Option<bool>,
    #[serde(default, alias = "daemon-reload", deserialize_with = "loose_bool")]
    pub daemon_reload: bool,
    #[serde(default, deserialize_with = "loose_opt_bool")]
    pub masked: Option<bool>,
    /// sysv-only options of Ansible's service module. Where systemd runs
    /// it ignores them with a warning, as Ansible's service action does;
    /// elsewhere mailplay refuses them by name.
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub pattern: Option<String>,
    #[serde(default)]
    pub sleep: Option<Value>,
    #[serde(default, alias = "args", deserialize_with = "loose_opt_string")]
    pub arguments: Option<String>,
    #[serde(default, deserialize_with = "loose_opt_string")]
    pub runlevel: Option<String>,
    /// service only: the service manager (`auto`, the default, finds it;
    /// `systemd`; `sysvinit` or `service`: the init script through the
    /// `service` command, even where systemd runs).
    #[serde(default, rename = "use", deserialize_with = "loose_opt_string")]
    pub use_: Option<String>,
}

impl ServiceArgs {
    /// The sysv-only options given (`pattern`, `runlevel`, `sleep`, `arguments`).
    fn sysv_only(&self) -> Vec<&'static str> {
        [
            ("pattern", self.pattern.is_some()),
            ("runlevel", self.runlevel.is_some()),
            ("sleep", self.sleep.is_some()),
            ("arguments", self.arguments.is_some()),
        ]
        .iter()
        .filter(|(_, given)| *given)
        .map(|(name, _)| *name)
        .collect()
    }

    /// Ansible's service action's warnings for them where systemd runs.
    fn ignored_warnings(&self) -> Vec<String> {
        self.sysv_only().iter().map(|n| format!("Ignoring \"{n}\" as it is not used in \"systemd\"")).collect()
    }
}

const SYSV_ONLY: &str = "service only, a sysv option: ignored with a warning where systemd runs; refused elsewhere.";

fn with_warnings(r: ModuleResult, a: &ServiceArgs, systemd: bool) -> ModuleResult {
    let warnings = a.ignored_warnings();
    if systemd && !warnings.is_empty() {
        r.with("warnings", warnings)
    } else {
        r
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceState {
    /// `systemctl show`'s properties, for the systemd module's `status`
    /// (empty for the service module, which asks only for the few it needs).
    pub status: serde_json::Map<String, serde_json::Value>,
    pub systemd: bool,
    pub exists: bool,
    pub active: bool,
    pub enabled: Option<bool>,
    pub masked: bool,
}

/// What `UnitFileState` says when `systemctl is-enabled` said nothing.
fn from_unit_file(state: &str) -> Option<bool> {
    match state {
        "enabled" | "alias" => Some(true),
        "disabled" | "masked" => Some(false),
        _ => None,
    }
}

/// Parse the probe's output: `pid1=...` then `systemctl show` properties
/// or `sysv_status=` / `sysv_enabled=` / `sysv_exists=` lines.
pub fn parse_state(out: &str) -> ServiceState {
    let get = |k: &str| out.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).unwrap_or("").trim().to_string();
    let systemd = get("pid1") == "systemd";
    if systemd {
        let unit_file = get("UnitFileState");
        let status = out
            .lines()
            .skip_while(|l| !l.starts_with("pid1="))
            .skip(1)
            .take_while(|l| !l.starts_with("IsEnabled="))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
            .collect();
        ServiceState {
            status,
            systemd,
            exists: get("LoadState") != "not-found",
            active: matches!(get("ActiveState").as_str(), "active" | "activating" | "reloading"),
            // `systemctl is-enabled`, as Ansible's systemd module reads it:
            // a unit enabled only at runtime or only through another
            // (indirect) is enabled for good when asked; static and
            // generated (sysv) units need nothing. Aliases count as enabled
            // (Ansible enables them again on every run).
            // `-l` lists an indirect unit's links once another unit it
            // names (`Also=`) is enabled; Ansible then reads it as enabled.
            enabled: match get("IsEnabled").split_whitespace().collect::<Vec<_>>().as_slice() {
                ["indirect", _link, ..] => Some(true),
                [state, ..] => match *state {
                    "enabled" | "static" | "generated" | "transient" | "alias" => Some(true),
                    "enabled-runtime" | "indirect" | "disabled" | "masked" | "masked-runtime" | "linked" | "linked-runtime" => Some(false),
                    _ => from_unit_file(&unit_file),
                },
                [] => from_unit_file(&unit_file),
            },
            masked: unit_file == "masked" || get("LoadState") == "masked",
        }
    } else {
        ServiceState {
            status: serde_json::Map::new(),
            systemd,
            exists: get("sysv_exists") == "yes",
            active: get("sysv_status") == "0",
            enabled: Some(get("sysv_enabled") == "yes"),
            masked: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Start,
    Stop,
    Restart,
    Reload,
    Enable,
    Disable,
    Mask,
    Unmask,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServicePlan {
    pub name: String,
    /// The unit's properties before the change (the systemd module's `status`).
    pub status: serde_json::Map<String, serde_json::Value>,
    pub actions: Vec<Action>,
    /// systemd is PID 1 (else the sysv `service` command is used).
    pub systemd: bool,
    pub daemon_reload: bool,
    pub before: String,
    pub after: String,
}

impl Plan for ServicePlan {
    fn changes_anything(&self) -> bool {
        !self.actions.is_empty()
    }
    fn diffs(&self) -> Vec<Diff> {
        if self.before == self.after {
            return Vec::new();
        }
        vec![Diff::new("service", self.before.clone(), self.after.clone())]
    }
    fn effects(&self) -> Vec<Effect> {
        if self.actions.is_empty() {
            return Vec::new();
        }
        let mut change = ServiceChange::default();
        for a in &self.actions {
            match a {
                Action::Start | Action::Restart | Action::Reload => change.active = Planned::Will(true),
                Action::Stop => change.active = Planned::Will(false),
                Action::Enable => change.enabled = Planned::Will(true),
                Action::Disable => change.enabled = Planned::Will(false),
                Action::Mask => change.masked = Planned::Will(true),
                Action::Unmask => change.masked = Planned::Will(false),
            }
        }
        vec![Effect::Service { name: self.name.clone(), change }]
    }
}

/// The service as the run's earlier tasks planned it (check mode): a unit
/// a planned package ships exists, and what the plans say of its state
/// wins over the host's. What check mode cannot know is noted and planned
/// from the safe side (stopped, not enabled), so the task predicts a change.
pub fn with_planned(mut s: ServiceState, planned: &PlannedState, name: &str, assume: &dyn Fn(String)) -> ServiceState {
    if !s.exists && s.systemd && planned_unit_file(planned, name) {
        // A unit file an earlier task writes: loaded (daemon-reload),
        // neither running nor enabled until a task says so.
        s = ServiceState { exists: true, active: false, enabled: Some(false), masked: false, ..s };
    }
    let Some(p) = planned.service(name) else {
        let unread = planned.unread_packages();
        if !s.exists && !unread.is_empty() {
            // It may come with them: predict its start rather than fail
            // what the real run may well do.
            assume(format!("{name} may come with {}, which this run installs (their contents were not read)", unread.join(", ")));
            return ServiceState { exists: true, active: false, enabled: None, masked: false, ..s };
        }
        return s;
    };
    if p.exists && !s.exists {
        s = ServiceState { exists: true, active: false, enabled: None, masked: false, ..s };
    }
    match p.active {
        Planned::Unchanged => {}
        Planned::Will(a) => s.active = a,
        Planned::Unknown(why) => {
            assume(why);
            s.active = false;
        }
    }
    match p.enabled {
        Planned::Unchanged => {}
        Planned::Will(e) => s.enabled = Some(e),
        Planned::Unknown(why) => {
            assume(why);
            s.enabled = None;
        }
    }
    if let Planned::Will(m) = p.masked {
        s.masked = m;
    }
    s
}

/// An earlier task of the run writes this unit's file where the
/// administrator's units live.
fn planned_unit_file(planned: &PlannedState, name: &str) -> bool {
    let file = if name.contains('.') { name.to_string() } else { format!("{name}.service") };
    ["/etc/systemd/system", "/usr/local/lib/systemd/system"]
        .iter()
        .any(|dir| planned.path(&format!("{dir}/{file}")).is_some_and(|p| p.kind == Some(crate::host::FileKind::File)))
}

fn describe(active: bool, enabled: Option<bool>) -> String {
    format!(
        "state: {}\nenabled: {}\n",
        if active { "started" } else { "stopped" },
        enabled.map(|e| e.to_string()).unwrap_or_else(|| "n/a".into())
    )
}

pub fn plan(a: &ServiceArgs, s: &ServiceState) -> Result<ServicePlan, String> {
    if !s.exists {
        return Err(format!("Could not find the requested service {}: host", a.name));
    }
    let mut actions = Vec::new();
    let (mut active, mut enabled) = (s.active, s.enabled);
    match a.masked {
        Some(true) if !s.masked => actions.push(Action::Mask),
        Some(false) if s.masked => actions.push(Action::Unmask),
        _ => {}
    }
    match a.enabled {
        Some(true) if s.enabled != Some(true) => {
            actions.push(Action::Enable);
            enabled = Some(true);
        }
        Some(false) if s.enabled == Some(true) => {
            actions.push(Action::Disable);
            enabled = Some(false);
        }
        _ => {}
    }
    match a.state.as_deref() {
        None => {}
        Some("started") if !s.active => {
            actions.push(Action::Start);
            active = true;
        }
        Some("stopped") if s.active => {
            actions.push(Action::Stop);
            active = false;
        }
        // Like Ansible, restarted and reloaded always act.
        Some("restarted") => {
            actions.push(Action::Restart);
            active = true;
        }
        Some("reloaded") => {
            actions.push(if s.active { Action::Reload } else { Action::Start });
            active = true;
        }
        Some("started") | Some("stopped") => {}
        Some(other) => return Err(format!("value of state must be one of: reloaded, restarted, started, stopped, got: {other}")),
    }
    Ok(ServicePlan {
        name: a.name.clone(),
        status: s.status.clone(),
        actions,
        systemd: s.systemd,
        daemon_reload: a.daemon_reload,
        before: describe(s.active, s.enabled),
        after: describe(active, enabled),
    })
}

fn command_for(name: &str, action: &Action, systemd: bool) -> String {
    let n = quote(name);
    if systemd {
        let verb = match action {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
            Action::Reload => "reload",
            Action::Enable => "enable",
            Action::Disable => "disable",
            Action::Mask => "mask",
            Action::Unmask => "unmask",
        };
        format!("systemctl {verb} {n}")
    } else {
        match action {
            // The daemon must not inherit our pipes: that would keep the channel open forever.
            Action::Start => format!("service {n} start </dev/null >/dev/null 2>&1"),
            Action::Stop => format!("service {n} stop </dev/null >/dev/null 2>&1"),
            Action::Restart => format!("service {n} restart </dev/null >/dev/null 2>&1"),
            Action::Reload => format!("service {n} reload </dev/null >/dev/null 2>&1"),
            Action::Enable => format!("update-rc.d {n} defaults >/dev/null && update-rc.d {n} enable"),
            Action::Disable => format!("update-rc.d {n} disable"),
            Action::Mask | Action::Unmask => "echo 'masking needs systemd' >&2; exit 1".to_string(),
        }
    }
}

macro_rules! service_module {
    ($ty:ident, $name:literal) => {
        pub struct $ty;

        #[async_trait]
        impl Module for $ty {
            type Args = ServiceArgs;
            type State = ServiceState;
            type Plan = ServicePlan;
            const NAME: &'static str = $name;

            fn doc() -> ModuleDoc {
                ModuleDoc {
                    summary: "Start, stop, restart or reload a service and enable it at boot (systemd, or sysv service).",
                    args: vec![
                        ArgDoc { name: "name", ty: "string", required: true, default: None, description: "The service or unit." },
                        ArgDoc { name: "state", ty: "string", required: false, default: None, description: "started, stopped, restarted or reloaded." },
                        ArgDoc { name: "enabled", ty: "bool", required: false, default: None, description: "Start at boot." },
                        ArgDoc { name: "daemon_reload", ty: "bool", required: false, default: Some("false"), description: "systemctl daemon-reload first." },
                        ArgDoc { name: "masked", ty: "bool", required: false, default: None, description: "Mask or unmask the unit (systemd)." },
                        ArgDoc { name: "pattern", ty: "string", required: false, default: None, description: SYSV_ONLY },
                        ArgDoc { name: "sleep", ty: "int", required: false, default: None, description: SYSV_ONLY },
                        ArgDoc { name: "arguments", ty: "string", required: false, default: None, description: SYSV_ONLY },
                        ArgDoc { name: "runlevel", ty: "string", required: false, default: None, description: SYSV_ONLY },
                        ArgDoc {
                            name: "use",
                            ty: "string",
                            required: false,
                            default: Some("auto"),
                            description: "service only: auto, systemd, or sysvinit/service (the init script).",
                        },
                    ],
                    example: "- service:\n    name: postfix\n    state: started\n    enabled: yes",
                }
            }

            fn validate(a: &ServiceArgs) -> Result<(), String> {
                if a.state.is_none() && a.enabled.is_none() && a.masked.is_none() && !a.daemon_reload {
                    return Err("one of the following is required: state, enabled, masked, daemon_reload".into());
                }
                if $name == "systemd" {
                    if let Some(first) = a.sysv_only().first() {
                        return Err(format!("Unsupported parameters for (systemd) module: {first}"));
                    }
                    if a.use_.is_some() {
                        return Err("Unsupported parameters for (systemd) module: use".into());
                    }
                }
                if let Some(other) = a.use_.as_deref().filter(|u| !["auto", "systemd", "sysvinit", "service"].contains(u)) {
                    return Err(format!("use: mailplay's service drives systemd or init scripts (auto, systemd, sysvinit, service), not '{other}'"));
                }
                if a.name.is_empty() {
                    // Ansible's service needs a name; its systemd only for
                    // what acts on a unit.
                    if $name == "service" {
                        return Err("missing required arguments: name".into());
                    }
                    let needing: Vec<&str> = [("state", a.state.is_some()), ("enabled", a.enabled.is_some()), ("masked", a.masked.is_some())]
                        .iter()
                        .filter(|(_, given)| *given)
                        .map(|(k, _)| *k)
                        .collect();
                    if let Some(first) = needing.first() {
                        return Err(format!("missing parameter(s) required by '{first}': name"));
                    }
                }
                Ok(())
            }

            async fn probe(a: &ServiceArgs, ctx: &Context<'_>) -> Result<ServiceState, ModuleError> {
                if a.name.is_empty() {
                    // `systemd: daemon_reload: true` alone: the reload (not
                    // in check mode, like Ansible) and nothing to plan.
                    if !ctx.check_mode {
                        let out = ctx.host.exec(&Command::shell("systemctl daemon-reload".to_string())).await?;
                        if !out.success() {
                            return Err(ModuleError::failed(format!(
                                "failure {} during daemon-reload: {}",
                                out.rc,
                                out.stderr_str().trim()
                            )));
                        }
                    }
                    return Ok(ServiceState { status: serde_json::Map::new(), systemd: true, exists: true, active: false, enabled: None, masked: false });
                }
                let n = quote(&a.name);
                let script = format!(
                    "{pid1}; echo pid1=$p; if [ \"$p\" = systemd ]; then {reload}systemctl show {n} {props}; echo IsEnabled=$(systemctl is-enabled -l {n} 2>/dev/null | tr '\\n' ' '); else \
                     if [ -x /etc/init.d/{raw} ]; then echo sysv_exists=yes; service {n} status >/dev/null 2>&1; echo sysv_status=$?; \
                     if ls /etc/rc2.d/S??{raw} >/dev/null 2>&1; then echo sysv_enabled=yes; fi; fi; fi",
                    // Like Ansible: check mode does not reload systemd.
                    reload = if a.daemon_reload && !ctx.check_mode { "systemctl daemon-reload; " } else { "" },
                    // `use: sysvinit` takes the init script's road wherever it runs.
                    pid1 = if matches!(a.use_.as_deref(), Some("sysvinit" | "service")) { "p=sysvinit" } else { "p=$(cat /proc/1/comm 2>/dev/null)" },
                    // The systemd module returns every property (`status`), as Ansible's.
                    props = if $name == "systemd" { "" } else { "-p LoadState -p ActiveState -p UnitFileState" },
                    raw = a.name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_' && c != '.', ""),
                );
                let out = ctx.host.exec(&Command::shell(script)).await?;
                let state = parse_state(&out.stdout_str());
                if !state.systemd && a.use_.as_deref() == Some("systemd") {
                    return Err(ModuleError::failed("use=systemd, but systemd does not run on this host"));
                }
                if !state.systemd {
                    if let Some(first) = a.sysv_only().first() {
                        return Err(ModuleError::failed(format!("{first} is not supported by mailplay's service on a host without systemd")));
                    }
                }
                Ok(match ctx.rehearsal() {
                    Some(planned) => with_planned(state, planned, &a.name, &|why| ctx.assume(why)),
                    None => state,
                })
            }

            fn plan(a: &ServiceArgs, s: &ServiceState) -> Result<ServicePlan, ModuleError> {
                plan(a, s).map_err(ModuleError::failed)
            }

            async fn apply(a: &ServiceArgs, p: ServicePlan, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
                for action in &p.actions {
                    let out = ctx.host.exec(&Command::shell(command_for(&a.name, action, p.systemd))).await?;
                    if !out.success() {
                        let journal = if p.systemd { format!(" (see journalctl -u {})", a.name) } else { String::new() };
                        let verb = format!("{action:?}").to_lowercase();
                        return Ok(ModuleResult::failed(format!("Unable to {verb} service {}: {}{journal}", a.name, out.stderr_str().trim())));
                    }
                }
                // As Ansible's result: the state asked (restarted and
                // reloaded end `started`), and `enabled` when asked.
                let state = match a.state.as_deref() {
                    Some("restarted" | "reloaded") => "started".to_string(),
                    other => other.unwrap_or_default().to_string(),
                };
                let mut done = ModuleResult::changed(true).with("name", a.name.clone());
                if a.state.is_some() {
                    done = done.with("state", state);
                }
                if let Some(e) = a.enabled {
                    done = done.with("enabled", e);
                }
                let done = with_warnings(done, a, p.systemd);
                Ok(if $name == "systemd" { done.with("status", serde_json::Value::Object(p.status.clone())) } else { done })
            }

            fn unchanged_result(a: &ServiceArgs, s: &ServiceState) -> ModuleResult {
                if a.name.is_empty() {
                    return ModuleResult::ok().with("name", serde_json::Value::Null).with("status", serde_json::json!({}));
                }
                let ok = if $name == "systemd" { ModuleResult::ok().with("status", serde_json::Value::Object(s.status.clone())) } else { with_warnings(ModuleResult::ok(), a, s.systemd) };
                ok.with("name", a.name.clone()).with("state", if s.active { "started" } else { "stopped" }).with("enabled", s.enabled.unwrap_or(false))
            }
        }
    };
}

service_module!(ServiceModule, "service");
service_module!(SystemdModule, "systemd");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_args;
    use serde_json::json;

    fn args(v: serde_json::Value) -> ServiceArgs {
        parse_args("service", &v).unwrap()
    }

    // Captured: `systemctl show redis-server -p LoadState -p ActiveState -p UnitFileState` on Debian 12.
    const STOPPED: &str = "pid1=systemd\nLoadState=loaded\nActiveState=inactive\nUnitFileState=disabled\n";
    const RUNNING: &str = "pid1=systemd\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\n";
    // saslauthd (a sysv script) on Debian 12, enabled with update-rc.d.
    const SYSV_GENERATED: &str = "pid1=systemd\nLoadState=loaded\nActiveState=active\nUnitFileState=generated\nIsEnabled=enabled\n";

    #[test]
    fn systemd_reloads_without_a_unit_but_acts_on_none() {
        let reload = args(json!({"daemon_reload": true}));
        assert_eq!(<SystemdModule as Module>::validate(&reload), Ok(()));
        assert_eq!(<ServiceModule as Module>::validate(&reload), Err("missing required arguments: name".to_string()));
        let start = args(json!({"state": "started", "daemon_reload": true}));
        assert_eq!(<SystemdModule as Module>::validate(&start), Err("missing parameter(s) required by 'state': name".to_string()));
    }

    #[test]
    fn is_enabled_decides_as_ansible_reads_it() {
        let with = |is_enabled: &str| {
            parse_state(&format!("pid1=systemd\nLoadState=loaded\nActiveState=inactive\nUnitFileState=x\nIsEnabled={is_enabled}\n")).enabled
        };
        assert_eq!(with("indirect"), Some(false));
        // `systemctl is-enabled -l dummy` once its Also=dummy.socket is enabled.
        assert_eq!(with("indirect   /etc/systemd/system/sockets.target.wants/dummy.socket "), Some(true));
        assert_eq!(with("enabled-runtime"), Some(false));
        assert_eq!(with("static"), Some(true));
        assert_eq!(with("enabled"), Some(true));
        assert_eq!(with("disabled"), Some(false));
    }

    #[test]
    fn sysv_options_are_ignored_with_a_warning_where_systemd_runs() {
        let a = args(json!({"name": "x", "state": "started", "pattern": "x_ser", "sleep": 2}));
        assert_eq!(a.sysv_only(), ["pattern", "sleep"]);
        let r = with_warnings(ModuleResult::ok(), &a, true);
        assert_eq!(
            r.data["warnings"],
            json!(["Ignoring \"pattern\" as it is not used in \"systemd\"", "Ignoring \"sleep\" as it is not used in \"systemd\""])
        );
        assert!(!with_warnings(ModuleResult::ok(), &a, false).data.contains_key("warnings"));
        assert!(<SystemdModule as Module>::validate(&a).unwrap_err().contains("Unsupported parameters for (systemd) module: pattern"));
        assert_eq!(<ServiceModule as Module>::validate(&a), Ok(()));
    }

    #[test]
    fn systemctl_shows_properties_as_the_status() {
        let s = parse_state(SYSV_GENERATED);
        assert_eq!(s.status["ActiveState"], "active");
        assert_eq!(s.status["UnitFileState"], "generated");
        assert!(!s.status.contains_key("IsEnabled") && !s.status.contains_key("pid1"));
    }

    #[test]
    fn sysv_generated_units_are_seen_as_enabled() {
        assert_eq!(parse_state(SYSV_GENERATED).enabled, Some(true));
        assert!(!plan(&args(json!({"name": "saslauthd", "state": "started", "enabled": true})), &parse_state(SYSV_GENERATED))
            .unwrap()
            .changes_anything());
    }

    #[test]
    fn starts_and_enables_only_when_needed() {
        let p = plan(&args(json!({"name": "redis-server", "state": "started", "enabled": true})), &parse_state(STOPPED)).unwrap();
        assert_eq!(p.actions, vec![Action::Enable, Action::Start]);
        assert!(p.diffs()[0].after.contains("started"));
        assert!(!plan(&args(json!({"name": "redis-server", "state": "started", "enabled": true})), &parse_state(RUNNING))
            .unwrap()
            .changes_anything());
    }

    #[test]
    fn restart_always_acts_and_missing_units_fail() {
        assert_eq!(plan(&args(json!({"name": "x", "state": "restarted"})), &parse_state(RUNNING)).unwrap().actions, vec![Action::Restart]);
        let missing = parse_state("pid1=systemd\nLoadState=not-found\nActiveState=inactive\nUnitFileState=\n");
        assert!(plan(&args(json!({"name": "nope", "state": "started"})), &missing).unwrap_err().contains("Could not find"));
    }

    #[test]
    fn a_planned_start_and_a_planned_package_are_seen_by_later_tasks() {
        let planned = PlannedState::new();
        let started = args(json!({"name": "saslauthd", "state": "started", "enabled": true}));
        planned.record(plan(&started, &parse_state(STOPPED)).unwrap().effects());
        let no_notes = |w: String| panic!("nothing unknown here: {w}");
        let again = with_planned(parse_state(STOPPED), &planned, "saslauthd.service", &no_notes);
        assert!(!plan(&started, &again).unwrap().changes_anything(), "started and enabled by the earlier plan");
        let restart = plan(&args(json!({"name": "saslauthd", "state": "restarted"})), &again).unwrap();
        assert_eq!(restart.actions, vec![Action::Restart]);

        // A unit only a planned package brings, which its postinst starts.
        let missing = parse_state("pid1=systemd\nLoadState=not-found\nActiveState=inactive\nUnitFileState=\n");
        let pg = args(json!({"name": "postgresql", "state": "started", "enabled": true}));
        assert!(plan(&pg, &missing).is_err());
        let shipped = ServiceChange { exists: true, active: Planned::Will(true), enabled: Planned::Will(true), masked: Planned::Unchanged };
        planned.record(vec![Effect::Service { name: "postgresql".into(), change: shipped }]);
        assert!(!plan(&pg, &with_planned(missing.clone(), &planned, "postgresql", &no_notes)).unwrap().changes_anything());

        // Started through an init script that may decline: a change, noted.
        let why = "sasl2-bin starts it through its init script".to_string();
        let unsure =
            ServiceChange { exists: true, active: Planned::Unknown(why.clone()), enabled: Planned::Will(true), ..Default::default() };
        planned.record(vec![Effect::Service { name: "other".into(), change: unsure }]);
        let notes = std::cell::RefCell::new(Vec::new());
        let s = with_planned(missing, &planned, "other", &|w| notes.borrow_mut().push(w));
        assert_eq!(plan(&args(json!({"name": "other", "state": "started"})), &s).unwrap().actions, vec![Action::Start]);
        assert_eq!(notes.into_inner(), vec![why]);

        // Packages whose contents are unknown may bring any unit: noted.
        planned.record(vec![Effect::Package { name: "rspamd".into(), installed: true, contents: None }]);
        let notes = std::cell::RefCell::new(Vec::new());
        let gone = parse_state("pid1=systemd\nLoadState=not-found\nActiveState=inactive\nUnitFileState=\n");
        let s = with_planned(gone, &planned, "rspamd", &|w| notes.borrow_mut().push(w));
        assert_eq!(plan(&args(json!({"name": "rspamd", "state": "started"})), &s).unwrap().actions, vec![Action::Start]);
        assert_eq!(notes.into_inner().len(), 1);
    }

    #[test]
    fn a_unit_file_written_earlier_in_the_run_makes_the_unit_exist() {
        let planned = PlannedState::new();
        let missing = parse_state("pid1=systemd\nLoadState=not-found\nActiveState=inactive\nUnitFileState=\n");
        let socket = args(json!({"name": "mail-auth.socket", "state": "started", "enabled": true}));
        let no_notes = |w: String| panic!("nothing unknown here: {w}");
        assert!(plan(&socket, &with_planned(missing.clone(), &planned, "mail-auth.socket", &no_notes)).is_err());
        let unit = crate::planned::PathChange::Write { content: b"[Socket]\n".to_vec(), attrs: Default::default() };
        planned.record(vec![Effect::Path { path: "/etc/systemd/system/mail-auth.socket".into(), change: unit.clone() }]);
        let s = with_planned(missing.clone(), &planned, "mail-auth.socket", &no_notes);
        assert_eq!(plan(&socket, &s).unwrap().actions, vec![Action::Enable, Action::Start]);
        // A service's unit is found under its plain name too.
        planned.record(vec![Effect::Path { path: "/etc/systemd/system/mail-auth.service".into(), change: unit }]);
        let s = with_planned(missing, &planned, "mail-auth", &no_notes);
        assert_eq!(plan(&args(json!({"name": "mail-auth", "state": "started"})), &s).unwrap().actions, vec![Action::Start]);
    }

    #[test]
    fn sysv_hosts() {
        let s = parse_state("pid1=sshd\nsysv_exists=yes\nsysv_status=3\n");
        assert!(!s.systemd && s.exists && !s.active);
        assert_eq!(command_for("rspamd", &Action::Start, false), "service rspamd start </dev/null >/dev/null 2>&1");
    }
}
