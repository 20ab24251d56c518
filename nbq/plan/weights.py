"""Weight codes in ROM order: derived from Weights.ints (the truth), reordered, folded.

The weight matrix of a layer has one row per output channel and, as columns, a convolution's
window in (kh, kw, channel-in-group) order - the order the sliding-window units emit - or a
dense layer's inputs in stream order.  An engine array of PE x SIMD lanes reads one fold per
cycle: fold f = nf * SF + sf holds rows nf*PE .. nf*PE+PE-1 and columns sf*SIMD ..
sf*SIMD+SIMD-1 (code pe * SIMD + s).  A complex convolution's fold holds the codes of A, then
those of B (its [[A, -B], [B, A]] blocks, each stored once).
"""

from __future__ import annotations

import numpy as np

from nbq import ir
from nbq.errors import UnsupportedModelError
from nbq.formats import Po2Codebook, int_weight_codes
from nbq.plan.records import Engine, EngineKind


def po2_codes(weights: ir.Weights, layer_name: str) -> np.ndarray:
    """The codes the shift-add decoder expects (nbq.formats layout), computed from the integer weights.

    Deriving them from `ints` (rather than trusting `codes`) makes the hardware agree with
    the reference executor by construction; a value the format cannot hold is an error.
    """
    ints = np.asarray(weights.ints, dtype=np.int64)
    n = int(weights.bits)
    if n == 1:
        if not np.all(np.abs(ints) == 1):
            raise UnsupportedModelError(f"layer '{layer_name}': binary weights must be ±1")
        return (ints > 0).astype(np.uint64)
    r = Po2Codebook(n).r
    mag = np.abs(ints)
    # magnitude code by table lookup: 0 -> 0, 2^k -> r - k for 0 <= k <= r - 1, anything else -> invalid
    top = 1 << (r - 1)
    table = np.full(top + 2, -1, dtype=np.int64)  # the last entry: every magnitude above 2^(r-1)
    table[0] = 0
    table[1 << np.arange(r)] = r - np.arange(r)
    m = table[np.minimum(mag, top + 1)] if top + 1 < (1 << 20) else _magnitude_codes(mag, r)
    ok = (m >= 0) & (mag <= top)
    if not np.all(ok):
        bad = int(ints[~ok].ravel()[0])
        raise UnsupportedModelError(
            f"layer '{layer_name}': integer weight {bad} is not ±2^k with 0 <= k <= {r - 1} (po2-{n}b)"
        )
    return m.astype(np.uint64) | ((ints < 0).astype(np.uint64) << np.uint64(n - 1))


def _magnitude_codes(mag: np.ndarray, r: int) -> np.ndarray:
    """Magnitude codes of a wide codebook (no lookup table): -1 where mag is not 0 or 2^k, k < r."""
    mantissa, exp = np.frexp(mag.astype(np.float64))
    shift = exp - 1  # mag == 2**shift for powers of two
    nz = mag != 0
    ok = ~nz | ((mantissa == 0.5) & (shift >= 0) & (shift <= r - 1))
    return np.where(ok, np.where(nz, r - shift, 0), -1)


def engine_codes(weights: ir.Weights, ints: np.ndarray, engine: Engine, layer_name: str) -> np.ndarray:
    """Codes of `ints` (weights.ints or a block of it, same layout) as `engine` decodes them."""
    ints = np.asarray(ints, dtype=np.int64)
    if engine.kind in (EngineKind.XNOR, EngineKind.CXNOR):
        if not np.all(np.abs(ints) == 1):
            raise UnsupportedModelError(f"layer '{layer_name}': binary weights must be ±1")
        return (ints > 0).astype(np.uint64)
    if engine.kind == EngineKind.VPE:
        lo, hi = -(2 ** (engine.code_bits - 1)), 2 ** (engine.code_bits - 1) - 1
        if ints.size and (ints.min() < lo or ints.max() > hi):
            raise UnsupportedModelError(f"layer '{layer_name}': integer weights exceed int{engine.code_bits}")
        return int_weight_codes(ints, engine.code_bits)
    if weights.kind != "po2":
        raise UnsupportedModelError(f"layer '{layer_name}': the shift-add engine needs power-of-two weights")
    return po2_codes(ir.Weights(weights.kind, weights.bits, weights.codes, ints, weights.int_scale_exp), layer_name)


def conv_matrix(w: np.ndarray) -> np.ndarray:
    """(OC, IC/g, KH, KW) -> (OC, KH * KW * IC/g): columns in the window order (kh, kw, channel)."""
    return np.ascontiguousarray(np.asarray(w).transpose(0, 2, 3, 1)).reshape(w.shape[0], -1)


def complex_blocks(layer: ir.Conv) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) of a convolution whose weights are [[A, -B], [B, A]]; an error when they are not."""
    ints = np.asarray(layer.weights.ints)
    oc, ic = ints.shape[:2]
    o, i = oc // 2, ic // 2
    a, b = ints[:o, :i], ints[o:, :i]
    if (layer.groups != 1 or oc % 2 or ic % 2
            or not (np.array_equal(ints[o:, i:], a) and np.array_equal(ints[:o, i:], -b))):
        raise UnsupportedModelError(f"Conv '{layer.name}': marked complex, but its weights are not [[A, -B], [B, A]]")
    return a, b


def fold_rows(matrix: np.ndarray, pe: int, simd: int) -> np.ndarray:
    """(ROWS, K) codes -> (NF * SF, PE * SIMD): one row per fold, in the order the array reads them."""
    rows, k = matrix.shape
    if rows % pe or k % simd:
        raise UnsupportedModelError(f"folding PE={pe}, SIMD={simd} does not divide a {rows}x{k} weight matrix")
    f = matrix.reshape(rows // pe, pe, k // simd, simd).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(f).reshape(-1, pe * simd)


def rom_codes(layer: ir.Conv | ir.Dense, engine: Engine, fold: ir.Fold,
              column_order: np.ndarray | None = None) -> np.ndarray:
    """The ROM rows (NF * SF, codes per fold) of a Conv/Dense layer; Dense columns in stream order."""
    w = layer.weights
    if isinstance(layer, ir.Conv) and fold.complex:
        a, b = complex_blocks(layer)
        parts = [fold_rows(conv_matrix(engine_codes(w, part, engine, layer.name)), fold.pe, fold.simd)
                 for part in (a, b)]
        return np.concatenate(parts, axis=1)
    codes = engine_codes(w, w.ints, engine, layer.name)
    matrix = conv_matrix(codes) if isinstance(layer, ir.Conv) else codes
    if column_order is not None:
        matrix = np.ascontiguousarray(matrix[:, column_order])
    return fold_rows(matrix, fold.pe, fold.simd)
