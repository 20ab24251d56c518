"""cocotb test module for the network co-simulation: configure, start, wait; no per-cycle Python.

The design is hw/sim/nbq_cosim_top.sv around the network top: a SystemVerilog source plays the
input words preloaded from a file, a sink writes every output beat (with its cycle) to a file,
both with LFSR-drawn bubbles / backpressure.  This module reads the plan (path in $NBQ_TB_PLAN),
runs each phase by setting the cfg_* ports, pulsing `start` and waiting for `done` (the wrapper
ends a phase by itself, also on timeout, so this never hangs), and writes per-phase counters to
$NBQ_TB_RESULTS.  Every ~0.5 s of wall time it wakes on a coarse simulated-time timer and writes
"images_done images_total" to $NBQ_TB_PROGRESS, which costs nothing per cycle.
"""

from __future__ import annotations

import json
import os
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, First, RisingEdge, Timer

CLOCK_NS = 10
POLL_CYCLES = 20_000  # simulated cycles between wall-clock checks for the progress file
PROGRESS_S = 0.5


def _write_progress(path: str | None, done: int, total: int) -> None:
    if path:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{done} {total}\n")
        os.replace(tmp, path)


def _prob(p: float) -> int:
    """A probability as the 17-bit threshold the LFSR draws compare against (65536 = always)."""
    return max(0, min(65536, round(float(p) * 65536)))


async def _phase(dut, index: int, phase: dict, seed: int, progress: str | None, base: int, total: int) -> dict:
    await FallingEdge(dut.clk)  # `done` rises just after a rising edge: move to mid-cycle first
    dut.cfg_phase.value = index
    dut.cfg_in_beats.value = int(phase["in_beats"])
    dut.cfg_out_beats.value = int(phase["out_beats"])
    dut.cfg_p_valid.value = _prob(phase.get("p_valid", 1.0))
    dut.cfg_p_ready.value = _prob(phase.get("p_ready", 1.0))
    dut.cfg_seed.value = seed & 0xFFFFFFFF
    dut.cfg_drain.value = int(phase.get("drain", 8))
    dut.cfg_max_cycles.value = int(phase["max_cycles"])
    dut.start.value = 1
    await FallingEdge(dut.clk)
    dut.start.value = 0
    done_edge = RisingEdge(dut.done)
    poll = Timer(POLL_CYCLES * CLOCK_NS, unit="ns")
    last = time.perf_counter()
    while True:
        await First(done_edge, poll)
        if int(dut.done.value):
            break
        now = time.perf_counter()
        if now - last >= PROGRESS_S:
            last = now
            _write_progress(progress, base + int(dut.images_out.value), total)
    return {
        "name": phase.get("name", ""),
        "cycles": int(dut.cycles.value),
        "timeout": bool(int(dut.timed_out.value)),
        "first_in": int(dut.first_in.value),
        "images_out": int(dut.images_out.value),
        "bubbles": int(dut.bubbles.value),
        "stalls": int(dut.stalls.value),
    }


@cocotb.test()
async def run_cosim_plan(dut) -> None:
    with open(os.environ["NBQ_TB_PLAN"]) as f:
        plan = json.load(f)
    progress = os.environ.get("NBQ_TB_PROGRESS")
    total = int(plan.get("images_total", 0))
    impl = plan.get("clock_impl", "gpi")
    if impl != "sv":  # "sv": the wrapper generates its clock itself (built with --timing)
        Clock(dut.clk, CLOCK_NS, unit="ns", impl=impl).start()
    dut.start.value = 0
    dut.rst_n.value = 0
    for _ in range(3):
        await FallingEdge(dut.clk)
    dut.rst_n.value = 1
    start = time.perf_counter()
    results, base = [], 0
    for i, phase in enumerate(plan["phases"]):
        res = await _phase(dut, i, phase, int(plan.get("seed", 1)) + 7919 * i, progress, base, total)
        base += res["images_out"]
        results.append(res)
        _write_progress(progress, base, total)
    for _ in range(2):  # the sink flushes its file the cycle after `done`
        await FallingEdge(dut.clk)
    wall = time.perf_counter() - start
    with open(os.environ["NBQ_TB_RESULTS"], "w") as f:
        json.dump({"phases": results, "wall_s": wall}, f)
