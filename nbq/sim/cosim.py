"""RTL co-simulation: run a generated RTL project on Verilator under cocotb and check it bit for bit.

Two phases on the same simulation:
  throughput  every golden image back to back, input always valid, output always ready: gives the
              steady-state initiation interval (cycles between consecutive images' last output beats)
  stress      the first images again with random input bubbles and output backpressure
Every output integer of both phases is compared with the reference executor's.

Per-cycle work stays in the simulator: hw/sim/nbq_cosim_top.sv wraps the network with a
SystemVerilog source (input words preloaded with $readmemh) and sink (output beats and their cycles
written to a file), bubbles and backpressure drawn from LFSRs that cocotb seeds (nbq.sim.cosim_tb);
cocotb only configures each phase, waits for `done` and the results are read once at the end.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nbq.backends.rtl.project import MANIFEST, RTL_DIR
from nbq.errors import NbqError
from nbq.resources import data_dir
from nbq.sim.verilator import build, require_tools, run_testbench

STRESS_IMAGES = 4
STRESS_P_VALID = 0.6
STRESS_P_READY = 0.5
DEFAULT_OPT = "-O1"  # the build takes ~1.5x -O0's, the design simulates ~5x faster
TB_MODULE = "nbq.sim.cosim_tb"
SIM_DIR = data_dir("hw") / "sim"
SIM_SOURCES = ("nbq_axis_source.sv", "nbq_axis_sink.sv", "nbq_cosim_top.sv")
SIM_TOP = "nbq_cosim_top"


@dataclass
class CosimResult:
    passed: bool
    images: int  # golden images checked (each in the throughput phase; the first few again under stress)
    mismatches: int  # output integers that differ from the reference (both phases)
    cycles_per_image: float  # steady state: cycles between consecutive images' last output beats
    initiation_interval: float  # the same interval, as the smallest gap seen (the pipeline's best)
    latency_cycles: int  # first input beat accepted -> last output beat of the first image
    model_cycles: int  # analytical initiation interval (slowest stage of the manifest's cycle model)
    frames_per_s: float  # at the board clock, from cycles_per_image
    pe_utilization: float  # useful MACs / (MAC units x cycles per image), all Conv/Dense layers
    layer_utilization: dict[str, float]  # the same per layer
    clock_mhz: float
    sim_cycles: int  # cycles simulated (both phases)
    seconds: float  # wall time: build + simulation
    sim_seconds: float  # wall time of the simulation alone
    built: bool  # False when a cached simulation model was reused
    waves: Path | None = None
    first_mismatches: list[str] = field(default_factory=list)
    build_seconds: float = 0.0  # wall time of the Verilator build (or of finding it cached)
    stress_bubbles: int = 0  # stress phase: cycles an input beat waited with valid held low
    stress_stalls: int = 0  # stress phase: cycles an output beat waited with ready held low
    # the throughput phase's output integers, (images, values) in stream order as golden.dat; None when the RTL
    # did not deliver every beat (a timeout): accuracy is then unknown, never guessed
    outputs: np.ndarray | None = field(default=None, repr=False)

    def summary(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return (f"{verdict}: {self.images} images, {self.mismatches} mismatches; {self.cycles_per_image:.1f} "
                f"cycles/image (model {self.model_cycles}), {self.frames_per_s:,.0f} frames/s at "
                f"{self.clock_mhz:g} MHz, PE utilization {100 * self.pe_utilization:.1f}%")


def find_manifest(project_dir: Path) -> Path:
    """The RTL manifest in `project_dir` (a compile output folder or its rtl/ subfolder)."""
    project_dir = Path(project_dir)
    for cand in (project_dir / RTL_DIR / MANIFEST, project_dir / MANIFEST):
        if cand.is_file():
            return cand
    raise NbqError(f"no RTL project in {project_dir} (expected {RTL_DIR}/{MANIFEST}); write one with "
                   "nbq.backends.rtl.write_rtl_project")


def to_stream(batch: np.ndarray, info: dict) -> np.ndarray:
    """(N, logical shape) -> (N, beats, elems) in stream order (feature maps channels-last)."""
    n = batch.shape[0]
    if info["pixels"]:
        c, h, w = info["layout"]
        return batch.reshape(n, c, h, w).transpose(0, 2, 3, 1).reshape(n, h * w, c)
    if info["layout"] is not None:  # a flattened map travels in (h, w, c) order
        c, h, w = info["layout"]
        return batch.reshape(n, c, h, w).transpose(0, 2, 3, 1).reshape(n, 1, -1)
    return batch.reshape(n, 1, -1)


def axis_words(beats: np.ndarray, info: dict) -> list[int]:
    """(N, beats, elems) integers -> TDATA|TLAST words: each element in its lane, TLAST per image."""
    lane, elems = info["lane"], info["elems"]
    mask = (1 << lane) - 1
    words = []
    n, per_image, _ = beats.shape
    for i in range(n):
        for j in range(per_image):
            word = 0
            for k, v in enumerate(beats[i, j]):
                word |= (int(v) & mask) << (k * lane)
            words.append(word | (int(j == per_image - 1) << (elems * lane)))
    return words


def decode_words(words: list[int], info: dict) -> tuple[np.ndarray, list[int]]:
    """Output words -> (beats, elems) signed/unsigned integers and the TLAST bits."""
    lane, elems, signed = info["lane"], info["elems"], info["signed"]
    mask = (1 << lane) - 1
    vals, lasts = [], []
    for word in words:
        row = []
        for k in range(elems):
            v = (word >> (k * lane)) & mask
            if signed and v >> (lane - 1):
                v -= 1 << lane
            row.append(v)
        vals.append(row)
        lasts.append((word >> (elems * lane)) & 1)
    return np.array(vals, dtype=np.int64).reshape(-1, elems), lasts


def _compare(got: np.ndarray, lasts: list[int], expect: np.ndarray, info: dict, phase: str,
             notes: list[str]) -> int:
    """Mismatching integers (missing beats count in full); TLAST errors count one each."""
    exp = expect.reshape(-1, info["elems"])
    bad = 0
    if got.shape[0] != exp.shape[0]:
        notes.append(f"{phase}: {got.shape[0]} output beats, expected {exp.shape[0]}")
        bad += abs(got.shape[0] - exp.shape[0]) * info["elems"]
    n = min(got.shape[0], exp.shape[0])
    diff = np.argwhere(got[:n] != exp[:n])
    bad += len(diff)
    for beat, elem in diff[:10]:
        image, pos = divmod(int(beat), info["beats"])
        notes.append(f"{phase}: image {image} beat {pos} element {int(elem)}: got {int(got[beat, elem])}, "
                     f"expected {int(exp[beat, elem])}")
    want_last = [int(i % info["beats"] == info["beats"] - 1) for i in range(n)]
    wrong_last = sum(a != b for a, b in zip(lasts[:n], want_last, strict=True))
    if wrong_last:
        notes.append(f"{phase}: TLAST wrong on {wrong_last} beats")
    return bad + wrong_last


def _interval(out_cycles: list[int], beats: int, images: int) -> tuple[float, float, int]:
    """(steady-state cycles per image, smallest gap, latency of image 0) from output beat times."""
    ends = [out_cycles[(i + 1) * beats - 1] for i in range(images) if (i + 1) * beats - 1 < len(out_cycles)]
    if len(ends) < 2:
        return float(ends[0] + 1) if ends else float("nan"), float("nan"), ends[0] + 1 if ends else -1
    gaps = np.diff(ends)
    steady = gaps[1:] if len(gaps) >= 3 else gaps  # the first gap can still carry pipeline fill
    return float(np.mean(steady)), float(gaps.min()), int(ends[0] + 1)


def _depth(words: int) -> int:
    """Input memory depth: a power of two (>= 4096) so that nearby image counts reuse one build."""
    return max(4096, 1 << max(0, words - 1).bit_length())


def max_cycles(images: int, model_ii: int, stress: bool) -> int:
    """A phase's timeout: a generous multiple of the cycle model (stress: bubbles and backpressure)."""
    return (images + 8) * model_ii * (8 if stress else 2) + 20_000


