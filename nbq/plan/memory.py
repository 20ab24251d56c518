"""Where a memory goes: LUTRAM, block RAM or UltraRAM (FIFOs: shift registers too), by depth x width.

Rules (Xilinx UltraScale+ primitives; the numbers are the primitives' shapes):

* a FIFO of at most 32 words is a shift register (SRL32: one LUT per bit of width);
* a ROM, line buffer or FIFO of at most 64 words, or of at most 4 Kbit, is LUTRAM: a LUT6 holds
  64 x 1 bits, while the smallest block RAM (RAMB18, 18 Kbit) would be mostly empty;
* on a board with UltraRAM, a RAM (line buffer, FIFO) of at least 128 Kbit (almost half a 288 Kbit
  URAM, 4K x 72) whose words are at least 36 bits wide is URAM; never a ROM: UltraScale+ UltraRAM
  has no initial contents in the bitstream (only Versal's can be initialized), so a weight ROM
  there would need a load path nbq does not generate;
* everything else is block RAM.
"""

from __future__ import annotations

from nbq.plan.records import MemoryKind

SRL_DEPTH = 32
LUTRAM_DEPTH = 64
LUTRAM_BITS = 4096
URAM_MIN_BITS = 128 * 1024
URAM_MIN_WIDTH = 36


def memory_kind(depth: int, width: int, has_uram: bool, fifo: bool = False, rom: bool = False) -> MemoryKind:
    bits = depth * width
    if fifo and depth <= SRL_DEPTH:
        return MemoryKind.SRL
    if depth <= LUTRAM_DEPTH or bits <= LUTRAM_BITS:
        return MemoryKind.LUTRAM
    if has_uram and not rom and bits >= URAM_MIN_BITS and width >= URAM_MIN_WIDTH:
        return MemoryKind.URAM
    return MemoryKind.BRAM
