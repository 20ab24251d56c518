"""Tiny ONNX graphs, one per layer kind x engine, for tests/test_op_agreement.py.

Each builder returns an onnx.ModelProto made with nbq.modelgen.GraphBuilder.  Shapes are the
smallest that still make the folding pass fold: somewhere in every MVAU case PE > 1, SIMD > 1,
NF > 1 and SF > 1 (the folding balances layers against the largest padded input map, so a layer
with more work per pixel than its neighbours ends up folded both ways).
"""

from __future__ import annotations

import numpy as np
import onnx

from nbq.modelgen import GraphBuilder, build


def _pm1(b: GraphBuilder, shape: tuple[int, ...]) -> np.ndarray:
    """Binary weights: +-1 times one power-of-two scale."""
    return (b.rng.choice(np.array([-1.0, 1.0]), size=shape) * 2.0 ** int(b.rng.integers(-2, 1))).astype(np.float32)


def _int_weights(b: GraphBuilder, shape: tuple[int, ...], bits: int = 4) -> np.ndarray:
    """Small integers (not all powers of two) times one power-of-two scale: integer weights."""
    w = b.rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), size=shape).astype(np.float64)
    w.flat[0], w.flat[1] = 2 ** (bits - 1) - 1, -(2 ** (bits - 1))  # the extremes, and a non-power of two
    return (w * 2.0**-2).astype(np.float32)


def _complex(b: GraphBuilder, o: int, i: int, k: int) -> np.ndarray:
    """Real form [[A, -B], [B, A]] of a binary complex weight, (2o, 2i, k, k)."""
    a, bb = b.rng.choice(np.array([-1.0, 1.0]), size=(2, o, i, k, k))
    return np.concatenate([np.concatenate([a, -bb], 1), np.concatenate([bb, a], 1)]).astype(np.float32)


def _conv(b: GraphBuilder, x: str, w: np.ndarray, bias: bool = False, **attrs) -> str:
    inputs = [x, b.const(w, "w")]
    if bias:
        inputs.append(b.const(b.rng.normal(0, 2, w.shape[0]).astype(np.float32), "bias"))
    return b.node("Conv", inputs, kernel_shape=list(w.shape[2:]), **attrs)


def _gemm(b: GraphBuilder, x: str, w: np.ndarray, bias: np.ndarray | None = None) -> str:
    bias = b.rng.normal(0, 2, w.shape[0]) if bias is None else bias
    return b.node("Gemm", [x, b.const(w, "fc"), b.const(np.asarray(bias, np.float32), "fcb")], transB=1)


def _sign(b: GraphBuilder, x: str, channels: int) -> str:
    return b.node("Sign", [b.batchnorm(x, channels)])


def _pm1_input(b: GraphBuilder) -> str:
    """The input clipped to [-1, 1] and quantized to int8 at scale 1: values -1, 0, +1."""
    x = b.node("Clip", ["input", b.const(np.float32(-1.0), "lo"), b.const(np.float32(1.0), "hi")])
    return b.qdq(x, 0, signed=True, bits=8)


# ----------------------------------------------------------------- Conv


def conv_po2(seed: int = 0) -> onnx.ModelProto:
    """int4 input -> 3x3/2 pad-1 po2-3 conv -> BN/ReLU/uint3 (a fused Threshold) -> 3x3 pad-1 po2-3 conv."""
    b = GraphBuilder(seed)
    x = b.qdq("input", -3, signed=True, bits=4)
    x = _conv(b, x, b.po2_weights((4, 2, 3, 3), 3), strides=[2, 2], pads=[1, 1, 1, 1])
    x = b.activation(x, 4, -1, 3, False)
    x = _conv(b, x, b.po2_weights((4, 4, 3, 3), 3), bias=True, pads=[1, 1, 1, 1])
    return build(b, (1, 2, 5, 5), x, "conv_po2")


def conv_int(seed: int = 1) -> onnx.ModelProto:
    """Integer (int4) weights: the multiplier engine whatever the option; a fused threshold after."""
    b = GraphBuilder(seed)
    x = b.qdq("input", -2, signed=False, bits=4)
    x = _conv(b, x, _int_weights(b, (4, 2, 3, 3)), strides=[2, 2], pads=[1, 1, 1, 1])
    x = b.activation(x, 4, -1, 3, False)
    x = _conv(b, x, _int_weights(b, (4, 4, 3, 3)), bias=True, pads=[1, 1, 1, 1])
    return build(b, (1, 2, 5, 5), x, "conv_int")


def conv_xnor(seed: int = 8) -> onnx.ModelProto:
    """po2 3x3/2 conv -> BN/Sign -> binary 3x3 conv, no padding, over +-1 (unmasked XNOR)."""
    b = GraphBuilder(seed)
    x = b.qdq("input", -2, signed=True, bits=3)
    x = _sign(b, _conv(b, x, b.po2_weights((6, 1, 3, 3), 2), strides=[2, 2]), 6)
    x = _conv(b, x, _pm1(b, (6, 6, 3, 3)), bias=True)
    return build(b, (1, 1, 8, 8), x, "conv_xnor")


