"""Folding to the board: the fastest design within the budget, or the smallest that reaches a frame rate.

Each legal cycles-per-image target T (nbq.passes.folding.candidate_cycles) gives one balanced design
(every layer the fewest lanes that meet T); fewer cycles need more lanes, so resources fall as T grows.
The planner estimates each candidate's resources (nbq.estimation) and

* by default takes the smallest T whose design fits the budget (maximum throughput);
* with `fps`, the largest T that still reaches the rate (the smallest such design), if it fits;
* with a folding file, exactly the user's PE / SIMD / ram_style per layer.

A design that cannot fit is a user error naming the resource, by how much, and what to change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nbq import ir
from nbq.board_catalog import Board
from nbq.errors import NbqError
from nbq.passes.folding import candidate_cycles, choose_folding, fold_for
from nbq.plan.budget import NAMES, Budget
from nbq.plan.build import plan_hardware
from nbq.plan.records import HardwarePlan, MemoryKind

FOLDING_FORMAT = "nbq-folding-1"


@dataclass
class Fit:
    plan: HardwarePlan
    resources: object  # nbq.estimation.resources.Resources
    budget: Budget
    mode: str  # "max-throughput" | "fps" | "folding-file"
    target_fps: float | None = None

    def usage(self) -> dict[str, float]:
        """Share of the budget each resource uses (0..1+)."""
        return {k: (getattr(self.resources, k) / v if v else (0.0 if not getattr(self.resources, k) else 1e9))
                for k, v in self.budget.as_dict().items()}


def _estimate(plan: HardwarePlan):
    from nbq.estimation import plan_resources

    return plan_resources(plan).total


def over_budget(resources, budget: Budget) -> list[tuple[str, float, float]]:
    """(resource, needed, limit) for every resource above its limit, the worst first."""
    over = [(k, float(getattr(resources, k)), v) for k, v in budget.as_dict().items() if getattr(resources, k) > v]
    return sorted(over, key=lambda o: -(o[1] / o[2] if o[2] else float("inf")))


def _advice(resource: str, board: Board) -> str:
    tips = {"bram36": "fewer weight bits, a smaller width", "uram": "fewer weight bits, a smaller width",
            "dsp": "--engine svpe (shift-add, no DSP)", "lut": "a lower --fps, a smaller width, fewer bits",
            "ff": "a lower --fps, a smaller width"}
    other = " or the u280" if board.name != "u280" else ""
    return f"try {tips[resource]}{other}, or raise the limit with --budget {resource.replace('36', '')}=..."


def _does_not_fit(graph: ir.Graph, board: Board, resources, budget: Budget, what: str) -> NbqError:
    name, need, limit = over_budget(resources, budget)[0]
    pct = f"{100 * need / limit:.0f} %" if limit else "none available"
    return NbqError(f"{graph.source or graph.name}: {what} does not fit the {board.name}: {NAMES[name]} "
                    f"{need:,.0f} needed, {limit:,.0f} in the budget ({pct}); {_advice(name, board)}")


def fold_to_budget(graph: ir.Graph, board: Board, engine: str, budget: Budget, fps: float | None = None,
                   estimate: Callable[[HardwarePlan], object] = _estimate,
                   progress: Callable[[str], None] | None = None) -> Fit:
    """The folded, planned design for `board` (rule in the module docstring)."""
    step = progress or (lambda _m: None)
    targets = candidate_cycles(graph)
    # Only the last plan is kept (a plan holds a copy of the graph and its ROM codes: a ResNet-50's
    # dozens of candidates would need tens of GB); cycles and resources of every candidate are kept.
    last: dict[int, HardwarePlan] = {}
    cycles: dict[int, int] = {}
    resources: dict[int, object] = {}
    acc_cache: dict = {}  # accumulator ranges: the same for every folding of the graph

    def plan_for(t: int) -> HardwarePlan:
        if t not in last:
            last.clear()
            last[t] = plan_hardware(choose_folding(graph, target_cycles=t), board, engine, acc_cache=acc_cache)
            cycles[t] = last[t].ii_cycles
        return last[t]

    def ii(t: int) -> int:
        return cycles[t] if t in cycles else plan_for(t).ii_cycles

    def design(t: int) -> tuple[HardwarePlan, object]:
        plan = plan_for(t)
        if t not in resources:
            resources[t] = estimate(plan)
        return plan, resources[t]

    def fits(t: int) -> bool:
        if t not in resources:
            design(t)
        return not over_budget(resources[t], budget)

    clock = float(board.clock_mhz) * 1e6
    if fps is not None:
        if not fps > 0:
            raise NbqError(f"--fps must be a positive number, got {fps}")
        if clock / ii(targets[0]) < fps:
            fastest = plan_for(targets[0])
            raise NbqError(f"{graph.source or graph.name}: {fps:,.0f} frames/s is above the fastest design on the "
                           f"{board.name} ({fastest.frames_per_s:,.0f} frames/s: every stage moves one pixel a cycle "
                           f"at {board.clock_mhz:g} MHz); ask for fewer")
        # ii grows with t and resources fall: the last target that reaches the rate is the smallest design
        lo, hi = 0, len(targets) - 1
        while lo < hi:  # the largest index whose design still reaches fps (binary search: few plans)
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if clock / ii(targets[mid]) >= fps else (lo, mid - 1)
        t = targets[lo]
        step(f"folding: {ii(t)} cycles/image reaches {fps:,.0f} frames/s")
        if not fits(t):
            raise _does_not_fit(graph, board, design(t)[1], budget, f"the design for {fps:,.0f} frames/s")
        plan, res = design(t)
        return Fit(plan, res, budget, "fps", fps)
    if not fits(targets[-1]):
        raise _does_not_fit(graph, board, design(targets[-1])[1], budget, "even the most folded design")
    lo, hi = 0, len(targets) - 1  # smallest t that fits: binary search (fits is monotone in t)
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if fits(targets[mid]) else (mid + 1, hi)
        step(f"folding: {len(resources)} designs estimated")
    plan, res = design(targets[lo])
    return Fit(plan, res, budget, "max-throughput")


# ------------------------------------------------------------------ folding files


def folding_json(plan: HardwarePlan) -> str:
    """The plan's folding in the format `--folding` reads (FINN-like: one entry per layer)."""
    data: dict = {"format": FOLDING_FORMAT, "board": plan.board.name, "engine": plan.engine_option,
                  "Defaults": {}}
    for p in plan.mvaus:
        data[p.name] = {"PE": p.fold.pe, "SIMD": p.fold.simd, "ram_style": str(p.rom.memory),
                        "complex": p.fold.complex, "cycles": p.cycles}
    return json.dumps(data, indent=1) + "\n"


