"""ONNX file -> nbq IR.

The importer walks the nodes in order and keeps, for every ONNX value, what
it is (see values.py).  Integer-only ops force a Pending float chain to become
an exact integer tensor, or fail with a message that names the node.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nbq import ir
from nbq.bias_rounding import RoundedBias
from nbq.errors import UnsupportedModelError
from nbq.formats import is_power_of_two
from nbq.frontend import checks, qonnx_ops, simple_ops, stream_ops
from nbq.frontend.complex_fusion import fuse_complex_convs
from nbq.frontend.constant_folding import fold_constants
from nbq.frontend.loading import load_onnx
from nbq.frontend.pool_pads import ceil_extra, real_counts
from nbq.frontend.values import Const, FloatIn, IntVal, Pending, Quantized, Value
from nbq.frontend.weights import classify_weights, describe_non_exact

_FLOAT_NAMES = {TensorProto.FLOAT: "float32", TensorProto.DOUBLE: "float64 (double)", TensorProto.FLOAT16: "float16"}

# QuantizeLinear output element types -> integer range
_QRANGE = {
    onnx.TensorProto.UINT8: (0, 255),
    onnx.TensorProto.INT8: (-128, 127),
    onnx.TensorProto.UINT16: (0, 65535),
    onnx.TensorProto.INT16: (-32768, 32767),
}
for _name, _rng in (("UINT4", (0, 15)), ("INT4", (-8, 7))):
    if hasattr(onnx.TensorProto, _name):
        _QRANGE[getattr(onnx.TensorProto, _name)] = _rng


def import_onnx(path: str | Path, max_memory: int | None = None) -> ir.Graph:
    """Load an ONNX file and lower it to an (unoptimised) nbq IR graph.

    max_memory: bytes the model file (and its external data) may take to read [nbq.guard's default].
    """
    folding = fold_constants(load_onnx(path, max_memory), str(path), max_memory)
    model, fused = fuse_complex_convs(folding.model)
    graph = _Importer(model, str(path)).run()
    graph.meta["fused_complex_convs"] = fused
    graph.meta["folded_nodes"] = folding.folded
    for op, node in graph.meta["dropped_tail"]:
        after = "argmax is unchanged" if op != "ArgMax" else "take their argmax on the host"
        warnings.warn(f"{path}: the design outputs the scores before {op} '{node}'; {after}", stacklevel=2)
    return graph


class _Importer:
    def __init__(self, model: onnx.ModelProto, source: str):
        self.model = model
        self.source = source
        self.values: dict[str, Value] = {}
        self.tensors: dict[str, ir.Tensor] = {}
        self.layers: list[ir.Layer] = []
        self.input_name: str | None = None
        self.node: onnx.NodeProto | None = None
        self._names: set[str] = set()
        self.elem_types: dict[str, int] = {}  # ONNX element type of initializers and Constant outputs
        self.float_type = TensorProto.FLOAT  # the graph input's element type
        self.remaining: dict[str, int] = {}  # reads of each ONNX value not yet walked (see _rescale)
        self.views: dict[str, tuple[int, ...]] = {}  # vectors (F,) that ONNX sees as (F, 1, 1) maps
        self.notes: list[str] = []  # one-line remarks for the compile log (e.g. integer weights from QONNX)
        self.rounded_biases: list[RoundedBias] = []  # biases rounded to an accumulator step (see as_int), for nbq run

    # ---------------------------------------------------------- helpers

    def fail(self, reason: str) -> UnsupportedModelError:
        node = self.node
        where = f"node '{node.name or node.output[0]}' ({node.op_type})" if node is not None else "graph"
        return UnsupportedModelError(f"{self.source}: {where}: {reason}")

    def unique(self, base: str) -> str:
        name, i = base or "t", 1
        while name in self._names:
            name, i = f"{base}_{i}", i + 1
        self._names.add(name)
        return name

    def new_tensor(self, onnx_name: str, shape: tuple[int, ...], scale: float) -> str:
        name = self.unique(onnx_name)
        self.tensors[name] = ir.Tensor(name=name, shape=tuple(int(d) for d in shape), scale=float(scale))
        return name

    def add_layer(self, layer: ir.Layer) -> None:
        self.layers.append(layer)

    def layer_name(self) -> str:
        return self.unique(self.node.name or f"{self.node.op_type}_{len(self.layers)}")

    def get(self, name: str) -> Value:
        if name not in self.values:
            raise self.fail(f"input '{name}' is not produced by any supported node")
        return self.values[name]

    def const(self, name: str, what: str) -> np.ndarray:
        value = self.get(name)
        if not isinstance(value, Const):
            raise self.fail(f"{what} '{name}' must be a constant (initializer)")
        return value.value

    def float_const(self, name: str, what: str, graph_type: bool = False) -> np.ndarray:
        """A numeric constant as float64.  graph_type: it must have the graph's float type (Q/DQ scales:
        ONNX Runtime refuses a float64 scale in a float32 graph, so nbq does too)."""
        value = self.const(name, what)
        etype = self.elem_types.get(name)
        if graph_type and etype in _FLOAT_NAMES and etype != self.float_type:
            raise self.fail(f"{what} '{name}' is {_FLOAT_NAMES[etype]} in a {_FLOAT_NAMES[self.float_type]} graph; "
                            f"ONNX Runtime rejects the mixed types: export it as {_FLOAT_NAMES[self.float_type]}")
        if value.dtype.kind not in "fiub":
            raise self.fail(f"{what} '{name}' is not numeric ({value.dtype})")
        return value.astype(np.float64)

    def opt_input(self, index: int) -> str | None:
        if len(self.node.input) > index and self.node.input[index]:
            return self.node.input[index]
        return None

    def attrs(self) -> dict:
        return {a.name: helper.get_attribute_value(a) for a in self.node.attribute}

    def onnx_shape(self, name: str) -> tuple[int, ...]:
        """The per-image ONNX shape of a tensor: its IR shape, or the (F, 1, 1) view of a vector."""
        return self.views.get(name) or self.shape_of(self.get(name))

    def shape_of(self, value: Value) -> tuple[int, ...]:
        if isinstance(value, IntVal):
            return self.tensors[value.tensor].shape
        if isinstance(value, Pending):
            return self.tensors[value.source].shape
        raise self.fail("expected a tensor computed from the graph input")

    def as_pending(self, value: Value) -> Pending:
        if isinstance(value, Pending):
            return value
        if isinstance(value, IntVal):
            t = self.tensors[value.tensor]
            channels = t.shape[0]
            return Pending(value.tensor, np.full(channels, t.scale), np.zeros(channels), origin=None)
        raise self.fail("expected a quantized tensor; quantize the graph input with QuantizeLinear/DequantizeLinear")

    def as_int(self, value: Value, consumer: str | None = None) -> str:
        """Materialise a value as an exact integer IR tensor (or explain why it cannot be)."""
        if isinstance(value, IntVal):
            return value.tensor
        if isinstance(value, FloatIn):
            raise self.fail(
                "the graph input is used as a float; quantize it first with QuantizeLinear/DequantizeLinear "
                "(power-of-two scale)"
            )
        if isinstance(value, Quantized):
            raise self.fail("QuantizeLinear must be followed by DequantizeLinear")
        if isinstance(value, Const):
            raise self.fail("expected a computed tensor, got a constant")
        if isinstance(value, stream_ops.Grouped):
            raise self.fail("a Reshape to (N, g, C/g, H, W) must be a channel shuffle: Transpose(perm=[0, 2, 1, "
                            "3, 4]) and a Reshape back to (N, C, H, W)")
        src = self.tensors[value.source]
        if not np.all(value.a == src.scale) and self._rescale(value):
            src = self.tensors[value.source]
        if not np.all(value.a == src.scale):
            raise self.fail(
                f"a float result (from '{value.origin}') reaches {consumer or 'this node'} without a quantizer; "
                "add QuantizeLinear/DequantizeLinear (or Sign) after the BatchNormalization/activation"
            )
        tensor = value.source
        # BatchNormalization may have grown the offset; past 2^52 steps it would not round to an int64
        bias = checks.bounded_steps(self.fail, value.b, src.scale, f"the offset from '{value.origin}'") / src.scale
        if np.any(bias != 0):
            producer = next((lay for lay in self.layers if lay.output == tensor), None)
            if not isinstance(producer, ir.Conv | ir.Dense) or self._consumed(tensor):
                raise self.fail(
                    f"a bias (from '{value.origin}') must directly follow a Conv/Gemm/MatMul to stay exact"
                )
            rounded = np.rint(bias)
            if np.any(rounded != bias):  # kept for `nbq run`, which tells this rounding from an nbq error
                self._note_rounded_bias(value, tensor, (bias - rounded) * src.scale)
            producer.bias = producer.bias + rounded.astype(np.int64)
        if value.has_clamp:
            bounds = []
            for bound in (value.clamp_lo, value.clamp_hi):
                if not np.isfinite(bound):
                    bounds.append(None)
                    continue
                checks.bounded_steps(self.fail, np.asarray(bound), src.scale, f"clip bound {bound:g}")
                steps = bound / src.scale
                if steps != np.round(steps):
                    raise self.fail(
                        f"clip bound {bound:g} is not a multiple of the tensor's step {src.scale:g}; "
                        "add a QuantizeLinear/DequantizeLinear after the activation"
                    )
                bounds.append(int(steps))
            out = self.new_tensor(f"{tensor}_clamp", src.shape, src.scale)
            self.add_layer(ir.Clamp(name=self.unique(f"{value.origin or tensor}_clamp"), inputs=[tensor],
                                    output=out, lo=bounds[0], hi=bounds[1]))
            tensor = out
        return tensor

    def _note_rounded_bias(self, value: Pending, tensor: str, residual: np.ndarray) -> None:
        """Record that the ONNX value `value` (its bias rounded) exceeds nbq's tensor by `residual` per channel."""
        onnx_name = next((name for name, other in self.values.items() if other is value), None)
        if onnx_name is None or value.has_clamp:  # a clamp after the bias: no simple float correction
            return
        scale = self.tensors[tensor].scale
        residual = np.asarray(residual, np.float64).reshape(-1)
        self.rounded_biases.append(RoundedBias(onnx_name, value.origin or tensor, tensor,
                                               len(self.tensors[tensor].shape) + 1, tuple(residual.tolist()),
                                               float(np.abs(residual).max() / scale)))

    def _consumed(self, tensor: str) -> bool:
        return any(tensor in lay.inputs for lay in self.layers)

    def _rescale(self, value: Pending) -> bool:
        """Move a uniform power-of-two factor r = a / scale (a Mul/Div, a Gemm alpha, a BatchNormalization
        with power-of-two gains) into the scale of the layer computing value.source: a Conv/Dense weight
        scale, or a quantizer's levels (a, b, clamps and step all times r: the same integers).  Only when
        nothing else reads the tensor at its old scale.  Returns whether it did."""
        ratio = float(value.a.reshape(-1)[0]) / self.tensors[value.source].scale
        if not np.all(value.a == value.a.reshape(-1)[0]) or not is_power_of_two(ratio):
            return False
        chain, tensor = [], value.source
        while True:
            producer = next((lay for lay in self.layers if lay.output == tensor), None)
            if producer is None or sum(tensor in lay.inputs for lay in self.layers) > (1 if chain else 0):
                return False
            chain.append(producer)
            if not isinstance(producer, ir.Flatten):
                break
            tensor = producer.inputs[0]
        if not isinstance(producer, ir.Conv | ir.Dense | ir.AffineQuant) or getattr(producer, "sign", False):
            return False
        if not self._only_reader(value, {lay.output for lay in chain}):
            return False
        k = int(np.log2(ratio))
        if isinstance(producer, ir.AffineQuant):
            producer.a, producer.b = producer.a * ratio, producer.b * ratio
            producer.clamp_lo, producer.clamp_hi = producer.clamp_lo * ratio, producer.clamp_hi * ratio
            producer.out_scale *= ratio
        else:
            producer.weights = dataclasses.replace(producer.weights,
                                                   int_scale_exp=producer.weights.int_scale_exp + k)
        for lay in chain:
            self.tensors[lay.output].scale *= ratio
        return True

    def _only_reader(self, value: Pending, tensors: set[str]) -> bool:
        """No ONNX value other than `value` still to be read refers to one of these IR tensors."""
        current = set(self.node.input) if self.node is not None else set()
        for name, other in self.values.items():
            if other is value:
                continue
            ref = other.tensor if isinstance(other, IntVal) else other.source if isinstance(other, Pending) else None
            if ref in tensors and (self.remaining.get(name, 0) > 0 or name in current):
                return False
        return True

    # ------------------------------------------------------------- walk

    def run(self) -> ir.Graph:
        graph = self.model.graph
        for init in graph.initializer:
            array = numpy_helper.to_array(init)  # the loader checked its data against its dims
            self.values[init.name] = Const(array.astype(np.float64) if array.dtype.kind == "f" else array)
            self.elem_types[init.name] = init.data_type
        inputs = [i for i in graph.input if i.name not in self.values]
        if len(inputs) != 1:
            raise self.fail(f"nbq compiles graphs with exactly one input, this one has {len(inputs)}")
        self._add_input(inputs[0])
        out_names, dropped, skipped = simple_ops.dropped_tail(graph)
        nodes = [node for i, node in enumerate(graph.node) if i not in skipped]
        for name in [n for node in nodes for n in node.input] + out_names:
            self.remaining[name] = self.remaining.get(name, 0) + 1
        for node in nodes:
            self.node = node
            for name in node.input:
                self.remaining[name] -= 1
            simple_ops.check_views(self)
            handler = _HANDLERS.get(node.op_type)
            if handler is None or node.domain not in _DOMAINS.get(node.op_type, ("", "ai.onnx")):
                raise self.fail(
                    f"unsupported op '{node.op_type}'"
                    + (f" in domain '{node.domain}'" if node.domain not in ("", "ai.onnx") else "")
                    + f"; supported: {', '.join(sorted(_HANDLERS))}"
                )
            handler(self)
            simple_ops.propagate_view(self)
        self.node = None
        outputs = []
        for name in out_names:
            self.remaining[name] -= 1
            value = self.get(name)
            tensor = self.as_int(value, consumer=f"graph output '{name}'")
            outputs.append(tensor)
        name = Path(self.source).stem
        return ir.Graph(name=name, inputs=[self.input_name], outputs=outputs, tensors=self.tensors,
                        layers=self.layers, source=self.source,
                        meta={"onnx_outputs": out_names,  # the ONNX tensors the design outputs
                              "onnx_graph_outputs": [o.name for o in graph.output],
                              "dropped_tail": dropped, "import_notes": self.notes,
                              "rounded_biases": self.rounded_biases,
                              "onnx_input": inputs[0].name,
                              "opset": max((o.version for o in self.model.opset_import if o.domain in ("", "ai.onnx")),
                                           default=0)})

    def _add_input(self, value_info: onnx.ValueInfoProto) -> None:
        etype = value_info.type.tensor_type.elem_type
        if etype not in (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE):
            name = TensorProto.DataType.Name(etype) if etype in TensorProto.DataType.values() else etype
            raise self.fail(f"input '{value_info.name}' has element type {name}; nbq compiles float inputs")
        self.float_type = etype
        dims = value_info.type.tensor_type.shape.dim
        shape = [d.dim_value if d.HasField("dim_value") else None for d in dims]
        if len(shape) not in (2, 4) or any(d is None for d in shape[1:]):
            raise self.fail(f"input '{value_info.name}' must be (N, C, H, W) or (N, F) with fixed C/H/W/F, got {shape}")
        if shape[0] not in (None, 1):
            raise self.fail(f"input '{value_info.name}' batch dimension must be 1 or dynamic, got {shape[0]}")
        for d in shape[1:]:
            if not 1 <= d <= checks.MAX_DIM:
                raise self.fail(f"input '{value_info.name}' has dimension {d} in {shape}; nbq compiles dimensions "
                                f"of 1 to {checks.MAX_DIM:,}")
        if np.prod(shape[1:], dtype=object) > checks.MAX_ELEMENTS:
            raise self.fail(f"input '{value_info.name}' of shape {shape} has more than {checks.MAX_ELEMENTS:,} "
                            "values per image; use a smaller input")
        self.values[value_info.name] = FloatIn(value_info.name, tuple(shape[1:]))


