"""Stream order of every tensor: feature maps travel channels-last (H, W, C; C fastest).

A tensor's layout is the (C, H, W) of the feature map its values come from, or None for a
plain vector (stream order = logical order).  A Flatten keeps the layout of its input, so a
flattened map still streams channels-last; the Dense after it reorders its weight columns.
"""

from __future__ import annotations

import numpy as np

from nbq import ir
from nbq.errors import UnsupportedModelError

Layout = tuple[int, int, int] | None


def stream_layouts(graph: ir.Graph, layers: list[ir.Layer]) -> dict[str, Layout]:
    layouts: dict[str, Layout] = {}
    for name in graph.inputs:
        layouts[name] = _own_layout(graph.tensors[name])
    for layer in layers:
        out = graph.tensors[layer.output]
        if isinstance(layer, ir.Conv | ir.MaxPool | ir.SumPool | ir.Dense | ir.ChannelPermute):
            layouts[layer.output] = _own_layout(out)
        elif isinstance(layer, ir.Concat):
            ins = [(name, layouts[name]) for name in layer.inputs]
            bad = [name for name, lay in ins if lay != _own_layout(graph.tensors[name])]
            if bad:  # a flattened map streams channels-last: its values are not in concatenation order
                raise UnsupportedModelError(
                    f"Concat '{layer.name}': input '{bad[0]}' is a flattened feature map; concatenate the maps "
                    "(axis 1) before flattening"
                )
            layouts[layer.output] = _own_layout(out)
        elif isinstance(layer, ir.Add):
            a, b = (layouts[name] for name in layer.inputs)
            if a != b:
                raise UnsupportedModelError(
                    f"Add '{layer.name}': its inputs stream in different orders"
                    " (one of them is a flattened feature map)"
                )
            layouts[layer.output] = a
        else:  # Flatten, Threshold, Clamp keep the order of their input
            layouts[layer.output] = layouts[layer.inputs[0]]
    return layouts


def _own_layout(tensor: ir.Tensor) -> Layout:
    if len(tensor.shape) == 3:
        c, h, w = tensor.shape
        return (int(c), int(h), int(w))
    if len(tensor.shape) == 1:
        return None
    raise UnsupportedModelError(
        f"tensor '{tensor.name}' has shape {tensor.shape}; the hardware streams (C,H,W) or (F,)"
    )


def stream_order(layout: Layout) -> np.ndarray | None:
    """order[s] = logical (flattened) index of the value at stream position s; None = identity."""
    if layout is None:
        return None
    c, h, w = layout
    return np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).ravel()


def to_stream(batch: np.ndarray, layout: Layout) -> np.ndarray:
    """(N, logical shape...) -> (N, values in stream order)."""
    batch = np.asarray(batch, dtype=np.int64)
    n = batch.shape[0]
    if layout is None:
        return batch.reshape(n, -1)
    return batch.reshape((n,) + layout).transpose(0, 2, 3, 1).reshape(n, -1)
