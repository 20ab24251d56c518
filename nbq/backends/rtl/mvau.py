"""How a Conv/Dense layer maps onto nbq_mvau: engine choice, weight matrix, ROM words, accumulator width.

The MVAU sees each input vector in (tap, channel) order (a conv window from
nbq_window, or a dense input in stream order) and regroups it to (group, tap,
channel-in-group).  Row o of the weight matrix built here is output channel o's
weights over its group's part of that vector, so the ROM word for neuron fold
nf and synapse fold sf holds rows nf*PE .. nf*PE+PE-1, columns sf*SIMD ...
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nbq import ir
from nbq.backends.rtl import memfiles
from nbq.errors import UnsupportedModelError

SVPE, VPE, XNOR, CXNOR = 0, 1, 2, 3
ENGINE_NAMES = {SVPE: "svpe", VPE: "vpe", XNOR: "xnor", CXNOR: "cxnor"}


def engine_for(weights: ir.Weights, x_lo: int, x_hi: int, complex_: bool = False) -> int:
    """SVPE for po2 weights, VPE for integer weights, XNOR when binary weights meet activations in [-1, 1]."""
    if weights.kind == "int":
        return VPE
    if weights.bits == 1 and x_lo >= -1 and x_hi <= 1:
        return CXNOR if complex_ else XNOR
    return SVPE


def code_bits(weights: ir.Weights, engine: int) -> int:
    return 1 if engine in (XNOR, CXNOR) else weights.bits


def hw_codes(weights: ir.Weights, engine: int) -> np.ndarray:
    """The codes the engine decodes: po2 codes (nbq.formats layout), two's complement, or bits (1 = +1)."""
    if weights.kind == "int":
        return (np.asarray(weights.ints, dtype=np.int64) & ((1 << weights.bits) - 1)).astype(np.int64)
    return np.asarray(weights.codes, dtype=np.int64)


def conv_matrix(w: np.ndarray) -> np.ndarray:
    """(OC, ICg, KH, KW) -> (OC, KH*KW*ICg) with columns in (kh, kw, ci) order."""
    oc = w.shape[0]
    return np.asarray(w).transpose(0, 2, 3, 1).reshape(oc, -1)


def fold_matrix(m: np.ndarray, pe: int, simd: int) -> np.ndarray:
    """(OC, K) -> (NF, SF, PE, SIMD): the ROM order, neuron fold major."""
    oc, k = m.shape
    if oc % pe or k % simd:
        raise UnsupportedModelError(f"folding PE={pe}, SIMD={simd} does not divide a {oc}x{k} weight matrix")
    return m.reshape(oc // pe, pe, k // simd, simd).transpose(0, 2, 1, 3)


def weight_rom(m_codes: np.ndarray, engine: int, bits: int, pe: int, simd: int,
               b_codes: np.ndarray | None = None) -> tuple[list[int], int]:
    """Weight matrix codes (OC, K) -> (ROM words, word width).

    CXNOR: m_codes is A and b_codes is B (both (O, K) bits over one complex part's (tap, channel)
    vector); each is stored once.
    """
    if engine == CXNOR:
        if b_codes is None:
            raise ValueError("the complex engine needs both A and B")
        words = memfiles.complex_weight_words(fold_matrix(m_codes, pe, simd), fold_matrix(b_codes, pe, simd))
        return words, 2 * pe * simd
    return memfiles.weight_words(fold_matrix(m_codes, pe, simd), bits), pe * simd * bits


@dataclass(frozen=True)
class AccRange:
    lo: int
    hi: int

    @property
    def bits(self) -> int:
        return memfiles.signed_bits(self.lo, self.hi)


def acc_range(ints: np.ndarray, x_lo: int, x_hi: int) -> AccRange:
    """Range of every partial sum of every row of ints (OC, K) with inputs in [x_lo, x_hi] (or zero padding).

    The accumulator and adder-tree nodes hold sums over arbitrary subsets of a
    row, so the bound takes each term's worst case on its own - zero included -
    which bounds every partial sum, not only the full one.
    """
    w = np.asarray(ints, dtype=object).reshape(ints.shape[0], -1)
    lo, hi = min(int(x_lo), 0), max(int(x_hi), 0)
    a, b = w * lo, w * hi
    top = np.maximum(np.maximum(a, b), 0).sum(axis=1)
    bottom = np.minimum(np.minimum(a, b), 0).sum(axis=1)
    return AccRange(int(min(bottom, default=0)), int(max(top, default=0)))

