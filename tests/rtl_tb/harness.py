"""One Verilator build, many instances: a generated top wires each instance's streams to its own ports.

Verilator builds dominate test time (one build per parameter set would be far
too slow on a 2-core machine), so each test puts all its random
parameterizations side by side in one harness module, drives every stream
at once through nbq.sim.stream_tb (random bubbles and backpressure), and
compares what comes out with the numpy models.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nbq.errors import ToolNotFoundError
from nbq.resources import data_dir
from nbq.sim.verilator import build, require_tools, run_plan

RTL_DIR = data_dir("hw") / "rtl"


def require_sim() -> None:
    """Skip the calling test when Verilator or cocotb is missing (install the `sim` extra)."""
    import pytest

    try:
        require_tools()
    except ToolNotFoundError as exc:
        pytest.skip(str(exc))


@dataclass
class Stream:
    """A valid/ready stream of one instance; `into` is True for a stream the DUT consumes.

    valid/ready: (port, bit index or None); fields: (port, width, bit offset), packed LSB first.
    """

    into: bool
    valid: tuple[str, int | None]
    ready: tuple[str, int | None]
    fields: list[tuple[str, int, int]]
    beats: list[int] = field(default_factory=list)  # inputs: what to send; outputs: what to expect
    p: float = 1.0  # p_valid (inputs) or p_ready (outputs)

    @property
    def width(self) -> int:
        return sum(w for _, w, _ in self.fields)


@dataclass
class Instance:
    module: str
    params: dict
    ports: dict[str, int]  # every port except clk/rst_n: name -> width
    streams: dict[str, Stream]
    label: str = ""
    clocked: bool = True  # has clock / reset ports
    clock_ports: tuple[str, str] = ("clk", "rst_n")


def stream(into: bool, prefix: str, fields: list[tuple[str, int]], p: float = 1.0) -> Stream:
    """The usual <prefix>_valid/<prefix>_ready stream with whole-port fields."""
    return Stream(into, (f"{prefix}_valid", None), (f"{prefix}_ready", None), [(n, w, 0) for n, w in fields], p=p)


def pack(values, bits: int) -> int:
    """Integers (any sign) -> one int, element 0 in the low bits, each `bits` wide (two's complement)."""
    out, mask = 0, (1 << bits) - 1
    for i, v in enumerate(np.asarray(values, dtype=object).ravel()):
        out |= (int(v) & mask) << (i * bits)
    return out


def unpack(word: int, bits: int, count: int, signed: bool) -> np.ndarray:
    mask = (1 << bits) - 1
    vals = [(word >> (i * bits)) & mask for i in range(count)]
    if signed:
        vals = [v - (1 << bits) if v >> (bits - 1) else v for v in vals]
    return np.array(vals, dtype=object)


def _literal(v) -> str:
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, bool | np.bool_):
        return "1'b1" if v else "1'b0"
    v = int(v)
    return str(v) if v >= 0 else f"-{-v}"


