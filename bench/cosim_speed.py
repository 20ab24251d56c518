"""Co-simulation speed: how fast the RTL runs under cocotb + Verilator (SV source/sink testbench).

Demo: examples/digits_po2_cnn.onnx compiled to RTL for the ZCU102 with the digits test set (450
images; random images if scikit-learn is missing) as golden vectors.  Per C++ optimisation level:
one cold run (fresh project: Verilator build included) and three warm runs (cached build), whose
median is reported.  Then the paper-shaped networks (nbq.modelgen): the n-BQ-NN CIFAR network at
width 1/8, 1/4 and full width 1, and the complex NIN-like BCNN at width 1/8, each cold at the
default optimisation on random/adversarial images.  Writes bench/results/cosim_speed.{json,md}.

Usage: python bench/cosim_speed.py [--images N] [--opt -O0 -O1 ...] [--no-networks] [--widths 0.125 ...]
"""

from __future__ import annotations

import argparse
import json
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
from nbq.sim.cosim import DEFAULT_OPT, CosimResult, run_cosim  # noqa: E402

MODEL = ROOT / "examples" / "digits_po2_cnn.onnx"
RESULTS = ROOT / "bench" / "results" / "cosim_speed"
# The per-cycle Python testbench this replaced, measured on this machine with the same 450 images
# (bench/results/cosim_speed.md before the SV source/sink): warm simulated cycles/s.
BEFORE = {"-O0": 7_004, "-O1": 19_604}


def golden_inputs(graph, n: int) -> tuple[np.ndarray, str]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return adversarial_inputs(graph, max(n - 3, 1)), "random + adversarial images"
    x = (load_digits().images / 16.0).astype(np.float32)[:, None]
    return reference.quantize_input(graph, x[:n]), "sklearn digits images"


def _row(r: CosimResult, wall: float) -> dict:
    return {"wall_s": wall, "build_s": r.build_seconds, "sim_s": r.sim_seconds, "sim_cycles": r.sim_cycles,
            "cycles_per_s": r.sim_cycles / r.sim_seconds, "images": r.images, "built": r.built,
            "cycles_per_image": r.cycles_per_image, "model_cycles": r.model_cycles, "passed": r.passed,
            "mismatches": r.mismatches, "stress_bubbles": r.stress_bubbles, "stress_stalls": r.stress_stalls}


def _timed(path: Path, **kw) -> tuple[CosimResult, float]:
    start = time.perf_counter()
    r = run_cosim(path, **kw)
    return r, time.perf_counter() - start


def demo(images: int, opts: list[str]) -> tuple[list[dict], dict]:
    graph = choose_folding(lower(MODEL))
    x, source = golden_inputs(graph, images)
    y = reference.run_int(graph, x)
    board = load_board("zcu102")
    rows = []
    for opt in opts:
        work = Path(tempfile.mkdtemp(prefix="nbq_cosim_speed_"))
        try:
            write_rtl_project(plan_graph(graph, board), work, x, y)
            runs = [("cold", *_timed(work, opt=opt))] + [("warm", *_timed(work, opt=opt)) for _ in range(3)]
        finally:
            shutil.rmtree(work, ignore_errors=True)
        for _, r, _ in runs:
            if not r.passed:
                raise SystemExit("demo co-simulation failed:\n" + "\n".join(r.first_mismatches))
        warm = sorted(runs[1:], key=lambda t: t[1].sim_cycles / t[1].sim_seconds)[1]  # the median by speed
        for kind, r, wall in (runs[0], warm):
            row = {"opt": opt, "run": kind, **_row(r, wall)}
            if kind == "warm":
                row["warm_cycles_per_s_all"] = [t[1].sim_cycles / t[1].sim_seconds for t in runs[1:]]
            rows.append(row)
            print(f"demo {opt} {kind}: {r.summary()}; {r.sim_cycles:,} cycles in {r.sim_seconds:.2f} s "
                  f"({r.sim_cycles / r.sim_seconds:,.0f} cycles/s), build {r.build_seconds:.1f} s, wall {wall:.1f} s",
                  flush=True)
    r0 = runs[0][1]
    info = {"images": r0.images, "source": source, "cycles_per_image": r0.cycles_per_image,
            "model_cycles": r0.model_cycles, "frames_per_s": r0.frames_per_s, "pe_utilization": r0.pe_utilization,
            "clock_mhz": r0.clock_mhz}
    return rows, info


def networks(widths: list[float], nin: bool) -> list[dict]:
    import onnx

    from nbq.modelgen import bcnn_nin, paper_cifar_po2

    board = load_board("zcu102")
    nets = [(f"n-BQ-NN CIFAR network (Table I), 3-bit po2, width {w:g}", paper_cifar_po2(w), 1 if w >= 1 else 4)
            for w in widths]
    if nin:
        nets.append(("complex NIN-like BCNN, width 0.125", bcnn_nin(0.125), 4))
    rows = []
    for label, model, n_images in nets:
        work = Path(tempfile.mkdtemp(prefix="nbq_cosim_net_"))
        try:
            onnx.save(model, str(work / "m.onnx"))
            graph = choose_folding(lower(work / "m.onnx"))
            x = adversarial_inputs(graph, 1)[:n_images]  # all-max, all-min, checkerboard, random
            write_rtl_project(plan_graph(graph, board), work / "out", x, reference.run_int(graph, x))
            r, wall = _timed(work / "out", stress=False)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        macs = sum(la.folding.macs for la in graph.layers if getattr(la, "folding", None))
        rows.append({"network": label, "macs": macs, "frames_per_s": r.frames_per_s,
                     "pe_utilization": r.pe_utilization, **_row(r, wall)})
        print(f"{label}: {r.summary()}; build {r.build_seconds:.1f} s, sim {r.sim_seconds:.1f} s "
              f"({r.sim_cycles / r.sim_seconds:,.0f} cycles/s), wall {wall:.1f} s", flush=True)
    return rows


