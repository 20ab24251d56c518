"""Importer handlers for the stream-shaping ops: Concat (channel axis) and the channel shuffle.

Channel shuffle is the ShuffleNet idiom Reshape(N, g, C/g, H, W) -> Transpose(perm=[0, 2, 1, 3, 4])
-> Reshape(N, C, H, W).  The importer follows it value by value: the 5-D Reshape makes a ``Grouped``
view of an integer tensor (also the 4-D form (N, g, C/g, H*W) with perm [0, 2, 1, 3]), the Transpose
swaps its two channel axes, and the Reshape back to (N, C, H, W) emits one ``ir.ChannelPermute``.
A Transpose on an (N, C, H, W) or (N, F) tensor is accepted only when it leaves the data and shape
as they are (the identity, or swapping size-1 axes).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from nbq import ir
from nbq.formats import is_power_of_two
from nbq.frontend.values import Const, IntVal, Pending

MAX_SHIFT = 32  # as the residual Add: scales may differ by up to 2^32


@dataclass
class Grouped:
    """Integer tensor (C, H, W) seen as (N, d1, d2, H, W), (d1, d2) = (groups, C / groups), swapped or not."""

    tensor: str
    groups: int
    swapped: bool = False
    merged: bool = False  # (N, d1, d2, H*W): the 4-D form of the idiom

    def shape(self, c: int, h: int, w: int) -> tuple[int, ...]:
        d = (self.groups, c // self.groups) if not self.swapped else (c // self.groups, self.groups)
        return (1, *d, h * w) if self.merged else (1, *d, h, w)

    @property
    def swap_perm(self) -> list[int]:
        return [0, 2, 1, 3] if self.merged else [0, 2, 1, 3, 4]

    def perm(self, channels: int) -> tuple[int, ...]:
        """Source channel of each output channel when reshaped back to (C, H, W)."""
        g, per = self.groups, channels // self.groups
        if not self.swapped:
            return tuple(range(channels))
        # output channel j * g + k holds grouped element (k, j): source channel k * per + j
        return tuple(k * per + j for j in range(per) for k in range(g))


def concat(imp) -> None:
    node = imp.node
    names = [n for n in node.input if n]
    if len(names) < 2:
        if len(names) == 1:  # a one-input Concat is its input
            imp.values[node.output[0]] = imp.get(names[0])
            return
        raise imp.fail("Concat needs at least one input")
    values = [imp.get(n) for n in names]
    if any(isinstance(v, Const) for v in values):
        raise imp.fail("Concat of a constant is not supported; concatenate computed tensors")
    floats = [v for v in values if isinstance(v, Pending) and (v.has_clamp or not np.all(
        v.a == imp.tensors[v.source].scale))]
    if floats:  # float branches (BatchNormalization / ReLU not yet quantized): concatenate the pending chains
        _concat_pending(imp, values)
        return
    tensors = [imp.as_int(v, f"Concat '{node.name}'") for v in values]
    imp.values[node.output[0]] = IntVal(_add_concat(imp, tensors))


def _add_concat(imp, tensors: list[str]) -> str:
    """The Concat layer of integer tensors, shifted onto the finest scale (shapes and axis checked); returns
    its output."""
    node = imp.node
    shapes = [imp.tensors[t].shape for t in tensors]
    rank = len(shapes[0]) + 1  # with the batch axis
    if any(len(s) + 1 != rank for s in shapes):
        raise imp.fail(f"Concat of tensors of different ranks {[list(s) for s in shapes]}")
    _check_axis(imp, rank)
    if len({s[1:] for s in shapes}) != 1:
        raise imp.fail(f"Concat of shapes {[list(s) for s in shapes]}: all but the channel axis must agree")
    scales = [imp.tensors[t].scale for t in tensors]
    fine = min(scales)
    shifts = []
    for s in scales:
        ratio = s / fine
        if not is_power_of_two(ratio) or ratio > 2.0**MAX_SHIFT:
            raise imp.fail(f"Concat of scales {', '.join(f'{v:g}' for v in scales)}: their ratios must be powers "
                           f"of two (up to 2^{MAX_SHIFT}); quantize the inputs with related scales")
        shifts.append(int(np.log2(ratio)))
    shape = (sum(s[0] for s in shapes),) + tuple(shapes[0][1:])
    out = imp.new_tensor(node.output[0], shape, fine)
    imp.add_layer(ir.Concat(name=imp.layer_name(), inputs=tensors, output=out, shifts=tuple(shifts)))
    return out


def _concat_pending(imp, values: list) -> None:
    """Concat of float chains y_i = clamp(a_i * x_i + b_i) over integer tensors x_i: the x_i are concatenated
    (shifted onto the finest scale, so a_i is divided by 2^shift) and the affine follows per channel, for
    the quantizer after the Concat to fold.  The clamps (ReLU / Clip) must be the same on every input."""
    node = imp.node
    chains = [imp.as_pending(v) for v in values]
    clamps = {(p.clamp_lo, p.clamp_hi) for p in chains}
    if len(clamps) > 1:
        raise imp.fail("Concat of inputs with different activations (ReLU/Clip ranges) before their quantizer; "
                       "quantize each input (QuantizeLinear/DequantizeLinear) before the Concat")
    out = _add_concat(imp, [p.source for p in chains])
    layer = imp.layers[-1]
    a = np.concatenate([p.a / 2.0**s for p, s in zip(chains, layer.shifts, strict=True)])
    b = np.concatenate([p.b for p in chains])
    lo, hi = clamps.pop()
    origin = next((p.origin for p in chains if p.origin), node.name)
    imp.values[node.output[0]] = Pending(out, a, b, lo, hi, origin=origin)


def _check_axis(imp, rank: int) -> None:
    attrs = imp.attrs()
    if "axis" not in attrs:
        raise imp.fail("attribute 'axis' is missing")
    axis = int(attrs["axis"])
    if not -rank <= axis < rank or axis % rank != 1:
        raise imp.fail(f"Concat on axis {axis} of rank-{rank} tensors is not supported; nbq concatenates "
                       f"channels only (axis 1{' or -3' if rank == 4 else ''})")


def _target(imp) -> list[int]:
    node = imp.node
    target = imp.const(node.input[1], "Reshape shape")
    if target.dtype.kind not in "iu":
        raise imp.fail(f"Reshape shape '{node.input[1]}' must be an int64 tensor, got {target.dtype}")
    return [int(d) for d in target.reshape(-1)]


def _resolve(imp, target: list[int], full: tuple[int, ...]) -> list[int]:
    """ONNX Reshape semantics on (1, *shape): 0 copies the input's dimension, one -1 takes the rest."""
    if imp.attrs().get("allowzero", 0) and 0 in target:
        raise imp.fail(f"Reshape to {target} with allowzero=1 makes an empty tensor; use allowzero=0")
    dims = [full[i] if d == 0 and i < len(full) else d for i, d in enumerate(target)]
    total = int(np.prod(full))
    if dims.count(-1) > 1 or any(d < -1 or d == 0 for d in dims):
        raise imp.fail(f"Reshape to {target} is not a valid shape for an input of shape {list(full)}")
    if -1 in dims:
        known = int(np.prod([d for d in dims if d != -1]))
        if known == 0 or total % known:
            raise imp.fail(f"Reshape to {target} does not fit an input of shape {list(full)}")
        dims[dims.index(-1)] = total // known
    if int(np.prod(dims)) != total:
        raise imp.fail(f"Reshape to {target} does not fit an input of shape {list(full)}")
    return dims


