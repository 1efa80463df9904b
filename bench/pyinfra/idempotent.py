"""bench/idempotent.yml for pyinfra: the same 20 tasks, in the same order,
leaving the same files (bench.py checks it on every run)."""
from io import StringIO

from pyinfra import host
from pyinfra.facts.files import File
from pyinfra.operations import files, server

# The first task alone (bench.py's one-task case) when BENCH_TASKS=1.
import os

ROOT = host.data.get("bench_root", "/srv")
ONE = os.environ.get("BENCH_TASKS") == "1"

for i in range(1 if ONE else 5):
    files.directory(name=f"folder {i}", path=f"{ROOT}/bench/d{i}", mode="755")
if not ONE:
    for i in range(5):
        files.put(name=f"file {i}", src=StringIO(f"benchmark file {i} on {host.name}\n"), dest=f"{ROOT}/bench/d{i}/f.conf", mode="644")
    for i in range(5):
        files.line(name=f"line {i}", path=f"{ROOT}/bench/d{i}/f.conf", line=f"setting_{i} = yes")
    for i in range(5):
        # command: touch ... args: creates: the file's fact decides.
        done = f"{ROOT}/bench/d{i}/done"
        server.shell(name=f"guarded command {i}", commands=[f"touch {done}"], _if=lambda done=done: host.get_fact(File, path=done) is None)
