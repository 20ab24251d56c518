"""Folding to the board (nbq.plan.fit): the search, fps targets, folding files and the does-not-fit message.

The search is tested with a simple stand-in cost (lanes, ROM bits) so its rules are checked exactly; the
calibrated model's own tests are in tests/test_estimate_resources.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from nbq.board_catalog import load_board
from nbq.errors import NbqError
from nbq.frontend.onnx_import import import_onnx
from nbq.passes import run_passes
from nbq.passes.folding import candidate_cycles
from nbq.pipeline import lower
from nbq.plan.budget import Budget, board_budget, parse_budget
from nbq.plan.fit import fit_folding_file, fold_to_budget, folding_json, read_folding

DEMO = Path(__file__).resolve().parents[1] / "examples" / "digits_po2_cnn.onnx"


@dataclass(frozen=True)
class Cost:
    lut: float
    ff: float
    dsp: float
    bram36: float
    uram: float


def lanes_cost(plan) -> Cost:
    """Stand-in: 10 LUT per lane, one DSP per VPE lane, ROM bits in RAMB36 units."""
    lanes = sum(p.fold.lanes for p in plan.mvaus)
    dsp = sum(p.fold.lanes for p in plan.mvaus if p.engine.kind == "vpe")
    bram = sum(p.rom.useful_bits for p in plan.mvaus) / 36864
    return Cost(10.0 * lanes, 5.0 * lanes, float(dsp), bram, 0.0)


def _graph():
    return run_passes(import_onnx(DEMO))


def _budget(**limits) -> Budget:
    base = {"lut": 1e9, "ff": 1e9, "dsp": 1e9, "bram36": 1e9, "uram": 0.0}
    return Budget(**{**base, **limits})


def test_max_throughput_is_the_fastest_design_that_fits():
    g, board = _graph(), load_board("zcu102")
    targets = candidate_cycles(g)
    free = fold_to_budget(g, board, "svpe", _budget(), estimate=lanes_cost)
    assert free.plan.ii_cycles == targets[0]  # nothing limits it: the floor (every stage one pixel a cycle)
    limit = 2000.0
    fit = fold_to_budget(g, board, "svpe", _budget(lut=limit), estimate=lanes_cost)
    assert fit.resources.lut <= limit and fit.mode == "max-throughput"
    faster = [t for t in targets if t < fit.plan.ii_cycles]
    for t in faster[-3:]:  # every faster candidate is over the budget
        from nbq.passes.folding import choose_folding
        from nbq.plan import plan_hardware

        assert lanes_cost(plan_hardware(choose_folding(g, target_cycles=t), board)).lut > limit


def test_fps_gives_the_smallest_design_that_reaches_it():
    g, board = _graph(), load_board("zcu102")
    fastest = fold_to_budget(g, board, "svpe", _budget(), estimate=lanes_cost)
    slow = fold_to_budget(g, board, "svpe", _budget(), fps=100_000, estimate=lanes_cost)
    assert slow.plan.frames_per_s >= 100_000 and slow.mode == "fps"
    assert slow.resources.lut < fastest.resources.lut  # fewer resources than the maximum design
    with pytest.raises(NbqError, match="above the fastest design"):
        fold_to_budget(g, board, "svpe", _budget(), fps=1e12, estimate=lanes_cost)


def test_does_not_fit_names_the_resource_and_what_to_do():
    g, board = _graph(), load_board("zcu102")
    with pytest.raises(NbqError) as err:
        fold_to_budget(g, board, "svpe", _budget(bram36=0.1), estimate=lanes_cost)
    msg = str(err.value)
    assert "BRAM36" in msg and "needed" in msg and "u280" in msg and "\n" not in msg
    with pytest.raises(NbqError, match="DSPs .* --engine svpe"):
        fold_to_budget(g, board, "vpe", _budget(dsp=2), estimate=lanes_cost)  # 3 layers: >= 3 lanes


def test_budget_defaults_and_overrides():
    zcu = board_budget(load_board("zcu102"))
    assert zcu.lut == pytest.approx(0.7 * 274080) and zcu.dsp == pytest.approx(0.8 * 2520) and zcu.uram == 0
    u280 = board_budget(load_board("u280"))
    assert u280.lut == pytest.approx(0.7 * (1303680 - 10700))  # the shell's share comes off first
    mine = board_budget(load_board("zcu102"), parse_budget("lut=100000,dsp=768,bram=50%"))
    assert (mine.lut, mine.dsp, mine.bram36) == (100000, 768, 456)
    for bad in ("lut", "lut=", "pizza=3", "lut=-1", "lut=abc"):
        with pytest.raises(NbqError, match="budget"):
            board_budget(load_board("zcu102"), parse_budget(bad))


def test_folding_file_round_trip_and_errors(tmp_path):
    g, board = _graph(), load_board("zcu102")
    fit = fold_to_budget(g, board, "svpe", _budget(), estimate=lanes_cost)
    path = tmp_path / "folding.json"
    data = json.loads(folding_json(fit.plan))
    first = next(k for k in data if k not in ("format", "board", "engine", "Defaults"))
    data[first].update(PE=1, SIMD=1, ram_style="bram")
    path.write_text(json.dumps(data))
    mine = fit_folding_file(path, fit, board, "svpe", estimate=lanes_cost)
    unit = mine.plan.layer(first)
    assert (unit.fold.pe, unit.fold.simd, str(unit.rom.memory)) == (1, 1, "bram") and mine.mode == "folding-file"
    assert mine.plan.ii_cycles > fit.plan.ii_cycles  # the slowest layer is now fully folded
    for change, match in (({"nope": {"PE": 1}}, "not a Conv/Dense layer"), ({first: {"PE": 7}}, "do not divide"),
                          ({first: {"ram_style": "uram"}}, "UltraRAM cannot"), ({first: {"PE": "2"}}, "integers")):
        path.write_text(json.dumps(change))
        with pytest.raises(NbqError, match=match):
            read_folding(path, fit.plan.graph, board)
    path.write_text("{not json")
    with pytest.raises(NbqError, match="not a JSON folding file"):
        read_folding(path, lower(DEMO), board)
