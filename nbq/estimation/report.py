"""report.json: a design's estimate (resources against the budget, performance, folding) and verification.

One record per compiled project, written by `nbq compile` and updated by `nbq csim` / `nbq cosim`;
`nbq estimate` prints the same numbers and `nbq report` shows them beside a Vitis HLS / Vivado report.
"""

from __future__ import annotations

import json
from pathlib import Path

from nbq.plan.budget import available
from nbq.plan.fit import Fit
from nbq.plan.report import performance

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
REPORT_VERSION = 1
RESOURCES = ("lut", "ff", "dsp", "bram36", "uram")


def _res(r) -> dict[str, float]:
    return {k: round(float(getattr(r, k)), 1) for k in RESOURCES}


def report_data(fit: Fit, model: str = "") -> dict:
    """The report of one fitted design (plain JSON types only)."""
    from nbq.estimation import plan_resources

    plan = fit.plan
    per_unit = plan_resources(plan)
    layers = []
    for p in plan.layers:
        entry = {"name": p.name, "op": p.layer.op, "cycles": p.cycles,
                 "stages": [{"stage": s.name, "cycles": s.cycles} for s in p.stages],
                 "resources": _res(per_unit.unit(p.name)) if p.name in per_unit.units else None}
        if p.fold is not None:
            entry.update(engine=str(p.engine.kind), pe=p.fold.pe, simd=p.fold.simd, nf=p.fold.nf, sf=p.fold.sf,
                         complex=p.fold.complex, lanes=p.fold.lanes, macs=p.fold.macs,
                         acc_bits=p.acc.bits, fused_threshold=p.threshold_layer.name if p.threshold_layer else None,
                         rom={"depth": p.rom.depth, "width": p.rom.row_bits, "bits": p.rom.useful_bits,
                              "memory": str(p.rom.memory)})
        layers.append(entry)
    budget = fit.budget.as_dict()
    total = _res(fit.resources)
    return {
        "nbq_report": REPORT_VERSION,
        "model": model or plan.graph.name,
        "board": plan.board.name,
        "part": plan.board.part,
        "engine": plan.engine_option,
        "mode": fit.mode,
        "target_fps": fit.target_fps,
        "estimate_source": "nbq resource model calibrated on Yosys synth_xilinx -family xcup (docs/estimates.md)",
        "available": {k: round(v, 1) for k, v in available(plan.board).items()},
        "budget": {k: round(v, 1) for k, v in budget.items()},
        "total": total,
        "usage": {k: (round(total[k] / budget[k], 4) if budget[k] else None) for k in RESOURCES},
        "performance": performance(plan),
        "layers": layers,
        "verification": {"csim": None, "cosim": None},
    }


def write_report(out_dir: Path, data: dict) -> list[Path]:
    """Write report.json and report.html into out_dir; returns their relative paths."""
    from nbq.estimation.html import report_html

    out_dir = Path(out_dir)
    (out_dir / REPORT_JSON).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    (out_dir / REPORT_HTML).write_text(report_html(data))
    return [Path(REPORT_JSON), Path(REPORT_HTML)]


def read_report(out_dir: Path) -> dict | None:
    path = Path(out_dir) / REPORT_JSON
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and data.get("nbq_report") == REPORT_VERSION else None


def record_verification(out_dir: Path, kind: str, result: dict) -> None:
    """Store a C-simulation / co-simulation verdict in the project's report (and re-render the page)."""
    data = read_report(out_dir)
    if data is None:
        return
    data.setdefault("verification", {})[kind] = result
    write_report(out_dir, data)
