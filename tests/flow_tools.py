"""Helpers for the board-flow tests: a PATH without AMD tools, and stand-in tools that log their calls."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

# What the generated Makefiles' recipes and the stand-in tools call besides the AMD tools
BASICS = ("sh", "make", "find", "head", "cp", "rm", "dirname", "mkdir", "touch", "cat", "sed", "g++", "as", "ld")


def tool_free_bin(folder: Path) -> Path:
    """A folder holding links to the basic tools only: PATH=<it> simulates a machine without Vitis,
    Vivado and XRT even where they are installed."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in BASICS:
        found = shutil.which(name)
        if found and not (folder / name).exists():
            (folder / name).symlink_to(found)
    if not (folder / "python3").exists():  # the projects' ROM initializer script (tools/nbq_rom_init.py)
        (folder / "python3").symlink_to(sys.executable)
    return folder


def tool_free_env(folder: Path, **extra: str) -> dict[str, str]:
    """The current environment with PATH = tool_free_bin(folder) and no Xilinx install variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XILINX_", "XCL_"))}
    for var in ("VITIS_HLS", "VPP", "VITIS_RUN", "VIVADO", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(var, None)
    env["PATH"] = str(tool_free_bin(folder))
    env.update(extra)
    return env


def fake_tool(folder: Path, name: str, body: str = "") -> Path:
    """A shell script `name` that appends `name args...` (and NBQ_STEPS) to $FAKE_LOG, then runs `body`."""
    script = folder / name
    script.write_text(f'#!/bin/sh\necho "{name} $* [steps=$NBQ_STEPS]" >> "$FAKE_LOG"\n{body}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


# vitis_hls -f run_hls.tcl with NBQ_STEPS="csynth export": leave what the real export leaves
FAKE_VITIS_HLS = """
prj=$(sed -n 's/^open_project //p' run_hls.tcl)
mkdir -p "$prj/solution1/impl/ip"
touch "$prj/solution1/impl/export.xo" "$prj/solution1/impl/ip/component.xml"
"""
# v++ -l ... -o FILE: write FILE; v++ -c: leave an .xo in the work dir
FAKE_VPP = """
out=""; prev=""
for a in "$@"; do [ "$prev" = "-o" ] && out=$a; prev=$a; done
[ -n "$out" ] && touch "$out"
exit ${FAKE_VPP_EXIT:-0}
"""