def _read_beats(path: Path, phases: int) -> list[tuple[list[int], list[int]]]:
    """The sink's file -> per phase (words, cycles)."""
    out: list[tuple[list[int], list[int]]] = [([], []) for _ in range(phases)]
    if path.is_file():
        for line in path.read_text().split("\n"):
            if line:
                ph, word, cyc = line.split()
                out[int(ph)][0].append(int(word, 16))
                out[int(ph)][1].append(int(cyc))
    return out


def _watch(path: Path, progress: Callable[[int, int], None], stop: threading.Event) -> None:
    """Forward the testbench's progress file to the hook every ~0.5 s until `stop`."""
    seen = None
    while not stop.wait(0.5):
        try:
            done, total = (int(v) for v in path.read_text().split())
        except (OSError, ValueError):
            continue
        if (done, total) != seen:
            seen = (done, total)
            progress(done, total)


def run_cosim(project_dir: Path, waves: bool = False, stress: bool = True, max_images: int | None = None,
              opt: str = DEFAULT_OPT, progress: Callable[[int, int], None] | None = None,
              log: Callable[[str], None] | None = None, clock: str = "gpi") -> CosimResult:
    """Co-simulate an RTL project with its golden vectors; see the module docstring.

    progress: called now and then (about every 0.5 s) with (images done, images total), both phases counted.
    log: called with a short message before the (possibly long) build and simulation steps.
    clock: "gpi" (cocotb's C clock), "py" (cocotb's Python clock) or "sv" (generated in the wrapper,
        built with verilator --timing), for measurements.
    """
    step = log or (lambda _msg: None)
    start = time.perf_counter()
    require_tools()
    manifest_path = find_manifest(project_dir)
    rtl = manifest_path.parent
    m = json.loads(manifest_path.read_text())
    if "golden" not in m:
        raise NbqError(f"{rtl} has no golden vectors; write the project with golden inputs")
    gx = np.load(rtl / m["golden"]["inputs"])
    gy = np.load(rtl / m["golden"]["outputs"])
    if max_images is not None:
        gx, gy = gx[:max_images], gy[:max_images]
    n = int(gx.shape[0])
    ins, outs = m["input"], m["output"]
    x_words = axis_words(to_stream(gx, ins), ins)
    y_beats = to_stream(gy, outs)
    in_w, out_w = ins["elems"] * ins["lane"], outs["elems"] * outs["lane"]

    top = m["top"]
    sources = [rtl / s for s in m["sources"]] + [SIM_DIR / f for f in SIM_SOURCES]
    build_dir = rtl / ("sim_build_waves" if waves else "sim_build")
    stamp = build_dir / "nbq_build.stamp"
    before = stamp.read_text() if stamp.is_file() else None
    step(f"building the simulation model of {len(sources)} SystemVerilog files (Verilator {opt}; cached after "
         "the first build)")
    t_build = time.perf_counter()
    clock_args = ["-DNBQ_SV_CLOCK", "--timing"] if clock == "sv" else []
    build(sources, SIM_TOP, build_dir, waves=waves, opt=opt, name=top, extra_args=[f"-DNBQ_DUT={top}", *clock_args],
          parameters={"MEM_DIR": f'"{rtl.resolve()}"', "IN_W": in_w, "OUT_W": out_w,
                      "DEPTH": _depth(len(x_words))})
    build_s = time.perf_counter() - t_build
    built = before != stamp.read_text()

    run_dir = (rtl / "sim_run").resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    in_file, out_file, prog_file = run_dir / "in_words.hex", run_dir / "out_beats.txt", run_dir / "progress.txt"
    in_file.write_text("".join(f"{w:x}\n" for w in x_words))
    for f in (out_file, prog_file):
        f.unlink(missing_ok=True)
    model = int(m["model"]["ii_cycles"])
    k = min(STRESS_IMAGES, n) if stress else 0
    phases = [{"name": "throughput", "in_beats": n * ins["beats"], "out_beats": n * outs["beats"],
               "p_valid": 1.0, "p_ready": 1.0, "drain": 8, "max_cycles": max_cycles(n, model, False)}]
    if k:
        phases.append({"name": "stress", "in_beats": k * ins["beats"], "out_beats": k * outs["beats"],
                       "p_valid": STRESS_P_VALID, "p_ready": STRESS_P_READY, "drain": 8,
                       "max_cycles": max_cycles(k, model, True)})
    plan = {"seed": 1, "phases": phases, "images_total": n + k, "clock_impl": clock}
    step(f"simulating {n} images back to back (~{n * model:,} cycles), then {k} under random bubbles and "
         "backpressure")
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(prog_file, progress, stop), daemon=True) if progress else None
    if watcher:
        watcher.start()
    try:
        res = run_testbench(build_dir, SIM_TOP, TB_MODULE, plan, run_dir, waves=waves,
                            plusargs=[f"+nbq_in={in_file}", f"+nbq_out={out_file}"],
                            env={"NBQ_TB_PROGRESS": str(prog_file)})
    finally:
        stop.set()
        if watcher:
            watcher.join()
    if progress:
        progress(sum(p["images_out"] for p in res["phases"]), n + k)

    notes: list[str] = []
    bad = 0
    sim_cycles = 0
    outputs = None
    beats = _read_beats(out_file, len(phases))
    for phase, count, (words, _) in zip(res["phases"], [n, k], beats, strict=False):
        got, lasts = decode_words(words, outs)
        if phase is res["phases"][0] and got.shape[0] == n * outs["beats"]:
            outputs = got.reshape(n, -1)
        bad += _compare(got, lasts, y_beats[:count], outs, phase["name"], notes)
        if phase["timeout"]:
            notes.append(f"{phase['name']}: timed out after {phase['cycles']:,} cycles "
                         f"({phase['images_out']} of {count} images out)")
            bad += 1
        sim_cycles += int(phase["cycles"])
    thr = res["phases"][0]
    per_image, best, end0 = _interval(beats[0][1], outs["beats"], n)
    latency = end0 - thr["first_in"] if end0 >= 0 else -1
    clock_mhz = float(m["clock_mhz"])
    period = per_image if np.isfinite(per_image) and per_image > 0 else float("nan")
    util = {la["name"]: la["macs"] / (la["mac_units"] * period) for la in m["layers"]}
    units = sum(la["mac_units"] for la in m["layers"])
    total_util = sum(la["macs"] for la in m["layers"]) / (units * period) if units else 0.0
    sp = res["phases"][1] if k else {"bubbles": 0, "stalls": 0}
    return CosimResult(
        passed=bad == 0, images=n, mismatches=bad, cycles_per_image=per_image, initiation_interval=best,
        latency_cycles=latency, model_cycles=model, frames_per_s=clock_mhz * 1e6 / period,
        pe_utilization=total_util, layer_utilization=util, clock_mhz=clock_mhz, sim_cycles=sim_cycles,
        seconds=time.perf_counter() - start, sim_seconds=float(res["wall_s"]), built=built,
        waves=(run_dir / "dump.vcd") if waves else None, first_mismatches=notes, build_seconds=build_s,
        stress_bubbles=int(sp["bubbles"]), stress_stalls=int(sp["stalls"]), outputs=outputs,
    )  # fmt: skip
