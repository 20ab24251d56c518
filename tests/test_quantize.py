"""nbq quantize: post-training quantization of float models exported by torch.onnx.export."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

torch = pytest.importorskip("torch")
import ecosystem_models  # noqa: E402
from torch import nn  # noqa: E402

from nbq.board_catalog import load_board  # noqa: E402
from nbq.compare import compare_with_onnxruntime  # noqa: E402
from nbq.errors import NbqError, UnsupportedModelError  # noqa: E402
from nbq.formats import Po2Codebook, fit_po2  # noqa: E402
from nbq.nn.data import load_digits_split  # noqa: E402
from nbq.pipeline import QUANTIZED_ONNX, compile_model, design  # noqa: E402
from nbq.quantize import QuantizeOptions, parse_weight_spec, quantize_model, quantize_to_file  # noqa: E402
from nbq.quantize.calibrate import TensorStats, _merge, run_model  # noqa: E402
from nbq.quantize.scales import _round, po2_covering, quantize_weights  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def digits_float(tmp_path_factory):
    """A float Conv-BN-ReLU-MaxPool-Conv-BN-ReLU-Gemm CNN trained ~1 s on digits, exported by torch, and its data."""
    d = load_digits_split()
    folder = tmp_path_factory.mktemp("ptq")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on a shared 2-core machine one thread trains this net several times faster
    try:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.Flatten(),
                              nn.Linear(16 * 16, 10))
        opt = torch.optim.Adam(model.parameters(), 1e-2)
        x, y = torch.from_numpy(d.x_train), torch.from_numpy(d.y_train)
        for epoch in range(5):
            perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(epoch))
            for i in range(0, len(x), 64):
                idx = perm[i:i + 64]
                opt.zero_grad()
                nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
                opt.step()
        model.eval()
        path = ecosystem_models.export(model, (1, 8, 8), folder / "float.onnx")
    finally:
        torch.set_num_threads(threads)
    np.save(folder / "calib.npy", d.x_train[:512])
    np.save(folder / "test.npy", d.x_test)
    np.save(folder / "test_labels.npy", d.y_test)
    opset18 = folder / "opset18_batch1.onnx"  # as many tools export: a fixed batch of 1, a newer opset
    torch.onnx.export(model, torch.zeros(1, 1, 8, 8), str(opset18), opset_version=18, dynamo=False)
    return folder, path, d


def _options(folder: Path, weights: str = "po2:4", activations: int = 8, **kw) -> QuantizeOptions:
    return QuantizeOptions(calibrate=folder / "calib.npy", weights=parse_weight_spec(weights),
                           activations=activations, **kw)


def _extremes(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Random images and range-extreme ones: all 0, all at the top, far beyond, negative, a checkerboard."""
    rng = np.random.default_rng(seed)
    checker = (np.indices(shape).sum(axis=0) % 2).astype(np.float64)
    return np.concatenate([rng.uniform(0, 1, (6, *shape)), np.stack([
        np.zeros(shape), np.ones(shape), np.full(shape, 100.0), np.full(shape, -100.0), checker * 1e3])])


@pytest.mark.parametrize("weights, activations", [("po2:4", 4), ("po2:4", 8), ("int:4", 8)])
def test_quantized_cnn_compiles_matches_ort_and_keeps_accuracy(digits_float, tmp_path, weights, activations):
    folder, path, d = digits_float
    opts = _options(folder, weights, activations, test_data=folder / "test.npy", labels=folder / "test_labels.npy")
    q = tmp_path / "q.onnx"
    result = quantize_to_file(path, q, opts)
    acc = result.accuracy
    print(f"{weights} a{activations}: float top-1 {acc.float_top1:.4f}, quantized {acc.quant_top1:.4f}, "
          f"agreement {acc.agreement:.4f}")
    assert acc.images == len(d.y_test)
    assert acc.float_top1 > 0.9  # the float net learned something, so the comparison means something
    assert abs(acc.quant_top1 - acc.float_top1) <= 0.02
    assert result.layers == 3 and result.per_channel == 2  # the output Gemm keeps one scale (no quantizer after)

    compiled = compile_model(q, load_board("zcu102"), tmp_path / "out")
    dense = [la for la in compiled.graph.layers if hasattr(la, "weights")]
    assert len(dense) == 3
    for layer in dense:  # the importer recovered the format exactly, within the asked bits
        assert layer.weights.bits <= 4
        if weights.startswith("po2"):
            assert layer.weights.kind == "po2"
    for x in (d.x_test[:64], _extremes((1, 8, 8))):
        assert compare_with_onnxruntime(q, x).max_steps <= 1.0


