"""Per-process template contexts: config structs, call lines and constant arrays, all computed here."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nbq import ir
from nbq.backends.hls import weights as wt
from nbq.backends.hls.cxx import ap_type, hex_words, int_list, int_literal, int_table
from nbq.backends.hls.layout import Layout, stream_order
from nbq.backends.hls.streams import Process, Wiring
from nbq.backends.names import NameTable, comment_text
from nbq.errors import UnsupportedModelError


@dataclass
class ConfigStruct:
    name: str
    comment: str
    types: list[tuple[str, str]]  # (typedef name, C++ type)
    consts: list[tuple[str, str, str]]  # (C++ type, name, literal)


@dataclass
class CArray:
    ctype: str
    name: str
    dims: str  # e.g. "[12]" or "[4][3]"
    body: str  # the initializer contents
    comment: str


@dataclass
class ProcessCode:
    call: str  # function with template arguments
    args: list[str]
    comment: str
    config: ConfigStruct | None = None
    arrays: list[CArray] = field(default_factory=list)
    header: str | None = None  # firmware-relative weights header, when arrays exist
    ident: str = ""
    info: dict | None = None  # manifest entry (layers only)


# what a layer builder returns: its config struct, constant arrays, manifest entry, array arguments
Built = tuple[ConfigStruct, list[CArray], dict, list[str]]


class LayerContext:
    """What every builder needs: the graph, its wiring, stream layouts and identifier tables."""

    def __init__(self, graph: ir.Graph, wiring: Wiring, layouts: dict[str, Layout]) -> None:
        self.graph = graph
        self.wiring = wiring
        self.layouts = layouts
        self.layer_ids = NameTable()

    def tensor(self, name: str) -> ir.Tensor:
        t = self.graph.tensors[name]
        if t.lo is None or t.hi is None:
            raise UnsupportedModelError(f"tensor '{name}' has no proven range; run the nbq passes first")
        return t

    def type_name(self, tensor: str) -> str:
        return f"t_{self.wiring.ids[self.wiring.root[tensor]]}"


def _format_label(weights: ir.Weights) -> str:
    """The weight format for a C++ comment (ASCII only)."""
    return comment_text(weights.format_str.replace("±", "+-"))


def _bool_list(values: np.ndarray, per_line: int = 16) -> str:
    words = ["true" if v else "false" for v in np.asarray(values).ravel().tolist()]
    return ",\n".join("    " + ", ".join(words[i : i + per_line]) for i in range(0, len(words), per_line))


def _int_const(name: str, value: int) -> tuple[str, str, str]:
    return ("int", name, str(int(value)))


def _ll_const(name: str, value: int) -> tuple[str, str, str]:
    return ("long long", name, int_literal(value))


def _info(layer: ir.Layer, ident: str, ctx: LayerContext, **extra: object) -> dict:
    out = ctx.tensor(layer.output)
    info = {
        "name": layer.name,
        "c_name": ident,
        "op": layer.op,
        "inputs": list(layer.inputs),
        "output": layer.output,
        "shape": [int(s) for s in out.shape],
        "type": out.type_str(),
        "bits": out.bits,
        "signed": out.signed,
        "lo": int(out.lo),
        "hi": int(out.hi),
        "format": None,
    }
    info.update(extra)
    return info


def _weight_arrays(
    layer: ir.Conv | ir.Dense, ident: str, codes: np.ndarray, bias: np.ndarray
) -> tuple[list[CArray], str, int]:
    words = wt.pack(codes, layer.weights.bits)
    bias_type = ap_type(min(int(bias.min(initial=0)), 0), max(int(bias.max(initial=0)), 0))
    arrays = [
        CArray(
            "uint64_t",
            f"w_{ident}",
            f"[{words.size}]",
            hex_words(words),
            f"{codes.size} codes, {_format_label(layer.weights)}, {64 // layer.weights.bits} per word",
        ),
        CArray(f"cfg_{ident}::bias_t", f"b_{ident}", f"[{bias.size}]", int_list(bias), "bias, accumulator units"),
    ]
    return arrays, bias_type, int(words.size)


def _bias(layer: ir.Conv | ir.Dense, n: int) -> np.ndarray:
    if layer.bias is None:
        return np.zeros(n, dtype=np.int64)
    bias = np.asarray(layer.bias, dtype=np.int64).ravel()
    if bias.size != n:
        raise UnsupportedModelError(f"layer '{layer.name}': bias has {bias.size} values, expected {n}")
    return bias


def _conv(layer: ir.Conv, ident: str, ctx: LayerContext) -> Built:
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
    codes = wt.conv_code_order(wt.hardware_codes(layer.weights, layer.name))
    bias = _bias(layer, oc)
    arrays, bias_type, n_words = _weight_arrays(layer, ident, codes, bias)
    pt, pl, _, _ = layer.pads
    span = layer.dilations[0] * (kh - 1) + 1
    consts = {
        "IN_H": h, "IN_W": w, "IN_C": c, "OUT_H": oh, "OUT_W": ow, "OUT_C": oc, "KH": kh, "KW": kw,
        "STRIDE_H": layer.strides[0], "STRIDE_W": layer.strides[1], "PAD_T": pt, "PAD_L": pl,
        "DIL_H": layer.dilations[0], "DIL_W": layer.dilations[1], "IN_C_PER_GROUP": icg,
        "OUT_C_PER_GROUP": oc // g, "SPAN_H": span, "N_WORDS": n_words,
    }  # fmt: skip
    cfg = ConfigStruct(
        f"cfg_{ident}",
        f"Conv {comment_text(layer.name)}: {kh}x{kw}/{layer.strides[0]}x{layer.strides[1]}, groups {g}, "
        f"{_format_label(layer.weights)}",
        [
            ("in_t", ctx.type_name(layer.inputs[0])),
            ("out_t", ctx.type_name(layer.output)),
            ("acc_t", ctx.type_name(layer.output)),
            ("bias_t", bias_type),
            ("weight_format", wt.format_typedef(layer.weights)),
        ],  # fmt: skip
        [_int_const(k, v) for k, v in consts.items()],
    )
    info = _info(
        layer, ident, ctx, format=layer.weights.format_str, weights=int(ints.size), weight_words=n_words,
        kernel=[kh, kw], strides=list(layer.strides), pads=list(layer.pads), dilations=list(layer.dilations),
        groups=g,
    )  # fmt: skip
    return cfg, arrays, info, [f"w_{ident}", f"b_{ident}"]


def _dense(layer: ir.Dense, ident: str, ctx: LayerContext) -> Built:
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
    codes = wt.dense_code_order(wt.hardware_codes(layer.weights, layer.name), stream_order(layout))
    bias = _bias(layer, y.size)
    arrays, bias_type, n_words = _weight_arrays(layer, ident, codes, bias)
    cfg = ConfigStruct(
        f"cfg_{ident}",
        f"Dense {comment_text(layer.name)}: {x.size} -> {y.size}, {_format_label(layer.weights)}"
        + (f", columns reordered from CHW {layout}" if layout else ""),
        [
            ("in_t", ctx.type_name(layer.inputs[0])),
            ("out_t", ctx.type_name(layer.output)),
            ("acc_t", ctx.type_name(layer.output)),
            ("bias_t", bias_type),
            ("weight_format", wt.format_typedef(layer.weights)),
        ],  # fmt: skip
        [_int_const("N_IN", x.size), _int_const("N_OUT", y.size), _int_const("N_WORDS", n_words)],
    )
    info = _info(layer, ident, ctx, format=layer.weights.format_str, weights=int(ints.size), weight_words=n_words)
    return cfg, arrays, info, [f"w_{ident}", f"b_{ident}"]


def _threshold(layer: ir.Threshold, ident: str, ctx: LayerContext) -> Built:
    x = ctx.tensor(layer.inputs[0])
    th = np.asarray(layer.thresholds, dtype=np.int64)
    if th.ndim == 1:
        th = th[:, None]
    direction = np.broadcast_to(np.asarray(layer.direction).ravel(), (th.shape[0],))
    channels = x.shape[0]
    if th.shape[0] == 1:  # one set for all channels: treat the tensor as one channel
        channels, pixels = 1, x.size
    elif th.shape[0] == channels:
        pixels = x.size // channels
        if len(x.shape) == 1 and ctx.layouts[layer.inputs[0]] is not None:  # flattened map: per-feature rows
            order = stream_order(ctx.layouts[layer.inputs[0]])
            th, direction = th[order], direction[order]
    else:
        raise UnsupportedModelError(f"Threshold '{layer.name}': {th.shape[0]} threshold rows for {channels} channels")
    up = direction == 1
    # Clipping to [lo-1, hi+1] keeps every comparison's result and bounds the threshold type.
    th = np.clip(th, int(x.lo) - 1, int(x.hi) + 1)
    if th.shape[1] == 0:  # no levels: one threshold nothing crosses
        th = np.where(up[:, None], int(x.hi) + 1, int(x.lo) - 1).reshape(-1, 1)
    th_type = ap_type(int(th.min()), int(th.max()))
    arrays = [
        CArray(f"cfg_{ident}::th_t", f"th_{ident}", f"[{channels}][{th.shape[1]}]", int_table(th),
               "thresholds per channel (stream order)"),
        CArray("bool", f"up_{ident}", f"[{channels}]", _bool_list(up),
               "1: crossed when x >= t, 0: when x <= t"),
    ]  # fmt: skip
    cfg = ConfigStruct(
        f"cfg_{ident}",
        f"Threshold {comment_text(layer.name)}: {th.shape[1]} levels, out = {layer.out_lo} + {layer.step}*crossed",
        [("in_t", ctx.type_name(layer.inputs[0])), ("out_t", ctx.type_name(layer.output)), ("th_t", th_type)],
        [
            _int_const("PIXELS", pixels),
            _int_const("C", channels),
            _int_const("L", th.shape[1]),
            _ll_const("OUT_LO", layer.out_lo),
            _ll_const("STEP", layer.step),
        ],  # fmt: skip
    )
    info = _info(layer, ident, ctx, levels=int(np.asarray(layer.thresholds).shape[-1]))
    return cfg, arrays, info, [f"th_{ident}", f"up_{ident}"]


def _clamp(layer: ir.Clamp, ident: str, ctx: LayerContext) -> Built:
    x = ctx.tensor(layer.inputs[0])
    # a bound the input can never pass is dropped: max(x, lo) == x when lo <= x.lo
    lo = layer.lo if layer.lo is not None and layer.lo > x.lo else None
    hi = layer.hi if layer.hi is not None and layer.hi < x.hi else None
    bounds = [int(x.lo), int(x.hi)] + [int(b) for b in (lo, hi) if b is not None]
    cfg = ConfigStruct(
        f"cfg_{ident}",
        f"Clamp {comment_text(layer.name)}: [{layer.lo}, {layer.hi}]",
        [
            ("in_t", ctx.type_name(layer.inputs[0])),
            ("out_t", ctx.type_name(layer.output)),
            ("work_t", ap_type(min(bounds), max(bounds))),
        ],  # fmt: skip
        [
            _int_const("SIZE", x.size),
            ("bool", "HAS_LO", "true" if lo is not None else "false"),
            ("bool", "HAS_HI", "true" if hi is not None else "false"),
            _ll_const("LO", lo if lo is not None else 0),
            _ll_const("HI", hi if hi is not None else 0),
        ],  # fmt: skip
    )
    return cfg, [], _info(layer, ident, ctx, clamp=[layer.lo, layer.hi]), []


def _pool(layer: ir.MaxPool | ir.SumPool, ident: str, ctx: LayerContext) -> Built:
    x, y = ctx.tensor(layer.inputs[0]), ctx.tensor(layer.output)
    pads = tuple(layer.pads) if isinstance(layer, ir.MaxPool) else (0, 0, 0, 0)
    if len(x.shape) != 3 or len(y.shape) != 3 or x.shape[0] != y.shape[0]:
        raise UnsupportedModelError(f"{layer.op} '{layer.name}': expected (C,H,W) tensors with equal C")
    if min(layer.kernel) < 1 or min(layer.strides) < 1 or min(pads) < 0:
        raise UnsupportedModelError(f"{layer.op} '{layer.name}': kernel/strides must be >= 1 and pads >= 0")
    if ir.conv_output_hw(x.shape[1:], layer.kernel, layer.strides, pads) != tuple(y.shape[1:]):
        raise UnsupportedModelError(f"{layer.op} '{layer.name}': output shape {y.shape} does not match the window")
    (c, h, w), (_, oh, ow) = x.shape, y.shape
    (kh, kw), (sh, sw) = layer.kernel, layer.strides
    sizes = {"IN_H": h, "IN_W": w, "C": c, "OUT_H": oh, "OUT_W": ow, "KH": kh, "KW": kw}
    window = {"STRIDE_H": sh, "STRIDE_W": sw, "PAD_T": pads[0], "PAD_L": pads[1], "SPAN_H": kh}
    consts = [_int_const(k, v) for k, v in {**sizes, **window}.items()]
    types = [("in_t", ctx.type_name(layer.inputs[0])), ("out_t", ctx.type_name(layer.output))]
    if isinstance(layer, ir.MaxPool):
        consts.append(_ll_const("PAD_VALUE", int(x.lo)))
    else:
        types.append(("acc_t", ctx.type_name(layer.output)))
    cfg = ConfigStruct(
        f"cfg_{ident}",
        f"{layer.op} {comment_text(layer.name)}: {kh}x{kw}/{sh}x{sw}, pads {list(pads)}",
        types,
        consts,
    )
    info = _info(layer, ident, ctx, kernel=[kh, kw], strides=[sh, sw], pads=list(pads))
    return cfg, [], info, []


def _add(layer: ir.Add, ident: str, ctx: LayerContext) -> Built:
    a, b, y = (ctx.tensor(n) for n in (*layer.inputs, layer.output))
    if len(layer.inputs) != 2 or not a.size == b.size == y.size:
        raise UnsupportedModelError(f"Add '{layer.name}': needs two inputs of the output's size")
    s0, s1 = (int(s) for s in layer.shifts)
    if min(s0, s1) < 0:
        raise UnsupportedModelError(f"Add '{layer.name}': shifts must be >= 0")
    cfg = ConfigStruct(
        f"cfg_{ident}",
        f"Add {comment_text(layer.name)}: (a << {s0}) + (b << {s1})",
        [
            ("a_t", ctx.type_name(layer.inputs[0])),
            ("b_t", ctx.type_name(layer.inputs[1])),
            ("out_t", ctx.type_name(layer.output)),
            ("acc_t", ctx.type_name(layer.output)),
        ],  # fmt: skip
        [_int_const("SIZE", y.size), _int_const("SHIFT_A", s0), _int_const("SHIFT_B", s1)],
    )
    return cfg, [], _info(layer, ident, ctx, shifts=[s0, s1]), []


_BUILDERS = {
    ir.Conv: ("nbq::conv2d", _conv),
    ir.Dense: ("nbq::dense", _dense),
    ir.Threshold: ("nbq::threshold", _threshold),
    ir.Clamp: ("nbq::clamp", _clamp),
    ir.MaxPool: ("nbq::maxpool2d", _pool),
    ir.SumPool: ("nbq::sumpool2d", _pool),
    ir.Add: ("nbq::add", _add),
}


def process_code(proc: Process, ctx: LayerContext) -> ProcessCode:
    if proc.kind in ("clone", "copy"):
        t = ctx.tensor(proc.tensor)
        func = "nbq::clone2" if proc.kind == "clone" else "nbq::copy"
        return ProcessCode(
            call=f"{func}<{ctx.type_name(proc.tensor)}, {t.size}>",
            args=proc.inputs + proc.outputs,
            comment=f"{proc.kind} of {comment_text(proc.tensor)}",
        )
    layer = proc.layer
    entry = _BUILDERS.get(type(layer))
    if entry is None:
        hint = ""
        if isinstance(layer, ir.AffineQuant):
            hint = " (the threshold pass folds it; run the nbq passes first)"
        raise UnsupportedModelError(f"the HLS backend has no {layer.op} layer ('{layer.name}'){hint}")
    func, build = entry
    for name in (*layer.inputs, layer.output):
        ctx.tensor(name)  # every tensor needs a proven range
    ident = ctx.layer_ids.add(layer.name)
    cfg, arrays, info, array_args = build(layer, ident, ctx)
    return ProcessCode(
        call=f"{func}<{cfg.name}>",
        args=proc.inputs + proc.outputs + array_args,
        comment=cfg.comment,
        config=cfg,
        arrays=arrays,
        header=f"weights/{ident}.h" if arrays else None,
        ident=ident,
        info=info,
    )
