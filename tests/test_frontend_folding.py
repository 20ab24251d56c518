"""Constant folding before import and the simple ops lowered onto the existing IR (docs/onnx-contract.md):
each construct compiles and the reference agrees with ONNX Runtime within one step; each refusal is one
clear line."""

import subprocess
import sys
import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from nbq import ir
from nbq.compare import compare_with_onnxruntime
from nbq.errors import UnsupportedModelError
from nbq.frontend.constant_folding import MAX_FOLDED_ELEMENTS
from nbq.frontend.onnx_import import import_onnx
from nbq.golden import adversarial_inputs
from nbq.modelgen import GraphBuilder, build
from nbq.pipeline import lower


def _agrees(path, images: int = 12) -> ir.Graph:
    """Compile, then compare the reference with ONNX Runtime on random and range-extreme images."""
    graph = lower(path)
    x = adversarial_inputs(graph, n_random=images, seed=1) * graph.tensors[graph.inputs[0]].scale
    report = compare_with_onnxruntime(path, x)
    assert report.max_steps <= 1.0, report.max_steps
    return graph


def _dense_input(b: GraphBuilder) -> str:
    return b.qdq("input", -4, signed=False, bits=8)


def _tail_quant(b: GraphBuilder, x: str, channels: int) -> str:
    return b.activation(x, channels, -1, 4, False)


# ------------------------------------------------------------------ constant folding


def test_transpose_matmul_linear_without_bias(save_model):
    """torch's Linear(bias=False): Transpose(W) -> MatMul, the Transpose folded."""
    b = GraphBuilder(0)
    x = _dense_input(b)
    wt = b.node("Transpose", [b.const(b.po2_weights((6, 8), 3), "w")], perm=[1, 0])
    y = b.node("MatMul", [x, wt])
    path = save_model(build(b, (1, 8), y, "linear"))
    graph = _agrees(path)
    assert [lay.op for lay in graph.layers] == ["Dense"]
    assert any(name.startswith("Transpose") for name in graph.meta["folded_nodes"])


def test_init_subgraph_and_constant_qparams(save_model):
    """Weights from ConstantOfShape * signs (Mul), a bias by Unsqueeze/Squeeze, Q/DQ scale and zero point
    from Constant nodes (value_float form too) and from a folded Mul."""
    b = GraphBuilder(1)
    s = b.node("Constant", [], value_float=2.0**-3)
    z = b.node("Constant", [], value=helper.make_tensor("z", TensorProto.UINT8, [], [0]))
    q = b.node("QuantizeLinear", ["input", s, z])
    x = b.node("DequantizeLinear", [q, s, z])
    ones = b.node("ConstantOfShape", [b.const(np.array([4, 2, 3, 3], np.int64), "shape")],
                  value=helper.make_tensor("one", TensorProto.FLOAT, [1], [0.25]))
    signs = b.rng.choice([-1.0, 1.0, 2.0, 0.0], size=(4, 2, 3, 3)).astype(np.float32)
    w = b.node("Mul", [ones, b.const(signs, "signs")])
    bias = b.node("Squeeze", [b.node("Unsqueeze", [b.const(np.array([0.5, -1, 2, 0], np.float32), "bias"),
                                                   b.const(np.array([0], np.int64), "axes")])])
    y = b.node("Conv", [x, w, bias], kernel_shape=[3, 3], pads=[1] * 4)
    y = b.batchnorm(y, 4)
    y = b.node("Relu", [y])
    s2 = b.node("Mul", [b.const(np.float32(0.25), "s2a"), b.const(np.float32(2.0), "s2b")])  # 0.5
    z2 = b.const(np.uint8(0), "z2")
    y = b.node("DequantizeLinear", [b.node("QuantizeLinear", [y, s2, z2]), s2, z2])
    path = save_model(build(b, (1, 2, 5, 5), y, "init", out_rank=4))
    graph = _agrees(path)
    conv = graph.layers[0]
    assert isinstance(conv, ir.Conv) and conv.weights.kind == "po2"
    assert np.array_equal(conv.weights.ints * 2.0**conv.weights.int_scale_exp, signs * 0.25)


