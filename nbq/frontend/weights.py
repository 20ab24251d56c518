"""Recognise a float weight tensor as one of nbq's exact weight formats."""

from __future__ import annotations

import numpy as np

from nbq import ir
from nbq.formats import MAX_HW_PO2_BITS, Po2Codebook, fit_int, fit_po2, int_weight_codes


def classify_weights(w: np.ndarray) -> ir.Weights | None:
    """po2-n (smallest n that fits exactly), else intN with a power-of-two scale, else None."""
    w = np.asarray(w, dtype=np.float64)
    po2 = fit_po2(w, max_bits=MAX_HW_PO2_BITS)
    if po2 is not None:
        book = Po2Codebook(po2.n)
        codes = book.encode(w / 2.0**po2.scale_exp)
        return ir.Weights(
            kind="po2",
            bits=po2.n,
            codes=codes,
            ints=book.int_values(codes),
            int_scale_exp=po2.scale_exp + book.int_scale_exp,
        )
    fit = fit_int(w)
    if fit is not None:
        ints = np.round(w / 2.0**fit.scale_exp).astype(np.int64)
        return ir.Weights(
            kind="int",
            bits=fit.bits,
            codes=int_weight_codes(ints, fit.bits),
            ints=ints,
            int_scale_exp=fit.scale_exp,
        )
    return None


def describe_non_exact(w: np.ndarray) -> str:
    """A short reason why w is not power-of-two: the first offending value."""
    w = np.asarray(w, dtype=np.float64).ravel()
    nz = w[w != 0]
    mant, _ = np.frexp(np.abs(nz))
    bad = nz[mant != 0.5]
    sample = bad[0] if bad.size else nz[0]
    return (
        f"weights are not powers of two (e.g. {sample:.6g}, {bad.size} of {w.size} values); "
        "train with nbq.nn or quantize them to the po2 codebook before export"
    )
