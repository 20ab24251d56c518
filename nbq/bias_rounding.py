"""The float graph with the biases nbq rounds: tells a rounded output bias from an nbq error in `nbq run`.

A Conv/Gemm bias with no quantizer after it is rounded to the accumulator's step (docs/onnx-contract.md).
That costs up to half an accumulator step, and an average pool after it moves 1/k^2 into the scale, so
the same error reads as up to k^2/2 output steps (32 after an 8x8 GlobalAveragePool).  The importer
records each such rounding (graph.meta["rounded_biases"]); this module writes the rounding into a copy of
the ONNX graph, so the reference can be compared with the graph it is meant to compute exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper


@dataclass(frozen=True)
class RoundedBias:
    """One bias the importer rounded to its accumulator step (an ONNX value = nbq's tensor + residual)."""

    onnx_value: str  # the ONNX tensor that carries the exact bias
    layer: str  # the ONNX node it came from, for the message
    tensor: str  # the IR tensor (its integers hold the rounded bias)
    rank: int  # of the ONNX value, batch included: 4 for (N, C, H, W), 2 for (N, F)
    residual: tuple[float, ...]  # exact bias - rounded bias, per channel, in value units
    max_steps: float  # largest |residual| in accumulator steps (at most 0.5)


def with_rounded_biases(model: str | Path, records: list[RoundedBias]) -> onnx.ModelProto | None:
    """A copy of `model` where each recorded ONNX value has its rounding residual subtracted (None: no
    recorded value is a node output, so there is nothing to rewrite)."""
    proto = onnx.load(str(model))
    producers = {out: node for node in proto.graph.node for out in node.output}
    adds: dict[int, list[onnx.NodeProto]] = {}  # id of a producer -> the Adds that go right after it
    for i, rec in enumerate(records):
        name = rec.onnx_value
        if name not in producers:
            return None
        exact = f"{name}__nbq_exact_bias_{i}"
        node = producers[name]
        node.output[list(node.output).index(name)] = exact
        shape = (1, -1) + (1,) * (rec.rank - 2)
        const = numpy_helper.from_array(-np.asarray(rec.residual, np.float32).reshape(shape), f"{exact}_residual")
        proto.graph.initializer.append(const)
        adds.setdefault(id(node), []).append(helper.make_node("Add", [exact, const.name], [name], name=f"{exact}_add"))
    order = []
    for node in proto.graph.node:  # each Add right after its producer: the node list stays topological
        order.append(node)
        order.extend(adds.get(id(node), []))
    copies = [onnx.NodeProto() for _ in order]
    for copy, node in zip(copies, order, strict=True):
        copy.CopyFrom(node)
    del proto.graph.node[:]
    proto.graph.node.extend(copies)
    return proto


def describe(records: list[RoundedBias]) -> str:
    """'Conv_182' (up to 0.472 accumulator steps), ... for the message."""
    return ", ".join(f"'{rec.layer}' (up to {rec.max_steps:.3f} accumulator steps)" for rec in records)
