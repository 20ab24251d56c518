"""The four engine arrays under random folding, C-simulated against nbq.reference.

SVPE (shift-add), VPE (multipliers), binary XNOR-popcount and binary-complex: each test builds
one binary holding ~60 random configurations (conv or dense, kernel, stride, padding,
dilation, groups, weight width, input range, PE x SIMD) and feeds each random images, all-max,
all-min, a checkerboard and two images that drive an output exactly to the top and the bottom
of its proven range (the accumulator's width).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from engine_batch import Case, bound_images, images, run_batch
from hls_graphs import GraphMaker, divisors, set_folding

from nbq import ir, reference
from nbq.board_catalog import load_board
from nbq.plan import plan_graph

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")

CASES = 55


def _input_range(rng: np.random.Generator, wide: bool = True) -> tuple[int, int]:
    bits = int(rng.integers(2 if wide else 1, 9))
    if rng.integers(0, 2):
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if rng.integers(0, 3) == 0:  # a range that excludes 0
        lo = int(rng.integers(1, 5))
        return lo, lo + 2**bits - 1
    return 0, 2**bits - 1


def _random_fold(rng: np.random.Generator, g: ir.Graph, layer: ir.Layer, complex_: bool = False) -> None:
    w = layer.weights.ints
    if isinstance(layer, ir.Dense):
        rows, k = w.shape
    elif complex_:
        rows, k = w.shape[0] // 2, w.shape[2] * w.shape[3] * w.shape[1] // 2
    else:
        rows, k = w.shape[0] // layer.groups, w.shape[1] * w.shape[2] * w.shape[3]
    set_folding(g, layer.name, int(rng.choice(divisors(rows))), int(rng.choice(divisors(k))), complex_)


def _conv_geometry(rng: np.random.Generator) -> dict:
    kh, kw = (int(k) for k in rng.integers(1, 4, size=2)) if rng.integers(0, 3) == 0 else (int(rng.integers(1, 4)),) * 2
    dil = int(rng.integers(1, 3))
    pads = tuple(int(p) for p in rng.integers(0, max(kh, kw), size=4)) if rng.integers(0, 3) else (0, 0, 0, 0)
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    h = int(rng.integers((kh - 1) * dil + 1, 9))
    w = int(rng.integers((kw - 1) * dil + 1, 9))
    return {"k": (kh, kw), "dil": dil, "pads": pads, "stride": stride, "hw": (max(h, 1), max(w, 1))}


def _weighted_case(name: str, rng: np.random.Generator, kind: str, bits: int, engine: str,
                   lo: int, hi: int) -> Case:  # fmt: skip
    """One Conv or Dense reading the graph input, random folding, bound images included."""
    if rng.integers(0, 4) == 0:
        m = GraphMaker(int(rng.integers(1 << 30)), (int(rng.integers(1, 41)),), lo, hi, name)
        m.dense(int(rng.integers(1, 13)), kind=kind, bits=bits)
    else:
        geo = _conv_geometry(rng)
        groups = int(rng.choice([1, 1, 2, 3]))
        c = groups * int(rng.integers(1, 4))
        m = GraphMaker(int(rng.integers(1 << 30)), (c, *geo["hw"]), lo, hi, name)
        m.conv(groups * int(rng.integers(1, 5)), geo["k"], geo["stride"], geo["pads"], groups, geo["dil"], kind, bits)
    g = m.graph()
    layer = g.layers[-1]
    _random_fold(rng, g, layer)
    bounds = bound_images(g, layer)
    if bounds:  # they reach both ends of the proven range: the accumulator is exactly as wide as needed
        y = g.tensors[layer.output]
        out = reference.run_int(g, np.stack(bounds))[layer.output]
        assert out.max() == y.hi and out.min() == y.lo, name
    x = np.stack(images(g.tensors["input"], rng) + bounds)
    return Case(name, g, x, engine)


def _check_engine(cases: list[Case], kind: str, masked: bool | None = None) -> None:
    """Every case's weighted layers map onto the engine under test."""
    for case in cases:
        for layer in case.graph.layers:
            if isinstance(layer, ir.Conv | ir.Dense):
                eng = plan_graph(case.graph, load_board("zcu102"), case.engine).layer(layer.name).engine
                assert eng.kind == kind, (case.name, eng)


def _assert_batch(cases: list[Case], tmp_path) -> None:
    problems = run_batch(cases, tmp_path)
    assert not problems, "\n".join(problems[:20])


def test_svpe_array(tmp_path):
    rng = np.random.default_rng(11)
    cases = []
    for i in range(CASES):
        lo, hi = _input_range(rng)
        cases.append(_weighted_case(f"svpe{i}", rng, "po2", int(rng.integers(1, 7)), "svpe", lo, hi))
    _check_engine(cases, "svpe")
    assert sum(any(layer.pads) for c in cases for layer in c.graph.layers if isinstance(layer, ir.Conv)) >= 10
    assert sum(len(c.inputs) > 6 for c in cases) >= CASES // 2  # most configurations get the bound images
    _assert_batch(cases, tmp_path)


