"""ONNX file -> nbq IR.

The importer walks the nodes in order and keeps, for every ONNX value, what
it is (see values.py).  Integer-only ops force a Pending float chain to become
an exact integer tensor, or fail with a message that names the node.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

from nbq import ir
from nbq.errors import NbqError, UnsupportedModelError
from nbq.formats import is_power_of_two
from nbq.frontend.complex_fusion import fuse_complex_convs
from nbq.frontend.names import check_names
from nbq.frontend.values import Const, FloatIn, IntVal, Pending, Quantized, Value
from nbq.frontend.weights import classify_weights, describe_non_exact

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


def load_onnx(path: str | Path) -> onnx.ModelProto:
    """Read and check a model; every failure is a one-line NbqError.

    No ONNX shape inference: the importer derives every shape itself.
    """
    path = Path(path)
    if not path.exists():
        raise NbqError(f"{path}: no such file")
    if not path.is_file():
        raise NbqError(f"{path}: not a file")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf raises several types
        raise NbqError(f"{path}: not an ONNX model ({type(exc).__name__}); give a .onnx file") from None
    if not model.graph.node:
        raise NbqError(f"{path}: not an ONNX model (no graph nodes); give a .onnx file")
    try:
        onnx.checker.check_model(model)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NbqError(f"{path}: invalid ONNX model: {first}") from None
    return model


def import_onnx(path: str | Path) -> ir.Graph:
    """Load an ONNX file and lower it to an (unoptimised) nbq IR graph."""
    model = load_onnx(path)
    check_names(model, path)
    model, fused = fuse_complex_convs(model)
    graph = _Importer(model, str(path)).run()
    graph.meta["fused_complex_convs"] = fused
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
            raise self.fail(f"{what} must be a constant (initializer)")
        return value.value

    def opt_input(self, index: int) -> str | None:
        if len(self.node.input) > index and self.node.input[index]:
            return self.node.input[index]
        return None

    def attrs(self) -> dict:
        return {a.name: helper.get_attribute_value(a) for a in self.node.attribute}

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
        src = self.tensors[value.source]
        if not np.all(value.a == src.scale):
            raise self.fail(
                f"a float result (from '{value.origin}') reaches {consumer or 'this node'} without a quantizer; "
                "add QuantizeLinear/DequantizeLinear (or Sign) after the BatchNormalization/activation"
            )
        tensor = value.source
        bias = value.b / src.scale
        if np.any(bias != 0):
            producer = next((lay for lay in self.layers if lay.output == tensor), None)
            if not isinstance(producer, ir.Conv | ir.Dense) or self._consumed(tensor):
                raise self.fail(
                    f"a bias (from '{value.origin}') must directly follow a Conv/Gemm/MatMul to stay exact"
                )
            producer.bias = producer.bias + np.rint(bias).astype(np.int64)
        if value.has_clamp:
            bounds = []
            for bound in (value.clamp_lo, value.clamp_hi):
                if not np.isfinite(bound):
                    bounds.append(None)
                    continue
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

    def _consumed(self, tensor: str) -> bool:
        return any(tensor in lay.inputs for lay in self.layers)

    # ------------------------------------------------------------- walk

    def run(self) -> ir.Graph:
        graph = self.model.graph
        for init in graph.initializer:
            self.values[init.name] = Const(numpy_helper.to_array(init).astype(np.float64)
                                           if numpy_helper.to_array(init).dtype.kind == "f"
                                           else numpy_helper.to_array(init))
        inputs = [i for i in graph.input if i.name not in self.values]
        if len(inputs) != 1:
            raise self.fail(f"nbq compiles graphs with exactly one input, this one has {len(inputs)}")
        self._add_input(inputs[0])
        for node in graph.node:
            self.node = node
            handler = _HANDLERS.get(node.op_type)
            if handler is None or node.domain not in ("", "ai.onnx"):
                raise self.fail(
                    f"unsupported op '{node.op_type}'"
                    + (f" in domain '{node.domain}'" if node.domain not in ("", "ai.onnx") else "")
                    + f"; supported: {', '.join(sorted(_HANDLERS))}"
                )
            handler(self)
        self.node = None
        outputs = []
        for out in graph.output:
            value = self.get(out.name)
            tensor = self.as_int(value, consumer=f"graph output '{out.name}'")
            outputs.append(tensor)
        name = Path(self.source).stem
        return ir.Graph(name=name, inputs=[self.input_name], outputs=outputs, tensors=self.tensors,
                        layers=self.layers, source=self.source,
                        meta={"onnx_outputs": [o.name for o in graph.output],
                              "onnx_input": inputs[0].name,
                              "opset": max((o.version for o in self.model.opset_import if o.domain in ("", "ai.onnx")),
                                           default=0)})

    def _add_input(self, value_info: onnx.ValueInfoProto) -> None:
        dims = value_info.type.tensor_type.shape.dim
        shape = [d.dim_value if d.HasField("dim_value") else None for d in dims]
        if len(shape) not in (2, 4) or any(d is None for d in shape[1:]):
            raise self.fail(f"input '{value_info.name}' must be (N, C, H, W) or (N, F) with fixed C/H/W/F, got {shape}")
        if shape[0] not in (None, 1):
            raise self.fail(f"input '{value_info.name}' batch dimension must be 1 or dynamic, got {shape[0]}")
        self.values[value_info.name] = FloatIn(value_info.name, tuple(shape[1:]))


# ================================================================ handlers


def _pass_through(imp: _Importer) -> None:
    imp.values[imp.node.output[0]] = imp.get(imp.node.input[0])


def _constant(imp: _Importer) -> None:
    attrs = imp.attrs()
    if "value" not in attrs:
        raise imp.fail("only Constant with a tensor 'value' is supported")
    imp.values[imp.node.output[0]] = Const(numpy_helper.to_array(attrs["value"]))


def _scalar_param(imp: _Importer, index: int, what: str, default=None) -> np.ndarray | None:
    name = imp.opt_input(index)
    if name is None:
        return default
    return imp.const(name, what)


def _quantize_linear(imp: _Importer) -> None:
    node = imp.node
    x = imp.get(node.input[0])
    scale = imp.const(node.input[1], "QuantizeLinear scale")
    zp_name = imp.opt_input(2)
    zp = imp.const(zp_name, "QuantizeLinear zero point") if zp_name else np.zeros((), np.uint8)
    out_type = _quant_type(imp, zp_name)
    qmin, qmax = _QRANGE[out_type]
    if isinstance(x, Const):  # constant folding (quantized weights)
        q = np.clip(np.rint(x.value / scale) + zp.astype(np.int64), qmin, qmax)
        imp.values[node.output[0]] = Const(q.astype(np.int64))
        return
    if scale.size != 1:
        raise imp.fail("per-axis activation scales are not supported; use one power-of-two scale")
    scale = float(scale.reshape(()))
    if not is_power_of_two(scale):
        raise imp.fail(f"activation scale {scale:g} is not a power of two")
    zero = int(np.asarray(zp).reshape(()))
    if isinstance(x, IntVal):
        x = imp.as_pending(x)
    if not isinstance(x, FloatIn | Pending):
        raise imp.fail("QuantizeLinear input must be the graph input or a Conv/Gemm result")
    imp.values[node.output[0]] = Quantized(x, scale, zero, qmin - zero, qmax - zero, node.name or node.output[0])


def _quant_type(imp: _Importer, zp_name: str | None) -> int:
    if zp_name is None:
        attrs = imp.attrs()
        return attrs.get("output_dtype", onnx.TensorProto.UINT8) or onnx.TensorProto.UINT8
    for init in imp.model.graph.initializer:
        if init.name == zp_name:
            if init.data_type not in _QRANGE:
                raise imp.fail(f"unsupported quantized type {onnx.TensorProto.DataType.Name(init.data_type)}")
            return init.data_type
    raise imp.fail("QuantizeLinear zero point must be an initializer")


def _dequantize_linear(imp: _Importer) -> None:
    node = imp.node
    q = imp.get(node.input[0])
    scale = imp.const(node.input[1], "DequantizeLinear scale")
    zp_name = imp.opt_input(2)
    zp = imp.const(zp_name, "DequantizeLinear zero point") if zp_name else np.zeros((), np.int64)
    if isinstance(q, Const):
        axis = imp.attrs().get("axis", 1)
        s, z = scale.astype(np.float64), zp.astype(np.int64)
        if s.ndim == 1 and s.size > 1:
            shape = [1] * q.value.ndim
            shape[axis] = -1
            s, z = s.reshape(shape), z.reshape(shape)
        imp.values[node.output[0]] = Const((q.value.astype(np.int64) - z) * s)
        return
    if not isinstance(q, Quantized):
        raise imp.fail("DequantizeLinear must directly follow a QuantizeLinear")
    if scale.size != 1 or float(scale.reshape(())) != q.scale or int(np.asarray(zp).reshape(())) != q.zero_point:
        raise imp.fail("DequantizeLinear scale/zero point must equal those of its QuantizeLinear")
    out_name = node.output[0]
    if isinstance(q.of, FloatIn):
        lo = max(q.qmin, int(np.ceil(np.rint(q.of.clip_lo / q.scale)))) if np.isfinite(q.of.clip_lo) else q.qmin
        hi = min(q.qmax, int(np.floor(np.rint(q.of.clip_hi / q.scale)))) if np.isfinite(q.of.clip_hi) else q.qmax
        name = imp.new_tensor(q.of.name, q.of.shape, q.scale)
        imp.tensors[name].lo, imp.tensors[name].hi = lo, hi
        imp.input_name = name
        imp.values[out_name] = IntVal(name)
        return
    p = q.of
    src = imp.tensors[p.source]
    name = imp.new_tensor(out_name, src.shape, q.scale)
    # a clamp before the quantizer narrows its levels (rint is monotone, so this changes no value)
    qmin = max(q.qmin, int(np.rint(p.clamp_lo / q.scale))) if np.isfinite(p.clamp_lo) else q.qmin
    qmax = min(q.qmax, int(np.rint(p.clamp_hi / q.scale))) if np.isfinite(p.clamp_hi) else q.qmax
    if qmin > qmax:
        raise imp.fail(f"the clip range [{p.clamp_lo:g}, {p.clamp_hi:g}] is outside the quantizer's range")
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


def _clip(imp: _Importer) -> None:
    attrs = imp.attrs()
    lo = _scalar_param(imp, 1, "Clip min", np.array(attrs.get("min", -np.inf)))
    hi = _scalar_param(imp, 2, "Clip max", np.array(attrs.get("max", np.inf)))
    lo, hi = float(np.asarray(lo).reshape(())), float(np.asarray(hi).reshape(()))
    x = imp.get(imp.node.input[0])
    if isinstance(x, FloatIn):
        imp.values[imp.node.output[0]] = FloatIn(x.name, x.shape, max(x.clip_lo, lo), min(x.clip_hi, hi))
        return
    imp.values[imp.node.output[0]] = _with_origin(imp.as_pending(x).with_clamp(lo, hi), imp)


def _batch_norm(imp: _Importer) -> None:
    node = imp.node
    p = imp.as_pending(imp.get(node.input[0]))
    if p.has_clamp:
        raise imp.fail("BatchNormalization after an activation is not supported; put it before Relu/Clip")
    gamma, beta, mean, var = (imp.const(n, "BatchNormalization parameter").astype(np.float64) for n in node.input[1:5])
    eps = float(imp.attrs().get("epsilon", 1e-5))
    k = gamma / np.sqrt(var + eps)
    if k.shape != p.a.shape:
        raise imp.fail(f"BatchNormalization has {k.size} channels, its input {p.a.size}")
    imp.values[node.output[0]] = Pending(p.source, p.a * k, (p.b - mean) * k + beta,
                                         origin=node.name or node.output[0])


def _weights(imp: _Importer, w: np.ndarray) -> ir.Weights:
    weights = classify_weights(w)
    if weights is None:
        raise imp.fail(describe_non_exact(w))
    return weights


def _conv(imp: _Importer) -> None:
    node = imp.node
    x = imp.as_int(imp.get(node.input[0]), f"Conv '{node.name}'")
    t = imp.tensors[x]
    if len(t.shape) != 3:
        raise imp.fail(f"only 2-D convolutions on (N, C, H, W) inputs are supported, input shape {t.shape}")
    w = imp.const(node.input[1], "Conv weight").astype(np.float64)
    attrs = imp.attrs()
    kernel = tuple(attrs.get("kernel_shape", w.shape[2:]))
    strides = tuple(attrs.get("strides", (1, 1)))
    dilations = tuple(attrs.get("dilations", (1, 1)))
    groups = int(attrs.get("group", 1))
    pads = _pads(imp, attrs, t.shape[1:], kernel, strides, dilations)
    if w.ndim != 4 or w.shape[1] * groups != t.shape[0]:
        raise imp.fail(f"weight shape {w.shape} does not match {t.shape[0]} input channels and group={groups}")
    weights = _weights(imp, w)
    oc = w.shape[0]
    oh, ow = _window_output(imp, t.shape[1:], kernel, strides, pads, dilations)
    scale = t.scale * 2.0**weights.int_scale_exp
    out = imp.new_tensor(node.output[0], (oc, oh, ow), scale)
    imp.add_layer(ir.Conv(name=imp.layer_name(), inputs=[x], output=out, weights=weights,
                          bias=np.zeros(oc, np.int64), strides=strides, pads=pads, dilations=dilations,
                          groups=groups))
    bias = imp.const(node.input[2], "Conv bias").astype(np.float64) if imp.opt_input(2) else np.zeros(oc)
    imp.values[node.output[0]] = Pending(out, np.full(oc, scale), bias, origin=node.name or node.output[0])


def _window_output(imp: _Importer, hw, kernel, strides, pads, dilations=(1, 1)) -> tuple[int, int]:
    if min(strides) < 1:
        raise imp.fail(f"strides must be positive, got {strides}")
    oh, ow = ir.conv_output_hw(hw, kernel, strides, pads, dilations)
    if oh < 1 or ow < 1:
        raise imp.fail(f"a {kernel} window does not fit the {hw[0]}x{hw[1]} input (pads {pads})")
    return oh, ow


def _pads(imp, attrs, hw, kernel, strides, dilations) -> tuple[int, int, int, int]:
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("NOTSET", ""):
        pads = tuple(int(p) for p in attrs.get("pads", (0, 0, 0, 0)))
        if len(pads) != 4:
            raise imp.fail(f"expected 4 pads for a 2-D window, got {pads}")
        return pads
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


def _dense(imp: _Importer, x_value: Value, w: np.ndarray, bias: np.ndarray | None, what: str) -> None:
    x = imp.as_int(x_value, what)
    t = imp.tensors[x]
    if len(t.shape) != 1:
        raise imp.fail(f"input must be flat (N, F); got {t.shape} — add Flatten")
    if w.ndim != 2 or w.shape[1] != t.shape[0]:
        raise imp.fail(f"weight shape {w.shape} does not match {t.shape[0]} input features")
    weights = _weights(imp, w)
    scale = t.scale * 2.0**weights.int_scale_exp
    out = imp.new_tensor(imp.node.output[0], (w.shape[0],), scale)
    imp.add_layer(ir.Dense(name=imp.layer_name(), inputs=[x], output=out, weights=weights,
                           bias=np.zeros(w.shape[0], np.int64)))
    b = np.zeros(w.shape[0]) if bias is None else np.broadcast_to(bias.astype(np.float64), (w.shape[0],)).copy()
    imp.values[imp.node.output[0]] = Pending(out, np.full(w.shape[0], scale), b,
                                             origin=imp.node.name or imp.node.output[0])


def _gemm(imp: _Importer) -> None:
    node = imp.node
    attrs = imp.attrs()
    if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
        raise imp.fail("only Gemm with transA=0, alpha=1, beta=1 is supported")
    w = imp.const(node.input[1], "Gemm weight").astype(np.float64)
    w = w if attrs.get("transB", 0) else w.T
    bias = imp.const(node.input[2], "Gemm bias") if imp.opt_input(2) else None
    _dense(imp, imp.get(node.input[0]), w, bias, f"Gemm '{node.name}'")


def _matmul(imp: _Importer) -> None:
    node = imp.node
    w = imp.const(node.input[1], "MatMul weight (second input)").astype(np.float64)
    _dense(imp, imp.get(node.input[0]), w.T, None, f"MatMul '{node.name}'")


def _add(imp: _Importer) -> None:
    node = imp.node
    a, b = imp.get(node.input[0]), imp.get(node.input[1])
    if isinstance(a, Const):
        a, b = b, a
    if isinstance(b, Const):
        p = imp.as_pending(a)
        if p.has_clamp:
            raise imp.fail("adding a constant after an activation is not supported")
        c = _per_channel(imp, b.value, p.a.size)
        imp.values[node.output[0]] = Pending(p.source, p.a, p.b + c, origin=p.origin or node.name)
        return
    ta, tb = imp.as_int(a, f"Add '{node.name}'"), imp.as_int(b, f"Add '{node.name}'")
    sa, sb = imp.tensors[ta].scale, imp.tensors[tb].scale
    if imp.tensors[ta].shape != imp.tensors[tb].shape:
        raise imp.fail(f"Add of shapes {imp.tensors[ta].shape} and {imp.tensors[tb].shape} needs broadcasting")
    fine = min(sa, sb)
    shifts = []
    for s in (sa, sb):
        ratio = s / fine
        if not is_power_of_two(ratio):
            raise imp.fail(f"residual Add of scales {sa:g} and {sb:g}: their ratio is not a power of two")
        shifts.append(int(np.log2(ratio)))
    out = imp.new_tensor(node.output[0], imp.tensors[ta].shape, fine)
    imp.add_layer(ir.Add(name=imp.layer_name(), inputs=[ta, tb], output=out, shifts=tuple(shifts)))
    imp.values[node.output[0]] = IntVal(out)


def _per_channel(imp: _Importer, c: np.ndarray, channels: int) -> np.ndarray:
    c = np.asarray(c, dtype=np.float64)
    squeezed = c.reshape(-1) if c.size in (1, channels) else None
    if squeezed is None:
        raise imp.fail(f"constant of shape {c.shape} is not a per-channel bias for {channels} channels")
    return np.broadcast_to(squeezed, (channels,)).copy()


def _pool_common(imp: _Importer, attrs: dict) -> None:
    if attrs.get("ceil_mode", 0):
        raise imp.fail("ceil_mode=1 is not supported")
    if any(d != 1 for d in attrs.get("dilations", (1, 1))):
        raise imp.fail("dilated pooling is not supported")
    if len(imp.node.output) > 1 and imp.node.output[1]:
        raise imp.fail("MaxPool indices output is not supported")


def _max_pool(imp: _Importer) -> None:
    node = imp.node
    attrs = imp.attrs()
    _pool_common(imp, attrs)
    x = imp.as_int(imp.get(node.input[0]), f"MaxPool '{node.name}'")
    t = imp.tensors[x]
    kernel = tuple(attrs["kernel_shape"])
    strides = tuple(attrs.get("strides", (1, 1)))
    pads = _pads(imp, attrs, t.shape[1:], kernel, strides, (1, 1))
    oh, ow = _window_output(imp, t.shape[1:], kernel, strides, pads)
    out = imp.new_tensor(node.output[0], (t.shape[0], oh, ow), t.scale)
    imp.add_layer(ir.MaxPool(name=imp.layer_name(), inputs=[x], output=out, kernel=kernel, strides=strides,
                             pads=pads))
    imp.values[node.output[0]] = IntVal(out)


def _sum_pool(imp: _Importer, kernel: tuple[int, int], strides: tuple[int, int]) -> None:
    """Average pooling as an exact window sum; a pending affine commutes with it."""
    node = imp.node
    x_value = imp.get(node.input[0])
    pending = isinstance(x_value, Pending) and not x_value.has_clamp and not np.all(
        x_value.a == imp.tensors[x_value.source].scale
    )
    x = x_value.source if pending else imp.as_int(x_value, f"{node.op_type} '{node.name}'")
    t = imp.tensors[x]
    oh, ow = _window_output(imp, t.shape[1:], kernel, strides, (0, 0, 0, 0))
    window = kernel[0] * kernel[1]
    out = imp.new_tensor(node.output[0], (t.shape[0], oh, ow), t.scale / window)
    imp.add_layer(ir.SumPool(name=imp.layer_name(), inputs=[x], output=out, kernel=kernel, strides=strides))
    if pending:
        imp.values[node.output[0]] = Pending(out, x_value.a / window, x_value.b, origin=x_value.origin)
    else:
        imp.values[node.output[0]] = IntVal(out)


def _average_pool(imp: _Importer) -> None:
    attrs = imp.attrs()
    _pool_common(imp, attrs)
    kernel = tuple(attrs["kernel_shape"])
    strides = tuple(attrs.get("strides", (1, 1)))
    shape = imp.shape_of(imp.get(imp.node.input[0]))
    pads = _pads(imp, attrs, shape[1:], kernel, strides, (1, 1))
    if any(pads):
        raise imp.fail("AveragePool with padding is not supported (its divisor varies at the border)")
    _sum_pool(imp, kernel, strides)


def _global_average_pool(imp: _Importer) -> None:
    shape = imp.shape_of(imp.get(imp.node.input[0]))
    if len(shape) != 3:
        raise imp.fail(f"expected a (C, H, W) input, got {shape}")
    _sum_pool(imp, shape[1:], shape[1:])


def _flatten(imp: _Importer) -> None:
    node = imp.node
    if node.op_type == "Flatten" and imp.attrs().get("axis", 1) != 1:
        raise imp.fail("only Flatten with axis=1 is supported")
    x_value = imp.get(node.input[0])
    shape = imp.shape_of(x_value)
    features = int(np.prod(shape))
    if node.op_type == "Reshape":
        target = [int(d) for d in imp.const(node.input[1], "Reshape shape").reshape(-1)]
        if len(target) != 2 or target[1] not in (-1, features) or target[0] not in (-1, 0, 1):
            raise imp.fail(f"only Reshape to (N, -1) is supported, got {target}")
    if len(shape) == 1:
        imp.values[node.output[0]] = x_value
        return
    pending = isinstance(x_value, Pending)
    src = x_value.source if pending else imp.as_int(x_value)
    t = imp.tensors[src]
    out = imp.new_tensor(node.output[0], (features,), t.scale)
    imp.add_layer(ir.Flatten(name=imp.layer_name(), inputs=[src], output=out))
    if pending:
        per_channel = features // shape[0]
        imp.values[node.output[0]] = Pending(out, np.repeat(x_value.a, per_channel), np.repeat(x_value.b, per_channel),
                                             x_value.clamp_lo, x_value.clamp_hi, origin=x_value.origin)
    else:
        imp.values[node.output[0]] = IntVal(out)


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
    "Flatten": _flatten,
    "Reshape": _flatten,
    "Add": _add,
    "Identity": _pass_through,
    "Dropout": _pass_through,
    "Constant": _constant,
}
