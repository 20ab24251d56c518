"""ONNX front end: what it recognises, and the one-line errors for what it cannot compile."""

import numpy as np
import onnx
import pytest
from netgen import _Builder, build

from nbq import ir
from nbq.errors import NbqError, UnsupportedModelError
from nbq.frontend.onnx_import import import_onnx


def _mlp(weight: np.ndarray | None = None, act_scale: float = 0.5, tail: str | None = None,
         bn_to_pool: bool = False) -> onnx.ModelProto:
    b = _Builder(0)
    x = b.qdq("input", -4, signed=False, bits=8)
    w = b.po2_weights((6, 8), 3) if weight is None else weight
    x = b.node("Gemm", [x, b.const(w.astype(np.float32), "w")], transB=1)
    x = b.batchnorm(x, 6)
    if bn_to_pool:
        x = b.node("Flatten", [x])
        x = b.node("Gemm", [x, b.const(b.po2_weights((2, 6), 2), "w2")], transB=1)
        return build(b, (1, 8), x, "bad")
    x = b.node("Relu", [x])
    s = b.const(np.float32(act_scale), "s")
    z = b.const(np.uint8(0), "z")
    x = b.node("DequantizeLinear", [b.node("QuantizeLinear", [x, s, z]), s, z])
    if tail:
        x = b.node(tail, [x])
    return build(b, (1, 8), x, "m")


def test_weight_formats_are_recognised(save_model):
    graph = import_onnx(save_model(_mlp()))
    dense = graph.layers[0]
    assert isinstance(dense, ir.Dense) and dense.weights.kind == "po2" and dense.weights.bits == 3
    ints = np.array([[3, -5, 7, 1, 0, 2, 1, 1]] * 6, dtype=np.float32) / 8
    graph = import_onnx(save_model(_mlp(weight=ints)))
    assert graph.layers[0].weights.kind == "int" and graph.layers[0].weights.bits == 4


def test_missing_file():
    with pytest.raises(NbqError, match="no such file"):
        import_onnx("/nonexistent/model.onnx")


def test_not_onnx(tmp_path):
    p = tmp_path / "junk.onnx"
    p.write_bytes(b"\x00\x01this is not a protobuf" * 10)
    with pytest.raises(NbqError, match="not an ONNX model"):
        import_onnx(p)


def test_unsupported_op_names_node_and_op(save_model):
    with pytest.raises(UnsupportedModelError, match=r"node 'Softsign_\d+' \(Softsign\): unsupported op 'Softsign'"):
        import_onnx(save_model(_mlp(tail="Softsign")))


def test_float_weights_rejected_with_sample(save_model):
    w = np.random.default_rng(0).normal(size=(6, 8)).astype(np.float32)
    with pytest.raises(UnsupportedModelError, match=r"\(Gemm\): weights are not powers of two \(e\.g\."):
        import_onnx(save_model(_mlp(weight=w)))


def test_non_po2_activation_scale(save_model):
    with pytest.raises(UnsupportedModelError, match="activation scale 0.3 is not a power of two"):
        import_onnx(save_model(_mlp(act_scale=0.3)))


def test_float_tensor_reaching_integer_op(save_model):
    with pytest.raises(UnsupportedModelError, match="without a quantizer"):
        import_onnx(save_model(_mlp(bn_to_pool=True)))


def test_unquantized_input(save_model):
    b = _Builder(1)
    x = b.node("Gemm", ["input", b.const(b.po2_weights((4, 8), 2), "w")], transB=1)
    with pytest.raises(UnsupportedModelError, match="quantize it first"):
        import_onnx(save_model(build(b, (1, 8), x, "m")))


def test_messages_are_one_line(save_model):
    for model in (_mlp(tail="Softsign"), _mlp(act_scale=0.3), _mlp(bn_to_pool=True)):
        with pytest.raises(NbqError) as info:
            import_onnx(save_model(model))
        assert "\n" not in str(info.value) and str(info.value).startswith(str(save_model(model)))


def test_residual_add_with_power_of_two_scales(save_model):
    b = _Builder(3)
    x = b.qdq("input", -3, signed=True, bits=6)
    c1 = b.node("Conv", [x, b.const(b.po2_weights((2, 2, 3, 3), 3), "w")], kernel_shape=[3, 3], pads=[1] * 4)
    y = b.activation(c1, 2, -1, 4, False)
    s = b.node("Add", [y, x])
    r = b.node("Relu", [s])
    out = b.node("Gemm", [b.node("Flatten", [r]), b.const(b.po2_weights((3, 2 * 5 * 5), 2), "fc")], transB=1)
    graph = import_onnx(save_model(build(b, (1, 2, 5, 5), out, "res")))
    ops = [lay.op for lay in graph.layers]
    assert ops == ["Conv", "AffineQuant", "Add", "Flatten", "Clamp", "Dense"]
    add = graph.layers[2]
    assert graph.tensors[add.output].scale == 2.0**-3 and add.shifts == (2, 0)


def test_add_constant_must_broadcast_per_channel(save_model):
    """A (C,) constant added to an (N, C, H, W) tensor broadcasts along W in ONNX: refused, (C, 1, 1) taken."""
    for shape, ok in (((2,), False), ((2, 1, 1), True), ((1, 2, 1, 1), True), ((), True)):
        b = _Builder(4)
        x = b.qdq("input", -3, signed=True, bits=6)
        c = b.node("Conv", [x, b.const(b.po2_weights((2, 2, 3, 3), 3), "w")], kernel_shape=[3, 3], pads=[1] * 4)
        c = b.node("Add", [c, b.const(np.full(shape, 0.5, np.float32), "k")])
        y = b.activation(c, 2, -1, 4, False)
        path = save_model(build(b, (1, 2, 2, 2), y, "add"), f"add{len(shape)}.onnx")
        if ok:
            assert [lay.op for lay in import_onnx(path).layers] == ["Conv", "AffineQuant"]
        else:
            with pytest.raises(UnsupportedModelError, match=r"Add constant 'k_\d+' of shape \(2,\) is not a scalar "
                                                            r"or one value per channel"):
                import_onnx(path)
