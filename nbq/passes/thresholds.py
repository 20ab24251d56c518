"""Threshold pass: BatchNorm/bias/activation + quantizer -> per-channel integer thresholds.

For every channel the quantizer Q(x) (an AffineQuant evaluated in float64,
see nbq.reference.affine_quant_float) is monotone in the integer input x.
Level k is reached exactly when x crosses an integer threshold, which we find
by bisection on Q itself - so the thresholds reproduce the float64 definition
bit for bit, ties and clamps included.
"""

from __future__ import annotations

import numpy as np

from nbq import ir
from nbq.reference import affine_quant_float


def fold_thresholds(graph: ir.Graph) -> ir.Graph:
    """Replace every AffineQuant with a Threshold layer (needs input ranges: run infer_ranges first)."""
    g = graph.copy()
    g.layers = [
        _fold(layer, g.tensors[layer.inputs[0]]) if isinstance(layer, ir.AffineQuant) else layer
        for layer in g.layers
    ]
    return g


def _levels(layer: ir.AffineQuant, x: np.ndarray) -> np.ndarray:
    """Q evaluated channel-wise: x has shape (C, M); returns level indices 0..L."""
    q = affine_quant_float(layer, x[None])[0]
    return (q + 1) // 2 if layer.sign else q - layer.qmin


def _fold(layer: ir.AffineQuant, x: ir.Tensor) -> ir.Threshold:
    n_levels = 1 if layer.sign else layer.qmax - layer.qmin
    ks = np.arange(1, n_levels + 1)
    lo, hi = x.lo, x.hi
    increasing = layer.a >= 0  # a == 0: constant, any direction works
    # bisection for every (channel, level) at once
    # increasing: smallest x in [lo, hi+1] with Q(x) >= k   (hi+1 = never crossed)
    # decreasing: largest x in [lo-1, hi] with Q(x) >= k    (lo-1 = never crossed)
    left = np.where(increasing, lo, lo - 1)[:, None] * np.ones((1, n_levels), np.int64)
    right = np.where(increasing, hi + 1, hi)[:, None] * np.ones((1, n_levels), np.int64)
    inc = increasing[:, None]
    while np.any(right - left > 0):
        mid = np.where(inc, (left + right) // 2, (left + right + 1) // 2)
        probe = np.clip(mid, lo, hi)
        ok = _levels(layer, probe) >= ks[None, :]
        # increasing: ok -> answer <= mid ; decreasing: ok -> answer >= mid
        new_left = np.where(inc, np.where(ok, left, mid + 1), np.where(ok, mid, left))
        new_right = np.where(inc, np.where(ok, mid, right), np.where(ok, right, mid - 1))
        left, right = new_left, new_right
    thresholds = left.astype(np.int64)
    return ir.Threshold(
        name=layer.name,
        inputs=list(layer.inputs),
        output=layer.output,
        thresholds=thresholds,
        direction=np.where(increasing, 1, -1).astype(np.int8),
        out_lo=-1 if layer.sign else layer.qmin,
        step=2 if layer.sign else 1,
    )
