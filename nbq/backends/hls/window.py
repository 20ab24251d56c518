"""Geometry of a sliding-window unit (hw/include/nbq/window.h) and its exact cycle count.

The C++ schedule walks the padded input once plus one step; step p reads the words of
position p and emits the window ending at position p - 1: max(reads, emits, 1) cycles.
`beats()` evaluates the same rule (vectorised), and the C++ loop runs exactly that many
cycles, so a mistake on either side shows up as a stream left unread in C-simulation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nbq.errors import UnsupportedModelError


@dataclass(frozen=True)
class Geometry:
    c: int
    h: int
    w: int
    kernel: tuple[int, int]
    strides: tuple[int, int]
    dilations: tuple[int, int]
    pads: tuple[int, int, int, int]  # top, left, bottom, right
    out_hw: tuple[int, int]
    in_beat: int  # channels per input word
    emit: int  # words per window
    pad_value: int = 0
    # memory banks of the line buffer (ARRAY_PARTITION cyclic factors), so one word is written and one
    # word emitted per cycle: over channels, and over columns when a word spans kernel columns
    channel_banks: int = 1
    column_banks: int = 1

    def __post_init__(self) -> None:
        if self.c % self.in_beat:
            raise UnsupportedModelError(f"input words of {self.in_beat} values do not divide {self.c} channels")

    @property
    def span(self) -> tuple[int, int]:
        return tuple((k - 1) * d + 1 for k, d in zip(self.kernel, self.dilations, strict=True))

    @property
    def padded(self) -> tuple[int, int]:
        pt, pl, pb, pr = self.pads
        return self.h + pt + pb, self.w + pl + pr

    @property
    def rows(self) -> int:
        """Line-buffer rows: a power of two above the window's height (see window.h)."""
        rows = 1
        while rows <= self.span[0]:
            rows *= 2
        return rows

    def beats(self) -> int:
        """Cycles per image of the window schedule."""
        (ph, pw), (sh, sw), (oh, ow) = self.padded, self.strides, self.out_hw
        pt, pl = self.pads[:2]
        rr, cc = np.arange(ph), np.arange(pw)
        real = ((rr >= pt) & (rr < pt + self.h))[:, None] & ((cc >= pl) & (cc < pl + self.w))[None, :]
        reads = np.append(real.ravel() * (self.c // self.in_beat), 0)  # + the final step, which reads nothing

        def ends(pos: np.ndarray, span: int, stride: int, count: int) -> np.ndarray:
            k = pos - (span - 1)
            return (k >= 0) & (k % stride == 0) & (k // stride < count)

        window = ends(rr, self.span[0], sh, oh)[:, None] & ends(cc, self.span[1], sw, ow)[None, :]
        emits = np.concatenate([[0], window.ravel() * self.emit])  # step p emits the window ending at p - 1
        return int(np.maximum(np.maximum(reads, emits), 1).sum())

    def consts(self) -> dict[str, int]:
        (ph, pw), (kh, kw), (sh, sw), (dh, dw) = self.padded, self.kernel, self.strides, self.dilations
        return {
            "C": self.c, "H": self.h, "W": self.w, "KH": kh, "KW": kw, "SH": sh, "SW": sw, "DH": dh, "DW": dw,
            "PAD_T": self.pads[0], "PAD_L": self.pads[1], "PH": ph, "PW": pw, "OUT_H": self.out_hw[0],
            "OUT_W": self.out_hw[1], "IN_BEAT": self.in_beat, "ROWS": self.rows, "EMIT": self.emit,
            "BEATS": self.beats(), "CH_BANKS": self.channel_banks, "COL_BANKS": self.column_banks,
        }  # fmt: skip


def banks(c: int, in_beat: int, chunk_channels: int | None, kw: int, dw: int) -> tuple[int, int]:
    """(channel banks, column banks) of a line buffer whose words hold `chunk_channels` consecutive
    channels of one tap (None: a word spans taps, or channels far apart - every channel its own bank,
    and the KW columns a kernel row touches in distinct banks)."""
    if chunk_channels is None:
        return c, kw * dw if kw > 1 else 1
    return math.lcm(in_beat, chunk_channels), 1
