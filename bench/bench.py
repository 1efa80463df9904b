#!/usr/bin/env python3
"""Benchmark mailplay against ansible-playbook on the same lab hosts.

For each N: bring up N light lab hosts, then time (median of several runs,
wall clock and controller CPU of the whole process tree):
  (a) 20 idempotent tasks on already-converged hosts (the re-run case),
  (b) the sake-performance case: 4 module tasks on fresh hosts,
with ansible-playbook 2.19 (pipelining, ControlPersist, forks = N, no fact
gathering) and with mailplay, side by side, with the ratio.

Usage (as root, from the repository): bench/bench.py [N ...] [--runs R]

--loopback: the hosts are sshd instances on 127.0.0.1 instead of lab
hosts (bench/loopback.py), and the host-side CPU per task is measured too
(cgroup accounting). MAILPLAY_BIN times another mailplay binary (a build
of an older commit, for before/after) instead of building this one.
"""
import argparse, os, resource, statistics, subprocess, sys, tempfile, time

import loopback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
MAILPLAY = os.environ.get("MAILPLAY_BIN") or os.path.join(ROOT, "target", "release", "mailplay")
ANSIBLE = os.path.join(os.environ.get("MAILPLAY_ANSIBLE_BIN", "/opt/ansible-venv/bin"), "ansible-playbook")


def timed(cmd, env=None, hosts=None, ctl=None):
    """Run cmd; return (wall seconds, controller CPU seconds of the process
    tree, host-side CPU seconds or None, controller CPU by cgroup or None)."""
    host_before = hosts.host_cpu() if hosts else None
    ctl_before = ctl.cpu_seconds() if ctl else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    p = subprocess.run(cmd, cwd=BENCH, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=ctl.enter if ctl else None)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    host_cpu = ctl_cpu = None
    if hosts and host_before is not None:
        settle(hosts.cg, len(hosts.procs))
        host_cpu = hosts.host_cpu() - host_before
    if ctl:
        settle(ctl, 0)
        ctl_cpu = ctl.cpu_seconds() - ctl_before
    return wall, cpu, host_cpu, ctl_cpu


def settle(cg, keep):
    """Wait (up to 3 s) until only `keep` processes are left in the cgroup:
    logins and ssh masters end just after the run."""
    for _ in range(300):
        if len(open(os.path.join(cg.path, "cgroup.procs")).read().split()) <= keep:
            return
        time.sleep(0.01)