def markdown(meta: dict, rows: list[dict], info: dict, nets: list[dict]) -> str:
    lines = [
        "# RTL co-simulation speed (cocotb 2 + Verilator, SystemVerilog source/sink)",
        "",
        f"Model: `examples/digits_po2_cnn.onnx`, {info['images']} {info['source']}, board zcu102 "
        f"({info['clock_mhz']:g} MHz).",
        f"Design: {info['cycles_per_image']:.0f} cycles/image (analytical model {info['model_cycles']}), "
        f"{info['frames_per_s']:,.0f} frames/s, PE utilization {100 * info['pe_utilization']:.1f}%, bit-exact.",
        f"Machine: {meta['machine']}, {meta['cpus']} CPUs (load average {meta['load']:.1f} at the start, shared "
        f"with other work), Python {meta['python']}; `python bench/cosim_speed.py`; default optimisation "
        f"{meta['default_opt']}.",
        "",
        "| C++ opt | run | wall (s) | Verilator build (s) | sim wall (s) | simulated cycles | cycles/s | images/s "
        "| before (cycles/s) | speed-up |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        before = BEFORE.get(r["opt"])
        ratio = f"{r['cycles_per_s'] / before:,.1f}x" if before and r["run"] == "warm" else ""
        lines.append(f"| {r['opt']} | {r['run']} | {r['wall_s']:.1f} | {r['build_s']:.1f} | {r['sim_s']:.2f} | "
                     f"{r['sim_cycles']:,} | {r['cycles_per_s']:,.0f} | {r['images'] / r['sim_s']:,.1f} | "
                     f"{before if before and r['run'] == 'warm' else ''} | {ratio} |")
    lines += [
        "",
        "cold: a fresh project, Verilator build included (Verilator's runtime objects come from nbq's object "
        "cache after the first build on a machine); warm: the cached build reused, median of 3 runs by cycles/s. "
        "sim wall: from the end of reset to the last phase's `done`, measured inside the simulator process "
        "(cocotb startup excluded; wall includes it). Simulated cycles cover both phases (throughput, then 4 "
        "images with random bubbles and backpressure).  before: the per-cycle Python testbench (cocotb drove "
        "and sampled the AXI streams every cycle), warm, measured on this machine: -O0 7,004 and -O1 19,604 "
        "cycles/s.",
        "",
        "Where the time goes now (perf, once, demo at -O1): the Verilated network's own evaluation "
        "(`_nba_sequent` functions, the SVPE popcounts) is ~85% of the simulation phase, cocotb/VPI ~5% (two "
        "GPI clock callbacks a cycle); Python is no longer called per cycle.  A clock generated in SV "
        "(`--timing`) measured 73 k vs 92 k cycles/s with cocotb's C clock; C++ -O2 (-fno-dfg) 72 k with a "
        "224 s build; `--threads 2` 1.8 k on the shared 2-core machine; Verilator's DFG optimiser at -O1 did not "
        "finish compiling in 10 min.  So further speed needs an RTL that is cheaper to evaluate per cycle.",
        "",
    ]
    if nets:
        lines += [
            f"Paper-shaped networks (`nbq.modelgen`), random/adversarial images, cold, {meta['default_opt']}, "
            "throughput phase only:", "",
            "| network | images | MACs/image | cycles/image | model | PE utilization | Verilator build (s) | "
            "sim (s) | cycles/s | build + sim wall (s) | bit-exact |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in nets:
            lines.append(f"| {r['network']} | {r['images']} | {r['macs']:,} | {r['cycles_per_image']:,.0f} | "
                         f"{r['model_cycles']:,} | {100 * r['pe_utilization']:.1f}% | {r['build_s']:.1f} | "
                         f"{r['sim_s']:.1f} | {r['cycles_per_s']:,.0f} | {r['wall_s']:.1f} | "
                         f"{'yes' if r['passed'] else 'NO'} ({r['mismatches']} mismatches) |")
        lines += ["", "With a single image, cycles/image is that image's latency (pipeline fill included), so the "
                  "measured cycles/image sits above the model and the PE utilization below the steady state.", ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=450)
    ap.add_argument("--opt", nargs="+", default=["-O0", "-O1"])
    ap.add_argument("--widths", nargs="*", type=float, default=[0.125, 0.25, 1.0], help="paper CIFAR widths")
    ap.add_argument("--no-networks", action="store_true", help="skip the paper-shaped networks")
    ap.add_argument("--md-only", action="store_true", help="rewrite the .md from the .json of the last run")
    args = ap.parse_args()
    if args.md_only:
        d = json.loads(RESULTS.with_suffix(".json").read_text())
        RESULTS.with_suffix(".md").write_text(markdown(d["meta"], d["demo_runs"], d["demo"], d["networks"]))
        return 0
    meta = {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "load": os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"), "default_opt": DEFAULT_OPT}
    rows, info = demo(args.images, args.opt)
    nets = [] if args.no_networks else networks(args.widths, nin=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.with_suffix(".json").write_text(json.dumps({"meta": meta, "demo": info, "demo_runs": rows,
                                                        "networks": nets, "before": BEFORE}, indent=1) + "\n")
    RESULTS.with_suffix(".md").write_text(markdown(meta, rows, info, nets))
    print(f"wrote {RESULTS.relative_to(ROOT)}.{{json,md}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
