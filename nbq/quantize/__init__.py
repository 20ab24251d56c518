"""`nbq quantize`: post-training quantization of a float ONNX model into the QDQ form nbq compiles.

float.onnx ──graph.plan_quantization──▶ where quantizers go ──calibrate──▶ activation statistics (ONNX Runtime)
──scales──▶ power-of-two activation scales, weights rounded to po2:N / int:N ──writer──▶ q.onnx.
See docs/quantize.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnx

from nbq.quantize.options import QuantizeOptions, WeightSpec, check_act_bits, parse_weight_spec

__all__ = ["QuantizeOptions", "QuantizeResult", "WeightSpec", "check_act_bits", "parse_weight_spec",
           "quantize_model", "quantize_to_file"]


@dataclass
class QuantizeResult:
    model: onnx.ModelProto  # the quantized model
    points: int  # activation quantizers written (the graph input's included)
    layers: int  # weight layers quantized
    per_channel: int  # of which with a per-channel factor (folded into thresholds)
    accuracy: object | None = None  # nbq.quantize.evaluate.Accuracy with labels


def quantize_model(path: str | Path, options: QuantizeOptions,
                   progress: Callable[[str], None] | None = None) -> QuantizeResult:
    """Quantize the float ONNX model at `path` (nothing is written): see docs/quantize.md."""
    from nbq.frontend.loading import load_onnx
    from nbq.inputs import load_images
    from nbq.quantize.calibrate import calibrate
    from nbq.quantize.evaluate import accuracy, load_labels
    from nbq.quantize.graph import plan_quantization
    from nbq.quantize.scales import choose_scales, quantize_weights
    from nbq.quantize.writer import write_quantized

    step = progress or (lambda _msg: None)
    source = str(path)
    step("reading the float model")
    model = load_onnx(path)
    plan = plan_quantization(model, source)
    step(f"placing quantizers: {len(plan.points)} activation quantizers, {len(plan.weights)} weight layers")
    x = load_images(options.calibrate, plan.input_shape)
    step(f"calibrating on {len(x)} images of {options.calibrate} (ONNX Runtime, float model)")
    stats, moments = calibrate(plan, x, options.percentile)
    bits = {p.tensor: options.input_bits if p.is_input else options.activations for p in plan.points}
    scales = choose_scales(plan.points, stats, bits, options.percentile)
    step(f"rounding weights to {options.weights}")
    weights = {layer.node: quantize_weights(plan.constants[layer.weight], options.weights, layer.out_axis,
                                            layer.per_channel, moments[layer.node]) for layer in plan.weights}
    step("writing the QDQ model")
    qmodel = write_quantized(plan, weights, scales)
    _check(qmodel, source)
    result = QuantizeResult(qmodel, len(plan.points), len(plan.weights), sum(w.per_channel for w in plan.weights))
    if options.labels is not None:
        xt = x if options.test_data is None else load_images(options.test_data, plan.input_shape)
        where = options.calibrate if options.test_data is None else options.test_data
        y = load_labels(options.labels, len(xt))
        step(f"measuring top-1 accuracy on {len(xt)} images of {where} (ONNX Runtime)")
        result.accuracy = accuracy(model, qmodel, source, plan.input_name, xt, y)
    return result


def quantize_to_file(path: str | Path, out: str | Path, options: QuantizeOptions,
                     progress: Callable[[str], None] | None = None) -> QuantizeResult:
    from nbq.errors import NbqError

    if Path(out).resolve() == Path(path).resolve():
        raise NbqError(f"{out}: is the float model itself; write the quantized model to another file")
    result = quantize_model(path, options, progress)
    Path(out).write_bytes(result.model.SerializeToString())  # only once everything succeeded
    return result


def _check(model: onnx.ModelProto, source: str) -> None:
    from nbq.errors import InternalError

    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # the writer's bug, not the user's model
        raise InternalError(f"{source}: the quantized model fails the ONNX checker: {exc}") from None
