"""The numeric contract: every number format nbq uses, defined once.

Training (nbq.nn), the ONNX front end, the reference executor and the code
generators all import from here, so rounding, saturation and code layouts
cannot drift apart.

Weights
  * n-bit power-of-two (``po2``): the staircase codebook
    {0, ±2^0, ±2^-1, …, ±2^-(r-1)}, r = 2^(n-1) - 1, times a per-tensor
    power-of-two scale.  n = 1 is the sign codebook {±1} (no zero).
    Code layout (n ≥ 2): MSB = sign (1 = negative), low n-1 bits = magnitude
    index m (0 = zero, m ≥ 1 means 2^-(m-1)).  Code layout (n = 1): the binary
    convention, bit 1 = +1, bit 0 = -1.
    In hardware a weight is an integer ±2^(r-m) (a left shift by r-m); the
    constant 2^-(r-1) is absorbed into the weight scale so nothing is lost.
  * plain integer (``int``): two's-complement n-bit integers times a
    power-of-two scale (the multiplier baseline).
Activations
  * integers in a proven range [lo, hi] with a scale (real = int * scale).
    Graph inputs and quantizer outputs have power-of-two scales; sums (e.g.
    average pooling) may carry a scale divided by the window size.
Rounding
  * round half to even (ONNX QuantizeLinear, numpy.rint), then saturate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_PO2_BITS = 8
# n = 7, 8 codebooks exist, but their integer form needs shifts of up to 62 / 126 bits:
# the hardware (and int64 reference) stops at n = 6 (shifts up to 30).
MAX_HW_PO2_BITS = 6
MAX_INT_WEIGHT_BITS = 16


# ---------------------------------------------------------------- rounding


def round_half_even(x: np.ndarray | float) -> np.ndarray:
    """The one rounding rule of nbq: to nearest, ties to even (as QuantizeLinear)."""
    return np.rint(x)


def saturate(x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return np.clip(x, lo, hi)


def quantize(x: np.ndarray, scale: float, lo: int, hi: int, zero_point: int = 0) -> np.ndarray:
    """Float -> integer exactly as ONNX QuantizeLinear, returned without the zero point.

    q = saturate(round_half_even(x / scale) + zp, lo + zp, hi + zp) - zp
    """
    q = round_half_even(np.asarray(x, dtype=np.float64) / scale)
    return saturate(q, lo, hi).astype(np.int64)


# ---------------------------------------------------------- integer ranges


def bits_for_range(lo: int, hi: int) -> tuple[int, bool]:
    """Smallest (bits, signed) two's-complement/unsigned type holding [lo, hi]."""
    lo, hi = int(lo), int(hi)
    if lo > hi:
        raise ValueError(f"empty range [{lo}, {hi}]")
    if lo >= 0:
        return max(1, hi.bit_length()), False
    bits = max((-lo - 1).bit_length(), max(hi, 0).bit_length()) + 1
    return bits, True


def is_power_of_two(x: float) -> bool:
    if not np.isfinite(x) or x <= 0:
        return False
    mantissa, _ = math.frexp(float(x))
    return mantissa == 0.5


def log2_exact(x: float) -> int:
    """log2 of a positive power of two; ValueError otherwise."""
    if not is_power_of_two(x):
        raise ValueError(f"{x!r} is not a power of two")
    return math.frexp(float(x))[1] - 1


# ------------------------------------------------------ power-of-two codes


@dataclass(frozen=True)
class Po2Codebook:
    """The n-bit staircase codebook of n-BQ-NN."""

    n: int

    def __post_init__(self) -> None:
        if not 1 <= self.n <= MAX_PO2_BITS:
            raise ValueError(f"power-of-two weight bits must be 1..{MAX_PO2_BITS}, got {self.n}")

    @property
    def r(self) -> int:
        """Number of non-zero magnitudes, 2^(n-1) - 1 (0 for n = 1, which has magnitude 1 only)."""
        return 2 ** (self.n - 1) - 1

    @property
    def has_zero(self) -> bool:
        return self.n >= 2

    @property
    def max_shift(self) -> int:
        """Largest left shift used by the integer weights (r - 1; 0 for n = 1)."""
        return max(self.r - 1, 0)

    def levels(self) -> np.ndarray:
        """All representable values, ascending (magnitude ≤ 1)."""
        if self.n == 1:
            return np.array([-1.0, 1.0])
        mags = 2.0 ** -np.arange(self.r)
        return np.concatenate([-mags, [0.0], mags[::-1]])

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Exact codebook values -> codes (uint8). Raises if a value is not in the codebook."""
        v = np.asarray(values, dtype=np.float64)
        if self.n == 1:
            if not np.all(np.abs(v) == 1.0):
                raise ValueError("1-bit power-of-two values must be ±1")
            return (v > 0).astype(np.uint8)
        mant, exp = np.frexp(np.abs(v))  # |v| = 2^-(m-1) <=> mant = 0.5, exp = 2 - m
        m = np.where(mant == 0, 0, 2 - exp)
        if not np.all((mant == 0) | ((mant == 0.5) & (m >= 1) & (m <= self.r))):
            raise ValueError(f"values outside the {self.n}-bit power-of-two codebook")
        return (m | ((v < 0) << (self.n - 1))).astype(np.uint8)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Codes -> codebook values (float64)."""
        c = np.asarray(codes, dtype=np.int64)
        if self.n == 1:
            return np.where(c & 1, 1.0, -1.0)
        m = c & ((1 << (self.n - 1)) - 1)
        neg = (c >> (self.n - 1)) & 1
        mag = np.where(m == 0, 0.0, 2.0 ** (1 - np.maximum(m, 1)))
        return np.where(neg == 1, -mag, mag)

    def int_values(self, codes: np.ndarray) -> np.ndarray:
        """Codes -> the integer weights the hardware uses: value * 2^(r-1) = ±2^(r-m)."""
        if self.n > MAX_HW_PO2_BITS:
            raise ValueError(f"{self.n}-bit power-of-two weights need shifts up to {self.r - 1} bits; "
                             f"hardware supports n <= {MAX_HW_PO2_BITS}")
        c = np.asarray(codes, dtype=np.int64)
        if self.n == 1:
            return np.where(c & 1, 1, -1).astype(np.int64)
        m = c & ((1 << (self.n - 1)) - 1)
        neg = (c >> (self.n - 1)) & 1
        mag = np.where(m == 0, 0, np.left_shift(1, np.maximum(self.r - m, 0)))
        return np.where(neg == 1, -mag, mag).astype(np.int64)

    @property
    def int_scale_exp(self) -> int:
        """int_values * 2^int_scale_exp == decode(codes)."""
        return -self.max_shift


