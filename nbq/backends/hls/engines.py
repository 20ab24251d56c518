"""Which engine computes a Conv/Dense layer, and how it is folded.

Rules (applied in this order):

* a binary convolution marked complex by the folding pass (weights in the block form
  [[A, -B], [B, A]] over inputs in [-1, 1]) -> the binary complex engine ``cxnor``;
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

from dataclasses import dataclass

import numpy as np

from nbq import ir
from nbq.errors import NbqError, UnsupportedModelError
from nbq.formats import bits_for_range

ENGINES = ("svpe", "vpe")  # the compile option, for power-of-two layers
VPE_WEIGHT_BITS = 16


@dataclass(frozen=True)
class Fold:
    """(PE, SIMD) of a layer; for a complex conv both count complex channels."""

    pe: int
    simd: int
    complex: bool


@dataclass(frozen=True)
class Engine:
    kind: str  # "svpe" | "vpe" | "xnor" | "cxnor"
    code_bits: int  # bits per stored weight code
    masked: bool = False  # binary engines: a 0 input is possible

    @property
    def typedef(self) -> str:
        if self.kind == "svpe":
            return f"nbq::svpe<{self.code_bits}>"
        if self.kind == "vpe":
            return f"nbq::vpe<{self.code_bits}>"
        return f"nbq::{self.kind}<{'true' if self.masked else 'false'}>"


def check_engine_option(engine: str) -> str:
    if engine not in ENGINES:
        raise NbqError(f"unknown engine '{engine}': choose one of {', '.join(ENGINES)}")
    return engine


def layer_fold(graph: ir.Graph, layer: ir.Conv | ir.Dense) -> Fold:
    """The folding pass's choice, or the fully folded (1, 1) array when the pass did not run."""
    folding = layer.folding
    if folding is None:
        complex_ = False
        if isinstance(layer, ir.Conv):
            from nbq.passes.folding import is_complex_conv

            complex_ = is_complex_conv(layer, graph.tensors[layer.inputs[0]])
        return Fold(1, 1, complex_)
    return Fold(int(folding["pe"]), int(folding["simd"]), bool(folding.get("complex", False)))


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
    return False


def choose_engine(graph: ir.Graph, layer: ir.Conv | ir.Dense, option: str, fold: Fold) -> Engine:
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
        return Engine("cxnor", 1, padded or not is_bipolar(graph, layer.inputs[0]))
    if w.kind == "po2" and w.bits == 1 and binary_input:
        return Engine("xnor", 1, padded or not is_bipolar(graph, layer.inputs[0]))
    if w.kind == "int":
        return Engine("vpe", int(w.bits))
    if option == "vpe":
        ints = np.asarray(w.ints)
        lo, hi = (int(ints.min()), int(ints.max())) if ints.size else (0, 0)
        return Engine("vpe", max(VPE_WEIGHT_BITS, bits_for_range(min(lo, -1), hi)[0]))
    return Engine("svpe", int(w.bits))
