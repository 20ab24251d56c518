"""Binary-complex layers (BCNN, Li et al. 2021; accelerator: Peng et al. 2021).

A complex feature map h = x + iy travels as one real tensor with 2C channels,
real parts first: [x_0 … x_{C-1}, y_0 … y_{C-1}].  A complex convolution with
weight W = A + iB is four real convolutions

    W ⊛ h = (A⊛x − B⊛y) + i(B⊛x + A⊛y),

with A and B binarized (sign, straight-through gradient) and the inputs
binarized by the previous layer's Sign.

Complex BatchNorm: nbq normalizes the real and the imaginary part of every
channel separately (a BatchNorm over the 2C real channels).  The full complex
BN (whitening with the 2×2 covariance of (x, y), Trabelsi et al.) mixes x and
y, so sign(BN(h)) would depend on two accumulators at once and could not fold
into one per-channel integer threshold; the per-part form folds exactly like
a real BN (see layers.QBatchNorm) and leaves the hardware a threshold unit per
real/imaginary channel.

Real images enter either with a zero imaginary part (``imag="zero"``: the first
layer computes A⊛x and B⊛x only) or with a learned one (``imag="learned"``: a
3×3 power-of-two conv → BN → input-precision quantizer computes y from x).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nbq.errors import NbqError
from nbq.nn.layers import ActQuant, QBatchNorm, QConv2d, WeightSpec
from nbq.nn.quant import reconstructed_weight, sign_ste
from nbq.nn.stack import Stack, _ch

BINARY = WeightSpec("binary", 1)


class ComplexConv2d(nn.Module):
    """Complex convolution as four real convolutions; input (N, 2C, H, W) or real (N, C, H, W)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, padding: int = 0,
                 spec: WeightSpec = BINARY, in_scale: float | None = None,
                 real_input: bool = False):
        super().__init__()
        self.in_ch, self.out_ch, self.stride, self.padding = in_ch, out_ch, stride, padding
        self.spec, self.in_scale, self.real_input, self.alpha = spec, in_scale, real_input, 0.5
        shape = (out_ch, in_ch, kernel, kernel)
        bound = 1.0 / np.sqrt(in_ch * kernel * kernel * (1 if real_input else 2))
        self.weight_re = nn.Parameter(torch.empty(shape).uniform_(-bound, bound))  # A
        self.weight_im = nn.Parameter(torch.empty(shape).uniform_(-bound, bound))  # B

    @property
    def out_channels(self) -> int:
        return 2 * self.out_ch

    @property
    def weight_bits(self) -> int | None:
        return self.spec.bits if self.spec.kind == "po2" else (1 if self.spec.kind == "binary" else None)

    def _q(self, w: torch.Tensor, train: bool) -> torch.Tensor:
        if self.spec.kind == "float":
            return w
        if self.spec.kind == "binary":
            return sign_ste(w)
        return reconstructed_weight(w, self.spec.bits, self.alpha if train else 0.0, self.spec.rule)

    def deployed_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            return self._q(self.weight_re, False).detach(), self._q(self.weight_im, False).detach()

    def acc_bound(self, in_max_int: float) -> torch.Tensor:
        """Worst-case |accumulator| per real output channel (real parts, then imaginary parts)."""
        a, b = (w.abs().flatten(1).sum(1) / self.spec.step for w in self.deployed_weights())
        both = a + b if not self.real_input else None
        re, im = (a, b) if self.real_input else (both, both)
        return torch.cat([re, im]) * in_max_int

    def clip_latent(self) -> None:
        if self.spec.kind == "binary":
            with torch.no_grad():
                self.weight_re.clamp_(-1.0, 1.0)
                self.weight_im.clamp_(-1.0, 1.0)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        a, b = self._q(self.weight_re, self.training), self._q(self.weight_im, self.training)
        conv = lambda inp, w: F.conv2d(inp, w, None, self.stride, self.padding)  # noqa: E731
        if self.real_input:
            return torch.cat([conv(h, a), conv(h, b)], 1)
        x, y = h[:, : self.in_ch], h[:, self.in_ch :]
        return torch.cat([conv(x, a) - conv(y, b), conv(x, b) + conv(y, a)], 1)

    def onnx_emit(self, g, h: str) -> str:
        a, b = self.deployed_weights()
        step = None if self.spec.kind == "float" else self.spec.step
        conv = lambda inp, w, hint: g.conv(inp, w, self.stride, self.padding, hint=hint, step=step)  # noqa: E731
        if g.complex_form == "block":
            # one real conv: [[A, -B], [B, A]] on [x; y], or [[A], [B]] for a real input
            w = torch.cat([a, b]) if self.real_input else torch.cat([torch.cat([a, -b], 1), torch.cat([b, a], 1)])
            return conv(h, w, "cconv")
        if self.real_input:
            return g.node("Concat", [conv(h, a, "cconv_A"), conv(h, b, "cconv_B")], "cconv", axis=1)
        split = g.const("cconv_split", np.array([self.in_ch, self.in_ch], np.int64))
        x, y = g.node("Split", [h, split], "cconv_in", n_out=2, axis=1)
        re = g.node("Sub", [conv(x, a, "cconv_Ax"), conv(y, b, "cconv_By")], "cconv_re")
        im = g.node("Add", [conv(x, b, "cconv_Bx"), conv(y, a, "cconv_Ay")], "cconv_im")
        return g.node("Concat", [re, im], "cconv", axis=1)


