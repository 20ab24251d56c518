"""Adam for memory-efficient training: float16 state, float16 parameters, packed binary gradients.

Per parameter the state is two float16 tensors: the first moment m and r = sqrt(v), the
root of the second moment (v itself underflows float16 for gradients below ~2^-12; its
root does not).  The update is computed in float32 and written back to the float16
parameter (round to nearest).  A binary weight layer's gradient arrives as
``param.packed_grad`` (:class:`~nbq.nn.edge.packing.PackedTernary`), unpacked one tensor at
a time; other parameters (ℓ1-BN β, output bias) use ordinary ``.grad``.

The step m̂/(√v̂ + ε) is clamped to ±(1 − β1)/√(1 − β2), the bound Adam's update obeys in
exact arithmetic (Kingma & Ba, §2.1), so float16 underflow of r can never blow a step up.

:func:`make_optimizer` picks Adam or EdgeAdam for a model (used by nbq.nn.trainer and
nbq.nn.edge.memory).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import nn


class EdgeAdam(torch.optim.Optimizer):
    def __init__(self, params: Iterable[torch.Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})

    def zero_grad(self, set_to_none: bool = True) -> None:
        super().zero_grad(set_to_none)
        for group in self.param_groups:
            for p in group["params"]:
                if getattr(p, "packed_grad", None) is not None:
                    p.packed_grad = None

    @staticmethod
    def gradient(p: torch.Tensor) -> torch.Tensor | None:
        """The parameter's gradient as float32 (unpacked if binary), or None."""
        packed = getattr(p, "packed_grad", None)
        if packed is not None:
            return packed.dense(torch.float32)
        return None if p.grad is None else p.grad.float()

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            b1, b2 = group["betas"]
            bound = max((1 - b1) / math.sqrt(1 - b2), 1.0)
            for p in group["params"]:
                g = self.gradient(p)
                if g is None:
                    continue
                if group["weight_decay"]:  # L2 added to the gradient, as torch.optim.Adam does
                    g = g.add(p.float(), alpha=group["weight_decay"])
                state = self.state[p]
                if not state:
                    state["step"] = 0  # a Python int: no tensor
                    state["m"] = torch.zeros_like(p, dtype=torch.float16)
                    state["r"] = torch.zeros_like(p, dtype=torch.float16)
                state["step"] += 1
                t = state["step"]
                m = state["m"].float().mul_(b1).add_(g, alpha=1 - b1)
                v = state["r"].float().square_().mul_(b2).addcmul_(g, g, value=1 - b2)
                state["m"].copy_(m)
                state["r"].copy_(v.sqrt())
                ratio = (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt_() + group["eps"])
                new = p.float()
                new.sub_(ratio.clamp_(-bound, bound), alpha=group["lr"])
                p.copy_(new)
        return loss


def make_optimizer(model: nn.Module, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam, or EdgeAdam (float16 state, packed binary gradients) for a memory-efficient model."""
    if getattr(model, "memory_efficient", False):
        return EdgeAdam(model.parameters(), lr=lr, weight_decay=weight_decay)
    return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
