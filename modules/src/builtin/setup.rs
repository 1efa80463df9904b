//! `setup` (fact gathering): one round trip runs a POSIX shell script that
//! prints `key=value` lines; a pure parser turns them into Ansible's facts.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::host::Command;
use crate::module::{ArgDoc, Context, Module, ModuleDoc, ModuleError, ModuleResult};

use super::control::Nothing;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupArgs {
    #[serde(default)]
    pub gather_subset: Option<Value>,
    #[serde(default)]
    pub gather_timeout: Option<Value>,
    #[serde(default)]
    pub filter: Option<Value>,
}

/// The subsets mailplay's facts fall into (Ansible's names): `min` is
/// everything but the network and hardware facts.
const SUBSETS: &[&str] = &["all", "min", "network", "hardware", "virtual"];

fn subset_of(fact: &str) -> &'static str {
    match fact {
        "ansible_default_ipv4" | "ansible_all_ipv4_addresses" => "network",
        "ansible_processor_vcpus" | "ansible_memtotal_mb" => "hardware",
        f if f.starts_with("ansible_virtualization_") => "virtual",
        _ => "min",
    }
}

/// Which subsets `gather_subset` selects, with Ansible's rules: entries are
/// added in order, `!x` removes x, `all` is every subset, `!all` leaves
/// `min` unless `!min` is given too.
pub fn selected_subsets(spec: Option<&Value>) -> Result<Vec<&'static str>, String> {
    let words: Vec<String> = match spec {
        None | Some(Value::Null) => vec!["all".into()],
        Some(v) => {
            crate::args::value_to_list(v)?.iter().flat_map(|w| w.split(',').map(|s| s.trim().to_string()).collect::<Vec<_>>()).collect()
        }
    };
    let mut on: std::collections::BTreeSet<&'static str> = ["min"].into();
    let mut min_excluded = false;
    for w in &words {
        let (negate, name) = match w.strip_prefix('!') {
            Some(n) => (true, n),
            None => (false, w.as_str()),
        };
        let Some(&known) = SUBSETS.iter().find(|s| **s == name) else {
            return Err(format!("gather_subset: unknown subset '{name}'; mailplay gathers {}", SUBSETS.join(", ")));
        };
        let members: Vec<&'static str> = if known == "all" { vec!["network", "hardware", "virtual"] } else { vec![known] };
        for m in members {
            if negate {
                on.remove(m);
                if m == "min" {
                    min_excluded = true;
                }
            } else {
                on.insert(m);
            }
        }
    }
    if min_excluded {
        on.remove("min");
    }
    Ok(on.into_iter().collect())
}

