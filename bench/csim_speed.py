"""Benchmark: C-simulation speed (images/s) against the numpy reference executor, demo model.

The digits CNN (examples/digits_po2_cnn.onnx) is compiled with every scikit-learn digits image
(1,797; random images when scikit-learn is missing) as golden vectors, once per engine (SVPE
shift-add arrays, VPE multiplier arrays).  The C-simulation binary is built once (g++ -O2, as
`nbq csim`) and run REPEATS times; its testbench times the DATAFLOW core alone (one image per
call, as the hardware sees them) and the board wrapper.  The reference executor runs the same
integers REPEATS times, as one batch and image by image.  Medians go to
bench/results/csim_speed.md (and .json).

    python bench/csim_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nbq import reference  # noqa: E402
from nbq.board_catalog import load_board  # noqa: E402
from nbq.pipeline import compile_model  # noqa: E402
from nbq.sim.csim import BUILD_DIR, run_csim  # noqa: E402

MODEL = ROOT / "examples" / "digits_po2_cnn.onnx"
_TIME = re.compile(r"NBQ-CSIM-TIME core_s=([\d.]+) wrapper_s=([\d.]+)")


def images() -> tuple[np.ndarray, str]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        rng = np.random.default_rng(0)
        return rng.uniform(0, 1, size=(1000, 1, 8, 8)), "1,000 random images"
    return (load_digits().images / 16.0)[:, None], "the 1,797 scikit-learn digits"


def time_csim(prj: Path, repeats: int) -> dict:
    built = run_csim(prj)
    if not built.passed:
        raise SystemExit(f"C-simulation failed: {built.problems} {built.first_mismatches[:3]}")
    exe = next((prj / BUILD_DIR).glob("*_csim"))
    core, wrapper, total = [], [], []
    for _ in range(repeats):
        start = time.perf_counter()
        out = subprocess.run([str(exe.resolve())], cwd=prj, capture_output=True, text=True, check=True).stdout
        total.append(time.perf_counter() - start)
        c, w = _TIME.search(out).groups()
        core.append(float(c))
        wrapper.append(float(w))
    return {"build_s": built.seconds, "core_s": statistics.median(core), "wrapper_s": statistics.median(wrapper),
            "process_s": statistics.median(total), "images": built.images}


def time_reference(graph, x_int: np.ndarray, repeats: int) -> dict:
    batch, single = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        reference.run_int(graph, x_int)
        batch.append(time.perf_counter() - start)
    one = x_int[: min(len(x_int), 300)]
    for _ in range(repeats):
        start = time.perf_counter()
        for image in one:
            reference.run_int(graph, image[None])
        single.append((time.perf_counter() - start) / len(one) * len(x_int))
    return {"batch_s": statistics.median(batch), "one_by_one_s": statistics.median(single)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "csim_speed"))
    args = parser.parse_args()
    x, source = images()
    board = load_board("zcu102")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for engine in ("svpe", "vpe"):
            prj = Path(tmp) / engine
            result = compile_model(MODEL, board, prj, test_inputs=x, engine=engine)
            print(f"{engine}: built and checked {len(result.golden_inputs)} images", flush=True)
            rows[engine] = time_csim(prj, args.repeats)
        ref = time_reference(result.graph, result.golden_inputs, args.repeats)
    n = int(len(x))
    env = {"python": platform.python_version(), "numpy": np.__version__, "cpus": os.cpu_count(),
           "machine": platform.machine(), "repeats": args.repeats, "images": n, "source": source}
    speeds = {f"C-simulation core, {e.upper()} engine": n / r["core_s"] for e, r in rows.items()}
    speeds.update({f"C-simulation board wrapper, {e.upper()} engine": n / r["wrapper_s"] for e, r in rows.items()})
    speeds["numpy reference, one batch"] = n / ref["batch_s"]
    speeds["numpy reference, image by image"] = n / ref["one_by_one_s"]
    Path(args.out + ".json").write_text(json.dumps({"env": env, "csim": rows, "reference": ref,
                                                    "images_per_s": speeds}, indent=2) + "\n")  # fmt: skip
    batch = speeds["numpy reference, one batch"]
    lines = [
        "# C-simulation speed (demo model: examples/digits_po2_cnn.onnx)",
        "",
        f"{n:,} images ({source}), every one checked bit-exact against the reference; median of "
        f"{args.repeats} runs; {env['cpus']} CPUs (shared machine); g++ -O2; Python {env['python']}, "
        f"numpy {env['numpy']}.",
        "",
        "| what | images/s | vs numpy batch |",
        "|---|---:|---:|",
    ]
    for name, speed in speeds.items():
        lines.append(f"| {name} | {speed:,.0f} | {speed / batch:.2f}x |")
    lines += ["", "C-simulation build (g++, once per engine): "
              + ", ".join(f"{e.upper()} {r['build_s']:.1f} s" for e, r in rows.items())
              + ". The core is the DATAFLOW function called image by image (its processes run one after "
              "the other in C-simulation); the board wrapper adds the AXI-Stream adapters."]
    Path(args.out + ".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