def test_shape_gather_concat_reshape_flatten_idiom(save_model):
    """Shape(x) -> Gather(0) -> Unsqueeze -> Concat(-1) -> Reshape on a dynamic batch folds to (1, -1)."""
    b = GraphBuilder(2)
    x = b.qdq("input", -3, signed=True, bits=6)
    c = b.node("Conv", [x, b.const(b.po2_weights((3, 2, 3, 3), 2), "w")], kernel_shape=[3, 3])
    c = _tail_quant(b, c, 3)
    n = b.node("Gather", [b.node("Shape", [c]), b.const(np.array(0, np.int64), "i0")], axis=0)
    n = b.node("Unsqueeze", [n, b.const(np.array([0], np.int64), "axes")])
    shape = b.node("Concat", [n, b.const(np.array([-1], np.int64), "minus1")], axis=0)
    flat = b.node("Reshape", [c, shape])
    y = b.node("Gemm", [flat, b.const(b.po2_weights((4, 3 * 4 * 4), 3), "fc")], transB=1)
    graph = _agrees(save_model(build(b, (1, 2, 6, 6), y, "idiom")))
    assert "Flatten" in [lay.op for lay in graph.layers]
    assert len(graph.meta["folded_nodes"]) == 4


def test_folding_cap_refuses_before_allocating(save_model):
    b = GraphBuilder(3)
    x = _dense_input(b)
    big = b.node("ConstantOfShape", [b.const(np.array([MAX_FOLDED_ELEMENTS, 1024], np.int64), "shape")])
    y = b.node("MatMul", [x, big])
    with pytest.raises(UnsupportedModelError, match=r"ConstantOfShape\): folding it would make a constant of "
                                                    r"68,719,476,736 values, over nbq's cap"):
        import_onnx(save_model(build(b, (1, 8), y, "big")))
    b = GraphBuilder(3)
    x = _dense_input(b)
    pads = b.const(np.array([0, 0, 100000, 100000], np.int64), "p")
    y = b.node("MatMul", [x, b.node("Pad", [b.const(np.ones((2, 2), np.float32), "c"), pads])])
    with pytest.raises(UnsupportedModelError, match=r"\(Pad\): folding it would make a constant of 10,000,400,004"):
        import_onnx(save_model(build(b, (1, 8), y, "pad"), "pad.onnx"))


# ------------------------------------------------------------------ Sum, Gemm, Mul/Div


def test_sum_of_three_scales(save_model):
    b = GraphBuilder(4)
    x = b.qdq("input", -3, signed=True, bits=6)
    branches = [x]
    for exp in (-1, -2):
        c = b.node("Conv", [x, b.const(b.po2_weights((2, 2, 3, 3), 3), "w")], kernel_shape=[3, 3], pads=[1] * 4)
        branches.append(b.activation(c, 2, exp, 4, False))
    y = b.node("Sum", branches)
    graph = _agrees(save_model(build(b, (1, 2, 5, 5), y, "sum", out_rank=4)))
    adds = [lay for lay in graph.layers if isinstance(lay, ir.Add)]
    assert len(adds) == 2 and graph.tensors[graph.outputs[0]].scale == 2.0**-3


@pytest.mark.parametrize("alpha,beta,trans_b,bias_shape", [(0.5, 2.0, 0, (1, 6)), (-2.0, 0.25, 1, (6,)),
                                                           (1.0, 1.0, 1, (1, 6))])
