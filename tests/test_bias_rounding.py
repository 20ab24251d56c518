"""`nbq run` names the contract's bias rounding at a graph output (amplified by an average pool after it)
instead of calling it an nbq error, and still calls a wrong reference an nbq error."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from nbq import reference
from nbq.bias_rounding import with_rounded_biases
from nbq.cli import main
from nbq.compare import compare_with_onnxruntime
from nbq.float64_eval import run_float64
from nbq.modelgen import GraphBuilder, build
from nbq.pipeline import lower

HW = 8  # an 8x8 GlobalAveragePool: 64 output steps per accumulator step


def _biased_gap_model(relu: bool = False) -> onnx.ModelProto:
    """int8 input, a po2 Conv whose float bias is off the accumulator step, then GlobalAveragePool."""
    b = GraphBuilder(3)
    x = b.qdq("input", -4, signed=True, bits=8)
    w = b.const(b.po2_weights((4, 2, 3, 3), 3), "w")
    bias = b.const(b.rng.normal(0, 1, 4).astype(np.float32), "bias")
    y = b.node("Conv", [x, w, bias], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    if relu:
        y = b.node("Relu", [y])
    return build(b, (1, 2, HW, HW), b.node("Flatten", [b.node("GlobalAveragePool", [y])], axis=1), "biased_gap")


def _images(n: int = 6) -> np.ndarray:
    x = np.random.default_rng(5).uniform(-8, 8, (n, 2, HW, HW)).astype(np.float32)
    x[0], x[1] = 100.0, -100.0  # range extremes: every input clipped at its top / bottom
    return x


def _bias_error_in_output_steps(path) -> float:
    """The premise, from the ONNX file: |bias / step - rint(bias / step)| x 64 pixels, largest channel."""
    graph = lower(path)
    conv = next(layer for layer in graph.layers if type(layer).__name__ == "Conv")
    model = onnx.load(str(path))
    (node,) = [n for n in model.graph.node if n.op_type == "Conv"]
    (init,) = [i for i in model.graph.initializer if i.name == node.input[2]]
    bias = onnx.numpy_helper.to_array(init).astype(np.float64)
    steps = bias / graph.tensors[conv.output].scale
    np.testing.assert_array_equal(conv.bias, np.rint(steps))  # the contract: rounded half to even
    return float(np.abs(steps - np.rint(steps)).max() * HW * HW)


def test_rounded_output_bias_is_named_not_blamed(tmp_path, save_model, capsys):
    path = save_model(_biased_gap_model())
    expected = _bias_error_in_output_steps(path)
    assert expected > 1  # the premise: the rounding alone exceeds one output step
    report = compare_with_onnxruntime(path, _images())
    assert report.float64_steps == pytest.approx(expected, abs=1e-6) and not report.float32_rounding
    conv = onnx.load(str(path)).graph.node[2]  # QuantizeLinear, DequantizeLinear, Conv
    assert [(rec.layer, rec.onnx_value) for rec in report.rounded_biases] == [(conv.name, conv.output[0])]
    assert report.bias_steps == 0.0 and report.bias_rounding and report.agrees
    np.save(tmp_path / "x.npy", _images())
    assert main(["run", str(path), "--input", str(tmp_path / "x.npy")]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"'{report.rounded_biases[0].layer}' (up to" in text and "within 0.000 steps" in text


def test_the_rewritten_graph_computes_the_reference_integers(save_model):
    path = save_model(_biased_gap_model())
    graph = lower(path)
    x = _images()
    (out,) = graph.outputs
    rounded = with_rounded_biases(path, graph.meta["rounded_biases"])
    onnx.checker.check_model(rounded)
    (y,) = run_float64(rounded, x, "input", graph.meta["onnx_outputs"])
    ints = reference.run(graph, x)[out]
    np.testing.assert_array_equal(y.reshape(ints.shape) / graph.tensors[out].scale, ints)


def test_a_wrong_reference_is_still_an_nbq_error(tmp_path, save_model, capsys, monkeypatch):
    path = save_model(_biased_gap_model())
    real = reference.run

    def off_by_three(graph, x):  # a reference that is wrong by 3 steps besides the bias rounding
        return {k: v + 3 for k, v in real(graph, x).items()}

    monkeypatch.setattr(reference, "run", off_by_three)
    report = compare_with_onnxruntime(path, _images())
    assert report.bias_steps == pytest.approx(3.0) and not report.bias_rounding and not report.agrees
    np.save(tmp_path / "x.npy", _images())
    assert main(["run", str(path), "--input", str(tmp_path / "x.npy")]) == 1
    assert "an nbq error" in " ".join(capsys.readouterr().out.split())


def test_no_record_when_a_clamp_follows_the_bias(save_model):
    # Relu(x + b) is not Relu(x + rint(b)) plus a constant: no additive correction, so nothing is claimed
    graph = lower(save_model(_biased_gap_model(relu=True)))
    assert graph.meta["rounded_biases"] == []


def test_paper_cifar_deviation_is_exactly_its_output_bias_rounding(save_model):
    # the case that showed it: every quantizer agrees exactly, the last Conv's bias rounding x 8x8 is all of it
    from nbq.modelgen import paper_cifar_po2

    path = save_model(paper_cifar_po2())
    x = np.random.default_rng(0).uniform(-1, 1, (4, 3, 32, 32)).astype(np.float32)
    x[0], x[1] = 100.0, -100.0  # range extremes too
    report = compare_with_onnxruntime(path, x, float64=True)
    (rec,) = report.rounded_biases
    assert report.float64_steps == pytest.approx(rec.max_steps * 64, abs=1e-6) and report.float64_steps > 1
    assert report.bias_steps == 0.0 and report.bias_rounding and report.agrees