def conv_xnor_masked(seed: int = 3) -> onnx.ModelProto:
    """Binary convs where a 0 can reach the XNOR: a {-1, 0, 1} input, then zero padding over +-1."""
    b = GraphBuilder(seed)
    x = _pm1_input(b)
    x = _sign(b, _conv(b, x, _pm1(b, (4, 2, 3, 3)), strides=[2, 2], pads=[1, 1, 1, 1]), 4)
    x = _conv(b, x, _pm1(b, (4, 4, 3, 3)), bias=True, pads=[1, 1, 1, 1])
    return build(b, (1, 2, 5, 5), x, "conv_xnor_masked")


def conv_cxnor(seed: int = 4) -> onnx.ModelProto:
    """Binary complex convs [[A, -B], [B, A]]: over a {-1, 0, 1} input with zero padding (masked), then
    over the +-1 output of a sign, unpadded (unmasked), then a raw integer output."""
    b = GraphBuilder(seed)
    x = _pm1_input(b)
    x = _sign(b, _conv(b, x, _complex(b, 1, 2, 3), pads=[1, 1, 1, 1]), 2)
    x = _conv(b, x, _complex(b, 4, 1, 3))
    return build(b, (1, 4, 5, 5), x, "conv_cxnor")


def conv_grouped(seed: int = 5) -> onnx.ModelProto:
    """Two grouped (group=2) po2 convs: 3x3/2 unpadded, then 3x3 pad 1."""
    b = GraphBuilder(seed)
    x = b.qdq("input", -3, signed=True, bits=4)
    x = _conv(b, x, b.po2_weights((4, 1, 3, 3), 3), strides=[2, 2], group=2)
    x = b.activation(x, 4, -1, 3, False)
    x = _conv(b, x, b.po2_weights((4, 2, 3, 3), 3), bias=True, pads=[1, 1, 1, 1], group=2)
    return build(b, (1, 2, 5, 5), x, "conv_grouped")


def conv_window(seed: int = 6) -> onnx.ModelProto:
    """1x1 conv -> threshold -> 3x3 conv with stride (2, 1), asymmetric pads (1, 0, 0, 1) and dilation 2."""
    b = GraphBuilder(seed)
    x = b.qdq("input", -3, signed=True, bits=4)
    x = b.activation(_conv(b, x, b.po2_weights((3, 1, 1, 1), 3)), 3, -1, 3, False)
    x = _conv(b, x, b.po2_weights((4, 3, 3, 3), 3), bias=True, strides=[2, 1], dilations=[2, 2], pads=[1, 0, 0, 1])
    return build(b, (1, 1, 5, 5), x, "conv_window")


def conv_1x1(seed: int = 7) -> onnx.ModelProto:
    """3x3/2 po2 conv -> threshold -> 1x1 po2-4 conv (no window stage)."""
    b = GraphBuilder(seed)
    x = b.qdq("input", -3, signed=True, bits=5)
    x = b.activation(_conv(b, x, b.po2_weights((6, 1, 3, 3), 3), strides=[2, 2]), 6, -1, 3, False)
    x = _conv(b, x, b.po2_weights((12, 6, 1, 1), 4), bias=True)
    return build(b, (1, 1, 6, 6), x, "conv_1x1")


# ----------------------------------------------------------------- Dense / Flatten


def dense_po2(seed: int = 10) -> onnx.ModelProto:
    """conv -> threshold -> Flatten of the (C, H, W) map (column reorder) -> po2 Gemm -> threshold -> Gemm."""
    b = GraphBuilder(seed)
    x = b.qdq("input", -3, signed=True, bits=4)
    x = b.activation(_conv(b, x, b.po2_weights((3, 1, 3, 3), 3)), 3, -1, 3, False)
    x = b.node("Flatten", [x], axis=1)
    x = b.activation(_gemm(b, x, b.po2_weights((6, 27), 3)), 6, -1, 3, False)
    x = _gemm(b, x, b.po2_weights((4, 6), 3))
    return build(b, (1, 1, 5, 5), x, "dense_po2")


def dense_int(seed: int = 9) -> onnx.ModelProto:
    """Integer-weight Gemms after a flattened po2 conv map: the multiplier engine."""
    b = GraphBuilder(seed)
    x = b.qdq("input", -3, signed=True, bits=4)
    x = b.activation(_conv(b, x, b.po2_weights((3, 1, 3, 3), 3)), 3, -1, 3, False)
    x = b.node("Flatten", [x], axis=1)
    x = b.activation(_gemm(b, x, _int_weights(b, (6, 27), 5)), 6, -1, 3, False)
    x = _gemm(b, x, _int_weights(b, (4, 6), 5))
    return build(b, (1, 1, 5, 5), x, "dense_int")


