"""Autograd functions of memory-efficient binary training: what each one saves, and its backward.

Per-element data are saved only as packed bits (:mod:`nbq.nn.edge.packing`); the only other
saved tensors are per-channel scalars and the (float16) weight parameter itself, which is
held anyway.  Non-tensor state (shapes, the owning layer) lives on ``ctx``; no tensor is
stashed there, so ``torch.autograd.graph.saved_tensors_hooks`` sees everything kept.

Every gradient these functions return is rounded to float16 (``∂Y in float16``); products
are accumulated in float32.  The formulas (x̂ = normalized input, s = sign(x̂) ∈ {±1},
means over the batch and, for convolutions, the spatial positions of one channel):

* binary weight layer y = op(x, sign(W)) + b, fan-in N:
  ∂X = op_x^T(∂Y, sign(W)),  ∂W = N^(-1/2)·sign(op_w^T(sign(X), ∂Y)) with sign(0) = 0,
  ∂b = Σ ∂Y.  (The network's first layer sees k-bit input codes instead of signs:
  ∂W = N^(-1/2)·sign(op_w^T(X, ∂Y)).)  ∂Y is first put in the layer's :class:`GradFormat`.
* ℓ1 batch norm y = x̂ + β, x̂ = (x − μ)/σ, σ = mean|x − μ| + ε: see :class:`L1NormFn`.
* sign activation: ∂x = ∂z·1[|x| ≤ 1] (the mask is saved as bits).
* 2-D max pooling of ±1 inputs: the gradient goes to the first maximum of each window,
  recomputed in backward from the saved signs (identical to torch's choice).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd import Function

from nbq.nn.edge.gradfmt import to_half
from nbq.nn.edge.packing import PackedTernary, pack_bits, unpack_bits, unpack_signs


def binarize(w: torch.Tensor) -> torch.Tensor:
    """+1 where w ≥ 0 else −1, float32."""
    return torch.where(w >= 0, 1.0, -1.0)


def input_codes(x: torch.Tensor, scale: float) -> torch.Tensor:
    """The unsigned k-bit integers (k ≤ 8) of a quantized input, as uint8 (one byte each)."""
    codes = torch.round(x / scale)
    if codes.numel() and (codes.min() < 0 or codes.max() > 255):
        raise ValueError("the first layer's input must be unsigned ≤ 8-bit codes times its input scale")
    return codes.to(torch.uint8)


class BinaryWeightFn(Function):
    """y = op(x, sign(W)) + b for an edge Linear/Conv2d ``layer`` (which supplies op and its adjoints)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, layer) -> torch.Tensor:
        y = layer.affine(x, binarize(weight), None if bias is None else bias.float())
        saved = pack_bits(x >= 0) if layer.binary_input else input_codes(x, layer.in_scale)
        ctx.save_for_backward(saved, weight)
        ctx.layer, ctx.x_shape, ctx.has_bias = layer, x.shape, bias is not None
        return y

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor) -> tuple[torch.Tensor | None, None, torch.Tensor | None, None]:
        saved, weight = ctx.saved_tensors
        layer = ctx.layer
        g = layer.grad_format(grad_y).float()
        # codes times a positive scale have the signs of the input values: the scale drops out of sign()
        x = unpack_signs(saved, ctx.x_shape) if layer.binary_input else saved.float()
        grad_x, sums = layer.affine_backward(g, x, binarize(weight), ctx.needs_input_grad[0])
        param = layer.weight  # the gradient lives on the Parameter object the optimizer holds
        if getattr(param, "packed_grad", None) is not None:
            raise RuntimeError("packed binary gradients do not accumulate: call optimizer.zero_grad() "
                               "between backward passes")
        param.packed_grad = PackedTernary.from_sums(sums, layer.fan_in ** -0.5)
        grad_b = to_half(layer.bias_grad(g)) if ctx.has_bias else None
        return (None if grad_x is None else to_half(grad_x)), None, grad_b, None


class L1NormFn(Function):
    """ℓ1 batch norm, training form: y = (x − μ)/σ + β per channel, μ and σ batch statistics.

    Forward: μ = mean(x), σ = mean|x − μ| + ε (over the M values of a channel), x̂ = (x − μ)/σ.
    Exact backward, with g = ∂L/∂y, s_i = sign(x̂_i) and ∂σ/∂x_j = (s_j − mean(s))/M:

        ∂L/∂x_j = (g_j − mean(g) − (s_j − mean(s))·mean(g·x̂)) / σ,     ∂L/∂β = Σ g.

    mean(g·x̂) needs x̂ itself.  Since the ℓ1 normalization makes mean|x̂| = 1 (up to ε),
    x̂ ≈ sign(x̂)·mean|x̂| = s, and the backward implemented here is

        ∂L/∂x_j = (g_j − mean(g) − (s_j − mean(s))·mean(g·s)) / σ,

    which needs only the packed signs s and the per-channel σ (mean(s) comes from the signs).
    It is exact wherever |x̂| = 1 (e.g. two-valued channels).  sign(0) is taken as +1.
    ``mu`` and ``sigma`` are passed in (computed without gradient); the backward accounts
    for their dependence on x.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, beta: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        shape = _channel_shape(x)
        xhat = (x - mu.view(shape)) / sigma.view(shape)
        ctx.save_for_backward(pack_bits(xhat >= 0), sigma)
        ctx.x_shape = x.shape
        return xhat + beta.float().view(shape)

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None, None]:
        bits, sigma = ctx.saved_tensors
        shape, dims = _channel_shape(grad_y), _reduce_dims(grad_y)
        g = to_half(grad_y).float()
        s = unpack_signs(bits, ctx.x_shape)
        gs = (g * s).mean(dims, keepdim=True)
        grad_x = (g - g.mean(dims, keepdim=True) - (s - s.mean(dims, keepdim=True)) * gs) / sigma.view(shape)
        return to_half(grad_x), to_half(g.sum(dims)), None, None


class SignMaskFn(Function):
    """z = +1 where x ≥ 0 else −1; straight-through ∂x = ∂z·1[|x| ≤ 1], the mask saved as bits."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(pack_bits(x.abs() <= 1))
        ctx.x_shape = x.shape
        return binarize(x)

    @staticmethod
    def backward(ctx, grad_z: torch.Tensor) -> torch.Tensor:
        (bits,) = ctx.saved_tensors
        return to_half(grad_z) * unpack_bits(bits, ctx.x_shape)


class BinaryMaxPoolFn(Function):
    """2-D max pooling of a ±1 tensor; saves its signs (1 bit per input value), not indices."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int],
                padding: tuple[int, int]) -> torch.Tensor:
        ctx.save_for_backward(pack_bits(x >= 0))
        ctx.x_shape, ctx.args = x.shape, (kernel, stride, padding)
        return F.max_pool2d(x, kernel, stride, padding)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        (bits,) = ctx.saved_tensors
        kernel, stride, padding = ctx.args
        x = unpack_signs(bits, ctx.x_shape)
        _, idx = F.max_pool2d(x, kernel, stride, padding, return_indices=True)
        grad_x = torch.ops.aten.max_pool2d_with_indices_backward(
            to_half(grad_out).float(), x, list(kernel), list(stride), list(padding), [1, 1], False, idx)
        return to_half(grad_x), None, None, None


def _channel_shape(x: torch.Tensor) -> tuple[int, ...]:
    return (1, -1) + (1,) * (x.dim() - 2)


def _reduce_dims(x: torch.Tensor) -> tuple[int, ...]:
    return (0,) + tuple(range(2, x.dim()))
