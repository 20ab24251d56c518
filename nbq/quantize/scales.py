"""Numbers: power-of-two activation scales from calibration, and weights rounded to the weight format.

Weights are rounded to the *nearest value* of the format (ties to the smaller magnitude). For a fixed scale
this minimises every element's error, so it is never worse than rounding in the log domain (which puts
the boundary between 2^k and 2^(k+1) at their geometric mean 1.41·2^k instead of 1.5·2^k, and so rounds
values in between to the farther level). The tensor's power-of-two exponent is the one, among a few
around log2(max|w|), with the smallest squared error.

Where a quantizer follows the layer, each output channel also gets a float factor c > 0 (least squares,
alternating with the rounding), written as a BatchNormalization after the layer: nbq folds it into the
quantizer's integer thresholds, so it costs no multiplier, and the weights themselves keep one
power-of-two scale per tensor (the import contract).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nbq.formats import Po2Codebook
from nbq.quantize.calibrate import TensorStats
from nbq.quantize.graph import Point
from nbq.quantize.moments import Moments
from nbq.quantize.options import WeightSpec
from nbq.quantize.rounding import mean_correction, refine

MIN_EXP, MAX_EXP = -60, 60  # activation scales stay well inside the importer's 2^-100..2^100
REFINE_STEPS = 4


@dataclass(frozen=True)
class ActScale:
    """One quantizer: real = q * scale, q in [qmin, qmax]."""

    scale: float
    qmin: int
    qmax: int
    unsigned: bool


def act_range(bits: int, unsigned: bool) -> tuple[int, int]:
    return (0, 2**bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def po2_covering(value: float, qmax: int) -> float:
    """The smallest power-of-two scale s with qmax * s >= value."""
    if not value > 0:  # zero on every calibration image (a dead Relu): any scale holds it
        return 1.0
    exp = math.ceil(math.log2(value / qmax))
    while qmax * 2.0**exp < value:  # float rounding of the log next to an exact power, both ways
        exp += 1
    while qmax * 2.0 ** (exp - 1) >= value:
        exp -= 1
    return 2.0 ** min(max(exp, MIN_EXP), MAX_EXP)


def choose_scales(points: list[Point], stats: dict[str, TensorStats], bits_of: dict[str, int],
                  percentile: float) -> dict[str, ActScale]:
    """Per point: the smallest po2 scale whose range covers `percentile` % of |values|, shared within a group."""
    groups: dict[int, list[Point]] = {}
    for p in points:
        groups.setdefault(p.group, []).append(p)
    out: dict[str, ActScale] = {}
    for members in groups.values():
        unsigned = all(_unsigned(p, stats[p.tensor]) for p in members)
        scale = max(po2_covering(stats[p.tensor].abs_percentile(percentile),
                                 act_range(bits_of[p.tensor], unsigned)[1]) for p in members)
        for p in members:
            lo, hi = act_range(bits_of[p.tensor], unsigned)
            out[p.tensor] = ActScale(scale, lo, hi, unsigned)
    return out


def _unsigned(p: Point, s: TensorStats) -> bool:
    return s.minimum >= 0 if p.unsigned is None else p.unsigned


# ----------------------------------------------------------------- weights


@dataclass(frozen=True)
class QuantWeights:
    """w ≈ factor[c] * ints * step (factor broadcast along the output-channel axis; all ones per tensor)."""

    ints: np.ndarray  # int64, the integer codes' values (po2: ±2^k or 0)
    step: float  # power of two
    factor: np.ndarray  # per output channel, float64 > 0
    bias_shift: np.ndarray  # per output channel: the mean output error of the rounding, to add to the bias

    def dequantized(self, out_axis: int) -> np.ndarray:
        shape = [1] * self.ints.ndim
        shape[out_axis] = -1
        return self.ints * self.step * self.factor.reshape(shape)



def _levels(spec: WeightSpec) -> tuple[np.ndarray, float]:
    """Non-negative magnitudes as integers (ascending) and the unit that makes the largest one 1.0."""
    if spec.kind == "int":
        top = 2 ** (spec.bits - 1) - 1
        return np.arange(top + 1, dtype=np.int64), 1.0 / top
    book = Po2Codebook(spec.bits)
    if spec.bits == 1:
        return np.array([1], np.int64), 1.0
    mags = np.abs(book.int_values(book.encode(book.levels())))
    return np.unique(mags), 2.0**book.int_scale_exp


def _round(x: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Nearest level in value to |x| (ties to the smaller), with x's sign; binary (one level) keeps the sign."""
    a = np.abs(x)
    i = np.clip(np.searchsorted(levels, a), 1, len(levels) - 1) if len(levels) > 1 else np.zeros(a.shape, int)
    if len(levels) > 1:
        lo, hi = levels[i - 1], levels[i]
        mag = np.where(a - lo <= hi - a, lo, hi)
    else:
        mag = np.full(a.shape, levels[0])
    return np.where(x < 0, -mag, mag).astype(np.int64)


