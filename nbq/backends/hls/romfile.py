"""Packed weight ROM files (firmware/rom/*.bin) and the C++ that includes their initializers.

A weight ROM reaches the project as its packed bits (the format is documented in
hw/tools/nbq_rom_init.py, the stdlib script the project runs to turn each .bin into the
`0x...ULL,` initializer g++ and Vitis HLS read).  Text headers of a VGG-19-sized graph are
~10x its weight bits; the .bin files are exactly depth x row_bits bits, plus 24 bytes.
"""

from __future__ import annotations

import functools
import importlib.util
import struct
from math import gcd
from types import ModuleType

import numpy as np

from nbq.plan.records import Rom
from nbq.resources import data_dir

MAGIC = b"NBQR"
VERSION = 1
HEADER = struct.Struct("<4s5I")
TOOL = "tools/nbq_rom_init.py"
ROM_DIR = "firmware/rom"
BLOCK_BITS = 1 << 23  # rows are packed in blocks of about this many bits (bounded temporary memory)


def rom_path(name: str, suffix: str = ".bin") -> str:
    """Project-relative path of a ROM's packed file (.bin) or generated initializer (.inc)."""
    return f"{ROM_DIR}/{name}{suffix}"


def include_line(name: str) -> str:
    """The initializer line in a weights header (firmware/weights/*.h): relative to that header."""
    return f'#include "../rom/{name}.inc"'


def rom_bytes(rom: Rom) -> bytes:
    """The .bin file of `rom`: header, then its rows' bits back to back (little-endian bit order)."""
    header = HEADER.pack(MAGIC, VERSION, rom.depth, rom.chunks, rom.chunk_bits, rom.row_bits)
    group = 8 // gcd(rom.row_bits, 8)  # rows per whole number of bytes
    rows = max(group, (BLOCK_BITS // max(rom.row_bits, 1)) // group * group)
    parts = [header]
    for start in range(0, rom.depth, rows):
        parts.append(np.packbits(rom.row_bit_matrix(start, start + rows), bitorder="little").tobytes())
    return b"".join(parts)


@functools.cache
def rom_tool() -> ModuleType:
    """hw/tools/nbq_rom_init.py as a module: the script every project carries (nbq csim runs this copy)."""
    spec = importlib.util.spec_from_file_location("nbq_rom_init", data_dir("hw") / "tools" / "nbq_rom_init.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool
