"""The float graph evaluated in float64: every float32 tensor of the model made double, run by onnx.reference.

ONNX Runtime computes a float32 graph in float32, so a sum near 2^24 x its last quantization step loses
low bits (a ResNet-50's accumulators do).  The same graph in double precision is exact for such sums
(53-bit mantissa), so a reference that agrees with it but not with ORT is right and ORT's float32
rounding is the difference.  onnx.reference is slow (numpy, per node) but needs no kernels in double,
which ORT lacks for QuantizeLinear / DequantizeLinear.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from nbq.errors import NbqError


def _double(t: onnx.TensorProto) -> onnx.TensorProto:
    if t.data_type != TensorProto.FLOAT:
        return t
    return numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float64), t.name)


def to_float64(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of `model` whose float32 inputs, outputs, initializers, constants and casts are float64."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    for info in [*g.input, *g.output, *g.value_info]:
        if info.type.tensor_type.elem_type == TensorProto.FLOAT:
            info.type.tensor_type.elem_type = TensorProto.DOUBLE
    doubled = [_double(t) for t in g.initializer]
    del g.initializer[:]
    g.initializer.extend(doubled)
    for node in g.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                attr.t.CopyFrom(_double(attr.t))
            elif node.op_type == "Cast" and attr.name == "to" and attr.i == TensorProto.FLOAT:
                attr.i = TensorProto.DOUBLE
    return m


def _axis_shape(scale: np.ndarray, x: np.ndarray, axis: int) -> np.ndarray:
    """A per-axis scale / zero point shaped to broadcast along `axis` of x (a scalar stays a scalar)."""
    if scale.ndim == 0 or scale.size == 1:
        return scale.reshape(())
    shape = [1] * x.ndim
    shape[axis % x.ndim] = scale.size
    return scale.reshape(shape)


def _qdq_ops() -> list[type]:
    """QuantizeLinear / DequantizeLinear in float64 for onnx.reference (its own exist for opset >= 19 only)."""
    from onnx.reference.op_run import OpRun

    class QuantizeLinear(OpRun):
        op_domain = ""

        def _run(self, x, y_scale, y_zero_point=None, axis=1, **_attrs):
            zp = np.zeros((), np.uint8) if y_zero_point is None else np.asarray(y_zero_point)
            info = np.iinfo(zp.dtype)
            scale = _axis_shape(np.asarray(y_scale, np.float64), x, axis)
            q = np.rint(np.asarray(x, np.float64) / scale) + _axis_shape(zp.astype(np.float64), x, axis)
            return (np.clip(q, info.min, info.max).astype(zp.dtype),)

    class DequantizeLinear(OpRun):
        op_domain = ""

        def _run(self, x, x_scale, x_zero_point=None, axis=1, **_attrs):
            zp = np.zeros((), np.float64) if x_zero_point is None else np.asarray(x_zero_point, np.float64)
            scale = np.asarray(x_scale, np.float64)
            y = (np.asarray(x, np.float64) - _axis_shape(zp, x, axis)) * _axis_shape(scale, x, axis)
            return (y,)

    return [QuantizeLinear, DequantizeLinear]


def run_float64(model: str | Path | onnx.ModelProto, x: np.ndarray, input_name: str, output_names: list[str]
                ) -> list[np.ndarray]:
    """The model's outputs for images x, computed in float64 (onnx.reference)."""
    from onnx.reference import ReferenceEvaluator

    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model))
    if isinstance(model, onnx.ModelProto):
        model = model.graph.name or "the model"
    try:
        session = ReferenceEvaluator(to_float64(proto), new_ops=_qdq_ops())
        return [np.asarray(y) for y in session.run(output_names, {input_name: np.asarray(x, np.float64)})]
    except Exception as exc:  # onnx.reference lacks an op or a type: the float64 check is then unavailable
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NbqError(f"{model}: the float64 evaluation (onnx.reference) failed: {first[:200]}") from None
