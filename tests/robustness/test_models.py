"""Malformed and oversized models: every one is a named exit-2 error, fast, within 2 GiB, writing nothing.

Each case crafts one hostile model with onnx.helper (a small valid CNN, then one thing broken), runs
`nbq compile` on it in the sandbox and checks the exit-code contract: exit 2, one `nbq: error:` line
naming the model file and the node/field at fault, nothing written anywhere.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from harness import EXAMPLE, assert_bad_input
from onnx import TensorProto, helper, numpy_helper

FAST_S = 20.0  # generous for a loaded 2-core machine; the cases take ~1-3 s each


# ------------------------------------------------------------------ models


def _cnn(channels: int = 4, hw: int = 6, act_type: int = TensorProto.UINT8, opset: int = 17,
         conv_attrs: dict | None = None, bias: np.ndarray | None = None, bn: dict | None = None,
         act_scale: np.ndarray | None = None, act_zp: np.ndarray | None = None, in_hw: tuple | None = None,
         weight: np.ndarray | None = None, kernel: int = 3) -> onnx.ModelProto:
    """input -> QDQ -> Conv(+bias) -> BN -> Relu -> QDQ -> Flatten -> Gemm; every part overridable."""
    rng = np.random.default_rng(0)
    h, w_ = in_hw or (hw, hw)
    inits = [
        numpy_helper.from_array(np.float32(2**-4), "in_s"), numpy_helper.from_array(np.uint8(0), "in_z"),
        numpy_helper.from_array(weight if weight is not None else
                                rng.choice([-1.0, -0.5, 0.5, 1.0], (channels, 1, kernel, kernel)).astype(np.float32),
                                "conv_w"),
        numpy_helper.from_array(bias if bias is not None else np.zeros(channels, np.float32), "conv_b"),
    ]
    bnp = {"g": np.ones(channels, np.float32), "b": np.zeros(channels, np.float32),
           "m": np.zeros(channels, np.float32), "v": np.ones(channels, np.float32)}
    bnp.update(bn or {})
    inits += [numpy_helper.from_array(np.asarray(v), f"bn_{k}") for k, v in bnp.items()]
    zp_dtype = {TensorProto.UINT8: np.uint8, TensorProto.UINT16: np.uint16, TensorProto.INT8: np.int8}[act_type]
    inits += [numpy_helper.from_array(np.asarray(act_scale if act_scale is not None else np.float32(0.25)), "act_s"),
              numpy_helper.from_array(np.asarray(act_zp if act_zp is not None else zp_dtype(0)), "act_z")]
    attrs = {"kernel_shape": [kernel, kernel], "pads": [1, 1, 1, 1], "strides": [1, 1]}
    attrs.update(conv_attrs or {})
    attrs = {k: v for k, v in attrs.items() if v is not None}
    nodes = [
        helper.make_node("QuantizeLinear", ["input", "in_s", "in_z"], ["q0"], name="q_in"),
        helper.make_node("DequantizeLinear", ["q0", "in_s", "in_z"], ["dq0"], name="dq_in"),
        helper.make_node("Conv", ["dq0", "conv_w", "conv_b"], ["c1"], name="conv1", **attrs),
        helper.make_node("BatchNormalization", ["c1", "bn_g", "bn_b", "bn_m", "bn_v"], ["bn1"], name="bn1"),
        helper.make_node("Relu", ["bn1"], ["r1"], name="relu1"),
        helper.make_node("QuantizeLinear", ["r1", "act_s", "act_z"], ["q1"], name="q_act"),
        helper.make_node("DequantizeLinear", ["q1", "act_s", "act_z"], ["dq1"], name="dq_act"),
        helper.make_node("GlobalAveragePool", ["dq1"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flat", axis=1),
        helper.make_node("Gemm", ["flat", "fc_w"], ["out"], name="fc", transB=1),
    ]
    inits.append(numpy_helper.from_array(rng.choice([-1.0, 1.0], (3, channels)).astype(np.float32), "fc_w"))
    graph = helper.make_graph(nodes, "hostile",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, h, w_])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _save(sandbox, model: onnx.ModelProto, name: str = "model.onnx") -> str:
    (sandbox.work / name).write_bytes(model.SerializeToString())
    return name


def _init(model: onnx.ModelProto, name: str) -> onnx.TensorProto:
    return next(i for i in model.graph.initializer if i.name == name)


def _set_init(model: onnx.ModelProto, name: str, value: np.ndarray) -> None:
    _init(model, name).CopyFrom(numpy_helper.from_array(np.asarray(value), name))


def _node(model: onnx.ModelProto, name: str) -> onnx.NodeProto:
    return next(n for n in model.graph.node if n.name == name)


def _stat_tree(root: Path) -> dict[str, tuple[int, int]]:
    """path -> (size, mtime): the sandbox's hashing snapshot would read a sparse 4 GiB file twice."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + dirnames:
            st = os.lstat(os.path.join(dirpath, name))
            out[os.path.relpath(os.path.join(dirpath, name), root)] = (st.st_size, st.st_mtime_ns)
    return out