def test_compile_quantize_option_writes_quantized_onnx(digits_float, tmp_path):
    folder, path, d = digits_float
    opts = _options(folder)
    result = compile_model(path, load_board("zcu102"), tmp_path / "out", quantize=opts)
    written = tmp_path / "out" / QUANTIZED_ONNX
    assert written.read_bytes() == quantize_model(path, opts).model.SerializeToString()  # deterministic
    assert Path(QUANTIZED_ONNX) in result.files
    assert result.graph.name == "float"  # the design keeps the float model's name
    assert compare_with_onnxruntime(written, d.x_test[:32]).max_steps <= 1.0
    fit = design(path, load_board("zcu102"), quantize=opts)  # what `nbq estimate` would plan
    assert fit.plan.graph.source == str(path)
    assert [la.op for la in fit.plan.graph.layers] == [la.op for la in result.graph.layers]


@pytest.mark.slow  # two CLI start-ups (~4 s each on a busy machine)
def test_cli_quantize_and_compile_with_relative_paths(digits_float, tmp_path):
    folder, path, _d = digits_float
    for name in ("float.onnx", "calib.npy", "test.npy", "test_labels.npy"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def nbq(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "nbq.cli", *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)

    run = nbq("quantize", "float.onnx", "--weights", "po2:4", "--activations", "8", "--calibrate", "calib.npy",
              "--test-data", "test.npy", "--labels", "test_labels.npy", "-o", "q.onnx")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert any(line.startswith("float model:") and "top-1" in line for line in lines)
    assert any(line.startswith("quantized model:") and "top-1" in line for line in lines)
    assert any(line.startswith("agreement:") for line in lines)
    assert onnx.load(str(tmp_path / "q.onnx")).producer_name == "nbq quantize"
    run = nbq("compile", "float.onnx", "--quantize", "po2:4", "--calibrate", "calib.npy", "-o", "out", "-q")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "out" / QUANTIZED_ONNX).is_file()


def test_cli_errors_are_one_line_exit_2(digits_float, tmp_path, capsys, monkeypatch):
    from nbq.cli import main

    folder, _path, _d = digits_float
    monkeypatch.chdir(folder)
    cases = [(["--calibrate", "test_labels.npy"], "test_labels.npy: holds an array of shape (450,), the model "
                                                  "takes (N, 1, 8, 8)"),
             (["--calibrate", "calib.npy", "--weights", "po2:9"], "po2 weights take 1 to 6 bits"),
             (["--calibrate", "calib.npy", "--activations", "12"], "activations take 2 to 8 bits"),
             (["--calibrate", "calib.npy", "--test-data", "test.npy"], "--test-data needs --labels")]
    for extra, expected in cases:
        assert main(["quantize", "float.onnx", "-o", str(tmp_path / "bad.onnx"), *extra]) == 2
        err = capsys.readouterr().err
        assert expected in err and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "bad.onnx").exists()
    assert main(["compile", "float.onnx", "--calibrate", "calib.npy", "-o", str(tmp_path / "out")]) == 2
    assert "add --quantize" in capsys.readouterr().err


def test_batch1_opset18_export_with_signed_inputs_compiles_exactly(digits_float, tmp_path):
    folder, _path, d = digits_float
    np.save(tmp_path / "centred.npy", d.x_train[:64] - 0.5)  # negative pixels: a signed input quantizer
    q = tmp_path / "q.onnx"
    quantize_to_file(folder / "opset18_batch1.onnx", q, QuantizeOptions(calibrate=tmp_path / "centred.npy"))
    model = onnx.load(str(q))
    assert model.opset_import[0].version == 18
    zero_point = next(i for i in model.graph.initializer if i.name.endswith("/nbq_q/zero_point"))
    assert zero_point.data_type == TensorProto.INT8  # the input's, first written
    compile_model(q, load_board("zcu102"), tmp_path / "out")
    for x in (d.x_test[:16] - 0.5, _extremes((1, 8, 8))):
        assert compare_with_onnxruntime(q, x).max_steps <= 1.0


# ------------------------------------------------------------------ errors


