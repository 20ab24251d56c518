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


def build(b: GraphBuilder, input_shape: tuple[int, ...], out: str, name: str, out_rank: int = 2) -> onnx.ModelProto:
    graph = helper.make_graph(
        b.nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *input_shape[1:]])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N"] + [None] * (out_rank - 1))],
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


def _channels(c: int, width: float) -> int:
    return max(1, int(round(c * width)))


def paper_cifar_po2(width: float = 0.125, n_bits: int = 3, act_bits: int = 4, input_hw: int = 32,
                    classes: int = 10, seed: int = 0) -> onnx.ModelProto:
    """The CIFAR-10 network of the n-BQ-NN paper (Table I), channels scaled by `width`.

    3 x (conv3x3-128, BN, ReLU, Q), max pool, 3 x conv3x3-256, max pool, conv3x3-512,
    conv1x1-1024, conv1x1-10 (with bias), global average pool; n-bit power-of-two weights,
    act_bits-bit activations, an 8-bit signed input.
    """
    b = GraphBuilder(seed)
    x = b.qdq("input", -7, signed=True, bits=8)
    c = 3

    def conv(x: str, out_c: int, k: int, act: bool = True) -> str:
        nonlocal c
        inputs = [x, b.const(b.po2_weights((out_c, c, k, k), n_bits), "w")]
        if not act:
            inputs.append(b.const(b.rng.normal(0, 1, out_c).astype(np.float32), "bias"))
        y = b.node("Conv", inputs, kernel_shape=[k, k], pads=[k // 2] * 4)
        c = out_c
        return b.activation(y, out_c, -2, act_bits, False) if act else y

    for base in (128, 256):
        for _ in range(3):
            x = conv(x, _channels(base, width), 3)
        x = b.node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = conv(x, _channels(512, width), 3)
    x = conv(x, _channels(1024, width), 1)
    x = conv(x, classes, 1, act=False)
    x = b.node("Flatten", [b.node("GlobalAveragePool", [x])], axis=1)
    return build(b, (1, 3, input_hw, input_hw), x, "paper_cifar_po2")


def bcnn_nin(width: float = 0.125, input_hw: int = 32, classes: int = 10, seed: int = 0) -> onnx.ModelProto:
    """A complex NIN-like binary network (BCNN), with block-form complex convolutions.

    Complex feature maps travel as 2C real channels (real parts first).  The first layer
    takes the real image (imaginary part zero): weights [[A], [B]].  The others are complex
    convolutions written as one real Conv with weights [[A, -B], [B, A]] (A, B = +-1), as
    nbq.nn exports them with complex_form="block".  Every conv is followed by BatchNorm and
    Sign.  Blocks (complex channels, scaled by `width`): 5x5-96, 1x1-80, 1x1-48, max pool;
    5x5-96, 1x1-96, 1x1-96, max pool; 3x3-96, 1x1-96; global average pool; binary fc + bias.
    """
    b = GraphBuilder(seed)
    x = b.qdq("input", -7, signed=True, bits=8)
    i = None  # complex channels of x (None: the real image)

    def pm1(shape: tuple[int, ...]) -> np.ndarray:
        return b.rng.choice(np.array([-1.0, 1.0]), size=shape)

    def cconv(x: str, o: int, k: int) -> str:
        nonlocal i
        if i is None:
            w = np.concatenate([pm1((o, 3, k, k)), pm1((o, 3, k, k))])
        else:
            a, bb = pm1((o, i, k, k)), pm1((o, i, k, k))
            w = np.concatenate([np.concatenate([a, -bb], 1), np.concatenate([bb, a], 1)])
        w = (w * 2.0 ** int(b.rng.integers(-3, 1))).astype(np.float32)
        y = b.node("Conv", [x, b.const(w, "w")], kernel_shape=[k, k], pads=[k // 2] * 4)
        i = o
        return b.activation(y, 2 * o, 0, 1, True)

    blocks = [((5, 96), (1, 80), (1, 48)), ((5, 96), (1, 96), (1, 96)), ((3, 96), (1, 96))]
    for bi, block in enumerate(blocks):
        for k, ch in block:
            x = cconv(x, _channels(ch, width), k)
        if bi < 2:
            x = b.node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = b.node("Flatten", [b.node("GlobalAveragePool", [x])], axis=1)
    fc = (pm1((classes, 2 * i)) * 0.125).astype(np.float32)
    x = b.node("Gemm", [x, b.const(fc, "fc"), b.const(b.rng.normal(0, 1, classes).astype(np.float32), "fcb")],
               transB=1)
    return build(b, (1, 3, input_hw, input_hw), x, "bcnn_nin")


def alexnet_conv_po2(n_bits: int = 3, act_bits: int = 8, input_hw: int = 227, seed: int = 0) -> onnx.ModelProto:
    """AlexNet's five convolution layers (the part the n-BQ-NN paper accelerates) at ImageNet size.

    conv11x11/4-96, max pool 3/2, conv5x5-256 (2 groups), max pool 3/2, conv3x3-384, conv3x3-384
    (2 groups), conv3x3-256 (2 groups), max pool 3/2; BN + ReLU + act_bits-bit quantizer after each conv;
    the output is the 256 x 6 x 6 map, streamed pixel by pixel (the fully connected layers are not part of the
    model).
    """
    b = GraphBuilder(seed)
    x = b.qdq("input", -7, signed=True, bits=8)
    c = 3

    def conv(x: str, out_c: int, k: int, stride: int = 1, pad: int = 0, groups: int = 1) -> str:
        nonlocal c
        w = b.po2_weights((out_c, c // groups, k, k), n_bits)
        y = b.node("Conv", [x, b.const(w, "w")], kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4,
                   group=groups)
        c = out_c
        return b.activation(y, out_c, -2, act_bits, False)

    def pool(x: str) -> str:
        return b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2])

    x = pool(conv(x, 96, 11, stride=4))
    x = pool(conv(x, 256, 5, pad=2, groups=2))
    x = conv(x, 384, 3, pad=1)
    x = conv(x, 384, 3, pad=1, groups=2)
    x = pool(conv(x, 256, 3, pad=1, groups=2))
    return build(b, (1, 3, input_hw, input_hw), x, "alexnet_conv_po2", out_rank=4)


def cnv_binary(input_hw: int = 32, classes: int = 10, seed: int = 0) -> onnx.ModelProto:
    """A CNV-style binary network (FINN's CNV-W1A1 topology): binary weights and sign activations, 8-bit input.

    2 x conv3x3-64, max pool, 2 x conv3x3-128, max pool, 2 x conv3x3-256 (no padding), then fully connected
    512, 512 and `classes` (with bias); BatchNorm + Sign after every layer but the last.
    """
    b = GraphBuilder(seed)
    x = b.qdq("input", -7, signed=True, bits=8)
    c = 3

    def pm1(shape: tuple[int, ...]) -> np.ndarray:
        return (b.rng.choice(np.array([-1.0, 1.0]), size=shape) * 2.0 ** -3).astype(np.float32)

    def conv(x: str, out_c: int) -> str:
        nonlocal c
        y = b.node("Conv", [x, b.const(pm1((out_c, c, 3, 3)), "w")], kernel_shape=[3, 3])
        c = out_c
        return b.activation(y, out_c, 0, 1, True)

    for width in (64, 128):
        x = b.node("MaxPool", [conv(conv(x, width), width)], kernel_shape=[2, 2], strides=[2, 2])
    x = conv(conv(x, 256), 256)
    x = b.node("Flatten", [x], axis=1)
    n = c
    for out in (512, 512):
        x = b.node("Gemm", [x, b.const(pm1((out, n)), "fc")], transB=1)
        x = b.activation(x, out, 0, 1, True)
        n = out
    x = b.node("Gemm", [x, b.const(pm1((classes, n)), "fc"), b.const(b.rng.normal(0, 1, classes).astype(np.float32),
                                                                       "fcb")], transB=1)
    return build(b, (1, 3, input_hw, input_hw), x, "cnv_binary")
