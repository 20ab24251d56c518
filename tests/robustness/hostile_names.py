"""The example model with hostile node / tensor / graph input and output names (kept consistent)."""

from __future__ import annotations

from pathlib import Path

import onnx
from harness import EXAMPLE


def renamed_example(dest: Path, payload: str, inputs: bool = True) -> Path:
    """examples/digits_po2_cnn.onnx with `payload` appended to every node name and every non-constant tensor
    name (graph input and outputs included, unless inputs=False keeps the input's name); saved at dest."""
    model = onnx.load(str(EXAMPLE))
    graph = model.graph
    keep = {t.name for t in graph.initializer}
    if not inputs:
        keep |= {v.name for v in graph.input}

    def rename(name: str) -> str:
        return name if not name or name in keep else name + payload

    for node in graph.node:
        node.name = rename(node.name)
        node.input[:] = [rename(n) for n in node.input]
        node.output[:] = [rename(n) for n in node.output]
    for value in [*graph.input, *graph.output, *graph.value_info]:
        value.name = rename(value.name)
    onnx.save(model, str(dest))
    return dest
