"""Benchmark: weight-ROM storage efficiency of the hardware plan (stored bits / useful code bits).

For every Conv/Dense ROM of the demo digits CNN, the n-BQ-NN paper CIFAR network at full width
and the ResNet-18-sized power-of-two graph (both from nbq.modelgen), planned for the ZCU102 and
the U280: depth (folds), row width, useful bits (the codes), stored bits (the HLS project's
chunked rows; the RTL ROM stores exactly the useful bits) and the memory kind the plan chose.
The target is stored / useful <= 1.1 on every ROM above 4 Kbit.  Writes
bench/results/rom_efficiency.md and .json.

    python bench/rom_efficiency.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nbq.board_catalog import load_board  # noqa: E402
from nbq.modelgen import paper_cifar_po2, resnet18_po2  # noqa: E402
from nbq.pipeline import lower  # noqa: E402
from nbq.plan import plan_hardware  # noqa: E402
from nbq.plan.report import rom_table  # noqa: E402

RESULTS = ROOT / "bench" / "results"
LIMIT = 1.1
BIG = 4096  # bits: the target applies to ROMs above this


def models() -> list[tuple[str, Path]]:
    work = Path(tempfile.mkdtemp(prefix="nbq_rom_"))
    paths = [("digits CNN (demo)", ROOT / "examples" / "digits_po2_cnn.onnx")]
    for label, model in (("paper CIFAR network, width 1", paper_cifar_po2(1.0)),
                         ("ResNet-18-sized po2", resnet18_po2())):
        path = work / f"{len(paths)}.onnx"
        onnx.save(model, str(path))
        paths.append((label, path))
    return paths


def main() -> int:
    rows, summary = [], []
    for label, path in models():
        graph = lower(path)
        for board in ("zcu102", "u280"):
            plan = plan_hardware(graph, load_board(board))
            table = rom_table(plan)
            big = [r for r in table if r["useful_bits"] > BIG]
            worst = max((r["storage_bits"] / r["useful_bits"] for r in big), default=1.0)
            useful = sum(r["useful_bits"] for r in table)
            stored = sum(r["storage_bits"] for r in table)
            kinds = sorted({r["memory"] for r in table})
            summary.append({"model": label, "board": board, "roms": len(table), "useful_bits": useful,
                            "storage_bits": stored, "worst_ratio_over_4kbit": round(worst, 4),
                            "memory_kinds": kinds, "ok": worst <= LIMIT})
            rows += [{"model": label, "board": board, **r} for r in table]
            print(f"{label:32s} {board:7s} {len(table):3d} ROMs  useful {useful / 1e6:8.3f} Mbit  stored "
                  f"{stored / 1e6:8.3f} Mbit  worst ratio (>4 Kbit) {worst:.4f}  {', '.join(kinds)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "rom_efficiency.json").write_text(json.dumps({"summary": summary, "roms": rows}, indent=1) + "\n")
    lines = ["# Weight-ROM storage efficiency (`python bench/rom_efficiency.py`)", "",
             "Stored bits = the HLS project's chunked ROM rows (`ROM_DEPTH x ROM_CHUNKS x ROM_CHUNK_BITS`); the RTL "
             "ROMs store exactly the useful bits. Target: stored / useful <= 1.1 on every ROM above 4 Kbit.", "",
             "| model | board | ROMs | useful Mbit | stored Mbit | worst ratio (ROMs > 4 Kbit) | memory kinds | ok |",
             "|---|---|---:|---:|---:|---:|---|---|"]
    for s in summary:
        lines.append(f"| {s['model']} | {s['board']} | {s['roms']} | {s['useful_bits'] / 1e6:.3f} | "
                     f"{s['storage_bits'] / 1e6:.3f} | {s['worst_ratio_over_4kbit']:.4f} | "
                     f"{', '.join(s['memory_kinds'])} | {'yes' if s['ok'] else 'NO'} |")
    (RESULTS / "rom_efficiency.md").write_text("\n".join(lines) + "\n")
    return 0 if all(s["ok"] for s in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
