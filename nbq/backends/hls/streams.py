"""DATAFLOW wiring: which stream each layer reads and writes, and where clones go.

Every hls::stream in a DATAFLOW region needs exactly one producer and one consumer, so a
tensor read by k consumers (layers or the graph output) is fanned out by k-1 clone2
processes.  Flatten is free on a stream: its output shares its input's stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nbq import ir
from nbq.backends.names import NameTable
from nbq.errors import UnsupportedModelError

IN_PORT, OUT_PORT = "in", "out"
DEFAULT_DEPTH = 2


@dataclass
class Stream:
    name: str
    tensor: str
    depth: int


@dataclass
class Process:
    """One DATAFLOW process: a layer, a clone2 (outputs a, b) or a copy."""

    kind: str  # "layer" | "clone" | "copy"
    tensor: str  # the tensor read (for clone/copy) or written (for a layer)
    inputs: list[str]
    outputs: list[str]
    layer: ir.Layer | None = None


@dataclass
class Wiring:
    layers: list[ir.Layer]  # live layers in topological order (Flatten included)
    root: dict[str, str]  # tensor -> the tensor whose stream carries it
    ids: NameTable  # tensor name -> C identifier
    streams: list[Stream] = field(default_factory=list)  # internal streams to declare
    processes: list[Process] = field(default_factory=list)


def live_layers(graph: ir.Graph) -> list[ir.Layer]:
    """Layers the graph output depends on (dead branches would stall a DATAFLOW region)."""
    needed = set(graph.outputs)
    live = []
    for layer in reversed(graph.layers):
        if layer.output in needed:
            live.append(layer)
            needed.update(layer.inputs)
    return live[::-1]


def wire(graph: ir.Graph) -> Wiring:
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise UnsupportedModelError(
            f"the HLS backend needs one graph input and one output, got {len(graph.inputs)} and {len(graph.outputs)}"
        )
    (x,), (y,) = graph.inputs, graph.outputs
    layers = live_layers(graph)
    known = {x} | {layer.output for layer in layers}
    if y not in known:
        raise UnsupportedModelError(f"graph output '{y}' is not computed from the input '{x}'")
    for layer in layers:
        missing = [name for name in layer.inputs if name not in known]
        if missing:
            raise UnsupportedModelError(f"layer '{layer.name}' reads '{missing[0]}', which nothing produces")

    root = {x: x}
    for layer in layers:
        root[layer.output] = root[layer.inputs[0]] if isinstance(layer, ir.Flatten) else layer.output

    uses: dict[str, list[tuple[ir.Layer, int] | None]] = {}  # None = the graph output
    for layer in layers:
        if not isinstance(layer, ir.Flatten):
            for slot, name in enumerate(layer.inputs):
                uses.setdefault(root[name], []).append((layer, slot))
    uses.setdefault(root[y], []).append(None)

    ids = NameTable()  # tensor -> identifier (types are t_<id>)
    names = NameTable(taken=(IN_PORT, OUT_PORT))  # stream names: s_x_0 of x must not meet s_<x_0>
    wiring = Wiring(layers=layers, root=root, ids=ids)
    use_stream: dict[tuple[int, int], str] = {}  # (id(layer), slot) -> stream

    def fan_out(tensor: str, src: str) -> None:
        """Route the stream `src` carrying `tensor` to all its uses."""
        targets = uses[tensor]
        size = graph.tensors[tensor].size
        if len(targets) == 1:
            use = targets[0]
            if use is None and src != OUT_PORT:  # the input is the output: copy it
                wiring.processes.append(Process("copy", tensor, [src], [OUT_PORT]))
            elif use is not None:
                use_stream[(id(use[0]), use[1])] = src
            return
        ident = ids.add(tensor)
        branches = []
        for j, use in enumerate(targets):
            name = OUT_PORT if use is None else names.fresh(f"s_{ident}_{j}")
            branches.append(name)
            if use is not None:
                use_stream[(id(use[0]), use[1])] = name
                # a branch may wait a whole frame while the other side fills a row buffer
                wiring.streams.append(Stream(name, tensor, size))
        cur = src
        for j in range(len(targets) - 1):
            nxt = branches[-1] if j == len(targets) - 2 else names.fresh(f"s_{ident}_rest{j}")
            if nxt != branches[-1]:
                wiring.streams.append(Stream(nxt, tensor, size))
            wiring.processes.append(Process("clone", tensor, [cur], [branches[j], nxt]))
            cur = nxt

    ids.add(x)
    fan_out(x, IN_PORT)
    for layer in layers:
        if isinstance(layer, ir.Flatten):
            continue
        t = layer.output
        ident = ids.add(t)
        only_output = uses.get(t) == [None]
        dst = OUT_PORT if only_output else names.fresh(f"s_{ident}")
        if not only_output:
            wiring.streams.append(Stream(dst, t, DEFAULT_DEPTH))
        ins = [use_stream[(id(layer), slot)] for slot in range(len(layer.inputs))]
        wiring.processes.append(Process("layer", t, ins, [dst], layer))
        fan_out(t, dst)
    return wiring
