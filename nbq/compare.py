"""Reference executor vs ONNX Runtime on the float graph, in quantization steps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nbq import reference
from nbq.compile import lower
from nbq.errors import NbqError


@dataclass
class Comparison:
    outputs_int: dict[str, np.ndarray]  # reference integers per IR output
    outputs_ort: dict[str, np.ndarray]  # ONNX Runtime floats per ONNX output
    scales: dict[str, float]
    max_steps: float  # largest |ref * scale - ort| / scale over every output


def run_onnxruntime(model: str | Path, x: np.ndarray, input_name: str) -> list[np.ndarray]:
    """The float graph as written: graph optimisations off, so QDQ is not fused into integer kernels."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    return session.run(None, {input_name: x.astype(np.float32)})


def compare_with_onnxruntime(model: str | Path, x: np.ndarray, max_memory: int | None = None) -> Comparison:
    x = np.asarray(x, dtype=np.float64)
    graph = lower(model, max_memory, images=max(x.shape[0], 1) if x.ndim else 1)
    shape = graph.tensors[graph.inputs[0]].shape
    if x.shape == shape:
        x = x[None]
    if x.shape[1:] != shape:
        raise NbqError(f"input has shape {x.shape}, the model takes (N, {', '.join(map(str, shape))})")
    ints = reference.run(graph, x)
    ort_out = run_onnxruntime(model, x, graph.meta["onnx_input"])
    worst = 0.0
    ort_named = {}
    for ir_name, onnx_name, y in zip(graph.outputs, graph.meta["onnx_outputs"], ort_out, strict=True):
        scale = graph.tensors[ir_name].scale
        ort_named[onnx_name] = y
        dev = np.abs(ints[ir_name] * scale - y.reshape(ints[ir_name].shape)).max() / scale
        worst = max(worst, float(dev))
    return Comparison(ints, ort_named, {n: graph.tensors[n].scale for n in graph.outputs}, worst)
