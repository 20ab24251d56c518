"""Small networks for the RTL co-simulation tests, built in numpy with nbq.modelgen.GraphBuilder.

bcnn(): a binary complex CNN: a real first layer on the quantized (x, y) input
planes, then binary complex convolutions - each written as the real
convolution [[A, -B], [B, A]] that ONNX can express, which nbq maps onto the
complex XNOR engine (A and B stored once) - and a binary classifier.
"""

from __future__ import annotations

import numpy as np
import onnx

from nbq.modelgen import GraphBuilder, build


def _complex_weights(b: GraphBuilder, out_c: int, in_c: int, k: int) -> np.ndarray:
    """Real form of a binary complex weight: (2*out_c, 2*in_c, k, k) = [[A, -B], [B, A]], +-1."""
    a = b.rng.choice([-1.0, 1.0], size=(out_c, in_c, k, k))
    bb = b.rng.choice([-1.0, 1.0], size=(out_c, in_c, k, k))
    return np.concatenate([np.concatenate([a, -bb], axis=1), np.concatenate([bb, a], axis=1)], axis=0).astype(
        np.float32)


def bcnn(seed: int = 0, hw: int = 8, width: int = 4, classes: int = 10) -> onnx.ModelProto:
    """(2, hw, hw) complex input -> conv -> sign -> cconv -> sign -> maxpool -> cconv -> sign -> maxpool -> fc."""
    b = GraphBuilder(seed)
    x = b.qdq("input", -3, signed=True, bits=4)
    w0 = b.rng.choice([-1.0, 1.0], size=(2 * width, 2, 3, 3)).astype(np.float32)  # first layer: real, +-1
    x = b.node("Conv", [x, b.const(w0, "w")], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    x = b.activation(x, 2 * width, 0, 1, binary=True)
    x = b.node("Conv", [x, b.const(_complex_weights(b, width, width, 3), "w")], kernel_shape=[3, 3],
               pads=[1, 1, 1, 1])
    x = b.activation(x, 2 * width, 0, 1, binary=True)
    x = b.node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = b.node("Conv", [x, b.const(_complex_weights(b, 2 * width, width, 3), "w")], kernel_shape=[3, 3],
               pads=[1, 1, 1, 1])
    x = b.activation(x, 4 * width, 0, 1, binary=True)
    x = b.node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = b.node("Flatten", [x], axis=1)
    features = 4 * width * (hw // 4) ** 2
    wf = b.rng.choice([-1.0, 1.0], size=(classes, features)).astype(np.float32)
    out = b.node("Gemm", [x, b.const(wf, "fc"), b.const(b.rng.normal(0, 1, classes).astype(np.float32), "fcb")],
                 transB=1)
    return build(b, (1, 2, hw, hw), out, f"bcnn_{seed}")


def residual(seed: int = 0, hw: int = 6, ch: int = 4, classes: int = 5) -> onnx.ModelProto:
    """A ResNet basic block: the input feeds a 3x3-3x3 branch and a 1x1 shortcut, joined by Add -> ReLU."""
    b = GraphBuilder(seed)
    x = b.qdq("input", -3, signed=False, bits=4)

    def conv(src: str, out_c: int, in_c: int, k: int) -> str:
        return b.node("Conv", [src, b.const(b.po2_weights((out_c, in_c, k, k), 3), "w")], kernel_shape=[k, k],
                      pads=[k // 2] * 4)

    y = b.activation(conv(x, ch, 2, 3), ch, -2, 4, False)
    y = b.qdq(b.batchnorm(conv(y, ch, ch, 3), ch), -2, signed=True, bits=5)
    s = b.qdq(b.batchnorm(conv(x, ch, 2, 1), ch), -2, signed=True, bits=5)
    z = b.qdq(b.node("Relu", [b.node("Add", [y, s])]), -2, signed=False, bits=4)
    z = b.node("Flatten", [z], axis=1)
    wf = b.po2_weights((classes, ch * hw * hw), 3)
    out = b.node("Gemm", [z, b.const(wf, "fc"), b.const(b.rng.normal(0, 1, classes).astype(np.float32), "fcb")],
                 transB=1)
    return build(b, (1, 2, hw, hw), out, f"residual_{seed}")
