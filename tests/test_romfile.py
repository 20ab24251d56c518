"""Packed weight ROM files: nbq's writer and the project's stdlib generator agree word for word."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from nbq.backends.hls.cxx import hex_words
from nbq.backends.hls.romfile import HEADER, rom_bytes, rom_tool
from nbq.plan.records import MemoryKind, Rom

SHAPES = [(1, 1, 1), (3, 1, 4), (5, 3, 4), (7, 17, 4), (2, 16, 4), (9, 33, 5), (4, 100, 1), (3, 64, 1),
          (2, 130, 16), (6, 7, 3), (11, 2, 4), (1, 40, 16)]  # (depth, codes per row, code bits)


def _rom(depth: int, n: int, bits: int, seed: int) -> Rom:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2**bits, (depth, n), dtype=np.uint64)
    codes[0] = 2**bits - 1  # all ones: every bit of the first row set
    if depth > 1:
        codes[1] = 0
    return Rom.of(codes, bits, MemoryKind.BRAM)


@pytest.mark.parametrize("shape", SHAPES)
def test_generator_writes_the_inline_initializer(shape):
    rom = _rom(*shape, seed=sum(shape))
    data = rom_bytes(rom)
    assert len(data) == HEADER.size + -(-rom.depth * rom.row_bits // 8)  # exactly the packed bits
    words = list(rom_tool().words(data))
    assert words == rom.chunk_words().ravel().tolist()
    assert rom_tool().initializer(data) == hex_words(rom.chunk_words().ravel()) + "\n"


def test_blocks_of_a_large_rom_join_seamlessly(monkeypatch):
    from nbq.backends.hls import romfile

    rom = _rom(97, 3, 4, seed=1)  # 12-bit rows: two rows per 3 bytes
    whole = rom_bytes(rom)
    monkeypatch.setattr(romfile, "BLOCK_BITS", 30)
    assert rom_bytes(rom) == whole


def test_script_writes_inc_once_and_refuses_bad_files(tmp_path):
    (tmp_path / "firmware" / "rom").mkdir(parents=True)
    (tmp_path / "tools").mkdir()
    tool = tmp_path / "tools" / "nbq_rom_init.py"
    tool.write_text(open(rom_tool().__file__).read())
    rom = _rom(5, 3, 4, seed=2)
    binary = tmp_path / "firmware" / "rom" / "w_a.bin"
    binary.write_bytes(rom_bytes(rom))
    run = [sys.executable, str(tool)]
    assert subprocess.run(run, capture_output=True, text=True).returncode == 0
    inc = binary.with_suffix(".inc")
    assert inc.read_text() == hex_words(rom.chunk_words().ravel()) + "\n"
    os.utime(inc, (1e9 + 10, 1e9 + 10))
    os.utime(binary, (1e9, 1e9))
    inc.write_text("kept")
    os.utime(inc, (1e9 + 10, 1e9 + 10))
    assert subprocess.run(run, capture_output=True).returncode == 0 and inc.read_text() == "kept"  # up to date
    binary.write_bytes(rom_bytes(rom)[:-1])  # truncated, and newer than the .inc
    res = subprocess.run(run, capture_output=True, text=True)
    assert res.returncode == 1 and "w_a.bin" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert inc.read_text() == "kept" and not list(tmp_path.glob("firmware/rom/*.part"))


def test_project_lists_roms_runs_the_tool_and_is_deterministic():
    from hls_graphs import cnn_mixed, golden

    from nbq.backends.hls import project_files
    from nbq.board_catalog import load_board
    from nbq.plan import plan_graph

    g = cnn_mixed()
    x, y = golden(g)
    files = project_files(plan_graph(g, load_board("zcu102")), x, y)
    again = project_files(plan_graph(g, load_board("zcu102")), x, y)
    assert files == again  # byte-identical, binaries included
    manifest = json.loads(files["nbq_project.json"])
    bins = sorted(f for f in files if f.endswith(".bin") and f.startswith("firmware/rom/"))
    assert bins and manifest["rom_init"]["files"] == bins and "tools/nbq_rom_init.py" in manifest["files"]
    assert "firmware/rom/*.inc" in manifest["build_outputs"]
    tcl = files["run_hls.tcl"]
    assert tcl.index("tools/nbq_rom_init.py") < tcl.index("open_project")
    assert "roms: $(ROM_INCS)" in files["Makefile"] and "make roms" in files["hls_config.cfg"]
    for path in bins:  # every header includes its ROM's generated initializer
        name = path.split("/")[-1][: -len(".bin")]
        headers = [text for f, text in files.items() if f.startswith("firmware/weights/")]
        assert any(f'#include "../rom/{name}.inc"' in text for text in headers)