def _compile(sandbox, model_file: str, *needles: str, extra: tuple[str, ...] = (), huge_files: bool = False):
    """compile -> exit 2, one line naming the file and the needles, nothing written, fast."""
    before = _stat_tree(sandbox.root) if huge_files else sandbox.snapshot()
    start = time.monotonic()
    out = sandbox.nbq("compile", model_file, "-o", "proj", "-q", *extra)
    elapsed = time.monotonic() - start
    assert_bad_input(out, model_file, *needles)
    if huge_files:
        assert _stat_tree(sandbox.root) == before
    else:
        assert sandbox.changed() == [], sandbox.changed()
    assert elapsed < FAST_S, f"took {elapsed:.1f} s\n{out.describe()}"
    return out


# --------------------------------------------------------------- sanity


def test_the_base_model_compiles(sandbox):
    """The hostile cases below each break one thing of this model, which itself compiles."""
    out = sandbox.nbq("compile", _save(sandbox, _cnn()), "-o", "proj", "-q")
    assert out.code == 0, out.describe()


# ------------------------------------------------------------ weights / values


def test_empty_weights(sandbox):
    m = _cnn()
    _set_init(m, "conv_w", np.zeros((0, 1, 3, 3), np.float32))
    _compile(sandbox, _save(sandbox, m), "conv1", "conv_w", "empty")


def test_nan_weight(sandbox):
    w = np.ones((4, 1, 3, 3), np.float32)
    w[1, 0, 1, 1] = np.nan
    _compile(sandbox, _save(sandbox, _cnn(weight=w)), "conv1", "conv_w", "nan")


def test_batchnorm_length_mismatch(sandbox):
    _compile(sandbox, _save(sandbox, _cnn(bn={"g": np.ones(3, np.float32)})), "bn1", "bn_g", "3", "4")


def test_batchnorm_negative_variance(sandbox):
    _compile(sandbox, _save(sandbox, _cnn(bn={"v": -np.ones(4, np.float32)})), "bn1", "bn_v", "negative")


def test_vector_zero_point(sandbox):
    _compile(sandbox, _save(sandbox, _cnn(act_zp=np.zeros(2, np.uint8))), "q_act", "act_z", "scalar")


def test_nan_bias(sandbox):
    b = np.zeros(4, np.float32)
    b[2] = np.nan
    _compile(sandbox, _save(sandbox, _cnn(bias=b)), "conv1", "conv_b", "nan")


def test_huge_bias(sandbox):
    _compile(sandbox, _save(sandbox, _cnn(bias=np.full(4, 3e38, np.float32))), "conv1", "conv_b", "3e+38")


