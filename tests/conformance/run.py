#!/usr/bin/env python3
"""Conformance suite: ansible-core's own integration targets, run like ansible-test.

Runs the integration targets that ship in the ansible-core sdist the way
`ansible-test integration --local -v TARGET` runs them on a local POSIX host,
with either the real ansible-playbook (`--tool ansible`, the control) or
mailplay standing in for it (`--tool mailplay`). Standard library only.

What is emulated from ansible-test (test/lib/ansible_test/_internal/, 2.19.14):
- commands/integration/__init__.py integration_test_environment(): a fresh
  temporary directory per target (and per setup target) named
  `<target>-XXXXXXXX-ÅÑŚÌβŁÈ` holding `test/integration/inventory`,
  `test/integration/integration.cfg` (the empty default ansible.cfg of
  ansible-test) and `test/integration/targets/` with the target and every
  target it depends on (target.py analyze_integration_target_dependencies():
  setup/once, setup/always, needs/target aliases, symlinks into other
  targets, and hidden setup_*/prepare_* names mentioned in meta/ files,
  transitively).
- command_integration_role(): a role target runs as the JSON playbook
  `[{"gather_facts": ..., "hosts": "testhost", "roles": [T],
  "vars": {"output_dir": ...}, "vars_files": []}]` written next to the
  inventory, `ansible-playbook <file> -i inventory -v` with cwd
  test/integration and ANSIBLE_ROLES_PATH=<temp>/test/integration/targets.
  gather_facts is true unless the aliases say gather_facts/no.
- command_integration_script(): a script target runs `./runme.sh -v` with
  cwd test/integration/targets/T.
- inventory.py create_posix_inventory(): `[testgroup]` / `testhost
  ansible_connection='local' ansible_pipelining='yes'
  ansible_python_interpreter='<controller python>'`.
- ansible_util.py ansible_environment() + integration_environment() +
  util_common.py get_injector_env(): a clean environment (not the caller's)
  with LC_ALL, HOME, PATH and the ANSIBLE_* settings ansible-test sets
  (ANSIBLE_INVENTORY=/dev/null, ANSIBLE_FORCE_HANDLERS=true,
  ANSIBLE_HOST_PATTERN_MISMATCH=error, ANSIBLE_CONFIG, ...), OUTPUT_DIR,
  INVENTORY_PATH, ANSIBLE_PLAYBOOK_DIR, env/set/ aliases. PATH starts with a
  directory of the tool's entry points and one with `python`/`python3`.
- output_dir is one directory, emptied before every (setup) target.
- setup/once and setup/always targets run before the target, each in its
  own temporary copy, exactly like the target itself.

The tool under test: for `--tool ansible` the entry-point directory holds
the ansible-core entry points of the venv (--ansible-bin); for `--tool
mailplay` it holds only shims: `ansible-playbook` (running `mailplay run
"$@"`), `ansible-inventory` (`mailplay inventory "$@"`), `ansible`
(`mailplay adhoc "$@"`) and `ansible-config` (`mailplay config "$@"`).
Other ansible commands (`ansible-galaxy`, `ansible-vault`, ...) are absent
in the mailplay run, so a target that calls them fails there.

Harness patches: see HARNESS_PATCHES below. Nothing in a target is edited.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

ANSIBLE_VERSION = "2.19.14"
SDIST_NAME = f"ansible_core-{ANSIBLE_VERSION}.tar.gz"
# sha256 of the sdist as published on PyPI (checked after every download and every use).
SDIST_SHA256 = "1e7612788eaa6b3c87a3670ce86c64b830eba0ae2b3fcb25a772f276704163b4"

# The 47 targets of issue 13, in the order.
TARGETS = [
    "lineinfile", "blockinfile", "copy", "file", "stat", "command_shell", "assert",
    "loops", "until", "loop-until", "changed_when", "failed_when", "filter_urls",
    "filter_urlsplit", "test_files", "test_mathstuff", "lookup_file", "ping",
    "lookup_items", "lookup_list", "lookup_vars", "lookup_template", "lookup_pipe",
    "var_inheritance", "undefined", "set_fact", "debug", "loop_control", "handlers",
    "blocks", "include_import", "includes", "import_tasks", "tags", "any_errors_fatal",
    "register", "filter_core", "filter_mathstuff", "test_core", "template",
    "include_vars", "lookup_env", "var_precedence", "var_blending",
    "jinja2_native_types", "check_mode", "meta_tasks",
]

# Targets of modules mailplay claims that change the machine they run on (issue 13): each
# runs on a fresh lab host (`mailplay lab up`: a booted plain Debian 12, reached over SSH as
# root) instead of this machine, with `--lab`.
LAB_TARGETS = ["user", "group", "apt", "debconf", "hostname", "service", "systemd"]

# Harness patches: differences from a literal `ansible-test integration` run,
# each with its reason. None of them edits a target.
HARNESS_PATCHES = [
    ("setup/once targets run once per target, not once per suite run",
     "every target gets its own fresh environment so targets can run in parallel and "
     "alone (--only); same as `ansible-test integration TARGET` for one target"),
    ("no PYTHONPATH to an ansible source tree",
     "ansible-test runs ansible from its source checkout and points PYTHONPATH at it; "
     "here ansible-core is installed in the controller venv, which the entry points use"),
    ("no code coverage, no --retry-on-error",
     "coverage is off in a plain local run; a retry would hide flaky differences"),
    ("the target interpreter (ansible_python_interpreter) is the system python3, the "
     "controller python (`python` on PATH, ansible-playbook's own) is the ansible venv's",
     "ansible-test's containers use one system python for both; the venv's python lives "
     "under /root, which the unprivileged users of the become tests (file, copy) cannot "
     "execute. Same target interpreter for both tools"),
    ("host prerequisites (checked; `--bootstrap` sets them up): the acl package, the "
     "en_US.UTF-8 locale, a $HOME/.ssh/authorized_keys (an empty one is created)",
     "ansible-test's containers have setfacl (lineinfile's ACL tests install acl only on "
     "Ubuntu and RedHat), en_US.UTF-8 (ansible-test's own locale; tags' runme.sh sets "
     "LC_ALL=en_US.UTF-8) and, from bootstrap.sh install_ssh_keys(), an authorized_keys that "
     "copy's tests duplicate for an unprivileged user. An empty file grants no access"),
    ("ANSIBLE_FORCE_COLOR=false",
     "ansible-test's --color=auto gives false when output is not a terminal; output is captured"),
    ("the destructive targets (LAB_TARGETS, with --lab) run on a fresh lab host over SSH as "
     "root: `testhost` is that host (ansible_connection=ssh, the lab's key, known_hosts and "
     "ssh_config), not a local connection",
     "ansible-test runs them in a throw-away container; the lab host is this project's "
     "throw-away Debian 12 machine (real systemd, apt through the lab's package proxy). Tasks "
     "delegated to localhost still run on the controller, for both tools"),
    ("the lab host's package lists are fetched (`apt-get update`) before a destructive target",
     "the lab's hosts come without lists. ansible-playbook's apt fetches them as a side effect "
     "of installing its Python dependency (python3-apt, auto_install_module_deps) on first use; "
     "mailplay's apt needs no Python, so without the lists it would find no package where "
     "ansible-playbook finds them. Same for both tools"),
    ("the entry-point directory holds only ansible-playbook, ansible-inventory, ansible and "
     "ansible-config shims in the mailplay run",
     "the issue's rule: ansible-playbook is `mailplay run`, ansible-inventory is "
     "`mailplay inventory`, ansible is `mailplay adhoc`, ansible-config is `mailplay config`; "
     "mailplay has no other ansible-* command"),
]

# Targets that use the same fixed paths outside their temporary directories; with -j they
# never run at the same time (ansible-test runs targets one after another).
EXCLUSIVE = [
    {"copy", "file"},  # both create and remove /tmp/worldwritable
]

TEMP_SUFFIX = "-\u00c5\u00d1\u015a\u00cc\u03b2\u0141\u00c8"  # ansible-test's unicode suffix

ANSIBLE_ENTRY_POINTS = [
    "ansible", "ansible-config", "ansible-connection", "ansible-console", "ansible-doc",
    "ansible-galaxy", "ansible-inventory", "ansible-playbook", "ansible-pull", "ansible-test",
    "ansible-vault",
]

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


# --------------------------------------------------------------------------- source


def cache_root() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "mailplay", "conformance")


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ensure_source(pip: list[str]) -> str:
    """Return the extracted `ansible_core-VERSION` tree (only test/ and PKG-INFO)."""
    root = os.path.join(cache_root(), ANSIBLE_VERSION)
    src = os.path.join(root, "src")
    marker = os.path.join(src, ".complete")
    if os.path.exists(marker):
        return src
    sdist_dir = os.path.join(root, "sdist")
    sdist = os.path.join(sdist_dir, SDIST_NAME)
    if not os.path.exists(sdist):
        os.makedirs(sdist_dir, exist_ok=True)
        print(f"downloading ansible-core {ANSIBLE_VERSION} sdist ...", file=sys.stderr)
        subprocess.run(pip + ["download", "--no-binary", ":all:", "--no-deps", "-d", sdist_dir, f"ansible-core=={ANSIBLE_VERSION}"],
                       check=True, stdout=subprocess.DEVNULL)
    digest = sha256_file(sdist)
    if digest != SDIST_SHA256:
        raise SystemExit(f"{sdist}: sha256 {digest}, expected {SDIST_SHA256}")
    tmp = src + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    prefix = f"ansible_core-{ANSIBLE_VERSION}/"
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers()
                   if m.name == prefix + "PKG-INFO" or m.name.startswith(prefix + "test/")]
        kwargs = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}
        tar.extractall(tmp, members=members, **kwargs)
    with open(os.path.join(tmp, prefix, "PKG-INFO"), encoding="utf-8") as f:
        version = re.search(r"^Version: (\S+)$", f.read(), re.M).group(1)
    if version != ANSIBLE_VERSION:
        raise SystemExit(f"sdist has version {version}, expected {ANSIBLE_VERSION}")
    shutil.rmtree(src, ignore_errors=True)
    os.rename(os.path.join(tmp, prefix), src)
    shutil.rmtree(tmp)
    with open(marker, "w") as f:
        f.write(version + "\n")
    return src


# --------------------------------------------------------------------------- targets


class Target:
    def __init__(self, targets_dir: str, name: str):
        self.name = name
        self.path = os.path.join(targets_dir, name)
        self.script = os.path.isfile(os.path.join(self.path, "runme.sh"))
        aliases_path = os.path.join(self.path, "aliases")
        static = []
        if os.path.isfile(aliases_path):
            with open(aliases_path, encoding="utf-8") as f:
                static = [re.sub(r" *#.*$", "", line) for line in f.read().splitlines()]
            static = [a for a in static if a]
        self.static_aliases = static
        self.env_set = {}
        for a in static:
            m = re.match(r"env/set/(?P<key>[^/]+)/(?P<value>.*)", a)
            if m:
                self.env_set[m.group("key")] = m.group("value")
        self.hidden = name.startswith("setup_") or name.startswith("prepare_")

        def third(prefix):
            return sorted({a.split("/")[2] for a in static if a.startswith(prefix) and len(a.split("/")) > 2})

        self.setup_once = third("setup/once/")
        self.setup_always = third("setup/always/")
        self.needs_target = third("needs/target/")
        self.gather_facts = True
        if "gather_facts/yes" in static:
            self.gather_facts = True
        elif "gather_facts/no" in static:
            self.gather_facts = False
        self.no_temp_unicode = "no/temp_unicode" in static


def load_targets(targets_dir: str) -> dict[str, Target]:
    targets = {}
    for name in sorted(os.listdir(targets_dir)):
        p = os.path.join(targets_dir, name)
        if os.path.isdir(p) and not os.path.islink(p):
            targets[name] = Target(targets_dir, name)
    return targets


def dependency_map(targets: dict[str, Target], targets_dir: str) -> dict[str, set[str]]:
    """target -> every target it needs copied (transitively), like ansible-test."""
    deps: dict[str, set[str]] = {}  # dependency -> dependents
    real_root = os.path.realpath(targets_dir) + "/"
    hidden_roles = [t.name for t in targets.values() if not t.script and t.hidden]

    def add(dep, dependent):
        deps.setdefault(dep, set()).add(dependent)

    for t in targets.values():
        for s in t.setup_always + t.setup_once + t.needs_target:
            add(s, t.name)
    for t in targets.values():
        for dirpath, dirnames, filenames in os.walk(t.path):
            for n in dirnames + filenames:
                p = os.path.join(dirpath, n)
                if not os.path.islink(p):
                    continue
                real = os.path.realpath(p)
                if real.startswith(real_root):
                    link_target = real[len(real_root):].split("/")[0]
                    if link_target != t.name:
                        add(link_target, t.name)
    for t in targets.values():
        meta = os.path.join(t.path, "meta")
        if not os.path.isdir(meta):
            continue
        for dirpath, _, filenames in os.walk(meta):
            for fn in filenames:
                try:
                    with open(os.path.join(dirpath, fn), encoding="utf-8") as f:
                        lines = f.read().splitlines()
                except (UnicodeDecodeError, OSError):
                    continue
                for line in lines:
                    if re.search(r"^ *#.*$", line) or not line.strip():
                        continue
                    for h in hidden_roles:
                        if h in line:
                            add(h, t.name)
    # transitive closure, as ansible-test does
    while True:
        changes = 0
        for _, dependents in deps.items():
            for d in list(dependents):
                for n in deps.get(d, ()):
                    if n not in dependents:
                        dependents.add(n)
                        changes += 1
        if not changes:
            break
    result: dict[str, set[str]] = {}
    for dep, dependents in deps.items():
        for d in dependents:
            result.setdefault(d, set()).add(dep)
    return result


# --------------------------------------------------------------------------- environment


def locale_available(name: str) -> bool:
    """Whether `name` can be set, asked of a new process: glibc looks for
    its locale archive once per process, so in one that found none a
    locale generated later (by --bootstrap) never becomes available."""
    probe = f"import locale; locale.setlocale(locale.LC_ALL, {name!r})"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def configured_locale() -> str:
    for candidate in ("en_US.UTF-8", "C.UTF-8"):
        if locale_available(candidate):
            return candidate
    raise SystemExit("neither en_US.UTF-8 nor C.UTF-8 is available")


def clean_path() -> str:
    """The caller's PATH without directories holding ansible entry points or mailplay."""
    keep = []
    for d in os.environ.get("PATH", os.defpath).split(os.pathsep):
        if not d:
            continue
        if any(os.path.exists(os.path.join(d, n)) for n in ("ansible-playbook", "ansible", "mailplay")):
            continue
        if d not in keep:
            keep.append(d)
    return os.pathsep.join(keep)