def dense_xnor(seed: int = 18) -> onnx.ModelProto:
    """Sign of a conv -> Flatten (still +-1) -> binary Gemm (unmasked XNOR) -> Clip(-1, 1) (values -1, 0, 1)
    -> binary Gemm (masked XNOR)."""
    b = GraphBuilder(seed)
    x = b.qdq("input", -3, signed=True, bits=4)
    x = _sign(b, _conv(b, x, b.po2_weights((3, 1, 3, 3), 2)), 3)
    x = b.node("Flatten", [x], axis=1)
    # +-1 weights at scale 1 and odd biases: integer sums of either parity, so the clip below yields 0s too
    w = b.rng.choice(np.array([-1.0, 1.0], np.float32), size=(6, 27))
    x = _gemm(b, x, w, bias=b.rng.choice(np.array([-1.0, 1.0, 3.0]), size=6))
    x = b.node("Clip", [x, b.const(np.float32(-1.0), "lo"), b.const(np.float32(1.0), "hi")])
    x = _gemm(b, x, _pm1(b, (4, 6)))
    return build(b, (1, 1, 5, 5), x, "dense_xnor")


# ----------------------------------------------------------------- elementwise, pools, residual


def threshold_clamp_maxpool(seed: int = 8) -> onnx.ModelProto:
    """conv -> uint4 (fused) -> padded 3x3/2 MaxPool -> BN/ReLU/Q (a standalone Threshold) -> conv ->
    ReLU (a Clamp, no quantizer) -> conv -> Clip(-1/8, 1/8) (a two-sided Clamp)."""
    b = GraphBuilder(seed)
    x = b.qdq("input", -3, signed=True, bits=4)
    x = b.activation(_conv(b, x, b.po2_weights((4, 2, 3, 3), 3), pads=[1, 1, 1, 1]), 4, -1, 4, False)
    x = b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    x = b.activation(x, 4, 0, 2, False)
    x = b.node("Relu", [_conv(b, x, b.po2_weights((6, 4, 1, 1), 3))])
    x = _conv(b, x, b.po2_weights((3, 6, 3, 3), 2), pads=[1, 1, 1, 1])
    # bounds: multiples of the conv output's step (2^-8), inside its values so both clip
    x = b.node("Clip", [x, b.const(np.float32(-0.125), "lo"), b.const(np.float32(0.125), "hi")])
    return build(b, (1, 2, 7, 7), x, "threshold_clamp_maxpool")


