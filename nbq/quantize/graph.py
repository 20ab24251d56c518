"""Walk a float ONNX graph and decide where the quantizers go (no numbers yet: see scales.py).

A tensor is *float* when it comes from a Conv/Gemm/MatMul, an affine/activation op (BatchNormalization,
Relu, Clip, Add of a constant) or a residual Add/Sum; it is *integer* when it comes from a quantizer or from
an op that keeps integers exact (MaxPool, the average pools, Flatten, Reshape, Concat, Identity). A float
tensor gets a quantizer (a *point*) where its chain of affine/activation ops ends, i.e. where an op that
needs integers reads it, unless only the graph output (possibly through a final Softmax) reads it. The graph
input is always a point. Concat inputs share one scale (a *group*), so the Concat of integers stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nbq.errors import UnsupportedModelError

WEIGHT_OPS = ("Conv", "Gemm", "MatMul")
CHAIN_OPS = ("BatchNormalization", "Relu", "Clip")
PASS_OPS = ("Identity", "Dropout")  # the input's state and scale, unchanged
CONST_OPS = ("Add", "Mul", "Div")  # with one constant operand: affine, part of the chain like a BatchNormalization
EXACT_OPS = ("MaxPool", "AveragePool", "GlobalAveragePool", "ReduceMean", "Flatten", "Reshape", "Squeeze", "Unsqueeze",
             "Concat")
SAME_SCALE_OPS = ("MaxPool", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Concat", "Identity", "Dropout")
MERGE_OPS = ("Add", "Sum")
TAIL_OPS = ("Softmax", "LogSoftmax", "ArgMax")  # stay float after the last quantized tensor
SIGN = "Sign"  # a binary activation: already a quantizer (±1 integers), nothing to add after it
SUPPORTED = (*WEIGHT_OPS, *CHAIN_OPS, *PASS_OPS, *CONST_OPS, *EXACT_OPS, *MERGE_OPS, *TAIL_OPS, SIGN, "Constant",
             "Shape")
# Shape starts shape arithmetic (x.view(x.size(0), -1) exports Shape → Gather → Unsqueeze → Concat → Reshape):
# any op whose inputs are all constants or shape values computes a shape, not an activation, and is kept.


@dataclass
class Point:
    """A quantizer Clip → QuantizeLinear → DequantizeLinear on `tensor` (a name of the float model)."""

    tensor: str
    unsigned: bool | None  # structurally non-negative (after Relu); None: the graph input, decided by the data
    group: int  # points of one group share a scale (Concat inputs)
    is_input: bool = False


@dataclass
class WeightLayer:
    """A Conv/Gemm/MatMul whose constant weight is rounded to the weight format."""

    node: int  # index in graph.node
    weight: str  # initializer name
    out_axis: int  # axis of the output channels in the weight array
    per_channel: bool  # a quantizer follows its chain: a per-channel factor may move into a BatchNormalization


@dataclass
class QuantPlan:
    model: onnx.ModelProto
    source: str
    input_name: str
    input_shape: tuple[int, ...]  # one image, without N
    points: list[Point] = field(default_factory=list)
    weights: list[WeightLayer] = field(default_factory=list)
    constants: dict[str, np.ndarray] = field(default_factory=dict)  # initializers and Constant outputs
    _by_tensor: dict[str, Point] = field(default_factory=dict, init=False, repr=False)

    def point(self, tensor: str) -> Point | None:
        if len(self._by_tensor) != len(self.points):  # built on first use (points are only ever added)
            self._by_tensor = {p.tensor: p for p in self.points}
        return self._by_tensor.get(tensor)

    def groups(self) -> dict[int, list[Point]]:
        out: dict[int, list[Point]] = {}
        for p in self.points:
            out.setdefault(p.group, []).append(p)
        return out


def _label(node: onnx.NodeProto) -> str:
    return f"node '{node.name or node.output[0]}' ({node.op_type})"


class _Walk:
    def __init__(self, model: onnx.ModelProto, source: str):
        self.model, self.source, self.g = model, source, model.graph
        self.consts: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in self.g.initializer}
        for node in self.g.node:
            if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
                self.consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in self.g.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.outputs = {o.name for o in self.g.output}
        self.state: dict[str, str] = {}  # tensor -> "float" | "int" | "tail"
        self.nonneg: dict[str, bool] = {}
        self.scale_of: dict[str, int] = {}  # integer tensor -> the group whose scale it carries exactly
        self.parent: dict[int, int] = {}  # union-find over groups
        self.points: dict[str, Point] = {}
        self.meta: set[str] = set()  # shape values (from Shape), like constants for the walk
        self.signs: set[str] = set()  # Sign outputs: quantized by the Sign itself

    def fail(self, node: onnx.NodeProto | None, why: str) -> UnsupportedModelError:
        where = _label(node) if node is not None else "graph"
        return UnsupportedModelError(f"{self.source}: {where}: {why}")

    # ------------------------------------------------------------ groups

    def find(self, g: int) -> int:
        while self.parent[g] != g:
            self.parent[g] = self.parent[self.parent[g]]
            g = self.parent[g]
        return g

    def add_point(self, tensor: str, unsigned: bool | None, is_input: bool = False) -> Point:
        group = len(self.parent)
        self.parent[group] = group
        p = Point(tensor, unsigned, group, is_input)
        self.points[tensor] = p
        self.scale_of[tensor] = group
        self.state[tensor] = "int"
        return p

    # -------------------------------------------------------------- walk

    def run(self) -> QuantPlan:
        inputs = [i for i in self.g.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise self.fail(None, f"nbq quantize takes graphs with exactly one input, this one has {len(inputs)}")
        inp = inputs[0]
        shape = self._input_shape(inp)
        self.add_point(inp.name, None, is_input=True)
        self.nonneg[inp.name] = False
        weights = []
        for index, node in enumerate(self.g.node):
            if node.op_type == "Shape" or (node.op_type != "Constant" and node.input
                                           and all(not n or n in self.consts or n in self.meta for n in node.input)
                                           and any(n in self.meta for n in node.input)):
                self.meta.update(o for o in node.output if o)
                continue
            if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
                raise self.fail(node, "the model is already quantized; compile it with `nbq compile` (nbq quantize "
                                "takes float models)")
            if node.op_type not in SUPPORTED or node.domain not in ("", "ai.onnx"):
                raise self.fail(node, f"nbq quantize cannot quantize the float op '{node.op_type}'; supported: "
                                f"{', '.join(sorted(set(SUPPORTED)))} (docs/quantize.md)")
            if node.op_type == "Constant":
                continue
            layer = self._node(index, node)
            if layer is not None:
                weights.append(layer)
        for layer in weights:
            end = self._chain_end(self.g.node[layer.node].output[0])
            layer.per_channel = end in self.points or end in self.signs
        groups = {p.group: self.find(p.group) for p in self.points.values()}
        points = [Point(p.tensor, p.unsigned, groups[p.group], p.is_input) for p in self.points.values()]
        return QuantPlan(self.model, self.source, inp.name, shape, points, weights, self.consts)

    def _input_shape(self, inp: onnx.ValueInfoProto) -> tuple[int, ...]:
        t = inp.type.tensor_type
        if t.elem_type != TensorProto.FLOAT:
            raise self.fail(None, f"input '{inp.name}' is not float32; nbq quantize takes float32 models")
        dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
        if len(dims) not in (2, 4) or any(d is None or d < 1 for d in dims[1:]):
            raise self.fail(None, f"input '{inp.name}' must be (N, C, H, W) or (N, F) with fixed C/H/W/F, "
                            f"got {dims}")
        if dims[0] not in (None, 0, 1):
            raise self.fail(None, f"input '{inp.name}' has batch dimension {dims[0]}; export it with batch 1 or "
                            "a dynamic batch axis")
        return tuple(int(d) for d in dims[1:])

    def _data_inputs(self, node: onnx.NodeProto) -> list[str]:
        return [n for n in node.input if n and n not in self.consts and n not in self.meta]

    def _node(self, index: int, node: onnx.NodeProto) -> WeightLayer | None:
        op, out = node.op_type, node.output[0]
        data = self._data_inputs(node)
        if not data:
            raise self.fail(node, "all its inputs are constants; fold them before quantizing "
                            "(e.g. torch.onnx.export(..., do_constant_folding=True))")
        for name in data:
            if self.state.get(name) == "tail":
                raise self.fail(node, f"it reads '{name}', a result of Softmax; only the graph output may follow "
                                "a Softmax")
        layer = None
        if op in WEIGHT_OPS:
            layer = self._weight_layer(index, node, data)
            self._float(out, False)
        elif op in CHAIN_OPS or self._const_op(node):
            self._float(out, op == "Relu" or (op == "Clip" and self._clip_min(node) >= 0)
                        or (op in ("Mul", "Div") and self.nonneg.get(data[0], False) and self._positive(node)))
        elif op in PASS_OPS:
            src = data[0]
            self.state[out] = self.state[src]
            self.nonneg[out] = self.nonneg.get(src, False)
            if src in self.scale_of:
                self.scale_of[out] = self.scale_of[src]
            if self.state[out] == "float":  # decide the chain here, as for any float result
                self._float(out, self.nonneg[out])
        elif op in ("Mul", "Div"):
            raise self.fail(node, f"{op} of two computed tensors cannot be quantized (only by a constant)")
        elif op == SIGN:
            self.state[out], self.nonneg[out] = "int", False
            self.signs.add(out)
        elif op in MERGE_OPS:
            if len(data) != len(node.input):
                raise self.fail(node, f"{op} of a constant and more than one tensor is not supported")
            self._float(out, all(self.nonneg.get(n, False) for n in data))
        elif op in EXACT_OPS:
            self._exact(node, data)
        else:  # TAIL_OPS
            self.state[out] = "tail"
        return layer

    def _float(self, tensor: str, nonneg: bool) -> None:
        """A float result: a point unless its chain goes on (one affine/activation consumer) or it is a tail."""
        self.state[tensor], self.nonneg[tensor] = "float", nonneg
        users = self.consumers.get(tensor, [])
        if tensor in self.outputs or (users and all(u.op_type in TAIL_OPS for u in users)):
            return
        if not users:
            return  # a dead end: nothing reads it
        if len(users) == 1 and (users[0].op_type in (*CHAIN_OPS, *PASS_OPS, SIGN) or self._const_op(users[0])):
            return
        self.add_point(tensor, nonneg)

    def _exact(self, node: onnx.NodeProto, data: list[str]) -> None:
        op, out = node.op_type, node.output[0]
        for name in data:
            if self.state.get(name) == "float":  # the chain's end was decided when it was produced
                raise self.fail(node, f"input '{name}' reaches {op} without a quantizer")
        if op == "Concat":
            groups = []
            for name in data:
                if name not in self.scale_of:  # e.g. an average pool's sum: requantized to the shared scale
                    self.add_point(name, self.nonneg.get(name, False))
                groups.append(self.find(self.scale_of[name]))
            for g in groups[1:]:
                self.parent[self.find(g)] = self.find(groups[0])
            self.scale_of[out] = groups[0]
        elif op in SAME_SCALE_OPS and data[0] in self.scale_of:
            self.scale_of[out] = self.scale_of[data[0]]
        self.state[out] = "int"
        self.nonneg[out] = all(self.nonneg.get(n, False) for n in data)

    def _const_op(self, node: onnx.NodeProto) -> bool:
        """Add / Mul of a constant, or a tensor divided by a constant: an affine step of the chain."""
        data = self._data_inputs(node)
        return (node.op_type in CONST_OPS and len(data) == 1 and len(node.input) == 2
                and (node.op_type != "Div" or node.input[0] == data[0]))

    def _positive(self, node: onnx.NodeProto) -> bool:
        const = next(n for n in node.input if n in self.consts)
        return bool(np.all(np.asarray(self.consts[const], np.float64) > 0))

    def _clip_min(self, node: onnx.NodeProto) -> float:
        if len(node.input) > 1 and node.input[1]:
            if node.input[1] not in self.consts:
                raise self.fail(node, "Clip bounds must be constants")
            return float(np.asarray(self.consts[node.input[1]]).reshape(-1)[0])
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        return float(attrs.get("min", -np.inf))

    def _weight_layer(self, index: int, node: onnx.NodeProto, data: list[str]) -> WeightLayer:
        op = node.op_type
        if len(node.input) < 2 or node.input[1] not in self.consts or len(data) != 1 or data[0] != node.input[0]:
            raise self.fail(node, f"the {op} weight (second input) must be a constant initializer; "
                            "export with do_constant_folding=True")
        w_name = node.input[1]
        if len(node.input) > 2 and node.input[2] and node.input[2] not in self.consts:
            raise self.fail(node, f"the {op} bias '{node.input[2]}' must be a constant initializer")
        if w_name in self.points or any(u is not node for u in self.consumers.get(w_name, [])):
            raise self.fail(node, f"weight '{w_name}' is shared with another node; give each layer its own weight")
        w = self.consts[w_name]
        if w.dtype.kind != "f":
            raise self.fail(node, f"weight '{w_name}' is {w.dtype}, not float: the model is already quantized; "
                            "compile it with `nbq compile`")
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if op == "Conv":
            axis = 0
        elif op == "Gemm":
            if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
                raise self.fail(node, "only Gemm with transA=0, alpha=1, beta=1 can be quantized")
            axis = 0 if attrs.get("transB", 0) else 1
        else:
            axis = 1
        if w.ndim != (4 if op == "Conv" else 2):
            raise self.fail(node, f"weight '{w_name}' has shape {w.shape}, not a {'4-D' if op == 'Conv' else '2-D'} "
                            "weight")
        return WeightLayer(index, w_name, axis, per_channel=False)

    def _chain_end(self, tensor: str) -> str:
        """Follow the affine/activation chain from a weight op's output to where it is quantized (or ends)."""
        while tensor not in self.points and tensor not in self.signs:
            users = self.consumers.get(tensor, [])
            if len(users) != 1 or not (users[0].op_type in (*CHAIN_OPS, *PASS_OPS, SIGN) or self._const_op(users[0])):
                return tensor
            tensor = users[0].output[0]
        return tensor


def plan_quantization(model: onnx.ModelProto, source: str) -> QuantPlan:
    """Where the quantizers go in a float model (checked by nbq.frontend.loading): see the module doc."""
    return _Walk(model, source).run()