def test_gemm_alpha_beta_trans_and_2d_bias_at_output(save_model, alpha, beta, trans_b, bias_shape):
    b = GraphBuilder(5)
    x = _dense_input(b)
    w = b.po2_weights((6, 8), 3)
    bias = (b.rng.integers(-8, 8, bias_shape) / 4).astype(np.float32)
    y = b.node("Gemm", [x, b.const(w if trans_b else w.T, "w"), b.const(bias, "c")], alpha=alpha, beta=beta,
               transB=trans_b)
    graph = _agrees(save_model(build(b, (1, 8), y, "gemm")))
    assert [lay.op for lay in graph.layers] == ["Dense"]


def test_gemm_non_po2_alpha_folds_into_the_quantizer(save_model):
    b = GraphBuilder(6)
    x = _dense_input(b)
    y = b.node("Gemm", [x, b.const(b.po2_weights((6, 8), 3), "w"), b.const(np.ones(6, np.float32), "c")],
               alpha=0.3, transB=1)
    _agrees(save_model(build(b, (1, 8), _tail_quant(b, y, 6), "alpha")))
    b = GraphBuilder(6)
    y = b.node("Gemm", [_dense_input(b), b.const(b.po2_weights((6, 8), 3), "w")], alpha=0.3, transB=1)
    with pytest.raises(UnsupportedModelError, match="without a quantizer"):
        import_onnx(save_model(build(b, (1, 8), y, "alpha_out"), "alpha_out.onnx"))


@pytest.mark.parametrize("op,const", [("Mul", np.float32(0.25)), ("Div", np.float32(4.0)),
                                      ("Mul", np.array([[[2.0]], [[0.5]], [[1.0]]], np.float32))])
def test_mul_div_by_po2_before_the_quantizer(save_model, op, const):
    b = GraphBuilder(7)
    x = b.qdq("input", -3, signed=True, bits=6)
    c = b.node("Conv", [x, b.const(b.po2_weights((3, 2, 3, 3), 3), "w")], kernel_shape=[3, 3])
    c = b.node(op, [c, b.const(const, "k")])
    _agrees(save_model(build(b, (1, 2, 5, 5), _tail_quant(b, c, 3), "muldiv", out_rank=4)))


def _rescaled(mul_on_input: bool) -> onnx.ModelProto:
    b = GraphBuilder(8)
    x = b.qdq("input", -3, signed=True, bits=6)
    if mul_on_input:
        x = b.node("Mul", [b.const(np.float32(0.5), "half"), x])
    c = b.node("Conv", [x, b.const(b.po2_weights((3, 2, 3, 3), 3), "w")], kernel_shape=[3, 3])
    a = _tail_quant(b, c, 3)
    a = b.node("Div", [a, b.const(np.float32(0.125), "eighth")])  # after an activation quantizer
    y = b.node("Conv", [a, b.const(b.po2_weights((2, 3, 1, 1), 2), "w2")], kernel_shape=[1, 1])
    y = b.node("Mul", [y, b.const(np.float32(4.0), "four")])  # at the graph output
    return build(b, (1, 2, 5, 5), y, "rescale", out_rank=4)


def test_mul_by_po2_at_output_and_after_a_quantizer_moves_into_the_scale(save_model):
    path = save_model(_rescaled(False))
    graph = _agrees(path)
    x = adversarial_inputs(graph, n_random=12, seed=2) * graph.tensors[graph.inputs[0]].scale
    assert compare_with_onnxruntime(path, x).max_steps == 0  # no quantizer at the end: exactly the integers
    assert [lay.op for lay in graph.layers] == ["Conv", "Threshold", "Conv"]
    # the input quantizer's levels cannot move: its scale is the design's input format
    with pytest.raises(UnsupportedModelError, match="without a quantizer"):
        import_onnx(save_model(_rescaled(True), "input_mul.onnx"))


