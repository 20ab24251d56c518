"""Benchmark: time to compile an ONNX model into a complete HLS project (no C-simulation).

Models: the shipped digits CNN (examples/) and a ResNet-18-sized power-of-two
graph built programmatically (≈11.7 M weights).  Each is compiled REPEATS
times into a fresh folder; the median and the per-step split are written to
bench/results/compile_time.md (and .json).

    python bench/compile_time.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nbq.board_catalog import load_board  # noqa: E402
from nbq.modelgen import resnet18_po2  # noqa: E402
from nbq.pipeline import compile_model  # noqa: E402

TARGET_SECONDS = 10.0


def time_compile(model: Path, board, repeats: int) -> dict:
    totals, steps = [], []
    for i in range(repeats):
        marks: list[tuple[str, float]] = []
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            result = compile_model(model, board, Path(tmp) / "prj",
                                   progress=lambda msg, m=marks: m.append((msg, time.perf_counter())))
            end = time.perf_counter()
            files = len(result.files)
        totals.append(end - start)
        split = {}
        for (name, t0), (_, t1) in zip(marks, marks[1:] + [("end", end)], strict=True):
            split[name] = t1 - t0
        steps.append(split)
        print(f"  run {i + 1}/{repeats}: {totals[-1]:.2f} s", flush=True)
    median_split = {k: statistics.median(s[k] for s in steps) for k in steps[0]}
    return {"median_s": statistics.median(totals), "min_s": min(totals), "max_s": max(totals), "runs": totals,
            "steps_median_s": median_split, "files": files, "weights": result.graph.weight_count,
            "layers": len(result.graph.layers), "golden_images": int(result.golden_inputs.shape[0])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--board", default="zcu102")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "compile_time"))
    args = parser.parse_args()
    board = load_board(args.board)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        resnet = Path(tmp) / "resnet18_po2.onnx"
        onnx.save(resnet18_po2(), str(resnet))
        models = {"digits CNN (examples/digits_po2_cnn.onnx)": ROOT / "examples" / "digits_po2_cnn.onnx",
                  "ResNet-18-sized po2 graph (nbq.modelgen.resnet18_po2)": resnet}
        for name, path in models.items():
            print(f"{name}:", flush=True)
            results[name] = time_compile(path, board, args.repeats)
    env = {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine(),
           "board": board.name, "repeats": args.repeats}
    Path(args.out + ".json").write_text(json.dumps({"env": env, "results": results}, indent=2) + "\n")
    lines = [
        "# Compile time (ONNX → complete HLS project, no C-simulation)",
        "",
        f"Board {board.name}; {args.repeats} runs each; median (min–max); {env['cpus']} CPUs; "
        f"Python {env['python']}. Target for the ResNet-18-sized graph: < {TARGET_SECONDS:g} s.",
        "",
        "| model | weights | layers | files | median s | min–max s | slowest step (median s) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, r in results.items():
        step, secs = max(r["steps_median_s"].items(), key=lambda kv: kv[1])
        lines.append(f"| {name} | {r['weights']:,} | {r['layers']} | {r['files']} | {r['median_s']:.2f} | "
                     f"{r['min_s']:.2f}–{r['max_s']:.2f} | {step} ({secs:.2f}) |")
    lines += ["", "Per-step medians (s):", ""]
    for name, r in results.items():
        lines.append(f"- {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in r["steps_median_s"].items()))
    Path(args.out + ".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    resnet_time = next(r["median_s"] for n, r in results.items() if n.startswith("ResNet"))
    return 0 if resnet_time < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
