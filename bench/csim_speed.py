"""Benchmark: C-simulation speed and g++ build time, this checkout against main, on the paper networks.

Networks (nbq.modelgen): the n-BQ-NN CIFAR network of Table I at width 1/8 and 1/4 and the complex
NIN-like BCNN at width 1/8, each compiled for the ZCU102 with the same random images as golden
vectors.  "before" is main's code (`git archive main`, exported to a temporary folder and imported
from there by a subprocess); "after" is this checkout.  Both projects of a network are written and
built in the same run, then their testbench binaries run alternately (REPEATS times each); the
per-image time is the binary's wall time over its images (every image through the DATAFLOW core and
through the board wrapper, each checked bit-exact).  Build times are g++'s (nbq.sim.csim._build,
timed): "cold" with an empty precompiled-header cache, "warm" (median of REPEATS) with the engine
library's header already compiled (a new project on a machine that built one before).  The demo model's images/s
table (examples/digits_po2_cnn.onnx, both engines, against the numpy reference) follows.

    python bench/csim_speed.py [--repeats 3] [--ref main] [--no-demo]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
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
NETWORKS = [  # (key, label, nbq.modelgen function, width, images)
    ("cifar_1_8", "n-BQ-NN CIFAR (Table I), width 1/8", "paper_cifar_po2", 0.125, 8),
    ("cifar_1_4", "n-BQ-NN CIFAR (Table I), width 1/4", "paper_cifar_po2", 0.25, 2),
    ("nin_bcnn_1_8", "complex NIN-like BCNN, width 1/8", "bcnn_nin", 0.125, 8),
]

# Run by a subprocess with PYTHONPATH set to the code under test: compile, C-simulate (the cold
# build), then build again REPEATS times (warm: median), printing one JSON line.
_PROJECT_SCRIPT = r"""
import json, shutil, sys, time
from pathlib import Path
from nbq.board_catalog import load_board
from nbq.pipeline import compile_model
from nbq.sim import csim

model, inputs, prj = sys.argv[1:4]
compile_model(model, load_board("zcu102"), prj, test_inputs=inputs)
spent = []
build = csim._build
def timed(*args, **kwargs):
    start = time.perf_counter()
    try:
        return build(*args, **kwargs)
    finally:
        spent.append(time.perf_counter() - start)
csim._build = timed
r = csim.run_csim(Path(prj))  # cold: a new project, an empty cache
if not r.passed:
    sys.exit(f"C-simulation failed: {r.problems} {r.first_mismatches[:3]}")
cold = spent[-1]
top, sources, include = csim.csim_inputs(Path(prj), json.loads((Path(prj) / csim.MANIFEST).read_text()))
warm = []
for _ in range(int(sys.argv[4])):  # warm: the same build again, the cache filled
    exe = Path(prj) / csim.BUILD_DIR / "warm" / "bench_csim"
    start = time.perf_counter()
    ok, log = build(Path(prj), sources, include, list(csim.BASE_FLAGS), exe, len(sources))
    warm.append(time.perf_counter() - start)
    if not ok:
        sys.exit(log[-2000:])
