"""Run the float model in ONNX Runtime on the calibration images and keep, per point, the statistics the
scale choice needs: the largest |values| (enough of them for an exact high percentile) and the minimum."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper

from nbq.errors import NbqError
from nbq.quantize.graph import QuantPlan
from nbq.quantize.moments import Moments, accumulate, conv_window

BATCH = 64  # images per run: every quantized tensor of the batch is held at once


def batch_size(model: onnx.ModelProto, input_name: str) -> int:
    """Images per ONNX Runtime call: BATCH with a dynamic batch axis, 1 when the export fixed it at 1."""
    inp = next(i for i in model.graph.input if i.name == input_name)
    dim = inp.type.tensor_type.shape.dim[0]
    return 1 if dim.HasField("dim_value") and dim.dim_value == 1 else BATCH


@dataclass
class TensorStats:
    """What calibration saw of one tensor."""

    count: int  # values observed
    top: np.ndarray  # the largest |values|, descending (at least the number the percentile may exclude, plus 1)
    minimum: float

    def abs_percentile(self, percentile: float) -> float:
        """The smallest v with at most (100 - percentile) % of the observed |values| above it."""
        allowed = math.floor(self.count * (100.0 - percentile) / 100.0)
        return float(self.top[min(allowed, self.top.size - 1)]) if self.top.size else 0.0


def _session(model: onnx.ModelProto, source: str):
    from nbq.compare import _import_onnxruntime

    ort = _import_onnxruntime()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the graph as written
    options.log_severity_level = 4
    try:
        return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        if not type(exc).__module__.startswith("onnxruntime"):
            raise
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise NbqError(f"{source}: ONNX Runtime cannot run the model: {first}; check that it runs in "
                       "ONNX Runtime before quantizing") from None


def run_model(model: onnx.ModelProto, source: str, x: np.ndarray, input_name: str,
              outputs: list[str] | None = None) -> list[np.ndarray]:
    """ONNX Runtime on `model` (graph optimisations off) in batches; `outputs` (default: the graph's) concatenated."""
    sess = _session(model, source)
    names = outputs or [o.name for o in model.graph.output]
    parts: list[list[np.ndarray]] = [[] for _ in names]
    step = batch_size(model, input_name)
    for start in range(0, len(x), step):
        ys = sess.run(names, {input_name: x[start:start + step].astype(np.float32)})
        for part, y in zip(parts, ys, strict=True):
            part.append(y)
    return [np.concatenate(p) for p in parts]


def calibrate(plan: QuantPlan, x: np.ndarray, percentile: float
              ) -> tuple[dict[str, TensorStats], dict[int, Moments]]:
    """Statistics of every point's tensor of the float model over the images x (N, *input_shape), and the
    input moments of every weight layer (keyed by its node index)."""
    model = onnx.ModelProto()
    model.CopyFrom(plan.model)
    graph_outputs = {o.name for o in model.graph.output}
    windows = {}
    for layer in plan.weights:
        node = plan.model.graph.node[layer.node]
        shape = plan.constants[layer.weight].shape
        windows[layer.node] = (node.input[0], conv_window(node, shape) if node.op_type == "Conv" else None)
    names = list(dict.fromkeys([p.tensor for p in plan.points if not p.is_input]
                               + [t for t, _w in windows.values() if t != plan.input_name]))
    for name in names:
        if name not in graph_outputs:
            model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    sess = _session(model, plan.source)
    stats: dict[str, TensorStats] = {}
    moments: dict[int, Moments] = {}
    points = {p.tensor for p in plan.points}
    step = batch_size(model, plan.input_name)
    for start in range(0, len(x), step):
        batch = x[start:start + step].astype(np.float32)
        values = dict(zip(names, sess.run(names, {plan.input_name: batch}), strict=True)) if names else {}
        values[plan.input_name] = batch
        for name in points:
            stats[name] = _merge(stats.get(name), np.asarray(values[name], np.float64), len(x), percentile)
        for index, (tensor, window) in windows.items():
            moments[index] = accumulate(moments.get(index), values[tensor], window)
    return stats, moments


def _merge(old: TensorStats | None, v: np.ndarray, images: int, percentile: float) -> TensorStats:
    if not np.all(np.isfinite(v)):
        raise NbqError("the float model computes NaN or infinite values on the calibration images; "
                       "check the model and the images")
    per_image = v[0].size if v.ndim else 1
    keep = math.floor(images * per_image * (100.0 - percentile) / 100.0) + 1
    a = np.abs(v.reshape(-1))
    top = a if old is None else np.concatenate([old.top, a])
    if top.size > keep:
        top = np.partition(top, top.size - keep)[top.size - keep:]
    top = np.sort(top)[::-1]
    count = a.size + (old.count if old else 0)
    minimum = min(float(v.min()), old.minimum if old else np.inf)
    return TensorStats(count, top, minimum)
