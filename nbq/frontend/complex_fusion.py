"""ONNX -> ONNX rewrite: complex convolutions written as real ones become one block Conv.

A binary-complex conv W = A + iB on h = [x; y] (real parts first) is often
exported as four real convolutions:

    Split(h) -> x, y;  re = Conv(x, A) - Conv(y, B);  im = Conv(x, B) + Conv(y, A);  Concat(re, im)

and, on a real input, as Concat(Conv(h, A), Conv(h, B)).  Both are the same
integers as one real Conv with weights [[A, -B], [B, A]] (or [A; B]), which
the compiler maps onto the binary complex engine (A and B stored once).  This
pass finds those patterns and replaces each by that Conv, so the importer
never sees Split, Sub or Concat there.  Anything that only partly matches is
left alone (the importer then names the unsupported node).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

_CONST_OPS = ("Constant", "DequantizeLinear", "QuantizeLinear", "Identity")
_CONV_ATTRS = ("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides")


@dataclass
class _Graph:
    """Producers, consumers and constant values of one ONNX graph."""

    model: onnx.ModelProto

    def __post_init__(self) -> None:
        g = self.model.graph
        self.producer = {out: node for node in g.node for out in node.output if out}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in g.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.outputs = {o.name for o in g.output}
        self.inits = {i.name: i for i in g.initializer}

    def only_used_by(self, name: str, node: onnx.NodeProto) -> bool:
        users = self.consumers.get(name, [])
        return name not in self.outputs and len(users) == 1 and users[0] is node

    def const(self, name: str) -> np.ndarray | None:
        """The value of an initializer, a Constant or DequantizeLinear of constants; None otherwise."""
        if name in self.inits:
            return numpy_helper.to_array(self.inits[name]).astype(np.float64)
        node = self.producer.get(name)
        if node is None:
            return None
        if node.op_type == "Constant":
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            return numpy_helper.to_array(attrs["value"]).astype(np.float64) if "value" in attrs else None
        if node.op_type == "Identity":
            return self.const(node.input[0])
        if node.op_type == "DequantizeLinear":
            parts = [self.const(n) if n else None for n in node.input]
            x, scale = parts[0], parts[1]
            zero = parts[2] if len(parts) > 2 and parts[2] is not None else np.zeros(1)
            if x is None or scale is None or zero.size not in (1, scale.size):
                return None  # not foldable here: the importer names what is wrong with it
            if scale.ndim == 0 or scale.size == 1:
                return (x - zero.reshape(-1)[0]) * scale.reshape(-1)[0]
            axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), 1)
            if not isinstance(axis, int) or not -x.ndim <= axis < x.ndim or x.shape[axis] != scale.size:
                return None
            shape = [1] * x.ndim
            shape[axis] = -1
            return (x - zero.reshape(shape)) * scale.reshape(shape)
        return None

    def conv(self, name: str, user: onnx.NodeProto) -> onnx.NodeProto | None:
        """The bias-free Conv producing `name`, used only by `user`."""
        node = self.producer.get(name)
        if node is None or node.op_type != "Conv" or not self.only_used_by(name, user):
            return None
        if len(node.input) > 2 and node.input[2]:
            return None
        return node


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute if a.name in _CONV_ATTRS}


def _same_conv_attrs(convs: list[onnx.NodeProto]) -> bool:
    first = _attrs(convs[0])
    return int(first.get("group", 1)) == 1 and all(_attrs(c) == first for c in convs[1:])


def _axis_is_channels(node: onnx.NodeProto, default: int = 0) -> bool:
    axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), default)
    return axis in (1, -3)


@dataclass
class _Fusion:
    concat: onnx.NodeProto
    source: str  # the fused Conv's input
    weight: np.ndarray
    attrs_from: onnx.NodeProto
    removed: list[onnx.NodeProto]


def _match_complex(g: _Graph, concat: onnx.NodeProto) -> _Fusion | None:
    """Concat(Sub(Conv(x, A), Conv(y, B)), Add(Conv(x, B), Conv(y, A))) with x, y = Split(h)."""
    re_node, im_node = (g.producer.get(n) for n in concat.input)
    if re_node is None or im_node is None or re_node.op_type != "Sub" or im_node.op_type != "Add":
        return None
    if not (g.only_used_by(re_node.output[0], concat) and g.only_used_by(im_node.output[0], concat)):
        return None
    ax, by = (g.conv(n, re_node) for n in re_node.input)
    p, q = (g.conv(n, im_node) for n in im_node.input)
    if None in (ax, by, p, q) or not _same_conv_attrs([ax, by, p, q]):
        return None
    split = g.producer.get(ax.input[0])
    if split is None or split.op_type != "Split" or len(split.output) != 2 or not _axis_is_channels(split):
        return None
    x, y = split.output
    if ax.input[0] != x or by.input[0] != y:
        return None
    bx, ay = (p, q) if p.input[0] == x else (q, p)
    if bx.input[0] != x or ay.input[0] != y:
        return None
    if any(len(g.consumers.get(v, [])) != 2 or v in g.outputs for v in (x, y)):
        return None
    a, b = g.const(ax.input[1]), g.const(by.input[1])
    a2, b2 = g.const(ay.input[1]), g.const(bx.input[1])
    if a is None or b is None or a2 is None or b2 is None or a.ndim != 4 or a.shape != b.shape:
        return None
    if not (np.array_equal(a, a2) and np.array_equal(b, b2)):
        return None
    weight = np.concatenate([np.concatenate([a, -b], 1), np.concatenate([b, a], 1)], 0)
    return _Fusion(concat, split.input[0], weight, ax, [split, ax, by, bx, ay, re_node, im_node, concat])


def _match_real_input(g: _Graph, concat: onnx.NodeProto) -> _Fusion | None:
    """Concat(Conv(h, A), Conv(h, B), ...) on one input: Conv(h, [A; B; ...])."""
    convs = [g.conv(n, concat) for n in concat.input]
    if len(convs) < 2 or None in convs or not _same_conv_attrs(convs):
        return None
    if len({c.input[0] for c in convs}) != 1:
        return None
    weights = [g.const(c.input[1]) for c in convs]
    if any(w is None or w.ndim != 4 or w.shape[1:] != weights[0].shape[1:] for w in weights):
        return None
    return _Fusion(concat, convs[0].input[0], np.concatenate(weights, 0), convs[0], [*convs, concat])


def fuse_complex_convs(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """Return (a copy of `model` with the complex-conv patterns fused, how many were fused)."""
    g = _Graph(model)
    fusions = []
    for node in model.graph.node:
        if node.op_type == "Concat" and len(node.input) >= 2 and _axis_is_channels(node, default=None):
            match = _match_complex(g, node) if len(node.input) == 2 else None
            match = match or _match_real_input(g, node)
            # the fused weights go in as float32: fuse only when that is exact (codebook values are)
            if match is not None and np.array_equal(match.weight.astype(np.float32), match.weight):
                fusions.append(match)
    if not fusions:
        return model, 0
    out = onnx.ModelProto()
    out.CopyFrom(model)
    removed = {id(n) for f in fusions for n in f.removed}
    replacement = {id(f.concat): f for f in fusions}
    used_names = {i.name for i in model.graph.initializer} | {o for n in model.graph.node for o in n.output}
    nodes = []
    for node in model.graph.node:
        fusion = replacement.get(id(node))
        if fusion is not None:
            w_name = _unique(f"{node.output[0]}_block_weight", used_names)
            out.graph.initializer.append(numpy_helper.from_array(fusion.weight.astype(np.float32), w_name))
            conv = helper.make_node("Conv", [fusion.source, w_name], [node.output[0]],
                                    name=node.name or node.output[0], **_attrs(fusion.attrs_from))
            nodes.append(conv)
        elif id(node) not in removed:
            nodes.append(node)
    nodes = _without_dead_constants(nodes, {o.name for o in model.graph.output})
    used = {name for node in nodes for name in node.input}
    kept = [init for init in out.graph.initializer if init.name in used]
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    del out.graph.initializer[:]
    out.graph.initializer.extend(kept)
    return out, len(fusions)


def _without_dead_constants(nodes: list[onnx.NodeProto], outputs: set[str]) -> list[onnx.NodeProto]:
    """Drop the weight chains (Constant, Q/DQ, Identity) that only fed the replaced convs."""
    while True:
        used = {name for node in nodes for name in node.input} | outputs
        keep = [n for n in nodes if n.op_type not in _CONST_OPS or any(o in used for o in n.output)]
        if len(keep) == len(nodes):
            return keep
        nodes = keep


def _unique(base: str, used: set[str]) -> str:
    name, i = base, 1
    while name in used:
        name, i = f"{base}_{i}", i + 1
    used.add(name)
    return name
