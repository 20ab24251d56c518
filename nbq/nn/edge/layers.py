"""Layers of memory-efficient binary training; each one is a drop-in for an nbq.nn layer.

In training mode they run the functions of :mod:`nbq.nn.edge.functions` (packed-bit
saved tensors, float16 gradients, packed binary weight gradients); in evaluation mode
they compute exactly what the layer they replace computes, so export and compilation
are unchanged.  Latent weights and biases are float16 parameters.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nbq.nn.edge.functions import BinaryMaxPoolFn, BinaryWeightFn, L1NormFn, SignMaskFn, binarize
from nbq.nn.edge.gradfmt import GradFormat
from nbq.nn.layers import QConv2d, QLinear, SignAct, exact_affine

if TYPE_CHECKING:
    from nbq.nn.exporter import OnnxBuilder


class _EdgeWeight:
    """Shared by EdgeLinear / EdgeConv2d: float16 latent weights, float32 evaluation form."""

    weight: nn.Parameter
    bias: nn.Parameter | None
    in_scale: float | None

    def _init_edge(self, src: QLinear | QConv2d, binary_input: bool, grad_format: GradFormat | None) -> None:
        self.spec, self.alpha, self.in_scale = src.spec, src.alpha, src.in_scale
        self.weight = nn.Parameter(src.weight.detach().to(torch.float16))
        if src.bias is not None:
            self.bias = nn.Parameter(src.bias.detach().to(torch.float16))
        self.binary_input, self.grad_format = binary_input, grad_format or GradFormat()

    @property
    def fan_in(self) -> int:
        """N of the weight gradient N^(-1/2)·sign(·): inputs feeding one output."""
        return math.prod(self.weight.shape[1:])

    def _weight(self, train: bool) -> torch.Tensor:
        return binarize(self.weight.detach())

    def _bias(self, w: torch.Tensor, train: bool) -> torch.Tensor | None:
        if self.bias is None:
            return None
        b = self.bias.float()
        step = self.bias_step(w)
        return b if train or step is None else torch.round(b / step) * step

    def _edge_forward(self, x: torch.Tensor) -> torch.Tensor:
        return BinaryWeightFn.apply(x, self.weight, self.bias, self)


class EdgeLinear(_EdgeWeight, QLinear):
    """Binary fully connected layer of memory-efficient training (replaces a binary QLinear)."""

    def __init__(self, src: QLinear, binary_input: bool, grad_format: GradFormat | None = None):
        nn.Linear.__init__(self, src.in_features, src.out_features, bias=src.bias is not None, device="meta")
        self._init_edge(src, binary_input, grad_format)

    def affine(self, x: torch.Tensor, wb: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        return F.linear(x, wb, b)

    def affine_backward(self, g: torch.Tensor, x: torch.Tensor, wb: torch.Tensor,
                        need_x: bool) -> tuple[torch.Tensor | None, torch.Tensor]:
        """(∂X or None, op_w^T(X, ∂Y) = ∂Yᵀ·X) for 2-D inputs."""
        return (g @ wb if need_x else None), g.t() @ x

    def bias_grad(self, g: torch.Tensor) -> torch.Tensor:
        return g.sum(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._edge_forward(x) if self.training else QLinear.forward(self, x)


class EdgeConv2d(_EdgeWeight, QConv2d):
    """Binary 2-D convolution of memory-efficient training (replaces a binary QConv2d)."""

    def __init__(self, src: QConv2d, binary_input: bool, grad_format: GradFormat | None = None):
        nn.Conv2d.__init__(self, src.in_channels, src.out_channels, src.kernel_size, stride=src.stride,
                           padding=src.padding, dilation=src.dilation, groups=src.groups,
                           bias=src.bias is not None, device="meta")
        self._init_edge(src, binary_input, grad_format)

    def affine(self, x: torch.Tensor, wb: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        return F.conv2d(x, wb, b, self.stride, self.padding, self.dilation, self.groups)

    def affine_backward(self, g: torch.Tensor, x: torch.Tensor, wb: torch.Tensor,
                        need_x: bool) -> tuple[torch.Tensor | None, torch.Tensor]:
        """(∂X or None, the weight-shaped correlation of X with ∂Y)."""
        grad_x, sums, _ = torch.ops.aten.convolution_backward(
            g, x, wb, None, list(self.stride), list(self.padding), list(self.dilation), False, [0, 0],
            self.groups, [need_x, True, False])
        return grad_x, sums

    def bias_grad(self, g: torch.Tensor) -> torch.Tensor:
        return g.sum((0, 2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._edge_forward(x) if self.training else QConv2d.forward(self, x)


class L1BatchNorm(nn.Module):
    """ℓ1 batch norm without γ: y = (x − μ)/σ + β, σ = mean|x − μ| + ε per channel.

    Training uses batch statistics and :class:`~nbq.nn.edge.functions.L1NormFn` (saves
    sign(x̂) as bits and σ per channel); running μ and mean|x − μ| are tracked with
    ``momentum``.  The evaluation form is the affine a·x + b with a = 1/(running σ₁ + ε),
    b = β − a·running μ, put on the same exact grid as :class:`~nbq.nn.layers.QBatchNorm`
    and exported as BatchNormalization(scale=a, B=b, mean=0, var=1, epsilon=0), so nbq folds
    it into integer thresholds like any BatchNorm.  Works for (N, C) and (N, C, H, W).

    ε = 2^-8 bounds the backward's 1/σ for a constant (dead) channel by 256, close to
    BatchNorm's 1/√1e-5 ≈ 316; with ε = 1e-5 such channels amplify gradients 10^5-fold.
    Binary pre-activations are integers with σ ≈ 0.8·√fan-in, so ε barely moves x̂.
    """

    EXACT_BITS = 21

    def __init__(self, num_features: int, in_step: float | None = None, sign_output: bool = False,
                 eps: float = 2.0**-8, momentum: float = 0.1):
        super().__init__()
        self.num_features, self.in_step, self.sign_output = num_features, in_step, sign_output
        self.eps, self.momentum = eps, momentum
        self.bias = nn.Parameter(torch.zeros(num_features, dtype=torch.float16))  # β; there is no γ
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_l1", torch.ones(num_features))
        self._source: tuple[nn.Module, float] | None = None

    def attach(self, source: nn.Module, in_max_int: float) -> None:
        """Record the layer feeding this norm and its input's max |integer| (for the exact grid)."""
        self._source = (source, float(in_max_int))

    @torch.no_grad()
    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(a, b) float32 per channel: the exact affine of the evaluation form."""
        a = 1.0 / (self.running_l1.double() + self.eps)
        b = self.bias.double() - self.running_mean.double() * a
        return exact_affine(a, b, self.in_step, self._source, self.sign_output, self.EXACT_BITS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in (2, 4):
            raise ValueError(f"L1BatchNorm expects 2-D or 4-D input, got {x.dim()}-D")
        shape = (1, -1) + (1,) * (x.dim() - 2)
        if not self.training:
            a, b = self.folded()
            return x * a.view(shape) + b.view(shape)
        dims = (0,) + tuple(range(2, x.dim()))
        with torch.no_grad():
            mu = x.mean(dims)
            l1 = (x - mu.view(shape)).abs().mean(dims)
            self.running_mean.lerp_(mu, self.momentum)
            self.running_l1.lerp_(l1, self.momentum)
        return L1NormFn.apply(x, self.bias, mu, l1 + self.eps)

    def onnx_emit(self, b: OnnxBuilder, x: str) -> str:
        a, bb = self.folded()
        params = (a, bb, torch.zeros_like(a), torch.ones_like(a))
        names = [b.const(f"bn_{k}", p.numpy().astype(np.float32)) for k, p in zip(("scale", "B", "mean", "var"),
                                                                                   params, strict=True)]
        return b.node("BatchNormalization", [x, *names], "bn", epsilon=0.0)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, l1, no gamma"


class EdgeSign(SignAct):
    """Sign activation whose straight-through mask 1[|x| ≤ 1] is saved as bits."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return SignMaskFn.apply(x) if self.training else super().forward(x)


class EdgeMaxPool2d(nn.MaxPool2d):
    """Max pooling of ±1 activations that saves their signs (1 bit each) instead of int64 indices."""

    def __init__(self, src: nn.MaxPool2d):
        if src.ceil_mode or src.dilation not in (1, (1, 1)):
            raise ValueError("memory-efficient max pooling supports floor mode without dilation")
        super().__init__(src.kernel_size, src.stride, src.padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and x.requires_grad):
            return super().forward(x)
        return BinaryMaxPoolFn.apply(x, _pair(self.kernel_size), _pair(self.stride), _pair(self.padding))


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)
