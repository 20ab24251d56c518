"""Benchmark: the n-BQ-NN paper's SVPE-vs-VPE comparison, reproduced inside nbq on the ZCU102.

The same 3-bit power-of-two network - the paper's CIFAR-10 network (Table I) at full width, and AlexNet's
five convolution layers at ImageNet size (227 x 227) - folded by nbq to the ZCU102:

* SVPE: shift-add lanes, 0 DSP, folded to the LUT budget (70 % of the LUTs);
* VPE at the paper's 768 DSPs (one DSP48E2 per 16-bit multiplier lane);
* VPE at all the board's 2,520 DSPs.

The VPE stores its weights as 16-bit integers (the paper's multiplier baseline), 5.3x the SVPE's 3-bit
codes, so at full width its weight ROMs alone exceed the ZCU102's block RAM: those rows say "does not fit"
and the width-1/4 network gives the ratio at an equal budget where both fit.

GOP/s = 2 x MACs per image x frames/s, from nbq's cycle model at 200 MHz; LUT / FF / DSP / BRAM from nbq's
resource model (calibrated on Yosys, docs/estimates.md) - estimates, not a Vivado run.  The cycle model
of one design per network is confirmed by RTL co-simulation (cocotb + Verilator) of the same network at
width 1/8 (full-width co-simulation takes hours), folded by the same rule.  Paper (Chen et al., TNNLS
2020): AlexNet conv layers 957.4 GOP/s (SVPE) vs 332.2 GOP/s (VPE), 2.9x.

    python bench/svpe_vs_vpe.py [--no-cosim]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nbq.board_catalog import load_board  # noqa: E402
from nbq.errors import NbqError  # noqa: E402
from nbq.modelgen import alexnet_conv_po2, paper_cifar_po2  # noqa: E402
from nbq.pipeline import compile_model, design  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PAPER = {"svpe_gops": 957.4, "vpe_gops": 332.2, "ratio": 2.9}
DESIGNS = (("SVPE, LUT budget, 0 DSP", "svpe", None), ("VPE, 768 DSPs (the paper's)", "vpe", "dsp=768"),
           ("VPE, all 2,520 DSPs", "vpe", "dsp=100%"))


def _row(net: str, label: str, fit) -> dict:
    plan, res = fit.plan, fit.resources
    return {"network": net, "design": label, "engine": plan.engine_option, "ii_cycles": plan.ii_cycles,
            "frames_per_s": round(plan.frames_per_s, 1), "gops": round(plan.gops, 1), "lanes": plan.lanes,
            "lut": round(res.lut), "ff": round(res.ff), "dsp": round(res.dsp), "bram36": round(res.bram36, 1),
            "slowest": max(plan.layers, key=lambda p: p.cycles).name}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-cosim", action="store_true", help="skip the co-simulation check")
    args = ap.parse_args()
    board = load_board("zcu102")
    work = Path(tempfile.mkdtemp(prefix="nbq_svpe_vpe_"))
    nets = {"paper CIFAR network, width 1": paper_cifar_po2(1.0), "AlexNet conv layers, 227x227": alexnet_conv_po2(),
            "paper CIFAR network, width 1/4": paper_cifar_po2(0.25)}
    rows = []
    for net, model in nets.items():
        path = work / f"{len(rows)}.onnx"
        onnx.save(model, str(path))
        for label, engine, budget in DESIGNS:
            start = time.perf_counter()
            try:
                fit = design(path, board, engine, budget={"dsp": budget.split("=")[1]} if budget else None)
            except NbqError as exc:  # e.g. 16-bit VPE weights that do not fit the block RAM
                rows.append({"network": net, "design": label, "engine": engine, "fits": False,
                             "reason": str(exc).split("zcu102: ", 1)[-1].split(";")[0]})
                print(f"{net:30s} {label:28s} does not fit: {rows[-1]['reason']}")
                continue
            rows.append({**_row(net, label, fit), "fits": True})
            r = rows[-1]
            print(f"{net:30s} {label:28s} {r['gops']:8.1f} GOP/s {r['frames_per_s']:10,.1f} fps  LUT {r['lut']:>8,} "
                  f"DSP {r['dsp']:>5,} BRAM {r['bram36']:6.1f}  ({time.perf_counter() - start:.1f} s)")
    cosim = []
    if not args.no_cosim:
        small = work / "cifar8.onnx"
        onnx.save(paper_cifar_po2(0.125), str(small))
        for engine in ("svpe", "vpe"):
            # the width-1/8 network folded to 12,000 frames/s (~16 k cycles/image) keeps the simulation short
            res = compile_model(small, board, work / f"cosim_{engine}", engine=engine, cosim=True, fps=12_000)
            c = res.cosim
            cosim.append({"network": "paper CIFAR network, width 1/8", "engine": engine,
                          "model_cycles": res.plan.ii_cycles, "measured_cycles": round(c.cycles_per_image, 1),
                          "images": c.images, "bit_exact": bool(c.passed and c.mismatches == 0)})
            print(f"co-simulation {engine}: model {res.plan.ii_cycles} cycles/image, measured "
                  f"{c.cycles_per_image:.1f}, {c.images} images bit-exact: {c.passed}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "svpe_vs_vpe.json").write_text(json.dumps({"designs": rows, "cosim": cosim, "paper": PAPER},
                                                         indent=1) + "\n")
    lines = ["# SVPE vs VPE on the ZCU102 (`python bench/svpe_vs_vpe.py`)", "",
             "nbq's own models: cycles from the plan's cycle model at 200 MHz, resources from the Yosys-calibrated "
             "resource model (estimates, not Vivado). Paper: AlexNet conv 957.4 (SVPE) vs 332.2 GOP/s (VPE), 2.9x.",
             "", "| network | design | GOP/s | frames/s | lanes | LUT | FF | DSP | BRAM36 | x VPE-768 |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if not r["fits"]:
            lines.append(f"| {r['network']} | {r['design']} | does not fit: {r['reason']} | | | | | | | |")
            continue
        base = next((b for b in rows if b["network"] == r["network"] and b["design"].startswith("VPE, 768")
                     and b["fits"]), None)
        ratio = f"{r['gops'] / base['gops']:.2f}" if base else "-"
        lines.append(f"| {r['network']} | {r['design']} | {r['gops']:,.1f} | {r['frames_per_s']:,.1f} | "
                     f"{r['lanes']:,} | {r['lut']:,} | {r['ff']:,} | {r['dsp']:,} | {r['bram36']:,.1f} | "
                     f"{ratio} |")
    if cosim:
        lines += ["", "Cycle model confirmed by RTL co-simulation (cocotb + Verilator, every output checked):", "",
                  "| network | engine | model cycles/image | measured | images | bit-exact |",
                  "|---|---|---:|---:|---:|---|"]
        lines += [f"| {c['network']} | {c['engine']} | {c['model_cycles']:,} | {c['measured_cycles']:,} | "
                  f"{c['images']} | {'yes' if c['bit_exact'] else 'NO'} |" for c in cosim]
    (RESULTS / "svpe_vs_vpe.md").write_text("\n".join(lines) + "\n")
    print(f"written: {RESULTS / 'svpe_vs_vpe.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
