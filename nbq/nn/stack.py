"""The pieces every model builder uses: :class:`QuantConfig`, :class:`NbqModel`, :class:`Stack`.

A :class:`QuantConfig` picks the arithmetic (power-of-two n-bit, binary or
float weights; k-bit, sign or float activations).  :class:`Stack` appends
layers while tracking the activation scale, so every layer knows the grid of
its input (needed for the exact evaluation form, see layers.QBatchNorm).
The builders themselves live in :mod:`nbq.nn.models` (real networks) and
:mod:`nbq.nn.complex` (binary-complex networks); both import this module.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from torch import nn

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
