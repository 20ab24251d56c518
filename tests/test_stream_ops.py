"""Concat, channel shuffle, MaxPool ceil_mode and padded AveragePool: the importer against ONNX Runtime
(exact integers where no quantizer rounds), the ceil/divisor rules, and the one-line errors."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from nbq import ir
from nbq.compare import compare_with_onnxruntime
from nbq.errors import UnsupportedModelError
from nbq.frontend.onnx_import import import_onnx
from nbq.frontend.pool_pads import ceil_extra, real_counts
from nbq.golden import adversarial_inputs
from nbq.modelgen import GraphBuilder, build
from nbq.pipeline import lower


def _int_input(b: GraphBuilder, signed: bool = True) -> str:
    return b.qdq("input", -2, signed=signed, bits=4)


def _agree(save_model, model: onnx.ModelProto, steps: float = 0.0) -> ir.Graph:
    """Reference == ONNX Runtime on random and range-extreme images (within `steps` output steps)."""
    path = save_model(model)
    graph = lower(path)
    x = adversarial_inputs(graph, n_random=8, seed=1) * graph.tensors[graph.inputs[0]].scale
    report = compare_with_onnxruntime(path, x)
    assert report.max_steps <= steps, report.max_steps
    (y,) = report.outputs_int.values()
    assert np.unique(y).size > 1
    return graph


def _pool_model(op: str, shape: tuple[int, ...], **attrs) -> onnx.ModelProto:
    b = GraphBuilder(0)
    x = b.node(op, [_int_input(b)], **attrs)
    return build(b, shape, x, op.lower(), out_rank=4)


# ------------------------------------------------------------------ MaxPool ceil_mode


def _configs(n: int, seed: int):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        k, s = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        size = int(rng.integers(k, k + 7))
        pb, pe = (int(rng.integers(0, k)) for _ in range(2))
        out.append((size, k, s, pb, pe))
    return out


def test_ceil_rule_matches_onnxruntime_shapes_and_values(save_model):
    """Random sizes, kernels, strides and pads (< kernel) per axis, including windows that ONNX's
    rule drops because they would start in the end padding."""
    dropped = 0
    for h_cfg, w_cfg in zip(_configs(12, 0), _configs(12, 1), strict=True):
        (h, kh, sh, pt, pb), (w, kw, sw, pl, pr) = h_cfg, w_cfg
        model = _pool_model("MaxPool", (1, 2, h, w), kernel_shape=[kh, kw], strides=[sh, sw], pads=[pt, pl, pb, pr],
                            ceil_mode=1)
        path = save_model(model)
        graph = lower(path)
        x = adversarial_inputs(graph, n_random=3, seed=2) * graph.tensors[graph.inputs[0]].scale
        report = compare_with_onnxruntime(path, x)  # also compares shapes (reshape of ORT's output)
        assert report.max_steps == 0.0, (h_cfg, w_cfg)
        (y,) = report.outputs_ort.values()
        assert y.shape[2:] == graph.tensors[graph.outputs[0]].shape[1:]
        for size, k, s, p0, p1 in (h_cfg, w_cfg):
            naive = -(-(size + p0 + p1 - k) // s) + 1
            dropped += (naive - 1) * s >= size + p0
    assert dropped > 0  # the rule's corner case was exercised


@pytest.mark.parametrize("auto_pad", ["VALID", "SAME_UPPER", "SAME_LOWER"])
@pytest.mark.parametrize("h, k, s", [(6, 3, 2), (7, 2, 3), (5, 3, 3)])
def test_ceil_mode_with_auto_pad(save_model, auto_pad, h, k, s):
    _agree(save_model, _pool_model("MaxPool", (1, 2, h, h), kernel_shape=[k, k], strides=[s, s], auto_pad=auto_pad,
                                   ceil_mode=1))


def test_ceil_extra_padding():
    assert ceil_extra(6, 3, 2, 0, 0) == 1  # 6x6, 3x3/2: floor 2 windows, ceil 3
    assert ceil_extra(7, 3, 2, 0, 0) == 0  # already exact
    assert ceil_extra(4, 2, 3, 1, 1) == 0  # the third window would start in the end padding: dropped


def test_maxpool_ceil_mode_layer(save_model):
    g = _agree(save_model, _pool_model("MaxPool", (1, 2, 6, 6), kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1))
    (pool,) = [la for la in g.layers if isinstance(la, ir.MaxPool)]
    assert pool.pads == (0, 0, 1, 1) and g.tensors[pool.output].shape == (2, 3, 3)


# ------------------------------------------------------------------ AveragePool with pads


def test_average_pool_count_include_pad(save_model):
    g = _agree(save_model, _pool_model("AveragePool", (1, 2, 5, 5), kernel_shape=[2, 2], strides=[2, 2],
                                       pads=[1, 1, 1, 1], count_include_pad=1))
    (pool,) = g.layers
    assert isinstance(pool, ir.SumPool) and pool.pads == (1, 1, 1, 1)
    assert g.tensors[pool.output].scale == g.tensors[pool.inputs[0]].scale / 4


def test_average_pool_excluding_pads_with_one_divisor(save_model):
    """3x3/3 windows over a 4x4 map padded by 1: every window holds 2x2 real cells."""
    assert real_counts(4, 3, 3, 1, 2) == [2, 2]
    g = _agree(save_model, _pool_model("AveragePool", (1, 2, 4, 4), kernel_shape=[3, 3], strides=[3, 3],
                                       pads=[1, 1, 1, 1]))
    (pool,) = g.layers
    assert g.tensors[pool.output].scale == g.tensors[pool.inputs[0]].scale / 4


@pytest.mark.parametrize("attrs, message", [
    (dict(kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1], count_include_pad=1), r"by \[9\]"),
    (dict(kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1]), r"by \[1, 2, 4\]"),
    (dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1), "ceil_mode=1 is supported for MaxPool only"),
])
def test_average_pool_errors(save_model, attrs, message):
    path = save_model(_pool_model("AveragePool", (1, 2, 5, 5), **attrs))
    with pytest.raises(UnsupportedModelError, match=message) as err:
        import_onnx(path)
    assert str(path) in str(err.value) and "AveragePool" in str(err.value) and "\n" not in str(err.value)


# ------------------------------------------------------------------ Concat


def _concat_model(axis: int = 1, vectors: bool = False) -> onnx.ModelProto:
    b = GraphBuilder(3)
    x = b.qdq("input", -3, signed=True, bits=4)
    if vectors:
        y = b.qdq(b.node("Gemm", [x, b.const(b.po2_weights((3, 6), 3), "w")], transB=1), -3, True, 8)
        z = b.node("Concat", [x, y, x], axis=axis)
        return build(b, (1, 6), z, "concat_vec")
    y = b.activation(b.node("Conv", [x, b.const(b.po2_weights((3, 2, 3, 3), 3), "w")], kernel_shape=[3, 3],
                            pads=[1, 1, 1, 1]), 3, -1, 4, False)
    z = b.node("Concat", [x, y], axis=axis)
    return build(b, (1, 2, 4, 4), z, "concat", out_rank=4)


@pytest.mark.parametrize("axis", [1, -3])
def test_concat_of_a_map_and_its_conv(save_model, axis):
    g = _agree(save_model, _concat_model(axis), steps=1.0)
    (cat,) = [la for la in g.layers if isinstance(la, ir.Concat)]
    assert cat.shifts == (0, 2) and g.tensors[cat.output].shape == (5, 4, 4)


@pytest.mark.parametrize("axis", [1, -1])
def test_concat_of_vectors(save_model, axis):
    g = _agree(save_model, _concat_model(axis, vectors=True), steps=1.0)
    (cat,) = [la for la in g.layers if isinstance(la, ir.Concat)]
    assert len(cat.inputs) == 3 and g.tensors[cat.output].shape == (15,)


@pytest.mark.parametrize("axis", [0, 2, 3, -1])
def test_concat_on_another_axis_is_refused(save_model, axis):
    path = save_model(_concat_model(axis))
    with pytest.raises(UnsupportedModelError, match=f"Concat on axis {axis} .* channels only") as err:
        import_onnx(path)
    assert "(Concat)" in str(err.value) and "\n" not in str(err.value)


# ------------------------------------------------------------------ channel shuffle / Transpose


def _shuffle_model(groups: int, c: int = 6, perm=(0, 2, 1, 3, 4), back: list[int] | None = None,
                   transpose: bool = True, merged: bool = False) -> onnx.ModelProto:
    b = GraphBuilder(5)
    x = _int_input(b)
    split = [-1, groups, c // groups] + ([6] if merged else [3, 2])
    x = b.node("Reshape", [x, b.const(np.array(split, np.int64), "s5")])
    if transpose:
        x = b.node("Transpose", [x], perm=list(perm))
    x = b.node("Reshape", [x, b.const(np.array(back or [-1, c, 3, 2], np.int64), "s4")])
    return build(b, (1, c, 3, 2), x, "shuffle", out_rank=4)


@pytest.mark.parametrize("groups", [2, 3])
def test_channel_shuffle_is_exact(save_model, groups):
    g = _agree(save_model, _shuffle_model(groups))
    (perm,) = g.layers
    assert isinstance(perm, ir.ChannelPermute) and sorted(perm.perm) == list(range(6))
    assert perm.perm != tuple(range(6))


def test_channel_shuffle_with_merged_pixels(save_model):
    """The 4-D form: Reshape(N, g, C/g, H*W) -> Transpose([0, 2, 1, 3]) -> Reshape(N, C, H, W)."""
    g = _agree(save_model, _shuffle_model(3, perm=(0, 2, 1, 3), merged=True))
    (perm,) = g.layers
    assert perm.perm == (0, 2, 4, 1, 3, 5)


def test_reshape_to_the_same_shape_is_no_layer(save_model):
    b = GraphBuilder(8)
    x = b.node("Reshape", [_int_input(b), b.const(np.array([-1, 2, 3, 3], np.int64), "s")])
    g = _agree(save_model, build(b, (1, 2, 3, 3), x, "same", out_rank=4))
    assert g.layers == []


def test_other_4d_reshapes_are_refused(save_model):
    b = GraphBuilder(8)
    x = b.node("Reshape", [_int_input(b), b.const(np.array([-1, 6, 3, 1], np.int64), "s")])
    with pytest.raises(UnsupportedModelError, match=r"nbq reshapes to \(N, -1\)"):
        import_onnx(save_model(build(b, (1, 2, 3, 3), x, "other", out_rank=4)))


def test_reshape_round_trip_without_transpose_is_no_layer(save_model):
    g = lower(save_model(_shuffle_model(2, transpose=False)))
    assert g.layers == []


@pytest.mark.parametrize("perm, message", [
    ((0, 1, 2, 4, 3), r"is not a channel shuffle"),
])
def test_other_transposes_of_the_grouped_view_are_refused(save_model, perm, message):
    with pytest.raises(UnsupportedModelError, match=message):
        import_onnx(save_model(_shuffle_model(2, perm=perm)))


def _transpose_model(perm) -> onnx.ModelProto:
    b = GraphBuilder(6)
    x = b.node("Transpose", [_int_input(b)], perm=list(perm))
    return build(b, (1, 2, 3, 3), x, "transpose", out_rank=4)


def test_identity_transpose_passes(save_model):
    g = _agree(save_model, _transpose_model((0, 1, 2, 3)))
    assert g.layers == []


def test_transpose_of_size_one_axes_passes(save_model):
    """(N, C, 1, 1): swapping H and W moves no value."""
    b = GraphBuilder(6)
    x = b.node("Transpose", [b.node("GlobalAveragePool", [_int_input(b)])], perm=[0, 1, 3, 2])
    g = _agree(save_model, build(b, (1, 2, 4, 4), x, "transpose11", out_rank=4))
    assert [la.op for la in g.layers] == ["SumPool"]


@pytest.mark.parametrize("perm", [(0, 2, 3, 1), (0, 1, 3, 2), (1, 0, 2, 3), (0, 2, 1, 3)])
def test_transpose_that_moves_axes_is_refused(save_model, perm):
    path = save_model(_transpose_model(perm))
    with pytest.raises(UnsupportedModelError, match=r"Transpose perm .* moves its axes") as err:
        import_onnx(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_a_dangling_grouped_view_is_refused(save_model):
    b = GraphBuilder(7)
    x = b.node("Reshape", [_int_input(b), b.const(np.array([0, 2, 1, 3, 3], np.int64), "s5")])
    path = save_model(build(b, (1, 2, 3, 3), x, "dangling", out_rank=5))
    with pytest.raises(UnsupportedModelError, match="must be a channel shuffle"):
        import_onnx(path)


# ------------------------------------------------------------------ the simulated op cases against ONNX Runtime


@pytest.mark.parametrize("name", ["concat_fire", "concat_mixed", "shuffle_pools"])
def test_op_cases_agree_with_onnxruntime(save_model, name):
    """The graphs tests/test_op_agreement.py simulates (reference == C-sim == RTL) match ONNX Runtime."""
    import op_cases

    _agree(save_model, getattr(op_cases, name)(), steps=1.0)


# ------------------------------------------------------------------ hardware plan


def test_sign_outputs_stay_bipolar_through_shuffle_and_concat(save_model):
    """+-1 maps stay +-1 through a channel shuffle and an unshifted Concat: the binary conv after them
    runs the unmasked XNOR engine (2 * popcount - K), as after a plain sign."""
    from nbq.board_catalog import load_board
    from nbq.plan import plan_graph

    b = GraphBuilder(11)
    x = b.qdq("input", -3, signed=True, bits=4)
    s = b.node("Sign", [b.batchnorm(b.node("Conv", [x, b.const(b.po2_weights((4, 1, 3, 3), 2), "w")],
                                           kernel_shape=[3, 3]), 4)])
    t = b.node("Reshape", [s, b.const(np.array([0, 2, 2, 4, 4], np.int64), "s5")])
    t = b.node("Reshape", [b.node("Transpose", [t], perm=[0, 2, 1, 3, 4]),
                           b.const(np.array([0, 4, 4, 4], np.int64), "s4")])
    z = b.node("Concat", [s, t], axis=1)
    w = b.rng.choice(np.array([-1.0, 1.0], np.float32), size=(3, 8, 3, 3))
    y = b.node("Conv", [z, b.const(w, "wb")], kernel_shape=[3, 3])
    graph = lower(save_model(build(b, (1, 1, 6, 6), y, "bipolar", out_rank=4)))
    assert {"ChannelPermute", "Concat"} <= {la.op for la in graph.layers}
    plan = plan_graph(graph, load_board("zcu102"))
    engines = [(p.engine.kind, p.engine.masked) for p in plan.mvaus]
    assert engines[-1] == ("xnor", False), engines


def _inception(relu_b: bool = True, quantize: bool = True) -> onnx.ModelProto:
    """Two float branches (conv -> BN -> ReLU, not quantized) joined by a Concat, then one quantizer."""
    b = GraphBuilder(12)
    x = b.qdq("input", -3, signed=True, bits=4)
    br = []
    for k, (oc, relu) in enumerate(((3, True), (2, relu_b))):
        w = b.po2_weights((oc, 2, 2 * k + 1, 2 * k + 1), 3)
        y = b.batchnorm(b.node("Conv", [x, b.const(w, "w")], kernel_shape=[2 * k + 1] * 2, pads=[k] * 4), oc)
        br.append(b.node("Relu", [y]) if relu else y)
    z = b.node("Concat", br, axis=1)
    if quantize:
        z = b.qdq(z, -2, signed=False, bits=4)
    return build(b, (1, 2, 4, 4), z, "inception", out_rank=4)


def test_concat_of_float_branches_then_one_quantizer(save_model):
    g = _agree(save_model, _inception(), steps=1.0)
    (cat,) = [la for la in g.layers if isinstance(la, ir.Concat)]
    assert isinstance(g.consumers(cat.output)[0], ir.Threshold)


@pytest.mark.parametrize("relu_b, quantize, message", [
    (False, True, "different activations"),
    (True, False, "without a quantizer"),
])
def test_concat_of_float_branches_errors(save_model, relu_b, quantize, message):
    with pytest.raises(UnsupportedModelError, match=message):
        import_onnx(save_model(_inception(relu_b, quantize)))