# ================================================================ handlers


def _pass_through(imp: _Importer) -> None:
    imp.values[imp.node.output[0]] = imp.get(imp.node.input[0])


def _constant(imp: _Importer) -> None:
    attrs = imp.attrs()
    if "value" not in attrs or len(attrs) != 1:
        raise imp.fail("only Constant with a tensor 'value' is supported")
    imp.values[imp.node.output[0]] = Const(numpy_helper.to_array(attrs["value"]))  # data checked by the loader
    imp.elem_types[imp.node.output[0]] = attrs["value"].data_type


def _scalar_param(imp: _Importer, index: int, what: str, default=None) -> np.ndarray | None:
    name = imp.opt_input(index)
    if name is None:
        return default
    return imp.float_const(name, what)


def _qparams(imp: _Importer, op: str) -> tuple[np.ndarray, np.ndarray, str | None]:
    """(scale, zero point as int64, zero point's name) of a QuantizeLinear/DequantizeLinear, checked."""
    s_name = imp.node.input[1]
    scale = checks.scale(imp.fail, imp.float_const(s_name, f"{op} scale", graph_type=True), f"{op} scale '{s_name}'")
    if np.any(scale < checks.MIN_SCALE) or np.any(scale > checks.MAX_SCALE):
        raise imp.fail(f"{op} scale '{s_name}' = {scale.reshape(-1)[0]:g} is outside 2^-100..2^100; "
                       "check the exported scale")
    zp_name = imp.opt_input(2)
    if zp_name is None:
        return scale, np.zeros(scale.shape, np.int64), None
    zp = imp.const(zp_name, f"{op} zero point")
    if zp.dtype.kind not in "iu":
        raise imp.fail(f"{op} zero point '{zp_name}' must be an integer tensor, got {zp.dtype}")
    if zp.shape != scale.shape:
        raise imp.fail(f"{op} zero point '{zp_name}' has shape {zp.shape}, its scale '{s_name}' {scale.shape}; "
                       "a zero point has its scale's shape (a scalar for activations)")
    return scale, zp.astype(np.int64), zp_name


