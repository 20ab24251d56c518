"""The hardware plan's records: what every layer of a design is, decided once, printed by both backends.

A backend reads these and writes files; it computes no design decision of its own (engine,
folding, ROM contents and memory kind, accumulator width, threshold table, clamp bounds,
cycles).  Built by nbq.plan.build.plan_hardware.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from nbq import ir
from nbq.board_catalog import Board
from nbq.formats import bits_for_range


class EngineKind(StrEnum):
    SVPE = "svpe"  # shift-add (power-of-two weights), no DSP
    VPE = "vpe"  # multipliers (integer weights, or power-of-two weights as integers: the baseline)
    XNOR = "xnor"  # binary weights over inputs in [-1, 1]: XNOR-popcount
    CXNOR = "cxnor"  # binary complex convolution: four XNOR-popcounts, A and B stored once


class MemoryKind(StrEnum):
    SRL = "srl"  # shift-register FIFO (SRL16/32 LUTs)
    LUTRAM = "lutram"  # distributed RAM/ROM in LUTs
    BRAM = "bram"  # block RAM (RAMB36/18)
    URAM = "uram"  # UltraRAM (288 Kbit, 4K x 72), where the board has it


@dataclass(frozen=True)
class Engine:
    kind: EngineKind
    code_bits: int  # bits per stored weight code
    masked: bool = False  # binary engines: an input may be 0 (zero padding or a range that allows it)


@dataclass(frozen=True)
class AccRange:
    """Every partial sum the MVAU can hold (bias included when it starts the sum)."""

    lo: int
    hi: int
    min_bits: int = 2  # the RTL engines carry an input with one extra sign bit: never narrower than that

    @property
    def bits(self) -> int:
        """Width of the (signed) accumulator holding [lo, hi]."""
        bits, signed = bits_for_range(min(self.lo, -1), max(self.hi, 1))
        return max(bits if signed else bits + 1, self.min_bits)


@dataclass
class Rom:
    """A weight ROM: one row per fold (nf * SF + sf), the fold's codes in the order the array reads them.

    Row bits: code i at [i * code_bits, (i + 1) * code_bits), i = pe * SIMD + s (complex engine:
    the PE * SIMD codes of A, then those of B).  The HLS project stores a row as `chunks`
    words of `chunk_bits` (<= 64) bits, the RTL project as one `row_bits`-wide word.  The codes
    are computed when first read (planning many candidate foldings only needs the shapes).
    """

    depth: int
    codes_per_row: int
    code_bits: int
    memory: MemoryKind
    make_codes: Callable[[], np.ndarray] | None = field(default=None, repr=False)
    _codes: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def of(cls, codes: np.ndarray, code_bits: int, memory: MemoryKind) -> Rom:
        codes = np.asarray(codes, dtype=np.uint64)
        return cls(int(codes.shape[0]), int(codes.shape[1]), code_bits, memory, _codes=codes)

    @property
    def codes(self) -> np.ndarray:
        """(depth, codes per row) uint64."""
        if self._codes is None:
            codes = np.asarray(self.make_codes(), dtype=np.uint64)
            if codes.shape != (self.depth, self.codes_per_row):
                raise ValueError(f"ROM codes of shape {codes.shape}, planned ({self.depth}, {self.codes_per_row})")
            self._codes = codes
        return self._codes

    @property
    def row_bits(self) -> int:
        return self.codes_per_row * self.code_bits

    @property
    def chunks(self) -> int:
        return max(1, -(-self.row_bits // 64))

    @property
    def chunk_bits(self) -> int:
        return max(1, -(-self.row_bits // self.chunks))

    @property
    def useful_bits(self) -> int:
        return self.depth * self.row_bits

    @property
    def storage_bits(self) -> int:
        """Bits the ROM occupies as stored (the HLS chunked form; the RTL form is exactly useful_bits)."""
        return self.depth * self.chunks * self.chunk_bits

    def row_bit_matrix(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """(rows, row_bits) uint8 of rows start..stop-1: bit j of a row at column j (code i's bit k at
        i * code_bits + k)."""
        codes = self.codes[start:stop]
        if self.code_bits <= 8:  # unpack bytes: 8x less temporary memory than 64-bit shifts
            bits = np.unpackbits(codes.astype(np.uint8)[:, :, None], axis=2, bitorder="little")[:, :, : self.code_bits]
        else:
            bits = ((codes[:, :, None] >> np.arange(self.code_bits, dtype=np.uint64)) & np.uint64(1)).astype(np.uint8)
        return np.ascontiguousarray(bits).reshape(codes.shape[0], self.row_bits)

    def chunk_words(self) -> np.ndarray:
        """(depth, chunks) uint64: row bits [c * chunk_bits, (c + 1) * chunk_bits) in word c."""
        cb, chunks = self.chunk_bits, self.chunks
        bits = np.zeros((self.depth, chunks * cb), dtype=np.uint8)
        bits[:, : self.row_bits] = self.row_bit_matrix()
        wide = np.zeros((self.depth, chunks, 64), dtype=np.uint8)
        wide[:, :, :cb] = bits.reshape(self.depth, chunks, cb)
        packed = np.packbits(wide, axis=2, bitorder="little")  # (depth, chunks, 8) bytes, little-endian
        return np.ascontiguousarray(packed).view("<u8").reshape(self.depth, chunks).astype(np.uint64)

    def row_words(self) -> list[int]:
        """One integer per row (row_bits wide)."""
        if self.chunks == 1:
            return self.chunk_words()[:, 0].tolist()
        packed = np.packbits(self.row_bit_matrix(), axis=1, bitorder="little")  # one int.from_bytes per row
        return [int.from_bytes(row.tobytes(), "little") for row in packed]


@dataclass
class ThresholdTable:
    """out = out_lo + step * (number of thresholds crossed); threshold t of row r crossed when key >= t (up[r])
    or key <= t.  Rows are sorted ascending; levels no key in [key_lo, key_hi] can change are dropped (out_lo
    absorbs those always crossed) and the rest clipped to [key_lo - 1, key_hi + 1], which keeps every
    comparison.  One row per channel of the stream (a flattened map: per value, in stream order)."""

    rows: np.ndarray  # (channels, levels) int64
    up: np.ndarray  # (channels,) bool
    out_lo: int
    step: int
    key_lo: int
    key_hi: int

    @property
    def levels(self) -> int:
        return int(self.rows.shape[1])

    @property
    def channels(self) -> int:
        return int(self.rows.shape[0])


@dataclass(frozen=True)
class Stage:
    name: str  # pad, window, mvau, bias, threshold, collect, pool, global_pool, clamp, add, gather, ...
    cycles: int  # per image


@dataclass(frozen=True)
class Buffer:
    """A line buffer or FIFO the plan places: depth words of width bits, and where it goes."""

    what: str
    depth: int
    width: int
    memory: MemoryKind

    @property
    def bits(self) -> int:
        return self.depth * self.width


@dataclass
class LayerPlan:
    layer: ir.Layer
    stages: list[Stage]
    # Conv / Dense (the MVAU)
    engine: Engine | None = None
    fold: ir.Fold | None = None
    rom: Rom | None = None
    bias: np.ndarray | None = None  # (OC,) int64 added by the MVAU; None when folded into the thresholds
    acc: AccRange | None = None
    # a fused Threshold (Conv/Dense) or the layer itself (Threshold)
    threshold: ThresholdTable | None = None
    threshold_layer: ir.Threshold | None = None
    # Clamp: the bounds the input can pass (None = dropped)
    clamp: tuple[int | None, int | None] | None = None
    # pools: padding fill value; global pools need no line buffer
    fill: int = 0
    global_pool: bool = False
    window: bool = False  # a sliding-window unit in front (Conv, pools)
    buffers: list[Buffer] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def output(self) -> str:
        """The tensor this unit writes (a fused threshold's output)."""
        return self.threshold_layer.output if self.threshold_layer is not None else self.layer.output

    @property
    def cycles(self) -> int:
        return max((s.cycles for s in self.stages), default=0)


@dataclass
class HardwarePlan:
    graph: ir.Graph
    board: Board
    engine_option: str
    layers: list[LayerPlan]  # every live layer but Flatten-free fused thresholds, in graph order
    input_beats: int
    output_beats: int
    fifo_depth: dict[str, int]  # tensor -> beats of slack in front of its readers
    layouts: dict = field(default_factory=dict)  # tensor -> the (C, H, W) its stream order comes from (nbq.plan.layout)

    def __post_init__(self) -> None:
        self._by_name = {p.name: p for p in self.layers}

    @property
    def clock_mhz(self) -> float:
        return float(self.board.clock_mhz)

    def layer(self, name: str) -> LayerPlan:
        return self._by_name[name]

    def get(self, name: str) -> LayerPlan | None:
        return self._by_name.get(name)

    @property
    def mvaus(self) -> list[LayerPlan]:
        return [p for p in self.layers if p.fold is not None]

    @property
    def ii_cycles(self) -> int:
        """Cycles between images: the slowest stage (every stage moves one beat per cycle)."""
        return max([self.input_beats, self.output_beats] + [p.cycles for p in self.layers])

    @property
    def frames_per_s(self) -> float:
        return self.clock_mhz * 1e6 / self.ii_cycles

    @property
    def macs(self) -> int:
        return sum(p.fold.macs for p in self.mvaus)

    @property
    def lanes(self) -> int:
        return sum(p.fold.lanes for p in self.mvaus)

    @property
    def mac_units(self) -> int:
        return sum(p.fold.mac_units for p in self.mvaus)

    @property
    def gops(self) -> float:
        """Useful operations per second (a product and its add count as two)."""
        return 2 * self.macs * self.frames_per_s / 1e9
