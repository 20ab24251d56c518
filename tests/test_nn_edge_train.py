"""Memory-efficient training end to end: accuracy on digits vs standard training, export and
compilation through nbq (reference executor == torch), and `nbq train --memory-efficient`."""

import argparse
import dataclasses
import json

import numpy as np
import pytest

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from nbq.errors import NbqError  # noqa: E402
from nbq.nn import QuantConfig, build_model, export, load_dataset, train  # noqa: E402
from nbq.nn.cli import add_train_arguments, run_train  # noqa: E402
from nbq.nn.edge import L1BatchNorm, make_memory_efficient  # noqa: E402

N_TEST = 100


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _digits_accuracy(digits, **options):
    model = build_model("mlp", QuantConfig.binary(), digits.shape, width=0.5, seed=0)
    return train(model, digits, epochs=8, seed=0, **options).test_accuracy


@pytest.fixture(scope="module")
def standard_accuracy(digits):
    return _digits_accuracy(digits)


@pytest.mark.parametrize("po2", [False, True])
def test_accuracy_gap_to_standard_training_is_at_most_two_points(digits, standard_accuracy, po2):
    efficient = _digits_accuracy(digits, memory_efficient=True, po2_grad=po2)
    assert standard_accuracy > 90
    assert abs(standard_accuracy - efficient) <= 2.0, (standard_accuracy, efficient)


# (builder, width): a binary MLP, a CNN with pooling and a CNV-like network
CASES = [("mlp", 0.25), ("digits_cnn", 0.5), ("cnv", 0.125)]


@pytest.mark.parametrize("name,width", CASES)
def test_efficiently_trained_models_export_and_compile_exactly(digits, tmp_path, name, width):
    compile_mod = pytest.importorskip("nbq.pipeline")
    reference = pytest.importorskip("nbq.reference")
    small = dataclasses.replace(digits, x_train=digits.x_train[:384], y_train=digits.y_train[:384])
    model = build_model(name, QuantConfig.binary(), digits.shape, width=width, seed=0)
    train(model, small, epochs=2, seed=0, memory_efficient=True)
    x = digits.x_test[:N_TEST]
    path = export(model, torch.from_numpy(x[:1]), tmp_path / "m.onnx")
    proto = onnx.load(str(path))
    n_norms = sum(isinstance(m, L1BatchNorm) for m in model.modules())
    assert n_norms and sum(n.op_type == "BatchNormalization" for n in proto.graph.node) == n_norms
    model.eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    np.testing.assert_array_equal(got, expected)
    graph = compile_mod.lower(path)
    ints = reference.run(graph, x)
    (out,) = ints
    torch_ints = expected.astype(np.float64) / graph.tensors[out].scale
    np.testing.assert_array_equal(torch_ints, np.rint(torch_ints))
    np.testing.assert_array_equal(ints[out], np.rint(torch_ints).astype(np.int64))


def test_conversion_rejects_non_binary_networks():
    with pytest.raises(NbqError, match="binary weights"):
        make_memory_efficient(build_model("mlp", QuantConfig.po2(3), (1, 8, 8), seed=0))
    with pytest.raises(NbqError, match="does not support BasicBlock"):
        make_memory_efficient(build_model("resnet18", QuantConfig.binary(), (1, 8, 8), width=0.125, seed=0))


def _args(*argv):
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    return parser.parse_args(list(argv))


def test_cli_memory_efficient(tmp_path, digits, capsys):
    out = tmp_path / "e.onnx"
    assert run_train(_args("--model", "mlp", "--memory-efficient", "--po2-grad", "--epochs", "1", "--width", "0.25",
                           "--no-progress", "-o", str(out))) == 0
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["weights"] == "binary" and summary["training"] == "memory-efficient, po2 gradients"
    assert "memory-efficient" in capsys.readouterr().out
    proto = onnx.load(str(out))
    assert json.loads(proto.metadata_props[0].value)["training"] == "memory-efficient"
    with pytest.raises(NbqError, match="binary networks only"):
        run_train(_args("--model", "mlp", "--memory-efficient", "--weights", "po2", "-o", str(out)))
