"""ONNX names must be text: protobuf hands back `bytes` for a string field that is not valid UTF-8."""

from __future__ import annotations

from pathlib import Path

import onnx

from nbq.console import visible
from nbq.errors import NbqError


def _bad(value: object) -> bool:
    return isinstance(value, bytes)


def check_names(model: onnx.ModelProto, source: str | Path) -> None:
    """Refuse a model whose graph, node or tensor names are not valid UTF-8, naming the first such name."""
    graph = model.graph

    def fail(where: str, value: bytes) -> NbqError:
        shown = visible(value.decode("utf-8", errors="backslashreplace"))
        return NbqError(f"{source}: {where} name '{shown}' is not valid UTF-8; rename it (ONNX names are UTF-8 "
                        "text)")

    if _bad(graph.name):
        raise fail("graph", graph.name)
    for kind, values in (("input", graph.input), ("output", graph.output), ("value_info", graph.value_info),
                         ("initializer", graph.initializer)):
        for v in values:
            if _bad(v.name):
                raise fail(f"graph {kind}", v.name)
    for i, node in enumerate(graph.node):
        op = node.op_type if not _bad(node.op_type) else "?"
        for what, value in (("node", node.name), ("op_type", node.op_type), ("domain", node.domain)):
            if _bad(value):
                raise fail(f"node #{i} ({visible(op)}): {what}", value)
        for what, names in (("input", node.input), ("output", node.output)):
            for name in names:
                if _bad(name):
                    raise fail(f"node #{i} ({visible(op)}): {what}", name)
