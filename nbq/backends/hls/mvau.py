"""Conv and Dense units: a sliding-window unit (convolutions) feeding a folded engine array, printed from the plan.

The plan (nbq.plan) holds the engine, the folding, the ROM rows (one per fold, nbq.plan.records.Rom),
the accumulator range and a fused threshold table.  Here they become C++: the ROM as a 2-D array
of `ROM_DEPTH` rows x `ROM_CHUNKS` chunks (hw/include/nbq/weights.h), the config struct and the
calls of the unit's processes (window -> MVAU [-> complex_split] [-> threshold]).
"""

from __future__ import annotations

import numpy as np

from nbq import ir
from nbq.backends.escape import label
from nbq.backends.hls.cxx import int_list, table_type
from nbq.backends.hls.layers import (
    Built,
    Call,
    CArray,
    ConfigStruct,
    LayerContext,
    format_label,
    int_const,
    layer_info,
    storage_const,
    threshold_code,
)
from nbq.backends.hls.streams import DEFAULT_DEPTH, Process, Stream, has_window
from nbq.backends.hls.window import Geometry, banks
from nbq.errors import InternalError
from nbq.plan.records import Engine, EngineKind, LayerPlan

WINDOW_ORDER_MVAU, WINDOW_ORDER_COMPLEX = 0, 1


def engine_typedef(engine: Engine) -> str:
    if engine.kind in (EngineKind.SVPE, EngineKind.VPE):
        return f"nbq::{engine.kind}<{engine.code_bits}>"
    return f"nbq::{engine.kind}<{'true' if engine.masked else 'false'}>"


def _acc_type(unit: LayerPlan) -> str:
    return f"ap_int<{unit.acc.bits}>"


def _bias_rows(bias: np.ndarray, nf: int, complex_: bool) -> np.ndarray:
    """Row nf = the biases neuron fold nf adds (complex: its PE real parts', then its PE imaginary parts')."""
    if complex_:
        half = bias.size // 2
        return np.concatenate([bias[:half].reshape(nf, -1), bias[half:].reshape(nf, -1)], axis=1)
    return bias.reshape(nf, -1)


def _engine_array(unit: LayerPlan, ident: str, ctx: LayerContext, nf_group: int, in_stream: str,
                  out_stream: str, out_type: str) -> tuple[ConfigStruct, list[CArray], Call]:
    """The MVAU's config, ROM and bias arrays, and its call."""
    layer, fold, engine, rom = unit.layer, unit.fold, unit.engine, unit.rom
    oc = int(layer.weights.ints.shape[0])
    bias = unit.bias if unit.bias is not None else np.zeros(oc, dtype=np.int64)  # folded into the thresholds
    bias_type = table_type(min(int(bias.min(initial=0)), 0), max(int(bias.max(initial=0)), 0))
    arrays = [
        CArray(f"nbq::rom_chunk<{rom.chunk_bits}>::type", f"w_{ident}", f"[{rom.depth}][{rom.chunks}]", "",
               f"{rom.depth} folds x {rom.row_bits} bits ({rom.chunks} x {rom.chunk_bits}): {fold.pe}x{fold.simd} "
               f"{engine.kind} codes ({engine.code_bits} bits, {format_label(layer.weights)}) per fold, "
               f"{rom.memory}", storage=str(rom.memory), rom=rom),
        CArray(f"cfg_{ident}::bias_t", f"b_{ident}", f"[{fold.nf}][{bias.size // fold.nf}]",
               int_list(_bias_rows(bias, fold.nf, fold.complex)),
               "bias, accumulator units" if unit.bias is not None else "zero: the bias is in the thresholds"),
    ]  # fmt: skip
    cfg = ConfigStruct(
        f"cfg_{ident}",
        f"{layer.op} {label(layer.name)}: {engine.kind} array {fold.pe}x{fold.simd}"
        f"{' (complex)' if fold.complex else ''}, NF {fold.nf} x SF {fold.sf}, {format_label(layer.weights)}",
        [("in_t", ctx.type_name(layer.inputs[0])), ("out_t", out_type), ("acc_t", _acc_type(unit)),
         ("bias_t", bias_type), ("engine", engine_typedef(engine))],
        [int_const(k, v) for k, v in {
            "PE": fold.pe, "SIMD": fold.simd, "NF": fold.nf, "SF": fold.sf, "PIXELS": fold.pixels,
            "NF_GROUP": nf_group, "ROM_DEPTH": rom.depth, "ROM_CHUNKS": rom.chunks,
            "ROM_CHUNK_BITS": rom.chunk_bits, "OUT_C": int(bias.size)}.items()],
    )  # fmt: skip
    func = "nbq::complex_mvau" if fold.complex else "nbq::mvau"
    return cfg, arrays, Call(f"{func}<cfg_{ident}>", [in_stream, out_stream, f"w_{ident}", f"b_{ident}"])


