"""Random power-of-two ONNX networks for tests (numpy + onnx.helper only, no torch).

Each network follows docs/onnx-contract.md: quantized input, po2 weights of a
random n, BatchNormalization with positive and negative gammas, ReLU / Clip /
Sign, Q/DQ activation quantizers, pooling, and a final Gemm with bias.
"""

from __future__ import annotations

import numpy as np
import onnx

from nbq.modelgen import GraphBuilder as _Builder
from nbq.modelgen import build


def random_cnn(seed: int, n_bits: int | None = None, binary_acts: bool = False) -> onnx.ModelProto:
    b = _Builder(seed)
    r = b.rng
    n = n_bits or int(r.integers(1, 6))
    c, h = int(r.integers(1, 4)), int(r.integers(6, 11))
    w = h + int(r.integers(-1, 2))
    input_shape = (1, c, h, w)
    x_in = "input"
    x = b.qdq(x_in, -int(r.integers(2, 6)), signed=bool(r.integers(0, 2)), bits=int(r.integers(3, 9)))
    for i in range(int(r.integers(1, 3))):
        oc = int(r.integers(2, 7))
        k = int(r.choice([1, 3])) if min(h, w) >= 3 else 1
        stride = int(r.choice([1, 1, 2])) if h > 4 else 1
        pad = int(r.integers(0, k // 2 + 1))
        groups = int(r.choice([g for g in (1, 2) if c % g == 0 and oc % g == 0]))
        wt = b.po2_weights((oc, c // groups, k, k), n)
        inputs = [x, b.const(wt, "w")]
        if r.integers(0, 2):
            inputs.append(b.const(r.normal(0, 1, oc).astype(np.float32), "bias"))
        x = b.node("Conv", inputs, kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, group=groups)
        h, w = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
        x = b.activation(x, oc, -int(r.integers(0, 4)), int(r.integers(2, 5)), binary_acts and i > 0)
        c = oc
        if h >= 4 and r.integers(0, 2):
            pool = r.choice(["MaxPool", "AveragePool"])
            x = b.node(str(pool), [x], kernel_shape=[2, 2], strides=[2, 2])
            h, w = h // 2, w // 2
    if r.integers(0, 2):
        x = b.node("GlobalAveragePool", [x])
        h = w = 1
    x = b.node("Flatten", [x], axis=1)
    features = c * h * w
    wt = b.po2_weights((int(r.integers(2, 11)), features), n)
    bias = r.normal(0, 1, wt.shape[0]).astype(np.float32)
    out = b.node("Gemm", [x, b.const(wt, "fc"), b.const(bias, "fcb")], transB=1)
    return build(b, input_shape, out, f"cnn_{seed}")


def random_mlp(seed: int, n_bits: int | None = None) -> onnx.ModelProto:
    b = _Builder(seed)
    r = b.rng
    n = n_bits or int(r.integers(1, 6))
    f = int(r.integers(4, 33))
    input_shape = (1, f)
    x = b.qdq("input", -int(r.integers(2, 6)), signed=bool(r.integers(0, 2)), bits=int(r.integers(3, 9)))
    for _ in range(int(r.integers(1, 4))):
        out_f = int(r.integers(3, 25))
        wt = b.po2_weights((f, out_f), n)
        if r.integers(0, 2):
            x = b.node("MatMul", [x, b.const(wt, "w")])
        else:
            x = b.node("Gemm", [x, b.const(wt.T.copy(), "w"), b.const(r.normal(0, 1, out_f).astype(np.float32), "b")],
                       transB=1)
        x = b.activation(x, out_f, -int(r.integers(0, 4)), int(r.integers(2, 5)), False)
        f = out_f
    wt = b.po2_weights((int(r.integers(2, 11)), f), n)
    out = b.node("Gemm", [x, b.const(wt, "fc"), b.const(r.normal(0, 1, wt.shape[0]).astype(np.float32), "fcb")],
                 transB=1)
    return build(b, input_shape, out, f"mlp_{seed}")
