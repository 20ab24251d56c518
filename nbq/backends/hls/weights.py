"""Weight codes for the hardware: derived from Weights.ints (the truth), reordered, packed."""

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


def conv_code_order(codes: np.ndarray) -> np.ndarray:
    """(OC, IC/g, KH, KW) -> (OC, KH, KW, IC/g): the loop order of nbq::conv2d."""
    return np.ascontiguousarray(codes.transpose(0, 2, 3, 1))


def dense_code_order(codes: np.ndarray, column_order: np.ndarray | None) -> np.ndarray:
    """(OUT, IN) with columns in stream order (column_order[s] = logical input index)."""
    return codes if column_order is None else np.ascontiguousarray(codes[:, column_order])


def pack(codes: np.ndarray, bits: int) -> np.ndarray:
    """Codes packed 64 // bits to a uint64 word, first code in the low bits."""
    if codes.size == 0:
        return np.zeros(1, dtype=np.uint64)  # C++ has no zero-length arrays
    return pack_codes(codes, bits, WORD_BITS)


def format_typedef(weights: ir.Weights) -> str:
    """The C++ weight-format policy that implements the product."""
    kind = "po2_weights" if weights.kind == "po2" else "int_weights"
    return f"nbq::{kind}<{int(weights.bits)}>"
