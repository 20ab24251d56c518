"""Layout pass: record where the hardware's channels-last stream order differs from ONNX's."""

from __future__ import annotations

from nbq import ir


def assign_stream_layout(graph: ir.Graph) -> ir.Graph:
    """Mark Dense layers fed by a Flatten of a (C, H, W) map, whose columns the backend must reorder."""
    g = graph.copy()
    producers = {layer.output: layer for layer in g.layers}
    for layer in g.layers:
        if isinstance(layer, ir.Dense):
            src = producers.get(layer.inputs[0])
            if isinstance(src, ir.Flatten):
                shape = g.tensors[src.inputs[0]].shape
                layer.flattened_from = tuple(shape) if len(shape) == 3 else None
    return g
