"""plan_hardware: graph + board + options -> the typed hardware plan both backends print.

Cycle model (per image, every streaming stage moves one beat per cycle; a beat is one pixel of a
feature map or one whole vector; the pipeline's interval is its slowest stage):

* input and output ports: one beat per pixel (vector: 1);
* Conv: pad (padded pixels, when padded), sliding window (padded pixels, unless 1x1 / stride 1 /
  dilation 1), MVAU (the folding's cycles), bias or fused threshold (pixels x NF), collect of the
  NF folds into one pixel (pixels x NF, when NF > 1 or complex);
* Dense: MVAU (NF x SF), bias or fused threshold (NF), collect (NF, when NF > 1);
* Threshold, Clamp, Add, Concat, ChannelPermute: the beats of their input; Flatten: gathers a map's
  pixels into one vector;
* MaxPool / SumPool: pad, window, pool (output pixels); a global pool its input pixels.

The RTL network implements exactly these stages (co-simulation measures them); the HLS project
is the same dataflow, and its estimate is this model.
"""

from __future__ import annotations

import numpy as np

from nbq import ir
from nbq.board_catalog import Board
from nbq.errors import InternalError, UnsupportedModelError
from nbq.plan.arith import acc_range, clamp_bounds, layer_bias, threshold_table
from nbq.plan.engine import check_engine_option, choose_engine
from nbq.plan.layout import stream_order
from nbq.plan.memory import memory_kind
from nbq.plan.records import Buffer, HardwarePlan, LayerPlan, MemoryKind, Rom, Stage
from nbq.plan.weights import conv_matrix, rom_codes


def beats(graph: ir.Graph, name: str) -> int:
    """Beats per image of a tensor's stream: one per pixel of a (C, H, W) map, one for a vector."""
    shape = graph.tensors[name].shape
    return int(np.prod(shape[1:])) if len(shape) == 3 else 1


def live_layers(graph: ir.Graph) -> list[ir.Layer]:
    """Layers the graph output depends on (dead branches would stall a dataflow pipeline)."""
    needed = set(graph.outputs)
    live = []
    for layer in reversed(graph.layers):
        if layer.output in needed:
            live.append(layer)
            needed.update(layer.inputs)
    return live[::-1]


def _tensor(graph: ir.Graph, name: str) -> ir.Tensor:
    t = graph.tensors[name]
    if t.lo is None or t.hi is None:
        raise InternalError(f"tensor '{name}' has no proven range: the passes did not run before planning")
    return t


def _needs_window(kernel, strides, dilations) -> bool:
    return (tuple(kernel), tuple(strides), tuple(dilations)) != ((1, 1), (1, 1), (1, 1))


def _padded(x: ir.Tensor, pads) -> tuple[int, int]:
    pt, pl, pb, pr = pads
    return x.shape[1] + pt + pb, x.shape[2] + pl + pr


def _window_stages(graph: ir.Graph, layer: ir.Layer, x: ir.Tensor, kernel, strides, dilations, pads,
                   has_uram: bool) -> tuple[list[Stage], bool, list[Buffer]]:
    hp, wp = _padded(x, pads)
    stages = [Stage("pad", hp * wp)] if any(pads) else []
    if not _needs_window(kernel, strides, dilations):
        return stages, False, []
    span_h = dilations[0] * (kernel[0] - 1) + 1
    depth, width = span_h * wp, x.shape[0] * x.bits  # rows of the window's height, one pixel a word
    buf = Buffer(f"{layer.name} line buffer", depth, width, memory_kind(depth, width, has_uram))
    return stages + [Stage("window", hp * wp)], True, [buf]


