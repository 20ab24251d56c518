"""Memory accounting of one training step: what is held for backward, plus weights, gradients, optimizer state.

* ``saved``: every tensor autograd keeps for the backward pass, seen through
  ``torch.autograd.graph.saved_tensors_hooks`` during the forward pass, counted as the
  bytes of its storage (a view holds its whole storage), each storage once.  Storages of
  parameters and buffers are left out here (they are counted under ``weights``).
* ``weights``: parameters and buffers (BN running statistics).
* ``gradients``: ``.grad`` storages after backward plus packed binary gradients.
* ``optimizer``: tensors in the optimizer's state after the step.

Transient buffers (the gradient flowing backward, temporaries inside one layer) are not
counted in either training mode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import TypeVar

import torch
from torch import nn

from nbq.nn.edge.convert import make_memory_efficient
from nbq.nn.edge.optim import make_optimizer
from nbq.nn.loss import training_loss
from nbq.nn.models import QuantConfig, build_model

T = TypeVar("T")

@dataclass
class StepMemory:
    saved: int
    weights: int
    gradients: int
    optimizer: int

    @property
    def total(self) -> int:
        return self.saved + self.weights + self.gradients + self.optimizer

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "total": self.total}


def _key(t: torch.Tensor) -> tuple[int, int]:
    s = t.untyped_storage()
    return s.data_ptr(), s.nbytes()


def _bytes(tensors: Iterable[torch.Tensor]) -> int:
    return sum(n for _, n in {_key(t) for t in tensors})


def saved_tensor_bytes(fn: Callable[[], T], exclude: set[tuple[int, int]] = frozenset()) -> tuple[T, int]:
    """Run ``fn()`` recording what autograd saves; returns (fn's result, unique saved bytes not in ``exclude``)."""
    seen: dict[tuple[int, int], int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        key = _key(t)
        if key not in exclude:
            seen[key] = key[1]
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, sum(seen.values())


def measure_training_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                          y: torch.Tensor) -> StepMemory:
    """Run one training step (forward, backward, optimizer step) on (x, y) and account its memory."""
    model.train()
    optimizer.zero_grad()
    held = [*model.parameters(), *model.buffers()]
    loss, saved = saved_tensor_bytes(lambda: training_loss(model, x, y), {_key(t) for t in held})
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    packed = sum(p.packed_grad.nbytes for p in model.parameters() if getattr(p, "packed_grad", None) is not None)
    gradients = _bytes(grads) + packed
    optimizer.step()
    state = [v for s in optimizer.state.values() for v in s.values() if isinstance(v, torch.Tensor)]
    return StepMemory(saved, _bytes(held), gradients, _bytes(state))


def compare_step_memory(name: str, in_shape: tuple[int, ...], width: float = 1.0, batch: int = 100,
                        seed: int = 0, input_bits: int = 8, classes: int = 10) -> dict[str, StepMemory]:
    """One training step of the binary builder ``name``, standard and memory-efficient, on the same random batch.

    Inputs are uniform random pixels in [0, 1) quantized to ``input_bits`` (as MNIST/CIFAR-10
    loaders give), labels uniform random: memory depends on shapes, not on data.
    Standard: the model as built, float32, torch.optim.Adam; memory-efficient: converted with
    :func:`~nbq.nn.edge.make_memory_efficient`, EdgeAdam.
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand((batch, *in_shape), generator=gen)
    y = torch.randint(0, classes, (batch,), generator=gen)
    out = {}
    for mode in ("standard", "memory-efficient"):
        model = build_model(name, QuantConfig.binary(input_bits), in_shape, classes, width, seed=seed)
        if mode == "memory-efficient":
            make_memory_efficient(model)
        out[mode] = measure_training_step(model, make_optimizer(model, 1e-3), x, y)
    return out
