"""DATAFLOW wiring: the processes of the core, the streams between them and their word widths.

Every hls::stream in a DATAFLOW region needs exactly one producer and one consumer, so a
tensor read by k consumers (layers or the graph output) is fanned out by k-1 clone2
processes.  Flatten is free on a stream: its output shares its input's stream.

Word widths (values per stream word, see hw/include/nbq/common.h): a Conv/Dense writes
PE-wide words; Concat and ChannelPermute write one word per pixel (or vector); every other
layer keeps the width of its (first) input.  A Dense layer, or a 1x1 convolution without a
sliding window, reads SIMD-wide words, Concat and ChannelPermute read one word per pixel, and
the second input of an Add must match the first: where a stream's width differs, a regroup
process converts it.  The core's ports carry one value per transfer: to_vec and from_vec adapt them, the input side
straight to the width its consumers read when they all agree (else one value per word).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nbq import ir
from nbq.backends.names import NameTable
from nbq.errors import InternalError
from nbq.plan.records import HardwarePlan, LayerPlan

IN_PORT, OUT_PORT = "in", "out"
DEFAULT_DEPTH = 2


@dataclass
class Stream:
    name: str
    tensor: str
    width: int
    depth: int
    ctype: str | None = None  # the word type, when it is not the tensor's (e.g. an MVAU's accumulators)


@dataclass
class Process:
    """One DATAFLOW process: a layer, a clone2, a regroup, or a port adapter (to_vec / from_vec)."""

    kind: str  # "layer" | "clone" | "regroup" | "to_vec" | "from_vec"
    tensor: str  # the tensor read (clone, regroup, from_vec) or written (layer, to_vec)
    inputs: list[str]  # stream names; IN_PORT / OUT_PORT are the core's ports
    outputs: list[str]
    unit: LayerPlan | None = None  # kind "layer": the planned unit
    in_widths: list[int] = field(default_factory=list)
    out_width: int = 1


@dataclass
class Wiring:
    units: list[LayerPlan]  # the planned units in topological order (Flatten included, fused thresholds not)
    root: dict[str, str]  # tensor -> the tensor whose stream carries it
    ids: NameTable  # tensor name -> C identifier
    names: NameTable  # stream names (layers add their internal streams here)
    width: dict[str, int] = field(default_factory=dict)  # root tensor -> native word width
    streams: list[Stream] = field(default_factory=list)  # internal streams to declare
    processes: list[Process] = field(default_factory=list)


def has_window(unit: LayerPlan) -> bool:
    """Does a unit read through a sliding-window unit (else its input words are the window)?  A complex
    convolution always does: the window puts the real and imaginary halves side by side."""
    return unit.window or bool(unit.fold is not None and unit.fold.complex) or (
        isinstance(unit.layer, ir.Conv) and any(unit.layer.pads))


def read_width(unit: LayerPlan, slot: int, width: dict[str, int], root: dict[str, str],
               graph: ir.Graph | None = None) -> int | None:
    """The word width `unit` reads on input `slot`, or None when it reads any width."""
    if isinstance(unit.layer, ir.Concat | ir.ChannelPermute):  # a whole pixel (or vector) per word
        return graph.tensors[unit.layer.inputs[slot]].shape[0]
    if isinstance(unit.layer, ir.Dense):
        return unit.fold.simd
    if isinstance(unit.layer, ir.Conv):
        return None if has_window(unit) else unit.fold.simd
    if isinstance(unit.layer, ir.Add) and slot == 1:
        return width[root[unit.layer.inputs[0]]]
    return None


def _output_width(unit: LayerPlan, width: dict[str, int], root: dict[str, str], graph: ir.Graph) -> int:
    if isinstance(unit.layer, ir.Concat | ir.ChannelPermute):
        return graph.tensors[unit.layer.output].shape[0]
    if unit.fold is not None:
        return unit.fold.pe
    return width[root[unit.layer.inputs[0]]]


def wire(plan: HardwarePlan) -> Wiring:
    if not isinstance(plan, HardwarePlan):
        raise InternalError(f"the HLS backend needs a hardware plan (nbq.plan), got {type(plan).__name__}")
    graph = plan.graph
    (x,), (y,) = graph.inputs, graph.outputs
    units = plan.layers

    root = {x: x}
    for unit in units:
        root[unit.output] = root[unit.layer.inputs[0]] if isinstance(unit.layer, ir.Flatten) else unit.output

    uses: dict[str, list[tuple[LayerPlan, int] | None]] = {}  # None = the graph output
    for unit in units:
        if not isinstance(unit.layer, ir.Flatten):
            for slot, name in enumerate(unit.layer.inputs):
                uses.setdefault(root[name], []).append((unit, slot))
    uses.setdefault(root[y], []).append(None)

    ids = NameTable()  # tensor -> identifier (types are t_<id>)
    names = NameTable(taken=(IN_PORT, OUT_PORT))  # stream names: s_x_0 of x must not meet s_<x_0>
    wiring = Wiring(units=units, root=root, ids=ids, names=names)
    width = wiring.width

    # native widths: the input's from its readers, then each unit's from its producer
    wants = {read_width(use[0], use[1], width, root, graph) if use else None for use in uses[x]}
    width[x] = wants.pop() if len(wants) == 1 and None not in wants else 1
    for unit in units:
        if not isinstance(unit.layer, ir.Flatten):
            width[unit.output] = _output_width(unit, width, root, graph)

    use_stream: dict[tuple[int, int], str] = {}  # (id(unit), slot) -> stream

    def words(tensor: str, w: int) -> int:
        return graph.tensors[tensor].size // w

    def fan_out(tensor: str, src: str) -> None:
        """Route the stream `src` carrying `tensor` to all its uses (clones, then regroups)."""
        targets = uses[tensor]
        w = width[tensor]
        branches = [src]
        if len(targets) > 1:
            ident = ids.add(tensor)
            branches = []
            for j in range(len(targets)):
                name = names.fresh(f"s_{ident}_{j}")
                branches.append(name)
                # a branch may wait a whole frame while the other side fills a line buffer
                wiring.streams.append(Stream(name, tensor, w, words(tensor, w)))
            cur = src
            for j in range(len(targets) - 1):
                nxt = branches[-1] if j == len(targets) - 2 else names.fresh(f"s_{ident}_rest{j}")
                if nxt != branches[-1]:
                    wiring.streams.append(Stream(nxt, tensor, w, words(tensor, w)))
                wiring.processes.append(Process("clone", tensor, [cur], [branches[j], nxt], in_widths=[w],
                                                out_width=w))  # fmt: skip
                cur = nxt
        for use, branch in zip(targets, branches, strict=True):
            if use is None:
                wiring.processes.append(Process("from_vec", tensor, [branch], [OUT_PORT], in_widths=[w]))
                continue
            want = read_width(use[0], use[1], width, root, graph)
            if want is not None and want != w:
                name = names.fresh(f"s_{ids.add(tensor)}_w{want}")
                wiring.streams.append(Stream(name, tensor, want, DEFAULT_DEPTH))
                wiring.processes.append(Process("regroup", tensor, [branch], [name], in_widths=[w], out_width=want))
                branch = name
            use_stream[(id(use[0]), use[1])] = branch

    src = names.fresh(f"s_{ids.add(x)}")
    wiring.streams.append(Stream(src, x, width[x], DEFAULT_DEPTH))
    wiring.processes.append(Process("to_vec", x, [IN_PORT], [src], out_width=width[x]))
    fan_out(x, src)
    for unit in units:
        if isinstance(unit.layer, ir.Flatten):
            continue
        t = unit.output
        dst = names.fresh(f"s_{ids.add(t)}")
        wiring.streams.append(Stream(dst, t, width[t], DEFAULT_DEPTH))
        ins = [use_stream[(id(unit), slot)] for slot in range(len(unit.layer.inputs))]
        in_widths = [next(s.width for s in wiring.streams if s.name == name) for name in ins]
        wiring.processes.append(Process("layer", t, ins, [dst], unit, in_widths, width[t]))
        fan_out(t, dst)
    return wiring
