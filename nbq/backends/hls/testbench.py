"""Test vectors for the generated testbench: golden data in stream order, one image per line."""

from __future__ import annotations

import numpy as np

from nbq import ir, reference
from nbq.errors import NbqError
from nbq.golden import adversarial_inputs
from nbq.plan.layout import Layout, to_stream


def golden_pair(
    graph: ir.Graph, inputs: np.ndarray | None, outputs: dict[str, np.ndarray] | None
) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, outputs) as int64 in the logical layout; what is missing comes from nbq.reference."""
    x = graph.tensors[graph.inputs[0]]
    y_name = graph.outputs[0]
    if inputs is None:
        inputs, outputs = adversarial_inputs(graph), None
    inputs = np.asarray(inputs, dtype=np.int64)
    if inputs.ndim == 0 or inputs.size % x.size or inputs.shape[0] * x.size != inputs.size or inputs.size == 0:
        raise NbqError(f"golden inputs of shape {inputs.shape} do not hold whole images of shape {x.shape}")
    inputs = inputs.reshape((-1,) + tuple(x.shape))
    if inputs.min() < x.lo or inputs.max() > x.hi:
        raise NbqError(f"golden inputs leave the input range [{x.lo}, {x.hi}]")
    if outputs is None:
        out = reference.run_int(graph, inputs)[y_name]
    else:
        if y_name not in outputs:
            raise NbqError(f"golden outputs have no entry for the graph output '{y_name}'")
        out = np.asarray(outputs[y_name], dtype=np.int64)
    y = graph.tensors[y_name]
    if out.size != inputs.shape[0] * y.size:
        raise NbqError(f"golden outputs of shape {out.shape} do not match {inputs.shape[0]} images of {y.shape}")
    return inputs, out.reshape((-1,) + tuple(y.shape))


def dat_text(batch: np.ndarray, layout: Layout) -> str:
    """One image per line, values in stream order, separated by spaces."""
    rows = to_stream(batch, layout)
    return "".join(" ".join(map(str, row)) + "\n" for row in rows.tolist())
