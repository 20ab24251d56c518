"""Checks of the values the importer reads (attributes, initializers), each a one-line error via `fail`.

The importer calls these where it reads a value, so every int(), reshape, division and shift below them
sees a checked input: the right type, rank, length, range, and finite.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Fail = Callable[[str], Exception]

MAX_DIM = 1 << 16  # per spatial / channel dimension: line buffers and loop counters are sized for this
MAX_ELEMENTS = 1 << 31  # per tensor (one image)
MAX_WINDOW = 1 << 10  # kernel, stride or dilation
# a bias or clip bound may move the accumulator by at most this many steps: beyond it float64 loses the
# integer step and the value means "saturate", which a trained network never needs
MAX_STEPS = 2.0**52
# quantization scales: far beyond any trained network, and safe to divide and multiply in float64
MIN_SCALE, MAX_SCALE = 2.0**-100, 2.0**100


def finite(fail: Fail, value: np.ndarray, what: str) -> np.ndarray:
    """value unchanged, or an error naming the first NaN/inf."""
    value = np.asarray(value)
    if value.dtype.kind in "fc" and not np.all(np.isfinite(value)):
        flat = value.reshape(-1)
        i = int(np.flatnonzero(~np.isfinite(flat))[0])
        where = f" at index {i}" if flat.size > 1 else ""
        raise fail(f"{what} is {flat[i]}{where}; every value must be a finite number")
    return value


def non_empty(fail: Fail, value: np.ndarray, what: str) -> np.ndarray:
    value = np.asarray(value)
    if value.size == 0:
        raise fail(f"{what} is empty (shape {value.shape}); give the trained values")
    return value


def scalar(fail: Fail, value: np.ndarray, what: str) -> np.ndarray:
    """A single value (shape () or (1,)), as a 0-d array."""
    value = np.asarray(value)
    if value.size != 1:
        raise fail(f"{what} must be a scalar, got shape {value.shape}; use one value per tensor")
    return finite(fail, value.reshape(()), what)


def vector(fail: Fail, value: np.ndarray, what: str, length: int) -> np.ndarray:
    """A finite (length,) float64 vector."""
    value = np.asarray(value)
    if value.ndim != 1 or value.size != length:
        raise fail(f"{what} has shape {value.shape}, expected ({length},) for {length} channels")
    return finite(fail, value, what).astype(np.float64)


def scale(fail: Fail, value: np.ndarray, what: str) -> np.ndarray:
    """Quantization scales: finite and positive (division by them follows)."""
    value = finite(fail, non_empty(fail, value, what), what)
    if np.any(value <= 0):
        bad = value.reshape(-1)[int(np.flatnonzero(value.reshape(-1) <= 0)[0])]
        raise fail(f"{what} is {bad:g}; a scale must be positive")
    return value


def int_list(fail: Fail, attrs: dict, name: str, default: tuple[int, ...], length: int, lo: int,
             hi: int) -> tuple[int, ...]:
    """An INTS attribute of `length` entries, each in [lo, hi]."""
    raw = attrs.get(name, default)
    if not isinstance(raw, list | tuple) or not all(isinstance(v, int | np.integer) for v in raw):
        raise fail(f"attribute '{name}' must be a list of integers, got {raw!r}")
    values = tuple(int(v) for v in raw)
    if len(values) != length:
        raise fail(f"attribute '{name}' must have {length} entries for a 2-D window, got {list(values)}")
    for v in values:
        if not lo <= v <= hi:
            raise fail(f"attribute '{name}' = {list(values)}: {v} is outside {lo}..{hi}; give values in that range")
    return values


def int_attr(fail: Fail, attrs: dict, name: str, default: int, lo: int, hi: int) -> int:
    raw = attrs.get(name, default)
    if not isinstance(raw, int | np.integer) or not lo <= int(raw) <= hi:
        raise fail(f"attribute '{name}' = {raw!r} must be an integer in {lo}..{hi}; fix the attribute")
    return int(raw)


def float_attr(fail: Fail, attrs: dict, name: str, default: float) -> float:
    raw = attrs.get(name, default)
    if not isinstance(raw, float | int) or not np.isfinite(raw):
        raise fail(f"attribute '{name}' = {raw!r} must be a finite number")
    return float(raw)


def bounded_steps(fail: Fail, value: np.ndarray, step: float, what: str) -> np.ndarray:
    """Finite values whose size in accumulator steps float64 still resolves (|value / step| <= 2^52)."""
    value = finite(fail, value, what).astype(np.float64)
    limit = MAX_STEPS * step
    if np.any(np.abs(value) > limit):
        bad = value.reshape(-1)[int(np.flatnonzero(np.abs(value.reshape(-1)) > limit)[0])]
        raise fail(f"{what} holds {bad:g}, more than 2^52 steps ({limit:g}) of the accumulator; "
                   "it cannot come from training — check the exported values")
    return value
