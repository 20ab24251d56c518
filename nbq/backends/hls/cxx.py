"""C++ spelling of types and constant arrays, formatted with numpy (weights can be millions of values)."""

from __future__ import annotations

import numpy as np

from nbq.errors import UnsupportedModelError
from nbq.formats import bits_for_range

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def ap_type(lo: int, hi: int) -> str:
    """The narrowest ap_[u]int holding every integer in [lo, hi]."""
    bits, signed = bits_for_range(lo, hi)
    return f"ap_int<{bits}>" if signed else f"ap_uint<{bits}>"


def table_type(lo: int, hi: int) -> str:
    """The narrowest standard integer type holding [lo, hi], for constant tables.

    Tables of ap_int would be initialised by a constructor call per element (a static
    initialiser g++ needs minutes for at 10^4 entries); plain integer tables are constant data,
    and the engines convert each entry to its exact ap_int type where they read it.
    """
    lo, hi = int(lo), int(hi)
    for bits in (8, 16, 32, 64):
        if lo >= 0 and hi < 2**bits:
            return f"uint{bits}_t"
        if -(2 ** (bits - 1)) <= lo and hi < 2 ** (bits - 1):
            return f"int{bits}_t"
    raise UnsupportedModelError(f"integer range [{lo}, {hi}] does not fit in 64 bits")


def int_literal(value: int) -> str:
    """A decimal literal of a 64-bit signed value (g++ picks long long when int is too small)."""
    value = int(value)
    if not _INT64_MIN < value <= _INT64_MAX:
        raise UnsupportedModelError(f"integer constant {value} does not fit in 64 bits")
    return f"{value}LL" if not -(2**31) <= value < 2**31 else str(value)


def int_list(values: np.ndarray, per_line: int = 16, indent: str = "    ") -> str:
    """Comma-separated decimal literals, per_line to a line (for biases and small tables)."""
    flat = [str(v) for v in _int64(values).ravel().tolist()]
    lines = [", ".join(flat[i : i + per_line]) for i in range(0, len(flat), per_line)]
    return ",\n".join(indent + line for line in lines)


def int_table(rows: np.ndarray, indent: str = "    ") -> str:
    """A 2-D initializer, one brace group per row."""
    lines = (", ".join(map(str, row)) for row in _int64(rows).tolist())
    return ",\n".join(f"{indent}{{{line}}}" for line in lines)


def _int64(values: np.ndarray) -> np.ndarray:
    """Values as int64; plain decimal literals of these are valid C++ (long when int is too small)."""
    arr = np.asarray(values)
    if arr.size and arr.dtype == object:
        if min(arr.ravel()) <= _INT64_MIN or max(arr.ravel()) > _INT64_MAX:
            raise UnsupportedModelError("an integer constant does not fit in 64 bits")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() == _INT64_MIN:  # -2^63 has no decimal literal
        raise UnsupportedModelError("an integer constant does not fit in 64 bits")
    return arr


def hex_words(words: np.ndarray, per_line: int = 8) -> str:
    """uint64 words as `0x...ULL,` literals, per_line to a line, built as one byte matrix.

    An 11 M-weight model is about a million words, so no per-word Python work.
    The trailing comma after the last word is legal in a C++ initializer.
    """
    words = np.asarray(words, dtype=np.uint64).ravel()
    if words.size == 0:
        return ""
    n = words.size
    token = np.empty((n, 23), dtype=np.uint8)  # 0x + 16 digits + ULL, + separator
    token[:, 0:2] = np.frombuffer(b"0x", dtype=np.uint8)
    digits = words.astype(">u8").tobytes().hex().encode("ascii")
    token[:, 2:18] = np.frombuffer(digits, dtype=np.uint8).reshape(n, 16)
    token[:, 18:22] = np.frombuffer(b"ULL,", dtype=np.uint8)
    token[:, 22] = ord(" ")
    token[per_line - 1 :: per_line, 22] = ord("\n")
    token[-1, 22] = ord("\n")
    return token.tobytes().decode("ascii")[:-1]  # the template ends the line
