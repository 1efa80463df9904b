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
(cgroup accounting), for the re-run case's tasks and, for mailplay's
builds, per no-op task (noop.yml). MAILPLAY_BIN times another mailplay binary (a build
of an older commit, for before/after) instead of building this one. It
compares ansible-playbook, ansible-playbook with Mitogen, pyinfra and
mailplay (--tools), and checks in the same run that every tool leaves the
same files on the hosts. With --fresh it also times bare OpenSSH logins
to every host at once (`ssh host true`, no tool), the fresh case's floor
for any tool that logs in with OpenSSH. --loopback --scale N: the scaling
row, mailplay on N light hosts (--per-sshd hosts share one sshd), with
peak memory.
"""
import argparse, grp, os, pwd, shlex, shutil, stat, statistics, subprocess, sys, tempfile, time

import loopback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
MAILPLAY = os.environ.get("MAILPLAY_BIN") or os.path.join(ROOT, "target", "release", "mailplay")
ANSIBLE = os.path.join(os.environ.get("MAILPLAY_ANSIBLE_BIN", "/opt/ansible-venv/bin"), "ansible-playbook")


def timed(cmd, env=None, hosts=None, ctl=None, mem=None):
    """Run cmd; return (wall seconds, controller CPU seconds of the process
    tree, host-side CPU seconds or None, controller CPU by cgroup or None,
    the process's peak RSS in KB, the controller memory cgroup's peak bytes
    or None)."""
    host_before = hosts.host_cpu() if hosts else None
    ctl_before = ctl.cpu_seconds() if ctl else None

    def enter():
        for cg in (ctl, mem):
            if cg:
                cg.enter()

    start = time.monotonic()
    with tempfile.TemporaryFile("w+") as out:
        p = subprocess.Popen(cmd, cwd=BENCH, env=env, stdout=out, stderr=subprocess.STDOUT, text=True, preexec_fn=enter if (ctl or mem) else None)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - start
        if p.returncode != 0:
            out.seek(0)
            sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{out.read()[-3000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    host_cpu = ctl_cpu = None
    if hosts and host_before is not None:
        settle(hosts.cg, len(hosts.procs))
        host_cpu = hosts.host_cpu() - host_before
    if ctl:
        settle(ctl, 0)
        ctl_cpu = ctl.cpu_seconds() - ctl_before
    peak = mem.memory_peak() if mem else None
    return wall, cpu, host_cpu, ctl_cpu, usage.ru_maxrss, peak


def settle(cg, keep):
    """Wait (up to 3 s) until only `keep` processes are left in the cgroup:
    logins and ssh masters end just after the run."""
    for _ in range(300):
        if len(open(os.path.join(cg.path, "cgroup.procs")).read().split()) <= keep:
            return
        time.sleep(0.01)


PYINFRA = os.path.join(os.environ.get("MAILPLAY_PYINFRA_BIN", "/opt/pyinfra-venv/bin"), "pyinfra")
PYINFRA_VERSION = "3.10"
# ansible-playbook with Mitogen's strategy: its own venv, so the reference
# ansible-core of the differential tests stays without it.
MITOGEN_BIN = os.environ.get("MAILPLAY_MITOGEN_BIN", "/opt/mitogen-venv/bin")
MITOGEN_VERSION = "0.3"


def pyinfra_missing():
    """Why the pyinfra column cannot run, or None."""
    if not os.path.exists(PYINFRA):
        return f"{PYINFRA} is missing: python3 -m venv /opt/pyinfra-venv && /opt/pyinfra-venv/bin/pip install 'pyinfra=={PYINFRA_VERSION}.*'"
    v = subprocess.run([PYINFRA, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    if f"v{PYINFRA_VERSION}." not in v and f" {PYINFRA_VERSION}." not in v:
        return f"{PYINFRA} is {v.strip()}, the benchmark compares pyinfra {PYINFRA_VERSION}"
    return None


def mitogen_missing():
    """Why the Mitogen column cannot run (no Mitogen 0.3 that loads into
    this ansible-core), or None; else its strategy plugins' folder."""
    py = os.path.join(MITOGEN_BIN, "python")
    if not os.path.exists(py):
        return None, f"{MITOGEN_BIN} is missing: python3 -m venv /opt/mitogen-venv && /opt/mitogen-venv/bin/pip install 'ansible-core==2.19.*' 'mitogen==0.3.54'"
    # Importing the strategy's loaders is Mitogen's own check of the
    # ansible-core release (it raises on one it does not support).
    probe = (
        "import importlib.metadata as m, os, ansible_mitogen.loaders, ansible_mitogen as a;"
        "print(m.version('mitogen'), m.version('ansible-core'), os.path.dirname(a.__file__))"
    )
    p = subprocess.run([py, "-c", probe], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        return None, f"Mitogen does not load into this ansible-core: {p.stdout.strip().splitlines()[-1] if p.stdout.strip() else p.returncode}"
    mitogen, core, where = p.stdout.split()
    if not mitogen.startswith(MITOGEN_VERSION + "."):
        return None, f"Mitogen {mitogen} installed, the benchmark compares Mitogen {MITOGEN_VERSION}"
    print(f"mitogen: {mitogen} with ansible-core {core}")
    return os.path.join(where, "plugins", "strategy"), None


def pyinfra_inventory(hosts, path):
    """The loopback hosts as a pyinfra inventory: the same names, ports,
    key, known_hosts (strict) and bench_root as the INI inventory."""
    with open(path, "w") as f:
        f.write("hosts = [\n")
        for line in open(hosts.inventory):
            name, *kv = shlex.split(line)
            v = dict(x.split("=", 1) for x in kv)
            known = v["ansible_ssh_common_args"].split("UserKnownHostsFile=", 1)[1].split()[0]
            data = {
                "ssh_hostname": v["ansible_host"],
                "ssh_port": int(v["ansible_port"]),
                "ssh_user": v["ansible_user"],
                "ssh_key": v["ansible_ssh_private_key_file"],
                "ssh_known_hosts_file": known,
                "ssh_strict_host_key_checking": "yes",
                "bench_root": v["bench_root"],
            }
            f.write(f"    ({name!r}, {data!r}),\n")
        f.write("]\n")


def snapshot(hosts):
    """Every host's files under its bench_root (loopback hosts share the
    controller's file system): path -> (kind, mode, owner, group, content or
    link target). Times are left out: each tool writes at its own time."""
    snap = {}
    for name, root in hosts.roots.items():
        files = {}
        for d, dirs, names in os.walk(root):
            for entry in dirs + names:
                path = os.path.join(d, entry)
                st = os.lstat(path)
                if stat.S_ISLNK(st.st_mode):
                    body = os.readlink(path)
                elif stat.S_ISREG(st.st_mode):
                    body = open(path, "rb").read()
                else:
                    body = None
                owner = (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name)
                files[os.path.relpath(path, root)] = (stat.S_IFMT(st.st_mode), oct(stat.S_IMODE(st.st_mode)), *owner, body)
        snap[name] = files
    return snap


def snapshot_diff(a, b):
    """The first differences between two snapshots, as text."""
    out = []
    for host in sorted(set(a) | set(b)):
        fa, fb = a.get(host, {}), b.get(host, {})
        for path in sorted(set(fa) | set(fb)):
            if fa.get(path) != fb.get(path):
                out.append(f"  {host}: {path}: {fa.get(path, 'missing')!r} != {fb.get(path, 'missing')!r}")
    return "\n".join(out[:20])


def wipe(hosts):
    """Fresh hosts: nothing under any bench_root."""
    for root in hosts.roots.values():
        for entry in os.listdir(root):
            shutil.rmtree(os.path.join(root, entry))


class Equivalence:
    """The files on the hosts after each tool's run of a playbook, which
    must be byte-identical (path, content, mode, owner, group) whatever the
    tool; the first tool's are the reference. A mismatch ends the benchmark."""

    def __init__(self, hosts):
        self.hosts, self.reference, self.checked = hosts, {}, 0

    def check(self, tool, what):
        snap = snapshot(self.hosts)
        ref = self.reference.setdefault(what, (tool, snap))
        if ref[1] != snap:
            sys.exit(f"EQUIVALENCE FAILED: after {what}, the files {tool} left on the hosts differ from {ref[0]}'s:\n{snapshot_diff(ref[1], snap)}")
        self.checked += 1


def tool_commands(a, n, hosts, forks):
    """For each tool: playbook -> (argv, extra environment)."""
    inv = hosts.inventory
    pyinv = os.path.join(hosts.dir, "pyinfra_inventory.py")
    pyinfra_inventory(hosts, pyinv)
    deploy = {"idempotent.yml": ("idempotent.py", {}), "idempotent1.yml": ("idempotent.py", {"BENCH_TASKS": "1"}), "sake.yml": ("sake.py", {}), "reset.yml": None}

    def pyinfra(pb):
        script, env = deploy[os.path.basename(pb)]
        return [PYINFRA, pyinv, os.path.join(BENCH, "pyinfra", script), "-y", "--parallel", str(forks)], env

    cmd = {
        "mailplay": lambda pb: ([MAILPLAY, "run", pb, "-i", inv, "-f", str(forks)], {}),
        "ansible": lambda pb: ([ANSIBLE, pb, "-i", inv, "-f", str(forks)], {}),
        "pyinfra": pyinfra,
    }
    if a.mitogen_strategies:
        cmd["mitogen"] = lambda pb: (
            [os.path.join(MITOGEN_BIN, "ansible-playbook"), pb, "-i", inv, "-f", str(forks)],
            {"ANSIBLE_STRATEGY_PLUGINS": a.mitogen_strategies, "ANSIBLE_STRATEGY": "mitogen_linear"},
        )
    # label=PATH: another mailplay binary (before/after builds).
    for tool in a.tool_list:
        if "=" in tool:
            cmd[tool] = lambda pb, b=tool.split("=", 1)[1]: ([b, "run", pb, "-i", inv, "-f", str(forks)], {})
    return cmd


# The fresh case's row of bare OpenSSH logins (bare_logins), beside the tools.
FLOOR = "ssh true"


def bare_logins(hosts):
    """argv of a script that logs in to every host at once with OpenSSH and
    runs `true` (mailplay's ssh options, no helper, no task): the floor of
    the fresh case for any tool that logs in with OpenSSH, since there
    connecting is most of the work (sshd's login on the host, the ssh
    client on the controller)."""
    path = os.path.join(hosts.dir, "bare_logins.sh")
    lines = []
    for line in open(hosts.inventory):
        f = dict(w.split("=", 1) for w in shlex.split(line) if "=" in w)
        ssh = ["ssh", "-F", "none", "-o", "BatchMode=yes", "-o", "KexAlgorithms=^curve25519-sha256"]
        ssh += shlex.split(f["ansible_ssh_common_args"]) + ["-i", f["ansible_ssh_private_key_file"], "-p", f["ansible_port"]]
        lines.append(shlex.join(ssh + [f"{f['ansible_user']}@{f['ansible_host']}", "true"]) + " &\n")
    with open(path, "w") as out:
        out.write("pids=\n" + "".join(f"{l.rstrip()}\npids=\"$pids $!\"\n" for l in lines))
        out.write("for p in $pids; do wait $p || exit 1; done\n")
    return ["sh", path]


def loopback_main(a):
    """The re-run case on N loopback hosts, with host-side CPU; also the
    first of its tasks alone, so the cost of one more task shows apart
    from connecting (sshd's key exchange, the helper's start). Every tool
    is checked to leave the same files on the hosts."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(BENCH, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    ctl = loopback.cgroup("mailplay-bench-controller")
    one = os.path.join(BENCH, "idempotent1.yml")
    with open(one, "w") as f:
        f.write(open(os.path.join(BENCH, "idempotent.yml")).read().split("    - name: folder 1\n")[0])
    # Issue 12's "host CPU per no-op task": noop.yml's 100 tasks that change
    # nothing against its first task alone, for mailplay's builds (the other
    # tools' per-task figures come from the re-run case).
    noop1 = os.path.join(BENCH, "noop1.yml")
    with open(noop1, "w") as f:
        f.write(open(os.path.join(BENCH, "noop.yml")).read().split("    - name: noop 1\n")[0])
    rows, fresh_rows, noop_rows, checked = [], [], [], 0
    try:
        for n in a.sizes:
            hosts = loopback.Hosts(n)
            try:
                cmd = tool_commands(a, n, hosts, n)
                run = lambda tool, pb, **kw: timed(cmd[tool](pb)[0], dict(env, **cmd[tool](pb)[1]), **kw)
                # Equivalence from scratch: each tool converges fresh hosts
                # (idempotent.yml twice, and sake.yml with --fresh); the
                # files must be the same as the first tool's.
                eq = Equivalence(hosts)
                for tool in a.tool_list:
                    wipe(hosts)
                    for i in (1, 2):
                        run(tool, "idempotent.yml")
                        eq.check(tool, f"idempotent.yml, run {i} on fresh hosts")
                    if a.fresh:
                        run(tool, "sake.yml")
                        eq.check(tool, "sake.yml on fresh hosts")
                wipe(hosts)
                run("mailplay", "idempotent.yml")
                cases = [(tool, pb, tasks) for tool in a.tool_list for pb, tasks in [("idempotent.yml", 20), (one, 1)]]
                fresh = [(tool, "sake.yml", 4) for tool in a.tool_list] if a.fresh else []
                if a.fresh:
                    cmd[FLOOR] = lambda pb, argv=bare_logins(hosts): (argv, {})
                    fresh.append((FLOOR, "-", 0))
                builds = [t for t in a.tool_list if t == "mailplay" or "=" in t]
                noops = [(tool, pb, tasks) for tool in builds for pb, tasks in [("noop.yml", 100), (noop1, 1)]]
                # Interleaved, so a load that comes and goes (other jobs on
                # the machine) falls on every tool alike.
                samples = {c: [] for c in cases + fresh + noops}
                for _ in range(a.runs):
                    for c in noops:
                        samples[c].append(run(c[0], c[1], hosts=hosts, ctl=ctl))
                    for c in cases + fresh:
                        if c[0] == FLOOR:
                            samples[c].append(run(c[0], c[1], hosts=hosts, ctl=ctl))
                            continue
                        if c in fresh:
                            run("mailplay", "reset.yml")
                        samples[c].append(run(c[0], c[1], hosts=hosts, ctl=ctl))
                        # The timed runs too leave the same files as the
                        # equivalence runs did.
                        eq.check(c[0], "sake.yml on fresh hosts" if c in fresh else "idempotent.yml, run 2 on fresh hosts")
                        if c in fresh:
                            # Untimed: the next case's hosts hold no sake files.
                            run("mailplay", "reset.yml")
                checked += eq.checked
                rows += [(n, tool.split("=")[0], tasks, samples[(tool, pb, tasks)]) for tool, pb, tasks in cases]
                fresh_rows += [(n, tool.split("=")[0], samples[(tool, pb, tasks)]) for tool, pb, tasks in fresh]
                noop_rows += [(n, tool.split("=")[0], tasks, samples[(tool, pb, tasks)]) for tool, pb, tasks in noops]
            finally:
                hosts.close()
    finally:
        os.remove(one)
        os.remove(noop1)
        if ctl:
            ctl.remove()
    print(f"mailplay: {MAILPLAY}")
    print(f"equivalence: the files on the hosts (path, content, mode, owner, group) were the same for every tool in all {checked} checks")
    print(f"{'N':>4}  {'tool':<9} {'tasks':>5} {'wall s':>7} {'ctl CPU s':>9} {'host CPU s':>10}   raw (wall, rusage CPU, host CPU, cgroup ctl CPU)")
    med = lambda samples, i: statistics.median(s[i] for s in samples) if samples[0][i] is not None else float("nan")
    for n, tool, tasks, samples in rows:
        print(
            f"{n:>4}  {tool:<9} {tasks:>5} {med(samples, 0):7.2f} {med(samples, 3 if ctl else 1):9.2f} {med(samples, 2):10.2f}   "
            + raw(samples)
        )
    if fresh_rows:
        print("\nb) 4 module tasks on fresh hosts (sake.yml after reset.yml), per host;")
        print("   `ssh true`: OpenSSH logins to every host at once running `true`, no tool (the floor for OpenSSH):")
        for n, tool, samples in fresh_rows:
            print(
                f"{n:>4}  {tool:<9} wall {med(samples, 0):6.2f} s   controller CPU {med(samples, 3 if ctl else 1) / n * 1000:7.2f} ms   host CPU {med(samples, 2) / n * 1000:7.2f} ms   "
                + raw(samples)
            )
    print("\nper extra task and host (20 tasks minus 1 task, / 19 / N):")
    for (n, tool, _, full), (_, _, _, single) in zip(rows[::2], rows[1::2]):
        per = lambda i: (med(full, i) - med(single, i)) / 19 / n * 1000
        print(f"{n:>4}  {tool:<9} wall {per(0):6.2f} ms   controller CPU {per(3 if ctl else 1):6.2f} ms   host CPU {per(2):6.2f} ms")
    if noop_rows:
        print("\nper no-op task and host (noop.yml: 100 `file` tasks that change nothing, minus its first task alone, / 99 / N):")
        for (n, tool, _, full), (_, _, _, single) in zip(noop_rows[::2], noop_rows[1::2]):
            per = lambda i: (med(full, i) - med(single, i)) / 99 / n * 1000
            print(f"{n:>4}  {tool:<9} wall {per(0):6.2f} ms   controller CPU {per(3 if ctl else 1):6.2f} ms   host CPU {per(2):6.2f} ms   "
                  + raw(full + single))
    speedups(rows, fresh_rows, med)


def raw(samples):
    """Each timed run as (wall, rusage CPU, host CPU, cgroup ctl CPU)."""
    r = lambda x: x if x is None else round(x, 2)
    return " ".join(f"({s[0]:.2f},{s[1]:.2f},{r(s[2])},{r(s[3])})" for s in samples)


def speedups(rows, fresh_rows, med):
    """mailplay's wall time against each other tool's, per N and case."""
    def table(title, entries):
        by_n = {}
        for n, tool, samples in entries:
            by_n.setdefault(n, {})[tool] = med(samples, 0)
        lines = []
        for n, walls in by_n.items():
            if "mailplay" in walls:
                others = [f"{t} {w / walls['mailplay']:.1f}x" for t, w in walls.items() if t != "mailplay"]
                if others:
                    lines.append(f"{n:>4}  " + "   ".join(others))
        if lines:
            print(f"\n{title}")
            print("\n".join(lines))

    table("mailplay's speed-up in wall time, 20 idempotent tasks:", [(n, tool, s) for n, tool, tasks, s in rows if tasks == 20])
    table("mailplay's speed-up in wall time, fresh case:", [r for r in fresh_rows if r[1] != FLOOR])
    walls = {(n, tool): med(samples, 0) for n, tool, samples in fresh_rows}
    floors = [(n, w, walls.get((n, "pyinfra"))) for (n, tool), w in walls.items() if tool == FLOOR]
    if floors:
        print("\nthe fresh case's floor: bare OpenSSH logins (`ssh true`) against the wall 3x pyinfra allows:")
        for n, floor, pyinfra in floors:
            goal = f"3x pyinfra needs <= {pyinfra / 3:.2f} s (floor is {floor / (pyinfra / 3) * 100:.0f} % of it)" if pyinfra else "no pyinfra run"
            print(f"{n:>4}  {FLOOR} {floor:.2f} s   mailplay {walls[(n, 'mailplay')]:.2f} s   {goal}")


def scale_main(a):
    """The scaling row: N lightweight loopback hosts (per_sshd inventory
    hosts per sshd, each its own folder and SSH connection), 10 no-op tasks,
    mailplay only, with its default forks unless --forks: wall, controller
    CPU, peak memory of the controller."""
    n, per = a.scale, a.per_sshd
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(BENCH, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    ctl = loopback.cgroup("mailplay-bench-controller")
    mem = loopback.cgroup("mailplay-bench-controller", loopback.MEMROOT)
    ten = os.path.join(BENCH, "noop10.yml")
    with open(ten, "w") as f:
        f.write(open(os.path.join(BENCH, "noop.yml")).read().split("    - name: noop 10\n")[0])
    samples = []
    try:
        start = time.monotonic()
        hosts = loopback.Hosts(n, per_sshd=per)
        print(f"{n} hosts on {len(hosts.procs)} loopback sshd ({per} hosts per sshd), up in {time.monotonic() - start:.1f} s")
        try:
            argv = [MAILPLAY, "run", ten, "-i", hosts.inventory] + (["-f", str(a.forks)] if a.forks else [])
            for _ in range(a.runs):
                if mem:
                    mem.memory_peak()
                samples.append(timed(argv, env, hosts, ctl, mem=mem))
        finally:
            hosts.close()
    finally:
        os.remove(ten)
        for cg in (ctl, mem):
            if cg:
                cg.remove()
    print(f"mailplay: {MAILPLAY}, forks {a.forks or 'default (no -f)'}")
    print(
        "others are not run at this scale: issue 12 measured ansible-playbook at 484 s, with Mitogen 152 s and pyinfra 24 s for\n"
        "20 tasks on 100 hosts; growing with N, one run at 1,000 would take over an hour, about 25 and several minutes"
    )
    print(f"{'N':>5}  {'tool':<9} {'tasks':>5} {'wall s':>7} {'ctl CPU s':>9} {'host CPU s':>10} {'mailplay RSS MB':>15} {'ctl cgroup peak MB':>18}")
    med = lambda i: statistics.median(s[i] for s in samples) if samples[0][i] is not None else float("nan")
    print(f"{n:>5}  {'mailplay':<9} {10:>5} {med(0):7.2f} {med(3 if ctl else 1):9.2f} {med(2):10.2f} {med(4) / 1024:15.1f} {med(5) / 2**20:18.1f}")
    print("raw (wall, rusage CPU, host CPU, cgroup ctl CPU, mailplay maxrss KB, ctl memory cgroup peak bytes): " + " ".join(str(tuple(round(x, 2) if isinstance(x, float) else x for x in s)) for s in samples))
    print("mailplay RSS: getrusage maxrss of the mailplay process; ctl cgroup peak: memory.max_usage_in_bytes of the cgroup holding mailplay and its ssh masters (page cache charged to them included)")


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
    ap.add_argument(
        "--tools",
        default="ansible,mitogen,pyinfra,mailplay",
        help="with --loopback: which tools, comma-separated, of ansible, mitogen (ansible-playbook with Mitogen's mitogen_linear), pyinfra, mailplay; label=PATH is another mailplay binary",
    )
    ap.add_argument("--scale", type=int, metavar="N", help="with --loopback: the scaling row instead: N light loopback hosts, 10 no-op tasks, mailplay only")
    ap.add_argument("--per-sshd", type=int, default=50, help="with --scale: inventory hosts per loopback sshd (default 50)")
    ap.add_argument("--forks", type=int, help="with --scale: mailplay's -f (default: none given, mailplay's default)")
    a = ap.parse_args()
    if not os.environ.get("MAILPLAY_BIN"):
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "mailplay"], cwd=ROOT, check=True)
    if a.loopback and a.scale:
        return scale_main(a)
    if a.loopback:
        a.tool_list, a.mitogen_strategies = [], None
        for tool in a.tools.split(","):
            why = None
            if tool == "pyinfra":
                why = pyinfra_missing()
            elif tool == "mitogen":
                a.mitogen_strategies, why = mitogen_missing()
            elif tool not in ("ansible", "mailplay") and "=" not in tool:
                sys.exit(f"unknown tool {tool!r}: ansible, mitogen, pyinfra, mailplay or label=PATH")
            if why:
                print(f"SKIPPED {tool}: {why}")
            else:
                a.tool_list.append(tool)
        if "mailplay" not in a.tool_list:
            # It converges the hosts and resets them for the fresh case.
            sys.exit("--tools must include mailplay")
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
