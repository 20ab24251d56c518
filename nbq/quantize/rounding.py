"""Data-aware rounding: choose each weight's code to minimise the layer's output error on the calibration
data, E[((w - c·q)·x)²] = (w - c·q)ᵀ H (w - c·q) with H = E[x xᵀ], instead of the weight error alone.

Start from the nearest codes, then sweep the weights, moving one code to a neighbouring level whenever that
lowers the output error, and refit the channel factor c in the same metric. The mean output error left,
(w - c·q)·E[x], is returned as a bias correction.
"""

from __future__ import annotations

import numpy as np

SWEEPS = 3
ROUNDS = 2


def refine(w: np.ndarray, ints: np.ndarray, factor: np.ndarray, levels: np.ndarray, h: np.ndarray,
           fit_factor: bool) -> tuple[np.ndarray, np.ndarray]:
    """w, ints: (C, K) weights and their integer codes (values of `levels`, sorted, signed); factor: (C,) so that
    w ≈ factor · ints; h: (K, K). Returns better (ints, factor)."""
    idx = np.searchsorted(levels, ints)
    factor = factor.copy()
    diag = np.diag(h)
    for _ in range(ROUNDS):
        q = levels[idx]
        err = w - factor[:, None] * q
        grad = err @ h  # (C, K): H e per channel
        for _sweep in range(SWEEPS):
            changed = False
            for j in range(w.shape[1]):
                best_gain, best_idx = np.zeros(w.shape[0]), idx[:, j].copy()
                for step in (-1, 1):
                    cand = np.clip(idx[:, j] + step, 0, len(levels) - 1)
                    delta = factor * (levels[cand] - levels[idx[:, j]])  # the change of c·q_j
                    gain = 2 * delta * grad[:, j] - delta * delta * diag[j]  # decrease of eᵀHe
                    better = gain > best_gain + 1e-15 * (1 + np.abs(best_gain))
                    best_gain, best_idx = np.where(better, gain, best_gain), np.where(better, cand, best_idx)
                moved = best_idx != idx[:, j]
                if moved.any():
                    delta = factor * (levels[best_idx] - levels[idx[:, j]])
                    grad -= (delta * moved)[:, None] * h[j][None, :]
                    idx[:, j] = best_idx
                    changed = True
            if not changed:
                break
        if fit_factor:
            q = levels[idx]
            num = np.einsum("ck,kl,cl->c", w, h, q)
            den = np.einsum("ck,kl,cl->c", q, h, q)
            factor = np.where((den > 0) & (num > 0), num / np.where(den > 0, den, 1.0), factor)
    return levels[idx].astype(np.int64), factor


def mean_correction(w: np.ndarray, ints: np.ndarray, factor: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """(C,) the mean output the rounding lost: add it to the bias."""
    return (w - factor[:, None] * ints) @ mean
