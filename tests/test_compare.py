"""`nbq run`: fixed-batch models image by image, and float32 rounding told from an nbq error (float64)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from netgen import random_cnn

from nbq import reference
from nbq.cli import main
from nbq.compare import compare_with_onnxruntime, run_onnxruntime
from nbq.float64_eval import run_float64
from nbq.modelgen import GraphBuilder, build
from nbq.pipeline import lower

BIAS = 2.0**26  # float32 spacing 8 there: every smaller term added to it rounds


def _fixed_batch(model: onnx.ModelProto, batch: int) -> onnx.ModelProto:
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    dim.Clear()
    dim.dim_value = batch
    return model


def _images(path, n: int, seed: int = 0) -> np.ndarray:
    shape = lower(path).tensors["input"].shape
    x = np.random.default_rng(seed).uniform(-2, 2, size=(n, *shape)).astype(np.float32)
    x[0], x[1] = 100.0, -100.0  # range extremes: every input clipped at its top / bottom
    return x


def test_fixed_batch_of_one_runs_image_by_image(tmp_path, save_model, capsys):
    free = save_model(random_cnn(5, n_bits=3), "free.onnx")
    fixed = save_model(_fixed_batch(random_cnn(5, n_bits=3), 1), "fixed.onnx")
    x = _images(free, 6)
    one_by_one = [run_onnxruntime(fixed, x[i : i + 1], "input")[0] for i in range(6)]
    batched = run_onnxruntime(fixed, x, "input")[0]
    assert batched.shape[0] == 6
    np.testing.assert_array_equal(batched, np.concatenate(one_by_one))
    np.testing.assert_allclose(batched, run_onnxruntime(free, x, "input")[0], rtol=0, atol=1e-5)
    np.save(tmp_path / "x.npy", x)
    assert main(["run", str(fixed), "--input", str(tmp_path / "x.npy")]) == 0
    assert "within one step" in capsys.readouterr().out


def _big_sum_model() -> onnx.ModelProto:
    """int8 inputs (scale 1) times po2 weights, plus a bias of 2^26: the float32 sum rounds, the exact one not."""
    b = GraphBuilder(0)
    x = b.qdq("input", 0, signed=True, bits=8)
    w = b.const(b.po2_weights((4, 64), 4), "w")
    bias = b.const(np.float32(BIAS) + np.arange(4, dtype=np.float32) * 8, "bias")
    return build(b, (1, 64), b.node("Gemm", [x, w, bias], transB=1), "big_sum")


def _big_sum_inputs() -> np.ndarray:
    x = np.random.default_rng(1).integers(-128, 128, (6, 64)).astype(np.float32)
    x[0], x[1] = 127, -128
    return x


def test_float32_rounding_of_large_sums_is_named(tmp_path, save_model, capsys):
    path = save_model(_big_sum_model())
    x = _big_sum_inputs()
    graph = lower(path)
    (out,) = graph.outputs
    exact = reference.run(graph, x)[out].astype(np.float64) * graph.tensors[out].scale
    # the premise: adding the products to 2^26 in float32 loses bits
    rounded = np.float32(BIAS) + (exact - BIAS).astype(np.float32)
    assert np.abs(rounded.astype(np.float64) - exact).max() / graph.tensors[out].scale > 1
    report = compare_with_onnxruntime(path, x)
    assert report.max_steps > 1 and report.float64_steps is not None and report.float64_steps <= 1
    assert report.float32_rounding and report.agrees
    np.save(tmp_path / "x.npy", x)
    assert main(["run", str(path), "--input", str(tmp_path / "x.npy")]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "deviation from ONNX Runtime float32:" in text and "from a float64 evaluation: 0.000 steps" in text
    assert "ORT's float32 rounding" in text


def test_an_nbq_error_is_not_blamed_on_float32(tmp_path, save_model, capsys, monkeypatch):
    path = save_model(_big_sum_model())
    real = reference.run

    def off_by_three(graph, x):  # a reference that is wrong by 3 steps
        return {k: v + 3 for k, v in real(graph, x).items()}

    monkeypatch.setattr(reference, "run", off_by_three)
    report = compare_with_onnxruntime(path, _big_sum_inputs())
    assert report.float64_steps == pytest.approx(3.0) and not report.float32_rounding and not report.agrees
    np.save(tmp_path / "x.npy", _big_sum_inputs())
    assert main(["run", str(path), "--input", str(tmp_path / "x.npy")]) == 1
    assert "an nbq error" in " ".join(capsys.readouterr().out.split())


def test_float64_evaluation_matches_onnxruntime(save_model):
    for seed in (1, 2):
        path = save_model(random_cnn(seed, n_bits=4), f"m{seed}.onnx")
        x = _images(path, 4, seed)
        out = onnx.load(str(path)).graph.output[0].name
        (y64,) = run_float64(path, x, "input", [out])
        (y32,) = run_onnxruntime(path, x, "input")
        assert y64.dtype == np.float64
        np.testing.assert_allclose(y64, y32, rtol=1e-5, atol=1e-5)
        # the reference agrees with the exact graph within a step
        report = compare_with_onnxruntime(path, x, float64=True)
        assert report.float64_steps <= 1.0
