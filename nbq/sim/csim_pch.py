"""A precompiled nbq engine library (nbq/nbq.h with ap_int.h and hls_stream.h) for C-simulation builds.

Parsing the library and the ap_int headers is a fixed cost of every translation unit of every
project.  g++ can load it from a precompiled header instead: the project's own copy of the library
(firmware/nbq/*.h) is copied into a cache folder keyed on the compiler, its flags, the HLS headers and
the library's text, compiled there once to nbq.h.gch, and each source gets `-include <copy>/nbq.h`.
The include guards then skip the project's copy.  If g++ finds the .gch unusable it reads the copied
header text instead, which is the same text, so the result never depends on the cache.

Cache: <objcache dir>/csim-pch (nbq.sim.objcache.cache_dir()); NBQ_CSIM_PCH=off or
NBQ_OBJCACHE_DIR=off builds without it.  Not used for -Werror builds (nbq.sim.csim: g++ 12 drops the
header's `#pragma GCC diagnostic` regions when it loads a .gch).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from nbq.sim.objcache import cache_dir

UMBRELLA = "nbq.h"


@dataclass
class Pch:
    args: list[str]  # extra g++ arguments for every source ([] without a precompiled header)
    built: bool  # True when this call compiled the header
    seconds: float
    log: str


NO_PCH = Pch([], False, 0.0, "")


def enabled() -> bool:
    return os.environ.get("NBQ_CSIM_PCH", "").lower() != "off" and os.environ.get("NBQ_OBJCACHE_DIR") != "off"


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def _key(cxx: str, flags: list[str], hls_include: Path, headers: list[Path]) -> str:
    h = hashlib.sha256()
    for part in [_stamp(Path(cxx)), str(hls_include), *flags]:
        h.update(part.encode() + b"\0")
    for path in sorted(p for p in hls_include.rglob("*.h") if p.is_file()):  # the ap_int/hls_stream install
        h.update(_stamp(path).encode() + b"\0")
    for path in headers:  # the project's library copy, by content
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:32]


def precompiled_library(cxx: str, flags: list[str], hls_include: Path, library: Path) -> Pch:
    """The -include arguments for `library` (a folder holding nbq.h and the headers it includes),
    compiling the header into the cache first when it is not there.  Any failure (no cache folder,
    a compiler error) gives a Pch without arguments: the build then parses the headers as before."""
    start = time.monotonic()
    headers = sorted(p for p in library.glob("*.h") if p.is_file())
    if not enabled() or not (library / UMBRELLA).is_file():
        return Pch([], False, 0.0, "")
    key = _key(cxx, flags, hls_include, headers)
    root = cache_dir() / "csim-pch"
    final = root / key
    args = ["-include", str(final / "nbq" / UMBRELLA)]
    if (final / "nbq" / (UMBRELLA + ".gch")).is_file():
        return Pch(args, False, time.monotonic() - start, "")
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
    except OSError as exc:
        return Pch([], False, time.monotonic() - start, f"precompiled header skipped: {exc}")
    try:
        (tmp / "nbq").mkdir()
        for path in headers:
            shutil.copyfile(path, tmp / "nbq" / path.name)
        cmd = [cxx, *flags, "-isystem", str(hls_include), "-Wno-unknown-pragmas", "-x", "c++-header",
               str(tmp / "nbq" / UMBRELLA), "-o", str(tmp / "nbq" / (UMBRELLA + ".gch"))]
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        log = " ".join(cmd) + "\n" + done.stdout
        if done.returncode != 0:
            return Pch([], False, time.monotonic() - start, log + "precompiled header failed; building without it")
        try:
            os.rename(tmp, final)  # atomic; another build may have won the race, which is as good
        except OSError:
            if not (final / "nbq" / (UMBRELLA + ".gch")).is_file():
                return Pch([], False, time.monotonic() - start, log + "precompiled header not stored")
        return Pch(args, True, time.monotonic() - start, log)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