class LearnedImag(nn.Module):
    """Real image x → complex [x; y] with y = Q(BN(conv3×3(x))) at the input's scale and precision."""

    def __init__(self, ch: int, spec: WeightSpec, in_scale: float, in_bits: int, in_max_int: float):
        super().__init__()
        self.conv = QConv2d(ch, ch, 3, 1, 1, bias=False, spec=spec, in_scale=in_scale)
        quantized = spec.kind != "float"
        self.bn = QBatchNorm(ch, in_scale * spec.step if quantized else None)
        if quantized:
            self.bn.attach(self.conv, in_max_int)
        self.act = ActQuant(in_bits, int(np.log2(in_scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.act(self.bn(self.conv(x)))], 1)

    def onnx_emit(self, g, x: str) -> str:
        y = g.emit(nn.Sequential(self.conv, self.bn, self.act), x)
        return g.node("Concat", [x, y], "complex_in", axis=1)


def complex_layers(model: nn.Module) -> list[ComplexConv2d]:
    return [m for m in model.modules() if isinstance(m, ComplexConv2d)]


def bcnn_nin(cfg, in_shape=(3, 32, 32), classes: int = 10, width: float = 1.0, imag: str = "zero"):
    """Complex NIN-like BCNN: three mlpconv blocks of complex convs (NIN's channels halved), GAP, fc.

    block 1: 5×5-96, 1×1-80, 1×1-48, pool; block 2: 5×5-96, 1×1-96, 1×1-96, pool;
    block 3: 3×3-96, 1×1-96; global average pool; binary fc with bias.
    Channel counts are complex channels (×2 real channels), scaled by ``width``.
    """
    if imag not in ("zero", "learned"):
        raise NbqError(f"unknown imaginary-part option {imag!r}; use zero or learned")
    s = Stack(cfg, in_shape)
    c = in_shape[0]
    real = True
    if imag == "learned":
        s.mods.append(LearnedImag(c, cfg.weights, s.scale, cfg.input_bits, s.max_int))
        real = False
    blocks = [((5, 96), (1, 80), (1, 48)), ((5, 96), (1, 96), (1, 96)), ((3, 96), (1, 96))]
    for bi, block in enumerate(blocks):
        for k, ch in block:
            out = _ch(ch, width)
            conv = ComplexConv2d(c, out, k, 1, k // 2, cfg.weights, s.scale, real_input=real)
            s.mods += [conv, *s._bn_act(conv)]
            s.shape = (2 * out, *s.shape[1:])
            c, real = out, False
        if bi < 2:
            s.pool()
    s.gap().classifier(classes)
    return s.build("bcnn", in_shape)


__all__ = ["ComplexConv2d", "LearnedImag", "bcnn_nin", "complex_layers"]
