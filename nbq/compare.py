"""Reference executor vs ONNX Runtime on the float graph, in quantization steps."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nbq import reference
from nbq.compile import lower
from nbq.errors import NbqError
from nbq.frontend.qonnx_exec import has_qonnx_ops, run_qonnx


@dataclass
class Comparison:
    outputs_int: dict[str, np.ndarray]  # reference integers per IR output
    outputs_ort: dict[str, np.ndarray]  # ONNX Runtime floats per ONNX output
    scales: dict[str, float]
    max_steps: float  # largest |ref * scale - ort| / scale over every output
    executor: str = "ONNX Runtime"  # or "qonnx" for a model with QONNX ops


def _import_onnxruntime():
    # ORT >= 1.2x starts telemetry when imported, writing ~/.cache/Microsoft/DeveloperTools/.onnxruntime/
    # (deviceid, onnxruntime.db) and $TMPDIR/.ses; this variable, read at import, stops all of it, and nbq
    # writes nothing outside its output folder
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    import onnxruntime as ort

    return ort


def run_onnxruntime(model: str | Path, x: np.ndarray, input_name: str, outputs: list[str] | None = None
                    ) -> list[np.ndarray]:
    """The float graph as written: graph optimisations off, so QDQ is not fused into integer kernels.

    outputs: ONNX tensors to return instead of the graph outputs (the scores before a dropped Softmax)."""
    ort = _import_onnxruntime()

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 4  # fatal only: ORT's own log lines would break the one-line error rule
    try:
        source = str(model) if outputs is None else _with_outputs(model, outputs)
        session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        x = x.astype(np.float32)
        if next(i for i in session.get_inputs() if i.name == input_name).shape[0] == 1 and len(x) > 1:
            # exported with a fixed batch of 1 (nbq compiles it the same): one image per run
            runs = [session.run(None, {input_name: x[i:i + 1]}) for i in range(len(x))]
            return [np.concatenate(outs) for outs in zip(*runs, strict=True)]
        return session.run(None, {input_name: x})
    except Exception as exc:  # ORT rejects a model nbq accepts: say so instead of crashing
        if not type(exc).__module__.startswith("onnxruntime"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NbqError(f"{model}: ONNX Runtime cannot run the model: {first}; `nbq compile` does not need "
                       "ONNX Runtime, only `nbq run` does") from None


def _with_outputs(model: str | Path, outputs: list[str]) -> bytes:
    """The model (in memory, nothing written) with `outputs` as its graph outputs."""
    import onnx

    proto = onnx.load(str(model))
    del proto.graph.output[:]
    proto.graph.output.extend(onnx.helper.make_empty_tensor_value_info(name) for name in outputs)
    return proto.SerializeToString()


def compare_with_onnxruntime(model: str | Path, x: np.ndarray | str | Path, max_memory: int | None = None
                             ) -> Comparison:
    """x: float images (N, ...) or one image, or a .npy file of them (checked by nbq.inputs)."""
    from nbq.inputs import check_images, load_images

    source = "input"
    if isinstance(x, str | Path):  # read (bounded by nbq.inputs) before the model: the guard counts the images
        source, x = str(x), load_images(x)
    images = max(int(np.shape(x)[0]), 1) if np.ndim(x) else 1
    graph = lower(model, max_memory, images=images)
    x = check_images(x, graph.tensors[graph.inputs[0]].shape, source)
    ints = reference.run(graph, x)
    # a dropped Softmax/ArgMax tail: compare with the ONNX tensors the design outputs, the scores before it
    before_tail = graph.meta["onnx_outputs"] if graph.meta.get("dropped_tail") else None
    qonnx = has_qonnx_ops(model)  # ONNX Runtime has no QONNX ops: qonnx's own executor runs those models
    ort_out = (run_qonnx if qonnx else run_onnxruntime)(model, x, graph.meta["onnx_input"], before_tail)
    worst = 0.0
    ort_named = {}
    for ir_name, onnx_name, y in zip(graph.outputs, graph.meta["onnx_outputs"], ort_out, strict=True):
        scale = graph.tensors[ir_name].scale
        ort_named[onnx_name] = y
        dev = np.abs(ints[ir_name] * scale - y.reshape(ints[ir_name].shape)).max() / scale
        worst = max(worst, float(dev))
    return Comparison(ints, ort_named, {n: graph.tensors[n].scale for n in graph.outputs}, worst,
                      "qonnx" if qonnx else "ONNX Runtime")