/// Keep the facts of the selected subsets whose names match a `filter` glob.
pub fn select_facts(facts: Map<String, Value>, subsets: &[&str], filter: &[String]) -> Result<Map<String, Value>, String> {
    let globs = filter
        .iter()
        .map(|p| globset::Glob::new(p).map(|g| g.compile_matcher()).map_err(|e| format!("filter: bad pattern '{p}': {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(facts
        .into_iter()
        .filter(|(k, _)| subsets.contains(&subset_of(k)))
        .filter(|(k, _)| globs.is_empty() || globs.iter().any(|g| g.is_match(k)))
        .collect())
}

/// Prints one `key=value` per line. Sends no network traffic: `ip route
/// get` only asks the kernel which route it would take.
pub const SCRIPT: &str = r#"
h=$(hostname 2>/dev/null || cat /etc/hostname)
echo "hostname=${h%%.*}"
echo "nodename=$(uname -n)"
echo "fqdn=$(hostname -f 2>/dev/null || echo "$h")"
echo "kernel=$(uname -r)"
echo "machine=$(uname -m)"
echo "system=$(uname -s)"
echo "user_id=$(id -un)"
echo "user_uid=$(id -u)"
if [ -r /etc/os-release ]; then sed -n 's/^\([A-Z_]*\)=\(.*\)$/os_\1=\2/p' /etc/os-release; fi
echo "pid1=$(cat /proc/1/comm 2>/dev/null)"
echo "fips=$(cat /proc/sys/crypto/fips_enabled 2>/dev/null)"
r=$(ip -4 route get 1.1.1.1 2>/dev/null | head -n1)
echo "route=$r"
echo "ipv4_all=$(ip -4 -o addr show 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | grep -v '^127\.' | tr '\n' ' ')"
echo "vcpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)"
echo "memtotal_kb=$(awk '/^MemTotal:/{print $2}' /proc/meminfo 2>/dev/null)"
echo "epoch=$(date +%s)"
echo "date=$(date +%Y-%m-%d)"
echo "time=$(date +%H:%M:%S)"
echo "iso8601=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
for p in /usr/bin/python3 "$(command -v python3 2>/dev/null)"; do
  [ -x "$p" ] && "$p" -c 'import sys, json; v = sys.version_info; print("python=" + json.dumps({"executable": sys.executable, "has_sslcontext": True, "type": sys.implementation.name, "version": {"major": v[0], "minor": v[1], "micro": v[2], "releaselevel": v[3], "serial": v[4]}, "version_info": list(v)}))' 2>/dev/null && break
done
command -v apt-get >/dev/null 2>&1 && echo "pkg_mgr=apt"
c=$(tr '\0' '\n' </proc/1/environ 2>/dev/null | sed -n 's/^container=//p' | head -n1)
[ -n "$c" ] && echo "container=$c"
[ -d /run/systemd/system ] && systemctl --version 2>/dev/null | head -n2 | sed -n '1s/^systemd \([0-9]*\).*/systemd_version=\1/p; 2s/^/systemd_features=/p'
echo "dmi_product=$(cat /sys/devices/virtual/dmi/id/product_name 2>/dev/null)"
echo "dmi_vendor=$(cat /sys/devices/virtual/dmi/id/sys_vendor 2>/dev/null)"
command -v dnf >/dev/null 2>&1 && echo "pkg_mgr=dnf"
exit 0
"#;

fn unquote(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2 && (v.starts_with('"') && v.ends_with('"') || v.starts_with('\'') && v.ends_with('\'')) {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

/// Turn the script's output into `ansible_*` facts.
pub fn parse(out: &str) -> Map<String, Value> {
    let kv: std::collections::HashMap<String, String> =
        out.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), unquote(v))).collect();
    let get = |k: &str| kv.get(k).cloned().unwrap_or_default();
    let mut f = Map::new();
    let mut put = |k: &str, v: Value| {
        f.insert(format!("ansible_{k}"), v);
    };
    let hostname = get("hostname");
    let fqdn = get("fqdn");
    put("hostname", json!(hostname));
    put("nodename", json!(get("nodename")));
    put("fqdn", json!(fqdn));
    put("domain", json!(fqdn.split_once('.').map(|(_, d)| d).unwrap_or("")));
    put("kernel", json!(get("kernel")));
    put("architecture", json!(get("machine")));
    put("machine", json!(get("machine")));
    put("system", json!(get("system")));
    put("user_id", json!(get("user_id")));
    put("user_uid", json!(get("user_uid").parse::<u64>().ok()));
    // Ansible's fips collector (in `min`): the kernel's FIPS mode switch.
    put("fips", json!(get("fips").trim() == "1"));
    let os_id = get("os_ID");
    let distribution = match os_id.as_str() {
        "debian" => "Debian".to_string(),
        "ubuntu" => "Ubuntu".to_string(),
        "" => "OtherLinux".to_string(),
        other => {
            let mut c = other.chars();
            c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
        }
    };
    let version = get("os_VERSION_ID");
    put("distribution", json!(distribution));
    put("distribution_release", json!(get("os_VERSION_CODENAME")));
    put("distribution_version", json!(version));
    put("distribution_major_version", json!(version.split('.').next().unwrap_or("")));
    let family = match os_id.as_str() {
        "debian" | "ubuntu" | "linuxmint" | "raspbian" => "Debian",
        "rhel" | "centos" | "fedora" | "rocky" | "almalinux" => "RedHat",
        _ => kv.get("os_ID_LIKE").map(|l| if l.contains("debian") { "Debian" } else { "Other" }).unwrap_or("Other"),
    };
    put("os_family", json!(family));
    put(
        "service_mgr",
        json!(match get("pid1").as_str() {
            "systemd" => "systemd",
            "init" => "sysvinit",
            "" => "service",
            other =>
                if other.contains("systemd") {
                    "systemd"
                } else {
                    "service"
                },
        }),
    );
    put("pkg_mgr", json!(kv.get("pkg_mgr").cloned().unwrap_or_else(|| "unknown".into())));
    // "1.1.1.1 via 10.0.0.1 dev eth0 src 10.0.0.5 uid 0"
    let route = get("route");
    let words: Vec<&str> = route.split_whitespace().collect();
    let after = |w: &str| words.iter().position(|x| *x == w).and_then(|i| words.get(i + 1)).map(|s| s.to_string());
    let mut ipv4 = Map::new();
    if let Some(a) = after("src") {
        ipv4.insert("address".into(), json!(a));
    }
    if let Some(d) = after("dev") {
        ipv4.insert("interface".into(), json!(d));
        ipv4.insert("alias".into(), json!(d));
    }
    if let Some(g) = after("via") {
        ipv4.insert("gateway".into(), json!(g));
    }
    put("default_ipv4", Value::Object(ipv4));
    put("all_ipv4_addresses", json!(get("ipv4_all").split_whitespace().collect::<Vec<_>>()));
    put("processor_vcpus", json!(get("vcpus").parse::<u64>().unwrap_or(1)));
    put("memtotal_mb", json!(get("memtotal_kb").parse::<u64>().map(|k| k / 1024).unwrap_or(0)));
    put("date_time", json!({"epoch": get("epoch"), "date": get("date"), "time": get("time"), "iso8601": get("iso8601")}));
    // Ansible's systemd facts (where systemd runs): `systemctl --version`.
    if let Ok(version) = get("systemd_version").parse::<u64>() {
        put("systemd", json!({"version": version, "features": get("systemd_features")}));
    }
    let (virt_type, virt_role) = virtualization(&get("container"), &get("dmi_product"), &get("dmi_vendor"));
    put("virtualization_type", json!(virt_type));
    put("virtualization_role", json!(virt_role));
    put("virtualization_tech_guest", json!(if virt_role == "guest" { vec![virt_type.clone()] } else { Vec::new() }));
    put("virtualization_tech_host", json!(Vec::<String>::new()));
    // The host's Python, as Ansible's python facts (when it has one:
    // mailplay itself needs none).
    if let Some(py) = kv.get("python").and_then(|p| serde_json::from_str::<Value>(p).ok()) {
        let v = &py["version"];
        put("python_version", json!(format!("{}.{}.{}", v["major"], v["minor"], v["micro"])));
        put("python", py);
    }
    f
}

/// Ansible's Linux virtual facts, the cases a Debian host meets: PID 1's
/// `container=` (systemd-nspawn, lxc, podman, docker, ...), else what the
/// DMI product or vendor names (KVM, QEMU, VMware, VirtualBox, Xen, Amazon
/// EC2, Google), else `NA`.
pub fn virtualization(container: &str, product: &str, vendor: &str) -> (String, String) {
    let guest = |t: &str| (t.to_string(), "guest".to_string());
    if !container.is_empty() {
        return guest(container);
    }
    match product.trim() {
        "KVM" | "KVM Server" | "Bochs" | "AHV" => return guest("kvm"),
        p if p.starts_with("VMware") => return guest("VMware"),
        "VirtualBox" => return guest("virtualbox"),
        "HVM domU" => return guest("xen"),
        "Google Compute Engine" => return guest("kvm"),
        _ => {}
    }
    match vendor.trim() {
        "QEMU" => guest("kvm"),
        "Amazon EC2" => guest("amazon"),
        "Xen" => guest("xen"),
        "innotek GmbH" | "Oracle Corporation" => guest("virtualbox"),
        _ => ("NA".to_string(), "NA".to_string()),
    }
}

pub struct SetupModule;

#[async_trait]
impl Module for SetupModule {
    type Args = SetupArgs;
    type State = ModuleResult;
    type Plan = Nothing;
    const NAME: &'static str = "setup";

    fn doc() -> ModuleDoc {
        ModuleDoc {
            summary: "Gather facts about the host in one round trip (also run by gather_facts).",
            args: vec![
                ArgDoc {
                    name: "gather_subset",
                    ty: "list",
                    required: false,
                    default: Some("all"),
                    description: "Subsets to keep: all, min, network (addresses), hardware (vCPUs, memory); `!x` leaves x out.",
                },
                ArgDoc {
                    name: "gather_timeout",
                    ty: "int",
                    required: false,
                    default: Some("10"),
                    description: "Seconds fact gathering may take before the task fails.",
                },
                ArgDoc {
                    name: "filter",
                    ty: "list",
                    required: false,
                    default: None,
                    description: "Only facts whose names match one of these shell-style patterns (e.g. ansible_distribution*).",
                },
            ],
            example: "- setup:",
        }
    }

    async fn probe(a: &SetupArgs, ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        let subsets = selected_subsets(a.gather_subset.as_ref()).map_err(ModuleError::failed)?;
        let filter = match &a.filter {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => crate::args::value_to_list(v).map_err(ModuleError::failed)?,
        };
        let seconds = match &a.gather_timeout {
            None | Some(Value::Null) => 10,
            Some(v) => crate::args::scalar_to_string(v)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| ModuleError::failed(format!("gather_timeout must be a number of seconds, got {v}")))?,
        };
        let out = match tokio::time::timeout(std::time::Duration::from_secs(seconds), ctx.host.exec(&Command::shell(SCRIPT))).await {
            Ok(out) => out?,
            Err(_) => return Ok(ModuleResult::failed(format!("fact gathering did not finish within gather_timeout ({seconds} s)"))),
        };
        if !out.success() {
            return Ok(ModuleResult::failed(format!("fact gathering failed: {}", out.stderr_str().trim())));
        }
        let mut r = ModuleResult::ok();
        r.facts = select_facts(parse(&out.stdout_str()), &subsets, &filter).map_err(ModuleError::failed)?;
        Ok(r)
    }

    fn plan(_a: &SetupArgs, _s: &ModuleResult) -> Result<Nothing, ModuleError> {
        Ok(Nothing)
    }

    async fn apply(_a: &SetupArgs, _p: Nothing, _ctx: &Context<'_>) -> Result<ModuleResult, ModuleError> {
        Err(ModuleError::failed("nothing to apply"))
    }

    fn unchanged_result(_a: &SetupArgs, s: &ModuleResult) -> ModuleResult {
        s.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_subset_follows_ansibles_rules() {
        let s = |v: Value| selected_subsets(Some(&v)).unwrap();
        assert_eq!(selected_subsets(None).unwrap(), ["hardware", "min", "network", "virtual"]);
        assert_eq!(s(json!(["!all"])), ["min"]);
        assert_eq!(s(json!("!all,network")), ["min", "network"]);
        assert_eq!(s(json!(["!all", "!min"])), Vec::<&str>::new());
        assert_eq!(s(json!(["all", "!hardware"])), ["min", "network", "virtual"]);
        assert!(selected_subsets(Some(&json!(["virtualx"]))).unwrap_err().contains("unknown subset 'virtualx'"));
    }

    #[test]
    fn subsets_and_filter_select_facts() {
        let out = "hostname=mx1\nvcpus=2\nipv4_all=10.0.0.5\nos_ID=debian\n";
        let min_only = select_facts(parse(out), &["min"], &[]).unwrap();
        assert!(min_only.contains_key("ansible_hostname"));
        assert!(!min_only.contains_key("ansible_processor_vcpus") && !min_only.contains_key("ansible_all_ipv4_addresses"));
        let filtered = select_facts(parse(out), &["min", "hardware", "network"], &["ansible_distribution*".into()]).unwrap();
        assert!(filtered.keys().all(|k| k.starts_with("ansible_distribution")), "{filtered:?}");
        assert!(filtered.contains_key("ansible_distribution_major_version"));
    }

    #[test]
    fn parses_captured_output() {
        let out = "hostname=mx1\nnodename=mx1\nfqdn=mx1.example.org\nkernel=6.1.0\nmachine=x86_64\nsystem=Linux\nuser_id=root\nuser_uid=0\nos_ID=debian\nos_VERSION_ID=\"12\"\nos_VERSION_CODENAME=bookworm\npid1=systemd\nroute=1.1.1.1 via 10.231.0.1 dev eth0 src 10.231.0.11 uid 0\nipv4_all=10.231.0.11 \nvcpus=2\nmemtotal_kb=2048000\nepoch=1\ndate=2026-11-24\ntime=20:00:00\niso8601=x\npkg_mgr=apt\n";
        let f = parse(out);
        assert_eq!(f["ansible_hostname"], "mx1");
        assert_eq!(f["ansible_domain"], "example.org");
        assert_eq!(f["ansible_distribution"], "Debian");
        assert_eq!(f["ansible_distribution_release"], "bookworm");
        assert_eq!(f["ansible_distribution_major_version"], "12");
        assert_eq!(f["ansible_os_family"], "Debian");
        assert_eq!(f["ansible_service_mgr"], "systemd");
        assert_eq!(f["ansible_default_ipv4"]["address"], "10.231.0.11");
        assert_eq!(f["ansible_default_ipv4"]["gateway"], "10.231.0.1");
        assert_eq!(f["ansible_all_ipv4_addresses"], serde_json::json!(["10.231.0.11"]));
        assert_eq!(f["ansible_memtotal_mb"], 2000);
        assert!(!f.contains_key("ansible_python"), "no python fact without a Python");
        assert_eq!(f["ansible_virtualization_type"], "NA");
        assert!(!f.contains_key("ansible_systemd"));
        // `systemctl --version` on Debian 12, through the script's sed.
        let sd = parse("systemd_version=252\nsystemd_features=+PAM +AUDIT +SELINUX\n");
        assert_eq!(sd["ansible_systemd"], serde_json::json!({"version": 252, "features": "+PAM +AUDIT +SELINUX"}));
        // A lab host (systemd-nspawn sets container= for PID 1).
        let g = parse("container=systemd-nspawn\ndmi_product=Standard PC\n");
        assert_eq!(
            (g["ansible_virtualization_type"].as_str(), g["ansible_virtualization_role"].as_str()),
            (Some("systemd-nspawn"), Some("guest"))
        );
        assert_eq!(g["ansible_virtualization_tech_guest"], serde_json::json!(["systemd-nspawn"]));
        assert_eq!(virtualization("", "KVM", "QEMU").0, "kvm");
    }

    /// Ansible's python facts (the loop-until target runs
    /// `ansible_python.executable`), from the host's /usr/bin/python3.
    #[tokio::test]
    async fn python_facts_like_ansibles() {
        let h = crate::local_host::LocalHost::new("localhost");
        let out = crate::host::Host::exec(&h, &Command::shell(SCRIPT)).await.unwrap();
        let f = parse(&out.stdout_str());
        if !std::path::Path::new("/usr/bin/python3").exists() {
            return;
        }
        assert_eq!(f["ansible_python"]["executable"], "/usr/bin/python3");
        assert_eq!(f["ansible_python"]["type"], "cpython");
        let v = &f["ansible_python"]["version_info"];
        assert_eq!(f["ansible_python_version"], format!("{}.{}.{}", v[0], v[1], v[2]));
        assert_eq!(f["ansible_python"]["version"]["releaselevel"], v[3]);
    }

    #[tokio::test]
    async fn gathers_this_machines_facts() {
        let h = crate::local_host::LocalHost::new("localhost");
        let out = crate::host::Host::exec(&h, &Command::shell(SCRIPT)).await.unwrap();
        assert_eq!(out.rc, 0, "{}", out.stderr_str());
        let f = parse(&out.stdout_str());
        let uname = std::process::Command::new("uname").arg("-m").output().unwrap();
        assert_eq!(f["ansible_architecture"], String::from_utf8_lossy(&uname.stdout).trim());
        let os = std::fs::read_to_string("/etc/os-release").unwrap();
        if os.contains("ID=debian") {
            assert_eq!(f["ansible_distribution"], "Debian");
        }
    }
}
