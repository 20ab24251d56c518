"""How Yosys synth_xilinx -family xcup maps a memory: block RAM, LUT RAM or logic (the rules of its memory_libmap).

* Block RAM (RAMB18E2 = 0.5 RAMB36, RAMB36E2): aspect ratios 16Kx1 ... 512x36 (RAMB18, SDP up to 36
  bits) and 32Kx1 ... 1Kx36, 512x72 (RAMB36, SDP); a memory takes ceil(depth / d) x ceil(width / w)
  blocks of the cheapest shape.  Yosys costs a RAMB18 129 and a RAMB36 257 (brams_xc4v.txt).
* A ROM (no write port) goes to block RAM only when that is cheaper than logic, which Yosys
  costs 1/64 per bit (a LUT6 holds 64 bits): bits / 64 > block cost.  LUT RAM never holds a ROM
  (`prune_rom`), URAM neither (it has no initial contents); a logic ROM's LUTs are fitted per
  surviving bit column (nbq.estimation.model).
* A RAM with asynchronous reads (FIFOs, line buffers) is LUT RAM: RAM32M16 (32 x 14 bits) or
  RAM64M8 (64 x 7 bits), 8 LUT sites each, Yosys cost 16 per primitive; a RAM that costs less as
  flip-flops (1 per bit: a 2 x 4 FIFO) stays in flip-flops.
* A small table read at a registered address (the threshold and bias tables, indexed by the
  fold counter) becomes a registered-read ROM too: Yosys moves the address register into the
  read port, so the table's surviving columns become flip-flops (and may go to block RAM).
* UltraRAM (URAM288, 4K x 72) only with `synth_xilinx -uram`, which nbq's calibration does not use;
  `uram_blocks` is kept for boards whose plans ask for URAM (Vivado infers it from ram_style).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# (depth, width, yosys cost, RAMB36 equivalents)
BRAM_SHAPES = [
    (16384, 1, 129, 0.5), (8192, 2, 129, 0.5), (4096, 4, 129, 0.5), (2048, 9, 129, 0.5), (1024, 18, 129, 0.5),
    (512, 36, 129, 0.5),  # RAMB18E2
    (32768, 1, 257, 1.0), (16384, 2, 257, 1.0), (8192, 4, 257, 1.0), (4096, 9, 257, 1.0), (2048, 18, 257, 1.0),
    (1024, 36, 257, 1.0), (512, 72, 257, 1.0),  # RAMB36E2
]
ROM_LOGIC_COST_PER_BIT = 1 / 64
LUTRAM_SHAPES = [(32, 14, 8), (64, 7, 8)]  # (depth, width, LUT sites): RAM32M16, RAM64M8
LUTRAM_COST = 16
URAM_DEPTH, URAM_WIDTH = 4096, 72


@dataclass(frozen=True)
class BramFit:
    blocks: int  # primitives
    bram36: float  # RAMB36 equivalents
    cost: int  # Yosys cost


def bram_fit(depth: int, width: int) -> BramFit:
    """The cheapest block-RAM tiling of depth x width (RAMB18 and RAMB36 shapes)."""
    best = None
    for d, w, cost, b36 in BRAM_SHAPES:
        n = math.ceil(depth / d) * math.ceil(width / w)
        fit = BramFit(n, n * b36, n * cost)
        if best is None or (fit.cost, fit.bram36) < (best.cost, best.bram36):
            best = fit
    return best


def rom_in_bram(depth: int, width: int) -> bool:
    """Does Yosys put this (registered-read) ROM into block RAM?"""
    if depth <= 1 or width <= 0:
        return False
    return depth * width * ROM_LOGIC_COST_PER_BIT > bram_fit(depth, width).cost


@dataclass(frozen=True)
class LutramFit:
    prims: int
    sites: int  # LUT6 sites


def lutram_fit(depth: int, width: int) -> LutramFit:
    best = None
    for d, w, sites in LUTRAM_SHAPES:
        n = math.ceil(depth / d) * math.ceil(width / w)
        fit = LutramFit(n, n * sites)
        if best is None or fit.sites < best.sites:
            best = fit
    return best


def ram_in_lutram(depth: int, width: int) -> bool:
    """Does Yosys put this asynchronous-read RAM into LUT RAM (else flip-flops)?"""
    if depth <= 1 or width <= 0:
        return False
    best = min(math.ceil(depth / d) * math.ceil(width / w) * LUTRAM_COST for d, w, _s in LUTRAM_SHAPES)
    return best < depth * width


def uram_blocks(depth: int, width: int) -> int:
    return math.ceil(depth / URAM_DEPTH) * math.ceil(width / URAM_WIDTH)