def make_tool_dirs(work: str, tool: str, ansible_bin: str, mailplay: str, python: str) -> tuple[str, str]:
    bin_dir = os.path.join(work, "bin")
    py_dir = os.path.join(work, "python")
    os.makedirs(bin_dir)
    os.makedirs(py_dir)
    if tool == "ansible":
        for name in ANSIBLE_ENTRY_POINTS:
            src = os.path.join(ansible_bin, name)
            if os.path.exists(src):
                os.symlink(src, os.path.join(bin_dir, name))
    else:
        for name, sub in (("ansible-playbook", "run"), ("ansible-inventory", "inventory"),
                          ("ansible", "adhoc"), ("ansible-config", "config")):
            p = os.path.join(bin_dir, name)
            with open(p, "w") as f:
                f.write(f'#!/bin/sh\nexec {shell_quote(mailplay)} {sub} "$@"\n')
            os.chmod(p, 0o755)
    ver = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         check=True, capture_output=True, text=True).stdout.strip()
    # wrappers, not symlinks: a symlinked venv python outside its venv is not the venv
    # (ansible-test's create_interpreter_wrapper() also execs the interpreter)
    for name in ("python", "python3", f"python{ver}"):
        p = os.path.join(py_dir, name)
        with open(p, "w") as f:
            f.write(f'#!/bin/sh\nexec {shell_quote(python)} "$@"\n')
        os.chmod(p, 0o755)
    return bin_dir, py_dir


