"""cocotb test module: drive and watch valid/ready streams as a JSON plan says.

One generic testbench serves the network co-simulation and every engine test:
the plan (path in $NBQ_TB_PLAN) names, per stream, its valid/ready signals and
data fields, the beats to send or the number of beats to expect, and how
often to insert bubbles (input valid low) or backpressure (output ready low).
Results (path in $NBQ_TB_RESULTS): every received beat with the cycle it was
taken, and the cycle each input beat was accepted, per phase.  Checking is
left to the caller, who has the numpy model.

Timing: inputs change after each falling clock edge and handshakes are
sampled in the read-only phase before the next rising edge, so a beat counts
exactly when the design sees valid && ready at that edge.  A valid beat is
held until taken (AXI-Stream rules).
"""

from __future__ import annotations

import json
import os
import random
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly


class _In:
    def __init__(self, dut, spec: dict) -> None:
        self.valid = getattr(dut, spec["valid"])
        self.ready = getattr(dut, spec["ready"])
        self.fields = [(getattr(dut, name), int(width)) for name, width in spec["fields"]]
        self.beats = [int(b, 16) for b in spec["beats"]]
        self.p = float(spec.get("p_valid", 1.0))
        self.idx = 0
        self.showing = False  # a beat is on the bus (valid high) until taken
        self.valid_now = False
        self.accepted: list[int] = []
        self.valid.value = 0

    def drive(self, rng: random.Random) -> None:
        if self.showing:
            return
        if self.idx < len(self.beats) and (self.p >= 1.0 or rng.random() < self.p):
            beat = self.beats[self.idx]
            for handle, width in self.fields:
                handle.value = beat & ((1 << width) - 1)
                beat >>= width
            if not self.valid_now:
                self.valid.value = 1
                self.valid_now = True
            self.showing = True
        elif self.valid_now:
            self.valid.value = 0
            self.valid_now = False

    def sample(self, cycle: int) -> None:
        if self.showing and int(self.ready.value) == 1:
            self.accepted.append(cycle)
            self.idx += 1
            self.showing = False

    @property
    def done(self) -> bool:
        return self.idx >= len(self.beats)


class _Out:
    def __init__(self, dut, spec: dict) -> None:
        self.valid = getattr(dut, spec["valid"])
        self.ready = getattr(dut, spec["ready"])
        self.fields = [(getattr(dut, name), int(width)) for name, width in spec["fields"]]
        self.count = int(spec["count"])
        self.p = float(spec.get("p_ready", 1.0))
        self.ready_now = False
        self.data: list[int] = []
        self.cycles: list[int] = []
        self.ready.value = 0

    def drive(self, rng: random.Random) -> None:
        want = self.p >= 1.0 or rng.random() < self.p
        if want != self.ready_now:
            self.ready.value = int(want)
            self.ready_now = want

    def sample(self, cycle: int) -> None:
        if self.ready_now and int(self.valid.value) == 1:
            beat, shift = 0, 0
            for handle, width in self.fields:
                v = handle.value  # a Logic for 1-bit signals, a LogicArray otherwise
                beat |= (int(v) if width == 1 else v.to_unsigned()) << shift
                shift += width
            self.data.append(beat)
            self.cycles.append(cycle)

    @property
    def done(self) -> bool:
        return len(self.data) >= self.count


async def _phase(dut, clock, phase: dict, rng: random.Random, max_cycles: int) -> dict:
    ins = [_In(dut, s) for s in phase.get("inputs", [])]
    outs = [_Out(dut, s) for s in phase.get("outputs", [])]
    drain = int(phase.get("drain", 0))
    cycle, finished_at = 0, None
    while cycle < max_cycles:
        await FallingEdge(clock)
        for s in ins:
            s.drive(rng)
        for s in outs:
            s.drive(rng)
        await ReadOnly()
        for s in ins:
            s.sample(cycle)
        for s in outs:
            s.sample(cycle)
        cycle += 1
        if finished_at is None and all(s.done for s in ins) and all(s.done for s in outs):
            finished_at = cycle
        if finished_at is not None and cycle >= finished_at + drain:
            break
    await FallingEdge(clock)
    for s in ins:
        s.valid.value = 0
    for s in outs:
        s.ready.value = 0
    return {
        "name": phase.get("name", ""),
        "cycles": cycle if finished_at is None else finished_at,
        "timeout": finished_at is None,
        "in_cycles": [s.accepted for s in ins],
        "outputs": [[format(b, "x") for b in s.data] for s in outs],
        "out_cycles": [s.cycles for s in outs],
    }


@cocotb.test()
async def run_plan(dut) -> None:
    with open(os.environ["NBQ_TB_PLAN"]) as f:
        plan = json.load(f)
    clock = getattr(dut, plan.get("clock", "clk"))
    reset = getattr(dut, plan.get("reset", "rst_n"))
    active_low = bool(plan.get("reset_active_low", True))
    rng = random.Random(plan.get("seed", 0))
    cocotb.start_soon(Clock(clock, float(plan.get("clock_ns", 10)), unit="ns").start())
    reset.value = 0 if active_low else 1
    for _ in range(3):
        await FallingEdge(clock)
    reset.value = 1 if active_low else 0
    start = time.perf_counter()
    results = []
    for phase in plan["phases"]:
        results.append(await _phase(dut, clock, phase, rng, int(plan.get("max_cycles", 1_000_000))))
    wall = time.perf_counter() - start
    with open(os.environ["NBQ_TB_RESULTS"], "w") as f:
        json.dump({"phases": results, "wall_s": wall}, f)