class Harness:
    def __init__(self, name: str, extra_sources: list[Path] | None = None, opt: str = "-O0") -> None:
        self.name = name
        self.opt = opt  # C++ optimisation of the model: -O0 builds fastest
        self.instances: list[Instance] = []
        self.extra_sources = list(extra_sources or [])

    def add(self, inst: Instance) -> None:
        self.instances.append(inst)

    def _streams(self) -> list[tuple[int, str, Stream]]:
        return [(k, name, s) for k, inst in enumerate(self.instances) for name, s in inst.streams.items()]

    def render(self) -> str:
        lines = [f"// generated test harness: {len(self.instances)} instances", f"module {self.name} ("]
        ports = ["    input logic clk", "    input logic rst_n"]
        body: list[str] = []
        for j, (k, _name, s) in enumerate(self._streams()):
            d_in, d_out = ("input", "output") if s.into else ("output", "input")
            ports += [f"    {d_in} logic s{j}_valid", f"    {d_out} logic s{j}_ready"]
            for i, (_port, w, _off) in enumerate(s.fields):
                rng = f"[{w - 1}:0] " if w > 1 else ""
                ports.append(f"    {d_in} logic {rng}s{j}_f{i}")

            def ref(sig: tuple[str, int | None], k: int = k) -> str:
                port, idx = sig
                return f"u{k}_{port}" + (f"[{idx}]" if idx is not None else "")

            if s.into:
                body.append(f"  assign {ref(s.valid)} = s{j}_valid;")
                body.append(f"  assign s{j}_ready = {ref(s.ready)};")
                for i, (port, w, off) in enumerate(s.fields):
                    body.append(f"  assign u{k}_{port}[{off + w - 1}:{off}] = s{j}_f{i};")
            else:
                body.append(f"  assign s{j}_valid = {ref(s.valid)};")
                body.append(f"  assign {ref(s.ready)} = s{j}_ready;")
                for i, (port, w, off) in enumerate(s.fields):
                    body.append(f"  assign s{j}_f{i} = u{k}_{port}[{off + w - 1}:{off}];")
        lines.append(",\n".join(ports))
        lines.append(");")
        for k, inst in enumerate(self.instances):
            for port, w in inst.ports.items():
                lines.append(f"  logic [{w - 1}:0] u{k}_{port};")
            params = ", ".join(f".{p}({_literal(v)})" for p, v in inst.params.items())
            clk, rst = inst.clock_ports
            clock = [f".{clk}(clk)", f".{rst}(rst_n)"] if inst.clocked else []
            conns = ", ".join(clock + [f".{p}(u{k}_{p})" for p in inst.ports])
            lines.append(f"  {inst.module} #({params}) u{k} ({conns});  // {inst.label}")
        lines += body
        lines.append("endmodule")
        return "\n".join(lines) + "\n"

    def run(self, work: Path, seed: int = 0, max_cycles: int = 200_000) -> list[dict[str, list[int]]]:
        """Build, simulate, return per instance {output stream name: received beats}."""
        work = Path(work)
        work.mkdir(parents=True, exist_ok=True)
        top = work / f"{self.name}.sv"
        top.write_text(self.render())
        sources = sorted(RTL_DIR.glob("*.sv")) + self.extra_sources + [top]
        start = time.perf_counter()
        build_dir = build(sources, self.name, work / "sim_build", opt=self.opt)
        self.build_seconds = time.perf_counter() - start
        ins, outs = [], []
        for j, (_k, _name, s) in enumerate(self._streams()):
            spec = {"valid": f"s{j}_valid", "ready": f"s{j}_ready",
                    "fields": [[f"s{j}_f{i}", w] for i, (_p, w, _o) in enumerate(s.fields)]}
            if s.into:
                ins.append({**spec, "beats": [format(b, "x") for b in s.beats], "p_valid": s.p})
            else:
                outs.append({**spec, "count": len(s.beats), "p_ready": s.p})
        plan = {"seed": seed, "max_cycles": max_cycles,
                "phases": [{"name": self.name, "inputs": ins, "outputs": outs, "drain": 30}]}
        start = time.perf_counter()
        res = run_plan(build_dir, self.name, plan, work / "run")["phases"][0]
        self.sim_seconds = time.perf_counter() - start
        print(f"{self.name}: {len(self.instances)} instances, build {self.build_seconds:.1f} s, "
              f"simulation {self.sim_seconds:.1f} s for {res['cycles']} cycles")
        self.cycles = res["cycles"]
        self.timeout = res["timeout"]
        got: list[dict[str, list[int]]] = [{} for _ in self.instances]
        o = 0
        for k, name, s in self._streams():
            if not s.into:
                got[k][name] = [int(b, 16) for b in res["outputs"][o]]
                o += 1
        return got

    def check(self, work: Path, seed: int = 0) -> int:
        """Run and assert every output stream of every instance equals its expected beats; returns cycles."""
        got = self.run(work, seed)
        errors = []
        for k, inst in enumerate(self.instances):
            for name, s in inst.streams.items():
                if s.into:
                    continue
                if got[k][name] != s.beats:
                    n_bad = sum(a != b for a, b in zip(got[k][name], s.beats, strict=False))
                    errors.append(f"u{k} {inst.module} {inst.label} stream {name}: {len(got[k][name])} beats "
                                  f"(expected {len(s.beats)}), {n_bad} differ; params {inst.params}")
        assert not errors, "\n".join(errors[:10])
        return self.cycles