def read_folding(path: str | Path, graph: ir.Graph, board: Board) -> tuple[ir.Graph, dict[str, MemoryKind]]:
    """Apply a folding file to a folded graph: PE / SIMD (and ram_style) per Conv/Dense layer it names; every
    other layer keeps its folding.  Returns the new graph and the memory kinds asked for."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise NbqError(f"{path}: no such folding file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NbqError(f"{path}: not a JSON folding file ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise NbqError(f"{path}: a folding file is a JSON object {{layer: {{\"PE\": .., \"SIMD\": ..}}}}")
    g = graph.copy()
    layers = {la.name: la for la in g.layers if isinstance(la, ir.Conv | ir.Dense)}
    memory: dict[str, MemoryKind] = {}
    for name, entry in data.items():
        if name in ("format", "board", "engine", "Defaults"):
            continue
        layer = layers.get(name)
        if layer is None:
            raise NbqError(f"{path}: '{name}' is not a Conv/Dense layer of the model (layers: "
                           f"{', '.join(sorted(layers)) or 'none'})")
        if not isinstance(entry, dict):
            raise NbqError(f"{path}: {name}: expected {{\"PE\": .., \"SIMD\": ..}}")
        pe, simd = entry.get("PE", layer.folding.pe), entry.get("SIMD", layer.folding.simd)
        if not (isinstance(pe, int) and isinstance(simd, int)) or isinstance(pe, bool) or isinstance(simd, bool):
            raise NbqError(f"{path}: {name}: PE and SIMD must be integers")
        try:
            layer.folding = fold_for(g, layer, pe, simd, layer.folding.complex)
        except ValueError as exc:
            raise NbqError(f"{path}: {exc}") from None
        style = entry.get("ram_style")
        if style is not None:
            try:
                memory[name] = MemoryKind(style)
            except ValueError:
                raise NbqError(f"{path}: {name}: ram_style '{style}' is not one of lutram, bram, uram") from None
            if memory[name] == MemoryKind.URAM:
                raise NbqError(f"{path}: {name}: ram_style uram: UltraScale+ UltraRAM cannot hold initial "
                               "contents, so weight ROMs go to lutram or bram")
            if memory[name] == MemoryKind.SRL:
                raise NbqError(f"{path}: {name}: ram_style srl is for FIFOs; use lutram, bram or uram")
    return g, memory


def fit_folding_file(path: str | Path, fit: Fit, board: Board, engine: str,
                     estimate: Callable[[HardwarePlan], object] = _estimate) -> Fit:
    """The budget fit's design with a folding file's entries on top; an error when it does not fit."""
    graph, memory = read_folding(path, fit.plan.graph, board)
    plan = plan_hardware(graph, board, engine, memory)
    res = estimate(plan)
    if over_budget(res, fit.budget):
        raise _does_not_fit(graph, board, res, fit.budget, f"the folding of {Path(path).name}")
    return Fit(plan, res, fit.budget, "folding-file")