def sumpool(seed: int = 37) -> onnx.ModelProto:
    """conv -> uint3 -> 2x2 AveragePool (a windowed SumPool) -> conv -> BN -> GlobalAveragePool -> Q
    (a Threshold after the global SumPool) -> Flatten -> Gemm."""
    b = GraphBuilder(seed)
    x = b.qdq("input", -3, signed=True, bits=4)
    x = b.activation(_conv(b, x, b.po2_weights((4, 2, 3, 3), 3), pads=[1, 1, 1, 1]), 4, -1, 3, False)
    x = b.node("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = b.batchnorm(_conv(b, x, b.po2_weights((6, 4, 3, 3), 3), pads=[1, 1, 1, 1]), 6)
    x = b.node("GlobalAveragePool", [x])
    x = b.qdq(b.node("Relu", [x]), -1, signed=False, bits=4)
    x = b.node("Flatten", [x], axis=1)
    x = _gemm(b, x, b.po2_weights((4, 6), 3))
    return build(b, (1, 2, 8, 8), x, "sumpool")


def residual_add(seed: int = 13) -> onnx.ModelProto:
    """A downsampling basic block: 3x3/2-3x3 branch (int5, scale 2^-2) + 1x1/2 shortcut (int5, scale 2^-3):
    Add shifts the coarser operand by one; ReLU + uint4 after; a flattened map as the output."""
    b = GraphBuilder(seed)
    x = b.qdq("input", -3, signed=False, bits=4)
    y = b.activation(_conv(b, x, b.po2_weights((6, 1, 3, 3), 3), strides=[2, 2], pads=[1, 1, 1, 1]), 6, -2, 4,
                     False)
    y = b.qdq(b.batchnorm(_conv(b, y, b.po2_weights((6, 6, 3, 3), 3), pads=[1, 1, 1, 1]), 6), -2, True, 5)
    s = b.qdq(b.batchnorm(_conv(b, x, b.po2_weights((6, 1, 1, 1), 3), strides=[2, 2]), 6), -3, True, 5)
    z = b.qdq(b.node("Relu", [b.node("Add", [y, s])]), -2, signed=False, bits=4)
    z = b.node("Flatten", [z], axis=1)
    return build(b, (1, 1, 4, 4), z, "residual_add")


# ----------------------------------------------------------------- stream shaping: Concat, shuffle, pool borders


def _shape_const(b: GraphBuilder, dims: list[int]) -> str:
    """A Reshape shape from a Constant node (as exporters write it), not an initializer."""
    out = b.name("shape")
    b.nodes.append(onnx.helper.make_node("Constant", [], [out], name=b.name("Constant"),
                                         value=onnx.numpy_helper.from_array(np.asarray(dims, np.int64))))
    return out


def concat_fire(seed: int = 40) -> onnx.ModelProto:
    """A SqueezeNet fire module with a DenseNet skip: s = squeeze(x) (uint4, 2^-2); e1 = 1x1(s) and
    e3 = 3x3 pad-1(s) (uint4, 2^-3); Concat(s, e1, e3) (three inputs, s shifted by one) -> conv."""
    b = GraphBuilder(seed)
    x = b.qdq("input", -3, signed=True, bits=4)
    s = b.activation(_conv(b, x, b.po2_weights((3, 2, 3, 3), 3), pads=[1, 1, 1, 1]), 3, -2, 4, False)
    e1 = b.activation(_conv(b, s, b.po2_weights((2, 3, 1, 1), 3)), 2, -3, 4, False)
    e3 = b.activation(_conv(b, s, b.po2_weights((4, 3, 3, 3), 3), pads=[1, 1, 1, 1]), 4, -3, 4, False)
    z = b.node("Concat", [s, e1, e3], axis=1)
    z = _conv(b, z, b.po2_weights((4, 9, 3, 3), 3), bias=True)
    return build(b, (1, 2, 5, 5), z, "concat_fire", out_rank=4)


def shuffle_pools(seed: int = 42) -> onnx.ModelProto:
    """conv -> uint4 -> channel shuffle (g = 3, shapes from Constant nodes) -> 3x3/2 MaxPool ceil_mode=1
    (6x6 -> 3x3, the last windows padded) -> conv -> uint4 -> 2x2/2 AveragePool pads 1 count_include_pad=1
    -> Q -> 2x2 conv."""
    b = GraphBuilder(seed)
    x = b.qdq("input", -3, signed=True, bits=4)
    x = b.activation(_conv(b, x, b.po2_weights((6, 1, 3, 3), 3), pads=[1, 1, 1, 1]), 6, -2, 4, False)
    x = b.node("Reshape", [x, _shape_const(b, [-1, 3, 2, 6, 6])])
    x = b.node("Transpose", [x], perm=[0, 2, 1, 3, 4])
    x = b.node("Reshape", [x, _shape_const(b, [0, 6, 6, 6])])
    x = b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    x = b.activation(_conv(b, x, b.po2_weights((4, 6, 1, 1), 3)), 4, -2, 4, False)
    x = b.node("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)
    x = b.qdq(b.node("Relu", [x]), -3, signed=False, bits=4)
    x = _conv(b, x, b.po2_weights((4, 4, 2, 2), 3), bias=True)
    return build(b, (1, 1, 6, 6), x, "shuffle_pools", out_rank=4)


def concat_mixed(seed: int = 44) -> onnx.ModelProto:
    """DenseNet skip from the graph input over a deep branch: Concat(x, conv(conv(x)) without a quantizer:
    raw integers with their bias, axis -3) -> MaxPool -> Flatten -> two Gemms -> uint4 each -> Concat of the
    two vectors (axis -1) -> Gemm."""
    b = GraphBuilder(seed)
    x = b.qdq("input", -3, signed=True, bits=4)
    y = b.activation(_conv(b, x, b.po2_weights((3, 2, 3, 3), 3), pads=[1, 1, 1, 1]), 3, -2, 4, False)
    # a whole-number bias is a multiple of the accumulator's step: the raw integers stay exact (no rounding)
    bias = b.const(np.round(b.rng.normal(0, 2, 3)).astype(np.float32), "bias")
    y = b.node("Conv", [y, b.const(b.po2_weights((3, 3, 3, 3), 3), "w"), bias], kernel_shape=[3, 3],
               pads=[1, 1, 1, 1])
    z = b.node("Concat", [x, y], axis=-3)
    z = b.node("Flatten", [b.node("MaxPool", [z], kernel_shape=[2, 2], strides=[2, 2])], axis=1)
    v1 = b.activation(_gemm(b, z, b.po2_weights((6, 20), 3)), 6, -2, 4, False)
    v2 = b.activation(_gemm(b, z, b.po2_weights((4, 20), 3)), 4, -3, 4, False)
    v = b.node("Concat", [v1, v2], axis=-1)
    v = _gemm(b, v, b.po2_weights((3, 10), 3))
    return build(b, (1, 2, 4, 4), v, "concat_mixed")
