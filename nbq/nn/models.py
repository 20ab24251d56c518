"""Model builders with a width multiplier: every network nbq compiles, sized by ``width``.

A :class:`QuantConfig` picks the arithmetic (power-of-two n-bit, binary or
float weights; k-bit, sign or float activations); the builders pick the
topology.  Layers are created through :class:`Stack`, which tracks the
activation scale so every layer knows the grid of its input (needed for the
exact evaluation form, see layers.QBatchNorm).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from nbq.errors import NbqError
from nbq.nn.layers import ActQuant, GlobalAvgPool, QBatchNorm, QConv2d, QLinear, SignAct, WeightSpec


@dataclass(frozen=True)
class QuantConfig:
    weights: WeightSpec = field(default_factory=WeightSpec)
    act: str = "quant"  # "quant" (k-bit unsigned, ReLU included) | "sign" | "relu" (float)
    act_bits: int = 4
    # default -(act_bits - 1): unsigned range [0, 2); on digits this beat the paper's [0, 1)
    # (2^-act_bits) by 2-3 points at 3-bit weights
    act_scale_exp: int | None = None
    input_bits: int = 4  # input quantizer: unsigned, scale 2^-input_bits

    @classmethod
    def po2(cls, n: int = 3, act_bits: int = 4, input_bits: int = 4, rule: str = "lsq") -> QuantConfig:
        return cls(WeightSpec("po2", n, rule), "quant", act_bits, None, input_bits)

    @classmethod
    def binary(cls, input_bits: int = 4) -> QuantConfig:
        return cls(WeightSpec("binary", 1), "sign", 1, None, input_bits)

    @classmethod
    def float(cls, input_bits: int = 4) -> QuantConfig:
        return cls(WeightSpec("float", 32), "relu", 32, None, input_bits)

    def describe(self) -> dict:
        d = asdict(self)
        d["weights"] = asdict(self.weights)
        return d


class NbqModel(nn.Sequential):
    """A Sequential that remembers its builder, config and input shape (exported as metadata)."""

    def __init__(self, name: str, config: QuantConfig, in_shape: tuple[int, ...], *mods: nn.Module,
                 logit_scale: float = 1.0):
        super().__init__(*mods)
        self.name = name
        self.logit_scale = logit_scale  # training-loss temperature only (see trainer.train)
        self.nbq_info = {"model": name, "config": config.describe(), "input_shape": list(in_shape)}


class Stack:
    """Appends layers while tracking channels, spatial size and the activation scale."""

    def __init__(self, cfg: QuantConfig, in_shape: tuple[int, ...]):
        self.cfg = cfg
        self.shape = tuple(in_shape)
        inq = ActQuant(cfg.input_bits, -cfg.input_bits)
        self.mods: list[nn.Module] = [inq]
        self.logit_scale = 1.0
        self.scale: float | None = inq.scale
        self.max_int: float | None = float(inq.qmax)  # largest |integer| of the current activation

    # one activation after a BatchNorm, per config
    def _act(self) -> nn.Module:
        if self.cfg.act == "quant":
            exp = -(self.cfg.act_bits - 1) if self.cfg.act_scale_exp is None else self.cfg.act_scale_exp
            return ActQuant(self.cfg.act_bits, exp)
        if self.cfg.act == "sign":
            return SignAct()
        return nn.ReLU()

    def _bn_act(self, source: nn.Module) -> list[nn.Module]:
        """BN + activation after ``source``; BN learns the exact grid from the source layer."""
        act = self._act()
        quantized = self.cfg.weights.kind != "float" and self.scale is not None
        in_step = self.scale * self.cfg.weights.step if quantized else None
        bn = QBatchNorm(source.out_channels if hasattr(source, "out_channels") else source.out_features,
                        in_step, self.cfg.act == "sign")
        if quantized:
            bn.attach(source, self.max_int)
        self.scale = getattr(act, "scale", None)
        self.max_int = float(max(-act.qmin, act.qmax)) if isinstance(act, ActQuant) else (
            1.0 if isinstance(act, SignAct) else None)
        return [bn, act]

    def block(self, out_ch: int, k: int = 3, stride: int = 1, pad: int | None = None) -> list[nn.Module]:
        """conv → BN → activation, returned (not appended) for use inside composite blocks."""
        c, h, w = self.shape
        pad = k // 2 if pad is None else pad
        conv = QConv2d(c, out_ch, k, stride, pad, bias=False, spec=self.cfg.weights, in_scale=self.scale)
        mods = [conv, *self._bn_act(conv)]
        self.shape = (out_ch, (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1)
        return mods

    def conv(self, out_ch: int, k: int = 3, stride: int = 1, pad: int | None = None) -> Stack:
        self.mods += self.block(out_ch, k, stride, pad)
        return self

    def conv_out(self, out_ch: int, k: int = 1) -> Stack:
        """Final conv with bias and no activation (its accumulator flows to pooling / the output)."""
        c, h, w = self.shape
        self.mods.append(QConv2d(c, out_ch, k, 1, k // 2, bias=True, spec=self.cfg.weights, in_scale=self.scale))
        self.shape = (out_ch, h, w)
        self.scale = None
        return self

    def pool(self) -> Stack:
        c, h, w = self.shape
        if h < 2 or w < 2:
            return self  # too small to pool (tiny inputs such as 8×8 digits)
        self.mods.append(nn.MaxPool2d(2))
        self.shape = (c, h // 2, w // 2)
        return self

    def gap(self) -> Stack:
        c, h, w = self.shape
        self.mods.append(GlobalAvgPool())
        self.scale = None if self.scale is None else self.scale / (h * w)
        self.shape = (c,)
        return self

    def flatten(self) -> Stack:
        if len(self.shape) == 3:
            self.mods.append(nn.Flatten())
            self.shape = (math.prod(self.shape),)
        return self

    def dense(self, out_f: int) -> Stack:
        """Hidden fully connected layer: linear (no bias) → BN → activation."""
        self.flatten()
        lin = QLinear(self.shape[0], out_f, bias=False, spec=self.cfg.weights, in_scale=self.scale)
        self.mods += [lin, *self._bn_act(lin)]
        self.shape = (out_f,)
        return self

    def classifier(self, classes: int) -> Stack:
        self.flatten()
        self.mods.append(QLinear(self.shape[0], classes, bias=True, spec=self.cfg.weights, in_scale=self.scale))
        if self.cfg.weights.kind == "binary":
            # ±1 weights make logits of size ~sqrt(fan-in); cool them for the loss (+1.5 points on digits)
            self.logit_scale = self.shape[0] ** -0.5
        self.shape = (classes,)
        self.scale = None
        return self

    def build(self, name: str, in_shape: tuple[int, ...]) -> NbqModel:
        return NbqModel(name, self.cfg, in_shape, *self.mods, logit_scale=self.logit_scale)


def _ch(base: int, width: float) -> int:
    return max(1, int(round(base * width)))


# ------------------------------------------------------------------ builders


def digits_cnn(cfg: QuantConfig, in_shape=(1, 8, 8), classes: int = 10, width: float = 1.0) -> NbqModel:
    """The demo CNN: conv16 → pool → conv32 → pool → dense (sizes at width 1)."""
    s = Stack(cfg, in_shape).conv(_ch(16, width)).pool().conv(_ch(32, width)).pool().classifier(classes)
    return s.build("digits_cnn", in_shape)


def mlp(cfg: QuantConfig, in_shape=(1, 8, 8), classes: int = 10, width: float = 1.0) -> NbqModel:
    """Small MLP: two hidden layers of 256·width."""
    s = Stack(cfg, in_shape).dense(_ch(256, width)).dense(_ch(256, width)).classifier(classes)
    return s.build("mlp", in_shape)


def paper_cifar(cfg: QuantConfig, in_shape=(3, 32, 32), classes: int = 10, width: float = 1.0) -> NbqModel:
    """n-BQ-NN Table I: 3×conv128, pool, 3×conv256, pool, conv512, conv1×1-1024, conv1×1-classes, avgpool."""
    s = Stack(cfg, in_shape)
    for _ in range(3):
        s.conv(_ch(128, width))
    s.pool()
    for _ in range(3):
        s.conv(_ch(256, width))
    s.pool().conv(_ch(512, width)).conv(_ch(1024, width), k=1).conv_out(classes, k=1).gap()
    return s.build("paper_cifar", in_shape)


def cnv(cfg: QuantConfig, in_shape=(3, 32, 32), classes: int = 10, width: float = 1.0) -> NbqModel:
    """CNV-like BNN (FINN): 2×conv64, pool, 2×conv128, pool, 2×conv256, 2×fc512, fc-classes.

    Unpadded 3×3 convolutions on 32×32 inputs as in CNV; padded on smaller inputs.
    """
    pad = 0 if min(in_shape[1:]) >= 32 else 1
    s = Stack(cfg, in_shape)
    s.conv(_ch(64, width), pad=pad).conv(_ch(64, width), pad=pad).pool()
    s.conv(_ch(128, width), pad=pad).conv(_ch(128, width), pad=pad).pool()
    s.conv(_ch(256, width), pad=pad).conv(_ch(256, width), pad=pad)
    s.dense(_ch(512, width)).dense(_ch(512, width)).classifier(classes)
    return s.build("cnv", in_shape)


def binarynet(cfg: QuantConfig, in_shape=(3, 32, 32), classes: int = 10, width: float = 1.0) -> NbqModel:
    """BinaryNet-like (Courbariaux et al., CIFAR-10): 2×conv128, pool, 2×conv256, pool, 2×conv512, pool,
    2×fc1024, fc-classes; padded 3×3 convolutions.

    Pooling follows the sign activation (conv → BN → sign → pool), the order nbq compiles
    (max of ±1 values), where BinaryNet pools before its BatchNorm.  Small inputs (8×8 digits)
    stop pooling at 2×2: a max of ±1 values over the last 2×2 map is +1 almost everywhere.
    """
    s = Stack(cfg, in_shape)
    for base in (128, 256, 512):
        s.conv(_ch(base, width)).conv(_ch(base, width))
        if min(s.shape[1:]) > 2:
            s.pool()
    s.dense(_ch(1024, width)).dense(_ch(1024, width)).classifier(classes)
    return s.build("binarynet", in_shape)


class BasicBlock(nn.Module):
    """ResNet basic block in a compilable form: both branches end in a signed quantizer, then Add → ReLU.

    out = ReLU(Q(BN(conv(Q(BN(conv(x)))))) + shortcut(x)), shortcut = x or Q(BN(conv1×1(x))).
    Every Add joins two integer tensors of the same power-of-two scale.
    """

    def __init__(self, stack: Stack, out_ch: int, stride: int):
        super().__init__()
        cfg = stack.cfg
        in_shape, in_scale, in_max = stack.shape, stack.scale, stack.max_int
        self.body = nn.Sequential(*stack.block(out_ch, 3, stride))
        self.body.extend(self._last(stack, out_ch))
        body_scale, body_max, out_shape = stack.scale, stack.max_int, stack.shape
        self.shortcut: nn.Module = nn.Identity()
        sc_max = in_max
        if stride != 1 or in_shape[0] != out_ch:
            stack.shape, stack.scale, stack.max_int = in_shape, in_scale, in_max
            self.shortcut = nn.Sequential(*self._last(stack, out_ch, k=1, stride=stride, pad=0))
            sc_max = stack.max_int
        elif cfg.act == "quant" and in_scale != body_scale:
            raise NbqError("residual branches must share one activation scale")
        stack.shape, stack.scale = out_shape, body_scale
        stack.max_int = None if body_max is None or sc_max is None else body_max + sc_max

    @staticmethod
    def _last(stack: Stack, out_ch: int, k: int = 3, stride: int = 1, pad: int | None = None) -> list[nn.Module]:
        """conv → BN → signed quantizer (sign/float unchanged): the branch output before the Add."""
        mods = stack.block(out_ch, k, stride, pad)
        if stack.cfg.act == "quant":
            act = mods[-1]
            mods[-1] = ActQuant(act.bits, act.scale_exp, signed=True)
            stack.max_int = float(2 ** (act.bits - 1))
        return mods

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))

    def onnx_emit(self, b, x: str) -> str:
        y = b.emit(self.body, x)
        sc = b.emit(self.shortcut, x)
        return b.node("Relu", [b.node("Add", [y, sc], "add")], "relu")


def resnet18(cfg: QuantConfig, in_shape=(3, 32, 32), classes: int = 10, width: float = 1.0) -> NbqModel:
    """ResNet-18 topology (CIFAR stem: 3×3 conv, no max-pool): 4 stages × 2 basic blocks, GAP, fc."""
    s = Stack(cfg, in_shape).conv(_ch(64, width))
    for i, base in enumerate((64, 128, 256, 512)):
        for j in range(2):
            stride = 2 if (i > 0 and j == 0 and min(s.shape[1:]) > 1) else 1
            s.mods.append(BasicBlock(s, _ch(base, width), stride))
    s.gap().classifier(classes)
    return s.build("resnet18", in_shape)


def _bcnn(cfg: QuantConfig, in_shape=(1, 8, 8), classes: int = 10, width: float = 1.0,
          imag: str = "zero") -> NbqModel:
    from nbq.nn.complex import bcnn_nin

    return bcnn_nin(cfg, in_shape, classes, width, imag)


BUILDERS = {
    "digits_cnn": digits_cnn,
    "mlp": mlp,
    "paper_cifar": paper_cifar,
    "cnv": cnv,
    "bcnn": _bcnn,
    "resnet18": resnet18,
    "binarynet": binarynet,
}


def build_model(name: str, cfg: QuantConfig, in_shape: tuple[int, ...], classes: int = 10,
                width: float = 1.0, seed: int | None = None, **options) -> NbqModel:
    """Build a model by name (see BUILDERS); NbqError for an unknown name.

    ``seed`` seeds the initial weights; ``options`` go to the builder
    (``imag="zero"|"learned"`` for bcnn).
    """
    if name not in BUILDERS:
        raise NbqError(f"unknown model {name!r}; choose one of {', '.join(BUILDERS)}")
    if width <= 0:
        raise NbqError(f"width multiplier must be positive, got {width}")
    if seed is not None:
        torch.manual_seed(seed)
    return BUILDERS[name](cfg, tuple(in_shape), classes, width, **options)
