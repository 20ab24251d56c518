"""Co-simulation speed: how fast the demo CNN's RTL runs under cocotb + Verilator.

Compiles examples/digits_po2_cnn.onnx to RTL for the ZCU102 with the digits test
set (450 images; random images if scikit-learn is missing) as golden vectors,
co-simulates it twice - a cold run (Verilator build included) and a warm run
(cached build) - for each C++ optimisation level; then the paper-shaped networks
(nbq.modelgen: the n-BQ-NN CIFAR network and the complex NIN-like BCNN, width 1/8)
on a few random/adversarial images; writes bench/results/cosim_speed.md.

Usage: python bench/cosim_speed.py [--images N] [--opt -O0 -O1 ...] [--no-networks]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nbq import reference  # noqa: E402
from nbq.backends.rtl.project import write_rtl_project  # noqa: E402
from nbq.board_catalog import load_board  # noqa: E402
from nbq.passes.folding import choose_folding  # noqa: E402
from nbq.pipeline import adversarial_inputs, lower  # noqa: E402
from nbq.plan import plan_graph  # noqa: E402
from nbq.sim.cosim import run_cosim  # noqa: E402

MODEL = ROOT / "examples" / "digits_po2_cnn.onnx"
RESULTS = ROOT / "bench" / "results" / "cosim_speed.md"


def golden_inputs(graph, n: int) -> tuple[np.ndarray, str]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return adversarial_inputs(graph, max(n - 3, 1)), "random + adversarial images"
    x = (load_digits().images / 16.0).astype(np.float32)[:, None]
    return reference.quantize_input(graph, x[:n]), "sklearn digits images"


def network_table(board) -> list[str]:
    """The paper-shaped networks at width 1/8: one cold -O0 co-simulation each on 4 images."""
    import onnx

    from nbq.modelgen import bcnn_nin, paper_cifar_po2

    nets = [("n-BQ-NN CIFAR network (Table I), 3-bit po2, width 1/8", paper_cifar_po2(0.125)),
            ("complex NIN-like BCNN, width 1/8", bcnn_nin(0.125))]
    lines = ["", "Paper-shaped networks (`nbq.modelgen`), 4 random/adversarial images each, `-O0`, cold:", "",
             "| network | MACs/image | cycles/image | model | frames/s at 200 MHz | PE utilization | "
             "build + sim wall (s) | bit-exact |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for label, model in nets:
        work = Path(tempfile.mkdtemp(prefix="nbq_cosim_net_"))
        try:
            onnx.save(model, str(work / "m.onnx"))
            graph = choose_folding(lower(work / "m.onnx"))
            x = adversarial_inputs(graph, 1)
            write_rtl_project(plan_graph(graph, board), work / "out", x, reference.run_int(graph, x))
            start = time.perf_counter()
            r = run_cosim(work / "out", opt="-O0", stress=False)
            wall = time.perf_counter() - start
        finally:
            shutil.rmtree(work, ignore_errors=True)
        macs = sum(la.folding.macs for la in graph.layers if getattr(la, "folding", None))
        print(f"{label}: {r.summary()}, wall {wall:.1f} s", flush=True)
        lines.append(f"| {label} | {macs:,} | {r.cycles_per_image:,.0f} | {r.model_cycles:,} | "
                     f"{r.frames_per_s:,.0f} | {100 * r.pe_utilization:.1f}% | {wall:.1f} | "
                     f"{'yes' if r.passed else 'NO'} ({r.mismatches} mismatches) |")
    return lines + [""]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=450)
    ap.add_argument("--opt", nargs="+", default=["-O0", "-O1"])
    ap.add_argument("--no-networks", action="store_true", help="skip the paper-shaped networks")
    args = ap.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    graph = choose_folding(lower(MODEL))
    x, source = golden_inputs(graph, args.images)
    y = reference.run_int(graph, x)
    board = load_board("zcu102")
    rows = []
    for opt in args.opt:
        work = Path(tempfile.mkdtemp(prefix="nbq_cosim_speed_"))
        try:
            write_rtl_project(plan_graph(graph, board), work, x, y)
            for run in ("cold", "warm"):
                start = time.perf_counter()
                r = run_cosim(work, opt=opt)
                wall = time.perf_counter() - start
                if not r.passed:
                    print("\n".join(r.first_mismatches), file=sys.stderr)
                    return 1
                rows.append((opt, run, r, wall))
                print(f"{opt} {run}: {r.summary()}; {r.sim_cycles:,} cycles in {r.sim_seconds:.2f} s "
                      f"({r.sim_cycles / r.sim_seconds:,.0f} cycles/s), wall {wall:.1f} s", flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    r0 = rows[0][2]
    lines = [
        "# RTL co-simulation speed (cocotb 2 + Verilator)",
        "",
        f"Model: `examples/digits_po2_cnn.onnx`, {r0.images} {source}, board zcu102 ({r0.clock_mhz:g} MHz).",
        f"Design: {r0.cycles_per_image:.0f} cycles/image (analytical model {r0.model_cycles}), "
        f"{r0.frames_per_s:,.0f} frames/s, PE utilization {100 * r0.pe_utilization:.1f}%, bit-exact "
        f"({r0.mismatches} mismatches).",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs (load average {load:.1f} at the start), Python "
        f"{platform.python_version()}; `python bench/cosim_speed.py`.",
        "",
        "| C++ opt | run | build + sim wall (s) | sim wall (s) | simulated cycles | cycles/s | images/s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for opt, run, r, wall in rows:
        lines.append(f"| {opt} | {run} | {wall:.1f} | {r.sim_seconds:.2f} | {r.sim_cycles:,} | "
                     f"{r.sim_cycles / r.sim_seconds:,.0f} | {r.images / r.sim_seconds:,.1f} |")
    lines += [
        "",
        "cold: Verilator build included (Verilator's runtime objects come from nbq's object cache after the "
        "first build on a machine); warm: the cached build is reused.  Simulated cycles cover both cosim phases "
        "(throughput, then the first images again with random bubbles and backpressure).",
        "",
    ]
    if not args.no_networks:
        lines += network_table(board)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
