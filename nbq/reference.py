"""The golden model: bit-exact integer execution of an nbq IR graph in numpy.

Arrays are batch-first in the IR's logical layout: (N, C, H, W) or (N, F).
All arithmetic is on int64; matrix products go through float64 BLAS only when
the range pass has proven every partial sum below 2^53 (so they are exact).
"""

from __future__ import annotations

import numpy as np

from nbq import ir
from nbq.formats import quantize, saturate
from nbq.rounding import round_with

_EXACT_FLOAT = 2**52
_EXACT_FLOAT32 = 2**23


def quantize_input(graph: ir.Graph, x: np.ndarray, name: str | None = None) -> np.ndarray:
    """Float input -> the integers the hardware receives (ONNX QuantizeLinear semantics)."""
    t = graph.tensors[name or graph.inputs[0]]
    x = np.asarray(x, dtype=np.float64)
    if x.shape[1:] != t.shape:
        x = x.reshape((-1,) + t.shape)
    return quantize(x, t.scale, t.lo, t.hi)


def run(graph: ir.Graph, x: np.ndarray) -> dict[str, np.ndarray]:
    """Float input batch -> integer outputs {output name: int64 array}."""
    return run_int(graph, quantize_input(graph, x))


def run_int(graph: ir.Graph, x_int: np.ndarray, keep_all: bool = False) -> dict[str, np.ndarray]:
    """Integer input batch -> integer outputs (or every tensor with keep_all)."""
    x_int = np.asarray(x_int, dtype=np.int64)
    t_in = graph.tensors[graph.inputs[0]]
    if x_int.shape[1:] != t_in.shape:
        x_int = x_int.reshape((-1,) + t_in.shape)
    if t_in.lo is not None and (x_int.min() < t_in.lo or x_int.max() > t_in.hi):
        raise ValueError(f"input integers outside the input range [{t_in.lo}, {t_in.hi}]")
    values = {graph.inputs[0]: x_int}
    last_use = {name: i for i, layer in enumerate(graph.layers) for name in layer.inputs}
    for i, layer in enumerate(graph.layers):
        args = [values[name] for name in layer.inputs]
        values[layer.output] = _EXECUTORS[type(layer)](layer, graph, *args)
        if not keep_all:  # free what no later layer reads, to bound memory on big graphs
            for name in layer.inputs:
                if last_use[name] == i and name not in graph.outputs:
                    values.pop(name, None)
    if keep_all:
        return values
    return {name: values[name] for name in graph.outputs}


def dequantize(graph: ir.Graph, outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: arr.astype(np.float64) * graph.tensors[name].scale for name, arr in outputs.items()}


