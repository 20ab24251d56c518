"""C-simulation: build a generated project's testbench with g++ and run it (no Vitis needed)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nbq.errors import NbqError, ToolFailure, ToolNotFoundError
from nbq.sim.csim_manifest import csim_inputs, rom_files
from nbq.sim.csim_pch import NO_PCH, precompiled_library

MANIFEST = "nbq_project.json"
OUTPUTS_FILE = "csim_outputs.dat"  # written by the testbench next to golden.dat
BUILD_DIR = "csim_build"
BASE_FLAGS = ("-std=c++14", "-O2")
STRICT_FLAGS = ("-Wall", "-Wextra", "-Werror")
_ERROR_LINE = re.compile(r"\berror\b:|undefined reference")  # g++/ld diagnostics, not "-Werror"
_PROGRESS = re.compile(r"^NBQ-CSIM-PROGRESS done=(\d+) total=(\d+)\s*$")  # testbench -> progress hook
_RESULT = re.compile(r"^NBQ-CSIM images=(\d+) mismatches=(\d+)\s*$", re.MULTILINE)
# hls::stream's C model only warns when a design reads an empty stream or leaves data behind
_STREAM_WARNING = re.compile(r"^WARNING: Hls::stream .*$", re.MULTILINE)


@dataclass
class CsimResult:
    passed: bool
    images: int
    mismatches: int
    first_mismatches: list[str]
    log: str
    seconds: float
    built: bool = False  # False when the cached binary was reused
    problems: list[str] = field(default_factory=list)  # build errors, stream warnings, crashes
    build_error: str | None = None  # the compiler's first error line when the build failed (no verdict then)
    build_log: Path | None = None


def check_built(res: CsimResult, project_dir: str | Path) -> CsimResult:
    """`res`, unless its build failed: g++ rejecting generated code is nbq's bug, not a verdict on the design."""
    if res.build_error is not None:
        log = f"; full log: {res.build_log}" if res.build_log is not None else ""
        raise ToolFailure(f"{project_dir}: the C-simulation build failed (g++): {res.build_error}{log}; "
                          "unless you edited the generated sources, please report it")
    return res


def find_hls_headers() -> Path:
    """The folder holding ap_int.h and hls_stream.h: $XILINX_HLS/include, else hls4ml's ap_types."""
    xilinx = os.environ.get("XILINX_HLS")
    if xilinx:
        path = Path(xilinx) / "include"
        if (path / "ap_int.h").is_file():
            return path
    spec = importlib.util.find_spec("hls4ml")
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / "templates" / "vivado" / "ap_types"
        if (path / "ap_int.h").is_file():
            return path
    raise ToolNotFoundError(
        "ap_int.h/hls_stream.h not found: set XILINX_HLS to a Vitis HLS install or `pip install hls4ml`"
    )


def write_rom_initializers(files: list[Path]) -> None:
    """firmware/rom/*.inc from the packed *.bin, with nbq's own copy of the project's tools/nbq_rom_init.py
    (what `make` and run_hls.tcl run)."""
    if not files:
        return
    from nbq.backends.hls.romfile import rom_tool

    tool = rom_tool()
    for path in files:
        try:
            tool.generate(path)
        except (OSError, ValueError) as exc:
            raise NbqError(f"{path}: cannot write its ROM initializer ({exc}); recompile the project with "
                           "`nbq compile`") from None


def _compiler() -> str:
    cxx = os.environ.get("CXX") or "g++"
    path = shutil.which(cxx)
    if path is None:
        raise ToolNotFoundError(f"C++ compiler '{cxx}' not found on PATH; install g++ (e.g. apt-get install g++)")
    return path


def _read_manifest(project_dir: Path) -> dict:
    path = project_dir / MANIFEST
    if not path.is_file():
        raise NbqError(f"{project_dir} is not an nbq HLS project (no {MANIFEST})")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise NbqError(f"{path}: not valid JSON ({exc})") from None


def _newest_source(project_dir: Path) -> float:
    stamps = [p.stat().st_mtime for d in ("firmware", "tb") for p in (project_dir / d).rglob("*") if p.is_file()]
    return max(stamps, default=0.0)


