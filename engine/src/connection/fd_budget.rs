//! File descriptors a run needs, and what to do when the limit is lower.
//!
//! A run keeps each host's SSH connection open from its first task to the
//! end (`exec::connection::ConnectionPool`). The ssh master is a process of
//! its own (it holds the TCP socket), so what the controller holds per host
//! is its helper channels: each one a connection to the master's mux socket
//! plus the pipes for the helper's stdin, stdout and stderr. Measured with
//! `/proc/PID/fd` on loopback hosts: about 4 per open connection with one
//! helper (the common case; each further become user adds a helper), a few
//! more per host while it connects or starts a helper (the other pipe ends
//! before they are handed to the master, `ssh -M`'s own pipes), and a dozen
//! for the run itself (stdio, the runtime's epoll and wakers, files read).
//!
//! At 1,000 hosts that is some 4,000 descriptors, over the soft limit of
//! 1,024 many systems start processes with (while the hard limit is far
//! higher): so the run raises its soft limit to the hard one first, as the
//! limit exists for programs that leak descriptors, not for ones that need
//! many. If even the hard limit is too low, the run says so once and
//! adapts: fewer forks, so the hosts worked on at once fit, and at most so
//! many connections kept open, idle ones closed to make room (those hosts
//! reconnect for their next task), instead of hosts failing with EMFILE.

/// The run itself: stdio, the runtime, reporters' files, files being read;
/// measured at 12 on a one-host run, with room.
pub const FDS_BASE: u64 = 32;
/// One open connection with one helper channel: the mux socket and the
/// helper's three pipes.
pub const FDS_PER_CONNECTION: u64 = 4;
/// A host being worked on may be connecting or starting a helper meanwhile:
/// the other ends of the pipes and ssh's own, for a moment.
pub const FDS_PER_FORK: u64 = 4;

/// What a run does within its file-descriptor limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// Hosts worked on at once.
    pub forks: usize,
    /// Most SSH connections kept open at once (`usize::MAX`: no cap).
    pub max_connections: usize,
    /// What to tell the user, once, when the limit changed the run.
    pub notice: Option<String>,
}

/// Descriptors a run needs to keep `hosts` connections open while working
/// on `forks` hosts at once.
pub fn needed(hosts: usize, forks: usize) -> u64 {
    FDS_BASE + hosts as u64 * FDS_PER_CONNECTION + forks.min(hosts.max(1)) as u64 * FDS_PER_FORK
}

/// The budget for a run over (at most) `hosts` hosts with `forks` asked for,
/// under the descriptor limit `limit`; an error when not even one host fits.
pub fn plan(limit: u64, forks: usize, hosts: usize) -> Result<Budget, String> {
    let forks = forks.max(1);
    let need = needed(hosts, forks);
    if need <= limit {
        return Ok(Budget { forks, max_connections: usize::MAX, notice: None });
    }
    let per_fork = FDS_PER_CONNECTION + FDS_PER_FORK;
    let room = limit.saturating_sub(FDS_BASE);
    if room < per_fork {
        return Err(format!(
            "the file-descriptor limit is {limit} (ulimit -n), too low to work on even one host: mailplay needs at least {}",
            FDS_BASE + per_fork
        ));
    }
    let fit_forks = usize::try_from(room / per_fork).unwrap_or(usize::MAX);
    let new_forks = forks.min(fit_forks);
    let max_connections = usize::try_from((room - new_forks as u64 * FDS_PER_FORK) / FDS_PER_CONNECTION).unwrap_or(usize::MAX);
    let mut notice = format!("{hosts} hosts with forks {forks} need about {need} file descriptors, the limit (ulimit -n) is {limit}: ");
    if new_forks < forks {
        notice.push_str(&format!("lowering forks to {new_forks} and "));
    }
    notice.push_str(&format!(
        "keeping at most {max_connections} SSH connections open at once (the others reconnect for each task); raise the limit to {need} to keep every host connected"
    ));
    Ok(Budget { forks: new_forks, max_connections, notice: Some(notice) })
}

/// Raises the soft RLIMIT_NOFILE to the hard limit (capped by the kernel's
/// `nr_open` when the hard limit is unlimited) and returns the soft limit
/// in force afterwards. A failure to raise leaves the limit as it was.
pub fn raise_nofile_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    let mut target = lim.rlim_max;
    if target == libc::RLIM_INFINITY {
        target = std::fs::read_to_string("/proc/sys/fs/nr_open").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(1 << 20);
    }
    if target > lim.rlim_cur {
        let raised = libc::rlimit { rlim_cur: target, rlim_max: lim.rlim_max };
        // SAFETY: setrlimit reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return target;
        }
    }
    lim.rlim_cur
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enough_descriptors_change_nothing() {
        // 1,000 hosts, forks 50: 32 + 4000 + 200.
        assert_eq!(needed(1000, 50), 4232);
        assert_eq!(plan(20000, 50, 1000).unwrap(), Budget { forks: 50, max_connections: usize::MAX, notice: None });
        assert_eq!(plan(4232, 50, 1000).unwrap().notice, None);
        // Forks beyond the hosts cost nothing more.
        assert_eq!(needed(3, 50), 32 + 12 + 12);
    }

    #[test]
    fn a_low_limit_caps_connections_then_forks() {
        // 1,000 hosts, forks 50, limit 1024: 50 forks fit (50 × 8 = 400 of
        // 992), and (992 - 200) / 4 = 198 connections.
        let b = plan(1024, 50, 1000).unwrap();
        assert_eq!((b.forks, b.max_connections), (50, 198));
        let n = b.notice.unwrap();
        assert!(
            n.starts_with("1000 hosts with forks 50 need about 4232 file descriptors, the limit (ulimit -n) is 1024: keeping at most 198"),
            "{n}"
        );
        // forks 1000 do not fit in 1024: 992 / 8 = 124 forks, (992 - 496) / 4 = 124 connections.
        let b = plan(1024, 1000, 1000).unwrap();
        assert_eq!((b.forks, b.max_connections), (124, 124));
        assert!(b.notice.unwrap().contains("lowering forks to 124 and keeping at most 124 SSH connections"));
        // The connections always hold the forks.
        for limit in [40, 64, 100, 333, 1024, 4000] {
            for forks in [1, 5, 50, 1000] {
                let b = plan(limit, forks, 1000).unwrap();
                assert!(b.forks >= 1 && b.max_connections >= b.forks, "{limit} {forks} {b:?}");
                assert!(
                    FDS_BASE + b.max_connections as u64 * FDS_PER_CONNECTION + b.forks as u64 * FDS_PER_FORK <= limit,
                    "{limit} {forks} {b:?}"
                );
            }
        }
    }

    #[test]
    fn too_low_for_one_host_is_an_error() {
        let e = plan(39, 5, 10).unwrap_err();
        assert!(e.contains("limit is 39") && e.contains("at least 40"), "{e}");
        assert_eq!(plan(40, 5, 10).unwrap().forks, 1);
    }

    #[test]
    fn raising_keeps_the_limit_at_least_where_it_was() {
        let mut before = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut before) };
        let soft = raise_nofile_limit();
        assert!(soft >= before.rlim_cur);
        if before.rlim_max != libc::RLIM_INFINITY {
            assert_eq!(soft, before.rlim_max);
        }
    }
}