def _axis_view(imp: _Importer, v: np.ndarray, ndim: int, length_of, what: str) -> np.ndarray:
    """A per-axis scale/zero point reshaped to broadcast along the node's `axis` of an ndim tensor."""
    if v.size == 1:
        return v.reshape(())
    axis = checks.int_attr(imp.fail, imp.attrs(), "axis", 1, -ndim, ndim - 1) % ndim
    if v.ndim != 1 or v.size != length_of(axis):
        raise imp.fail(f"per-axis {what} of shape {v.shape} does not match axis {axis} ({length_of(axis)} values); "
                       "give one value per slice of that axis")
    shape = [1] * ndim
    shape[axis] = -1
    return v.reshape(shape)


def _quantize_linear(imp: _Importer) -> None:
    node = imp.node
    x = imp.get(node.input[0])
    scale, zp, zp_name = _qparams(imp, "QuantizeLinear")
    out_type = _quant_type(imp, zp_name)
    qmin, qmax = _QRANGE[out_type]
    if isinstance(x, Const):  # constant folding (quantized weights)
        w = np.asarray(x.value, dtype=np.float64)
        s = _axis_view(imp, scale, w.ndim, lambda a: w.shape[a], f"QuantizeLinear scale '{node.input[1]}'")
        z = _axis_view(imp, zp, w.ndim, lambda a: w.shape[a], f"QuantizeLinear zero point '{zp_name}'")
        w = checks.bounded_steps(imp.fail, w, float(scale.min()), f"constant '{node.input[0]}'")
        q = np.clip(np.rint(w / s) + z, qmin, qmax)
        imp.values[node.output[0]] = Const(q.astype(np.int64))
        return
    if scale.size != 1:
        raise imp.fail("per-axis activation scales are not supported; use one power-of-two scale")
    scale_value = float(scale.reshape(()))
    if not is_power_of_two(scale_value):
        raise imp.fail(f"activation scale {scale_value:g} is not a power of two")
    zero = int(zp.reshape(()))
    if isinstance(x, IntVal):
        x = imp.as_pending(x)
    if not isinstance(x, FloatIn | Pending):
        raise imp.fail("QuantizeLinear input must be the graph input or a Conv/Gemm result")
    imp.values[node.output[0]] = Quantized(x, scale_value, zero, qmin - zero, qmax - zero,
                                           node.name or node.output[0])


