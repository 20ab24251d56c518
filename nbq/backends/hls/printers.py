"""The HLS printer of each planned layer kind, found by IR type (one table), and the process builder."""

from __future__ import annotations

from nbq import ir
from nbq.backends.hls.layers import (
    LayerContext,
    ProcessCode,
    adapter_code,
    add_code,
    clamp_code,
    pool_code,
    threshold_unit_code,
)
from nbq.backends.hls.mvau import conv_layer, dense_layer
from nbq.backends.hls.stream_ops import concat_code, permute_code
from nbq.backends.hls.streams import Process
from nbq.errors import InternalError

PRINTERS = {
    ir.Conv: conv_layer,
    ir.Dense: dense_layer,
    ir.Threshold: threshold_unit_code,
    ir.Clamp: clamp_code,
    ir.MaxPool: pool_code,
    ir.SumPool: pool_code,
    ir.Add: add_code,
    ir.Concat: concat_code,
    ir.ChannelPermute: permute_code,
}


def process_code(proc: Process, ctx: LayerContext) -> ProcessCode:
    if proc.kind != "layer":
        return adapter_code(proc, ctx)
    unit = proc.unit
    layer = unit.layer
    build = PRINTERS.get(type(layer))
    if build is None:
        raise InternalError(f"the HLS backend has no printer for planned {layer.op} layer '{layer.name}'")
    ident = ctx.layer_ids.add(layer.name)
    built = build(unit, ident, ctx, proc)
    return ProcessCode(
        calls=built.calls,
        comment=built.configs[-1].comment,
        cycles=built.cycles,
        configs=built.configs,
        arrays=built.arrays,
        streams=built.streams,
        header=f"weights/{ident}.h" if built.arrays else None,
        ident=ident,
        info=built.info,
    )
