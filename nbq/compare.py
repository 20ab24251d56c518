"""Reference executor vs ONNX Runtime on the float graph, in quantization steps."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nbq import reference
from nbq.bias_rounding import RoundedBias
from nbq.errors import NbqError
from nbq.frontend.qonnx_exec import has_qonnx_ops, run_qonnx
from nbq.pipeline import lower


@dataclass
class Comparison:
    outputs_int: dict[str, np.ndarray]  # reference integers per IR output
    outputs_ort: dict[str, np.ndarray]  # ONNX Runtime floats per ONNX output
    scales: dict[str, float]
    max_steps: float  # largest |ref * scale - ort| / scale over every output
    executor: str = "ONNX Runtime"  # or "qonnx" for a model with QONNX ops
    float64_steps: float | None = None  # the same against a float64 evaluation of the graph (when made)
    rounded_biases: list[RoundedBias] | None = None  # biases nbq rounds to an accumulator step (graph.meta)
    bias_steps: float | None = None  # against the float64 graph with those rounded biases (when made)

    @property
    def float32_rounding(self) -> bool:
        """ORT deviates by more than a step but the float64 evaluation does not: ORT's float32 sums round."""
        return self.max_steps > 1.0 and self.float64_steps is not None and self.float64_steps <= 1.0

    @property
    def bias_rounding(self) -> bool:
        """More than a step off the exact graph, but within one of it once nbq's rounded biases are written in:
        the deviation is the contract's bias rounding at a graph output (amplified by a following average)."""
        return (self.max_steps > 1.0 and not self.float32_rounding and self.bias_steps is not None
                and self.bias_steps <= 1.0)

    @property
    def agrees(self) -> bool:
        """The reference is within one step of the float graph (ORT's, or the exact float64 one, or the
        exact one with the biases the contract rounds)."""
        return self.max_steps <= 1.0 or self.float32_rounding or self.bias_rounding


def _import_onnxruntime():
    # ORT >= 1.2x starts telemetry when imported, writing ~/.cache/Microsoft/DeveloperTools/.onnxruntime/
    # (deviceid, onnxruntime.db) and $TMPDIR/.ses; this variable, read at import, stops all of it, and nbq
    # writes nothing outside its output folder
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    import onnxruntime as ort

    return ort


def _fixed_batch(session, input_name: str) -> int | None:
    """The first dimension of the model's input when the file fixes it (an int), else None."""
    for arg in session.get_inputs():
        if arg.name == input_name and arg.shape and isinstance(arg.shape[0], int):
            return int(arg.shape[0])
    return None


def run_onnxruntime(model: str | Path, x: np.ndarray, input_name: str, outputs: list[str] | None = None
                    ) -> list[np.ndarray]:
    """The float graph as written: graph optimisations off, so QDQ is not fused into integer kernels.

    outputs: ONNX tensors to return instead of the graph outputs (the scores before a dropped Softmax).
    A model exported with a fixed batch of 1 (the only fixed batch nbq's importer accepts) runs image by
    image: ORT refuses any other batch size.
    """
    ort = _import_onnxruntime()

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 4  # fatal only: ORT's own log lines would break the one-line error rule
    try:
        source = str(model) if outputs is None else _with_outputs(model, outputs)
        session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        x = x.astype(np.float32)
        if _fixed_batch(session, input_name) == 1 and x.shape[0] != 1:
            runs = [session.run(None, {input_name: x[i : i + 1]}) for i in range(x.shape[0])]
            return [np.concatenate(parts, axis=0) for parts in zip(*runs, strict=True)]
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


def _deviation(graph, ints: dict[str, np.ndarray], outputs: list[np.ndarray]) -> float:
    """Largest |reference * scale - y| / scale over every output, in quantization steps."""
    worst = 0.0
    for ir_name, y in zip(graph.outputs, outputs, strict=True):
        scale = graph.tensors[ir_name].scale
        ref = ints[ir_name].astype(np.float64) * scale
        worst = max(worst, float(np.abs(ref - np.asarray(y, np.float64).reshape(ref.shape)).max() / scale))
    return worst


def compare_with_onnxruntime(model: str | Path, x: np.ndarray | str | Path, max_memory: int | None = None,
                             float64: bool | None = None) -> Comparison:
    """x: float images (N, ...) or one image, or a .npy file of them (checked by nbq.inputs).

    float64: also evaluate the graph in double precision (nbq.float64_eval) and measure the reference
    against it; None (default): only when ONNX Runtime's float32 result deviates by more than one step,
    to tell float32 rounding of large sums from an nbq error.  Models with QONNX ops run in qonnx's
    executor instead (ONNX Runtime has none of them), with no float64 check.
    """
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
    worst = _deviation(graph, ints, ort_out)
    steps64 = None
    if not qonnx and (float64 or (float64 is None and worst > 1.0)):
        from nbq.float64_eval import run_float64

        steps64 = _deviation(graph, ints, run_float64(model, x, graph.meta["onnx_input"],
                                                      graph.meta["onnx_outputs"]))
    records = graph.meta.get("rounded_biases") or []
    bias_steps = None
    if not qonnx and records and worst > 1.0 and (steps64 is None or steps64 > 1.0):
        from nbq.bias_rounding import with_rounded_biases
        from nbq.float64_eval import run_float64

        rounded = with_rounded_biases(model, records)
        if rounded is not None:
            bias_steps = _deviation(graph, ints, run_float64(rounded, x, graph.meta["onnx_input"],
                                                             graph.meta["onnx_outputs"]))
    ort_named = dict(zip(graph.meta["onnx_outputs"], ort_out, strict=True))
    return Comparison(ints, ort_named, {n: graph.tensors[n].scale for n in graph.outputs}, worst,
                      "qonnx" if qonnx else "ONNX Runtime", steps64, records, bias_steps)
