"""Weight codes for the hardware: derived from Weights.ints (the truth), reordered, folded, packed.

An engine array of PE x SIMD lanes reads one fold per cycle: fold f = nf * SF + sf holds the
codes of rows nf*PE .. nf*PE+PE-1 and columns sf*SIMD .. sf*SIMD+SIMD-1 of the layer's weight
matrix (code pe * SIMD + s), packed 64 // bits to a uint64 word and padded to whole words, so
every fold starts on a word (hw/include/nbq/weights.h).  The complex engine's fold holds the
A bits, then the B bits.
"""

from __future__ import annotations

import numpy as np

from nbq import ir
from nbq.errors import UnsupportedModelError
from nbq.formats import Po2Codebook, int_weight_codes, pack_codes

WORD_BITS = 64


def hardware_codes(weights: ir.Weights, layer_name: str) -> np.ndarray:
    """The codes the C++ decoder expects (nbq.formats layout), computed from the integer weights.

    Deriving them from `ints` (rather than trusting `codes`) makes the hardware agree with
    the reference executor by construction; a value the format cannot hold is an error.
    """
    ints = np.asarray(weights.ints, dtype=np.int64)
    n = int(weights.bits)
    if weights.kind == "po2":
        if n == 1:
            if not np.all(np.abs(ints) == 1):
                raise UnsupportedModelError(f"layer '{layer_name}': binary weights must be ±1")
            return (ints > 0).astype(np.uint64)
        r = Po2Codebook(n).r
        mag = np.abs(ints)
        mantissa, exp = np.frexp(mag.astype(np.float64))
        nz = mag != 0
        shift = exp - 1  # mag == 2**shift for powers of two
        ok = ~nz | ((mantissa == 0.5) & (shift >= 0) & (shift <= r - 1))
        if not np.all(ok):
            bad = int(ints[~ok].ravel()[0])
            raise UnsupportedModelError(
                f"layer '{layer_name}': integer weight {bad} is not ±2^k with 0 <= k <= {r - 1} (po2-{n}b)"
            )
        m = np.where(nz, r - shift, 0).astype(np.uint64)
        return m | ((ints < 0).astype(np.uint64) << np.uint64(n - 1))
    if weights.kind == "int":
        lo, hi = -(2 ** (n - 1)), 2 ** (n - 1) - 1
        if ints.size and (ints.min() < lo or ints.max() > hi):
            raise UnsupportedModelError(f"layer '{layer_name}': integer weights exceed int{n}")
        return int_weight_codes(ints, n)
    raise UnsupportedModelError(f"layer '{layer_name}': unknown weight kind '{weights.kind}'")


def conv_matrix(codes: np.ndarray) -> np.ndarray:
    """(OC, IC/g, KH, KW) -> (OC, KH * KW * IC/g): columns in the window order (kh, kw, channel)."""
    return np.ascontiguousarray(codes.transpose(0, 2, 3, 1)).reshape(codes.shape[0], -1)


def vpe_codes(ints: np.ndarray, bits: int) -> np.ndarray:
    """Integer weights as `bits`-bit two's complement codes (the multiplier engine)."""
    return int_weight_codes(np.asarray(ints, dtype=np.int64), bits)


def binary_codes(ints: np.ndarray) -> np.ndarray:
    """+-1 -> bits, 1 = +1 (the XNOR engines)."""
    return (np.asarray(ints) > 0).astype(np.uint64)


def folds(matrix: np.ndarray, pe: int, simd: int) -> np.ndarray:
    """(ROWS, K) codes -> (NF * SF, PE * SIMD): one row per fold, in the order the array reads them."""
    rows, k = matrix.shape
    if rows % pe or k % simd:
        raise UnsupportedModelError(f"folding PE={pe}, SIMD={simd} does not divide a {rows}x{k} weight matrix")
    f = matrix.reshape(rows // pe, pe, k // simd, simd).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(f).reshape(-1, pe * simd)


def pack_folds(fold_codes: np.ndarray, bits: int) -> tuple[np.ndarray, int]:
    """(folds, codes per fold) -> (uint64 words, words per fold); each fold padded to whole words."""
    per_word = WORD_BITS // bits
    n_folds, per_fold = fold_codes.shape
    words = max(1, -(-per_fold // per_word))
    padded = np.zeros((n_folds, words * per_word), dtype=np.uint64)
    padded[:, :per_fold] = fold_codes
    return pack(padded.ravel(), bits), words


def dense_code_order(codes: np.ndarray, column_order: np.ndarray | None) -> np.ndarray:
    """(OUT, IN) with columns in stream order (column_order[s] = logical input index)."""
    return codes if column_order is None else np.ascontiguousarray(codes[:, column_order])


def pack(codes: np.ndarray, bits: int) -> np.ndarray:
    """Codes packed 64 // bits to a uint64 word, first code in the low bits."""
    if codes.size == 0:
        return np.zeros(1, dtype=np.uint64)  # C++ has no zero-length arrays
    return pack_codes(codes, bits, WORD_BITS)
