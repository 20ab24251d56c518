"""The streaming units under random configurations, C-simulated against nbq.reference.

Line buffer (sliding windows: kernel, stride, padding, dilation, word widths, SIMD chunks that
split or span taps, groups), pooling (max with padding, sum, global), the threshold unit (1 to
255 levels, both directions, per channel / per tensor / per feature, ties) and the residual
add (shifts, fan-out clones, regrouped widths).  One binary per unit, ~60 configurations each.
Word widths are varied with a folded identity (or random) 1x1 layer in front.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from engine_batch import Case, images, run_batch
from hls_graphs import GraphMaker, divisors, set_folding

from nbq import ir

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")

CASES = 55


def _fold_all(rng: np.random.Generator, g: ir.Graph) -> ir.Graph:
    """Random legal (PE, SIMD) for every Conv/Dense (so every stream width varies)."""
    for layer in g.layers:
        if isinstance(layer, ir.Conv | ir.Dense):
            w = layer.weights.ints
            rows, k = (w.shape if isinstance(layer, ir.Dense)
                       else (w.shape[0] // layer.groups, int(np.prod(w.shape[1:]))))  # fmt: skip
            set_folding(g, layer.name, int(rng.choice(divisors(rows))), int(rng.choice(divisors(k))))
    return g


def _range(rng: np.random.Generator) -> tuple[int, int]:
    bits = int(rng.integers(2, 9))
    return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if rng.integers(0, 2) else (0, 2**bits - 1)


def _assert_batch(cases: list[Case], tmp_path) -> None:
    problems = run_batch(cases, tmp_path)
    assert not problems, "\n".join(problems[:20])


def test_line_buffer_windows(tmp_path):
    """Convolutions whose only job is to exercise the sliding-window unit's geometry."""
    rng = np.random.default_rng(21)
    cases = []
    for i in range(CASES):
        kh, kw = (int(v) for v in rng.integers(1, 6, size=2))
        dh, dw = (int(v) for v in rng.integers(1, 4, size=2)) if rng.integers(0, 2) else (1, 1)
        span_h, span_w = (kh - 1) * dh + 1, (kw - 1) * dw + 1
        pads = tuple(int(v) for v in rng.integers(0, 3, size=4)) if rng.integers(0, 3) else (0, 0, 0, 0)
        h = max(int(rng.integers(1, 10)), span_h - pads[0] - pads[2])
        w = max(int(rng.integers(1, 10)), span_w - pads[1] - pads[3])
        groups = int(rng.choice([1, 1, 2, 3]))
        c = groups * int(rng.integers(1, 4))
        lo, hi = _range(rng)
        m = GraphMaker(int(rng.integers(1 << 30)), (c, h, w), lo, hi, f"win{i}")
        if rng.integers(0, 3):  # words of PE channels into the line buffer
            m.identity()
        stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        if i % 10 == 0:  # 1x1, stride 1, no padding: no window at all, the words are regrouped to SIMD
            (kh, kw), stride, pads, dh, dw = (1, 1), (1, 1), (0, 0, 0, 0), 1, 1
        m.conv(groups * int(rng.integers(1, 4)), (kh, kw), stride, pads, groups, (dh, dw),
               bits=int(rng.integers(2, 5)))  # fmt: skip
        g = _fold_all(rng, m.graph())
        cases.append(Case(f"win{i}", g, np.stack(images(g.tensors["input"], rng))))
    convs = [layer for c in cases for layer in c.graph.layers if isinstance(layer, ir.Conv) and
             not layer.name.startswith("ident")]  # fmt: skip
    simd_splits_taps = [c for c in convs if c.folding.simd > c.weights.ints.shape[1]]
    assert len(simd_splits_taps) >= 5 and sum(max(c.dilations) > 1 for c in convs) >= 10
    _assert_batch(cases, tmp_path)


def test_pooling(tmp_path):
    rng = np.random.default_rng(22)
    cases = []
    for i in range(CASES):
        c = int(rng.integers(1, 7))
        h, w = (int(v) for v in rng.integers(1, 10, size=2))
        lo, hi = _range(rng)
        m = GraphMaker(int(rng.integers(1 << 30)), (c, h, w), lo, hi, f"pool{i}")
        if rng.integers(0, 2):
            m.identity() if rng.integers(0, 2) else m.conv(c * int(rng.integers(1, 3)), 1, bits=3)
        kind = i % 3
        kh, kw = int(rng.integers(1, min(h, 4) + 1)), int(rng.integers(1, min(w, 4) + 1))
        stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        if kind == 0:  # max pooling, padding below the kernel size (ONNX), pad value = the input's lower bound
            pads = tuple(int(rng.integers(0, k)) for k in (kh, kw, kh, kw))
            m.maxpool((kh, kw), stride, (pads[0], pads[1], pads[2], pads[3]))
        elif kind == 1:
            m.sumpool((kh, kw), stride)
        else:  # global average pooling
            m.sumpool((h, w), 1)
        if rng.integers(0, 3) == 0:
            m.threshold(levels=int(rng.integers(1, 6)))
        g = _fold_all(rng, m.graph())
        cases.append(Case(f"pool{i}", g, np.stack(images(g.tensors["input"], rng))))
    pools = [layer for c in cases for layer in c.graph.layers if isinstance(layer, ir.MaxPool)]
    assert sum(any(p.pads) for p in pools) >= 5
    _assert_batch(cases, tmp_path)


