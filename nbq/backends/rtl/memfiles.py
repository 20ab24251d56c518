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


def threshold_words(thresholds: np.ndarray, up: np.ndarray, t_bits: int) -> list[int]:
    """thresholds (NF, LANES, L), up (NF, LANES) -> NF words; lane p: L thresholds then the direction bit."""
    nf, lanes, levels = thresholds.shape
    row = levels * t_bits + 1
    words = []
    for f in range(nf):
        word = 0
        for p in range(lanes):
            lane = pack_word(thresholds[f, p], t_bits) | (int(up[f, p]) << (levels * t_bits))
            word |= lane << (p * row)
        words.append(word)
    return words


def bias_words(bias: np.ndarray, b_bits: int) -> list[int]:
    """bias (NF, LANES) -> NF words, lane p at bit p*b_bits."""
    return [pack_word(row, b_bits) for row in bias]
