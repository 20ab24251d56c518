"""Write a complete, self-contained Vitis HLS project for one graph and one board."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from nbq import ir
from nbq.backends.escape import (
    cfg_value,
    check_no_raw_strings,
    comment_text,
    label,
    markdown_text,
    tcl_word,
    user_strings,
)
from nbq.backends.hls import romfile
from nbq.backends.hls.bindata import batch_bytes
from nbq.backends.hls.cxx import ap_type, hex_words
from nbq.backends.hls.flow import Names, bus_format, flow_context, flow_files, manifest_entries
from nbq.backends.hls.layers import CArray, LayerContext, ProcessCode
from nbq.backends.hls.outputs import build_outputs, check_project_target
from nbq.backends.hls.printers import process_code
from nbq.backends.hls.streams import wire
from nbq.backends.hls.testbench import dat_text, golden_pair
from nbq.backends.names import c_identifier
from nbq.backends.outdir import replace_folder
from nbq.backends.render import render
from nbq.errors import NbqError
from nbq.formats import bits_for_range
from nbq.plan.layout import to_stream
from nbq.plan.records import HardwarePlan
from nbq.plan.report import performance, stage_table
from nbq.resources import data_dir

MANIFEST = "nbq_project.json"
MANIFEST_VERSION = 1
MAX_REPORTED = 20
STREAM_WORDS = (
    "inside the core every stream word carries N values side by side (nbq::vec<T, N>): N consecutive "
    "channels of one pixel (N divides C), or N consecutive vector elements; a Conv/Dense writes PE-wide words, "
    "other layers keep their input's width, regroup processes convert where a reader needs another width; "
    "the core's ports carry one value per transfer"
)
_GENERATED = re.compile(r"(t|s|cfg|w|b|th|up|run)_")  # prefixes of generated identifiers


def write_hls_project(
    plan: HardwarePlan,
    out_dir: Path,
    golden_inputs: np.ndarray | None,
    golden_outputs: dict[str, np.ndarray] | None,
    top_name: str = "nbq_top",
    extra_files: dict[str, str | bytes] | None = None,
    keep: tuple[str, ...] = (),
) -> list[Path]:
    """Write a complete Vitis HLS project of a planned design; return the written files (relative paths, sorted).

    extra_files: more files of the project (reports, the folding), written and listed with the rest.
    keep: folders of an earlier project in out_dir carried into the new one (e.g. the RTL simulation builds).
    An existing out_dir is replaced only when everything in it is nbq's (see nbq.backends.outdir).

    Without golden inputs the testbench gets self-checking vectors (random, all-min, all-max,
    alternating) whose outputs come from nbq.reference; without golden outputs they are computed.
    """
    shown = str(out_dir)
    out_dir = check_project_target(out_dir)
    files = project_files(plan, golden_inputs, golden_outputs, top_name, extra_files)
    replace_folder(out_dir, files, keep, shown)
    return sorted(Path(name) for name in files)


@dataclass
class Core:
    """The DATAFLOW core of one graph: wiring, per-process code and the values its templates use."""

    ctx: LayerContext
    procs: list[ProcessCode]
    streams: list[dict]
    tensor_types: list[dict]
    input_type: str
    output_type: str

    @property
    def configs(self) -> list:
        return [cfg for p in self.procs for cfg in p.configs]

    @property
    def weight_headers(self) -> list[str]:
        return [p.header for p in self.procs if p.header is not None]

    @property
    def layer_infos(self) -> list[dict]:
        return [p.info for p in self.procs if p.info is not None]


def build_core(plan: HardwarePlan) -> Core:
    wiring = wire(plan)  # checks that it is a plan
    graph = plan.graph
    layouts = plan.layouts
    ctx = LayerContext(plan, wiring, layouts)
    procs = [process_code(p, ctx) for p in wiring.processes]
    streams = [*wiring.streams, *(s for p in procs for s in p.streams)]
    (x_name,), (y_name,) = graph.inputs, graph.outputs
    x, y_stream = ctx.tensor(x_name), ctx.tensor(wiring.root[y_name])  # a flattened output: its source's type
    flows = [x_name] + [u.output for u in wiring.units if not isinstance(u.layer, ir.Flatten)]
    return Core(
        ctx,
        procs,
        [{"name": s.name, "ctype": s.ctype or ctx.word_type(s.tensor, s.width), "depth": s.depth, "storage": None}
         for s in streams],
        [_tensor_type(ctx, name) for name in flows],
        ap_type(x.lo, x.hi),
        ap_type(y_stream.lo, y_stream.hi),
    )


def core_code(plan: HardwarePlan, top_name: str = "nbq_top") -> str:
    """The core alone as one C++ fragment (types, configs, constants, the DATAFLOW function), without
    includes, guards or board wrapper: many graphs fit in one translation unit, each in its own
    namespace (the engine tests C-simulate hundreds of configurations with one g++ call)."""
    core = build_core(plan)
    graph = plan.graph
    x, y = (core.ctx.tensor(name) for name in (*graph.inputs, *graph.outputs))
    common = {"bare": True, "top": top_name, "graph_name": label(graph.name or "graph"),
              "in_size": x.size, "out_size": y.size, "flow": "", "input_type": core.input_type,
              "output_type": core.output_type}  # fmt: skip
    parts = [render("hls", "parameters.h.j2", tensor_types=core.tensor_types, configs=core.configs, **common)]
    parts += [render("hls", "weights.h.j2", guard="", layer_comment=p.comment, arrays=inline_roms(p.arrays),
                     calls=p.calls, bare=True)
              for p in core.procs if p.header is not None]  # fmt: skip
    parts.append(render("hls", "top.cpp.j2", weight_headers=[], streams=core.streams, processes=core.procs,
                        board="", part="", **common))  # fmt: skip
    return "\n".join(parts)


def project_files(
    plan: HardwarePlan,
    golden_inputs: np.ndarray | None,
    golden_outputs: dict[str, np.ndarray] | None,
    top_name: str = "nbq_top",
    extra_files: dict[str, str | bytes] | None = None,
) -> dict[str, str | bytes]:
    """Every file of the project, relative path -> text (binary batch files: bytes; nothing touches the disk)."""
    if c_identifier(top_name) != top_name or _GENERATED.match(top_name):
        raise NbqError(
            f"top name '{top_name}' must be a C identifier (letters, digits, single underscores)"
            " that does not start with t_, s_, cfg_, w_, b_, th_, up_ or run_ (generated names)"
        )
    core = build_core(plan)
    graph, board, engine = plan.graph, plan.board, plan.engine_option
    ctx, wiring = core.ctx, core.ctx.wiring
    layouts = ctx.layouts

    (x_name,), (y_name,) = graph.inputs, graph.outputs
    x, y = ctx.tensor(x_name), ctx.tensor(y_name)
    y_stream = ctx.tensor(wiring.root[y_name])  # a flattened output travels in its source's type
    word_bits = 8
    while word_bits < max(x.bits, y_stream.bits):
        word_bits *= 2
    inputs, outputs = golden_pair(graph, golden_inputs, golden_outputs)
    n_images = int(inputs.shape[0])
    wrapper = f"{top_name}_axis" if board.flow == "vivado" else f"{top_name}_krnl"
    names = Names(top_name, wrapper)
    bus = bus_format(board, word_bits, x.size, y.size)
    perf = performance(plan)
    common = {
        "bare": False,
        "top": top_name,
        "wrapper": wrapper,
        # board fields were checked by nbq.board_schema; each still goes through its file's escaper
        "board": comment_text(board.name),
        "part": comment_text(board.part),
        "part_tcl": tcl_word(board.part),
        "part_cfg": cfg_value(board.part),
        "flow": board.flow,
        "graph_name": label(graph.name or "graph"),
        "clock_mhz": _number(board.clock_mhz),
        "clock_period": f"{board.clock_period_ns:.3f}",
        "project_name": f"{top_name}_prj",
        "export_format": "ip_catalog" if board.flow == "vivado" else "xo",
        "export_what": "Vivado IP (ip_catalog)" if board.flow == "vivado" else "Vitis kernel (.xo)",
        "in_size": x.size,
        "out_size": y.size,
        "in_depth": bus.in_words * n_images,  # m_axi depths, in bus words (C/RTL co-simulation only)
        "out_depth": bus.out_words * n_images,
        "input_type": core.input_type,
        "output_type": core.output_type,
        "word_bits": word_bits,
        "tb_images": n_images,
        "max_reported": MAX_REPORTED,
        "engine": engine,
        "ii_cycles": plan.ii_cycles,
        "fps": _number(round(plan.frames_per_s, 1)),
        "fps_text": f"{plan.frames_per_s:,.0f}",
        "slowest": markdown_text(label(perf["slowest"])),
        **flow_context(board, names, bus),
    }
    files: dict[str, str | bytes] = {}
    files["firmware/parameters.h"] = render(
        "hls", "parameters.h.j2", tensor_types=core.tensor_types, configs=core.configs, **common
    )
    roms: list[str] = []
    for p in core.procs:
        if p.header is not None:
            files[f"firmware/{p.header}"] = render(
                "hls",
                "weights.h.j2",
                guard=f"NBQ_WEIGHTS_{p.ident.upper()}_H",
                layer_comment=p.comment,
                arrays=included_roms(p.arrays, files, roms),
                calls=p.calls,
                bare=False,
            )
    if roms:
        files[romfile.TOOL] = (data_dir("hw") / "tools" / "nbq_rom_init.py").read_text()
    common["rom_files"] = roms
    files[f"firmware/{top_name}.h"] = render("hls", "top.h.j2", guard=f"{top_name.upper()}_H", **common)
    files[f"firmware/{top_name}.cpp"] = render(
        "hls",
        "top.cpp.j2",
        weight_headers=core.weight_headers,
        streams=core.streams,
        processes=core.procs,
        **common,
    )
    for header in sorted((data_dir("hw") / "include" / "nbq").glob("*.h")):
        files[f"firmware/nbq/{header.name}"] = header.read_text()
    files[f"tb/{top_name}_tb.cpp"] = render("hls", "tb.cpp.j2", **common)
    files["tb_data/inputs.dat"] = dat_text(inputs, layouts[x_name])
    files["tb_data/golden.dat"] = dat_text(outputs, layouts[y_name])
    if board.flow == "vitis":  # the XRT host reads binary batches
        files["tb_data/inputs.bin"] = batch_bytes(to_stream(inputs, layouts[x_name]))
        files["tb_data/golden.bin"] = batch_bytes(to_stream(outputs, layouts[y_name]))
    signed = (bits_for_range(x.lo, x.hi)[1], bits_for_range(y_stream.lo, y_stream.hi)[1])
    files.update(flow_files(board, names, common, signed))
    files["run_hls.tcl"] = render("hls", "run_hls.tcl.j2", **common)
    files["hls_config.cfg"] = render("hls", "hls_config.cfg.j2", **common)
    files["Makefile"] = render("hls", "Makefile.j2", **common)
    layer_infos = core.layer_infos
    files["README.md"] = render(
        "hls",
        "README.md.j2",
        n_layers=len(layer_infos),
        n_weights=sum(info.get("weights", 0) for info in layer_infos),
        layers=[{**info, "name": markdown_text(label(info["name"]))} for info in layer_infos],
        **common,
    )
    manifest = {
        "nbq_project": MANIFEST_VERSION,
        "top": top_name,
        "wrapper": wrapper,
        "board": board.name,
        "part": board.part,
        "platform": board.platform,
        "flow": board.flow,
        "clock_mhz": _number(board.clock_mhz),
        "clock_period_ns": round(board.clock_period_ns, 3),
        "graph": graph.name,
        "engine": engine,
        "input": _io_entry(x, layouts[x_name]),
        "output": _io_entry(y, layouts[y_name]),
        "layers": layer_infos,
        "pipeline": {**perf, "fps_at_clock": common["fps"], "stages": stage_table(plan)},
        "stream_order": "channels-last (H, W, C with C fastest)",
        "stream_words": STREAM_WORDS,
        "packing": common["packing"],
        "word_bits": word_bits,
        "tb_images": n_images,
        "build_outputs": build_outputs(top_name, board.flow),
        "csim": {"sources": [f"firmware/{top_name}.cpp", f"tb/{top_name}_tb.cpp"], "include": "firmware"},
        "rom_init": {"tool": romfile.TOOL if roms else None, "files": roms,
                     "outputs": [romfile.rom_path(Path(r).stem, ".inc") for r in roms]},
        **manifest_entries(board, names, bus),
    }
    files.update(extra_files or {})
    manifest["files"] = sorted([*files, MANIFEST])
    files[MANIFEST] = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    check_no_raw_strings(files, user_strings(graph, board))
    return files


def inline_roms(arrays: list[CArray]) -> list[CArray]:
    """Weight ROMs with their initializers as text (one translation unit, no build step)."""
    return [replace(a, body=hex_words(a.rom.chunk_words().ravel())) if a.rom is not None else a for a in arrays]


def included_roms(arrays: list[CArray], files: dict[str, str | bytes], roms: list[str]) -> list[CArray]:
    """Weight ROMs as packed files (added to `files`, listed in `roms`) whose initializers the project's
    build step generates; the arrays include them."""
    out = []
    for a in arrays:
        if a.rom is not None:
            path = romfile.rom_path(a.name)
            files[path] = romfile.rom_bytes(a.rom)
            roms.append(path)
            a = replace(a, body=romfile.include_line(a.name))
        out.append(a)
    return out


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _tensor_type(ctx: LayerContext, name: str) -> dict:
    t = ctx.tensor(name)
    return {
        "name": ctx.type_name(name),
        "ctype": ap_type(t.lo, t.hi),
        "comment": f"{label(name)}: [{t.lo}, {t.hi}], shape {tuple(t.shape)}",
    }


def _io_entry(t: ir.Tensor, layout: tuple[int, int, int] | None) -> dict:
    bits, signed = bits_for_range(t.lo, t.hi)
    return {
        "name": t.name,
        "shape": [int(s) for s in t.shape],
        "size": t.size,
        "lo": int(t.lo),
        "hi": int(t.hi),
        "bits": bits,
        "signed": signed,
        "scale": float(t.scale),
        "stream_shape": [layout[1], layout[2], layout[0]] if layout else [t.size],
    }