def _float_model(op: str, tmp_path: Path) -> Path:
    w = numpy_helper.from_array(np.random.default_rng(0).normal(size=(4, 1, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node(op, ["c"], ["y"], name="act1")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 8, 8])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    return path


def test_sign_activations_need_no_quantizer_and_compile_exactly(tmp_path):
    rng = np.random.default_rng(2)
    inits = [numpy_helper.from_array(rng.normal(size=s).astype(np.float32), n) for n, s in
             (("w1", (4, 1, 3, 3)), ("b1", (4,)), ("w2", (6, 4, 3, 3)), ("fc", (10, 6 * 64)), ("fcb", (10,)))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Sign", ["c1"], ["s1"], name="sign1"),
             helper.make_node("Conv", ["s1", "w2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
             helper.make_node("Flatten", ["r2"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fc", "fcb"], ["y"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "sign.onnx"
    onnx.save(model, str(path))
    x = rng.uniform(0, 1, (32, 1, 8, 8))
    np.save(tmp_path / "x.npy", x)
    q = tmp_path / "q.onnx"
    result = quantize_to_file(path, q, QuantizeOptions(calibrate=tmp_path / "x.npy"))
    assert result.points == 2 and result.per_channel == 2  # the input and the Relu; Sign quantizes itself
    compile_model(q, load_board("zcu102"), tmp_path / "out")
    assert compare_with_onnxruntime(q, x).max_steps <= 1.0


def test_unfused_batchnorm_stays_before_the_quantizer(tmp_path):
    """Exporters that keep BatchNormalization (tf2onnx, training-mode torch): the factor BN goes before it."""
    rng = np.random.default_rng(4)
    bn = [rng.uniform(0.5, 2, 6), rng.normal(size=6), rng.normal(size=6), rng.uniform(0.2, 2, 6)]
    inits = [numpy_helper.from_array(rng.normal(size=(6, 1, 3, 3)).astype(np.float32), "w"),
             *(numpy_helper.from_array(v.astype(np.float32), n) for n, v in zip(("g", "b", "m", "v"), bn,
                                                                                    strict=True)),
             numpy_helper.from_array(rng.normal(size=(6, 10)).astype(np.float32), "fc")]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "g", "b", "m", "v"], ["n"], name="bn", epsilon=1e-3),
             helper.make_node("Relu", ["n"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("MatMul", ["f", "fc"], ["y"], name="fc")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "bn.onnx"))
    x = rng.uniform(0, 1, (32, 1, 8, 8))
    np.save(tmp_path / "x.npy", x)
    q = tmp_path / "q.onnx"
    quantize_to_file(tmp_path / "bn.onnx", q, QuantizeOptions(calibrate=tmp_path / "x.npy", activations=4))
    ops = [n.op_type for n in onnx.load(str(q)).graph.node]
    assert ops.count("BatchNormalization") == 2 and ops.index("BatchNormalization") == ops.index("Conv") + 1
    compile_model(q, load_board("zcu102"), tmp_path / "out")
    for images in (x, _extremes((1, 8, 8))):
        assert compare_with_onnxruntime(q, images).max_steps <= 1.0


def test_already_quantized_models_are_sent_to_compile(digits_float, tmp_path):
    folder, path, _d = digits_float
    q = tmp_path / "q.onnx"
    quantize_to_file(path, q, _options(folder))
    with pytest.raises(UnsupportedModelError, match="already quantized; compile it with `nbq compile`"):
        quantize_model(q, _options(folder))


def test_unquantizable_float_op_names_the_node(tmp_path):
    path = _float_model("Sigmoid", tmp_path)
    np.save(tmp_path / "x.npy", np.zeros((2, 1, 8, 8), np.float32))
    with pytest.raises(UnsupportedModelError) as err:
        quantize_model(path, QuantizeOptions(calibrate=tmp_path / "x.npy"))
    msg = str(err.value)
    assert "m.onnx" in msg and "'act1' (Sigmoid)" in msg and "\n" not in msg


def test_calibration_data_of_the_wrong_shape_names_file_and_shape(tmp_path):
    path = _float_model("Relu", tmp_path)
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 8, 8), np.float32))
    with pytest.raises(NbqError) as err:
        quantize_model(path, QuantizeOptions(calibrate=tmp_path / "x.npy"))
    assert "x.npy" in str(err.value) and "(N, 1, 8, 8)" in str(err.value)


@pytest.mark.parametrize("text", ["po2", "po2:0", "po2:7", "int:1", "int:17", "fp:8", "po2:x"])
def test_bad_weight_formats_are_refused(text):
    with pytest.raises(NbqError):
        parse_weight_spec(text)


def test_labels_of_the_wrong_count_are_refused(digits_float, tmp_path):
    folder, path, _d = digits_float
    np.save(tmp_path / "y.npy", np.zeros(7, np.int64))
    with pytest.raises(NbqError, match=r"y\.npy.*\(450,\)"):
        quantize_model(path, _options(folder, test_data=folder / "test.npy", labels=tmp_path / "y.npy"))


# ------------------------------------------------------------------ numbers


def test_po2_covering_is_the_smallest_power_of_two_scale():
    for exp in range(-12, 6):
        for qmax in (7, 15, 127, 255):
            exact = qmax * 2.0**exp
            assert po2_covering(exact, qmax) == 2.0**exp
            assert po2_covering(np.nextafter(exact, np.inf), qmax) == 2.0 ** (exp + 1)
            assert po2_covering(np.nextafter(exact, 0), qmax) == 2.0**exp
    assert po2_covering(0.0, 255) == 1.0


def test_streamed_percentile_equals_the_order_statistic():
    rng = np.random.default_rng(1)
    v = rng.standard_cauchy((40, 3, 5, 5))
    stats: TensorStats | None = None
    for start in range(0, 40, 7):
        stats = _merge(stats, v[start:start + 7], 40, 99.0)
    a = np.sort(np.abs(v.ravel()))[::-1]
    allowed = int(np.floor(a.size * 0.01))
    assert stats.count == a.size and stats.minimum == v.min()
    assert stats.abs_percentile(99.0) == a[allowed]
    assert np.sum(a > stats.abs_percentile(99.0)) <= allowed


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 5, 6])
def test_po2_weights_are_codebook_values_nearest_in_value(bits):
    rng = np.random.default_rng(bits)
    w = rng.normal(size=(6, 5, 3, 3)) * rng.uniform(0.01, 3, size=(6, 1, 1, 1))
    spec = parse_weight_spec(f"po2:{bits}")
    for per_channel in (False, True):
        qw = quantize_weights(w, spec, 0, per_channel)
        fit = fit_po2(qw.ints * qw.step)
        assert fit is not None and fit.n <= bits
        assert np.all(qw.factor > 0) and (per_channel or np.all(qw.factor == 1))
    if bits == 1:
        assert set(np.unique(qw.ints)) <= {-1, 1}
        return
    # nearest in value never loses to nearest in the log domain for the same levels
    book = Po2Codebook(bits)
    levels = np.unique(np.abs(book.int_values(book.encode(book.levels())))).astype(np.float64)
    x = rng.uniform(-1.2, 1.2, 5000) * levels[-1]
    near = _round(x, levels)
    nz = levels[1:]
    log_idx = np.abs(np.log2(np.maximum(np.abs(x), 1e-300))[:, None] - np.log2(nz)[None]).argmin(axis=1)
    log_round = np.where(np.abs(x) < nz[0] / 2, 0, nz[log_idx]) * np.sign(x)
    assert np.all(np.abs(near - x) <= np.abs(log_round - x) + 1e-12)
    assert np.all(np.isin(np.abs(near), levels))


