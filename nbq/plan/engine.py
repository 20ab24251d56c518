"""Which engine computes a Conv/Dense layer.

Rules (applied in this order):

* a binary convolution folded as complex (weights in the block form [[A, -B], [B, A]] over
  inputs in [-1, 1]) -> the binary complex engine ``cxnor``;
* binary weights (po2, n = 1) over inputs in [-1, 1] -> the XNOR-popcount engine ``xnor``;
* integer weights -> the multiplier engine ``vpe`` at the weights' own width;
* power-of-two weights -> the compile option: ``svpe`` (shift-add, the default) or ``vpe``
  (the paper's multiplier baseline: 16-bit weights, wider only where a code needs it).

The binary engines are exact for any input in [-1, 1] when "masked" (a 0, from zero padding or
a range that allows it, contributes nothing).  When the input is proven to be +-1 - the output
of a sign threshold (out_lo -1, step 2), possibly max-pooled or flattened - and the layer has
no zero padding, the mask is dropped: dot = 2 * popcount(XNOR) - K.
"""

from __future__ import annotations

import numpy as np

from nbq import ir
from nbq.errors import NbqError, UnsupportedModelError
from nbq.formats import bits_for_range
from nbq.plan.records import Engine, EngineKind

ENGINE_OPTIONS = ("svpe", "vpe")  # the compile option, for power-of-two layers
VPE_WEIGHT_BITS = 16


def check_engine_option(engine: str) -> str:
    if engine not in ENGINE_OPTIONS:
        raise NbqError(f"unknown engine '{engine}': choose one of {', '.join(ENGINE_OPTIONS)}")
    return engine


def is_bipolar(graph: ir.Graph, name: str) -> bool:
    """Is every value of tensor `name` -1 or +1 (never 0)?  Proven from its producers."""
    t = graph.tensors[name]
    if t.lo is None or t.lo < -1 or t.hi > 1:
        return False
    src = graph.producer(name)
    if isinstance(src, ir.Threshold):
        return src.out_lo == -1 and src.step == 2
    if isinstance(src, ir.MaxPool | ir.Flatten):  # max pooling pads with the lower bound, -1
        return is_bipolar(graph, src.inputs[0])
    if isinstance(src, ir.ChannelPermute):
        return is_bipolar(graph, src.inputs[0])
    if isinstance(src, ir.Concat):
        return not any(src.shifts) and all(is_bipolar(graph, name) for name in src.inputs)
    return False


def choose_engine(graph: ir.Graph, layer: ir.Conv | ir.Dense, option: str, fold: ir.Fold) -> Engine:
    w = layer.weights
    x = graph.tensors[layer.inputs[0]]
    padded = isinstance(layer, ir.Conv) and any(layer.pads)
    binary_input = x.lo >= -1 and x.hi <= 1
    if fold.complex:
        if not (binary_input and w.kind == "po2" and w.bits == 1):
            raise UnsupportedModelError(
                f"layer '{layer.name}' is folded as a complex convolution but its weights are not binary "
                f"or its input range [{x.lo}, {x.hi}] is not within [-1, 1]"
            )
        return Engine(EngineKind.CXNOR, 1, padded or not is_bipolar(graph, layer.inputs[0]))
    if w.kind == "po2" and w.bits == 1 and binary_input:
        return Engine(EngineKind.XNOR, 1, padded or not is_bipolar(graph, layer.inputs[0]))
    if w.kind == "int":
        return Engine(EngineKind.VPE, int(w.bits))
    if option == "vpe":
        ints = np.asarray(w.ints)
        lo, hi = (int(ints.min()), int(ints.max())) if ints.size else (0, 0)
        return Engine(EngineKind.VPE, max(VPE_WEIGHT_BITS, bits_for_range(min(lo, -1), hi)[0]))
    return Engine(EngineKind.SVPE, int(w.bits))
