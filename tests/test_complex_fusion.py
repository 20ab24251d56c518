"""Front end: complex convolutions written as four real convs fuse into one block Conv, exactly."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from nbq import reference
from nbq.errors import NbqError
from nbq.frontend.complex_fusion import fuse_complex_convs
from nbq.passes.folding import is_complex_conv
from nbq.pipeline import lower

C, O, H = 3, 4, 6  # complex input / output channels, image size


def _complex_model(rng, tamper: str | None = None, real_input: bool = False) -> onnx.ModelProto:
    """input (N, 2C, H, H) -> Clip(-1, 1) -> Q/DQ (int8, scale 1) -> complex conv 3x3 pad 1 -> output (1, 2O, H, H)."""
    a = rng.choice([-1.0, 1.0], size=(O, C, 3, 3)).astype(np.float32)
    b = rng.choice([-1.0, 1.0], size=(O, C, 3, 3)).astype(np.float32)
    ch_in = C if real_input else 2 * C
    inits = [numpy_helper.from_array(np.array(1.0, np.float32), "s"),
             numpy_helper.from_array(np.array(-1.0, np.float32), "lo"),
             numpy_helper.from_array(np.array(1.0, np.float32), "hi"),
             numpy_helper.from_array(np.array(0, np.int8), "zp"),
             numpy_helper.from_array(a, "A"), numpy_helper.from_array(b, "B"),
             numpy_helper.from_array(np.array([C, C], np.int64), "halves")]
    a2 = "A"
    if tamper == "other_a":  # the imaginary part uses a different A: not a complex conv
        a_bad = a.copy()
        a_bad[0, 0, 0, 0] *= -1
        inits.append(numpy_helper.from_array(a_bad, "A2"))
        a2 = "A2"
    conv = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    nodes = [helper.make_node("Clip", ["input", "lo", "hi"], ["clipped"]),  # inputs in {-1, 0, 1}
             helper.make_node("QuantizeLinear", ["clipped", "s", "zp"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["h"])]
    if real_input:
        nodes += [helper.make_node("Conv", ["h", "A"], ["ha"], name="cA", **conv),
                  helper.make_node("Conv", ["h", "B"], ["hb"], name="cB", **conv),
                  helper.make_node("Concat", ["ha", "hb"], ["output"], name="cconv", axis=1)]
    else:
        nodes += [helper.make_node("Split", ["h", "halves"], ["x", "y"], name="split", axis=1),
                  helper.make_node("Conv", ["x", "A"], ["ax"], name="cAx", **conv),
                  helper.make_node("Conv", ["y", "B"], ["by"], name="cBy", **conv),
                  helper.make_node("Conv", ["y", a2], ["ay"], name="cAy", **conv),
                  helper.make_node("Conv", ["x", "B"], ["bx"], name="cBx",
                                   **(dict(conv, strides=[2, 2]) if tamper == "stride" else conv)),
                  helper.make_node("Sub", ["ax", "by"], ["re"], name="re"),
                  helper.make_node("Add", ["ay", "bx"], ["im"], name="im"),  # operands swapped on purpose
                  helper.make_node("Concat", ["re", "im"], ["output"], name="cconv", axis=1)]
    graph = helper.make_graph(nodes, "cconv", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                            ["N", ch_in, H, H])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 2 * O, H, H])],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _ort(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    ort = pytest.importorskip("onnxruntime")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": x})[0]


@pytest.mark.parametrize("real_input", [False, True], ids=["complex_input", "real_input"])
def test_four_convs_fuse_and_stay_exact(tmp_path, real_input):
    rng = np.random.default_rng(3)
    model = _complex_model(rng, real_input=real_input)
    fused, count = fuse_complex_convs(model)
    assert count == 1
    ops = [n.op_type for n in fused.graph.node]
    assert ops.count("Conv") == 1 and "Split" not in ops and "Concat" not in ops
    onnx.checker.check_model(fused)
    assert {i.name for i in fused.graph.initializer} == {"s", "zp", "lo", "hi", "output_block_weight"}
    x = rng.integers(-1, 2, size=(16, C if real_input else 2 * C, H, H)).astype(np.float32)
    x[0], x[1] = 1, -1  # all-max / all-min images
    np.testing.assert_array_equal(_ort(fused, x), _ort(model, x))
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    graph = lower(path)
    (conv,) = [la for la in graph.layers if la.op == "Conv"]
    assert graph.meta["fused_complex_convs"] == 1
    ints = reference.run(graph, x)
    np.testing.assert_array_equal(ints[graph.outputs[0]], _ort(model, x).astype(np.int64))
    if not real_input:  # a binary [[A, -B], [B, A]] conv on +-1 inputs runs on the complex engine
        assert is_complex_conv(conv, graph.tensors[conv.inputs[0]]) and conv.folding.complex


@pytest.mark.parametrize("tamper", ["other_a", "stride"])
def test_near_misses_are_left_alone_and_named(tmp_path, tamper):
    model = _complex_model(np.random.default_rng(4), tamper=tamper)
    assert fuse_complex_convs(model)[1] == 0
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    with pytest.raises(NbqError, match=r"m\.onnx: node 'split' \(Split\): unsupported op 'Split'"):
        lower(path)
