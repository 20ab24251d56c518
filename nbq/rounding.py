"""Rounding modes of QONNX quantizers (qonnx.custom_op.general.intquant.resolve_rounding_mode).

Every mode is monotone and maps integers to themselves, so a quantizer that uses it still folds into
integer thresholds (nbq.passes.thresholds bisects the float definition, whatever the rounding).
"""

from __future__ import annotations

import numpy as np


def _half_up(x: np.ndarray) -> np.ndarray:  # ties away from zero
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _half_down(x: np.ndarray) -> np.ndarray:  # ties towards zero
    return np.sign(x) * np.ceil(np.abs(x) - 0.5)


def _up(x: np.ndarray) -> np.ndarray:  # away from zero
    return np.sign(x) * np.ceil(np.abs(x))


ROUNDING = {
    "ROUND": np.rint,  # half to even, as QuantizeLinear
    "HALF_EVEN": np.rint,
    "CEIL": np.ceil,
    "FLOOR": np.floor,
    "UP": _up,
    "DOWN": np.trunc,  # towards zero
    "ROUND_TO_ZERO": np.trunc,  # Brevitas' name for DOWN
    "HALF_UP": _half_up,
    "HALF_DOWN": _half_down,
}


def round_with(x: np.ndarray, mode: str) -> np.ndarray:
    """x rounded by a QONNX rounding mode (a key of ROUNDING)."""
    return ROUNDING[mode](np.asarray(x, dtype=np.float64))