# ------------------------------------------------------------------ layers


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact integer a @ b through float BLAS when no partial sum can leave the float's integer range.

    float32 holds every integer below 2^24 and float64 below 2^53 exactly, and
    |partial sum| <= max|a| * max column sum |b|.
    """
    bound = float(np.abs(a).max(initial=0)) * float(np.abs(b).sum(axis=0).max(initial=0))
    for dtype, limit in ((np.float32, _EXACT_FLOAT32), (np.float64, _EXACT_FLOAT)):
        if bound < limit:
            return (a.astype(dtype) @ b.astype(dtype)).astype(np.int64)
    return a @ b


def _conv(layer: ir.Conv, graph: ir.Graph, x: np.ndarray) -> np.ndarray:
    w = layer.weights.ints
    oc, icg, kh, kw = w.shape
    n, c, h, wd = x.shape
    pt, pl, pb, pr = layer.pads
    sh, sw = layer.strides
    dh, dw = layer.dilations
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    oh, ow = ir.conv_output_hw((h, wd), (kh, kw), layer.strides, layer.pads, layer.dilations)
    g = layer.groups
    ocg = oc // g
    out = np.empty((n, oc, oh, ow), dtype=np.int64)
    for gi in range(g):
        xg = xp[:, gi * icg : (gi + 1) * icg]
        # columns: (N, OH, OW, ICg, KH, KW)
        cols = np.empty((n, oh, ow, icg, kh, kw), dtype=np.int64)
        for i in range(kh):
            for j in range(kw):
                patch = xg[:, :, i * dh : i * dh + sh * (oh - 1) + 1 : sh, j * dw : j * dw + sw * (ow - 1) + 1 : sw]
                cols[..., i, j] = patch.transpose(0, 2, 3, 1)
        wg = w[gi * ocg : (gi + 1) * ocg].reshape(ocg, -1)
        res = _matmul(cols.reshape(n * oh * ow, -1), wg.T)
        out[:, gi * ocg : (gi + 1) * ocg] = res.reshape(n, oh, ow, ocg).transpose(0, 3, 1, 2)
    return out + layer.bias.reshape(1, -1, 1, 1)


def _dense(layer: ir.Dense, graph: ir.Graph, x: np.ndarray) -> np.ndarray:
    return _matmul(x.reshape(x.shape[0], -1), layer.weights.ints.T) + layer.bias.reshape(1, -1)


def _channel_view(v: np.ndarray, x: np.ndarray) -> np.ndarray:
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


def affine_quant_float(layer: ir.AffineQuant, x: np.ndarray) -> np.ndarray:
    """The float64 definition of an AffineQuant (used before thresholds are folded)."""
    y = _channel_view(layer.a, x) * x.astype(np.float64) + _channel_view(layer.b, x)
    if layer.sign:
        return np.where(y >= 0, 1, -1).astype(np.int64)
    y = np.clip(y, layer.clamp_lo, layer.clamp_hi)
    if layer.rounding != "ROUND":
        return saturate(round_with(y / layer.out_scale, layer.rounding), layer.qmin, layer.qmax).astype(np.int64)
    return quantize(y, layer.out_scale, layer.qmin, layer.qmax)


def _affine_quant(layer: ir.AffineQuant, graph: ir.Graph, x: np.ndarray) -> np.ndarray:
    return affine_quant_float(layer, x)


FEW_LEVELS = 32  # thresholds per channel up to which _threshold compares instead of searching


def _threshold(layer: ir.Threshold, graph: ir.Graph, x: np.ndarray) -> np.ndarray:
    """Count crossed thresholds with one searchsorted over all channels.

    Direction -1 channels are negated (x <= t  <=>  -x >= -t) so every row is
    ascending; rows are then laid end to end with a per-channel offset.
    """
    c, levels = layer.thresholds.shape
    if levels == 0 or x.size == 0:  # a constant output (one level) or an empty batch
        return np.full(x.shape, layer.out_lo, dtype=np.int64)
    sign = layer.direction.astype(np.int64)
    ts = np.sort(layer.thresholds * sign[:, None], axis=1)
    if levels <= FEW_LEVELS:  # a few compares per value, in place, beat a binary search over C x levels keys
        view = (1, c) + (1,) * (x.ndim - 2)  # per channel, broadcast over the batch and the pixels
        narrow = max(abs(int(x.min())), abs(int(x.max())), abs(int(ts.min())), abs(int(ts.max()))) < 2**31
        xn = x.astype(np.int32) if narrow else np.asarray(x, np.int64)
        if (sign < 0).any():
            xn = xn * sign.reshape(view).astype(xn.dtype)
        tn = ts.astype(xn.dtype)
        counts = np.zeros(x.shape, dtype=np.uint8)  # levels <= FEW_LEVELS < 256
        for k in range(levels):
            counts += xn >= tn[:, k].reshape(view)
        out = counts.astype(np.int64)
        out *= layer.step
        out += layer.out_lo
        return out
    xs = np.moveaxis(x, 1, -1) * sign  # (..., C)
    base = min(int(xs.min()), int(ts.min()))
    span = max(int(xs.max()), int(ts.max())) - base + 1
    offsets = np.arange(c, dtype=np.int64) * span
    keys = (ts - base + offsets[:, None]).ravel()
    crossed = np.searchsorted(keys, xs - base + offsets, side="right") - np.arange(c) * levels
    return np.moveaxis(layer.out_lo + layer.step * crossed, -1, 1).astype(np.int64)


def _clamp(layer: ir.Clamp, graph: ir.Graph, x: np.ndarray) -> np.ndarray:
    return np.clip(x, layer.lo, layer.hi)


def _windows(x: np.ndarray, kernel, strides, pads, fill: int) -> np.ndarray:
    n, c, h, w = x.shape
    pt, pl, pb, pr = pads
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=fill)
    oh, ow = ir.conv_output_hw((h, w), kernel, strides, pads)
    out = np.empty((n, c, oh, ow, kernel[0] * kernel[1]), dtype=np.int64)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            out[..., i * kernel[1] + j] = xp[
                :, :, i : i + strides[0] * (oh - 1) + 1 : strides[0], j : j + strides[1] * (ow - 1) + 1 : strides[1]
            ]
    return out


def _maxpool(layer: ir.MaxPool, graph: ir.Graph, x: np.ndarray) -> np.ndarray:
    fill = graph.tensors[layer.inputs[0]].lo
    fill = int(x.min()) if fill is None else fill
    return _windows(x, layer.kernel, layer.strides, layer.pads, fill).max(axis=-1)


def _sumpool(layer: ir.SumPool, graph: ir.Graph, x: np.ndarray) -> np.ndarray:
    return _windows(x, layer.kernel, layer.strides, tuple(layer.pads), 0).sum(axis=-1)


def _flatten(layer: ir.Flatten, graph: ir.Graph, x: np.ndarray) -> np.ndarray:
    return x.reshape(x.shape[0], -1)


def _add(layer: ir.Add, graph: ir.Graph, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.left_shift(a, layer.shifts[0]) + np.left_shift(b, layer.shifts[1])


def _concat(layer: ir.Concat, graph: ir.Graph, *xs: np.ndarray) -> np.ndarray:
    return np.concatenate([np.left_shift(x, s) for x, s in zip(xs, layer.shifts, strict=True)], axis=1)


def _channel_permute(layer: ir.ChannelPermute, graph: ir.Graph, x: np.ndarray) -> np.ndarray:
    return x[:, list(layer.perm)]


_EXECUTORS = {
    ir.Conv: _conv,
    ir.Dense: _dense,
    ir.AffineQuant: _affine_quant,
    ir.Threshold: _threshold,
    ir.Clamp: _clamp,
    ir.MaxPool: _maxpool,
    ir.SumPool: _sumpool,
    ir.Flatten: _flatten,
    ir.Add: _add,
    ir.Concat: _concat,
    ir.ChannelPermute: _channel_permute,
}