def test_inf_scale(sandbox):
    _compile(sandbox, _save(sandbox, _cnn(act_scale=np.float32(np.inf))), "q_act", "act_s", "inf")


def test_zero_scale(sandbox):
    _compile(sandbox, _save(sandbox, _cnn(act_scale=np.float32(0))), "q_act", "act_s", "0")


def test_float64_scale_in_a_float32_graph(sandbox):
    _compile(sandbox, _save(sandbox, _cnn(act_scale=np.float64(0.25))), "q_act", "act_s", "double")


def test_claimed_dims_larger_than_data(sandbox):
    m = _cnn()
    t = _init(m, "conv_w")
    t.dims[0] = 400  # the raw data holds 4 filters
    _compile(sandbox, _save(sandbox, m), "conv_w", "400")


# ---------------------------------------------------------------- windows


def test_negative_pad(sandbox):
    _compile(sandbox, _save(sandbox, _cnn(conv_attrs={"pads": [-5, 1, 1, 1]})), "conv1", "pads")


def test_huge_pad(sandbox):
    _compile(sandbox, _save(sandbox, _cnn(conv_attrs={"pads": [1 << 40] * 4})), "conv1", "pads")


def test_zero_stride(sandbox):
    _compile(sandbox, _save(sandbox, _cnn(conv_attrs={"strides": [0, 1]})), "conv1", "strides")


def test_zero_dilation(sandbox):
    _compile(sandbox, _save(sandbox, _cnn(conv_attrs={"dilations": [0, 0]})), "conv1", "dilations")


def test_kernel_larger_than_input(sandbox):
    _compile(sandbox, _save(sandbox, _cnn(kernel=9, conv_attrs={"pads": [0, 0, 0, 0]})), "conv1", "9")


def test_kernel_shape_disagrees_with_weights(sandbox):
    _compile(sandbox, _save(sandbox, _cnn(conv_attrs={"kernel_shape": [5, 5]})), "conv1", "kernel_shape")


def test_spatial_size_2_pow_31(sandbox):
    _compile(sandbox, _save(sandbox, _cnn(in_hw=(1 << 31, 1 << 31))), "input", "2147483648")


# ---------------------------------------------------------------- opsets


def test_opset_999(sandbox):
    _compile(sandbox, _save(sandbox, _cnn(opset=999)), "opset", "999")


def test_opset_1(sandbox):
    _compile(sandbox, _save(sandbox, _cnn(opset=1)), "opset", "1")


# --------------------------------------------------------- resource guards


def test_threshold_bomb_fails_fast_with_the_number(sandbox):
    """1024 channels x a uint16 quantizer = 67 M threshold entries from a 20 KB model."""
    m = _cnn(channels=1024, act_type=TensorProto.UINT16, kernel=1, hw=2, conv_attrs={"pads": [0, 0, 0, 0]})
    out = _compile(sandbox, _save(sandbox, m), "conv1", "67,107,840", "--max-memory", "GiB")
    assert "threshold" in out.stderr


def test_threshold_bomb_is_refused_below_an_explicit_limit(sandbox):
    m = _cnn(channels=64, act_type=TensorProto.UINT16, kernel=1, hw=2, conv_attrs={"pads": [0, 0, 0, 0]})
    _compile(sandbox, _save(sandbox, m), "--max-memory", "100.0 MiB", extra=("--max-memory", "100M"))


def test_input_16384_squared(sandbox):
    _compile(sandbox, _save(sandbox, _cnn(in_hw=(16384, 16384))), "golden", "--max-memory")


def test_sparse_3gb_model_file(sandbox):
    with open(sandbox.work / "huge.onnx", "wb") as f:
        f.truncate(3 << 30)
    _compile(sandbox, "huge.onnx", "model file", "3.0 GiB", "--max-memory", huge_files=True)


def test_bad_max_memory_value(sandbox):
    out = sandbox.nbq("compile", str(EXAMPLE), "-o", "proj", "-q", "--max-memory", "lots")
    assert_bad_input(out, "--max-memory", "lots")