def prerequisites() -> list[tuple[str, str]]:
    """What this host lacks compared with ansible-test's containers: (problem, fix command)."""
    missing = []
    if not shutil.which("setfacl"):
        missing.append(("setfacl (Debian package acl)", "apt-get install -y acl"))
    if not locale_available("en_US.UTF-8"):
        missing.append(("the en_US.UTF-8 locale",
                        "grep -qx 'en_US.UTF-8 UTF-8' /etc/locale.gen || echo 'en_US.UTF-8 UTF-8' >> /etc/locale.gen; "
                        "locale-gen"))
    keys = os.path.expanduser("~/.ssh/authorized_keys")
    if not os.path.exists(keys):
        missing.append((keys, "install -d -m 0700 ~/.ssh && install -m 0600 /dev/null ~/.ssh/authorized_keys"))
    return missing


def shell_quote(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


class Harness:
    def __init__(self, args, src: str):
        self.args = args
        self.src = src
        self.targets_src = os.path.join(src, "test", "integration", "targets")
        self.targets = load_targets(self.targets_src)
        self.deps = dependency_map(self.targets, self.targets_src)
        self.work = tempfile.mkdtemp(prefix=f"mailplay-conformance-{args.tool}-")
        self.python = args.python
        self.target_python = args.target_python
        self.bin_dir, self.py_dir = make_tool_dirs(self.work, args.tool, args.ansible_bin,
                                                   args.mailplay, self.python)
        self.python_version = os.path.basename(
            [n for n in os.listdir(self.py_dir) if re.match(r"python\d+\.\d+$", n)][0])[6:]
        self.locale = configured_locale()
        self.base_path = clean_path()
        self.empty_cfg = os.path.join(src, "test", "lib", "ansible_test", "_data", "ansible.cfg")
        self.support_library = os.path.join(src, "test", "support", "integration", "plugins", "modules")
        self.logs = args.logs or os.path.join(cache_root(), "logs", args.tool)
        os.makedirs(self.logs, exist_ok=True)
        # The inventory variables of the lab host `testhost` while a LAB_TARGETS target runs.
        self.lab_host_vars: str | None = None

    # -- a fresh lab host for a destructive target
    def lab_up(self, log) -> None:
        """Remove the lab's hosts and bring up `testhost`, a booted plain Debian 12."""
        subprocess.run([self.args.mailplay, "lab", "down"], stdout=log, stderr=subprocess.STDOUT, check=False)
        hosts = os.path.join(self.work, "lab-testhost.ini")
        with open(hosts, "w") as f:
            f.write("[conformance]\ntesthost\n")
        up = subprocess.run([self.args.mailplay, "lab", "up", "-i", hosts], capture_output=True, text=True)
        log.write(up.stdout + up.stderr)
        if up.returncode != 0:
            raise RuntimeError(f"mailplay lab up failed (rc {up.returncode})")
        out = up.stdout.splitlines()
        inventory = next(line.split(":", 1)[1].strip() for line in out if line.startswith("inventory: "))
        ssh_config = next(line.split(":", 1)[1].strip() for line in out if line.startswith("ssh config: "))
        # The fresh host has no package lists (see HARNESS_PATCHES).
        update = subprocess.run(["ssh", "-F", ssh_config, "testhost", "apt-get update -qq"], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if update.returncode != 0:
            raise RuntimeError(f"apt-get update on the lab host failed (rc {update.returncode})")
        with open(inventory, encoding="utf-8") as f:
            line = next(line for line in f.read().splitlines() if line.startswith("testhost "))
        self.lab_host_vars = line[len("testhost "):].strip()

    def lab_down(self, log) -> None:
        self.lab_host_vars = None
        subprocess.run([self.args.mailplay, "lab", "down"], stdout=log, stderr=subprocess.STDOUT, check=False)

    # -- one ansible-test "content root" per target
    def environment(self, target: Target, output_dir: str, inventory: str, cfg: str, cwd: str,
                    results: str) -> dict[str, str]:
        env = {
            "LC_ALL": self.locale,
            "HOME": os.environ["HOME"],
            "PATH": os.pathsep.join([self.bin_dir, self.py_dir, self.base_path]),
        }
        for name in ("LD_LIBRARY_PATH", "SSH_AUTH_SOCK", "SSH_SK_PROVIDER", "ANSIBLE_KEEP_REMOTE_FILES"):
            if name in os.environ:
                env[name] = os.environ[name]
        env.update(
            ANSIBLE_PYTHON_MODULE_RLIMIT_NOFILE="1024",
            ANSIBLE_FORCE_COLOR="false",
            ANSIBLE_FORCE_HANDLERS="true",
            ANSIBLE_HOST_PATTERN_MISMATCH="error",
            ANSIBLE_INVENTORY="/dev/null",
            ANSIBLE_DEPRECATION_WARNINGS="false",
            ANSIBLE_HOST_KEY_CHECKING="false",
            ANSIBLE_RETRY_FILES_ENABLED="false",
            ANSIBLE_DISPLAY_TRACEBACK="never",
            ANSIBLE_CONFIG=cfg,
            ANSIBLE_LIBRARY="/dev/null",
            ANSIBLE_DEVEL_WARNING="false",
            PAGER="/bin/cat",
            ANSIBLE_WORKER_SHUTDOWN_POLL_COUNT="100",
            ANSIBLE_WORKER_SHUTDOWN_POLL_DELAY="0.1",
            ANSIBLE_PYTHON_INTERPRETER="/set/ansible_python_interpreter/in/inventory",
        )
        # configure_plugin_paths(): only directories that exist in the source tree
        if os.path.isdir(self.support_library):
            env["ANSIBLE_LIBRARY"] = self.support_library
        env.update(
            JUNIT_OUTPUT_DIR=os.path.join(results, "junit"),
            JUNIT_TASK_RELATIVE_PATH=os.path.dirname(os.path.dirname(os.path.dirname(inventory))),
            JUNIT_REPLACE_OUT_OF_TREE_PATH="out-of-tree:",
            ANSIBLE_CALLBACKS_ENABLED="junit",
            ANSIBLE_TEST_CI="",
            ANSIBLE_TEST_COVERAGE="",
            ANSIBLE_TEST_ANSIBLE_VERSION=ANSIBLE_VERSION,
            OUTPUT_DIR=output_dir,
            INVENTORY_PATH=os.path.abspath(inventory),
        )
        env.update(target.env_set)
        env["ANSIBLE_PLAYBOOK_DIR"] = cwd
        env["ANSIBLE_TEST_PYTHON_VERSION"] = self.python_version
        env["ANSIBLE_TEST_PYTHON_INTERPRETER"] = self.python
        return env

    def prepare(self, target: Target, tmp_root: str) -> tuple[str, str, str, str]:
        """integration_test_environment(): returns (temp_dir, integration_dir, targets_dir, inventory)."""
        suffix = "-ansible" if target.no_temp_unicode else TEMP_SUFFIX
        os.makedirs(tmp_root, exist_ok=True)
        temp_dir = tempfile.mkdtemp(prefix=f"{target.name}-", suffix=suffix, dir=tmp_root)
        integration_dir = os.path.join(temp_dir, "test", "integration")
        targets_dir = os.path.join(integration_dir, "targets")
        os.makedirs(targets_dir)
        inventory = os.path.join(integration_dir, "inventory")
        with open(inventory, "w") as f:
            if self.lab_host_vars is not None:
                f.write("[testgroup]\n"
                        f"testhost {self.lab_host_vars} ansible_pipelining='yes' "
                        f"ansible_python_interpreter='/usr/bin/python3'\n")
            else:
                f.write("[testgroup]\n"
                        f"testhost ansible_connection='local' ansible_pipelining='yes' "
                        f"ansible_python_interpreter={self.target_python!r}\n")
        shutil.copy2(self.empty_cfg, os.path.join(integration_dir, "integration.cfg"))
        for name in sorted({target.name} | self.deps.get(target.name, set())):
            shutil.copytree(os.path.join(self.targets_src, name), os.path.join(targets_dir, name),
                            symlinks=True)
        return temp_dir, integration_dir, targets_dir, inventory

    def run_one(self, target: Target, content_root: str, output_dir: str, log, deadline: float) -> int:
        # a fresh output_dir for each (setup) target
        shutil.rmtree(output_dir, ignore_errors=True)
        os.makedirs(output_dir)
        tmp_root = os.path.join(content_root, "test", "results", ".tmp", "integration")
        temp_dir, integration_dir, targets_dir, inventory = self.prepare(target, tmp_root)
        cfg = os.path.join(integration_dir, "integration.cfg")
        try:
            if target.script:
                cwd = os.path.join(targets_dir, target.name)
                cmd = ["./runme.sh", "-v"]
            else:
                cwd = integration_dir
                play = dict(hosts="testhost", gather_facts=target.gather_facts, vars_files=[],
                            vars=dict(output_dir=output_dir), roles=[target.name])
                fd, playbook = tempfile.mkstemp(prefix=f"{target.name}-", suffix=".yml", dir=integration_dir)
                with os.fdopen(fd, "w") as f:
                    f.write(json.dumps([play], indent=4, sort_keys=True))
                cmd = ["ansible-playbook", os.path.basename(playbook), "-i",
                       os.path.relpath(inventory, integration_dir), "-v"]
            env = self.environment(target, output_dir, inventory, cfg, cwd,
                                   os.path.join(content_root, "test", "results"))
            if not target.script:
                env["ANSIBLE_ROLES_PATH"] = targets_dir
            log.write(f"### {target.name}: {' '.join(cmd)}  (cwd {cwd})\n")
            log.flush()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise subprocess.TimeoutExpired(cmd, 0)
            proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                return proc.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                kill_group(proc)
                raise
        finally:
            if not self.args.keep:
                shutil.rmtree(temp_dir, ignore_errors=True)

    def run_target(self, name: str) -> dict:
        target = self.targets[name]
        content_root = tempfile.mkdtemp(prefix=f"{name}-", dir=self.work)
        output_dir = os.path.join(content_root, "test", "results", ".tmp", "output_dir")
        log_path = os.path.join(self.logs, f"{name}.log")
        start = time.monotonic()
        deadline = start + self.args.timeout
        status, rc = "fail", None
        with open(log_path, "w", encoding="utf-8", errors="replace") as log:
            try:
                if name in LAB_TARGETS:
                    self.lab_up(log)
                for setup in target.setup_once + target.setup_always:
                    rc = self.run_one(self.targets[setup], content_root, output_dir, log, deadline)
                    if rc != 0:
                        log.write(f"### setup target {setup} failed with rc {rc}\n")
                        break
                else:
                    rc = self.run_one(target, content_root, output_dir, log, deadline)
                    status = "pass" if rc == 0 else "fail"
            except subprocess.TimeoutExpired:
                status = "timeout"
                log.write(f"\n### TIMEOUT after {self.args.timeout} s\n")
            except RuntimeError as e:
                log.write(f"\n### {e}\n")
            finally:
                if name in LAB_TARGETS:
                    self.lab_down(log)
        seconds = round(time.monotonic() - start, 1)
        if not self.args.keep:
            shutil.rmtree(content_root, ignore_errors=True)
        with open(log_path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        result = dict(target=name, type="script" if target.script else "role", status=status, rc=rc,
                      seconds=seconds, log=log_path, recap=recap_totals(text))
        if status != "pass":
            result["first_failure"] = first_failure(text, status, self.args.timeout, target.script)
        return result


def kill_group(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


# --------------------------------------------------------------------------- output analysis

RECAP_RE = re.compile(r"^\S+\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
                      r"\s+skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)")


def recap_totals(text: str) -> dict:
    tot = dict(ok=0, changed=0, unreachable=0, failed=0, skipped=0, rescued=0, ignored=0)
    for line in text.splitlines():
        m = RECAP_RE.match(line)
        if m:
            for k, v in zip(tot, m.groups()):
                tot[k] += int(v)
    return tot


FATAL_RE = re.compile(r"^(fatal|failed): \[")
ERROR_RE = re.compile(r"^(ERROR!|\[ERROR\]:|error:|Error:|Traceback)|command not found|: No such file or directory")


def first_failure(text: str, status: str, timeout: int, script: bool) -> str:
    """One line: the command that failed (runme.sh targets), its task and message."""
    lines = text.splitlines()
    # the part of the log of the last (setup) target
    start = max([i for i, line in enumerate(lines) if line.startswith("### ")] or [0])
    lines = lines[start + 1:]
    # runme.sh: the last traced command that runs an ansible tool
    cmd_idx, cmd = 0, None
    for i, line in enumerate(lines):
        if script and re.match(r"^\++ ", line) and re.search(r"\bansible(-playbook|-inventory)?\b", line):
            cmd_idx, cmd = i, re.sub(r"^\++ ", "", line)
    seg = lines[cmd_idx:]
    task, hit = None, None
    for i, line in enumerate(seg):
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            cur = re.sub(r"\s*\*+$", "", line)
            task = cur
        if FATAL_RE.match(line):
            nxt = seg[i + 1].strip() if i + 1 < len(seg) else ""
            if nxt == "...ignoring":
                continue
            hit = (task, line)  # keep the last one: the failure that ended the play
    if hit is None:
        for line in seg:
            if ERROR_RE.search(line):
                hit = (None, line)
                break
    parts = []
    if cmd:
        parts.append(f"[{cmd[:100]}]")
    if hit:
        htask, line = hit
        detail = line.strip()
        mm = re.search(r'"msg": "((?:[^"\\]|\\.)*)"', line)
        if mm:
            detail = line.split("=>")[0].strip() + " " + mm.group(1)
        if htask:
            parts.append(htask)
        parts.append(detail)
    elif status == "timeout":
        parts.append(f"timeout after {timeout} s" + (f" in {task}" if task else ""))
    else:
        tail = [ln.strip() for ln in seg if ln.strip()][-2:]
        parts.append(" | ".join(tail))
    if status == "timeout" and hit:
        parts.insert(0, f"timeout after {timeout} s;")
    return shorten(" ".join(parts))


def shorten(s: str, n: int = 300) -> str:
    s = re.sub(r"\s+", " ", s)
    return s if len(s) <= n else s[: n - 1] + "…"


# --------------------------------------------------------------------------- main


def print_table(path: str) -> None:
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    passed = doc["passed"] + doc.get("lab_passed", 0)
    print(f"{doc['tool']} ({doc['tool_version']}), {doc['date']}: {passed}/{doc['selected']} pass, "
          f"{doc['total_seconds']} s\n")
    print("| target | kind | result | s | first failure |")
    print("|---|---|---|---|---|")
    for t in doc["targets"]:
        ff = t.get("first_failure", "").replace("|", "\\|")
        print(f"| {t['target']} | {t['type']} | {t['status']} | {t['seconds']:.0f} | {ff} |")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tool", choices=("ansible", "mailplay"), default="mailplay")
    p.add_argument("--mailplay", default=os.path.join(REPO, "target", "debug", "mailplay"),
                   help="mailplay binary (default: target/debug/mailplay of this repo)")
    p.add_argument("--ansible-bin", default=os.environ.get("MAILPLAY_ANSIBLE_BIN", "/opt/ansible-venv/bin"),
                   help="directory with ansible-core's entry points (the control)")
    p.add_argument("--python", default=None,
                   help="controller python: the inventory's ansible_python_interpreter and `python` on "
                        "PATH (default: the python of --ansible-bin)")
    p.add_argument("--target-python", default="/usr/bin/python3",
                   help="the inventory's ansible_python_interpreter (default /usr/bin/python3)")
    p.add_argument("--only", default="", help="comma-separated targets (default: all 47, and with --lab "
                   "the destructive ones)")
    p.add_argument("--lab", action="store_true",
                   help="also run the destructive targets (user, group, apt, ...), each on a fresh lab host "
                        "(`mailplay lab up`; needs root)")
    p.add_argument("--timeout", type=int, default=300, help="seconds per target (default 300)")
    p.add_argument("--json", dest="json_out", help="write results as JSON here")
    p.add_argument("-j", "--jobs", type=int, default=1, help="targets in parallel (default 1, like ansible-test; targets share the host, "
                        "so the recorded runs use 1)")
    p.add_argument("--logs", help="directory for per-target logs (default ~/.cache/mailplay/conformance/logs/TOOL)")
    p.add_argument("--bootstrap", action="store_true",
                   help="set up the missing host prerequisites (acl, en_US.UTF-8, ~/.ssh/authorized_keys)")
    p.add_argument("--compare", metavar="CONTROL_JSON",
                   help="also print the PLAY RECAP ok= total against a recorded control run")
    p.add_argument("--keep", action="store_true", help="keep the temporary directories")
    p.add_argument("--no-regression", metavar="RESULTS_JSON",
                   help="exit 0 when every target that passes in this recorded run passes again "
                        "(the README's test command uses mailplay-baseline.json); others may fail")
    p.add_argument("--table", metavar="RESULTS_JSON",
                   help="print a Markdown table of a recorded run (for README.md) and exit")
    args = p.parse_args()
    if args.table:
        print_table(args.table)
        return 0

    if args.python is None:
        args.python = os.path.join(args.ansible_bin, "python3")
    args.python = os.path.abspath(args.python)
    args.mailplay = os.path.abspath(args.mailplay)
    if args.tool == "mailplay" and not os.access(args.mailplay, os.X_OK):
        raise SystemExit(f"{args.mailplay}: not an executable (build it with `cargo build`)")
    if args.tool == "ansible" and not os.access(os.path.join(args.ansible_bin, "ansible-playbook"), os.X_OK):
        raise SystemExit(f"{args.ansible_bin}/ansible-playbook: not found")

    missing = prerequisites()
    if missing and args.bootstrap:
        for what, fix in missing:
            print(f"bootstrap: {what}: {fix}", file=sys.stderr)
            subprocess.run(["sh", "-c", fix], check=True, stdout=subprocess.DEVNULL)
        missing = prerequisites()
    if missing:
        raise SystemExit("this host lacks what ansible-test's hosts have (run with --bootstrap, or):\n"
                         + "\n".join(f"  {what}: {fix}" for what, fix in missing))
    pip = [os.path.join(args.ansible_bin, "pip")] if os.path.exists(os.path.join(args.ansible_bin, "pip")) \
        else [sys.executable, "-m", "pip"]
    src = ensure_source(pip)
    selected = [t.strip() for t in args.only.split(",") if t.strip()] or \
        (TARGETS + LAB_TARGETS if args.lab else TARGETS)
    unknown = [t for t in selected if t not in TARGETS + LAB_TARGETS]
    if unknown:
        raise SystemExit(f"not among the 47 targets or the destructive ones: {', '.join(unknown)}")
    if any(t in LAB_TARGETS for t in selected):
        if not args.lab:
            raise SystemExit("the destructive targets run on a lab host: add --lab")
        if not os.access(args.mailplay, os.X_OK):
            raise SystemExit(f"{args.mailplay}: not an executable (the lab is `mailplay lab`)")
        if args.jobs > 1:
            raise SystemExit("--lab runs one target at a time (one lab host named testhost)")

    h = Harness(args, src)
    started = time.monotonic()
    when = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    results: dict[str, dict] = {}
    lock = threading.Lock()

    group_locks = {}
    for group in EXCLUSIVE:
        lk = threading.Lock()
        for n in group:
            group_locks[n] = lk

    def one(name):
        if name in group_locks:
            with group_locks[name]:
                r = h.run_target(name)
        else:
            r = h.run_target(name)
        with lock:
            results[name] = r
            extra = f"  {r['first_failure']}" if r["status"] != "pass" else ""
            print(f"{r['status'].upper():7} {name:22} {r['seconds']:7.1f}s{extra}", flush=True)

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
            list(ex.map(one, selected))
    finally:
        if not args.keep:
            shutil.rmtree(h.work, ignore_errors=True)
    total = round(time.monotonic() - started, 1)
    passed = sum(1 for n, r in results.items() if r["status"] == "pass" and n in TARGETS)
    lab_selected = [n for n in selected if n in LAB_TARGETS]
    lab_passed = sum(1 for n in lab_selected if results[n]["status"] == "pass")

    if args.json_out:
        tool_version = subprocess.run(
            [args.mailplay, "--version"] if args.tool == "mailplay"
            else [os.path.join(args.ansible_bin, "ansible-playbook"), "--version"],
            capture_output=True, text=True).stdout.splitlines()[:1]
        doc = dict(
            date=when, tool=args.tool, tool_version=(tool_version or [""])[0],
            ansible_core_tests=ANSIBLE_VERSION, sdist_sha256=SDIST_SHA256,
            python=args.python, target_python=args.target_python, jobs=args.jobs, timeout=args.timeout,
            total_seconds=total, passed=passed, lab_passed=lab_passed, selected=len(selected),
            targets=[{k: v for k, v in results[n].items() if k != "log"} for n in selected],
        )
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, ensure_ascii=False)
            f.write("\n")
    print(f"total {total} s; logs in {h.logs}")
    if args.compare:
        with open(args.compare, encoding="utf-8") as f:
            control = {t["target"]: t for t in json.load(f)["targets"]}
        ours = sum(results[n]["recap"]["ok"] for n in selected)
        theirs = sum(control[n]["recap"]["ok"] for n in selected if n in control)
        if theirs:
            print(f"tasks ok (PLAY RECAP ok=, summed): {ours} of the control's {theirs} "
                  f"({100.0 * ours / theirs:.0f} %)")
    main_selected = [n for n in selected if n in TARGETS]
    if len(main_selected) == len(TARGETS):
        print(f"upstream targets: {passed}/{len(TARGETS)} pass")
    elif main_selected:
        print(f"upstream targets: {passed}/{len(main_selected)} pass (of the {len(main_selected)} selected)")
    if lab_selected:
        print(f"destructive targets on a lab host: {lab_passed}/{len(lab_selected)} pass")
    if args.no_regression:
        with open(args.no_regression, encoding="utf-8") as f:
            before = [t["target"] for t in json.load(f)["targets"] if t["status"] == "pass"]
        lost = [n for n in before if n in results and results[n]["status"] != "pass"]
        if lost:
            print(f"passed in {args.no_regression} and fail now: {', '.join(lost)}")
            return 1
        print(f"no regression against {args.no_regression} ({len(before)} targets passed there)")
        return 0
    return 0 if passed + lab_passed == len(selected) else 1


if __name__ == "__main__":
    sys.exit(main())