def _quant_type(imp: _Importer, zp_name: str | None) -> int:
    if zp_name is None:
        attrs = imp.attrs()
        out_type = attrs.get("output_dtype", onnx.TensorProto.UINT8) or onnx.TensorProto.UINT8
    else:
        out_type = imp.elem_types.get(zp_name)
        if out_type is None:
            raise imp.fail(f"QuantizeLinear zero point '{zp_name}' must be an initializer")
    if out_type not in _QRANGE:
        name = onnx.TensorProto.DataType.Name(out_type) if out_type in onnx.TensorProto.DataType.values() else out_type
        raise imp.fail(f"unsupported quantized type {name}; use int8/uint8/int16/uint16 (or int4/uint4)")
    return out_type


def _level(bound: float, scale: float, qmin: int, qmax: int) -> int:
    """rint(bound / scale) limited to [qmin, qmax], without dividing a huge bound (no overflow)."""
    if bound <= qmin * scale:
        return qmin
    if bound >= qmax * scale:
        return qmax
    return int(np.rint(bound / scale))


def _dequantize_linear(imp: _Importer) -> None:
    node = imp.node
    q = imp.get(node.input[0])
    scale, zp, zp_name = _qparams(imp, "DequantizeLinear")
    if isinstance(q, Const):
        if q.value.dtype.kind not in "iu":
            raise imp.fail(f"DequantizeLinear input '{node.input[0]}' must be an integer tensor, got {q.value.dtype}")
        ints = q.value.astype(np.int64)
        s = _axis_view(imp, scale, ints.ndim, lambda a: ints.shape[a], f"DequantizeLinear scale '{node.input[1]}'")
        z = _axis_view(imp, zp, ints.ndim, lambda a: ints.shape[a], f"DequantizeLinear zero point '{zp_name}'")
        imp.values[node.output[0]] = Const((ints - z) * s)
        return
    if not isinstance(q, Quantized):
        raise imp.fail("DequantizeLinear must directly follow a QuantizeLinear")
    if scale.size != 1 or float(scale.reshape(())) != q.scale or int(zp.reshape(())) != q.zero_point:
        raise imp.fail("DequantizeLinear scale/zero point must equal those of its QuantizeLinear")
    out_name = node.output[0]
    if isinstance(q.of, FloatIn):
        lo = _level(q.of.clip_lo, q.scale, q.qmin, q.qmax)
        hi = _level(q.of.clip_hi, q.scale, q.qmin, q.qmax)
        name = imp.new_tensor(q.of.name, q.of.shape, q.scale)
        imp.tensors[name].lo, imp.tensors[name].hi = lo, hi
        imp.input_name = name
        imp.values[out_name] = IntVal(name)
        return
    p = q.of
    src = imp.tensors[p.source]
    name = imp.new_tensor(out_name, src.shape, q.scale)
    # a clamp before the quantizer narrows its levels (rint is monotone, so this changes no value)
    qmin = _level(p.clamp_lo, q.scale, q.qmin, q.qmax)
    qmax = _level(p.clamp_hi, q.scale, q.qmin, q.qmax)
    if p.clamp_lo > p.clamp_hi:
        raise imp.fail(f"the clip range [{p.clamp_lo:g}, {p.clamp_hi:g}] is empty")
    imp.add_layer(ir.AffineQuant(name=imp.unique(q.node), inputs=[p.source], output=name, a=p.a, b=p.b,
                                 clamp_lo=p.clamp_lo, clamp_hi=p.clamp_hi, out_scale=q.scale,
                                 qmin=qmin, qmax=qmax))
    imp.values[out_name] = IntVal(name)


