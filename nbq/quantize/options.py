"""What `nbq quantize` is asked to do: the weight format, activation bits and data files, checked once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from nbq.errors import NbqError
from nbq.formats import MAX_HW_PO2_BITS, MAX_INT_WEIGHT_BITS

MIN_ACT_BITS, MAX_ACT_BITS = 2, 8  # QuantizeLinear into (u)int8 containers, narrowed by a Clip below 8 bits
DEFAULT_PERCENTILE = 99.99


@dataclass(frozen=True)
class WeightSpec:
    """po2:N (N-bit power-of-two codes, N = 1 is binary ±1) or int:N (N-bit signed integers)."""

    kind: str  # "po2" | "int"
    bits: int

    def __str__(self) -> str:
        return f"{self.kind}:{self.bits}"


def parse_weight_spec(text: str) -> WeightSpec:
    m = re.fullmatch(r"\s*(po2|int)\s*:\s*(\d+)\s*", str(text))
    if m is None:
        raise NbqError(f"weight format {text!r} is not po2:N or int:N; e.g. --weights po2:4 or --weights int:8")
    kind, bits = m.group(1), int(m.group(2))
    lo, hi = (1, MAX_HW_PO2_BITS) if kind == "po2" else (2, MAX_INT_WEIGHT_BITS)
    if not lo <= bits <= hi:
        raise NbqError(f"weight format {text!r}: {kind} weights take {lo} to {hi} bits")
    return WeightSpec(kind, bits)


def check_act_bits(bits: int, what: str = "--activations") -> int:
    if not MIN_ACT_BITS <= int(bits) <= MAX_ACT_BITS:
        raise NbqError(f"{what} {bits}: activations take {MIN_ACT_BITS} to {MAX_ACT_BITS} bits")
    return int(bits)


@dataclass(frozen=True)
class QuantizeOptions:
    """Everything `quantize_model` needs besides the model: see docs/quantize.md."""

    calibrate: Path  # .npy images run through the float model to choose activation scales
    weights: WeightSpec = WeightSpec("po2", 4)
    activations: int = 8  # bits of every activation quantizer
    input_bits: int = 8  # bits of the graph input's quantizer
    percentile: float = DEFAULT_PERCENTILE  # of |values| a quantizer's range must cover
    labels: Path | None = None  # labels of the evaluated images (the test data if given, else the calibration set)
    test_data: Path | None = None

    def __post_init__(self) -> None:
        check_act_bits(self.activations)
        check_act_bits(self.input_bits, "--input-bits")
        if not 50.0 <= self.percentile <= 100.0:
            raise NbqError(f"--percentile {self.percentile:g}: give a percentile between 50 and 100")
        if self.test_data is not None and self.labels is None:
            raise NbqError("--test-data needs --labels (the test images' labels) to measure the accuracy")
