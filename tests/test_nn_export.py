"""nbq.nn export: every builder → ONNX that passes the checker, matches torch in ONNX Runtime,
and (through nbq's compiler) gives exactly torch's integers in the reference executor."""

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import numpy_helper  # noqa: E402

from nbq import ir  # noqa: E402
from nbq.formats import fit_po2  # noqa: E402
from nbq.nn import QuantConfig, build_model, export, load_dataset, train  # noqa: E402
from nbq.nn.layers import QConv2d, QLinear  # noqa: E402

# (builder, arithmetic, width): tiny versions of every network
CASES = [
    ("digits_cnn", "po2", 0.5),
    ("digits_cnn", "binary", 0.5),
    ("mlp", "po2", 0.125),
    ("cnv", "binary", 0.125),
    ("paper_cifar", "po2", 0.0625),
    ("resnet18", "po2", 0.125),
    ("bcnn", "binary", 0.125),
]
N_TEST = 100


@pytest.fixture(scope="module")
def digits():
    d = load_dataset("digits")
    return dataclasses.replace(d, x_train=d.x_train[:384], y_train=d.y_train[:384])


_CACHE = {}


def trained(digits, name, kind, width, n=3):
    key = (name, kind, width, n)
    if key not in _CACHE:
        cfg = QuantConfig.po2(n) if kind == "po2" else QuantConfig.binary()
        model = build_model(name, cfg, digits.shape, width=width, seed=0)
        train(model, digits, epochs=2, seed=0)
        _CACHE[key] = model
    return _CACHE[key]


def _ort(path, x, level="ORT_ENABLE_ALL"):
    so = ort.SessionOptions()
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]


