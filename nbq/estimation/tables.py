"""What synthesis can see in a constant table (weight, threshold or bias ROM): its shape and its bit columns.

Yosys (like Vivado) folds constants: a ROM bit column that is the same in every word becomes a
wire to 0 or 1, and two identical columns share one register after `opt_merge`.  A weight whose
value never changes across the ROM is a constant, so its shift or multiplier folds away too (a
VPE lane with a constant power-of-two weight needs no DSP).  The estimate therefore looks at the
table contents, not only at depth x width: TableStats is that summary, computed once from the
words the RTL backend writes (nbq.backends.rtl.memfiles layouts) or from calibration tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TableStats:
    depth: int  # words
    width: int  # bits per word
    cols: int  # distinct bit columns that are not constant (what survives constant folding and merging)

    @property
    def bits(self) -> int:
        return self.depth * self.width


def bit_matrix(words: list[int] | np.ndarray, width: int) -> np.ndarray:
    """(depth, width) uint8: bit j of word i."""
    nbytes = max(1, (width + 7) // 8)
    raw = b"".join(int(w).to_bytes(nbytes, "little") for w in words)
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8).reshape(len(words), nbytes), axis=1, bitorder="little")
    return bits[:, :width]


def table_stats(words: list[int] | np.ndarray, width: int) -> TableStats:
    depth = len(words)
    if depth == 0 or width == 0:
        return TableStats(depth, width, 0)
    return _matrix_stats(bit_matrix(words, width))


def _matrix_stats(m: np.ndarray) -> TableStats:
    """Stats of a (depth, width) 0/1 matrix; distinct columns compared as packed bytes (fast on big ROMs)."""
    depth, width = m.shape
    varying = m[:, (m != m[:1, :]).any(axis=0)]
    if not varying.size:
        return TableStats(depth, width, 0)
    packed = np.ascontiguousarray(np.packbits(varying, axis=0).T)  # one row of bytes per column: pack, then transpose
    cols = len({row.tobytes() for row in packed})
    return TableStats(depth, width, cols)


def code_bit_matrix(codes: np.ndarray, bits: int) -> np.ndarray:
    """(depth, codes per row) -> (depth, codes * bits) 0/1: bit b of code k at column k * bits + b (the row layout)."""
    codes = np.asarray(codes, dtype=np.uint64)
    if bits <= 8:  # unpack bytes: 8x less temporary memory than 64-bit shifts
        unpacked = np.unpackbits(codes.astype(np.uint8)[:, :, None], axis=2, bitorder="little")
        return np.ascontiguousarray(unpacked[:, :, :bits]).reshape(codes.shape[0], -1)
    shifts = np.arange(bits, dtype=np.uint64)
    return ((codes[:, :, None] >> shifts) & np.uint64(1)).astype(np.uint8).reshape(codes.shape[0], -1)


def code_columns(codes: np.ndarray) -> tuple[int, int, int]:
    """codes (depth, lanes): (lanes whose code varies, lanes with a constant non-zero code, constant-zero lanes)."""
    codes = np.asarray(codes)
    if codes.size == 0:
        return 0, 0, 0
    const = (codes == codes[:1, :]).all(axis=0)
    zero = const & (codes[0] == 0)
    return int((~const).sum()), int((const & ~zero).sum()), int(zero.sum())


@dataclass(frozen=True)
class WeightStats:
    """A weight ROM as the MVAU sees it: its table, and per lane (pe, s) whether its weight varies."""

    table: TableStats
    var_lanes: int  # products whose weight changes between folds
    const_lanes: int  # constant non-zero weight (a fixed shift; VPE: a constant multiplier)
    zero_lanes: int  # constant zero: the product disappears
    const_dsp_lanes: int = 0  # VPE: constant weights that are not 0 or +-2^k (still a DSP)


def weight_stats(codes: np.ndarray, code_bits: int, engine: int) -> WeightStats:
    """codes: (depth, codes per row) as the plan's Rom holds them; engine: nbq_mvau's ENGINE parameter."""
    codes = np.asarray(codes, dtype=np.uint64)
    bits = 1 if engine >= 2 else code_bits
    table = _matrix_stats(code_bit_matrix(codes, bits)) if codes.size else TableStats(len(codes), 0, 0)
    if engine == 3:  # complex: A then B; a lane's four products read A and B of its (pe, s)
        n = codes.shape[1] // 2
        codes = np.concatenate([codes[:, :n], codes[:, n:]], axis=0)
    var, const, zero = code_columns(codes)
    const_dsp = 0
    if engine == 1 and codes.size:
        first = codes[0].astype(np.int64)
        signed = np.where(first >= 1 << (code_bits - 1), first - (1 << code_bits), first)
        mag = np.abs(signed)
        po2 = (mag & (mag - 1)) == 0
        is_const = (codes == codes[:1, :]).all(axis=0)
        const_dsp = int((is_const & ~po2).sum())
        const -= const_dsp
    return WeightStats(table, var, const, zero, const_dsp)
