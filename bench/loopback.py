"""Loopback hosts for bench.py: one sshd per host on 127.0.0.1, each
host working under its own folder (the inventory's bench_root), so the
benchmark runs where lab hosts cannot be brought up (no netns, or the lab
busy). All hosts share the controller's file system and CPU: the numbers
compare tools side by side, they do not model separate machines.

Host-side CPU: every sshd (and so each login's shell, helper and the
processes it starts) runs in one cpuacct cgroup, whose usage counts every
process that ever ran in it, also the ones that ended or were orphaned. The
controller's tool runs in another, which also catches the daemonized ssh
master connections that getrusage misses.

Login shells as on a stock host: bash sources ~/.bashrc for every command
sshd runs, and this machine's root .bashrc runs `pyenv init` (about 90 ms
of CPU and 180 ms of wall per shell, measured). A stock Debian root has no
such thing, and the cost would fall on every session a tool opens (Ansible
and pyinfra open many, mailplay one), so each sshd runs in its own mount
namespace with an empty file bound over that .bashrc.
"""
import os, shlex, shutil, socket, subprocess, tempfile, time

CGROOT = "/sys/fs/cgroup/cpuacct"
MEMROOT = "/sys/fs/cgroup/memory"


class Cgroup:
    """A cpuacct cgroup (v1) or None when the machine has none writable;
    with root=MEMROOT a memory cgroup (v1) instead."""

    def __init__(self, name, root=CGROOT):
        self.path = os.path.join(root, name)
        os.makedirs(self.path, exist_ok=True)

    def enter(self):
        """For preexec_fn: move the starting child into the cgroup."""
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    def cpu_seconds(self):
        with open(os.path.join(self.path, "cpuacct.usage")) as f:
            return int(f.read()) / 1e9

    def memory_peak(self):
        """Bytes: the most this memory cgroup held (its processes' resident
        memory and the page cache charged to them), then reset."""
        with open(os.path.join(self.path, "memory.max_usage_in_bytes")) as f:
            peak = int(f.read())
        with open(os.path.join(self.path, "memory.max_usage_in_bytes"), "w") as f:
            f.write("0")
        return peak

    def remove(self):
        try:
            os.rmdir(self.path)
        except OSError:
            pass


def cgroup(name, root=CGROOT):
    try:
        return Cgroup(name, root)
    except OSError:
        return None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def answers_ssh(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            return s.recv(4) == b"SSH-"
    except OSError:
        return False


class Hosts:
    """N hosts on loopback sshd and their inventory; `close()` stops them.

    per_sshd > 1 (the scaling row): that many inventory hosts share one
    sshd (one port), each still with its own folder (bench_root) and its own
    SSH connection, so a thousand hosts need not be a thousand sshd."""

    def __init__(self, n, per_sshd=1):
        self.dir = tempfile.mkdtemp(prefix="mailplay-bench.")
        os.chmod(self.dir, 0o711)
        self.cg = cgroup("mailplay-bench-hosts")
        self.per_sshd = per_sshd
        key = os.path.join(self.dir, "client_key")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        known = os.path.join(self.dir, "known_hosts")
        self.procs, lines, self.roots = [], [], {}
        port = None
        for i in range(1, n + 1):
            name = f"bench{i:03d}"
            d = os.path.join(self.dir, name)
            os.makedirs(os.path.join(d, "root"))
            self.roots[name] = os.path.join(d, "root")
            if (i - 1) % per_sshd == 0:
                port = self._start_sshd(d, name, key, known)
            lines.append(
                f"{name} ansible_host=127.0.0.1 ansible_port={port} ansible_user=root ansible_ssh_private_key_file={key} "
                f"ansible_ssh_common_args='-o UserKnownHostsFile={known}' bench_root={d}/root ansible_python_interpreter=/usr/bin/python3\n"
            )
        self.inventory = os.path.join(self.dir, "hosts.ini")
        with open(self.inventory, "w") as f:
            f.write("".join(lines))

    def _start_sshd(self, d, name, key, known):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(d, "host_key")], check=True)
        port = free_port()
        with open(os.path.join(d, "sshd_config"), "w") as f:
            f.write(
                f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {key}.pub\n"
                "PermitRootLogin yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
                "StrictModes no\nPidFile none\nMaxSessions 20\nMaxStartups 1000\nLogLevel ERROR\n"
                # pyinfra uploads files over SFTP.
                "Subsystem sftp internal-sftp\n"
            )
        with open(known, "a") as f:
            f.write(f"[127.0.0.1]:{port} {open(os.path.join(d, 'host_key.pub')).read()}")
        sshd = ["/usr/sbin/sshd", "-D", "-e", "-f", os.path.join(d, "sshd_config")]
        bashrc = os.path.expanduser("~root/.bashrc")
        if os.path.exists(bashrc):
            empty = os.path.join(self.dir, "stock_bashrc")
            open(empty, "a").close()
            mount = f"mount --bind {shlex.quote(empty)} {shlex.quote(bashrc)} && exec {shlex.join(sshd)}"
            sshd = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", mount]
        self.procs.append(
            subprocess.Popen(
                sshd,
                stdout=subprocess.DEVNULL,
                stderr=open(os.path.join(d, "sshd.log"), "w"),
                preexec_fn=self.cg.enter if self.cg else None,
            )
        )
        start = time.monotonic()
        while not answers_ssh(port):
            if time.monotonic() - start > 10:
                raise SystemExit(f"sshd for {name} did not start: {open(os.path.join(d, 'sshd.log')).read()}")
            time.sleep(0.02)
        return port

    def host_cpu(self):
        """Seconds of CPU all hosts' processes used so far (None without cgroups)."""
        return self.cg.cpu_seconds() if self.cg else None

    def close(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait()
        # Logins still ending leave the cgroup as they exit.
        for _ in range(50):
            if not self.cg or not open(os.path.join(self.cg.path, "cgroup.procs")).read().strip():
                break
            time.sleep(0.1)
        if self.cg:
            self.cg.remove()
        shutil.rmtree(self.dir, ignore_errors=True)