# ----------------------------------------------------------- external data


def _external(sandbox, location: str, length: int | None = None, offset: int | None = None) -> str:
    m = _cnn()
    t = _init(m, "fc_w")
    t.ClearField("raw_data")
    t.ClearField("float_data")
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        if value is not None:
            entry = t.external_data.add()
            entry.key, entry.value = key, str(value)
    return _save(sandbox, m)


def test_external_data_outside_the_folder(sandbox):
    (sandbox.root / "secret.bin").write_bytes(b"\0" * 48)
    _compile(sandbox, _external(sandbox, "../secret.bin"), "fc_w", "outside")


def test_external_data_missing(sandbox):
    _compile(sandbox, _external(sandbox, "weights.bin"), "fc_w", "weights.bin", "missing")


def test_external_data_sparse_huge(sandbox):
    with open(sandbox.work / "weights.bin", "wb") as f:
        f.truncate(4 << 30)
    _compile(sandbox, _external(sandbox, "weights.bin", length=4 << 30), "fc_w", "weights.bin", "4.0 GiB",
             huge_files=True)


def test_external_data_length_beyond_the_file(sandbox):
    (sandbox.work / "weights.bin").write_bytes(b"\0" * 48)
    _compile(sandbox, _external(sandbox, "weights.bin", offset=40, length=48), "fc_w", "weights.bin", "48")


# ------------------------------------------------------------ not a model


