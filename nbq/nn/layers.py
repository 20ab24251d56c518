"""Quantized layers: power-of-two / binary / float weights, BatchNorm, activation quantizers.

Every layer knows the scale of its input activations (``in_scale``, a power of
two fixed when the model is built), so its evaluation-mode forward can put
biases and BatchNorm parameters on the grid the compiler uses: in eval mode a
model computes exactly what nbq's integer reference executor computes from
the exported ONNX file (see :class:`QBatchNorm`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from nbq.formats import Po2Codebook
from nbq.nn.quant import quantize_activation, reconstructed_weight, sign_ste


@dataclass(frozen=True)
class WeightSpec:
    """How a layer's weights are quantized: ``po2`` (n bits), ``binary`` (sign + STE) or ``float``."""

    kind: str = "po2"
    bits: int = 3
    rule: str = "lsq"

    def __post_init__(self) -> None:
        if self.kind not in ("po2", "binary", "float"):
            raise ValueError(f"unknown weight kind {self.kind!r}")
        if self.kind == "po2":
            Po2Codebook(self.bits)

    @property
    def step(self) -> float:
        """Quantum of the deployed weights: 2^-(r-1) for po2, 1 for binary."""
        if self.kind != "po2":
            return 1.0
        return 2.0 ** -Po2Codebook(self.bits).max_shift


class _QuantWeightMixin:
    """Weight quantization shared by conv and linear layers."""

    spec: WeightSpec
    alpha: float
    in_scale: float | None
    weight: nn.Parameter
    bias: nn.Parameter | None

    @property
    def weight_bits(self) -> int | None:
        return self.spec.bits if self.spec.kind == "po2" else (1 if self.spec.kind == "binary" else None)

    def deployed_weight(self) -> torch.Tensor:
        """The weights the hardware uses (exactly codebook values); no gradient."""
        with torch.no_grad():
            return self._weight(train=False).detach()

    def _weight(self, train: bool) -> torch.Tensor:
        if self.spec.kind == "float":
            return self.weight
        if self.spec.kind == "binary":
            return sign_ste(self.weight)
        return reconstructed_weight(self.weight, self.spec.bits, self.alpha if train else 0.0, self.spec.rule)

    def bias_step(self, w: torch.Tensor) -> float | None:
        """Grid of an output bias: in_scale × the smallest non-zero |weight| (a multiple of nbq's step)."""
        if self.in_scale is None or self.spec.kind == "float":
            return None
        nz = w.abs()[w != 0]
        smallest = float(nz.min()) if nz.numel() else 1.0
        return self.in_scale * smallest

    def _bias(self, w: torch.Tensor, train: bool) -> torch.Tensor | None:
        if self.bias is None or train:
            return self.bias
        step = self.bias_step(w)
        if step is None:
            return self.bias
        # at the graph output nbq adds the bias in accumulator units: put it on that grid
        return torch.round(self.bias / step) * step

    def acc_bound(self, in_max_int: float) -> torch.Tensor:
        """Worst-case |accumulator| per output channel, in units of in_scale × weight step."""
        w = self.deployed_weight().abs() / self.spec.step
        return w.flatten(1).sum(1) * in_max_int

    def clip_latent(self) -> None:
        """Binary weights: keep latent weights in [-1, 1] (Courbariaux & Bengio)."""
        if self.spec.kind == "binary":
            with torch.no_grad():
                self.weight.clamp_(-1.0, 1.0)


class QConv2d(_QuantWeightMixin, nn.Conv2d):
    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, padding: int = 0,
                 bias: bool = False, spec: WeightSpec = WeightSpec(), in_scale: float | None = None,
                 groups: int = 1):
        nn.Conv2d.__init__(self, in_ch, out_ch, kernel, stride=stride, padding=padding, bias=bias, groups=groups)
        self.spec, self.alpha, self.in_scale = spec, 0.5, in_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self._weight(self.training)
        return F.conv2d(x, w, self._bias(w, self.training), self.stride, self.padding, self.dilation, self.groups)


class QLinear(_QuantWeightMixin, nn.Linear):
    def __init__(self, in_f: int, out_f: int, bias: bool = True, spec: WeightSpec = WeightSpec(),
                 in_scale: float | None = None):
        nn.Linear.__init__(self, in_f, out_f, bias=bias)
        self.spec, self.alpha, self.in_scale = spec, 0.5, in_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self._weight(self.training)
        return F.linear(x, w, self._bias(w, self.training))