def _torch(model, x):
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("name,kind,width", CASES)
def test_export_passes_checker_and_matches_onnxruntime(digits, tmp_path, name, kind, width):
    model = trained(digits, name, kind, width)
    x = digits.x_test[:N_TEST]
    path = export(model, torch.from_numpy(x[:1]), tmp_path / "m.onnx")
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.ir_version <= 10 and 13 <= proto.opset_import[0].version <= 17
    ref = _torch(model, x)
    np.testing.assert_allclose(_ort(path, x), ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    # float initializers are exact too, with ONNX Runtime's graph rewrites off
    path_f = export(model, torch.from_numpy(x[:1]), tmp_path / "f.onnx", weight_format="float")
    np.testing.assert_allclose(_ort(path_f, x, "ORT_DISABLE_ALL"), ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


@pytest.mark.parametrize("n", [2, 3, 4])
def test_training_ends_on_the_codebook(digits, tmp_path, n):
    model = trained(digits, "digits_cnn", "po2", 0.5, n)
    layers = [m for m in model.modules() if isinstance(m, QConv2d | QLinear)]
    assert all(m.alpha == 0.0 for m in layers)
    model.train()
    for m in layers:  # train-mode weights are Q(W) once α reached 0
        torch.testing.assert_close(m._weight(train=True), m.deployed_weight(), rtol=0, atol=0)
    path = export(model, torch.from_numpy(digits.x_test[:1]), tmp_path / "m.onnx", weight_format="float")
    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    weights = [inits[k] for k in inits if k.startswith(("conv_w", "fc_w"))]
    assert len(weights) == 3
    fits = [fit_po2(w) for w in weights]
    assert all(f is not None and f.n <= n for f in fits)
    assert max(f.n for f in fits) == n  # the big first conv / dense use the whole codebook


def test_complex_forms_compile_to_the_same_graph(digits, tmp_path):
    """Split → 4 Conv → Sub/Add → Concat (and Concat of two convs on the real image) fuse into the block Conv."""
    compile_mod = pytest.importorskip("nbq.pipeline")
    model = trained(digits, "bcnn", "binary", 0.125)
    x = digits.x_test[:1]
    graphs = [compile_mod.lower(export(model, torch.from_numpy(x), tmp_path / f"{form}.onnx", complex_form=form))
              for form in ("four_convs", "block")]
    four, block = graphs
    assert [la.op for la in four.layers] == [la.op for la in block.layers]
    for a, b in zip(four.layers, block.layers, strict=True):
        if a.op in ("Conv", "Dense"):
            np.testing.assert_array_equal(a.weights.ints, b.weights.ints)
            assert a.folding == b.folding
    assert any(la.folding.complex for la in four.layers if la.op == "Conv")


@pytest.mark.parametrize("form", ["four_convs", "block"])
def test_complex_export_forms_agree(digits, tmp_path, form):
    model = trained(digits, "bcnn", "binary", 0.125)
    x = digits.x_test[:N_TEST]
    path = export(model, torch.from_numpy(x[:1]), tmp_path / "c.onnx", complex_form=form)
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert ("Split" in ops) == (form == "four_convs")
    np.testing.assert_array_equal(_ort(path, x), _torch(model, x))


def test_import_nbq_does_not_import_torch():
    code = "import sys, nbq, nbq.nn, nbq.nn.cli, nbq.nn.data; assert 'torch' not in sys.modules; nbq.export"
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------- end to end with nbq's compiler




@pytest.mark.parametrize("name,kind,width", CASES)
def test_reference_executor_reproduces_torch(digits, tmp_path, name, kind, width):
    compile_mod = pytest.importorskip("nbq.pipeline")
    reference = pytest.importorskip("nbq.reference")
    model = trained(digits, name, kind, width)
    x = digits.x_test[:N_TEST]
    # the default four-conv complex form: the front end fuses it into block convs
    path = export(model, torch.from_numpy(x[:1]), tmp_path / "m.onnx")
    graph = compile_mod.lower(path)
    if name == "bcnn":
        splits = sum(n.op_type == "Split" for n in onnx.load(str(path)).graph.node)
        assert splits >= 1 and graph.meta["fused_complex_convs"] == splits + 1  # + the real-image layer
    ints = reference.run(graph, x)
    (out_name,) = ints
    scale = graph.tensors[out_name].scale
    expected = _torch(model, x).astype(np.float64)
    # torch's output is an integer multiple of the output scale: compare in the integer domain
    torch_ints = np.rint(expected / scale)
    np.testing.assert_allclose(expected / scale, torch_ints, rtol=0, atol=1e-3)
    np.testing.assert_array_equal(ints[out_name], torch_ints.astype(np.int64))
    np.testing.assert_allclose(reference.dequantize(graph, ints)[out_name], expected, rtol=1e-6)
    assert (ints[out_name].argmax(1) == expected.argmax(1)).all()


def test_five_bit_weights_export_as_int32_and_stay_exact(digits, tmp_path):
    model = trained(digits, "digits_cnn", "po2", 0.5, 5)
    x = digits.x_test[:N_TEST]
    path = export(model, torch.from_numpy(x[:1]), tmp_path / "m5.onnx")
    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    assert inits["conv_w_int"].dtype == np.int32 and np.abs(inits["conv_w_int"]).max() <= 2**14
    np.testing.assert_array_equal(_ort(path, x), _torch(model, x))
    compile_mod = pytest.importorskip("nbq.pipeline")
    reference = pytest.importorskip("nbq.reference")
    graph = compile_mod.lower(path)
    (name,) = graph.outputs
    expected = np.rint(_torch(model, x).astype(np.float64) / graph.tensors[name].scale)
    np.testing.assert_array_equal(reference.run(graph, x)[name], expected)


def test_learned_imaginary_part_exports_exactly(digits, tmp_path):
    model = build_model("bcnn", QuantConfig.binary(), digits.shape, width=0.125, seed=0, imag="learned")
    train(model, digits, epochs=1, seed=0)
    x = digits.x_test[:N_TEST]
    for form in ("four_convs", "block"):
        path = export(model, torch.from_numpy(x[:1]), tmp_path / f"{form}.onnx", complex_form=form)
        np.testing.assert_array_equal(_ort(path, x), _torch(model, x))
    compile_mod = pytest.importorskip("nbq.pipeline")
    reference = pytest.importorskip("nbq.reference")
    graph = compile_mod.lower(path)  # block form: Concat of the image and its learned imaginary part
    assert any(isinstance(layer, ir.Concat) for layer in graph.layers)
    (name,) = graph.outputs
    expected = np.rint(_torch(model, x).astype(np.float64) / graph.tensors[name].scale)
    np.testing.assert_array_equal(reference.run(graph, x)[name], expected)