def _window(unit: LayerPlan, ident: str, ctx: LayerContext, proc: Process) -> tuple[ConfigStruct, Stream, Call]:
    layer, fold = unit.layer, unit.fold
    x, y = ctx.tensor(layer.inputs[0]), ctx.tensor(layer.output)
    (c, h, w), (_, oh, ow) = x.shape, y.shape
    _, icg, kh, kw = layer.weights.ints.shape
    if fold.complex:
        i = c // 2
        chunk, emit, order, group_channels = 2 * fold.simd, fold.sf, WINDOW_ORDER_COMPLEX, i
    else:
        chunk, emit = fold.simd, layer.groups * fold.sf
        order, group_channels = WINDOW_ORDER_MVAU, icg
    aligned = not fold.complex and icg % fold.simd == 0  # a word = SIMD consecutive channels of one tap
    channel_banks, column_banks = banks(c, proc.in_widths[0], fold.simd if aligned else None, kw,
                                        layer.dilations[1])  # fmt: skip
    geo = Geometry(c, h, w, (kh, kw), tuple(layer.strides), tuple(layer.dilations), tuple(layer.pads), (oh, ow),
                   proc.in_widths[0], emit, 0, channel_banks, column_banks)  # fmt: skip
    consts = {**geo.consts(), "ORDER": order, "CHUNK": chunk, "ICG": group_channels, "SIMD": fold.simd,
              "PAD_VALUE": 0}  # fmt: skip
    cfg = ConfigStruct(
        f"cfg_{ident}_win",
        f"Conv {label(layer.name)}: {kh}x{kw} window, stride {list(layer.strides)}, dilation "
        f"{list(layer.dilations)}, pads {list(layer.pads)}: {emit} words of {chunk} per window",
        [("in_t", ctx.type_name(layer.inputs[0]))],
        [int_const(name, v) for name, v in consts.items()] + storage_const(unit),
    )
    stream = Stream(ctx.wiring.names.fresh(f"s_{ident}_win"), layer.inputs[0], chunk, DEFAULT_DEPTH)
    return cfg, stream, Call(f"nbq::sliding_window<cfg_{ident}_win>", [proc.inputs[0], stream.name])


def _unit(unit: LayerPlan, ident: str, ctx: LayerContext, proc: Process, nf_group: int, **info: object) -> Built:
    """window -> MVAU [-> complex_split] [-> threshold], as one group of processes."""
    layer, fold = unit.layer, unit.fold
    configs, calls, streams = [], [], []
    mvau_in = proc.inputs[0]
    if isinstance(layer, ir.Conv) and has_window(unit):
        cfg, stream, call = _window(unit, ident, ctx, proc)
        configs.append(cfg)
        streams.append(stream)
        calls.append(call)
        mvau_in = stream.name
    thr = unit.threshold_layer
    oc = int(layer.weights.ints.shape[0])
    out_type = _acc_type(unit) if thr is not None else ctx.type_name(layer.output)
    acc_stream = proc.outputs[0]
    if thr is not None:  # the accumulators go straight into the threshold unit
        acc_stream = ctx.wiring.names.fresh(f"s_{ident}_acc")
        streams.append(Stream(acc_stream, layer.output, fold.pe, DEFAULT_DEPTH, ctype=f"nbq::vec<{out_type}, "
                              f"{fold.pe}>"))
    mvau_out = acc_stream
    if fold.complex:  # (real, imaginary) word pairs, put in stream order by complex_split
        mvau_out = ctx.wiring.names.fresh(f"s_{ident}_pairs")
        streams.append(Stream(mvau_out, layer.output, 2 * fold.pe, max(fold.nf, DEFAULT_DEPTH),
                              ctype=f"nbq::vec<{out_type}, {2 * fold.pe}>"))
    cfg, arrays, call = _engine_array(unit, ident, ctx, nf_group, mvau_in, mvau_out, out_type)
    configs.append(cfg)
    calls.append(call)
    if fold.complex:
        calls.append(Call(f"nbq::complex_split<{out_type}, {fold.pe}, {fold.nf}, {fold.pixels}>",
                          [mvau_out, acc_stream]))  # fmt: skip
    if thr is not None:
        words = fold.pixels * oc // fold.pe
        t_cfg, t_arrays, t_call = threshold_code(thr, unit.threshold, ident, ctx, fold.pe, words, out_type)
        t_call.args = [acc_stream, proc.outputs[0], *t_call.args]
        configs.append(t_cfg)
        arrays += t_arrays
        calls.append(t_call)
    information = layer_info(
        unit, ident, ctx, format=layer.weights.format_str, weights=int(layer.weights.ints.size),
        rom={"depth": unit.rom.depth, "width": unit.rom.row_bits, "chunks": unit.rom.chunks,
             "storage_bits": unit.rom.storage_bits, "memory": str(unit.rom.memory)},
        engine=str(unit.engine.kind), engine_type=engine_typedef(unit.engine),
        folding={"pe": fold.pe, "simd": fold.simd, "nf": fold.nf, "sf": fold.sf, "complex": fold.complex},
        width=fold.pe, acc_bits=unit.acc.bits, fused_threshold=thr.name if thr is not None else None, **info,
    )  # fmt: skip
    built = Built(configs, calls, information, unit.cycles, arrays, streams)
    if thr is not None:  # the process comment names the whole unit
        built.configs = [*configs[:-1], configs[-1]]
    return built


def conv_layer(unit: LayerPlan, ident: str, ctx: LayerContext, proc: Process) -> Built:
    layer = unit.layer
    x, y = ctx.tensor(layer.inputs[0]), ctx.tensor(layer.output)
    if len(x.shape) != 3 or len(y.shape) != 3 or layer.weights.ints.ndim != 4:
        raise InternalError(f"Conv '{layer.name}': planned without (C,H,W) tensors and 4-D weights")
    fold = unit.fold
    nf_group = fold.nf if fold.complex else fold.nf // layer.groups
    return _unit(unit, ident, ctx, proc, nf_group, kernel=list(layer.weights.ints.shape[2:]),
                 strides=list(layer.strides), pads=list(layer.pads), dilations=list(layer.dilations),
                 groups=int(layer.groups))


def dense_layer(unit: LayerPlan, ident: str, ctx: LayerContext, proc: Process) -> Built:
    built = _unit(unit, ident, ctx, proc, unit.fold.nf)
    layout = ctx.layouts[unit.layer.inputs[0]]
    if layout:
        built.configs[0].comment += f", columns reordered from CHW {layout}"
    return built
