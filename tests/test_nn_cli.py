"""`nbq train` entry points: add_train_arguments / run_train."""

import argparse
import json

import pytest

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

from nbq.errors import NbqError  # noqa: E402
from nbq.nn.cli import MODEL_NAMES, add_train_arguments, run_train  # noqa: E402


def _args(*argv):
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    return parser.parse_args(list(argv))


def test_model_names_match_the_builders():
    from nbq.nn.models import BUILDERS

    assert tuple(BUILDERS) == MODEL_NAMES


def test_train_digits_writes_onnx_and_summary(tmp_path, capsys):
    out = tmp_path / "m.onnx"
    ns = _args("--model", "digits_cnn", "--dataset", "digits", "--weight-bits", "3", "--epochs", "1",
               "--width", "0.25", "--no-progress", "--checkpoint-dir", str(tmp_path / "ck"), "-o", str(out))
    assert run_train(ns) == 0
    assert out.is_file() and (tmp_path / "ck" / "last.pt").is_file()
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["weights"] == "po2" and summary["config"]["weights"]["bits"] == 3
    assert 0 <= summary["test_accuracy"] <= 100
    assert "test accuracy" in capsys.readouterr().out
    # the checkpoint restores the trained model
    from nbq.nn import QuantConfig, build_model, load_dataset
    from nbq.nn.trainer import load_checkpoint

    model = build_model("digits_cnn", QuantConfig.po2(3), (1, 8, 8), width=0.25)
    assert load_checkpoint(model, tmp_path / "ck" / "last.pt")["epoch"] == 1
    ort = pytest.importorskip("onnxruntime")
    x = load_dataset("digits").x_test[:20]
    model.eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    assert (got == expected).all()


def test_train_bcnn_defaults_to_binary(tmp_path):
    out = tmp_path / "c.onnx"
    ns = _args("--model", "bcnn", "--epochs", "1", "--width", "0.1", "--no-progress", "--imag", "learned",
               "-o", str(out))
    assert run_train(ns) == 0
    assert json.loads(out.with_suffix(".json").read_text())["weights"] == "binary-complex"


@pytest.mark.parametrize("argv,message", [
    (("--model", "vgg99"), "unknown model 'vgg99'"),
    (("--dataset", "svhn"), "unknown dataset 'svhn'"),
    (("--dataset", "mnist", "--data-dir", "/no/such/folder"), "does not exist"),
    (("--dataset", "mnist"), "--data-dir"),
    (("--weight-bits", "9"), "--weight-bits must be 1..8"),
    (("--threshold-rule", "authors", "--weight-bits", "4"), "--weight-bits 3 only"),
])
def test_bad_options_give_one_line_errors(tmp_path, argv, message):
    with pytest.raises(NbqError) as err:
        run_train(_args(*argv, "--epochs", "1", "-o", str(tmp_path / "x.onnx")))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_train_progress_goes_to_stderr_and_counts_every_batch(tmp_path, capsys):
    out = tmp_path / "p.onnx"
    ns = _args("--model", "mlp", "--epochs", "2", "--width", "0.1", "--batch-size", "128", "-o", str(out))
    assert run_train(ns) == 0
    stdout, stderr = capsys.readouterr()
    assert stdout.count("\n") == 1 and "test accuracy" in stdout  # the result line alone
    from nbq.nn import load_dataset

    batches = 2 * -(-len(load_dataset("digits").x_train) // 128)
    lines = stderr.splitlines()
    assert lines[0] == f"training: 1/{batches} batches ..." and lines[-1].startswith(
        f"training: {batches}/{batches} batches in "), lines
    assert len(lines) == 2


def test_trainer_calls_a_progress_callable_with_done_and_total():
    from nbq.nn import QuantConfig, build_model, load_dataset
    from nbq.nn.trainer import train

    data = load_dataset("digits")
    calls = []
    train(build_model("mlp", QuantConfig.po2(3), data.shape, width=0.1), data, epochs=2, batch_size=256,
          progress=lambda done, total: calls.append((done, total)))
    batches = 2 * -(-len(data.x_train) // 256)
    assert calls == [(k, batches) for k in range(1, batches + 1)]
