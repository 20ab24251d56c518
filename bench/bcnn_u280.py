"""Benchmark: binary networks on the boards - the complex NIN-Net on the U280, a CNV-style BNN on the ZCU102.

* The binary-complex NIN-Net (BCNN, nbq.modelgen.bcnn_nin) at CIFAR-10 size and full width on the U280,
  folded by nbq to the maximum throughput within the budget; paper (Peng et al., ASAP 2021): 5,882
  frames/s on a U280 - with about 20x structural pruning, which nbq does not do.
* A CNV-style binary network (FINN's CNV-W1A1 topology, nbq.modelgen.cnv_binary) on the ZCU102, beside
  FINN's published CNV-W1A1: 21,906 frames/s on a ZC706.

frames/s from nbq's cycle model at the board clock, resources from nbq's Yosys-calibrated model:
estimates, not board runs.

    python bench/bcnn_u280.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nbq.board_catalog import load_board  # noqa: E402
from nbq.modelgen import bcnn_nin, cnv_binary  # noqa: E402
from nbq.pipeline import design  # noqa: E402
from nbq.plan.budget import board_budget  # noqa: E402

RESULTS = ROOT / "bench" / "results"
CASES = (("complex NIN-Net (BCNN), CIFAR-10, width 1", "u280", bcnn_nin, {"width": 1.0}, 5882,
          "Peng et al. 2021, U280, ~20x pruned"),
         ("CNV-style BNN (CNV-W1A1 topology), CIFAR-10", "zcu102", cnv_binary, {}, 21906,
          "FINN CNV-W1A1, ZC706"))


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="nbq_bnn_"))
    rows = []
    for label, board_name, make, kwargs, paper_fps, paper_src in CASES:
        path = work / f"{len(rows)}.onnx"
        onnx.save(make(**kwargs), str(path))
        board = load_board(board_name)
        start = time.perf_counter()
        fit = design(path, board)
        plan, res = fit.plan, fit.resources
        budget = board_budget(board)
        rows.append({"network": label, "board": board_name, "frames_per_s": round(plan.frames_per_s, 1),
                     "ii_cycles": plan.ii_cycles, "gops": round(plan.gops, 1), "lanes": plan.lanes,
                     "lut": round(res.lut), "ff": round(res.ff), "dsp": round(res.dsp),
                     "bram36": round(res.bram36, 1), "uram": round(res.uram, 1),
                     "lut_share": round(res.lut / budget.lut, 3), "paper_fps": paper_fps, "paper": paper_src,
                     "seconds": round(time.perf_counter() - start, 1)})
        r = rows[-1]
        print(f"{label:48s} {board_name:7s} {r['frames_per_s']:12,.1f} fps (paper {paper_fps:,}) LUT {r['lut']:,} "
              f"({100 * r['lut_share']:.0f} % of budget) BRAM {r['bram36']} URAM {r['uram']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bcnn_u280.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["# Binary networks on the boards (`python bench/bcnn_u280.py`)", "",
             "nbq's cycle model at the board clock and its Yosys-calibrated resource model: estimates, not board runs.",
             "", "| network | board | frames/s | published | GOP/s | lanes | LUT (% of budget) | FF | DSP | BRAM36 "
             "| URAM |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['network']} | {r['board']} | {r['frames_per_s']:,.1f} | {r['paper_fps']:,} "
                     f"({r['paper']}) | {r['gops']:,.1f} | {r['lanes']:,} | {r['lut']:,} "
                     f"({100 * r['lut_share']:.0f} %) | {r['ff']:,} | "
                     f"{r['dsp']:,} | {r['bram36']:,.1f} | {r['uram']:,.1f} |")
    (RESULTS / "bcnn_u280.md").write_text("\n".join(lines) + "\n")
    print(f"written: {RESULTS / 'bcnn_u280.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