def test_mul_refusals(save_model):
    b = GraphBuilder(9)
    c = b.node("Conv", [b.qdq("input", -3, True, 6), b.const(b.po2_weights((3, 2, 3, 3), 3), "w")],
               kernel_shape=[3, 3])
    y = b.node("Mul", [c, b.const(np.float32(0.3), "k")])
    with pytest.raises(UnsupportedModelError, match=r"graph: a float result \(from 'Mul_\d+'\) reaches graph output "
                                                    r"'mul_\d+' without a quantizer"):
        import_onnx(save_model(build(b, (1, 2, 5, 5), y, "m1", out_rank=4), "m1.onnx"))
    b.nodes[-1].input[1] = b.const(np.ones((1, 1, 1, 3), np.float32), "k3")
    with pytest.raises(UnsupportedModelError, match=r"\(Mul\): Mul constant 'k3_\d+' of shape \(1, 1, 1, 3\) is "
                                                    r"not a scalar or one value per channel"):
        import_onnx(save_model(build(b, (1, 2, 5, 5), y, "m2", out_rank=4), "m2.onnx"))


# ------------------------------------------------------------------ Flatten / Reshape


@pytest.mark.parametrize("how", ["flatten-3", "reshape0-1", "reshape_identity_then_flatten"])
def test_flatten_and_reshape_forms(save_model, how):
    b = GraphBuilder(10)
    x = b.qdq("input", -3, signed=True, bits=6)
    c = _tail_quant(b, b.node("Conv", [x, b.const(b.po2_weights((4, 2, 3, 3), 3), "w")], kernel_shape=[3, 3]), 4)
    p = b.node("GlobalAveragePool", [c])  # (N, 4, 1, 1)
    if how == "flatten-3":
        f = b.node("Flatten", [p], axis=-3)
    elif how == "reshape0-1":
        f = b.node("Reshape", [p, b.const(np.array([0, -1], np.int64), "s")])
    else:
        p = b.node("Reshape", [p, b.const(np.array([-1, 4, 1, 1], np.int64), "s")])
        f = b.node("Reshape", [p, b.const(np.array([-1, 4], np.int64), "s")])
    y = b.node("Gemm", [f, b.const(b.po2_weights((3, 4), 2), "fc")], transB=1)
    _agrees(save_model(build(b, (1, 2, 5, 5), y, "flat")))


@pytest.mark.parametrize("keepdims", [1, 0])
def test_reduce_mean_over_the_spatial_axes_is_a_global_average_pool(save_model, keepdims):
    b = GraphBuilder(13)
    x = b.qdq("input", -3, signed=True, bits=6)
    c = _tail_quant(b, b.node("Conv", [x, b.const(b.po2_weights((4, 2, 3, 3), 3), "w")], kernel_shape=[3, 3]), 4)
    p = b.node("ReduceMean", [c], axes=[-1, -2], keepdims=keepdims)  # opset < 18: axes is an attribute
    f = b.node("Flatten", [p]) if keepdims else p
    y = b.node("Gemm", [f, b.const(b.po2_weights((3, 4), 2), "fc")], transB=1)
    _agrees(save_model(build(b, (1, 2, 5, 5), y, f"mean{keepdims}")))


def test_reduce_mean_over_channels_refused(save_model):
    b = GraphBuilder(14)
    y = b.node("ReduceMean", [b.qdq("input", -3, signed=True, bits=6)], axes=[1], keepdims=1)
    with pytest.raises(UnsupportedModelError, match=r"\(ReduceMean\): ReduceMean over axes \[1\] is not supported; "
                                                    r"nbq averages over the spatial axes"):
        import_onnx(save_model(build(b, (1, 2, 5, 5), y, "meanc", out_rank=4)))


def test_reshape_that_reorders_names_both_shapes(save_model):
    b = GraphBuilder(11)
    x = b.qdq("input", -3, signed=True, bits=6)
    y = b.node("Reshape", [x, b.const(np.array([1, 2, 25], np.int64), "s")])
    with pytest.raises(UnsupportedModelError, match=r"\(Reshape\): Reshape of \(N, 2, 5, 5\) to \(N, 2, 25\) "
                                                    "is not a shape nbq streams"):
        import_onnx(save_model(build(b, (1, 2, 5, 5), y, "r", out_rank=3)))