def _signed(levels: np.ndarray) -> np.ndarray:
    return np.unique(np.concatenate([-levels, levels])).astype(np.float64)


def quantize_weights(w: np.ndarray, spec: WeightSpec, out_axis: int, per_channel: bool,
                     moments: Moments | None = None) -> QuantWeights:
    """Round w (float) to the format; with `moments` of the layer's input, data-aware (nbq.quantize.rounding)."""
    w = np.asarray(w, np.float64)
    levels, unit = _levels(spec)
    channel_first = np.moveaxis(w, out_axis, 0)
    moved = channel_first.reshape(w.shape[out_axis], -1)
    if per_channel:
        ints, scale, step = _nearest_per_channel(moved, levels, unit)
    else:
        ints, step = _nearest_per_tensor(moved, levels)
        scale = np.full(moved.shape[0], step)
    shift = np.zeros(moved.shape[0])
    if moments is not None:
        ints, scale, shift = _data_aware(moved, ints, scale, levels, moments, per_channel)
    shaped = np.moveaxis(ints.reshape(channel_first.shape), 0, out_axis)
    if per_channel:  # the integers at step 1: the factor carries the rest
        return QuantWeights(shaped, 1.0, scale, shift)
    return QuantWeights(shaped, step, np.ones(moved.shape[0]), shift)


def _data_aware(moved, ints, scale, levels, moments: Moments, fit_factor: bool):
    groups = moments.sum_x.shape[0]
    per_group = moved.shape[0] // groups
    second, mean = moments.second(), moments.mean()
    ints, scale = ints.copy(), scale.copy()
    shift = np.zeros(moved.shape[0])
    for g in range(groups):
        rows = slice(g * per_group, (g + 1) * per_group)
        if second is not None:
            ints[rows], scale[rows] = refine(moved[rows], ints[rows], scale[rows], _signed(levels), second[g],
                                             fit_factor)
        shift[rows] = mean_correction(moved[rows], ints[rows], scale[rows], mean[g])
    return ints, scale, shift


def _nearest_per_channel(moved: np.ndarray, levels: np.ndarray, unit: float):
    """Codes and per-channel factors (w ≈ factor · ints) by alternating rounding and least squares."""
    peak = np.abs(moved).max(axis=1)
    factor = np.where(peak > 0, peak, 1.0) * unit
    for _ in range(REFINE_STEPS):
        ints = _round(moved / factor[:, None], levels.astype(np.float64))
        num, den = (moved * ints).sum(axis=1), (ints * ints).sum(axis=1).astype(np.float64)
        factor = np.where((den > 0) & (num > 0), num / np.where(den > 0, den, 1.0), factor)
    return _round(moved / factor[:, None], levels.astype(np.float64)), factor, 1.0


def _nearest_per_tensor(w: np.ndarray, levels: np.ndarray):
    """Codes and the power-of-two step (w ≈ step · ints) with the smallest squared error."""
    peak = float(np.abs(w).max())
    top = math.floor(math.log2(peak / levels[-1])) if peak > 0 else 0
    best = None
    for exp in range(top - 2, top + 3):  # candidates around the step that fits the peak
        step = 2.0**exp
        ints = _round(w / step, levels.astype(np.float64))
        err = float(((ints * step - w) ** 2).sum())
        if best is None or err < best[0]:
            best = (err, ints, step)
    return best[1], best[2]