def loopback_main(a):
    """The re-run case on N loopback hosts, with host-side CPU; also the
    first of its tasks alone, so the cost of one more task shows apart
    from connecting (sshd's key exchange, the helper's start)."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(BENCH, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    ctl = loopback.cgroup("mailplay-bench-controller")
    one = os.path.join(BENCH, "idempotent1.yml")
    with open(one, "w") as f:
        f.write(open(os.path.join(BENCH, "idempotent.yml")).read().split("    - name: folder 1\n")[0])
    rows, fresh_rows = [], []
    try:
        for n in a.sizes:
            hosts = loopback.Hosts(n)
            try:
                inv = hosts.inventory
                cmd = {"mailplay": lambda pb: [MAILPLAY, "run", pb, "-i", inv, "-f", str(n)], "ansible": lambda pb: [ANSIBLE, pb, "-i", inv, "-f", str(n)]}
                # label=PATH: another mailplay binary (before/after builds).
                for tool in a.tools.split(","):
                    if "=" in tool:
                        cmd[tool] = lambda pb, b=tool.split("=", 1)[1]: [b, "run", pb, "-i", inv, "-f", str(n)]
                timed(cmd["mailplay"]("idempotent.yml"))
                cases = [(tool, pb, tasks) for tool in a.tools.split(",") for pb, tasks in [("idempotent.yml", 20), (one, 1)]]
                fresh = [(tool, "sake.yml", 4) for tool in a.tools.split(",")] if a.fresh else []
                # Interleaved, so a load that comes and goes (other jobs on
                # the machine) falls on every tool alike.
                samples = {c: [] for c in cases + fresh}
                for _ in range(a.runs):
                    for c in cases + fresh:
                        if c in fresh:
                            timed(cmd["mailplay"]("reset.yml"))
                        samples[c].append(timed(cmd[c[0]](c[1]), env, hosts, ctl))
                rows += [(n, tool.split("=")[0], tasks, samples[(tool, pb, tasks)]) for tool, pb, tasks in cases]
                fresh_rows += [(n, tool.split("=")[0], samples[(tool, pb, tasks)]) for tool, pb, tasks in fresh]
            finally:
                hosts.close()
    finally:
        os.remove(one)
        if ctl:
            ctl.remove()
    print(f"mailplay: {MAILPLAY}")
    print(f"{'N':>4}  {'tool':<9} {'tasks':>5} {'wall s':>7} {'ctl CPU s':>9} {'host CPU s':>10}   raw (wall, rusage CPU, host CPU, cgroup ctl CPU)")
    med = lambda samples, i: statistics.median(s[i] for s in samples) if samples[0][i] is not None else float("nan")
    for n, tool, tasks, samples in rows:
        print(
            f"{n:>4}  {tool:<9} {tasks:>5} {med(samples, 0):7.2f} {med(samples, 3 if ctl else 1):9.2f} {med(samples, 2):10.2f}   "
            + " ".join(f"({s[0]:.2f},{s[1]:.2f},{s[2] if s[2] is None else round(s[2], 2)},{s[3] if s[3] is None else round(s[3], 2)})" for s in samples)
        )
    if fresh_rows:
        print("\nb) 4 module tasks on fresh hosts (sake.yml after reset.yml), per host:")
        for n, tool, samples in fresh_rows:
            print(
                f"{n:>4}  {tool:<9} wall {med(samples, 0):6.2f} s   controller CPU {med(samples, 3 if ctl else 1) / n * 1000:7.2f} ms   host CPU {med(samples, 2) / n * 1000:7.2f} ms   "
                + " ".join(f"({s[0]:.2f},{s[1]:.2f},{s[2] if s[2] is None else round(s[2], 2)},{s[3] if s[3] is None else round(s[3], 2)})" for s in samples)
            )
    print("\nper extra task and host (20 tasks minus 1 task, / 19 / N):")
    for (n, tool, _, full), (_, _, _, single) in zip(rows[::2], rows[1::2]):
        per = lambda i: (med(full, i) - med(single, i)) / 19 / n * 1000
        print(f"{n:>4}  {tool:<9} wall {per(0):6.2f} ms   controller CPU {per(3 if ctl else 1):6.2f} ms   host CPU {per(2):6.2f} ms")


def lab_up(n):
    subprocess.run([MAILPLAY, "lab", "down"], check=True, stdout=subprocess.DEVNULL)
    inv = os.path.join(tempfile.mkdtemp(), "hosts.ini")
    with open(inv, "w") as f:
        f.write("".join(f"bench{i:03d}\n" for i in range(1, n + 1)))
    out = subprocess.run([MAILPLAY, "lab", "up", "--light", "-i", inv], check=True, stdout=subprocess.PIPE, text=True).stdout
    return next(l.split(": ", 1)[1] for l in out.splitlines() if l.startswith("inventory: "))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sizes", nargs="*", type=int, default=[10, 30, 100])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--latency-only", action="store_true", help="only the warm no-op latency on one host")
    ap.add_argument("--loopback", action="store_true", help="loopback sshd hosts, the re-run case only, with host-side CPU")
    ap.add_argument("--fresh", action="store_true", help="with --loopback: also case b), 4 module tasks on fresh hosts")
    ap.add_argument("--tools", default="ansible,mailplay", help="with --loopback: which tools, comma-separated; label=PATH is another mailplay binary")
    a = ap.parse_args()
    if not os.environ.get("MAILPLAY_BIN"):
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "mailplay"], cwd=ROOT, check=True)
    if a.loopback:
        return loopback_main(a)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(BENCH, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    rows = []
    # Warm no-op latency on one host: 100 tasks that change nothing, minus
    # the run's fixed cost (connecting, one task), divided by 99.
    inv = lab_up(1)
    one = os.path.join(BENCH, "noop1.yml")
    with open(one, "w") as f:
        f.write(open(os.path.join(BENCH, "noop.yml")).read().split("    - name: noop 1\n")[0])
    t100 = statistics.median(timed([MAILPLAY, "run", "noop.yml", "-i", inv])[0] for _ in range(5))
    t1 = statistics.median(timed([MAILPLAY, "run", one, "-i", inv])[0] for _ in range(5))
    os.remove(one)
    print(f"warm no-op task latency on one host: {(t100 - t1) / 99 * 1000:.2f} ms per task")
    if a.latency_only:
        subprocess.run([MAILPLAY, "lab", "down"], check=True, stdout=subprocess.DEVNULL)
        return
    for n in a.sizes:
        inv = lab_up(n)
        ans = lambda pb: [ANSIBLE, pb, "-i", inv, "-f", str(n)]
        mp = lambda pb: [MAILPLAY, "run", pb, "-i", inv, "-f", str(n)]
        # (a) converge once, then time re-runs.
        timed(mp("idempotent.yml"))
        for case, tool, cmd in [("a) 20 idempotent tasks", "ansible", ans("idempotent.yml")), ("a) 20 idempotent tasks", "mailplay", mp("idempotent.yml"))]:
            samples = [timed(cmd, env) for _ in range(a.runs)]
            rows.append((n, case, tool, samples, 20))
        # (b) fresh hosts each run: reset, then time.
        for tool, cmd in [("ansible", ans("sake.yml")), ("mailplay", mp("sake.yml"))]:
            samples = []
            for _ in range(a.runs):
                timed(mp("reset.yml"))
                samples.append(timed(cmd, env))
            rows.append((n, "b) 4 module tasks, fresh", tool, samples, 4))
        subprocess.run([MAILPLAY, "lab", "down"], check=True, stdout=subprocess.DEVNULL)
    print(f"\n{'N':>4}  {'case':<26} {'tool':<9} {'wall s':>8} {'CPU s':>8} {'CPU/host-task':>14} {'speed-up':>9}")
    for i, (n, case, tool, samples, tasks) in enumerate(rows):
        wall = statistics.median(s[0] for s in samples)
        cpu = statistics.median(s[1] for s in samples)
        ratio = ""
        if tool == "mailplay":
            other = statistics.median(s[0] for s in rows[i - 1][3])
            ratio = f"{other / wall:8.1f}x"
        print(f"{n:>4}  {case:<26} {tool:<9} {wall:8.2f} {cpu:8.2f} {cpu / (n * tasks) * 1000:11.2f} ms {ratio:>9}")


if __name__ == "__main__":
    main()