def test_flatten_other_axis_refused(save_model):
    b = GraphBuilder(12)
    y = b.node("Flatten", [b.qdq("input", -3, signed=True, bits=6)], axis=2)
    with pytest.raises(UnsupportedModelError, match=r"Flatten with axis=2 on a rank-4 input is not supported"):
        import_onnx(save_model(build(b, (1, 2, 5, 5), y, "f")))


# ------------------------------------------------------------------ the dropped tail


def _classifier(tail: list[str]) -> onnx.ModelProto:
    b = GraphBuilder(13)
    y = b.node("Gemm", [_dense_input(b), b.const(b.po2_weights((5, 8), 3), "w")], transB=1)
    y = _tail_quant(b, y, 5)
    for op in tail:
        y = b.node(op, [y], axis=1) if op != "ArgMax" else b.node(op, [y], axis=1, keepdims=1)
    return build(b, (1, 8), y, "cls")


@pytest.mark.parametrize("tail", [["Softmax"], ["LogSoftmax"], ["Softmax", "ArgMax"]])
def test_final_softmax_is_dropped_and_compared_before_it(save_model, tail):
    path = save_model(_classifier(tail))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graph = _agrees(path)
    assert [op for op, _ in graph.meta["dropped_tail"]] == tail
    assert any(f"the design outputs the scores before {tail[-1]} '" in str(w.message) for w in caught)
    assert graph.meta["onnx_outputs"] != graph.meta["onnx_graph_outputs"]


def test_softmax_inside_the_graph_refused(save_model):
    b = GraphBuilder(14)
    y = b.node("Softmax", [_dense_input(b)], axis=1)
    y = b.node("Gemm", [y, b.const(b.po2_weights((5, 8), 3), "w")], transB=1)
    with pytest.raises(UnsupportedModelError, match=r"\(Softmax\): Softmax is supported only at the end"):
        import_onnx(save_model(build(b, (1, 8), y, "s")))


# ------------------------------------------------------------------ BatchNormalization, LRN


def test_float_batchnorm_at_output_with_po2_gains_is_exact(save_model):
    b = GraphBuilder(15)
    x = b.qdq("input", -3, signed=True, bits=6)
    c = b.node("Conv", [x, b.const(b.po2_weights((3, 2, 3, 3), 3), "w")], kernel_shape=[3, 3])
    ones = np.ones(3, np.float32)
    y = b.node("BatchNormalization", [c, b.const(ones * 0.5, "g"), b.const(np.array([1, -2, 0.25], np.float32), "b"),
                                      b.const(np.array([0.5, 0, -1], np.float32), "m"), b.const(ones, "v")],
               epsilon=0.0)
    _agrees(save_model(build(b, (1, 2, 5, 5), y, "bn", out_rank=4)))
    i = next(i for i, t in enumerate(b.inits) if t.name.startswith("g_"))
    b.inits[i] = onnx.numpy_helper.from_array(np.array([0.5, 0.3, 1], np.float32), b.inits[i].name)
    with pytest.raises(UnsupportedModelError, match=r"graph output .* without a quantizer; add QuantizeLinear"):
        import_onnx(save_model(build(b, (1, 2, 5, 5), y, "bn2", out_rank=4), "bn2.onnx"))


def test_lrn_refused_with_advice(save_model):
    b = GraphBuilder(16)
    y = b.node("LRN", [b.qdq("input", -3, signed=True, bits=6)], size=3)
    with pytest.raises(UnsupportedModelError, match=r"\(LRN\): LRN \(local response normalization\) is not "
                                                    r"supported; train with BatchNormalization instead"):
        import_onnx(save_model(build(b, (1, 2, 5, 5), y, "lrn", out_rank=4)))


