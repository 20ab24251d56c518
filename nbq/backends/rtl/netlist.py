"""The network as a netlist: valid/ready streams between instances of the hw/rtl modules.

Streams carry one beat per cycle at most: a pixel (all channels of one (h, w)
position, channels-last) or a whole vector.  Elements are two's complement (or
unsigned) integers of the tensor's proven width, element 0 in the low bits.
Everything the top-level template prints - signal widths, parameter literals,
port connections - is computed here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from nbq.backends.escape import sv_string
from nbq.backends.names import NameTable

Layout = tuple[int, int, int] | None  # the (C, H, W) a stream's values come from; None: plain vector


@dataclass
class Stream:
    name: str  # signal prefix
    elems: int  # elements per beat
    bits: int
    signed: bool
    beats: int  # beats per image
    layout: Layout = None  # (C, H, W) of the feature map (pixels) or of a flattened map (vectors)
    pixels: bool = False  # beats are the pixels of `layout` (else each beat is a whole vector)

    @property
    def width(self) -> int:
        return self.elems * self.bits


@dataclass
class Instance:
    module: str
    name: str
    params: list[tuple[str, str]]
    ports: list[tuple[str, str]]
    comment: str


@dataclass
class Netlist:
    streams: list[Stream] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)
    # file -> (words, width); a weight ROM's words are a function, called only when the files are written
    # (the resource estimate builds the netlist for every candidate folding and never reads them)
    mems: dict[str, tuple[list[int] | Callable[[], list[int]], int]] = field(default_factory=dict)
    names: NameTable = field(default_factory=NameTable)

    def stream(self, base: str, elems: int, bits: int, signed: bool, beats: int, layout: Layout = None,
               pixels: bool = False) -> Stream:
        s = Stream(self.names.add(f"s_{base}"), int(elems), int(bits), bool(signed), int(beats), layout, pixels)
        self.streams.append(s)
        return s

    def like(self, base: str, src: Stream, elems: int | None = None, bits: int | None = None,
             signed: bool | None = None) -> Stream:
        """A stream with src's framing (beats, layout) and optionally another element format."""
        return self.stream(base, src.elems if elems is None else elems, src.bits if bits is None else bits,
                           src.signed if signed is None else signed, src.beats, src.layout, src.pixels)

    def add(self, module: str, base: str, params: dict, ports: list[tuple[str, str]], comment: str) -> Instance:
        inst = Instance(module, self.names.add(f"u_{base}"), [(k, literal(v)) for k, v in params.items()],
                        ports, comment)
        self.instances.append(inst)
        return inst

    def stage(self, module: str, base: str, src: Stream, dst: Stream, params: dict, comment: str,
              out_data: str = "out_data", clocked: bool = True) -> Instance:
        """An instance with one input stream (in_*) and one output stream (out_*)."""
        ports = [("clk", "ap_clk"), ("rst_n", "ap_rst_n")] if clocked else []
        ports += [("in_valid", f"{src.name}_valid"), ("in_ready", f"{src.name}_ready"),
                  ("in_data", f"{src.name}_data"), ("out_valid", f"{dst.name}_valid"),
                  ("out_ready", f"{dst.name}_ready"), (out_data, f"{dst.name}_data")]
        return self.add(module, base, params, ports, comment)

    def fifo(self, base: str, src: Stream, depth: int) -> Stream:
        dst = self.like(f"{base}_q", src)
        self.stage("nbq_fifo", f"{base}_fifo", src, dst, {"WIDTH": src.width, "DEPTH": max(2, int(depth))},
                   f"FIFO, {max(2, int(depth))} beats")
        return dst

    def mem(self, name: str, words: list[int] | Callable[[], list[int]], width: int) -> str:
        """Register a ROM table (its words, or a function computing them); returns the SystemVerilog
        expression for its file name."""
        self.mems[name] = (words if callable(words) else [int(w) for w in words], int(width))
        return f'{{MEM_DIR, "/{name}"}}'

    def mem_words(self, name: str) -> list[int]:
        words = self.mems[name][0]
        return words() if callable(words) else words


def literal(value: object) -> str:
    """A SystemVerilog literal for a parameter value (strings of the form {...} pass through)."""
    if isinstance(value, str):
        return value if value.startswith("{") else sv_string(value)
    if isinstance(value, bool | np.bool_):
        return "1'b1" if value else "1'b0"
    v = int(value)
    return str(v) if v >= 0 else f"-{-v}"


def lane_bits(bits: int) -> int:
    """AXI-Stream field width for one element: 8, 16, 32 or 64 bits (a host reads plain int arrays)."""
    lane = 8
    while lane < bits:
        lane *= 2
    return lane
