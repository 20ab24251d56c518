"""The nbq intermediate representation: a typed graph of integer layers.

Every tensor holds integers in a proven range [lo, hi] with a real-valued
scale (real = int * scale).  Shapes exclude the batch dimension and follow
ONNX's logical layout: (C, H, W) for feature maps, (F,) for vectors.  How the
hardware streams them (channels last) is a backend decision recorded by the
layout pass.

Layers are small dataclasses; passes return new graphs (``Graph.replace``)
rather than mutating their input.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

import numpy as np

from nbq.formats import Po2Codebook, bits_for_range


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    scale: float
    lo: int | None = None  # proven integer range; filled by the range pass
    hi: int | None = None

    @property
    def bits(self) -> int:
        return bits_for_range(self.lo, self.hi)[0]

    @property
    def signed(self) -> bool:
        return bits_for_range(self.lo, self.hi)[1]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def type_str(self) -> str:
        """Human-readable format, e.g. 'int9' or 'uint4'."""
        return f"{'int' if self.signed else 'uint'}{self.bits}"


@dataclass
class Weights:
    """A constant weight tensor in one of nbq's weight formats (see nbq.formats).

    ``ints`` are the integers the hardware multiplies (or shifts) by;
    real weights = ints * 2**int_scale_exp.
    """

    kind: str  # "po2" | "int"
    bits: int
    codes: np.ndarray  # uint, same shape as ints
    ints: np.ndarray  # int64
    int_scale_exp: int

    @property
    def format_str(self) -> str:
        if self.kind == "po2":
            return "binary (±1)" if self.bits == 1 else f"po2-{self.bits}b"
        return f"int{self.bits}"

    @property
    def max_shift(self) -> int:
        return Po2Codebook(self.bits).max_shift if self.kind == "po2" else 0


@dataclass(frozen=True)
class Fold:
    """How a Conv/Dense layer is folded onto an engine array (set by nbq.passes.folding).

    PE output channels x SIMD inputs per cycle; NF = OC / PE neuron folds (complex: OC / 2 / PE)
    and SF = K / SIMD synapse folds per output pixel.  A complex layer's PE and SIMD count
    complex channels, and one complex lane does four binary products.
    """

    pe: int
    simd: int
    nf: int
    sf: int
    pixels: int  # output pixels per image (Dense: 1)
    cycles: int  # cycles per image of the MVAU
    complex: bool = False

    @property
    def lanes(self) -> int:
        return self.pe * self.simd

    @property
    def mac_units(self) -> int:
        """Products per cycle (a complex lane does four)."""
        return self.lanes * (4 if self.complex else 1)

    @property
    def macs(self) -> int:
        """Useful products per image."""
        return self.pixels * self.nf * self.sf * self.mac_units


@dataclass
class Layer:
    name: str
    inputs: list[str]
    output: str

    op = "Layer"


@dataclass
class Conv(Layer):
    weights: Weights  # ints shape (OC, IC/groups, KH, KW)
    bias: np.ndarray  # int64 (OC,), in accumulator units
    strides: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)  # top, left, bottom, right
    dilations: tuple[int, int] = (1, 1)
    groups: int = 1
    folding: Fold | None = None  # set by nbq.passes.folding
    fused_threshold: str | None = None  # name of the Threshold fused into this MVAU (nbq.passes.fusion)
    op = "Conv"


@dataclass
class Dense(Layer):
    weights: Weights  # ints shape (OUT, IN), IN in the logical (ONNX) order
    bias: np.ndarray  # int64 (OUT,)
    # set by the layout pass: the (C, H, W) the input was flattened from, so the
    # backend can reorder columns for a channels-last stream
    flattened_from: tuple[int, int, int] | None = None
    folding: Fold | None = None  # set by nbq.passes.folding
    fused_threshold: str | None = None  # see Conv
    op = "Dense"


@dataclass
class AffineQuant(Layer):
    """Float per-channel affine + clamp + quantizer, as written in the ONNX graph.

    out = clip(R(clip(a*x + b, clamp_lo, clamp_hi) / out_scale), qmin, qmax)
    (a, b per channel along axis 0 of the logical shape; R = rint, or the QONNX
    rounding mode `rounding`, see nbq.rounding).  For ``sign`` the
    output is +1 where a*x + b >= 0 and -1 elsewhere.  The threshold pass
    replaces every AffineQuant with a Threshold layer.
    """

    a: np.ndarray  # float64 (C,)
    b: np.ndarray  # float64 (C,)
    clamp_lo: float = -np.inf
    clamp_hi: float = np.inf
    out_scale: float = 1.0
    qmin: int = 0
    qmax: int = 255
    sign: bool = False
    rounding: str = "ROUND"  # a key of nbq.rounding.ROUNDING
    op = "AffineQuant"


@dataclass
class Threshold(Layer):
    """Per-channel integer thresholds: out = out_lo + step * (number crossed).

    A threshold t is crossed when x >= t (direction +1) or x <= t (direction -1).
    """

    thresholds: np.ndarray  # int64 (C, L), ascending for +1, descending for -1
    direction: np.ndarray  # int8 (C,)
    out_lo: int = 0
    step: int = 1
    fused_into: str | None = None  # the Conv/Dense that computes it in hardware (nbq.passes.fusion)
    op = "Threshold"


@dataclass
class Clamp(Layer):
    """Integer clamp (ReLU is lo=0, hi=None)."""

    lo: int | None = 0
    hi: int | None = None
    op = "Clamp"


@dataclass
class MaxPool(Layer):
    kernel: tuple[int, int] = (2, 2)
    strides: tuple[int, int] = (2, 2)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)
    op = "MaxPool"


@dataclass
class SumPool(Layer):
    """Average pooling kept exact: the window sum, with the 1/k² moved into the scale.

    Padding (AveragePool ``pads``) adds zeros, so they count in the sum but not in the value."""

    kernel: tuple[int, int] = (2, 2)
    strides: tuple[int, int] = (2, 2)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)  # top, left, bottom, right; zero fill
    op = "SumPool"


@dataclass
class Flatten(Layer):
    op = "Flatten"


@dataclass
class Add(Layer):
    """Residual add; each input is left-shifted onto the finer of the two scales."""

    shifts: tuple[int, int] = (0, 0)
    op = "Add"


@dataclass
class Concat(Layer):
    """Channel concatenation (axis 0 of the logical shape): input i's channels after those of inputs < i.

    Each input is left-shifted by shifts[i] onto the finest input scale (as Add); every input has the
    same pixels (H, W), or all are vectors.  Streams channels-last: per pixel, input 0's channels, then
    input 1's, ...
    """

    shifts: tuple[int, ...] = ()
    op = "Concat"


@dataclass
class ChannelPermute(Layer):
    """Output channel c is input channel perm[c] (a channel shuffle); pixels are unchanged."""

    perm: tuple[int, ...] = ()
    op = "ChannelPermute"


@dataclass
class Graph:
    name: str
    inputs: list[str]
    outputs: list[str]
    tensors: dict[str, Tensor]
    layers: list[Layer]  # topological order
    source: str = ""  # file the graph came from, for messages
    meta: dict = field(default_factory=dict)

    def copy(self) -> Graph:
        return copy.deepcopy(self)

    def replace(self, **changes) -> Graph:
        return replace(self, **changes)

    def producer(self, tensor: str) -> Layer | None:
        for layer in self.layers:
            if layer.output == tensor:
                return layer
        return None

    def consumers(self, tensor: str) -> list[Layer]:
        return [layer for layer in self.layers if tensor in layer.inputs]

    @property
    def weight_count(self) -> int:
        return sum(int(lay.weights.ints.size) for lay in self.layers if isinstance(lay, Conv | Dense))

    @property
    def weight_bits(self) -> int:
        return sum(
            int(lay.weights.ints.size) * lay.weights.bits for lay in self.layers if isinstance(lay, Conv | Dense)
        )


def conv_output_hw(
    in_hw: tuple[int, int],
    kernel: tuple[int, int],
    strides: tuple[int, int],
    pads: tuple[int, int, int, int],
    dilations: tuple[int, int] = (1, 1),
) -> tuple[int, int]:
    """Output height/width of a sliding window (floor mode, as ONNX)."""
    out = []
    for i in range(2):
        span = dilations[i] * (kernel[i] - 1) + 1
        total = in_hw[i] + pads[i] + pads[i + 2]
        out.append((total - span) // strides[i] + 1)
    return out[0], out[1]