print(json.dumps({"build_cold_s": cold, "build_warm_s": sorted(warm)[len(warm) // 2], "build_warm_all_s": warm}))
"""


def export_ref(ref: str, dest: Path) -> Path:
    """`ref`'s tree (git archive), as a folder to import nbq from."""
    archive = dest / "ref.tar"
    with archive.open("wb") as fh:
        subprocess.run(["git", "-C", str(ROOT), "archive", ref], stdout=fh, check=True)
    src = dest / "src"
    with tarfile.open(archive) as tar:
        tar.extractall(src, filter="data")
    return src


def make_project(src: Path, model: Path, inputs: Path, prj: Path, cache: Path, repeats: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "NBQ_OBJCACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-c", _PROJECT_SCRIPT, str(model), str(inputs), str(prj), str(repeats)],
                          env=env, cwd=src, capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{src}: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_binary(prj: Path) -> tuple[float, float, float]:
    """(wall s, core s, wrapper s) of one testbench run."""
    exe = next((prj / BUILD_DIR).glob("*_csim"))
    start = time.perf_counter()
    out = subprocess.run([str(exe.resolve())], cwd=prj, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - start
    core, wrapper = _TIME.search(out).groups()
    return wall, float(core), float(wrapper)


def networks(repeats: int, ref: str, tmp: Path) -> dict:
    import onnx

    from nbq import modelgen

    before_src = export_ref(ref, tmp)
    rows = {}
    for key, label, func, width, n in NETWORKS:
        work = tmp / key
        work.mkdir()
        model = work / "m.onnx"
        onnx.save(getattr(modelgen, func)(width), str(model))
        x = np.random.default_rng(0).uniform(-1, 1, size=(n, 3, 32, 32)).astype(np.float32)
        np.save(work / "x.npy", x)
        row = {"label": label, "model": f"nbq.modelgen.{func}({width})", "images": n}
        prjs = {}
        for side, src in (("before", before_src), ("after", ROOT)):
            prjs[side] = work / side
            row[side] = make_project(src, model, work / "x.npy", prjs[side], work / f"cache_{side}", repeats)
            print(f"{key} {side}: build cold {row[side]['build_cold_s']:.1f} s, warm "
                  f"{row[side]['build_warm_s']:.1f} s", flush=True)
        runs = {"before": [], "after": []}
        for _ in range(repeats):  # alternate, so both see the same machine load
            for side in runs:
                runs[side].append(run_binary(prjs[side]))
        for side, times in runs.items():
            row[side]["s_per_image"] = statistics.median(t[0] for t in times) / n
            row[side]["core_s_per_image"] = statistics.median(t[1] for t in times) / n
            row[side]["wrapper_s_per_image"] = statistics.median(t[2] for t in times) / n
        row["speedup_per_image"] = row["before"]["s_per_image"] / row["after"]["s_per_image"]
        print(f"{key}: {row['before']['s_per_image']:.3f} -> {row['after']['s_per_image']:.4f} s/image "
              f"({row['speedup_per_image']:.0f}x)", flush=True)
        rows[key] = row
    return rows


def demo_images() -> tuple[np.ndarray, str]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        rng = np.random.default_rng(0)
        return rng.uniform(0, 1, size=(1000, 1, 8, 8)), "1,000 random images"
    return (load_digits().images / 16.0)[:, None], "the 1,797 scikit-learn digits"


def demo(repeats: int, tmp: Path) -> tuple[dict, dict, int, str]:
    x, source = demo_images()
    rows = {}
    for engine in ("svpe", "vpe"):
        prj = tmp / f"demo_{engine}"
        result = compile_model(MODEL, load_board("zcu102"), prj, test_inputs=x, engine=engine)
        built = run_csim(prj)
        if not built.passed:
            raise SystemExit(f"C-simulation failed: {built.problems} {built.first_mismatches[:3]}")
        times = [run_binary(prj) for _ in range(repeats)]
        rows[engine] = {"core_s": statistics.median(t[1] for t in times),
                        "wrapper_s": statistics.median(t[2] for t in times),
                        "process_s": statistics.median(t[0] for t in times)}  # fmt: skip
    batch = []
    for _ in range(repeats):
        start = time.perf_counter()
        reference.run_int(result.graph, result.golden_inputs)
        batch.append(time.perf_counter() - start)
    return rows, {"batch_s": statistics.median(batch)}, len(x), source


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ref", default="main", help="git ref of the 'before' code (default: main)")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo model's images/s table")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "csim_speed"))
    args = parser.parse_args()
    load0 = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="nbq_csim_speed_"))
    try:
        nets = networks(args.repeats, args.ref, tmp)
        demo_rows = None if args.no_demo else demo(args.repeats, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    env = {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine(),
           "repeats": args.repeats, "before": args.ref, "load_avg_start": load0, "load_avg_end": os.getloadavg()[0],
           "gxx": subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout.splitlines()[0]}
    data = {"env": env, "networks": nets}
    lines = [
        "# C-simulation speed and build time (`bench/csim_speed.py`)",
        "",
        f"Before = `{args.ref}` (`git archive`), after = this checkout, measured in the same run on {env['cpus']} "
        f"CPUs shared with other jobs (1-min load average {load0:.1f} at the start, {env['load_avg_end']:.1f} at "
        f"the end); {env['gxx']}, -O2 both.  Per image: median over {args.repeats} alternating runs of the "
        "testbench binary (wall time / images; each image through the core and the board wrapper, all "
        "bit-exact).  Build: g++ compile + link of the C-simulation binary (2 parallel jobs, as `nbq csim`); "
        "cold = a new project and an empty precompiled-header cache (after: includes compiling the engine "
        f"library header), warm = the same build again with that header cached, median of {args.repeats}.",
        "",
        "| network | images | s/image before | s/image after | speedup | build before (s) | "
        "build after cold (s) | build after warm (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in nets.values():
        b, a = r["before"], r["after"]
        lines.append(f"| {r['label']} | {r['images']} | {b['s_per_image']:.3f} | {a['s_per_image']:.4f} | "
                     f"{r['speedup_per_image']:.0f}x | {b['build_cold_s']:.1f} | {a['build_cold_s']:.1f} | "
                     f"{a['build_warm_s']:.1f} |")
    if demo_rows is not None:
        rows, ref, n, source = demo_rows
        data["demo"] = {"csim": rows, "reference": ref, "images": n, "source": source}
        lines += ["", f"Demo model (examples/digits_po2_cnn.onnx), {n:,} images ({source}), after only:", "",
                  "| what | images/s |", "|---|---:|"]
        for e, r in rows.items():
            lines.append(f"| C-simulation core, {e.upper()} engine | {n / r['core_s']:,.0f} |")
            lines.append(f"| C-simulation board wrapper, {e.upper()} engine | {n / r['wrapper_s']:,.0f} |")
        lines.append(f"| numpy reference, one batch | {n / ref['batch_s']:,.0f} |")
    Path(args.out + ".json").write_text(json.dumps(data, indent=2) + "\n")
    Path(args.out + ".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