def _mvau(graph: ir.Graph, layer: ir.Conv | ir.Dense, option: str, thr: ir.Threshold | None,
          layouts: dict, has_uram: bool, memory_override: MemoryKind | None, acc_cache: dict | None) -> LayerPlan:
    fold = layer.folding
    if fold is None:
        raise InternalError(f"layer '{layer.name}' has no folding: the folding pass did not run before planning")
    x = _tensor(graph, layer.inputs[0])
    engine = choose_engine(graph, layer, option, fold)
    oc = int(layer.weights.ints.shape[0])
    bias = layer_bias(layer, oc)
    if isinstance(layer, ir.Conv):
        if len(x.shape) != 3:
            raise UnsupportedModelError(f"Conv '{layer.name}': expected a (C, H, W) feature map input")
        kernel = layer.weights.ints.shape[2:]
        stages, window, buffers = _window_stages(graph, layer, x, kernel, layer.strides, layer.dilations,
                                                 layer.pads, has_uram)
        make_codes = lambda: rom_codes(layer, engine, fold)  # noqa: E731
        matrix = conv_matrix(layer.weights.ints)
    else:
        stages, window, buffers = [], False, []
        layout = layouts.get(layer.inputs[0])
        if layer.flattened_from is not None and tuple(layer.flattened_from) != layout:
            raise UnsupportedModelError(
                f"Dense '{layer.name}': flattened_from={tuple(layer.flattened_from)} but its input streams as {layout}"
            )
        if layer.weights.ints.shape != (oc, x.size):
            raise UnsupportedModelError(
                f"Dense '{layer.name}': weights {layer.weights.ints.shape} do not map {x.size} inputs to {oc} outputs"
            )
        order = stream_order(layout)
        make_codes = lambda: rom_codes(layer, engine, fold, order)  # noqa: E731
        matrix = np.asarray(layer.weights.ints)
    fused = thr is not None
    # the bound depends on the weights and the input range, not on the folding: the fit plans one graph
    # under many foldings and shares one cache between them
    key = (layer.name, int(x.lo), int(x.hi), int(x.bits), None if fused else bias.tobytes())
    acc = acc_cache.get(key) if acc_cache is not None else None
    if acc is None:
        acc = acc_range(matrix, x.lo, x.hi, None if fused else bias, x.bits)
        if acc_cache is not None:
            acc_cache[key] = acc
    nf_beats = fold.pixels * fold.nf
    stages = stages + [Stage("mvau", fold.cycles), Stage("threshold" if fused else "bias", nf_beats)]
    if fold.nf > 1 or fold.complex:
        stages.append(Stage("collect", nf_beats))
    per_row = fold.lanes * (2 if fold.complex else 1)
    depth = fold.nf * fold.sf
    memory = memory_override or memory_kind(depth, per_row * engine.code_bits, has_uram, rom=True)
    rom = Rom(depth, per_row, engine.code_bits, memory, make_codes)
    table = threshold_table(thr, oc, acc.lo, acc.hi, bias=bias) if fused else None
    return LayerPlan(layer, stages, engine=engine, fold=fold, rom=rom, bias=None if fused else bias, acc=acc,
                     threshold=table, threshold_layer=thr, window=window, buffers=buffers)


def _other(graph: ir.Graph, layer: ir.Layer, layouts: dict, has_uram: bool) -> LayerPlan:
    x = _tensor(graph, layer.inputs[0])
    n_in = beats(graph, layer.inputs[0])
    if isinstance(layer, ir.Threshold):
        rows = np.asarray(layer.thresholds).reshape(np.asarray(layer.thresholds).shape[0], -1).shape[0]
        layout = layouts.get(layer.inputs[0])
        channels, order = x.shape[0], None
        if len(x.shape) == 1 and layout is not None and rows == x.shape[0]:  # flattened map: per-value rows
            order = stream_order(layout)
        table = threshold_table(layer, channels, x.lo, x.hi, row_order=order)
        return LayerPlan(layer, [Stage("threshold", n_in)], threshold=table, threshold_layer=layer)
    if isinstance(layer, ir.Clamp):
        return LayerPlan(layer, [Stage("clamp", n_in)], clamp=clamp_bounds(layer, x))
    if isinstance(layer, ir.Add):
        return LayerPlan(layer, [Stage("add", n_in)])
    if isinstance(layer, ir.Concat):  # one beat of every input -> one beat (a whole pixel or vector)
        return LayerPlan(layer, [Stage("concat", n_in)])
    if isinstance(layer, ir.ChannelPermute):  # wiring within a beat
        return LayerPlan(layer, [Stage("permute", n_in)])
    if isinstance(layer, ir.Flatten):
        return LayerPlan(layer, [Stage("gather", n_in)] if len(x.shape) == 3 and n_in > 1 else [])
    if isinstance(layer, ir.MaxPool | ir.SumPool):
        y = _tensor(graph, layer.output)
        if len(x.shape) != 3 or len(y.shape) != 3:
            raise UnsupportedModelError(f"{layer.op} '{layer.name}': expected (C, H, W) tensors")
        pads = tuple(layer.pads)
        fill = int(x.lo) if isinstance(layer, ir.MaxPool) else 0  # max pooling pads with the lower bound
        if tuple(layer.kernel) == tuple(x.shape[1:]) and not any(pads) and tuple(y.shape[1:]) == (1, 1):
            return LayerPlan(layer, [Stage("global_pool", n_in)], fill=fill, global_pool=True)
        stages, window, buffers = _window_stages(graph, layer, x, layer.kernel, layer.strides, (1, 1), pads,
                                                 has_uram)
        return LayerPlan(layer, stages + [Stage("pool", beats(graph, layer.output))], fill=fill, window=window,
                         buffers=buffers)
    hint = " (the threshold pass folds it; run the nbq passes first)" if isinstance(layer, ir.AffineQuant) else ""
    raise UnsupportedModelError(f"the hardware has no {layer.op} layer ('{layer.name}'){hint}")


