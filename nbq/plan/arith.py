"""Accumulator ranges, threshold tables and clamp bounds: the integer decisions of a layer, made once."""

from __future__ import annotations

import numpy as np

from nbq import ir
from nbq.errors import UnsupportedModelError
from nbq.plan.records import AccRange, ThresholdTable


def acc_range(matrix: np.ndarray, x_lo: int, x_hi: int, bias: np.ndarray | None, x_bits: int) -> AccRange:
    """Range of every partial sum of every row of `matrix` (OC, K) over inputs in [x_lo, x_hi] or zero
    padding, plus the bias when it starts the sum.

    The accumulator and adder-tree nodes hold sums over arbitrary subsets of a row, so the bound takes
    each term's worst case on its own - zero included - which bounds every partial sum, not only the
    full one.
    """
    lo, hi = min(int(x_lo), 0), max(int(x_hi), 0)
    w = np.asarray(matrix).reshape(matrix.shape[0], -1)
    # lo <= 0 <= hi: a positive weight's term is at most w * hi and at least w * lo, a negative one's the
    # reverse; so each bound is hi * (sum of positive weights) + lo * (sum of negative ones) or the swap.
    # The row sums are exact in int64 when no sum can overflow it; the products are Python integers.
    peak = int(np.abs(w).max(initial=0)) if w.dtype.kind in "iu" else None
    exact = peak is not None and peak * max(w.shape[1], 1) < 2**62
    w = w.astype(np.int64) if exact else np.asarray(w, dtype=object)
    pos = np.where(w > 0, w, 0).sum(axis=1).astype(object)
    neg = np.where(w < 0, w, 0).sum(axis=1).astype(object)
    top, bottom = pos * hi + neg * lo, pos * lo + neg * hi
    if bias is not None and bias.size:
        b64 = np.asarray(bias, dtype=object).ravel()
        top = top + np.maximum(b64, 0)
        bottom = bottom + np.minimum(b64, 0)
    return AccRange(int(min(bottom, default=0)), int(max(top, default=0)), max(int(x_bits) + 1, 2))


def layer_bias(layer: ir.Conv | ir.Dense, n: int) -> np.ndarray:
    if layer.bias is None:
        return np.zeros(n, dtype=np.int64)
    bias = np.asarray(layer.bias, dtype=np.int64).ravel()
    if bias.size != n:
        raise UnsupportedModelError(f"layer '{layer.name}': bias has {bias.size} values, expected {n}")
    return bias


def threshold_table(layer: ir.Threshold, channels: int, key_lo: int, key_hi: int,
                    bias: np.ndarray | None = None, row_order: np.ndarray | None = None) -> ThresholdTable:
    """The table of a Threshold over keys in [key_lo, key_hi], one row per stream channel.

    bias: a bias still to be added to the key is moved into the thresholds (x + b >= t <=> x >= t - b).
    row_order: rows for a flattened map's values in stream order (row_order[s] = logical index).
    A level no channel can ever cross adds nothing; one every channel always crosses adds `step` to
    out_lo (folded quantizers often carry many levels beyond their clamp).
    """
    if int(layer.step) < 1:
        raise UnsupportedModelError(f"Threshold '{layer.name}': step {layer.step} < 1 is not supported")
    th = np.asarray(layer.thresholds, dtype=np.int64)
    if th.ndim == 1:
        th = th[:, None]
    up = np.broadcast_to(np.asarray(layer.direction).ravel() == 1, (th.shape[0],)).copy()
    if th.shape[0] == 1 and channels > 1:
        th, up = np.repeat(th, channels, axis=0), np.repeat(up, channels)
    elif th.shape[0] != channels:
        raise UnsupportedModelError(f"Threshold '{layer.name}': {th.shape[0]} threshold rows for {channels} channels")
    if row_order is not None:
        th, up = th[row_order], up[row_order]
    if bias is not None:
        th = th - np.asarray(bias, dtype=np.int64).ravel()[:, None]
    never = np.where(up[:, None], th > key_hi, th < key_lo).all(axis=0)
    always = np.where(up[:, None], th <= key_lo, th >= key_hi).all(axis=0)
    out_lo = int(layer.out_lo) + int(layer.step) * int(always.sum())
    th = th[:, ~(never | always)]
    if th.shape[1] == 0:  # a constant output: one threshold nobody crosses
        th = np.where(up, key_hi + 1, key_lo - 1)[:, None].astype(np.int64)
    th = np.sort(np.clip(th, key_lo - 1, key_hi + 1), axis=1)
    return ThresholdTable(th, up, out_lo, int(layer.step), int(key_lo), int(key_hi))


def clamp_bounds(layer: ir.Clamp, x: ir.Tensor) -> tuple[int | None, int | None]:
    """The bounds of a clamp its input can pass; one it never passes is dropped (max(x, lo) == x)."""
    lo = layer.lo if layer.lo is not None and layer.lo > x.lo else None
    hi = layer.hi if layer.hi is not None and layer.hi < x.hi else None
    return lo, hi
