"""Number formats of the backward pass: float16 gradients, optionally power-of-two.

``GradFormat()(g)`` rounds a gradient to float16 (round to nearest even, saturating at
±65504 rather than overflowing to infinity).  With
``po2=True`` every non-zero value becomes sign·2^(e + shift): e = round(log2|g|) - shift
(nearest power of two in the log domain, i.e. the boundary between 2^k and 2^(k+1) is
2^(k+0.5)), clipped to [emin, emax] = [-8, 7]; one shift per tensor, chosen so that the
largest magnitude lands on emax.  Values far below the largest are therefore raised to
2^(emin + shift) (clipped, not flushed); exact zeros (masked by the straight-through
estimator) stay zero.  On a device that is a sign bit, a 4-bit exponent and a zero flag
per value plus one shift per tensor; here such a gradient is held as float32 (exact powers of
two), since float16 would flush the smallest codes (below 2^-24) to zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

HALF_MAX = float(torch.finfo(torch.float16).max)


@dataclass(frozen=True)
class GradFormat:
    po2: bool = False
    emin: int = -8
    emax: int = 7

    def __call__(self, g: torch.Tensor) -> torch.Tensor:
        """The gradient in this format: float16, or (po2) exact powers of two in float32."""
        return po2_gradient(g, self.emin, self.emax) if self.po2 else to_half(g)


def to_half(t: torch.Tensor) -> torch.Tensor:
    """Round to float16, saturating at ±65504 (the largest finite float16) instead of overflowing to ±inf."""
    return t.clamp(-HALF_MAX, HALF_MAX).half()


def po2_gradient(g: torch.Tensor, emin: int = -8, emax: int = 7) -> torch.Tensor:
    """sign(g)·2^(clip(round(log2|g|) - shift, emin, emax) + shift), shift per tensor; zeros stay zero."""
    g = g.float()
    mag = g.abs()
    top = mag.max()
    if top == 0 or not torch.isfinite(top):
        return g.clone()
    shift = int(torch.round(torch.log2(top))) - emax
    e = torch.round(torch.log2(mag.clamp_min(torch.finfo(torch.float32).tiny))) - shift
    e = e.clamp(emin, emax) + shift
    return torch.where(mag > 0, torch.sign(g) * torch.pow(2.0, e), torch.zeros_like(g))
