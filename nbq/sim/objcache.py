"""A tiny compiler cache for Verilator's runtime objects (used as Verilator's OBJCACHE).

Every Verilator build compiles the same runtime sources (verilated.cpp,
verilated_vpi.cpp, ...) again: about 18 s of a 20 s build on a 2-core machine,
for objects that only depend on the Verilator install and the flags.  Verilator's
makefile prefixes each compile with $(OBJCACHE); pointing it at this script
reuses those objects across builds.  Sources that belong to the design (in the
build folder, or cocotb's verilator.cpp, which includes the design's Vtop.h)
are always compiled.

Usage (what make runs): python objcache.py c++ <flags> -c -o out.o src.cpp
Cache folder: $NBQ_OBJCACHE_DIR, else ~/.cache/nbq/verilator-objs; NBQ_OBJCACHE_DIR=off compiles
everything and writes no cache.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    env = os.environ.get("NBQ_OBJCACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nbq" / "verilator-objs"


def _cacheable_source(args: list[str]) -> Path | None:
    """The runtime source compiled by this command, or None if it must not be cached."""
    if "-c" not in args:
        return None
    sources = [a for a in args if a.endswith((".cpp", ".cc", ".c")) and not a.startswith("-")]
    if len(sources) != 1:
        return None
    src = Path(sources[0])
    # Verilator's runtime: <root>/include/verilated*.cpp, independent of the design
    if not (src.is_absolute() and src.name.startswith("verilated") and src.parent.name == "include"):
        return None
    return src


def _output(args: list[str], src: Path) -> Path:
    if "-o" in args:
        return Path(args[args.index("-o") + 1])
    return Path(src.stem + ".o")


def _key(args: list[str], src: Path) -> str:
    h = hashlib.sha256()
    skip = False
    for a in args:  # the output name does not change the object
        if skip:
            skip = False
            continue
        if a == "-o":
            skip = True
            continue
        h.update(a.encode() + b"\0")
    h.update(src.read_bytes())
    return h.hexdigest()


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: objcache.py COMPILER ARGS...", file=sys.stderr)
        return 2
    src = _cacheable_source(argv)
    if src is None or not src.is_file() or os.environ.get("NBQ_OBJCACHE_DIR") == "off":
        return subprocess.call(argv)
    out = _output(argv, src)
    cached = cache_dir() / (_key(argv, src) + ".o")
    if cached.is_file():
        shutil.copyfile(cached, out)
        return 0
    code = subprocess.call(argv)
    if code == 0 and out.is_file():
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".tmp")
            os.close(fd)
            shutil.copyfile(out, tmp)
            os.replace(tmp, cached)  # atomic: parallel builds never see half a file
        except OSError:
            pass  # a cache that cannot be written only costs time
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
