"""bench/sake.yml for pyinfra: 4 module tasks on fresh hosts."""
from io import StringIO

from pyinfra import host
from pyinfra.operations import files, server

ROOT = host.data.get("bench_root", "/srv")
files.directory(name="a file", path=f"{ROOT}/sake")
files.put(name="a copy", src=StringIO(f"hello from {host.name}\n"), dest=f"{ROOT}/sake/hello.txt")
files.line(name="a lineinfile", path=f"{ROOT}/sake/hello.txt", line="second line")
server.shell(name="a command", commands=["uname -a"])