@dataclass(frozen=True)
class Po2Fit:
    """A float weight tensor recognised as codebook values times 2^scale_exp."""

    n: int
    scale_exp: int  # weights == Po2Codebook(n).decode(codes) * 2**scale_exp


def fit_po2(w: np.ndarray, max_bits: int = MAX_PO2_BITS) -> Po2Fit | None:
    """Smallest n whose codebook (times one power-of-two scale) holds every value of w exactly."""
    w = np.asarray(w, dtype=np.float64)
    if w.size == 0 or not np.all(np.isfinite(w)):
        return None
    nz = w[w != 0]
    if nz.size == 0:
        return Po2Fit(n=2, scale_exp=0)
    mant, exp = np.frexp(np.abs(nz))
    if not np.all(mant == 0.5):
        return None
    exps = exp - 1
    top, bottom = int(exps.max()), int(exps.min())
    spread = top - bottom + 1  # magnitudes needed
    has_zero = nz.size != w.size
    if not has_zero and spread == 1:
        return Po2Fit(n=1, scale_exp=top)
    for n in range(2, max_bits + 1):
        if 2 ** (n - 1) - 1 >= spread:
            return Po2Fit(n=n, scale_exp=top)
    return None


# ---------------------------------------------------------- integer weights


@dataclass(frozen=True)
class IntFit:
    bits: int
    scale_exp: int  # weights == ints * 2**scale_exp


def _lowest_bit_exp(v: np.ndarray) -> int:
    """Exponent of the least significant set bit over all non-zero float64 values."""
    mant, exp = np.frexp(np.abs(v))
    ints = (mant * 2.0**53).astype(np.int64)  # exact: float64 has a 53-bit mantissa
    trailing = np.log2(ints & -ints).astype(np.int64)
    return int((exp - 53 + trailing).min())


def fit_int(w: np.ndarray, max_bits: int = MAX_INT_WEIGHT_BITS) -> IntFit | None:
    """Smallest signed integer type (times a power-of-two scale) holding w exactly."""
    w = np.asarray(w, dtype=np.float64)
    if w.size == 0 or not np.all(np.isfinite(w)):
        return None
    nz = w[w != 0]
    if nz.size == 0:
        return IntFit(bits=1, scale_exp=0)
    e = _lowest_bit_exp(nz)
    ints = w / 2.0**e
    bits, _ = bits_for_range(min(int(ints.min()), -1), int(ints.max()))
    if bits > max_bits:
        return None
    return IntFit(bits=bits, scale_exp=e)


def int_weight_codes(ints: np.ndarray, bits: int) -> np.ndarray:
    """Signed integers -> two's-complement codes of `bits` bits."""
    return (np.asarray(ints, dtype=np.int64) & ((1 << bits) - 1)).astype(np.uint64)


def int_weight_values(codes: np.ndarray, bits: int) -> np.ndarray:
    c = np.asarray(codes, dtype=np.int64)
    return np.where(c >> (bits - 1), c - (1 << bits), c)


# ------------------------------------------------------------------ binary


def binary_encode(values: np.ndarray) -> np.ndarray:
    """±1 -> bits (1 = +1)."""
    return (np.asarray(values) > 0).astype(np.uint8)


def binary_decode(bits: np.ndarray) -> np.ndarray:
    return np.where(np.asarray(bits) & 1, 1, -1).astype(np.int64)


# --------------------------------------------------------------- packing


def pack_codes(codes: np.ndarray, bits: int, word_bits: int = 64) -> np.ndarray:
    """Pack codes, word_bits // bits per word, first code in the low bits; no code straddles words."""
    per_word = word_bits // bits
    flat = np.asarray(codes, dtype=np.uint64).ravel()
    pad = (-flat.size) % per_word
    flat = np.concatenate([flat, np.zeros(pad, dtype=np.uint64)]).reshape(-1, per_word)
    shifts = (np.arange(per_word, dtype=np.uint64) * np.uint64(bits))
    return np.bitwise_or.reduce(flat << shifts, axis=1).astype(np.uint64)


def unpack_codes(words: np.ndarray, bits: int, count: int, word_bits: int = 64) -> np.ndarray:
    per_word = word_bits // bits
    w = np.asarray(words, dtype=np.uint64)[:, None]
    shifts = (np.arange(per_word, dtype=np.uint64) * np.uint64(bits))
    mask = np.uint64((1 << bits) - 1)
    return ((w >> shifts) & mask).ravel()[:count]
