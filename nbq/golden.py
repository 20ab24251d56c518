"""Golden test vectors: which integer images the testbenches check (IR -> inputs)."""

from __future__ import annotations

import numpy as np

from nbq import ir

RANDOM_IMAGES = 8
MAC_BUDGET = 2e8  # reference multiply-accumulates spent on random images when nobody gives inputs


def mac_count(graph: ir.Graph) -> int:
    """Multiply-accumulates (shift-adds) per image."""
    total = 0
    for layer in graph.layers:
        if isinstance(layer, ir.Conv):
            total += layer.weights.ints.size * int(np.prod(graph.tensors[layer.output].shape[1:]))
        elif isinstance(layer, ir.Dense):
            total += layer.weights.ints.size
    return total


def default_random_images(graph: ir.Graph) -> int:
    """8 random images for small models, down to 1 for big ones, so compiling stays fast."""
    return int(np.clip(MAC_BUDGET // max(mac_count(graph), 1), 1, RANDOM_IMAGES))


def adversarial_inputs(graph: ir.Graph, n_random: int | None = None, seed: int = 0) -> np.ndarray:
    """Integer images: random over the input range, then all-max, all-min and a max/min checkerboard."""
    t = graph.tensors[graph.inputs[0]]
    n_random = default_random_images(graph) if n_random is None else n_random
    rng = np.random.default_rng(seed)
    random = rng.integers(t.lo, t.hi + 1, size=(n_random,) + t.shape, dtype=np.int64)
    checker = np.where(np.indices(t.shape).sum(axis=0) % 2 == 0, t.hi, t.lo)
    extremes = np.stack([np.full(t.shape, t.hi), np.full(t.shape, t.lo), checker]).astype(np.int64)
    return np.concatenate([random, extremes])