def test_training_mode_batchnorm_exits_2_through_the_cli(save_model, tmp_path):
    b = GraphBuilder(17)
    c = b.node("Conv", [b.qdq("input", -3, True, 6), b.const(b.po2_weights((3, 2, 3, 3), 3), "w")],
               kernel_shape=[3, 3])
    y = b.batchnorm(c, 3)
    b.nodes[-1].attribute.append(helper.make_attribute("training_mode", 1))
    y = b.qdq(b.node("Relu", [y]), -1, signed=False, bits=4)
    path = save_model(build(b, (1, 2, 5, 5), y, "train", out_rank=4))
    run = subprocess.run([sys.executable, "-m", "nbq.cli", "compile", str(path), "-o", "out"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert "(BatchNormalization): BatchNormalization in training mode" in run.stderr
    assert run.stderr.count("\n") == 1 and not (tmp_path / "out").exists()


def test_gemm_refusals(save_model):
    b = GraphBuilder(18)
    x = _dense_input(b)
    y = b.node("Gemm", [x, b.const(b.po2_weights((6, 8), 3), "w"), b.const(np.ones((3, 6), np.float32), "c")],
               transB=1)
    with pytest.raises(UnsupportedModelError, match=r"bias 'c_\d+' has shape \(3, 6\); nbq takes one bias value"):
        import_onnx(save_model(build(b, (1, 8), y, "g1"), "g1.onnx"))
    b.nodes[-1].attribute.append(helper.make_attribute("transA", 1))
    with pytest.raises(UnsupportedModelError, match=r"transA=1 multiplies across the batch"):
        import_onnx(save_model(build(b, (1, 8), y, "g2"), "g2.onnx"))


@pytest.mark.parametrize("form", ["reshape", "unsqueeze"])
def test_vector_to_1x1_map_and_back(save_model, form):
    """(N, F) -> (N, F, 1, 1) -> 1x1 Conv (a Dense) -> BN/ReLU/quantizer -> Squeeze back to (N, F)."""
    b = GraphBuilder(19)
    y = b.node("Gemm", [_dense_input(b), b.const(b.po2_weights((6, 8), 3), "w")], transB=1)
    y = _tail_quant(b, y, 6)
    if form == "reshape":
        y = b.node("Reshape", [y, b.const(np.array([-1, 6, 1, 1], np.int64), "s")])
    else:
        y = b.node("Unsqueeze", [y, b.const(np.array([2, -1], np.int64), "axes")])
    y = b.node("Conv", [y, b.const(b.po2_weights((5, 6, 1, 1), 2), "w1")], kernel_shape=[1, 1])
    y = b.node("Mul", [y, b.const(np.full((5, 1, 1), 0.5, np.float32), "half")])
    y = _tail_quant(b, y, 5)
    y = b.node("Squeeze", [y, b.const(np.array([2, 3], np.int64), "axes")])
    y = b.node("Gemm", [y, b.const(b.po2_weights((3, 5), 2), "fc")], transB=1)
    graph = _agrees(save_model(build(b, (1, 8), y, "view")))
    assert [lay.op for lay in graph.layers] == ["Dense", "Threshold", "Dense", "Threshold", "Dense"]


def test_vector_view_into_a_3x3_conv_refused(save_model):
    b = GraphBuilder(20)
    y = b.node("Reshape", [_dense_input(b), b.const(np.array([-1, 8, 1, 1], np.int64), "s")])
    y = b.node("Conv", [y, b.const(b.po2_weights((2, 8, 3, 3), 2), "w")], kernel_shape=[3, 3], pads=[1] * 4)
    with pytest.raises(UnsupportedModelError, match=r"\(Conv\): on the 1x1 map reshaped from a vector only a 1x1"):
        import_onnx(save_model(build(b, (1, 8), y, "v", out_rank=4)))


def test_torch_export_with_init_subgraphs_and_flatten_idiom(save_model, tmp_path):
    """A real torch.onnx.export (TorchScript exporter, constant folding off): Constant/Cast Q/DQ parameters,
    weights computed by Mul, Transpose(W) -> MatMul, and x.view(x.size(0), -1)."""
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            g = torch.Generator().manual_seed(0)
            self.register_buffer("s1", torch.randint(-1, 2, (3, 2, 3, 3), generator=g).float())
            self.register_buffer("s2", torch.randint(-1, 2, (4, 48), generator=g).float())

        def forward(self, x):
            x = torch.fake_quantize_per_tensor_affine(x, 2.0**-3, 0, -128, 127)
            x = torch.nn.functional.conv2d(x, self.s1 * 0.5)
            x = x.view(x.size(0), -1)
            return torch.nn.functional.linear(x, self.s2 * torch.ones(4, 48) * 0.25)

    path = tmp_path / "torch.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Net().eval(), (torch.rand(1, 2, 6, 6),), str(path), dynamo=False,
                          do_constant_folding=False, opset_version=17, input_names=["input"], output_names=["y"],
                          dynamic_axes={"input": {0: "N"}, "y": {0: "N"}})
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"Shape", "Gather", "Concat", "Mul", "Transpose", "Constant"} <= ops
    graph = _agrees(path)
    assert [lay.op for lay in graph.layers] == ["Conv", "Flatten", "Dense"]