def test_int_weights_stay_in_range():
    w = np.random.default_rng(3).normal(size=(10, 20))
    for per_channel in (False, True):
        qw = quantize_weights(w, parse_weight_spec("int:4"), 0, per_channel)
        assert np.abs(qw.ints).max() <= 7
        assert np.abs(qw.dequantized(0) - w).max() <= np.abs(w).max() / 7  # within one step of the largest


# ------------------------------------------------------ ecosystem networks


SAME_SCALE = ("MaxPool", "Concat", "Identity", "Flatten", "Reshape")


def _trace_to_dq(model: onnx.ModelProto, tensor: str, through: tuple[str, ...] = SAME_SCALE
                 ) -> onnx.NodeProto | None:
    """The DequantizeLinear a tensor comes from through exact ops (by default those that keep the scale)."""
    producer = {o: n for n in model.graph.node for o in n.output}
    node = producer.get(tensor)
    while node is not None and node.op_type in through:
        node = producer.get(node.input[0])
    return node if node is not None and node.op_type == "DequantizeLinear" else None


def _scale(model: onnx.ModelProto, dq: onnx.NodeProto) -> float:
    init = {i.name: i for i in model.graph.initializer}
    return float(numpy_helper.to_array(init[dq.input[1]]))


@pytest.fixture(scope="module")
def ecosystem(tmp_path_factory):
    folder = tmp_path_factory.mktemp("eco")
    out = {}
    for name, (_cls, shape) in ecosystem_models.MODELS.items():
        path = ecosystem_models.export_named(name, folder)
        x = np.random.default_rng(0).uniform(0, 1, (64, *shape)).astype(np.float32)
        np.save(folder / f"{name}_x.npy", x)
        q = folder / f"{name}_q.onnx"
        quantize_to_file(path, q, QuantizeOptions(calibrate=folder / f"{name}_x.npy"))
        out[name] = (path, q, x)
    return out


