"""What an ONNX value is while the front end walks the graph.

* ``Const``     a constant folded from initializers.
* ``FloatIn``   the float graph input, not yet quantized (a Clip may narrow it).
* ``Quantized`` the output of a QuantizeLinear, waiting for its DequantizeLinear.
* ``IntVal``    an exact integer IR tensor.
* ``Pending``   float y = clamp(a*x + b) per channel of an integer IR tensor x:
                a BatchNormalization / bias / ReLU chain not yet quantized.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass
class Const:
    value: np.ndarray


@dataclass
class FloatIn:
    name: str
    shape: tuple[int, ...]
    clip_lo: float = -np.inf
    clip_hi: float = np.inf


@dataclass
class IntVal:
    tensor: str


@dataclass
class Pending:
    source: str  # IR tensor x
    a: np.ndarray  # (C,) float64
    b: np.ndarray  # (C,) float64
    clamp_lo: float = -np.inf
    clamp_hi: float = np.inf
    origin: str | None = None  # onnx node that produced it (for messages)

    @property
    def has_clamp(self) -> bool:
        return bool(np.isfinite(self.clamp_lo) or np.isfinite(self.clamp_hi))

    def with_clamp(self, lo: float, hi: float) -> Pending:
        return replace(self, clamp_lo=max(self.clamp_lo, lo), clamp_hi=min(self.clamp_hi, hi))


@dataclass
class Quantized:
    """QuantizeLinear output: integers in [qmin, qmax] (zero point removed) at `scale`."""

    of: FloatIn | Pending
    scale: float
    zero_point: int
    qmin: int
    qmax: int
    node: str


Value = Const | FloatIn | IntVal | Pending | Quantized
