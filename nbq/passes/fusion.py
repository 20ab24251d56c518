"""Fusion pass: a Threshold that directly follows a Conv/Dense is computed by that layer's MVAU.

The MVAU's accumulator then goes straight into the threshold unit (its bias folded into the
thresholds) instead of being rounded to the Conv's output type and streamed to a process of
its own.  Both layers stay in the graph - the reference executor runs them as before - and are
linked both ways: ``conv.fused_threshold = thr.name`` and ``thr.fused_into = conv.name``.  The
hardware plan (nbq.plan) builds one unit from the pair; both backends print that unit.

A Threshold is fused when its input is produced by a Conv/Dense, read by nothing else, and
is not a graph output.
"""

from __future__ import annotations

from nbq import ir


def fuse_thresholds(graph: ir.Graph) -> ir.Graph:
    g = graph.copy()
    readers: dict[str, int] = {}
    for layer in g.layers:
        for name in layer.inputs:
            readers[name] = readers.get(name, 0) + 1
    for name in g.outputs:
        readers[name] = readers.get(name, 0) + 1
    producers = {layer.output: layer for layer in g.layers}
    for layer in g.layers:
        if isinstance(layer, ir.Threshold):
            layer.fused_into = None
        elif isinstance(layer, ir.Conv | ir.Dense):
            layer.fused_threshold = None
    for layer in g.layers:
        src = producers.get(layer.inputs[0])
        if (isinstance(layer, ir.Threshold) and isinstance(src, ir.Conv | ir.Dense)
                and readers[src.output] == 1 and src.output not in g.outputs):
            src.fused_threshold = layer.name
            layer.fused_into = src.name
    return g