@pytest.mark.parametrize("name", list(ecosystem_models.MODELS))
def test_ecosystem_models_quantize(ecosystem, name):
    path, q, x = ecosystem[name]
    model = onnx.load(str(q))
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    for node in model.graph.node:
        if node.op_type in ("Conv", "Gemm"):  # every layer reads integers and integer weights
            exact = (*SAME_SCALE, "AveragePool", "GlobalAveragePool")  # sums: exact integers, scale / k²
            assert _trace_to_dq(model, node.input[0], exact) is not None, node.name
            assert model.graph.node[[n.output[0] for n in model.graph.node].index(node.input[1])].op_type \
                == "DequantizeLinear"
        if node.op_type == "Concat":  # the inputs share one scale, so the Concat of integers is exact
            scales = {_scale(model, _trace_to_dq(model, i)) for i in node.input}
            assert len(scales) == 1, (node.name, scales)
        if node.op_type == "Add":
            assert all(_trace_to_dq(model, i) is not None for i in node.input)
        if node.op_type == "Softmax":  # stays float, after the last quantized tensor
            producer = {o: n for n in model.graph.node for o in n.output}[node.input[0]]
            assert producer.op_type == "Gemm"
            assert node.output[0] in {o.name for o in model.graph.output}
    y_float = run_model(onnx.load(str(path)), name, x, "input")[0]
    y_quant = run_model(model, name, x, "input")[0]
    assert y_quant.shape == y_float.shape
    assert np.abs(y_quant - y_float).max() <= 0.25 * np.abs(y_float).max()  # 8-bit activations, 4-bit weights


@pytest.mark.filterwarnings("ignore:.*scores before Softmax")
@pytest.mark.parametrize("name", ["squeezenet", "densenet", "resnet50"])
def test_ecosystem_models_compile(ecosystem, name, tmp_path):
    _path, q, x = ecosystem[name]
    compiled = compile_model(q, load_board("zcu102"), tmp_path / "out")
    if name == "resnet50":  # bottlenecks with projection shortcuts: residual Adds of differently scaled integers
        assert sum(la.op == "Add" for la in compiled.graph.layers) == 3
    for images in (x[:16], _extremes(x.shape[1:])):
        assert compare_with_onnxruntime(q, images).max_steps <= 1.0


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning", "ignore:.*scores before Softmax")
@pytest.mark.parametrize("exporter", ["legacy-unfolded", "dynamo"])
@pytest.mark.parametrize("name", list(ecosystem_models.MODELS))
def test_ecosystem_models_from_other_exporters_compile(name, exporter, tmp_path):
    """The same nets as other exports write them (shape/weight subgraphs, fused BN, ReduceMean pooling, opset 20):
    quantize po2:4, compile, and agree with ONNX Runtime within one step."""
    path = ecosystem_models.export_named(name, tmp_path, exporter=exporter)
    x = np.random.default_rng(0).uniform(0, 1, (64, *ecosystem_models.MODELS[name][1])).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    q = tmp_path / "q.onnx"
    quantize_to_file(path, q, QuantizeOptions(calibrate=tmp_path / "x.npy"))
    compiled = compile_model(q, load_board("zcu102"), tmp_path / "out")
    assert any(la.op == ("Concat" if name != "resnet50" else "Add") for la in compiled.graph.layers)
    for images in (x[:16], _extremes(x.shape[1:])):
        assert compare_with_onnxruntime(q, images).max_steps <= 1.0


