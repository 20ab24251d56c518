"""Range pass: prove every tensor's integer range from worst-case bounds.

Interval arithmetic is exact per layer (each input element varies
independently), so accumulator widths derived from it can never wrap.
"""

from __future__ import annotations

import numpy as np

from nbq import ir
from nbq.errors import NbqError

_MAX_BITS = 62


def infer_ranges(graph: ir.Graph) -> ir.Graph:
    """Return a copy of `graph` with lo/hi set on every tensor."""
    g = graph.copy()
    for layer in g.layers:
        ins = [g.tensors[name] for name in layer.inputs]
        for t in ins:
            if t.lo is None:
                raise NbqError(f"{g.source}: tensor '{t.name}' has no proven range (layer '{layer.name}')")
        lo, hi = _RULES[type(layer)](layer, *ins)
        out = g.tensors[layer.output]
        out.lo, out.hi = int(lo), int(hi)
        if out.bits > _MAX_BITS:
            raise NbqError(
                f"{g.source}: layer '{layer.name}' needs a {out.bits}-bit accumulator (> {_MAX_BITS}); "
                "reduce activation or weight bits"
            )
    return g


def _weighted_bounds(w: np.ndarray, lo: int, hi: int, bias: np.ndarray) -> tuple[int, int]:
    """Bounds of sum_i w_i x_i + bias over x_i in [lo, hi], per output row, then over rows."""
    rows = w.reshape(w.shape[0], -1)
    pos = np.where(rows > 0, rows, 0).sum(axis=1).astype(object)
    neg = np.where(rows < 0, rows, 0).sum(axis=1).astype(object)
    b = bias.astype(object)
    row_hi = pos * hi + neg * lo + b
    row_lo = pos * lo + neg * hi + b
    return int(min(row_lo)), int(max(row_hi))


def _conv(layer: ir.Conv, x: ir.Tensor) -> tuple[int, int]:
    lo, hi = x.lo, x.hi
    if any(layer.pads):  # padded taps read zeros
        lo, hi = min(lo, 0), max(hi, 0)
    return _weighted_bounds(layer.weights.ints, lo, hi, layer.bias)


def _dense(layer: ir.Dense, x: ir.Tensor) -> tuple[int, int]:
    return _weighted_bounds(layer.weights.ints, x.lo, x.hi, layer.bias)


def _affine_quant(layer: ir.AffineQuant, x: ir.Tensor) -> tuple[int, int]:
    return (-1, 1) if layer.sign else (layer.qmin, layer.qmax)


def _threshold(layer: ir.Threshold, x: ir.Tensor) -> tuple[int, int]:
    ends = (layer.out_lo, layer.out_lo + layer.step * layer.thresholds.shape[1])
    return min(ends), max(ends)


def _clamp(layer: ir.Clamp, x: ir.Tensor) -> tuple[int, int]:
    """clip is monotone: the output range is the clipped input range (a bound may lie outside it)."""
    lo, hi = x.lo, x.hi
    if layer.lo is not None:
        lo, hi = max(lo, layer.lo), max(hi, layer.lo)
    if layer.hi is not None:
        lo, hi = min(lo, layer.hi), min(hi, layer.hi)
    return lo, hi


def _same(layer: ir.Layer, x: ir.Tensor) -> tuple[int, int]:
    return x.lo, x.hi


def _sumpool(layer: ir.SumPool, x: ir.Tensor) -> tuple[int, int]:
    k = layer.kernel[0] * layer.kernel[1]
    if any(layer.pads):  # a window may hold padding zeros
        return k * min(x.lo, 0), k * max(x.hi, 0)
    return k * x.lo, k * x.hi


def _add(layer: ir.Add, a: ir.Tensor, b: ir.Tensor) -> tuple[int, int]:
    sa, sb = layer.shifts
    return (a.lo << sa) + (b.lo << sb), (a.hi << sa) + (b.hi << sb)


def _concat(layer: ir.Concat, *xs: ir.Tensor) -> tuple[int, int]:
    return (min(x.lo << s for x, s in zip(xs, layer.shifts, strict=True)),
            max(x.hi << s for x, s in zip(xs, layer.shifts, strict=True)))


_RULES = {
    ir.Conv: _conv,
    ir.Dense: _dense,
    ir.AffineQuant: _affine_quant,
    ir.Threshold: _threshold,
    ir.Clamp: _clamp,
    ir.MaxPool: _same,
    ir.SumPool: _sumpool,
    ir.Flatten: _same,
    ir.Add: _add,
    ir.Concat: _concat,
    ir.ChannelPermute: _same,
}