def reshape(imp, flatten) -> None:
    """Reshape: the channel-shuffle steps here, everything else (to (N, -1)) by the importer's `flatten`."""
    node = imp.node
    value = imp.get(node.input[0])
    target = _target(imp)
    if isinstance(value, Grouped):
        t = imp.tensors[value.tensor]
        c, h, w = t.shape
        dims = _resolve(imp, target, value.shape(c, h, w))
        if dims != [1, c, h, w]:
            raise imp.fail(f"a channel shuffle must reshape back to (N, {c}, {h}, {w}), got {target}")
        perm = value.perm(c)
        if perm == tuple(range(c)):
            imp.values[node.output[0]] = IntVal(value.tensor)
            return
        out = imp.new_tensor(node.output[0], t.shape, t.scale)
        imp.add_layer(ir.ChannelPermute(name=imp.layer_name(), inputs=[value.tensor], output=out, perm=perm))
        imp.values[node.output[0]] = IntVal(out)
        return
    if len(target) not in (4, 5) or not isinstance(value, IntVal | Pending) or len(imp.shape_of(value)) != 3:
        flatten(imp)
        return
    x = imp.as_int(value, f"Reshape '{node.name}'")
    c, h, w = imp.tensors[x].shape
    dims = _resolve(imp, target, (1, c, h, w))
    if dims == [1, c, h, w]:  # a Reshape to the shape it has
        imp.values[node.output[0]] = IntVal(x)
        return
    spatial = [h, w] if len(dims) == 5 else [h * w]
    if dims[0] != 1 or dims[3:] != spatial or dims[1] * dims[2] != c:
        raise imp.fail(f"Reshape of (N, {c}, {h}, {w}) to {target} is not supported; nbq reshapes to (N, -1) "
                       "and splits channels for a shuffle: (N, groups, C/groups, H, W) or (N, groups, C/groups, H*W)")
    imp.values[node.output[0]] = Grouped(x, dims[1], merged=len(dims) == 4)


def transpose(imp) -> None:
    node = imp.node
    value = imp.get(node.input[0])
    perm = imp.attrs().get("perm")
    perm = None if perm is None else [int(p) for p in perm]
    if isinstance(value, Grouped):
        if perm != value.swap_perm:
            raise imp.fail(f"Transpose perm {perm} of a (N, g, C/g, ...) view is not a channel shuffle; "
                           f"use perm {value.swap_perm}")
        imp.values[node.output[0]] = replace(value, swapped=not value.swapped)
        return
    shape = (-1,) + tuple(imp.shape_of(value))  # the batch axis counts as a real (size > 1) axis
    rank = len(shape)
    if perm is None:
        perm = list(range(rank))[::-1]
    if sorted(perm) != list(range(rank)):
        raise imp.fail(f"Transpose perm {perm} is not a permutation of the {rank} axes")
    moved = [p for p in perm if shape[p] != 1]
    same_data = [shape[p] for p in perm] == list(shape) and moved == sorted(moved)  # only size-1 axes move
    if not same_data:
        raise imp.fail(f"Transpose perm {perm} of a rank-{rank} tensor moves its axes; nbq streams (N, C, H, W) "
                       "and (N, F) as they are: only the identity and the channel shuffle "
                       "Reshape(N, g, C/g, H, W) -> Transpose([0, 2, 1, 3, 4]) -> Reshape(N, C, H, W) are supported")
    imp.values[node.output[0]] = value