def _sign(imp: _Importer) -> None:
    p = imp.as_pending(imp.get(imp.node.input[0]))
    src = imp.tensors[p.source]
    name = imp.new_tensor(imp.node.output[0], src.shape, 1.0)
    imp.add_layer(ir.AffineQuant(name=imp.layer_name(), inputs=[p.source], output=name, a=p.a, b=p.b,
                                 clamp_lo=p.clamp_lo, clamp_hi=p.clamp_hi, sign=True, qmin=-1, qmax=1))
    imp.values[imp.node.output[0]] = IntVal(name)


def _relu(imp: _Importer) -> None:
    p = imp.as_pending(imp.get(imp.node.input[0]))
    imp.values[imp.node.output[0]] = _with_origin(p.with_clamp(0.0, np.inf), imp)


def _with_origin(p: Pending, imp: _Importer) -> Pending:
    if p.origin is None:
        p.origin = imp.node.name or imp.node.op_type
    return p


def _clip_bound(imp: _Importer, index: int, attr: str, default: float) -> float:
    name = imp.opt_input(index)
    what = f"Clip {attr}" + (f" '{name}'" if name else "")
    if name is None:
        value = np.asarray(checks.float_attr(imp.fail, imp.attrs(), attr, default) if attr in imp.attrs()
                           else default)
    else:
        value = imp.float_const(name, f"Clip {attr}")
    if value.size != 1:
        raise imp.fail(f"{what} must be a scalar, got shape {value.shape}")
    if np.isnan(value).any():
        raise imp.fail(f"{what} is NaN; give a number (or leave it out for no bound)")
    return float(value.reshape(()))


def _clip(imp: _Importer) -> None:
    lo, hi = _clip_bound(imp, 1, "min", -np.inf), _clip_bound(imp, 2, "max", np.inf)
    if lo > hi:  # ONNX then outputs max everywhere: a constant, surely an export mistake
        raise imp.fail(f"Clip min {lo:g} is above its max {hi:g}; swap them")
    x = imp.get(imp.node.input[0])
    if isinstance(x, FloatIn):
        imp.values[imp.node.output[0]] = FloatIn(x.name, x.shape, max(x.clip_lo, lo), min(x.clip_hi, hi))
        return
    imp.values[imp.node.output[0]] = _with_origin(imp.as_pending(x).with_clamp(lo, hi), imp)


_BN_PARAMS = ("scale", "bias", "mean", "variance")


def _batch_norm(imp: _Importer) -> None:
    node = imp.node
    p = imp.as_pending(imp.get(node.input[0]))
    if p.has_clamp:
        raise imp.fail("BatchNormalization after an activation is not supported; put it before Relu/Clip")
    if len(node.input) != 5 or not all(node.input):
        raise imp.fail("BatchNormalization needs its 5 inputs (x, scale, bias, mean, variance)")
    if imp.attrs().get("training_mode", 0) or any(len(node.output) > 1 and o for o in node.output[1:]):
        raise imp.fail("BatchNormalization in training mode (training_mode=1 or running-statistics outputs) "
                       "normalises with the batch's statistics; export the model in eval mode")
    channels = p.a.size
    gamma, beta, mean, var = (
        checks.vector(imp.fail, imp.float_const(name, f"BatchNormalization {what}"),
                      f"BatchNormalization {what} '{name}'", channels)
        for name, what in zip(node.input[1:5], _BN_PARAMS, strict=True))
    eps = checks.float_attr(imp.fail, imp.attrs(), "epsilon", 1e-5)
    if eps < 0:
        raise imp.fail(f"attribute 'epsilon' = {eps:g} is negative")
    if np.any(var < 0):
        i = int(np.flatnonzero(var < 0)[0])
        raise imp.fail(f"BatchNormalization variance '{node.input[4]}' is negative ({var[i]:g} at channel {i})")
    if np.any(var + eps == 0):
        i = int(np.flatnonzero(var + eps == 0)[0])
        raise imp.fail(f"BatchNormalization variance '{node.input[4]}' + epsilon is 0 at channel {i} "
                       "(a division by zero); give epsilon > 0")
    k = gamma / np.sqrt(var + eps)
    a = checks.finite(imp.fail, p.a * k, "the BatchNormalization multiplier")
    b = checks.finite(imp.fail, (p.b - mean) * k + beta, "the BatchNormalization offset")
    imp.values[node.output[0]] = Pending(p.source, a, b, origin=node.name or node.output[0])


def _weights(imp: _Importer, w: np.ndarray, name: str) -> ir.Weights:
    checks.non_empty(imp.fail, w, f"weight '{name}'")
    checks.finite(imp.fail, w, f"weight '{name}'")
    weights = classify_weights(w)
    if weights is None:
        raise imp.fail(describe_non_exact(w))
    if weights.kind == "int":
        imp.notes.append(f"{imp.node.name or imp.node.output[0]}: weight '{name}' holds {weights.bits}-bit integers "
                         "(not powers of two) -> the multiplier (VPE) engine")
    return weights