@pytest.mark.parametrize("spec, per_channel", [("po2:4", True), ("po2:3", False), ("int:3", True)])
def test_data_aware_rounding_lowers_the_output_error(spec, per_channel):
    from nbq.quantize.moments import Window, accumulate

    rng = np.random.default_rng(5)
    w = rng.normal(size=(6, 3, 3, 3))
    x = rng.uniform(0, 1, (20, 3, 6, 6)) + rng.uniform(0, 1, (20, 3, 1, 1))  # correlated, non-zero mean
    window = Window((3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)
    moments = accumulate(None, x, window)

    def output_error(qw) -> tuple[float, float]:
        d = (w - qw.dequantized(0)).reshape(6, -1)
        second, mean = moments.second()[0], moments.mean()[0]
        mean_err = d @ mean - qw.bias_shift  # what the bias correction leaves of the mean error
        return float(np.einsum("ck,kl,cl->", d, second, d)), float(np.abs(mean_err).max())

    plain = quantize_weights(w, parse_weight_spec(spec), 0, per_channel)
    aware = quantize_weights(w, parse_weight_spec(spec), 0, per_channel, moments)
    assert output_error(aware)[0] < output_error(plain)[0]
    assert output_error(aware)[1] < 1e-9  # the mean output error is moved into the bias
    assert fit_po2(aware.ints * aware.step) is not None or spec.startswith("int")


class _ViewNet(nn.Module):
    """x.view(x.size(0), -1): exported as Shape → Gather → Unsqueeze → Concat → Reshape."""

    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(1, 4, 3, padding=1), nn.Linear(4 * 64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).view(x.size(0), -1))


def test_shape_arithmetic_is_kept_as_it_is(tmp_path):
    torch.manual_seed(0)
    path = ecosystem_models.export(_ViewNet().eval(), (1, 8, 8), tmp_path / "view.onnx")
    x = np.random.default_rng(0).uniform(0, 1, (32, 1, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    q = quantize_model(path, QuantizeOptions(calibrate=tmp_path / "x.npy"))
    ops = [n.op_type for n in q.model.graph.node]
    assert {"Shape", "Gather", "Unsqueeze", "Concat", "Reshape"} <= set(ops)
    assert ops.count("QuantizeLinear") == 2 and q.layers == 2  # the input and the Relu; the Concat is a shape's
    y_float = run_model(onnx.load(str(path)), "view", x, "input")[0]
    y_quant = run_model(q.model, "view", x, "input")[0]
    assert np.abs(y_quant - y_float).max() <= 0.1 * np.abs(y_float).max()
    onnx.save(q.model, str(tmp_path / "q.onnx"))  # nbq folds the shape arithmetic on import
    compile_model(tmp_path / "q.onnx", load_board("zcu102"), tmp_path / "out")
    assert compare_with_onnxruntime(tmp_path / "q.onnx", x).max_steps <= 1.0


@pytest.mark.slow  # g++ builds the testbench (~20 s)
def test_quantized_cnn_csim_is_bit_exact(digits_float, tmp_path):
    folder, path, d = digits_float
    result = compile_model(path, load_board("zcu102"), tmp_path / "out", test_inputs=d.x_test[:16], csim=True,
                           quantize=_options(folder, "po2:4", 4))
    assert result.csim.passed and result.csim.images == 16 and result.csim.mismatches == 0


class _ScaledNet(nn.Module):
    """Scalings by constants (Mul, Add, Div) in the chains and a final ArgMax."""

    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.c1(x * 2.0 + (-1.0))) / 3.0
        h = torch.relu(self.c2(h) * 0.5)
        return torch.argmax(self.fc(torch.flatten(h, 1)), dim=1)


@pytest.mark.filterwarnings("ignore:.*scores before ArgMax")
def test_constant_scalings_and_argmax_tail(digits_float, tmp_path):
    folder, _path, d = digits_float
    torch.manual_seed(0)
    path = ecosystem_models.export(_ScaledNet().eval(), (1, 8, 8), tmp_path / "scaled.onnx")
    q = tmp_path / "q.onnx"
    opts = _options(folder, test_data=folder / "test.npy", labels=folder / "test_labels.npy")
    result = quantize_to_file(path, q, opts)
    assert result.points == 4  # input, after the input's Mul/Add (signed: 2x - 1 < 0), after each Relu chain
    assert result.accuracy.agreement > 0.5  # ArgMax outputs are taken as the classes themselves
    compile_model(q, load_board("zcu102"), tmp_path / "out")
    assert compare_with_onnxruntime(q, d.x_test[:32]).max_steps <= 1.0