def _fifo_depths(graph: ir.Graph, layers: list[ir.Layer], outputs: set[str]) -> dict[str, int]:
    """Beats of slack on each stream a unit writes.

    A sliding window only starts an image once SPAN_H - 1 rows (plus a few pixels) are in, while the layer
    before it produces them at its steady pace: the FIFO in front must hold that many pixels of the next
    image, or the producer stalls.  A stream read by several units gets a whole image of slack per branch:
    the other branch may be a deep pipeline (residual blocks).
    """
    readers: dict[str, list[ir.Layer]] = {}
    for layer in layers:
        for name in layer.inputs:
            readers.setdefault(name, []).append(layer)
    depths = {}
    for name in {graph.inputs[0]} | outputs:
        users = readers.get(name, [])
        n = len(users) + (1 if name in graph.outputs else 0)
        if n > 1:
            depths[name] = beats(graph, name) + 2
            continue
        depth = 2
        shape = graph.tensors[name].shape
        for layer in users:
            kernel = getattr(layer, "kernel", None) or (
                layer.weights.ints.shape[2:] if isinstance(layer, ir.Conv) else None)
            if kernel is not None and len(shape) == 3:
                dil = getattr(layer, "dilations", (1, 1))
                span_h, span_w = dil[0] * (kernel[0] - 1) + 1, dil[1] * (kernel[1] - 1) + 1
                depth = max(depth, span_h * shape[2] + span_w + 2)
        depths[name] = depth
    return depths


def plan_hardware(graph: ir.Graph, board: Board, engine: str = "svpe",
                  memory: dict[str, MemoryKind] | None = None, acc_cache: dict | None = None) -> HardwarePlan:
    """The hardware plan of a graph that went through nbq.passes.run_passes (and a folding).

    memory: weight-ROM memory kinds chosen by the user (a folding file's ram_style), by layer name.
    acc_cache: accumulator ranges by layer, shared by plans of the same graph with other foldings (only).
    """
    from nbq.plan.layout import stream_layouts

    check_engine_option(engine)
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise UnsupportedModelError(
            f"the hardware needs one graph input and one output, got {len(graph.inputs)} and {len(graph.outputs)}"
        )
    layers = live_layers(graph)
    known = {graph.inputs[0]} | {layer.output for layer in layers}
    if graph.outputs[0] not in known:
        raise UnsupportedModelError(f"graph output '{graph.outputs[0]}' is not computed from the input")
    for layer in layers:
        missing = [name for name in layer.inputs if name not in known]
        if missing:
            raise UnsupportedModelError(f"layer '{layer.name}' reads '{missing[0]}', which nothing produces")
    layouts = stream_layouts(graph, layers)
    has_uram = int(board.resources.get("uram", 0) or 0) > 0
    by_name = {layer.name: layer for layer in layers}
    plans, written = [], set()
    for layer in layers:
        if isinstance(layer, ir.Threshold) and layer.fused_into is not None:
            if layer.fused_into not in by_name:
                raise InternalError(f"Threshold '{layer.name}' is fused into '{layer.fused_into}', not in the graph")
            continue
        if isinstance(layer, ir.Conv | ir.Dense):
            thr = None
            if layer.fused_threshold is not None:
                thr = by_name.get(layer.fused_threshold)
                if not isinstance(thr, ir.Threshold) or thr.fused_into != layer.name:
                    raise InternalError(f"layer '{layer.name}': fused threshold '{layer.fused_threshold}' is missing")
            plans.append(_mvau(graph, layer, engine, thr, layouts, has_uram, (memory or {}).get(layer.name),
                               acc_cache))
        else:
            plans.append(_other(graph, layer, layouts, has_uram))
        written.add(plans[-1].output)
    x, y = graph.inputs[0], graph.outputs[0]
    return HardwarePlan(graph=graph, board=board, engine_option=engine,
                        layers=plans, input_beats=beats(graph, x), output_beats=beats(graph, y),
                        fifo_depth=_fifo_depths(graph, [p.layer for p in plans], written), layouts=layouts)


def plan_graph(graph: ir.Graph, board: Board, engine: str = "svpe") -> HardwarePlan:
    """Plan an IR graph made by hand (ranges proven): runs the late passes it may lack - threshold fusion,
    and the folding pass for layers without a folding (foldings set by hand are kept) - then plans it."""
    from nbq.passes.folding import choose_folding
    from nbq.passes.fusion import fuse_thresholds

    g = fuse_thresholds(graph)
    mvaus = [layer for layer in g.layers if isinstance(layer, ir.Conv | ir.Dense)]
    if any(layer.folding is None for layer in mvaus):
        chosen = {layer.name: layer.folding for layer in choose_folding(g).layers
                  if isinstance(layer, ir.Conv | ir.Dense)}
        for layer in mvaus:
            if layer.folding is None:
                layer.folding = chosen[layer.name]
    return plan_hardware(g, board, engine)