def test_truncated_protobuf(sandbox):
    data = EXAMPLE.read_bytes()
    (sandbox.work / "cut.onnx").write_bytes(data[: len(data) // 2])
    _compile(sandbox, "cut.onnx", "not an ONNX model")


def test_random_bytes(sandbox):
    (sandbox.work / "noise.onnx").write_bytes(np.random.default_rng(1).bytes(4096))
    _compile(sandbox, "noise.onnx", "not an ONNX model")


def test_empty_file(sandbox):
    (sandbox.work / "empty.onnx").write_bytes(b"")
    _compile(sandbox, "empty.onnx", "empty")


def test_directory_as_model(sandbox):
    (sandbox.work / "dir.onnx").mkdir()
    _compile(sandbox, "dir.onnx", "not a file")


# -------------------------------------------------------------- graph shape


def test_graph_with_a_cycle(sandbox):
    m = _cnn()
    relu = _node(m, "relu1")
    relu.input[0] = "dq1"  # relu1 now reads what its own quantizer produces
    _compile(sandbox, _save(sandbox, m), "relu1")


def test_dangling_input(sandbox):
    m = _cnn()
    _node(m, "bn1").input[1] = "nowhere"
    _compile(sandbox, _save(sandbox, m), "bn1", "nowhere")


def test_duplicate_tensor_names(sandbox):
    m = _cnn()
    _node(m, "relu1").output[0] = "c1"
    _node(m, "q_act").input[0] = "c1"
    _compile(sandbox, _save(sandbox, m), "c1")


def test_unknown_op(sandbox):
    m = _cnn()
    _node(m, "relu1").op_type = "Frobnicate"
    _compile(sandbox, _save(sandbox, m), "relu1", "Frobnicate")


@pytest.mark.parametrize("field", ["strides", "pads", "dilations", "kernel_shape"])
def test_window_attribute_of_the_wrong_length(sandbox, field):
    _compile(sandbox, _save(sandbox, _cnn(conv_attrs={field: [1, 1, 1]})), "conv1", field)


# ------------------------------------------------------------- more fields


def test_negative_batchnorm_epsilon(sandbox):
    m = _cnn()
    _node(m, "bn1").attribute.append(helper.make_attribute("epsilon", -1.0))
    _compile(sandbox, _save(sandbox, m), "bn1", "epsilon")


def test_zero_variance_and_epsilon(sandbox):
    m = _cnn(bn={"v": np.zeros(4, np.float32)})
    _node(m, "bn1").attribute.append(helper.make_attribute("epsilon", 0.0))
    _compile(sandbox, _save(sandbox, m), "bn1", "bn_v", "division by zero")


def test_gemm_bias_of_the_wrong_length(sandbox):
    m = _cnn()
    m.graph.initializer.append(numpy_helper.from_array(np.zeros(5, np.float32), "fc_b"))
    _node(m, "fc").input.append("fc_b")
    _compile(sandbox, _save(sandbox, m), "fc", "fc_b", "(5,)")


def test_float_zero_point(sandbox):
    _compile(sandbox, _save(sandbox, _cnn(act_zp=np.float32(0))), "q_act", "act_z", "integer")


def test_nan_clip_bound(sandbox):
    m = _cnn()
    relu = _node(m, "relu1")
    relu.op_type = "Clip"
    relu.input.extend(["clip_lo", "clip_hi"])
    m.graph.initializer.extend([numpy_helper.from_array(np.float32(0), "clip_lo"),
                                numpy_helper.from_array(np.float32(np.nan), "clip_hi")])
    _compile(sandbox, _save(sandbox, m), "relu1", "clip_hi", "nan")


def test_group_larger_than_the_channels(sandbox):
    _compile(sandbox, _save(sandbox, _cnn(conv_attrs={"group": 1 << 40})), "conv1", "group")


def test_unknown_auto_pad(sandbox):
    _compile(sandbox, _save(sandbox, _cnn(conv_attrs={"auto_pad": "SIDEWAYS", "pads": None})), "conv1",
             "auto_pad", "SIDEWAYS")


def test_maxpool_without_a_kernel(sandbox):
    m = _cnn()
    gap = _node(m, "gap")
    gap.op_type = "MaxPool"
    _compile(sandbox, _save(sandbox, m), "gap", "kernel_shape")


def test_input_dimension_zero(sandbox):
    _compile(sandbox, _save(sandbox, _cnn(in_hw=(0, 6))), "input", "dimension 0")


def test_external_data_symlink_out_of_the_folder(sandbox):
    (sandbox.root / "secret.bin").write_bytes(b"\0" * 48)
    (sandbox.work / "weights.bin").symlink_to(sandbox.root / "secret.bin")
    _compile(sandbox, _external(sandbox, "weights.bin"), "fc_w", "outside")


def test_external_data_offset_not_a_number(sandbox):
    (sandbox.work / "weights.bin").write_bytes(b"\0" * 48)
    m = _external(sandbox, "weights.bin")
    model = onnx.load(str(sandbox.work / m), load_external_data=False)
    entry = _init(model, "fc_w").external_data.add()
    entry.key, entry.value = "offset", "-1e9"
    _compile(sandbox, _save(sandbox, model), "fc_w", "offset", "-1e9")


# ------------------------------------------------ the other commands guard too


def _bomb(sandbox) -> str:
    return _save(sandbox, _cnn(channels=1024, act_type=TensorProto.UINT16, kernel=1, hw=2,
                               conv_attrs={"pads": [0, 0, 0, 0]}))


def test_estimate_refuses_the_threshold_bomb(sandbox):
    model = _bomb(sandbox)
    sandbox.snapshot()
    out = sandbox.nbq("estimate", model, "--max-memory", "2G")
    assert_bad_input(out, model, "67,107,840 threshold entries", "2.0 GiB")
    assert sandbox.changed() == []


def test_run_refuses_the_threshold_bomb(sandbox):
    model = _bomb(sandbox)
    np.save(sandbox.work / "x.npy", np.zeros((1, 1, 2, 2), np.float32))
    sandbox.snapshot()
    out = sandbox.nbq("run", model, "--input", "x.npy")
    assert_bad_input(out, model, "67,107,840 threshold entries", "--max-memory")
    assert sandbox.changed() == []


def test_a_raised_limit_lets_a_big_but_sane_model_through(sandbox):
    """The guard refuses by the estimate only: 64 channels x uint16 needs ~0.6 GiB and compiles under 2 GiB."""
    m = _cnn(channels=16, act_type=TensorProto.UINT16, kernel=1, hw=2, conv_attrs={"pads": [0, 0, 0, 0]})
    model = _save(sandbox, m)
    refused = sandbox.nbq("estimate", model, "--max-memory", "50M")
    assert_bad_input(refused, model, "1,048,560 threshold entries", "50.0 MiB")
    out = sandbox.nbq("estimate", model, "--max-memory", "1G")
    assert out.code == 0, out.describe()


def test_concat_of_convs_with_a_mismatched_per_axis_scale(sandbox):
    """The complex-conv fusion looks at Concat(Conv, Conv) weights first: a broken DequantizeLinear there
    must reach the importer's named error, not a numpy reshape error."""
    m = _cnn(channels=4)
    conv = _node(m, "conv1")
    m.graph.initializer.extend([
        numpy_helper.from_array(np.ones((2, 1, 3, 3), np.int8), "wq"),
        numpy_helper.from_array(np.full(5, 0.5, np.float32), "wq_s"),
    ])
    dq = helper.make_node("DequantizeLinear", ["wq", "wq_s"], ["w2"], name="dq_w", axis=0)
    conv_a = helper.make_node("Conv", ["dq0", "w2"], ["ca"], name="conv_a", kernel_shape=[3, 3], pads=[1] * 4)
    conv_b = helper.make_node("Conv", ["dq0", "w2"], ["cb"], name="conv_b", kernel_shape=[3, 3], pads=[1] * 4)
    cat = helper.make_node("Concat", ["ca", "cb"], ["c1"], name="cat", axis=1)
    nodes = list(m.graph.node)
    i = nodes.index(conv)
    del m.graph.node[:]
    m.graph.node.extend(nodes[:i] + [dq, conv_a, conv_b, cat] + nodes[i + 1:])
    _compile(sandbox, _save(sandbox, m), "dq_w", "wq_s", "(5,)")


def test_clip_min_above_max(sandbox):
    m = onnx.load(str(EXAMPLE))
    clip = next(n for n in m.graph.node if n.op_type == "Clip")
    lo, hi = (_init(m, name) for name in clip.input[1:3])
    _set_init(m, lo.name, np.float32(numpy_helper.to_array(hi)) + 1)
    _compile(sandbox, _save(sandbox, m), clip.name, "above its max")


def test_external_data_hidden_in_a_subgraph(sandbox):
    """An If branch's initializer pointing outside the folder is refused before anything is read."""
    (sandbox.root / "secret.bin").write_bytes(b"\0" * 16)
    m = _cnn()
    t = numpy_helper.from_array(np.zeros(4, np.float32), "hidden")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    entry = t.external_data.add()
    entry.key, entry.value = "location", "../secret.bin"
    branch = helper.make_graph([helper.make_node("Identity", ["hidden"], ["b_out"])], "branch", [],
                               [helper.make_tensor_value_info("b_out", TensorProto.FLOAT, [4])], [t])
    m.graph.initializer.append(numpy_helper.from_array(np.array(True), "cond"))
    m.graph.node.append(helper.make_node("If", ["cond"], ["unused"], name="sneaky", then_branch=branch,
                                         else_branch=branch))
    _compile(sandbox, _save(sandbox, m), "hidden", "outside")


def test_a_node_name_that_is_not_utf8(sandbox):
    m = _cnn()
    _node(m, "conv1").name = "NAMEXX"
    (sandbox.work / "model.onnx").write_bytes(m.SerializeToString().replace(b"NAMEXX", b"NAME\xff\xfe"))
    _compile(sandbox, "model.onnx", "graph.node[2].name", "not valid UTF-8")  # protobuf hands the name back as bytes
