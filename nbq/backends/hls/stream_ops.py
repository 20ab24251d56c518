"""HLS printers of the stream-shaping layers: Concat (a chain of concat2) and ChannelPermute (concat.h).

Both read and write one word per pixel (the wiring regroups their inputs, nbq.backends.hls.streams).
"""

from __future__ import annotations

import numpy as np

from nbq.backends.escape import label
from nbq.backends.hls.cxx import int_table
from nbq.backends.hls.layers import Built, Call, CArray, ConfigStruct, LayerContext, int_const, layer_info
from nbq.backends.hls.streams import DEFAULT_DEPTH, Process, Stream
from nbq.errors import UnsupportedModelError
from nbq.plan.records import LayerPlan


def concat_code(unit: LayerPlan, ident: str, ctx: LayerContext, proc: Process) -> Built:
    """Inputs 0 and 1 join first; each further input joins the running result (shift 0 on that side)."""
    layer = unit.layer
    y = ctx.tensor(layer.output)
    ins = [ctx.tensor(n) for n in layer.inputs]
    widths = [t.shape[0] for t in ins]
    if list(proc.in_widths) != widths or len(widths) < 2 or sum(widths) != y.shape[0]:
        raise UnsupportedModelError(f"Concat '{layer.name}': inputs of {proc.in_widths} values per word, "
                                    f"expected one word per pixel {widths}")
    words = y.size // y.shape[0]
    out_t = ctx.type_name(layer.output)
    configs, calls, streams = [], [], []
    a_stream, a_type, a_w, a_shift = proc.inputs[0], ctx.type_name(layer.inputs[0]), widths[0], layer.shifts[0]
    for k in range(1, len(widths)):
        last = k == len(widths) - 1
        dst = proc.outputs[0] if last else ctx.wiring.names.fresh(f"s_{ident}_cat{k}")
        out_w = a_w + widths[k]
        if not last:
            streams.append(Stream(dst, layer.output, out_w, DEFAULT_DEPTH, ctype=f"nbq::vec<{out_t}, {out_w}>"))
        name = f"cfg_{ident}" if last else f"cfg_{ident}_{k}"
        configs.append(ConfigStruct(
            name,
            f"Concat {label(layer.name)}: [{a_w} << {a_shift}, {widths[k]} << {layer.shifts[k]}] channels",
            [("a_t", a_type), ("b_t", ctx.type_name(layer.inputs[k])), ("out_t", out_t)],
            [int_const("A_W", a_w), int_const("B_W", widths[k]), int_const("WORDS", words),
             int_const("SHIFT_A", a_shift), int_const("SHIFT_B", layer.shifts[k])],
        ))  # fmt: skip
        calls.append(Call(f"nbq::concat2<{name}>", [a_stream, proc.inputs[k], dst]))
        a_stream, a_type, a_w, a_shift = dst, out_t, out_w, 0
    info = layer_info(unit, ident, ctx, shifts=[int(s) for s in layer.shifts], width=y.shape[0])
    return Built(configs, calls, info, unit.cycles, streams=streams)


def permute_code(unit: LayerPlan, ident: str, ctx: LayerContext, proc: Process) -> Built:
    layer = unit.layer
    y = ctx.tensor(layer.output)
    c = y.shape[0]
    if list(proc.in_widths) != [c] or sorted(layer.perm) != list(range(c)):
        raise UnsupportedModelError(f"ChannelPermute '{layer.name}': needs a permutation of {c} channels, one "
                                    f"word per pixel (got {proc.in_widths})")
    cfg = ConfigStruct(f"cfg_{ident}", f"ChannelPermute {label(layer.name)}: {c} channels",
                       [("t", ctx.type_name(layer.output))],
                       [int_const("C", c), int_const("WORDS", y.size // c)])
    # one row: the weights header reshapes it into a single word, so every lane reads its index at once
    table = CArray("int", f"perm_{ident}", f"[1][{c}]", int_table(np.asarray(layer.perm, dtype=np.int64)[None, :]),
                   "source channel of each output channel")
    info = layer_info(unit, ident, ctx, perm=[int(p) for p in layer.perm], width=c)
    call = Call(f"nbq::channel_permute<cfg_{ident}>", [*proc.inputs, *proc.outputs, table.name])
    return Built([cfg], [call], info, unit.cycles, [table])