def test_threshold_unit(tmp_path):
    rng = np.random.default_rng(23)
    cases = []
    for i in range(CASES):
        lo, hi = _range(rng)
        if i % 4 == 3:  # a vector
            m = GraphMaker(int(rng.integers(1 << 30)), (int(rng.integers(1, 25)),), lo, hi, f"thr{i}")
        else:
            m = GraphMaker(int(rng.integers(1 << 30)), (int(rng.integers(1, 9)), int(rng.integers(1, 5)),
                                                         int(rng.integers(1, 5))), lo, hi, f"thr{i}")  # fmt: skip
        if rng.integers(0, 4):
            m.identity()  # the same values, PE per word
        levels = int(rng.choice([1, 2, 3, 7, 15, 16, 100, 255])) if i % 5 else 255
        step = int(rng.choice([1, 2]))
        direction = None if rng.integers(0, 2) else [int(rng.choice([1, -1]))] * m.shape()[0]
        per_tensor = bool(rng.integers(0, 4) == 0)
        m.threshold(levels=levels, out_lo=int(rng.integers(-3, 2)), step=step, per_tensor=per_tensor,
                    direction=[direction[0]] if per_tensor and direction else direction)  # fmt: skip
        if i % 7 == 0 and len(m.shape()) == 3:  # a per-feature threshold on a flattened map
            m.flatten()
            m.threshold(levels=int(rng.integers(1, 4)))
        g = _fold_all(rng, m.graph())
        t = g.tensors["input"]
        x = images(t, rng)
        thr = next(layer for layer in g.layers if isinstance(layer, ir.Threshold))
        th = np.clip(np.asarray(thr.thresholds), t.lo, t.hi)
        if th.size:  # ties: inputs equal to a threshold, and one off either side
            for delta in (-1, 0, 1):
                pick = th[np.arange(t.shape[0]) % th.shape[0], rng.integers(0, th.shape[1], size=t.shape[0])]
                img = np.broadcast_to(pick.reshape((-1,) + (1,) * (len(t.shape) - 1)), t.shape)
                x.append(np.clip(img + delta, t.lo, t.hi))
        cases.append(Case(f"thr{i}", g, np.stack(x)))
    levels = [layer.thresholds.shape[1] for c in cases for layer in c.graph.layers if isinstance(layer, ir.Threshold)]
    assert levels.count(255) >= 12 and 1 in levels
    _assert_batch(cases, tmp_path)


def test_residual_add(tmp_path):
    rng = np.random.default_rng(24)
    cases = []
    for i in range(CASES):
        lo, hi = _range(rng)
        c = int(rng.choice([2, 3, 4, 6, 12]))
        shape = (c, int(rng.integers(1, 6)), int(rng.integers(1, 6))) if i % 4 else (c * 3,)
        m = GraphMaker(int(rng.integers(1 << 30)), shape, lo, hi, f"add{i}")
        shifts = (int(rng.integers(0, 4)), int(rng.integers(0, 4)))
        layer = m.conv if len(shape) == 3 else m.dense
        a = m.identity() if rng.integers(0, 2) else (layer(c, 1, bits=3) if len(shape) == 3 else layer(c * 3, bits=3))
        kind = i % 3
        if kind == 0:  # both branches computed from the input (a clone of the input), widths differ
            b = m.conv(c, 3, pads=(1, 1, 1, 1), bits=2, src="input") if len(shape) == 3 else m.dense(c * 3, src="input")
        elif kind == 1:  # a residual: a -> threshold -> add(a, .)
            b = m.threshold(levels=int(rng.integers(1, 8)), out_lo=-2, src=a)
        else:  # the same tensor twice
            b = a
        m.add(a, b, shifts)
        if rng.integers(0, 2):
            m.clamp(int(rng.integers(-5, 5)), int(rng.integers(5, 40)))
        g = _fold_all(rng, m.graph())
        cases.append(Case(f"add{i}", g, np.stack(images(g.tensors["input"], rng))))
    _assert_batch(cases, tmp_path)