def _window_attrs(imp: _Importer, attrs: dict) -> tuple[tuple[int, ...], tuple[int, ...]]:
    strides = checks.int_list(imp.fail, attrs, "strides", (1, 1), 2, 1, checks.MAX_WINDOW)
    dilations = checks.int_list(imp.fail, attrs, "dilations", (1, 1), 2, 1, checks.MAX_WINDOW)
    return strides, dilations


def _conv(imp: _Importer) -> None:
    node = imp.node
    if node.input[0] in imp.views:
        _conv_on_vector(imp)
        return
    x = imp.as_int(imp.get(node.input[0]), f"Conv '{node.name}'")
    t = imp.tensors[x]
    if len(t.shape) != 3:
        raise imp.fail(f"only 2-D convolutions on (N, C, H, W) inputs are supported, input shape {t.shape}")
    w_name = node.input[1]
    w = imp.float_const(w_name, "Conv weight")
    if w.ndim != 4:
        raise imp.fail(f"Conv weight '{w_name}' has shape {w.shape}; expected (out channels, in channels / group, "
                       "kH, kW)")
    attrs = imp.attrs()
    groups = checks.int_attr(imp.fail, attrs, "group", 1, 1, t.shape[0])
    if w.shape[1] * groups != t.shape[0] or w.shape[0] % groups:
        raise imp.fail(f"weight '{w_name}' shape {w.shape} does not match {t.shape[0]} input channels and "
                       f"group={groups}")
    kernel = checks.int_list(imp.fail, attrs, "kernel_shape", w.shape[2:], 2, 1, checks.MAX_WINDOW)
    if kernel != tuple(w.shape[2:]):
        raise imp.fail(f"attribute 'kernel_shape' = {list(kernel)} disagrees with weight '{w_name}' of shape "
                       f"{w.shape}")
    strides, dilations = _window_attrs(imp, attrs)
    pads = _pads(imp, attrs, t.shape[1:], kernel, strides, dilations)
    weights = _weights(imp, w, w_name)
    oc = w.shape[0]
    oh, ow = _window_output(imp, t.shape[1:], kernel, strides, pads, dilations)
    scale = t.scale * 2.0**weights.int_scale_exp
    out = imp.new_tensor(node.output[0], (oc, oh, ow), scale)
    imp.add_layer(ir.Conv(name=imp.layer_name(), inputs=[x], output=out, weights=weights,
                          bias=np.zeros(oc, np.int64), strides=strides, pads=pads, dilations=dilations,
                          groups=groups))
    bias = np.zeros(oc)
    if imp.opt_input(2):
        b_name = node.input[2]
        what = f"Conv bias '{b_name}'"
        bias = checks.vector(imp.fail, imp.float_const(b_name, "Conv bias"), what, oc)
        bias = checks.bounded_steps(imp.fail, bias, scale, what)
    imp.values[node.output[0]] = Pending(out, np.full(oc, scale), bias, origin=node.name or node.output[0])


def _conv_on_vector(imp: _Importer) -> None:
    """A 1x1 Conv on an (F, 1, 1) view of a vector is a Dense layer (its output is an (OC, 1, 1) view)."""
    node = imp.node
    w = imp.float_const(node.input[1], "Conv weight")
    attrs = imp.attrs()
    if (w.ndim != 4 or w.shape[2:] != (1, 1) or list(attrs.get("kernel_shape", [1, 1])) != [1, 1]
            or attrs.get("group", 1) != 1 or any(attrs.get("pads", ()))
            or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID", "NOTSET", "VALID", b"", "")
            or any(d != 1 for d in attrs.get("dilations", ()))):
        raise imp.fail(f"on the 1x1 map reshaped from a vector only a 1x1 Conv (group 1, no pads) is supported, "
                       f"weight shape {w.shape}")
    _dense(imp, imp.get(node.input[0]), w[:, :, 0, 0], node.input[1], imp.opt_input(2), f"Conv '{node.name}'")
    imp.views[node.output[0]] = (w.shape[0], 1, 1)


def _window_output(imp: _Importer, hw, kernel, strides, pads, dilations=(1, 1)) -> tuple[int, int]:
    oh, ow = ir.conv_output_hw(hw, kernel, strides, pads, dilations)
    if oh < 1 or ow < 1:
        raise imp.fail(f"a {kernel} window does not fit the {hw[0]}x{hw[1]} input (pads {pads}); use a smaller "
                       "kernel or pad the input")
    if oh > checks.MAX_DIM or ow > checks.MAX_DIM:
        raise imp.fail(f"the output would be {oh}x{ow} (pads {pads}); nbq compiles sizes up to {checks.MAX_DIM:,}")
    return oh, ow


_AUTO_PADS = ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER")