def test_dequantized_int8_weight_read_by_a_folded_transpose(save_model):
    """DequantizeLinear(int8 W) is left to the importer, unless a folded node (here Transpose) reads it."""
    b = GraphBuilder(21)
    x = _dense_input(b)
    ints = b.rng.integers(-127, 128, (8, 6)).astype(np.int8)
    ints.flat[0] = -128
    s, z = b.const(np.float32(2.0**-5), "ws"), b.const(np.int8(0), "wz")
    w = b.node("Transpose", [b.node("DequantizeLinear", [b.const(ints, "wq"), s, z])], perm=[1, 0])
    bias_q = b.node("DequantizeLinear", [b.const(np.arange(-3, 3, dtype=np.int32) * 1000, "bq"),
                                         b.const(np.float32(2.0**-9), "bs")])
    y = b.node("Gemm", [x, w, bias_q], transB=1)
    graph = _agrees(save_model(build(b, (1, 8), y, "dq")))
    dense = graph.layers[0]
    assert dense.weights.kind == "int" and np.array_equal(dense.weights.ints * 2.0**dense.weights.int_scale_exp,
                                                          ints.T.astype(np.float64) * 2.0**-5)
    assert [n.split("_")[0] for n in graph.meta["folded_nodes"]] == ["Transpose"]


@pytest.mark.parametrize("op,k", [("Div", 3.0), ("Mul", 0.5), ("Mul", -1.0)])
def test_mul_div_after_an_activation(save_model, op, k):
    """clamp(y, lo, hi) * k = clamp(k y, k lo, k hi) for k > 0, folded into the next quantizer."""
    b = GraphBuilder(22)
    x = b.qdq("input", -3, signed=True, bits=6)
    c = b.batchnorm(b.node("Conv", [x, b.const(b.po2_weights((3, 2, 3, 3), 3), "w")], kernel_shape=[3, 3]), 3)
    c = b.node("Clip", [c, b.const(np.float32(0), "lo"), b.const(np.float32(6), "hi")])
    c = b.node(op, [c, b.const(np.float32(k), "k")])
    y = b.qdq(c, -2, signed=True, bits=6)
    path = save_model(build(b, (1, 2, 5, 5), y, "act", out_rank=4))
    if k > 0:
        _agrees(path)
    else:
        with pytest.raises(UnsupportedModelError, match=r"\(Mul\): Mul by a negative or per-channel constant after "
                                                        "an activation is not supported"):
            import_onnx(path)
