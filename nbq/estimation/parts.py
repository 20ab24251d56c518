"""Which hw/rtl instances each planned unit becomes: the RTL backend's own printers, grouped by unit.

The estimate prices exactly what nbq.backends.rtl instantiates, so it asks the backend: the
network is built with the backend's Builder (the same per-layer printers build_network uses),
and the instances each printer adds are that unit's parts; the FIFOs and forks between units,
and the AXI-Stream adapters, are the streaming glue.  Parameters come back as the netlist's
SystemVerilog literals and are parsed to integers; a ROM file parameter is replaced by the
statistics of its table (nbq.estimation.tables).  tests/test_estimate_resources.py checks that
the parts are exactly build_network's instances.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field

from nbq import ir
from nbq.backends.rtl import stream_ops
from nbq.backends.rtl.layers import Builder
from nbq.backends.rtl.mvau import ENGINE_PARAM
from nbq.backends.rtl.netlist import Instance, Stream
from nbq.errors import InternalError
from nbq.estimation.model import Part
from nbq.estimation.tables import table_stats, weight_stats
from nbq.plan.records import HardwarePlan, LayerPlan

FILE_PARAMS = ("W_FILE", "T_FILE", "B_FILE")
_MEM = re.compile(r'"/?([^"/]+\.mem)"')


@dataclass
class NetworkParts:
    units: dict[str, list[Part]] = field(default_factory=dict)  # layer name -> its instances, in order
    glue: list[Part] = field(default_factory=list)  # FIFOs and forks between units, AXI-Stream adapters
    instances: list[Instance] = field(default_factory=list)  # every instance, as the backend made them


def param_int(text: str) -> int:
    t = text.strip()
    m = re.fullmatch(r"(\d+)'[bB]([01]+)", t)
    if m:
        return int(m.group(2), 2)
    m = re.fullmatch(r"\{(\d+)'[hH]([0-9a-fA-F]+)\}", t)  # a packed table, e.g. nbq_permute's PERM
    if m:
        return int(m.group(2), 16)
    return int(t)


def _part(inst: Instance, b: Builder, unit: LayerPlan | None) -> Part:
    params, files = {}, {}
    for name, value in inst.params:
        if name in FILE_PARAMS:
            m = _MEM.search(value)
            files[name] = m.group(1) if m else None
            continue
        params[name] = param_int(value)
    part = Part(inst.module, params)
    if inst.module == "nbq_mvau":
        if unit is None or unit.rom is None:
            raise InternalError(f"MVAU instance {inst.name} without a planned ROM")
        part.weights = weight_stats(unit.rom.codes, unit.rom.code_bits, params["ENGINE"])
        if params["ENGINE"] != ENGINE_PARAM[unit.engine.kind]:
            raise InternalError(f"MVAU instance {inst.name}: engine parameter does not match the plan")
    elif inst.module in ("nbq_threshold", "nbq_bias"):
        name = files.get("T_FILE") or files.get("B_FILE")
        if name in b.net.mems:
            part.table = table_stats(b.net.mem_words(name), b.net.mems[name][1])
    return part


_last: list = []  # (weak reference to a plan, its parts): the fit and the report estimate the same plan


def network_parts(plan: HardwarePlan) -> NetworkParts:
    """Every instance of the plan's RTL network, attributed to the unit that placed it (or the glue)."""
    if _last and _last[0]() is plan:
        return _last[1]
    parts = _network_parts(plan)
    _last[:] = [weakref.ref(plan), parts]
    return parts


def _network_parts(plan: HardwarePlan) -> NetworkParts:
    from nbq.backends.rtl.project import _axis_adapters, _input_stream

    graph = plan.graph
    b = Builder(graph, plan)
    out = NetworkParts()
    uses: dict[str, int] = {}
    for p in plan.layers:
        for name in p.layer.inputs:
            uses[name] = uses.get(name, 0) + 1
    for name in graph.outputs:
        uses[name] = uses.get(name, 0) + 1
    ready: dict[str, list[Stream]] = {}

    def take(start: int, unit: LayerPlan | None) -> list[Part]:
        return [_part(inst, b, unit) for inst in b.net.instances[start:]]

    def publish(name: str, s: Stream) -> None:  # as nbq.backends.rtl.project.build_network does
        start = len(b.net.instances)
        n = uses.get(name, 0)
        if n <= 1:
            ready[name] = [b.net.fifo(name, s, plan.fifo_depth[name])]
        else:
            outs = [b.net.like(f"{name}_br{i}", s) for i in range(n)]
            b.net.add("nbq_fork", f"{name}_fork", {"WIDTH": s.width, "N": n}, [], f"{name} feeds {n} consumers")
            ready[name] = [b.net.fifo(o.name[2:], o, plan.fifo_depth[name]) for o in outs]
        out.glue += take(start, None)

    s_in = _input_stream(b, b.tensor(graph.inputs[0]))
    publish(graph.inputs[0], s_in)
    for p in plan.layers:
        layer = p.layer
        srcs = [ready[name].pop(0) for name in layer.inputs]
        start = len(b.net.instances)
        if isinstance(layer, ir.Conv):
            y = b.conv(p, srcs[0])
        elif isinstance(layer, ir.Dense):
            y = b.dense(p, srcs[0])
        elif isinstance(layer, ir.Threshold):
            y = b.threshold(p, srcs[0])
        elif isinstance(layer, ir.Clamp):
            y = b.clamp(p, srcs[0])
        elif isinstance(layer, ir.MaxPool | ir.SumPool):
            y = b.pool(p, srcs[0])
        elif isinstance(layer, ir.Flatten):
            y = b.flatten(layer, srcs[0])
        elif isinstance(layer, ir.Add):
            y = b.add(layer, srcs[0], srcs[1])
        elif isinstance(layer, ir.Concat):
            y = stream_ops.concat(b, layer, srcs)
        elif isinstance(layer, ir.ChannelPermute):
            y = stream_ops.permute(b, layer, srcs[0])
        else:
            raise InternalError(f"no RTL printer for planned {layer.op} layer '{layer.name}'")
        out.units[p.name] = take(start, p)
        publish(p.output, y)
    s_out = ready[graph.outputs[0]].pop(0)
    start = len(b.net.instances)
    _axis_adapters(b, s_in, s_out)
    out.glue += take(start, None)
    out.instances = list(b.net.instances)
    return out
