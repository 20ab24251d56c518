"""Build power-of-two ONNX models programmatically (numpy + onnx.helper, no torch).

Used by the tests (random networks), the benchmarks (a ResNet-18-sized graph)
and anyone who wants a compilable model without training one.  Every model
follows docs/onnx-contract.md.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nbq.formats import Po2Codebook

OPSET = 17
IR_VERSION = 8


class GraphBuilder:
    """Small helper to write po2 ONNX graphs node by node (names are unique and deterministic)."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def name(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"

    def const(self, value: np.ndarray, base: str) -> str:
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs) -> str:
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=self.name(op), **attrs))
        return out

    def po2_weights(self, shape: tuple[int, ...], n: int) -> np.ndarray:
        levels = Po2Codebook(n).levels()
        w = self.rng.choice(levels, size=shape)
        w.flat[0] = levels[-1]  # make sure the top magnitude is present
        return (w * 2.0 ** int(self.rng.integers(-3, 1))).astype(np.float32)

    def qdq(self, x: str, scale_exp: int, signed: bool, bits: int) -> str:
        scale = np.float32(2.0**scale_exp)
        zp = np.int8(0) if signed else np.uint8(0)
        if bits < 8:
            lo = -(2 ** (bits - 1)) if signed else 0
            hi = 2 ** (bits - 1) - 1 if signed else 2**bits - 1
            lo_name, hi_name = self.const(np.float32(lo * scale), "lo"), self.const(np.float32(hi * scale), "hi")
            x = self.node("Clip", [x, lo_name, hi_name])
        s, z = self.const(scale, "scale"), self.const(zp, "zp")
        q = self.node("QuantizeLinear", [x, s, z])
        return self.node("DequantizeLinear", [q, s, z])

    def batchnorm(self, x: str, channels: int) -> str:
        r = self.rng
        gamma = r.uniform(0.5, 2.0, channels) * r.choice([-1, 1], channels, p=[0.2, 0.8])
        beta = r.normal(0, 1, channels)
        return self.node(
            "BatchNormalization",
            [x, self.const(gamma.astype(np.float32), "g"), self.const(beta.astype(np.float32), "b"),
             self.const(r.normal(0, 2, channels).astype(np.float32), "m"),
             self.const(r.uniform(0.5, 8, channels).astype(np.float32), "v")],
        )

    def activation(self, x: str, channels: int, scale_exp: int, act_bits: int, binary: bool) -> str:
        x = self.batchnorm(x, channels)
        if binary:
            return self.node("Sign", [x])
        x = self.node("Relu", [x])
        return self.qdq(x, scale_exp, signed=False, bits=act_bits)


def build(b: GraphBuilder, input_shape: tuple[int, ...], out: str, name: str) -> onnx.ModelProto:
    graph = helper.make_graph(
        b.nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *input_shape[1:]])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", None])],
        b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def resnet18_po2(n_bits: int = 3, width: int = 64, input_hw: int = 224, classes: int = 1000,
                 seed: int = 0) -> onnx.ModelProto:
    """ResNet-18 topology (≈11.7 M weights at width 64, 224×224) with po2 weights and 4-bit activations.

    Blocks: conv-BN-ReLU-Q, conv-BN-Q(signed), shortcut (identity, or 1×1 conv-BN-Q), Add, ReLU.
    """
    b = GraphBuilder(seed)
    x = b.qdq("input", -7, signed=True, bits=8)
    x = b.node("Conv", [x, b.const(b.po2_weights((width, 3, 7, 7), n_bits), "w")], kernel_shape=[7, 7],
               strides=[2, 2], pads=[3, 3, 3, 3])
    x = b.activation(x, width, -2, 4, False)
    x = b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    channels = width
    for stage, mult in enumerate((1, 2, 4, 8)):
        out_c = width * mult
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            y = b.node("Conv", [x, b.const(b.po2_weights((out_c, channels, 3, 3), n_bits), "w")],
                       kernel_shape=[3, 3], strides=[stride, stride], pads=[1, 1, 1, 1])
            y = b.activation(y, out_c, -2, 4, False)
            y = b.node("Conv", [y, b.const(b.po2_weights((out_c, out_c, 3, 3), n_bits), "w")],
                       kernel_shape=[3, 3], pads=[1, 1, 1, 1])
            y = b.qdq(b.batchnorm(y, out_c), -2, signed=True, bits=5)
            if stride != 1 or channels != out_c:
                s = b.node("Conv", [x, b.const(b.po2_weights((out_c, channels, 1, 1), n_bits), "w")],
                           kernel_shape=[1, 1], strides=[stride, stride])
                s = b.qdq(b.batchnorm(s, out_c), -2, signed=True, bits=5)
            else:
                s = x
            x = b.qdq(b.node("Relu", [b.node("Add", [y, s])]), -2, signed=False, bits=4)
            channels = out_c
    x = b.node("Flatten", [b.node("GlobalAveragePool", [x])])
    x = b.node("Gemm", [x, b.const(b.po2_weights((classes, channels), n_bits), "fc"),
                        b.const(b.rng.normal(0, 1, classes).astype(np.float32), "fcb")], transB=1)
    return build(b, (1, 3, input_hw, input_hw), x, "resnet18_po2")
