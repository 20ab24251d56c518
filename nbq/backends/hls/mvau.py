"""Conv and Dense layers: a sliding-window unit (convolutions) feeding a folded engine array.

The weight matrix of a convolution has one row per output channel and its window in
(kh, kw, channel-in-group) order as columns - the order window.h emits - and is stored fold
by fold (weights.py).  A complex convolution keeps A and B (its [[A, -B], [B, A]] blocks)
once each.  Engine choice: engines.py.
"""

from __future__ import annotations

import numpy as np

from nbq import ir
from nbq.backends.hls import weights as wt
from nbq.backends.hls.cxx import hex_words, int_list, table_type
from nbq.backends.hls.engines import Engine, Fold, choose_engine, layer_fold
from nbq.backends.hls.layers import Built, Call, CArray, ConfigStruct, LayerContext, format_label, int_const, layer_info
from nbq.backends.hls.layout import stream_order
from nbq.backends.hls.streams import DEFAULT_DEPTH, Process, Stream, has_window
from nbq.backends.hls.window import Geometry, banks
from nbq.backends.names import comment_text
from nbq.errors import UnsupportedModelError

WINDOW_ORDER_MVAU, WINDOW_ORDER_COMPLEX = 0, 1


def _codes(weights: ir.Weights, ints: np.ndarray, engine: Engine, name: str) -> np.ndarray:
    """Codes of `ints` (a part of weights.ints, same layout) for the engine."""
    if engine.kind in ("xnor", "cxnor"):
        if not np.all(np.abs(ints) == 1):
            raise UnsupportedModelError(f"layer '{name}': binary weights must be +-1")
        return wt.binary_codes(ints)
    if engine.kind == "vpe":
        return wt.vpe_codes(ints, engine.code_bits)
    return wt.hardware_codes(weights, name)


def _bias(layer: ir.Conv | ir.Dense, n: int) -> np.ndarray:
    if layer.bias is None:
        return np.zeros(n, dtype=np.int64)
    bias = np.asarray(layer.bias, dtype=np.int64).ravel()
    if bias.size != n:
        raise UnsupportedModelError(f"layer '{layer.name}': bias has {bias.size} values, expected {n}")
    return bias


def _check_fold(layer: ir.Layer, fold: Fold, rows: int, k: int) -> None:
    if fold.pe < 1 or fold.simd < 1 or rows % fold.pe or k % fold.simd:
        raise UnsupportedModelError(
            f"layer '{layer.name}': folding PE={fold.pe}, SIMD={fold.simd} does not divide {rows} output "
            f"channels (per group) and {k} inputs per channel"
        )


def _engine_array(
    layer: ir.Conv | ir.Dense, ident: str, ctx: LayerContext, fold: Fold, engine: Engine, fold_codes: np.ndarray,
    bias: np.ndarray, shape: dict[str, int], in_stream: str, out_stream: str,
) -> tuple[ConfigStruct, list[CArray], Call, int]:  # fmt: skip
    """The MVAU's config, weight/bias arrays and call; returns its cycles per image too."""
    words, per_fold = wt.pack_folds(fold_codes, engine.code_bits)
    bias_type = table_type(min(int(bias.min(initial=0)), 0), max(int(bias.max(initial=0)), 0))
    n_folds = fold_codes.shape[0]
    arrays = [
        CArray("uint64_t", f"w_{ident}", f"[{words.size}]", hex_words(words),
               f"{n_folds} folds x {per_fold} words: {fold.pe}x{fold.simd} {engine.kind} codes "
               f"({engine.code_bits} bits, {format_label(layer.weights)}) per fold"),
        CArray(f"cfg_{ident}::bias_t", f"b_{ident}", f"[{bias.size}]", int_list(bias), "bias, accumulator units"),
    ]  # fmt: skip
    out = ctx.type_name(layer.output)
    cfg = ConfigStruct(
        f"cfg_{ident}",
        f"{layer.op} {comment_text(layer.name)}: {engine.kind} array {fold.pe}x{fold.simd}"
        f"{' (complex)' if fold.complex else ''}, NF {shape['NF']} x SF {shape['SF']}, {format_label(layer.weights)}",
        [("in_t", ctx.type_name(layer.inputs[0])), ("out_t", out), ("acc_t", out), ("bias_t", bias_type),
         ("engine", engine.typedef)],
        [int_const(k, v) for k, v in {**shape, "WORDS": per_fold, "N_WORDS": int(words.size),
                                      "OUT_C": int(bias.size)}.items()],
    )  # fmt: skip
    func = "nbq::complex_mvau" if fold.complex else "nbq::mvau"
    call = Call(f"{func}<cfg_{ident}>", [in_stream, out_stream, f"w_{ident}", f"b_{ident}"])
    return cfg, arrays, call, shape["PIXELS"] * shape["NF"] * shape["SF"]


