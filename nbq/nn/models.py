"""Model builders with a width multiplier: every network nbq compiles, sized by ``width``.

A :class:`QuantConfig` picks the arithmetic (power-of-two n-bit, binary or
float weights; k-bit, sign or float activations); the builders pick the
topology.  Layers are created through :class:`Stack`, which tracks the
activation scale so every layer knows the grid of its input (needed for the
exact evaluation form, see layers.QBatchNorm).  QuantConfig, NbqModel and
Stack are defined in :mod:`nbq.nn.stack` (shared with :mod:`nbq.nn.complex`)
and importable from here as before.
"""

from __future__ import annotations

import torch
from torch import nn

from nbq.errors import NbqError
from nbq.nn.complex import bcnn_nin
from nbq.nn.layers import ActQuant
from nbq.nn.stack import NbqModel, QuantConfig, Stack, _ch

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
