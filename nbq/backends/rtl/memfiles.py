"""$readmemh tables for the RTL ROMs: bit layouts of weight, threshold and bias words.

Every table is computed here, in one place, from the IR's integers; the RTL
only reads the words (layouts documented in hw/rtl/nbq_mvau.sv,
nbq_threshold.sv and nbq_bias.sv).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from nbq.formats import bits_for_range


def signed_bits(lo: int, hi: int) -> int:
    """Bits of the smallest two's-complement type holding [lo, hi] (always signed)."""
    bits, signed = bits_for_range(min(int(lo), -1), int(hi))
    return bits if signed else bits + 1


def pack_word(values: Iterable[int], bits: int) -> int:
    """Integers -> one word, element 0 in the low bits, each `bits` wide (two's complement)."""
    word, mask = 0, (1 << bits) - 1
    for i, v in enumerate(values):
        word |= (int(v) & mask) << (i * bits)
    return word


def hex_lines(words: Iterable[int], width: int) -> str:
    """One word per line, zero-padded hex, as $readmemh reads them."""
    digits = max(1, (width + 3) // 4)
    return "".join(f"{int(w):0{digits}x}\n" for w in words)


def write_mem(path: Path, words: Iterable[int], width: int) -> Path:
    path.write_text(hex_lines(words, width))
    return path


def weight_words(codes: np.ndarray, code_bits: int) -> list[int]:
    """codes (NF, SF, PE, SIMD) -> NF*SF words: lane p, element s at bit (p*SIMD + s)*code_bits."""
    nf, sf, pe, simd = codes.shape
    flat = codes.reshape(nf * sf, pe * simd)
    return [pack_word(row, code_bits) for row in flat]


def complex_weight_words(a: np.ndarray, b: np.ndarray) -> list[int]:
    """A, B bits (NF, SF, PE, SIMD) -> words: the PE*SIMD bits of A, then those of B."""
    nf, sf, pe, simd = a.shape
    n = pe * simd
    fa, fb = a.reshape(nf * sf, n), b.reshape(nf * sf, n)
    return [pack_word(ra, 1) | (pack_word(rb, 1) << n) for ra, rb in zip(fa, fb, strict=True)]


def _field_bits(values: np.ndarray, bits: int) -> np.ndarray:
    """(..., k) integers -> (..., k * bits) 0/1, two's complement, element 0's bits first (LSB first)."""
    v = np.asarray(values)
    if v.size and (v.dtype == object or int(v.min()) < -(2**63) or int(v.max()) >= 2**64):
        raise ValueError("a table value does not fit in 64 bits")
    u = v.astype(np.int64).view(np.uint64) if v.dtype.kind == "i" else v.astype(np.uint64)
    shifts = np.arange(bits, dtype=np.uint64) if bits <= 64 else None
    if shifts is None:  # sign-extend beyond 64 bits
        low = (u[..., None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
        sign = np.repeat(low[..., 63:64], bits - 64, axis=-1)
        out = np.concatenate([low, sign], axis=-1)
    else:
        out = (u[..., None] >> shifts) & np.uint64(1)
    return out.astype(np.uint8).reshape(*v.shape[:-1], v.shape[-1] * bits)


def _row_ints(bits: np.ndarray) -> list[int]:
    """(rows, width) 0/1 -> one integer per row, column j = bit j."""
    packed = np.packbits(bits, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def threshold_words(thresholds: np.ndarray, up: np.ndarray, t_bits: int) -> list[int]:
    """thresholds (NF, LANES, L), up (NF, LANES) -> NF words; lane p: L thresholds then the direction bit."""
    nf, lanes, levels = thresholds.shape
    if nf == 0:
        return []
    lane_bits = np.concatenate([_field_bits(thresholds, t_bits),
                                np.asarray(up, dtype=np.uint8).reshape(nf, lanes, 1) & 1], axis=2)
    return _row_ints(lane_bits.reshape(nf, -1))


def bias_words(bias: np.ndarray, b_bits: int) -> list[int]:
    """bias (NF, LANES) -> NF words, lane p at bit p*b_bits."""
    return [pack_word(row, b_bits) for row in bias]
