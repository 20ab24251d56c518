"""Export nbq.nn models to the ONNX that nbq compiles (docs/onnx-contract.md).

The exporter writes the graph node by node instead of tracing, so the op
sequence is exactly the contract's:

    input → Clip → QuantizeLinear → DequantizeLinear          (input quantizer)
    Conv (power-of-two float initializer, no bias)
      → BatchNormalization(scale=a, B=b, mean=0, var=1, epsilon=0)
      → Clip(qmin·s, qmax·s) → QuantizeLinear(s) → DequantizeLinear(s)   or  → Sign
    MaxPool / GlobalAveragePool / Flatten / Add / Relu
    Gemm(transB=1, bias) → output "logits"

Weights are the deployed values Q(W) (exact codebook values, no α mix), so
``formats.fit_po2`` recovers the bit width; by default they are stored as
DequantizeLinear(int8 integers ±2^k, scale 2^-(r-1)) (see :func:`export`).  Opset 13, IR version 8, which
onnxruntime ≥ 1.18 loads.  Binary-complex layers are written as their four
real convolutions (Split → Conv ×4 → Sub/Add → Concat) or, with
``complex_form="block"``, as one real Conv with block weights [[A, -B], [B, A]].
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from nbq.errors import NbqError
from nbq.nn.layers import ActQuant, GlobalAvgPool, QBatchNorm, QConv2d, QLinear, SignAct

OPSET = 13
IR_VERSION = 8


class OnnxBuilder:
    """Collects nodes and initializers with unique, readable names."""

    def __init__(self, complex_form: str = "four_convs", weight_format: str = "dq"):
        if complex_form not in ("four_convs", "block"):
            raise ValueError("complex_form must be 'four_convs' or 'block'")
        if weight_format not in ("dq", "float"):
            raise ValueError("weight_format must be 'dq' or 'float'")
        self.complex_form, self.weight_format = complex_form, weight_format
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._used: dict[str, int] = {}

    def name(self, hint: str) -> str:
        count = self._used.get(hint, 0)
        name = hint if count == 0 else f"{hint}_{count}"
        while name in self._used:  # a hint that looks like an earlier generated name
            count += 1
            name = f"{hint}_{count}"
        self._used[hint] = count + 1
        self._used.setdefault(name, 1)
        return name

    def const(self, hint: str, value: np.ndarray) -> str:
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], hint: str | None = None, n_out: int = 1, **attrs) -> str | list[str]:
        base = self.name(hint or op.lower())
        outs = [base] if n_out == 1 else [f"{base}_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=base, **attrs))
        return outs[0] if n_out == 1 else outs

    def emit(self, module: nn.Module, x: str) -> str:
        """Emit one module (recursing into Sequentials); returns the output tensor name."""
        if isinstance(module, nn.Sequential):
            for child in module:
                x = self.emit(child, x)
            return x
        if hasattr(module, "onnx_emit"):
            return module.onnx_emit(self, x)
        for kind, fn in _EMITTERS.items():
            if isinstance(module, kind):
                return fn(self, module, x)
        raise NbqError(f"cannot export module {type(module).__name__}: no ONNX form defined")

    # ----------------------------------------------------------- shared pieces

    def weight(self, hint: str, w: torch.Tensor, step: float | None) -> str:
        """A weight tensor: DequantizeLinear(int8/int32 integers, scale = the codebook step) when quantized.

        Integer weights keep ONNX Runtime's optimizer from re-quantizing float
        weights to its own int8 grid (which would round ±1/2·127); nbq folds the
        DequantizeLinear back into exact codebook values.
        """
        w = w.detach().double().numpy()
        if step is None or self.weight_format == "float":
            return self.const(hint, w.astype(np.float32))
        ints = np.rint(w / step)
        if not np.array_equal(ints * step, w):
            raise NbqError(f"{hint}: weights are not multiples of {step}")
        dtype = np.int8 if np.abs(ints).max(initial=0) <= 127 else np.int32
        q = self.const(f"{hint}_int", ints.astype(dtype))
        s = self.const(f"{hint}_scale", np.array(step, np.float32))
        zp = self.const(f"{hint}_zp", np.array(0, dtype))
        return self.node("DequantizeLinear", [q, s, zp], hint)

    def conv(self, x: str, weight: torch.Tensor, stride, padding, bias: torch.Tensor | None = None,
             hint: str = "conv", groups: int = 1, step: float | None = None) -> str:
        w = self.weight(f"{hint}_w", weight, step)
        ins = [x, w]
        if bias is not None:
            ins.append(self.const(f"{hint}_b", bias.detach().float().numpy()))
        kh, kw = weight.shape[2:]
        ph, pw = (padding, padding) if isinstance(padding, int) else padding
        sh, sw = (stride, stride) if isinstance(stride, int) else stride
        return self.node("Conv", ins, hint, kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw],
                         group=groups)

    def qdq(self, x: str, scale: float, qmin: int, qmax: int, signed: bool, hint: str = "act") -> str:
        """Clip → QuantizeLinear → DequantizeLinear (power-of-two scale; uint8/int8 zero point)."""
        lo = self.const(f"{hint}_min", np.array(qmin * scale, np.float32))
        hi = self.const(f"{hint}_max", np.array(qmax * scale, np.float32))
        s = self.const(f"{hint}_scale", np.array(scale, np.float32))
        zp = self.const(f"{hint}_zp", np.array(0, np.int8 if signed else np.uint8))
        x = self.node("Clip", [x, lo, hi], f"{hint}_clip")
        q = self.node("QuantizeLinear", [x, s, zp], f"{hint}_q")
        return self.node("DequantizeLinear", [q, s, zp], f"{hint}_dq")


def _step(m: QConv2d | QLinear) -> float | None:
    return None if m.spec.kind == "float" else m.spec.step


def _emit_qconv(b: OnnxBuilder, m: QConv2d, x: str) -> str:
    w = m.deployed_weight()
    return b.conv(x, w, m.stride, m.padding, m._bias(w, train=False), groups=m.groups, step=_step(m))


def _emit_qlinear(b: OnnxBuilder, m: QLinear, x: str) -> str:
    w = m.deployed_weight()
    ins = [x, b.weight("fc_w", w, _step(m))]
    bias = m._bias(w, train=False)
    if bias is not None:
        ins.append(b.const("fc_b", bias.detach().float().numpy()))
    return b.node("Gemm", ins, "fc", transB=1)


def _emit_bn(b: OnnxBuilder, m: QBatchNorm, x: str) -> str:
    if m.in_step is None:  # ordinary (float) BatchNorm
        params = [m.weight, m.bias, m.running_mean, m.running_var]
        eps = m.eps
    else:
        a, bb = m.folded()
        params = [a, bb, torch.zeros_like(a), torch.ones_like(a)]
        eps = 0.0
    names = [b.const(f"bn_{k}", p.detach().float().numpy()) for k, p in zip(("scale", "B", "mean", "var"), params,
                                                                              strict=True)]
    return b.node("BatchNormalization", [x, *names], "bn", epsilon=eps)


def _emit_bn_plain(b: OnnxBuilder, m: nn.BatchNorm2d, x: str) -> str:
    names = [b.const(f"bn_{k}", p.detach().float().numpy()) for k, p in
             zip(("scale", "B", "mean", "var"), [m.weight, m.bias, m.running_mean, m.running_var], strict=True)]
    return b.node("BatchNormalization", [x, *names], "bn", epsilon=m.eps)


def _emit_act(b: OnnxBuilder, m: ActQuant, x: str) -> str:
    return b.qdq(x, m.scale, m.qmin, m.qmax, m.signed)


def _emit_maxpool(b: OnnxBuilder, m: nn.MaxPool2d, x: str) -> str:
    k = m.kernel_size if isinstance(m.kernel_size, tuple) else (m.kernel_size, m.kernel_size)
    s = m.stride if isinstance(m.stride, tuple) else (m.stride, m.stride)
    p = m.padding if isinstance(m.padding, tuple) else (m.padding, m.padding)
    if m.ceil_mode or m.dilation not in (1, (1, 1)):
        raise NbqError("MaxPool with ceil_mode or dilation cannot be compiled; use floor mode")
    return b.node("MaxPool", [x], "maxpool", kernel_shape=list(k), strides=list(s), pads=[p[0], p[1], p[0], p[1]])


def _emit_gap(b: OnnxBuilder, m: GlobalAvgPool, x: str) -> str:
    return b.node("Flatten", [b.node("GlobalAveragePool", [x], "gap")], "flatten", axis=1)


_EMITTERS: dict[type, Callable[[OnnxBuilder, nn.Module, str], str]] = {
    QConv2d: _emit_qconv,
    QLinear: _emit_qlinear,
    QBatchNorm: _emit_bn,
    nn.BatchNorm2d: _emit_bn_plain,
    nn.BatchNorm1d: _emit_bn_plain,
    ActQuant: _emit_act,
    SignAct: lambda b, m, x: b.node("Sign", [x], "sign"),
    nn.ReLU: lambda b, m, x: b.node("Relu", [x], "relu"),
    nn.MaxPool2d: _emit_maxpool,
    GlobalAvgPool: _emit_gap,
    nn.Flatten: lambda b, m, x: b.node("Flatten", [x], "flatten", axis=1),
    nn.Identity: lambda b, m, x: x,
}


def to_onnx(model: nn.Module, example_input: torch.Tensor, complex_form: str = "four_convs",
            weight_format: str = "dq") -> onnx.ModelProto:
    """Build the ONNX model (evaluation form) of an nbq.nn model."""
    model.eval()
    b = OnnxBuilder(complex_form, weight_format)
    out = b.emit(model, "input")
    with torch.no_grad():
        y = model(example_input)
    # rename the last tensor to "logits" so the graph output has a stable name
    for node in b.nodes:
        node.output[:] = ["logits" if o == out else o for o in node.output]
    in_shape = ["N", *example_input.shape[1:]]
    out_shape = ["N", *y.shape[1:]]
    graph = helper.make_graph(
        b.nodes, getattr(model, "name", type(model).__name__),
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, out_shape)],
        b.inits,
    )
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                   producer_name="nbq.nn", producer_version="0.1")
    onnx_model.ir_version = IR_VERSION
    info = getattr(model, "nbq_info", {})
    helper.set_model_props(onnx_model, {"nbq.nn": json.dumps(info, sort_keys=True)})
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model


def export(model: nn.Module, example_input: torch.Tensor, path: str | Path,
           complex_form: str = "four_convs", weight_format: str = "dq") -> Path:
    """Write ``model`` (switched to eval mode) as contract ONNX to ``path``; returns the path.

    ``example_input`` is one batch (N, C, H, W) or (N, F) of float inputs; the
    exported batch dimension is dynamic.  After export, ``model(x)`` in eval
    mode equals ONNX Runtime's output on the file.

    ``weight_format="dq"`` (default) stores quantized weights as
    DequantizeLinear(int8 integers, scale = codebook step); ``"float"`` stores
    the exact codebook values as float initializers.  Both are in the import
    contract, but ONNX Runtime's default graph optimizations re-quantize float
    weights behind a DequantizeLinear input to their own int8 grid and fuse
    Conv+BatchNormalization, so with ``"float"`` ONNX Runtime matches torch
    only with ``graph_optimization_level = ORT_DISABLE_ALL``.
    """
    path = Path(path)
    proto = to_onnx(model, example_input, complex_form, weight_format)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(path))
    return path