def test_vpe_array(tmp_path):
    rng = np.random.default_rng(12)
    cases = []
    for i in range(CASES):
        lo, hi = _input_range(rng)
        if i % 3 == 0:  # integer weights: always the multiplier engine
            cases.append(_weighted_case(f"vpe{i}", rng, "int", int(rng.choice([2, 5, 8, 12, 16])), "svpe", lo, hi))
        else:  # power-of-two weights compiled with --engine vpe: 16-bit (32-bit for n = 6) multipliers
            cases.append(_weighted_case(f"vpe{i}", rng, "po2", int(rng.integers(1, 7)), "vpe", lo, hi))
    _check_engine(cases, "vpe")
    _assert_batch(cases, tmp_path)


def _binary_input(m: GraphMaker, rng: np.random.Generator, channels_first: bool) -> None:
    """A sign threshold (per channel or per tensor), sometimes max-pooled: the input is proven +-1."""
    m.threshold(levels=1, out_lo=-1, step=2, per_tensor=bool(rng.integers(0, 2)))
    if channels_first and min(m.shape()[1:]) >= 4 and rng.integers(0, 3) == 0:
        m.maxpool(2, 2)


def test_binary_xnor_array(tmp_path):
    rng = np.random.default_rng(13)
    cases = []
    for i in range(CASES):
        name = f"xnor{i}"
        bipolar = i % 3 != 0  # else the raw input is in [-1, 1] or [0, 1]: zeros possible, masked engine
        lo, hi = (-6, 5) if bipolar else ((-1, 1) if rng.integers(0, 2) else (0, 1))
        if rng.integers(0, 4) == 0:
            m = GraphMaker(int(rng.integers(1 << 30)), (int(rng.integers(1, 65)),), lo, hi, name)
            if bipolar:
                _binary_input(m, rng, False)
            m.dense(int(rng.integers(1, 13)), bits=1)
        else:
            geo = _conv_geometry(rng)
            groups = int(rng.choice([1, 1, 2]))
            c = groups * int(rng.integers(1, 6))
            hw = tuple(v + 2 for v in geo["hw"])
            m = GraphMaker(int(rng.integers(1 << 30)), (c, *hw), lo, hi, name)
            if bipolar:
                _binary_input(m, rng, True)
            if min(m.shape()[1:]) < max(geo["k"]) * geo["dil"]:
                geo["dil"] = 1
            m.conv(groups * int(rng.integers(1, 5)), geo["k"], geo["stride"], geo["pads"], groups, geo["dil"],
                   bits=1)  # fmt: skip
        g = m.graph()
        _random_fold(rng, g, g.layers[-1])
        t = g.tensors["input"]
        x = images(t, rng, 4)
        if not bipolar:  # the raw input drives the conv: an output to each end of its range
            x += bound_images(g, g.layers[-1])
        cases.append(Case(name, g, np.stack(x)))
    _check_engine(cases, "xnor")
    masked = [plan_graph(c.graph, load_board("zcu102")).layer(c.graph.layers[-1].name).engine.masked
              for c in cases]  # fmt: skip
    assert 10 <= sum(masked) <= CASES - 10  # both the masked and the plain 2*popcount - K engine
    _assert_batch(cases, tmp_path)


def test_binary_complex_array(tmp_path):
    rng = np.random.default_rng(14)
    cases = []
    for i in range(CASES):
        name = f"cxnor{i}"
        bipolar = i % 3 != 0
        geo = _conv_geometry(rng)
        i_ch = int(rng.integers(1, 5))
        hw = tuple(v + 2 for v in geo["hw"])
        lo, hi = (-4, 4) if bipolar else (-1, 1)
        m = GraphMaker(int(rng.integers(1 << 30)), (2 * i_ch, *hw), lo, hi, name)
        if bipolar:
            _binary_input(m, rng, True)
        if min(m.shape()[1:]) < max(geo["k"]) * geo["dil"]:
            geo["dil"] = 1
        m.complex_conv(int(rng.integers(1, 5)), geo["k"], geo["stride"], geo["pads"], geo["dil"],
                       bias=bool(rng.integers(0, 2)))  # fmt: skip
        if rng.integers(0, 3) == 0:  # a sign threshold after it, as in a BCNN
            m.threshold(levels=1, out_lo=-1, step=2)
        g = m.graph()
        conv = next(layer for layer in g.layers if isinstance(layer, ir.Conv))
        assert conv.folding.complex, "the folding pass recognises the block form"
        _random_fold(rng, g, conv, complex_=True)
        cases.append(Case(name, g, np.stack(images(g.tensors["input"], rng, 4))))
    _check_engine(cases, "cxnor")
    _assert_batch(cases, tmp_path)