def conv_layer(layer: ir.Conv, ident: str, ctx: LayerContext, proc: Process) -> Built:
    x, y = ctx.tensor(layer.inputs[0]), ctx.tensor(layer.output)
    ints = np.asarray(layer.weights.ints)
    if len(x.shape) != 3 or len(y.shape) != 3 or ints.ndim != 4:
        raise UnsupportedModelError(f"Conv '{layer.name}': expected (C,H,W) tensors and 4-D weights")
    (c, h, w), (oc, oh, ow) = x.shape, y.shape
    k_oc, icg, kh, kw = ints.shape
    g = int(layer.groups)
    if g < 1 or icg * g != c or k_oc != oc or oc % g:
        raise UnsupportedModelError(
            f"Conv '{layer.name}': weights {ints.shape} do not fit input {x.shape} with {g} groups"
        )
    if min(layer.strides) < 1 or min(layer.dilations) < 1 or min(layer.pads) < 0:
        raise UnsupportedModelError(f"Conv '{layer.name}': strides/dilations must be >= 1 and pads >= 0")
    if ir.conv_output_hw((h, w), (kh, kw), layer.strides, layer.pads, layer.dilations) != (oh, ow):
        raise UnsupportedModelError(f"Conv '{layer.name}': output shape {y.shape} does not match the window")
    fold = layer_fold(ctx.graph, layer)
    engine = choose_engine(ctx.graph, layer, ctx.engine, fold)
    if fold.complex:
        o, i = oc // 2, c // 2
        a, b = ints[:o, :i], ints[o:, :i]
        if g != 1 or oc % 2 or c % 2 or not (np.array_equal(ints[o:, i:], a) and np.array_equal(ints[:o, i:], -b)):
            raise UnsupportedModelError(
                f"Conv '{layer.name}': marked complex, but its weights are not [[A, -B], [B, A]]"
            )
        k = kh * kw * i
        _check_fold(layer, fold, o, k)
        matrices = [wt.conv_matrix(_codes(layer.weights, part, engine, layer.name)) for part in (a, b)]
        fold_codes = np.concatenate([wt.folds(m, fold.pe, fold.simd) for m in matrices], axis=1)
        nf, sf, nf_group, chunk, emit = o // fold.pe, k // fold.simd, o // fold.pe, 2 * fold.simd, k // fold.simd
        order, group_channels = WINDOW_ORDER_COMPLEX, i
    else:
        k = kh * kw * icg
        _check_fold(layer, fold, oc // g, k)
        fold_codes = wt.folds(wt.conv_matrix(_codes(layer.weights, ints, engine, layer.name)), fold.pe, fold.simd)
        nf, sf, nf_group = oc // fold.pe, k // fold.simd, oc // g // fold.pe
        chunk, emit = fold.simd, g * (k // fold.simd)
        order, group_channels = WINDOW_ORDER_MVAU, icg
    configs, calls, streams = [], [], []
    cycles = 0
    mvau_in = proc.inputs[0]
    window = None
    if has_window(layer, fold.complex):
        aligned = not fold.complex and icg % fold.simd == 0  # a word = SIMD consecutive channels of one tap
        channel_banks, column_banks = banks(c, proc.in_widths[0], fold.simd if aligned else None, kw,
                                            layer.dilations[1])  # fmt: skip
        geo = Geometry(c, h, w, (kh, kw), tuple(layer.strides), tuple(layer.dilations), tuple(layer.pads), (oh, ow),
                       proc.in_widths[0], emit, 0, channel_banks, column_banks)  # fmt: skip
        consts = {**geo.consts(), "ORDER": order, "CHUNK": chunk, "ICG": group_channels, "SIMD": fold.simd,
                  "PAD_VALUE": 0}  # fmt: skip
        configs.append(ConfigStruct(
            f"cfg_{ident}_win",
            f"Conv {comment_text(layer.name)}: {kh}x{kw} window, stride {list(layer.strides)}, dilation "
            f"{list(layer.dilations)}, pads {list(layer.pads)}: {emit} words of {chunk} per window",
            [("in_t", ctx.type_name(layer.inputs[0]))],
            [int_const(name, v) for name, v in consts.items()],
        ))  # fmt: skip
        mvau_in = ctx.wiring.names.fresh(f"s_{ident}_win")
        streams.append(Stream(mvau_in, layer.inputs[0], chunk, DEFAULT_DEPTH))
        calls.append(Call(f"nbq::sliding_window<cfg_{ident}_win>", [proc.inputs[0], mvau_in]))
        cycles = window = geo.beats()
    shape = {"PE": fold.pe, "SIMD": fold.simd, "NF": nf, "SF": sf, "PIXELS": oh * ow, "NF_GROUP": nf_group}
    mvau_out = proc.outputs[0]
    if fold.complex:  # (real, imaginary) word pairs, put in stream order by complex_split
        mvau_out = ctx.wiring.names.fresh(f"s_{ident}_pairs")
        streams.append(Stream(mvau_out, layer.output, 2 * fold.pe, max(nf, DEFAULT_DEPTH)))
    cfg, arrays, call, mvau_cycles = _engine_array(layer, ident, ctx, fold, engine, fold_codes, _bias(layer, oc),
                                                   shape, mvau_in, mvau_out)  # fmt: skip
    configs.append(cfg)
    calls.append(call)
    if fold.complex:
        calls.append(Call(f"nbq::complex_split<{ctx.type_name(layer.output)}, {fold.pe}, {nf}, {oh * ow}>",
                          [mvau_out, proc.outputs[0]]))  # fmt: skip
        cycles = max(cycles, 2 * nf * oh * ow)
    folding = {"pe": fold.pe, "simd": fold.simd, "nf": nf, "sf": sf, "complex": fold.complex}
    info = layer_info(
        layer, ident, ctx, format=layer.weights.format_str, weights=int(ints.size),
        weight_words=int(arrays[0].dims[1:-1]), kernel=[kh, kw], strides=list(layer.strides),
        pads=list(layer.pads), dilations=list(layer.dilations), groups=g, engine=engine.kind,
        engine_type=engine.typedef, folding=folding, width=fold.pe, cycles=max(cycles, mvau_cycles),
        window_cycles=window, engine_cycles=mvau_cycles,
    )  # fmt: skip
    return Built(configs, calls, info, max(cycles, mvau_cycles), arrays, streams)


def dense_layer(layer: ir.Dense, ident: str, ctx: LayerContext, proc: Process) -> Built:
    x, y = ctx.tensor(layer.inputs[0]), ctx.tensor(layer.output)
    ints = np.asarray(layer.weights.ints)
    if ints.shape != (y.size, x.size):
        raise UnsupportedModelError(
            f"Dense '{layer.name}': weights {ints.shape} do not map {x.size} inputs to {y.size} outputs"
        )
    layout = ctx.layouts[layer.inputs[0]]
    if layer.flattened_from is not None and tuple(layer.flattened_from) != layout:
        raise UnsupportedModelError(
            f"Dense '{layer.name}': flattened_from={tuple(layer.flattened_from)} but its input streams as {layout}"
        )
    fold = layer_fold(ctx.graph, layer)
    engine = choose_engine(ctx.graph, layer, ctx.engine, fold)
    _check_fold(layer, fold, y.size, x.size)
    codes = wt.dense_code_order(_codes(layer.weights, ints, engine, layer.name), stream_order(layout))
    nf, sf = y.size // fold.pe, x.size // fold.simd
    shape = {"PE": fold.pe, "SIMD": fold.simd, "NF": nf, "SF": sf, "PIXELS": 1, "NF_GROUP": nf}
    cfg, arrays, call, cycles = _engine_array(layer, ident, ctx, fold, engine, wt.folds(codes, fold.pe, fold.simd),
                                              _bias(layer, y.size), shape, proc.inputs[0], proc.outputs[0])  # fmt: skip
    if layout:
        cfg.comment += f", columns reordered from CHW {layout}"
    info = layer_info(
        layer, ident, ctx, format=layer.weights.format_str, weights=int(ints.size),
        weight_words=int(arrays[0].dims[1:-1]), engine=engine.kind, engine_type=engine.typedef,
        folding={"pe": fold.pe, "simd": fold.simd, "nf": nf, "sf": sf, "complex": False}, width=fold.pe,
        cycles=cycles, engine_cycles=cycles,
    )  # fmt: skip
    return Built([cfg], [call], info, cycles, arrays)
