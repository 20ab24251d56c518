"""Passes: each a function IR -> IR, run in this order by run_passes."""

from __future__ import annotations

from nbq import ir
from nbq.passes.folding import choose_folding
from nbq.passes.fusion import fuse_thresholds
from nbq.passes.layout import assign_stream_layout
from nbq.passes.ranges import infer_ranges
from nbq.passes.thresholds import fold_thresholds

PIPELINE = (infer_ranges, fold_thresholds, infer_ranges, assign_stream_layout, fuse_thresholds, choose_folding)


def run_passes(graph: ir.Graph) -> ir.Graph:
    for step in PIPELINE:
        graph = step(graph)
    return graph


__all__ = [
    "run_passes", "infer_ranges", "fold_thresholds", "assign_stream_layout", "fuse_thresholds", "choose_folding",
]
