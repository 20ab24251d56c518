"""Quantizers used in training: power-of-two weights, k-bit activations, signs.

All codebooks come from ``nbq.formats`` (the numeric contract); this module only
adds what training needs on top: threshold rules, gradients and the α schedule.

Weight quantization (n-BQ-NN).  Q(W) maps every weight to the n-bit staircase
codebook {0, ±1, ±1/2, …, ±2^-(r-1)}.  A weight is rounded to the nearest level
of the codebook scaled by c (thresholds are the midpoints between adjacent
levels, times c; magnitudes above c saturate at ±1).  Two rules pick c:

* ``"lsq"`` (default, the distribution-preserving rule): c minimises
  ||W - c·Q(W)||², searched on a geometric grid of 32 fractions of max|W|
  (on a strided sample of at most 4096 weights of large tensors).  The
  scaled quantized tensor is then the codebook tensor closest to W, so its mean
  and variance stay close to the full-precision ones (reported by
  :func:`distribution_gap`).
* ``"authors"`` (n = 3 only): the fixed fractions of max|W| from the authors'
  code: ±1 if |W| ≥ 0.14·max, ±1/2 if ≥ 0.07·max, ±1/4 if ≥ 0.02·max, else 0.

The forward pass uses the reconstructed weight W̃ = (1-α)·Q(W) + α·W with Q(W)
held constant, so ∂W̃/∂W = α exactly (a true gradient, not a straight-through
guess).  BatchNorm follows every quantized layer, so the scale c is dropped:
the deployed weights are exactly Q(W), levels of magnitude ≤ 1.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from nbq.formats import Po2Codebook

AUTHORS_N3_FRACTIONS = (0.14, 0.07, 0.02)  # thresholds for ±1, ±1/2, ±1/4 (fractions of max|W|)
THRESHOLD_RULES = ("lsq", "authors")
_LSQ_GRID = 2.0 ** (-np.arange(32) / 4.0)  # candidate c / max|W|: 1 … 2^-7.75
_LSQ_SAMPLES = 4096


def _staircase(mag: torch.Tensor, n: int, c: torch.Tensor) -> torch.Tensor:
    """|W| -> codebook magnitude, rounding |W|/c to the nearest level (midpoint thresholds).

    Between 2^-j and 2^-(j+1) the midpoint is 0.75·2^-j, so the level is 2^-j with
    j = ceil(log2(0.75·c/|W|)); below the smallest level the midpoint to zero is
    half of it.  ``c`` broadcasts against ``mag`` (a scalar, or a column of candidates).
    """
    r = 2 ** (n - 1) - 1
    x = mag / c
    j = torch.ceil(torch.log2(0.75 / x.clamp_min(1e-300))).clamp_min(0)
    smallest = 2.0 ** -(r - 1)
    tail = torch.where(x >= 0.5 * smallest, smallest, 0.0)
    return torch.where(j <= r - 2, torch.pow(2.0, -j), tail).to(x.dtype)


def _lsq_scale(w: torch.Tensor, n: int) -> torch.Tensor:
    mag = w.detach().abs().flatten().double()
    top = mag.max()
    mag = mag[:: -(-mag.numel() // _LSQ_SAMPLES)]  # a strided sample is plenty to fit one scalar
    if top == 0:
        return torch.ones((), dtype=torch.float64)
    cands = top * torch.tensor(_LSQ_GRID, dtype=torch.float64)[:, None]
    errs = ((mag[None] - cands * _staircase(mag[None], n, cands)) ** 2).sum(1)
    return cands[int(torch.argmin(errs)), 0]


@torch.no_grad()
def quantize_po2(w: torch.Tensor, n: int, rule: str = "lsq") -> torch.Tensor:
    """Q(W): every value in the n-bit power-of-two codebook (no gradient)."""
    Po2Codebook(n)  # validates n
    if n == 1:
        return torch.where(w >= 0, 1.0, -1.0).to(w)
    if rule == "authors":
        if n != 3:
            raise ValueError("the authors' fixed threshold fractions exist for n = 3 only")
        top = w.abs().max()
        mag = w.abs()
        out = torch.zeros_like(w)
        for frac, level in zip(AUTHORS_N3_FRACTIONS[::-1], (0.25, 0.5, 1.0), strict=True):
            out = torch.where(mag >= frac * top, level, out)
        return out * torch.sign(w) + 0.0  # + 0.0 turns -0.0 into 0.0
    if rule != "lsq":
        raise ValueError(f"unknown threshold rule {rule!r}; use one of {THRESHOLD_RULES}")
    c = _lsq_scale(w, n)
    return (_staircase(w.abs().double(), n, c) * torch.sign(w).double()).to(w) + 0.0  # no -0.0


def reconstructed_weight(w: torch.Tensor, n: int, alpha: float, rule: str = "lsq") -> torch.Tensor:
    """W̃ = (1-α)·Q(W) + α·W, so ∂W̃/∂W = α."""
    q = quantize_po2(w, n, rule)
    if alpha == 0.0:
        return q + 0.0 * w  # keeps W in the graph (zero gradient) so optimizers see it
    return (1.0 - alpha) * q + alpha * w


def distribution_gap(w: torch.Tensor, n: int, rule: str = "lsq") -> dict[str, float]:
    """Mean and std of W and of the best-scaled c·Q(W): the quantities the threshold rule preserves."""
    q = quantize_po2(w, n, rule).double().flatten()
    wd = w.detach().double().flatten()
    c = float((q * wd).sum() / (q * q).sum().clamp_min(1e-30))  # least-squares scale of Q onto W
    return {"w_mean": float(wd.mean()), "w_std": float(wd.std()),
            "q_mean": c * float(q.mean()), "q_std": abs(c) * float(q.std())}


# ---------------------------------------------------------------- α schedule


class AlphaSchedule:
    """α for the reconstructed gradient: start → geometric decay → exactly 0.

    α decays geometrically from ``start`` to ``start·floor`` (default 0.5 → 0.005;
    a 1e-3 floor scored 0.4-0.9 points lower on digits) over the first
    (1 - tail) of the steps, then is exactly 0 for the remaining ``tail``
    fraction, so training ends on W̃ = Q(W) and BatchNorm statistics settle
    on the deployed weights.
    """

    def __init__(self, total_steps: int, start: float = 0.5, floor: float = 1e-2, tail: float = 0.15):
        if not 0.0 <= start < 1.0:
            raise ValueError("alpha must start in [0, 1)")
        self.total = max(int(total_steps), 1)
        self.start, self.floor, self.tail = start, floor, tail
        self.decay_steps = max(int(math.floor(self.total * (1.0 - tail))), 1)

    def __call__(self, step: int) -> float:
        if step >= self.decay_steps or self.start == 0.0:
            return 0.0
        return self.start * self.floor ** (step / max(self.decay_steps - 1, 1))


def set_alpha(model: torch.nn.Module, alpha: float) -> None:
    """Set α on every power-of-two layer of a model."""
    for m in model.modules():
        if hasattr(m, "alpha") and hasattr(m, "weight_bits"):
            m.alpha = float(alpha)


# ------------------------------------------------------------- activations


class _RoundClampSTE(torch.autograd.Function):
    """Staircase: clamp(round_half_even(x/s), qmin, qmax)·s; gradient passes inside [qmin·s, qmax·s]."""

    @staticmethod
    def forward(ctx, x, scale: float, qmin: int, qmax: int):
        ctx.save_for_backward(x)
        ctx.bounds = (qmin * scale, qmax * scale)
        # clip first, then round: the ONNX order Clip → QuantizeLinear (same result)
        return torch.round(torch.clamp(x, qmin * scale, qmax * scale) / scale) * scale

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        return grad * ((x >= lo) & (x <= hi)).to(grad), None, None, None


def quantize_activation(x: torch.Tensor, scale: float, qmin: int, qmax: int) -> torch.Tensor:
    """k-bit fixed point with a power-of-two scale; torch.round is round-half-to-even like ONNX."""
    return _RoundClampSTE.apply(x, scale, qmin, qmax)


class _SignSTE(torch.autograd.Function):
    """+1 where x ≥ 0, -1 elsewhere; straight-through gradient where |x| ≤ 1 (Courbariaux & Bengio)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0).to(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad)


def sign_ste(x: torch.Tensor) -> torch.Tensor:
    return _SignSTE.apply(x)