def _build(
    project_dir: Path, sources: list[str], include: str, flags: list[str], exe: Path, jobs: int
) -> tuple[bool, str]:
    """Compile each source to an object (up to `jobs` at once), then link. Returns (ok, log)."""
    cxx = _compiler()
    build = exe.parent
    build.mkdir(exist_ok=True)
    hls = find_hls_headers()
    # not for -Werror builds: g++ 12 forgets a precompiled header's `#pragma GCC diagnostic` regions
    # (common.h silences ap_private's false uninitialized warnings with them)
    pch = precompiled_library(cxx, flags, hls, project_dir / include / "nbq") if "-Werror" not in flags else NO_PCH
    common = [cxx, *flags, "-isystem", str(hls), "-Wno-unknown-pragmas", *pch.args, "-I", include]
    objects = [build / f"{exe.name}-{Path(src).stem}.o" for src in sources]  # per binary: flags differ
    commands = [[*common, "-c", src, "-o", str(obj)] for src, obj in zip(sources, objects, strict=True)]
    log, running = [pch.log], []
    ok = True
    pending = list(commands)
    while pending or running:
        while pending and len(running) < jobs:
            cmd = pending.pop(0)
            log.append(" ".join(cmd))
            proc = subprocess.Popen(cmd, cwd=project_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            running.append(proc)
        proc = running.pop(0)
        out, _ = proc.communicate()
        log.append(out)
        ok = ok and proc.returncode == 0
    if ok:
        cmd = [cxx, *flags, *map(str, objects), "-o", str(exe)]
        log.append(" ".join(cmd))
        done = subprocess.run(cmd, cwd=project_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        log.append(done.stdout)
        ok = done.returncode == 0
    return ok, "\n".join(part for part in log if part)


def _run_testbench(
    exe: Path, project_dir: Path, timeout: float | None, progress: Callable[[int, int], None] | None
) -> tuple[int, str, bool]:
    """Run the testbench binary: (exit code, its output without progress lines, timed out).
    Its progress lines (stderr, a few per second at most) go to `progress` as they come."""
    proc = subprocess.Popen([str(exe.resolve())], cwd=project_dir, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    expired = threading.Event()

    def kill() -> None:
        expired.set()
        proc.kill()

    timer = threading.Timer(timeout, kill) if timeout is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    lines = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            m = _PROGRESS.match(line)
            if m is None:
                lines.append(line)
            elif progress is not None:
                progress(int(m.group(1)), int(m.group(2)))
        returncode = proc.wait()
    finally:
        if timer is not None:
            timer.cancel()
        if proc.poll() is None:  # the callback raised: do not leave the testbench running
            proc.kill()
            proc.wait()
    return returncode, "".join(lines), expired.is_set()


def run_csim(
    project_dir: Path,
    jobs: int | None = None,
    *,
    strict: bool = False,
    timeout: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CsimResult:
    """Build (unless the binary is newer than every source and the flags match) and run the testbench.

    strict adds -Wall -Wextra -Werror.  g++ missing raises ToolNotFoundError; a failed build or run
    returns passed=False with the compiler/testbench output in `log` and a summary in `problems`.
    progress, if given, is called with (images checked, images) while the testbench runs (after every
    chunk of images, at most about 5 times a second, and at the end).
    """
    start = time.monotonic()
    project_dir = Path(project_dir).resolve()  # g++ runs in other folders: relative paths would break
    manifest = _read_manifest(project_dir)
    top, sources, include = csim_inputs(project_dir, manifest)  # every value that reaches g++'s command line
    for data in ("inputs.dat", "golden.dat"):  # without them the testbench could only say "0 images"
        if not (project_dir / "tb_data" / data).is_file():
            raise NbqError(f"{project_dir / 'tb_data' / data}: missing; recompile the project with `nbq compile`")
    flags = [*BASE_FLAGS, *(STRICT_FLAGS if strict else ())]
    jobs = max(1, jobs or min(len(sources), os.cpu_count() or 1))

    build = project_dir / BUILD_DIR
    if build.is_symlink() or (build.exists() and not build.is_dir()):
        raise NbqError(f"{build}: not a folder nbq made (a symlink or a file); remove it and run again")
    write_rom_initializers(rom_files(project_dir, manifest))  # after the checks: a refusal writes nothing
    exe = build / f"{top}_csim{'_strict' if strict else ''}"
    key_file = exe.with_suffix(".key")
    key = hashlib.sha256(json.dumps([_compiler(), str(find_hls_headers()), flags, sources]).encode()).hexdigest()
    fresh = (
        exe.is_file()
        and key_file.is_file()
        and key_file.read_text() == key
        and exe.stat().st_mtime > _newest_source(project_dir)
    )
    log = ""
    if not fresh:
        key_file.unlink(missing_ok=True)
        ok, log = _build(project_dir, sources, include, flags, exe, jobs)
        if not ok:
            first = next((ln.strip() for ln in log.splitlines() if _ERROR_LINE.search(ln)), "the C++ build failed")
            log_path = build / "build.log"
            try:
                log_path.write_text(log)
            except OSError:
                log_path = None
            return CsimResult(False, 0, 0, [], log, time.monotonic() - start, True, [f"build failed: {first}"],
                              build_error=first, build_log=log_path)
        key_file.write_text(key)
    returncode, out, timed_out = _run_testbench(exe, project_dir, timeout, progress)
    if timed_out:
        return CsimResult(
            False, 0, 0, [], log + out, time.monotonic() - start, not fresh, [f"timed out after {timeout} s"]
        )
    problems = _STREAM_WARNING.findall(out)
    match = _RESULT.search(out)
    if match is None:
        problems.append(f"testbench printed no NBQ-CSIM line (exit code {returncode})")
        images, mismatches = 0, 0
    else:
        images, mismatches = int(match.group(1)), int(match.group(2))
    first = [ln for ln in out.splitlines() if ln.startswith("MISMATCH")][:20]
    passed = match is not None and mismatches == 0 and returncode == 0 and not problems
    if returncode != 0 and mismatches == 0 and match is not None:
        problems.append(f"testbench exited with code {returncode}")
    return CsimResult(passed, images, mismatches, first, (log + "\n" + out).strip() + "\n",
                      time.monotonic() - start, not fresh, problems)  # fmt: skip


def read_csim_outputs(project_dir: Path) -> np.ndarray:
    """The core's outputs from the last C-simulation, (images, values) in stream order (as golden.dat)."""
    path = Path(project_dir) / "tb_data" / OUTPUTS_FILE
    if not path.is_file():
        raise NbqError(f"{path}: no C-simulation outputs; run `nbq csim {project_dir}` first")
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return np.array(rows, dtype=np.int64)
