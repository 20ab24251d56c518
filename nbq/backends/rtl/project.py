"""Write the streaming RTL of a compiled graph: top-level SystemVerilog, engine sources, ROM tables, manifest.

Output (all inside out_dir/rtl/):
  <top>.sv          the network: AXI-Stream in -> layers chained by valid/ready streams -> AXI-Stream out
  nbq_*.sv          the engine library (copied from hw/rtl, so the folder is self-contained)
  *.mem             $readmemh tables: weights, thresholds, biases (found through the MEM_DIR parameter)
  files.f           the sources in compile order
  nbq_rtl.json      manifest: stream formats, folding, cycle model, golden data (read by nbq.sim.cosim)
  tb/golden_*.npy   golden inputs and outputs (integers, logical layout) from the reference executor
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from nbq import ir
from nbq.backends.escape import check_no_raw_strings, comment_text, label, user_strings
from nbq.backends.hls.outputs import RTL_SIM_DIRS, rtl_owned
from nbq.backends.names import c_identifier
from nbq.backends.outdir import Owned, check_replaceable, replace_folder
from nbq.backends.render import render
from nbq.backends.rtl import memfiles, stream_ops
from nbq.backends.rtl.layers import Builder
from nbq.backends.rtl.netlist import Stream, lane_bits
from nbq.board_catalog import Board
from nbq.errors import InternalError, NbqError, UnsupportedModelError
from nbq.plan.records import HardwarePlan
from nbq.plan.report import stage_table
from nbq.resources import data_dir

RTL_DIR = "rtl"
MANIFEST = "nbq_rtl.json"
MANIFEST_VERSION = 1


def _stream_info(s: Stream, tensor: ir.Tensor) -> dict:
    return {
        "tensor": tensor.name, "shape": [int(v) for v in tensor.shape], "elems": s.elems, "bits": s.bits,
        "signed": s.signed, "lane": lane_bits(s.bits), "beats": s.beats, "pixels": s.pixels,
        "layout": list(s.layout) if s.layout is not None else None,
    }  # fmt: skip


def _input_stream(b: Builder, t: ir.Tensor) -> Stream:
    if len(t.shape) == 3:
        c, h, w = (int(v) for v in t.shape)
        return b.net.stream("in", c, t.bits, t.signed, h * w, (c, h, w), True)
    if len(t.shape) == 1:
        return b.net.stream("in", t.shape[0], t.bits, t.signed, 1)
    raise UnsupportedModelError(f"input '{t.name}' has shape {t.shape}; the RTL backend streams (C,H,W) or (F,)")


def build_network(plan: HardwarePlan) -> tuple[Builder, Stream, Stream]:
    """The netlist of a planned single-input, single-output graph: returns (builder, input stream, output stream)."""
    graph = plan.graph
    b = Builder(graph, plan)
    uses: dict[str, int] = {}
    for p in plan.layers:
        for name in p.layer.inputs:
            uses[name] = uses.get(name, 0) + 1
    for name in graph.outputs:
        uses[name] = uses.get(name, 0) + 1
    ready: dict[str, list[Stream]] = {}

    def publish(name: str, s: Stream) -> None:
        n = uses.get(name, 0)
        if n <= 1:
            ready[name] = [b.net.fifo(name, s, plan.fifo_depth[name])]
            return
        outs = [b.net.like(f"{name}_br{i}", s) for i in range(n)]
        b.net.add("nbq_fork", f"{name}_fork", {"WIDTH": s.width, "N": n},
                  [("clk", "ap_clk"), ("rst_n", "ap_rst_n"), ("in_valid", f"{s.name}_valid"),
                   ("in_ready", f"{s.name}_ready"), ("in_data", f"{s.name}_data"),
                   ("out_valid", "{" + ", ".join(f"{o.name}_valid" for o in reversed(outs)) + "}"),
                   ("out_ready", "{" + ", ".join(f"{o.name}_ready" for o in reversed(outs)) + "}"),
                   ("out_data", "{" + ", ".join(f"{o.name}_data" for o in reversed(outs)) + "}")],
                  f"{label(name)} feeds {n} consumers")
        ready[name] = [b.net.fifo(o.name[2:], o, plan.fifo_depth[name]) for o in outs]

    x = b.tensor(graph.inputs[0])
    s_in = _input_stream(b, x)
    publish(x.name, s_in)
    for p in plan.layers:
        layer = p.layer
        srcs = [ready[name].pop(0) for name in layer.inputs]
        if isinstance(layer, ir.Conv):
            out = b.conv(p, srcs[0])
        elif isinstance(layer, ir.Dense):
            out = b.dense(p, srcs[0])
        elif isinstance(layer, ir.Threshold):
            out = b.threshold(p, srcs[0])
        elif isinstance(layer, ir.Clamp):
            out = b.clamp(p, srcs[0])
        elif isinstance(layer, ir.MaxPool | ir.SumPool):
            out = b.pool(p, srcs[0])
        elif isinstance(layer, ir.Flatten):
            out = b.flatten(layer, srcs[0])
        elif isinstance(layer, ir.Add):
            out = b.add(layer, srcs[0], srcs[1])
        elif isinstance(layer, ir.Concat):
            out = stream_ops.concat(b, layer, srcs)
        elif isinstance(layer, ir.ChannelPermute):
            out = stream_ops.permute(b, layer, srcs[0])
        else:
            raise InternalError(f"the RTL backend has no printer for planned {layer.op} layer '{layer.name}'")
        publish(p.output, out)
    s_out = ready[graph.outputs[0]].pop(0)
    _axis_adapters(b, s_in, s_out)
    return b, s_in, s_out


def _axis_adapters(b: Builder, s_in: Stream, s_out: Stream) -> None:
    b.net.add("nbq_axis_in", "axis_in", {"ELEMS": s_in.elems, "E_BITS": s_in.bits, "LANE": lane_bits(s_in.bits)},
              [("s_TDATA", "in_r_TDATA"), ("s_TVALID", "in_r_TVALID"), ("s_TREADY", "in_r_TREADY"),
               ("s_TLAST", "in_r_TLAST"), ("out_valid", f"{s_in.name}_valid"), ("out_ready", f"{s_in.name}_ready"),
               ("out_data", f"{s_in.name}_data")], "AXI-Stream in_r -> input stream")
    b.net.add("nbq_axis_out", "axis_out",
              {"ELEMS": s_out.elems, "E_BITS": s_out.bits, "E_SIGNED": s_out.signed, "LANE": lane_bits(s_out.bits),
               "BEATS": s_out.beats},
              [("clk", "ap_clk"), ("rst_n", "ap_rst_n"), ("in_valid", f"{s_out.name}_valid"),
               ("in_ready", f"{s_out.name}_ready"), ("in_data", f"{s_out.name}_data"), ("m_TDATA", "out_r_TDATA"),
               ("m_TVALID", "out_r_TVALID"), ("m_TREADY", "out_r_TREADY"), ("m_TLAST", "out_r_TLAST")],
              "output stream -> AXI-Stream out_r")


def project_files(plan: HardwarePlan, golden_inputs: np.ndarray | None,
                  golden_outputs: dict[str, np.ndarray] | None, top_name: str = "nbq_top") -> dict[str, bytes]:
    """Every file of the RTL project of a planned design: path relative to the rtl/ folder -> contents."""
    if not isinstance(plan, HardwarePlan):
        raise InternalError("the RTL backend needs a hardware plan (nbq.plan.plan_hardware), got "
                            f"{type(plan).__name__}")
    graph, board = plan.graph, plan.board
    lib = sorted((data_dir("hw") / "rtl").glob("nbq_*.sv"))
    if c_identifier(top_name) != top_name or top_name in {p.stem for p in lib}:
        raise NbqError(f"top name '{top_name}' must be an identifier other than the hw/rtl module names")
    b, s_in, s_out = build_network(plan)
    x, y = b.tensor(graph.inputs[0]), b.tensor(graph.outputs[0])
    files: dict[str, bytes] = {p.name: p.read_bytes() for p in lib}
    for name, (_, width) in sorted(b.net.mems.items()):
        files[name] = memfiles.hex_lines(b.net.mem_words(name), width).encode()
    files[f"{top_name}.sv"] = _render_top(graph, board, b, s_in, s_out, top_name, plan.ii_cycles)
    sources = [p.name for p in lib] + [f"{top_name}.sv"]
    files["files.f"] = "".join(f"{s}\n" for s in sources).encode()
    manifest = {
        "version": MANIFEST_VERSION, "top": top_name, "graph": graph.name, "board": board.name,
        "part": board.part, "clock_mhz": board.clock_mhz, "sources": sources, "mems": sorted(b.net.mems),
        "input": _stream_info(s_in, x), "output": _stream_info(s_out, y),
        "layers": b.layers, "stages": stage_table(plan),
        "model": {
            "ii_cycles": plan.ii_cycles, "macs": plan.macs, "lanes": plan.lanes, "mac_units": plan.mac_units,
            "clock_mhz": plan.clock_mhz, "frames_per_s": plan.frames_per_s, "folding": graph.meta.get("folding", {}),
        },
    }  # fmt: skip
    if golden_inputs is not None:
        gx = np.asarray(golden_inputs, dtype=np.int64).reshape((-1,) + tuple(x.shape))
        gy = golden_outputs[graph.outputs[0]] if golden_outputs is not None else None
        if gy is None:
            from nbq.reference import run_int

            gy = run_int(graph, gx)[graph.outputs[0]]
        files["tb/golden_inputs.npy"] = _npy(gx)
        files["tb/golden_outputs.npy"] = _npy(np.asarray(gy, dtype=np.int64))
        manifest["golden"] = {"inputs": "tb/golden_inputs.npy", "outputs": "tb/golden_outputs.npy",
                              "images": int(gx.shape[0])}
    manifest["nbq_rtl"] = MANIFEST_VERSION
    manifest["files"] = sorted([*files, MANIFEST])
    files[MANIFEST] = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    check_no_raw_strings(files, user_strings(graph, board))
    return files


def _describe(s: Stream) -> str:
    if s.pixels:
        return f"pixel of {s.elems} x {'int' if s.signed else 'uint'}{s.bits}"
    return f"vector of {s.elems} x {'int' if s.signed else 'uint'}{s.bits}"


def _render_top(graph: ir.Graph, board: Board, b: Builder, s_in: Stream, s_out: Stream, top: str,
                ii_cycles: int) -> bytes:
    streams = [{"name": s.name, "msb": s.width - 1,
                "comment": f"{s.elems} x {'int' if s.signed else 'uint'}{s.bits}, {s.beats} beats/image"}
               for s in b.net.streams]
    layers = [{**la, "name_c": label(la["name"])} for la in b.layers]
    instances = [{"module": i.module, "name": i.name, "params": i.params, "ports": i.ports,
                  "comment": comment_text(i.comment)} for i in b.net.instances]
    return render(
        "rtl", "top.sv.j2", top=top, graph_name=label(graph.name), board=comment_text(board.name),
        part=comment_text(board.part),
        in_desc=_describe(s_in), out_desc=_describe(s_out), in_lane=lane_bits(s_in.bits),
        out_lane=lane_bits(s_out.bits), in_msb=s_in.elems * lane_bits(s_in.bits) - 1,
        out_msb=s_out.elems * lane_bits(s_out.bits) - 1, streams=streams, instances=instances, layers=layers,
        ii_cycles=ii_cycles,
    ).encode()


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def write_rtl_project(plan: HardwarePlan, out_dir: Path, golden_inputs: np.ndarray | None,
                      golden_outputs: dict[str, np.ndarray] | None, top_name: str = "nbq_top") -> list[Path]:
    """Write the RTL project into out_dir/rtl/ (replacing a previous one); return its files relative to out_dir.

    Only out_dir/rtl/ is touched; it is replaced only when it holds nothing but files its earlier manifest
    lists and simulation builds (sim_build*/, sim_run/), which are kept for reuse.
    """
    files = project_files(plan, golden_inputs, golden_outputs, top_name)
    root = Path(out_dir) / RTL_DIR
    shown = str(root)
    if root.is_symlink() or (root.exists() and not root.is_dir()):
        raise NbqError(f"{root} exists and is not a folder nbq wrote; move it away or choose another output folder")
    check_replaceable(root, shown, rtl_owned(root) or Owned(frozenset(), tuple(f"{d}/" for d in RTL_SIM_DIRS)),
                      MANIFEST)
    replace_folder(root, files, RTL_SIM_DIRS, shown)  # the simulation builds are kept for reuse
    return sorted(Path(RTL_DIR) / rel for rel in files)