@torch.no_grad()
def exact_affine(a: torch.Tensor, b: torch.Tensor, in_step: float | None, source: tuple[nn.Module, float] | None,
                 sign_output: bool, exact_bits: int = 21) -> tuple[torch.Tensor, torch.Tensor]:
    """Put a per-channel affine y = a·x + b (float64) on the exact grid of :class:`QBatchNorm` (float32 out).

    ``source`` is (layer feeding the normalization, max |input integer|); without it, or
    without ``in_step``, (a, b) are returned as plain float32.
    """
    if in_step is None or source is None:
        return a.float(), b.float()
    layer, in_max = source
    bound = layer.acc_bound(in_max).double().clamp_min(1.0)  # in units of in_step
    m = (exact_bits - torch.ceil(torch.log2(bound + 1))).clamp(2, 16)
    ulp = torch.pow(2.0, torch.floor(torch.log2(a.abs().clamp_min(1e-30))) - m + 1)
    # a huge offset (a channel that barely depends on its input) must stay exact too
    ulp = torch.maximum(ulp, torch.pow(2.0, torch.ceil(torch.log2(b.abs().clamp_min(1e-30) / (in_step * 2.0**22)))))
    a_s = torch.round(a / ulp) * ulp
    grid = ulp * in_step
    b_s = (torch.floor(b / grid) + 0.5) * grid if sign_output else torch.round(b / grid) * grid
    return a_s.float(), b_s.float()


class QBatchNorm(nn.BatchNorm2d):
    """BatchNorm whose evaluation form is exact in float32 and foldable into thresholds.

    Training is ordinary BatchNorm.  In eval mode, once :meth:`attach` has
    told it which layer feeds it, the folded affine y = a·x + b is put on a
    grid: per channel a keeps m significant bits and b is a multiple of
    q = ulp(a)·in_step, where m is chosen from the layer's worst-case
    accumulator bound B (Σ|w_int|·max|x_int|) so that B·|a|/q < 2^21.  Every
    reachable a·x + b and every partial sum of Σ (a·w)·x is then a multiple of q
    below 2^24·q, i.e. exact in float32 in any order: torch, ONNX Runtime with or
    without its Conv+BatchNorm fusion, and nbq's float64 threshold computation
    agree to the bit.  For a Sign activation b sits half a grid step off, so
    a·x + b is never exactly 0 (ONNX Sign(0) = 0 would break the ±1 convention).
    Exported as BatchNormalization(scale=a, B=b, mean=0, var=1, epsilon=0).
    Works for (N, C) and (N, C, H, W) inputs.
    """

    EXACT_BITS = 21  # headroom under float32's 24-bit significand for b and the half step

    def __init__(self, num_features: int, in_step: float | None = None, sign_output: bool = False):
        super().__init__(num_features)
        self.in_step, self.sign_output = in_step, sign_output
        self._source: tuple[nn.Module, float] | None = None  # (layer, max |x_int|), not a submodule

    def attach(self, source: nn.Module, in_max_int: float) -> None:
        """Record the layer feeding this BN (for its accumulator bound) and its input's max |integer|."""
        self._source = (source, float(in_max_int))

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() not in (2, 4):
            raise ValueError(f"QBatchNorm expects 2-D or 4-D input, got {x.dim()}-D")

    @torch.no_grad()
    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(a, b) float32 per channel: the exact affine of the evaluation form."""
        a = self.weight.double() / torch.sqrt(self.running_var.double() + self.eps)
        b = self.bias.double() - self.running_mean.double() * a
        return exact_affine(a, b, self.in_step, self._source, self.sign_output, self.EXACT_BITS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or self.in_step is None:
            return super().forward(x)
        a, b = self.folded()
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return x * a.view(shape) + b.view(shape)


class ActQuant(nn.Module):
    """k-bit fixed-point activation with scale 2^scale_exp (unsigned includes the ReLU).

    The paper's staircase activation: the gradient passes where the input lies
    in the representable range (|z| ≤ 1 for the default unsigned 2^-k scale).
    Exported as Clip(qmin·s, qmax·s) → QuantizeLinear(s) → DequantizeLinear(s).
    """

    def __init__(self, bits: int = 4, scale_exp: int | None = None, signed: bool = False):
        super().__init__()
        if not 1 <= bits <= 8:
            raise ValueError("activation bits must be 1..8 (uint8/int8 containers)")
        self.bits, self.signed = bits, signed
        self.scale_exp = -bits if scale_exp is None else scale_exp
        self.qmin, self.qmax = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)

    @property
    def scale(self) -> float:
        return math.ldexp(1.0, self.scale_exp)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return quantize_activation(x, self.scale, self.qmin, self.qmax)

    def extra_repr(self) -> str:
        return f"bits={self.bits}, scale=2^{self.scale_exp}, signed={self.signed}"


class SignAct(nn.Module):
    """Binary activation: +1 where x ≥ 0 else -1, straight-through gradient where |x| ≤ 1."""

    scale = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sign_ste(x)


class GlobalAvgPool(nn.Module):
    """Global average pooling to (N, C); exported as GlobalAveragePool → Flatten."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))