def _pads(imp, attrs, hw, kernel, strides, dilations) -> tuple[int, int, int, int]:
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode(errors="replace") if isinstance(auto, bytes) else str(auto)
    if auto not in _AUTO_PADS and auto != "":
        raise imp.fail(f"attribute 'auto_pad' = {auto!r} must be one of {', '.join(_AUTO_PADS)}")
    if auto in ("NOTSET", ""):
        return checks.int_list(imp.fail, attrs, "pads", (0, 0, 0, 0), 4, 0, checks.MAX_DIM)
    if auto == "VALID":
        return (0, 0, 0, 0)
    begin, end = [], []
    for i in range(2):
        out = -(-hw[i] // strides[i])
        total = max(0, (out - 1) * strides[i] + dilations[i] * (kernel[i] - 1) + 1 - hw[i])
        small, big = total // 2, total - total // 2
        begin.append(small if auto == "SAME_UPPER" else big)
        end.append(big if auto == "SAME_UPPER" else small)
    return (begin[0], begin[1], end[0], end[1])


def _dense(imp: _Importer, x_value: Value, w: np.ndarray, w_name: str, bias_name: str | None, what: str,
           beta: float = 1.0) -> None:
    x = imp.as_int(x_value, what)
    t = imp.tensors[x]
    if len(t.shape) != 1:
        raise imp.fail(f"input must be flat (N, F); got {t.shape} — add Flatten")
    if w.ndim != 2 or w.shape[1] != t.shape[0]:
        raise imp.fail(f"weight '{w_name}' shape {w.shape} does not match {t.shape[0]} input features")
    weights = _weights(imp, w, w_name)
    features = w.shape[0]
    scale = t.scale * 2.0**weights.int_scale_exp
    b = np.zeros(features)
    if bias_name is not None:
        label = f"bias '{bias_name}'"
        raw = imp.float_const(bias_name, "bias") * beta
        if raw.size != 1 and raw.shape not in ((features,), (1, features)):
            raise imp.fail(f"{label} has shape {raw.shape}; nbq takes one bias value per output, the same for "
                           f"every image (row): give ({features},) or (1, {features}) for {features} outputs")
        b = checks.bounded_steps(imp.fail, np.broadcast_to(raw.reshape(-1), (features,)).copy(), scale, label)
    out = imp.new_tensor(imp.node.output[0], (features,), scale)
    imp.add_layer(ir.Dense(name=imp.layer_name(), inputs=[x], output=out, weights=weights,
                           bias=np.zeros(features, np.int64)))
    imp.values[imp.node.output[0]] = Pending(out, np.full(features, scale), b,
                                             origin=imp.node.name or imp.node.output[0])


def _gemm(imp: _Importer) -> None:
    """alpha * A' B' + beta * C: a power-of-two alpha goes into the weights exactly, any other into the
    pending multiplier (exact only when a quantizer follows); beta scales the (float) bias."""
    node = imp.node
    attrs = imp.attrs()
    if attrs.get("transA", 0):
        raise imp.fail("Gemm with transA=1 multiplies across the batch, not per image; export it with transA=0 "
                       "(transpose the weight, transB, instead)")
    alpha = checks.float_attr(imp.fail, attrs, "alpha", 1.0)
    beta = checks.float_attr(imp.fail, attrs, "beta", 1.0)
    if not np.isfinite(alpha) or alpha == 0 or not np.isfinite(beta):
        raise imp.fail(f"Gemm alpha = {alpha:g}, beta = {beta:g}: alpha must be finite and non-zero, beta finite")
    w = imp.float_const(node.input[1], "Gemm weight")
    if w.ndim != 2:
        raise imp.fail(f"Gemm weight '{node.input[1]}' has shape {w.shape}; expected a matrix")
    w = w if attrs.get("transB", 0) else w.T
    exact = is_power_of_two(abs(alpha))
    if exact:
        w = w * alpha
    _dense(imp, imp.get(node.input[0]), w, node.input[1], imp.opt_input(2), f"Gemm '{node.name}'", beta)
    if not exact:
        p = imp.values[node.output[0]]
        imp.values[node.output[0]] = dataclasses.replace(p, a=p.a * alpha)


def _matmul(imp: _Importer) -> None:
    node = imp.node
    w = imp.float_const(node.input[1], "MatMul weight (second input)")
    if w.ndim != 2:
        raise imp.fail(f"MatMul weight '{node.input[1]}' has shape {w.shape}; expected a matrix")
    _dense(imp, imp.get(node.input[0]), w.T, node.input[1], None, f"MatMul '{node.name}'")


def _pool_common(imp: _Importer, attrs: dict) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Checks shared by the pools; returns (kernel, strides)."""
    if attrs.get("ceil_mode", 0) and imp.node.op_type != "MaxPool":
        raise imp.fail("ceil_mode=1 is supported for MaxPool only; use ceil_mode=0 (or pad the input)")
    if "kernel_shape" not in attrs:
        raise imp.fail("attribute 'kernel_shape' is missing")
    kernel = checks.int_list(imp.fail, attrs, "kernel_shape", (1, 1), 2, 1, checks.MAX_WINDOW)
    strides, dilations = _window_attrs(imp, attrs)
    if any(d != 1 for d in dilations):
        raise imp.fail("dilated pooling is not supported")
    if len(imp.node.output) > 1 and imp.node.output[1]:
        raise imp.fail("MaxPool indices output is not supported")
    return kernel, strides


def _max_pool(imp: _Importer) -> None:
    node = imp.node
    attrs = imp.attrs()
    kernel, strides = _pool_common(imp, attrs)
    x = imp.as_int(imp.get(node.input[0]), f"MaxPool '{node.name}'")
    t = imp.tensors[x]
    if len(t.shape) != 3:
        raise imp.fail(f"expected a (C, H, W) input, got {t.shape}")
    pads = _pads(imp, attrs, t.shape[1:], kernel, strides, (1, 1))
    if attrs.get("ceil_mode", 0):  # ceil_mode: the partial last windows read extra bottom/right padding
        extra = [ceil_extra(t.shape[1 + i], kernel[i], strides[i], pads[i], pads[i + 2]) for i in range(2)]
        pads = (pads[0], pads[1], pads[2] + extra[0], pads[3] + extra[1])
    oh, ow = _window_output(imp, t.shape[1:], kernel, strides, pads)
    out = imp.new_tensor(node.output[0], (t.shape[0], oh, ow), t.scale)
    imp.add_layer(ir.MaxPool(name=imp.layer_name(), inputs=[x], output=out, kernel=kernel, strides=strides,
                             pads=pads))
    imp.values[node.output[0]] = IntVal(out)


def _sum_pool(imp: _Importer, kernel: tuple[int, int], strides: tuple[int, int],
              pads: tuple[int, int, int, int] = (0, 0, 0, 0), divisor: int | None = None) -> None:
    """Average pooling as an exact window sum (zero padding) over `divisor` (default: the kernel area);
    a pending affine commutes with it when nothing is padded."""
    node = imp.node
    x_value = imp.get(node.input[0])
    pending = not any(pads) and isinstance(x_value, Pending) and not x_value.has_clamp and not np.all(
        x_value.a == imp.tensors[x_value.source].scale
    )  # (a padded zero would meet the pending offset b: not an affine of the sum)
    x = x_value.source if pending else imp.as_int(x_value, f"{node.op_type} '{node.name}'")
    t = imp.tensors[x]
    oh, ow = _window_output(imp, t.shape[1:], kernel, strides, pads)
    window = divisor or kernel[0] * kernel[1]
    out = imp.new_tensor(node.output[0], (t.shape[0], oh, ow), t.scale / window)
    imp.add_layer(ir.SumPool(name=imp.layer_name(), inputs=[x], output=out, kernel=kernel, strides=strides,
                             pads=tuple(pads)))
    if pending:
        imp.values[node.output[0]] = Pending(out, x_value.a / window, x_value.b, origin=x_value.origin)
    else:
        imp.values[node.output[0]] = IntVal(out)


def _average_pool(imp: _Importer) -> None:
    attrs = imp.attrs()
    kernel, strides = _pool_common(imp, attrs)
    shape = imp.shape_of(imp.get(imp.node.input[0]))
    if len(shape) != 3:
        raise imp.fail(f"expected a (C, H, W) input, got {shape}")
    pads = _pads(imp, attrs, shape[1:], kernel, strides, (1, 1))
    if not any(pads):
        _sum_pool(imp, kernel, strides)
        return
    oh, ow = _window_output(imp, shape[1:], kernel, strides, pads)
    if attrs.get("count_include_pad", 0):
        divisors = {kernel[0] * kernel[1]}
    else:  # the divisor is each window's count of real cells
        rows = real_counts(shape[1], kernel[0], strides[0], pads[0], oh)
        cols = real_counts(shape[2], kernel[1], strides[1], pads[1], ow)
        divisors = {r * c for r in rows for c in cols}
    if len(divisors) != 1 or not is_power_of_two(float(next(iter(divisors)))):
        what = "count_include_pad=1" if attrs.get("count_include_pad", 0) else "count_include_pad=0"
        raise imp.fail(f"padded AveragePool ({what}, pads {list(pads)}) divides its windows by "
                       f"{sorted(divisors)}; nbq needs one power-of-two divisor for an exact scale: "
                       "change the kernel or the pads, or pad the input with a Conv")
    _sum_pool(imp, kernel, strides, pads, next(iter(divisors)))


def _global_average_pool(imp: _Importer) -> None:
    if imp.node.input[0] in imp.views:  # the average of one pixel
        imp.values[imp.node.output[0]] = imp.get(imp.node.input[0])
        imp.views[imp.node.output[0]] = imp.views[imp.node.input[0]]
        return
    shape = imp.shape_of(imp.get(imp.node.input[0]))
    if len(shape) != 3:
        raise imp.fail(f"expected a (C, H, W) input, got {shape}")
    _sum_pool(imp, shape[1:], shape[1:])


def _reduce_mean(imp: _Importer) -> None:
    """ReduceMean over the two spatial axes (how torch's exporter writes AdaptiveAvgPool2d(1)) is a
    GlobalAveragePool; keepdims=0 then flattens (C, 1, 1) to (C,)."""
    node, attrs = imp.node, imp.attrs()
    axes_name = imp.opt_input(1)
    axes = imp.const(axes_name, "ReduceMean axes") if axes_name else attrs.get("axes")
    ndim = len(imp.onnx_shape(node.input[0])) + 1  # with N
    spatial = None if axes is None else sorted(int(a) % ndim for a in np.asarray(axes).reshape(-1))
    if ndim != 4 or spatial != [2, 3]:
        raise imp.fail(f"ReduceMean over axes {None if axes is None else np.asarray(axes).tolist()} is not "
                       "supported; nbq averages over the spatial axes [2, 3] of (N, C, H, W) only "
                       "(a GlobalAveragePool)")
    if not attrs.get("keepdims", 1):
        pooled = node.output[0] + "_keepdims"
        imp.node = helper.make_node("GlobalAveragePool", [node.input[0]], [pooled], name=node.name)
        _global_average_pool(imp)
        imp.node = helper.make_node("Flatten", [pooled], [node.output[0]], name=node.name + "_flatten")
        simple_ops.flatten(imp)
        imp.node = node
        return
    _global_average_pool(imp)


_HANDLERS = {
    "QuantizeLinear": _quantize_linear,
    "DequantizeLinear": _dequantize_linear,
    "Conv": _conv,
    "Gemm": _gemm,
    "MatMul": _matmul,
    "BatchNormalization": _batch_norm,
    "Relu": _relu,
    "Clip": _clip,
    "Sign": _sign,
    "MaxPool": _max_pool,
    "AveragePool": _average_pool,
    "GlobalAveragePool": _global_average_pool,
    "ReduceMean": _reduce_mean,
    "Flatten": simple_ops.flatten,
    "Reshape": lambda imp: stream_ops.reshape(imp, simple_ops.flatten),
    "Concat": stream_ops.concat,
    "Transpose": stream_ops.transpose,
    "Squeeze": simple_ops.flatten,
    "Unsqueeze": simple_ops.flatten,
    "Add": simple_ops.add,
    "Sum": simple_ops.sum_,
    "Mul": simple_ops.mul_div,
    "Div": simple_ops.mul_div,
    "LRN": simple_ops.lrn,
    **{op: simple_ops.tail_op for op in simple_ops.TAIL_OPS},
    "Identity": _pass_through,
    "Dropout": _pass_through,
    "Constant": _constant,
}

# op -> the domains it may come from (default: the standard ONNX domain); QONNX ops add theirs
_DOMAINS: dict[str, tuple[str, ...]] = {}
qonnx_ops.register(_HANDLERS, _DOMAINS)
