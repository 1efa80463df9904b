//! Per-host counters and the PLAY RECAP block, in Ansible's exact format
//! (CI scripts parse it).

use std::collections::BTreeMap;

use super::HostStatus;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HostStats {
    pub ok: u32,
    pub changed: u32,
    pub unreachable: u32,
    pub failures: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
}

impl HostStats {
    pub fn add(&mut self, o: &HostStats) {
        self.ok += o.ok;
        self.changed += o.changed;
        self.unreachable += o.unreachable;
        self.failures += o.failures;
        self.skipped += o.skipped;
        self.rescued += o.rescued;
        self.ignored += o.ignored;
    }
}

#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub hosts: BTreeMap<String, HostStats>,
}

impl Stats {
    /// Count one task's outcome on a host the way Ansible's strategy does:
    /// a success counts as ok (and changed if it changed); an ignored
    /// failure counts as ok and ignored.
    pub fn record(&mut self, host: &str, status: HostStatus, ignored: bool, changed: bool) {
        let s = self.hosts.entry(host.to_string()).or_default();
        match status {
            HostStatus::Ok => s.ok += 1,
            HostStatus::Changed => {
                s.ok += 1;
                s.changed += 1;
            }
            HostStatus::Skipped => s.skipped += 1,
            HostStatus::Unreachable => s.unreachable += 1,
            HostStatus::Failed if ignored => {
                s.ok += 1;
                s.ignored += 1;
                if changed {
                    s.changed += 1;
                }
            }
            HostStatus::Failed => s.failures += 1,
        }
    }

    pub fn rescued(&mut self, host: &str) {
        self.hosts.entry(host.to_string()).or_default().rescued += 1;
    }

    pub fn any_failed(&self) -> bool {
        self.hosts.values().any(|s| s.failures > 0)
    }

    pub fn any_unreachable(&self) -> bool {
        self.hosts.values().any(|s| s.unreachable > 0)
    }

    /// The lines after `PLAY RECAP ***`, one per host, sorted by name.
    pub fn recap_lines(&self) -> Vec<String> {
        self.hosts
            .iter()
            .map(|(h, s)| {
                format!(
                    "{:<26} : {} {} {} {} {} {} {}",
                    h,
                    field("ok", s.ok),
                    field("changed", s.changed),
                    field("unreachable", s.unreachable),
                    field("failed", s.failures),
                    field("skipped", s.skipped),
                    field("rescued", s.rescued),
                    field("ignored", s.ignored)
                )
            })
            .collect()
    }
}

fn field(name: &str, n: u32) -> String {
    format!("{name}={:<4}", n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recap_line_matches_ansible_byte_for_byte() {
        let mut s = Stats::default();
        for _ in 0..16 {
            s.record("h1", HostStatus::Ok, false, false);
        }
        s.hosts.get_mut("h1").unwrap().changed = 12;
        s.record("h1", HostStatus::Skipped, false, false);
        s.record("h1", HostStatus::Skipped, false, false);
        s.rescued("h1");
        // Captured from ansible-playbook 2.19.
        assert_eq!(
            s.recap_lines()[0],
            "h1                         : ok=16   changed=12   unreachable=0    failed=0    skipped=2    rescued=1    ignored=0   "
        );
    }

    #[test]
    fn ignored_failures_count_as_ok() {
        let mut s = Stats::default();
        s.record("h", HostStatus::Failed, true, true);
        let h = &s.hosts["h"];
        assert_eq!((h.ok, h.changed, h.ignored, h.failures), (1, 1, 1, 0));
        assert!(!s.any_failed());
    }
}
