"""Run a QONNX model with qonnx's own executor (for `nbq run`: ONNX Runtime has no QONNX ops)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx

from nbq.errors import NbqError
from nbq.frontend.qonnx_ops import is_qonnx_node


def has_qonnx_ops(model: str | Path) -> bool:
    graph = onnx.load(str(model), load_external_data=False).graph
    return any(is_qonnx_node(n.domain, n.op_type) for n in graph.node)


def run_qonnx(model: str | Path, x: np.ndarray, input_name: str, outputs: list[str] | None = None
              ) -> list[np.ndarray]:
    """The graph outputs (or the ONNX tensors `outputs`) for the batch x, one image at a time (qonnx executes
    fixed shapes)."""
    try:
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.core.onnx_exec import execute_onnx
        from qonnx.transformation.infer_shapes import InferShapes
    except ImportError:
        raise NbqError(f"{model}: the model holds QONNX ops and qonnx is not installed; `pip install qonnx` "
                       "to run it (`nbq compile` does not need it)") from None
    proto = onnx.load(str(model))
    proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    del proto.graph.value_info[:]
    for out in proto.graph.output:
        out.type.tensor_type.ClearField("shape")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wrapper = ModelWrapper(proto).transform(InferShapes())
            names = outputs or [o.name for o in wrapper.graph.output]
            rows = [execute_onnx(wrapper, {input_name: image[None].astype(np.float32)},
                                 return_full_exec_context=outputs is not None) for image in x]
    except Exception as exc:  # qonnx raises plain exceptions: one line, not a traceback
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NbqError(f"{model}: qonnx cannot execute the model: {first}") from None
    return [np.concatenate([np.asarray(r[name], np.float64) for r in rows]) for name in names]
