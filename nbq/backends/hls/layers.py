"""Per-process template contexts: config structs, calls and constant arrays, printed from the plan.

Every design decision (engine, ROM rows, accumulator width, threshold tables, clamp bounds,
cycles) comes from the hardware plan (nbq.plan); this module lays it out as C++ records.
Conv and Dense (the engine arrays) live in mvau.py; this module holds the shared records, the
element-wise and pooling layers, and the stream adapters (clone, regroup, port adapters).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nbq import ir
from nbq.backends.escape import comment_text, label
from nbq.backends.hls.cxx import ap_type, int_list, int_literal, table_type
from nbq.backends.hls.streams import Process, Stream, Wiring
from nbq.backends.hls.window import Geometry
from nbq.backends.names import NameTable
from nbq.errors import InternalError, UnsupportedModelError
from nbq.plan.layout import Layout
from nbq.plan.records import HardwarePlan, LayerPlan, Rom, ThresholdTable


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
    storage: str | None = None  # the plan's memory kind for a ROM ("lutram", "bram", "uram")
    rom: Rom | None = None  # a weight ROM: body empty, printed inline or as a packed file (nbq.backends.hls.romfile)


@dataclass
class Call:
    func: str  # function with template arguments
    args: list[str]


@dataclass
class Built:
    """What a layer builder returns."""

    configs: list[ConfigStruct]
    calls: list[Call]
    info: dict
    cycles: int  # cycles per image of the slowest of the layer's processes
    arrays: list[CArray] = field(default_factory=list)
    streams: list[Stream] = field(default_factory=list)  # internal streams (e.g. window -> MVAU)


@dataclass
class ProcessCode:
    calls: list[Call]
    comment: str
    cycles: int
    configs: list[ConfigStruct] = field(default_factory=list)
    arrays: list[CArray] = field(default_factory=list)
    streams: list[Stream] = field(default_factory=list)
    header: str | None = None  # firmware-relative weights header, when arrays exist
    ident: str = ""
    info: dict | None = None  # manifest entry (layers only)


class LayerContext:
    """What every builder needs: the graph, its wiring, stream layouts, identifiers, the engine option."""

    def __init__(self, plan: HardwarePlan, wiring: Wiring, layouts: dict[str, Layout]) -> None:
        self.plan = plan
        self.graph = plan.graph
        self.wiring = wiring
        self.layouts = layouts
        self.layer_ids = NameTable()

    def tensor(self, name: str) -> ir.Tensor:
        t = self.graph.tensors[name]
        if t.lo is None or t.hi is None:
            raise InternalError(f"tensor '{name}' has no proven range: the passes did not run")
        return t

    def type_name(self, tensor: str) -> str:
        return f"t_{self.wiring.ids[self.wiring.root[tensor]]}"

    def word_type(self, tensor: str, width: int) -> str:
        return f"nbq::vec<{self.type_name(tensor)}, {width}>"


def format_label(weights: ir.Weights) -> str:
    """The weight format for a C++ comment (ASCII only)."""
    return comment_text(weights.format_str.replace("±", "+-"))


def bool_list(values: np.ndarray, per_line: int = 16) -> str:
    words = ["true" if v else "false" for v in np.asarray(values).ravel().tolist()]
    return ",\n".join("    " + ", ".join(words[i : i + per_line]) for i in range(0, len(words), per_line))


def int_const(name: str, value: int) -> tuple[str, str, str]:
    return ("int", name, str(int(value)))


def ll_const(name: str, value: int) -> tuple[str, str, str]:
    return ("long long", name, int_literal(value))


def layer_info(unit: LayerPlan, ident: str, ctx: LayerContext, **extra: object) -> dict:
    layer = unit.layer
    out = ctx.tensor(unit.output)
    info = {
        "name": layer.name,
        "c_name": ident,
        "op": layer.op,
        "inputs": list(layer.inputs),
        "output": unit.output,
        "cycles": unit.cycles,
        "stages": {s.name: s.cycles for s in unit.stages},
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


def storage_const(unit: LayerPlan) -> list[tuple[str, str, str]]:
    """The line buffer's memory kind for window.h / pool.h (CFG::STORAGE; absent = the tool picks)."""
    kinds = {"lutram": "LUTRAM", "bram": "BRAM", "uram": "URAM"}
    buffers = [b for b in unit.buffers if str(b.memory) in kinds]
    return [("int", "STORAGE", f"nbq::STORAGE_{kinds[str(buffers[0].memory)]}")] if buffers else []


def _ceil_log2(n: int) -> int:
    return max(1, int(n).bit_length())  # bits of n = stages of a search over n values (2^s - 1 >= n)


# ------------------------------------------------------------------ element-wise


def threshold_code(thr: ir.Threshold, table: ThresholdTable, ident: str, ctx: LayerContext, width: int,
                   words: int, in_type: str) -> tuple[ConfigStruct, list[CArray], Call]:
    """The planned table as a binary-search threshold unit (threshold.h) on words of `width` values: rows
    padded to 2^STAGES - 1 slots with key_hi + 1, which no key reaches."""
    if table.channels % width:
        raise InternalError(f"Threshold '{thr.name}': {width}-value words do not divide {table.channels} rows")
    levels = table.levels
    stages = _ceil_log2(levels)
    slots = 2**stages - 1
    padded = np.full((table.channels, slots), table.key_hi + 1, dtype=np.int64)
    padded[:, :levels] = table.rows
    lo, hi = table.key_lo, table.key_hi
    t_type = table_type(int(padded.min()), int(padded.max()))
    rows, lanes = (1, 1) if table.channels == 1 else (table.channels // width, width)  # row j = word j of a pixel
    arrays = [
        CArray(t_type, f"th_{ident}", f"[{rows}][{lanes}][{slots}]", int_list(padded),
               f"thresholds per row (stream order), ascending, padded to {slots} with {hi + 1}"),
        CArray("bool", f"up_{ident}", f"[{rows}][{lanes}]", bool_list(table.up),
               "1: crossed when x >= t, 0: when x <= t"),
    ]  # fmt: skip
    cfg = ConfigStruct(
        f"cfg_{ident}_thr" if thr.fused_into is not None else f"cfg_{ident}",
        f"Threshold {label(thr.name)}: {levels} levels ({stages}-stage search), "
        f"out = {table.out_lo} + {table.step}*crossed, {width} per word",
        [("in_t", in_type), ("out_t", ctx.type_name(thr.output)), ("key_t", ap_type(lo - 1, hi)),
         ("th_t", ap_type(lo - 1, hi + 1)), ("th_table_t", t_type)],
        [int_const("W", width), int_const("ROWS", table.channels), int_const("CHUNKS", table.channels // width),
         int_const("WORDS", words), int_const("STAGES", stages), int_const("SLOTS", slots), int_const("L", levels),
         ll_const("OUT_LO", table.out_lo), ll_const("STEP", table.step)],
    )  # fmt: skip
    return cfg, arrays, Call(f"nbq::threshold<{cfg.name}>", [f"th_{ident}", f"up_{ident}"])


def threshold_unit_code(unit: LayerPlan, ident: str, ctx: LayerContext, proc: Process) -> Built:
    layer = unit.layer
    x = ctx.tensor(layer.inputs[0])
    w = proc.in_widths[0]
    words = x.size // w
    cfg, arrays, call = threshold_code(layer, unit.threshold, ident, ctx, w, words, ctx.type_name(layer.inputs[0]))
    call.args = [*proc.inputs, *proc.outputs, *call.args]
    info = layer_info(unit, ident, ctx, levels=unit.threshold.levels, width=w)
    return Built([cfg], [call], info, unit.cycles, arrays)


def clamp_code(unit: LayerPlan, ident: str, ctx: LayerContext, proc: Process) -> Built:
    layer = unit.layer
    x = ctx.tensor(layer.inputs[0])
    w = proc.in_widths[0]
    lo, hi = unit.clamp
    bounds = [int(x.lo), int(x.hi)] + [int(b) for b in (lo, hi) if b is not None]
    words = x.size // w
    cfg = ConfigStruct(
        f"cfg_{ident}",
        f"Clamp {label(layer.name)}: [{layer.lo}, {layer.hi}], {w} per word",
        [
            ("in_t", ctx.type_name(layer.inputs[0])),
            ("out_t", ctx.type_name(layer.output)),
            ("work_t", ap_type(min(bounds), max(bounds))),
        ],  # fmt: skip
        [
            int_const("W", w),
            int_const("WORDS", words),
            ("bool", "HAS_LO", "true" if lo is not None else "false"),
            ("bool", "HAS_HI", "true" if hi is not None else "false"),
            ll_const("LO", lo if lo is not None else 0),
            ll_const("HI", hi if hi is not None else 0),
        ],  # fmt: skip
    )
    info = layer_info(unit, ident, ctx, clamp=[layer.lo, layer.hi], width=w)
    return Built([cfg], [Call(f"nbq::clamp<cfg_{ident}>", [*proc.inputs, *proc.outputs])], info, unit.cycles)


def add_code(unit: LayerPlan, ident: str, ctx: LayerContext, proc: Process) -> Built:
    layer = unit.layer
    a, b, y = (ctx.tensor(n) for n in (*layer.inputs, layer.output))
    if len(layer.inputs) != 2 or not a.size == b.size == y.size:
        raise UnsupportedModelError(f"Add '{layer.name}': needs two inputs of the output's size")
    s0, s1 = (int(s) for s in layer.shifts)
    if min(s0, s1) < 0:
        raise UnsupportedModelError(f"Add '{layer.name}': shifts must be >= 0")
    w = proc.in_widths[0]
    if proc.in_widths[1] != w:
        raise UnsupportedModelError(f"Add '{layer.name}': inputs of {proc.in_widths} values per word")
    words = y.size // w
    cfg = ConfigStruct(
        f"cfg_{ident}",
        f"Add {label(layer.name)}: (a << {s0}) + (b << {s1}), {w} per word",
        [
            ("a_t", ctx.type_name(layer.inputs[0])),
            ("b_t", ctx.type_name(layer.inputs[1])),
            ("out_t", ctx.type_name(layer.output)),
            ("acc_t", ctx.type_name(layer.output)),
        ],  # fmt: skip
        [int_const("W", w), int_const("WORDS", words), int_const("SHIFT_A", s0), int_const("SHIFT_B", s1)],
    )
    info = layer_info(unit, ident, ctx, shifts=[s0, s1], width=w)
    return Built([cfg], [Call(f"nbq::add<cfg_{ident}>", [*proc.inputs, *proc.outputs])], info, unit.cycles)


# ------------------------------------------------------------------ pooling


def pool_code(unit: LayerPlan, ident: str, ctx: LayerContext, proc: Process) -> Built:
    layer = unit.layer
    x, y = ctx.tensor(layer.inputs[0]), ctx.tensor(layer.output)
    pads = tuple(layer.pads)
    if len(x.shape) != 3 or len(y.shape) != 3 or x.shape[0] != y.shape[0]:
        raise UnsupportedModelError(f"{layer.op} '{layer.name}': expected (C,H,W) tensors with equal C")
    if min(layer.kernel) < 1 or min(layer.strides) < 1 or min(pads) < 0:
        raise UnsupportedModelError(f"{layer.op} '{layer.name}': kernel/strides must be >= 1 and pads >= 0")
    if ir.conv_output_hw(x.shape[1:], layer.kernel, layer.strides, pads) != tuple(y.shape[1:]):
        raise UnsupportedModelError(f"{layer.op} '{layer.name}': output shape {y.shape} does not match the window")
    (c, h, w), (_, oh, ow) = x.shape, y.shape
    beat = proc.in_widths[0]
    types = [("in_t", ctx.type_name(layer.inputs[0])), ("out_t", ctx.type_name(layer.output))]
    comment = f"{layer.op} {label(layer.name)}: {layer.kernel[0]}x{layer.kernel[1]}/" \
              f"{layer.strides[0]}x{layer.strides[1]}, pads {list(pads)}, {beat} per word"
    if unit.global_pool and isinstance(layer, ir.SumPool):  # accumulators, no line buffer
        cfg = ConfigStruct(f"cfg_{ident}", comment + " (global)", [*types, ("acc_t", ctx.type_name(layer.output))],
                           [int_const("C", c), int_const("PIXELS", h * w), int_const("IN_BEAT", beat)])
        call = Call(f"nbq::global_sumpool<cfg_{ident}>", [*proc.inputs, *proc.outputs])
    else:
        fill = unit.fill
        geo = Geometry(c, h, w, tuple(layer.kernel), tuple(layer.strides), (1, 1), pads, (oh, ow), beat, c // beat,
                       fill, beat, 1)  # fmt: skip
        consts = [int_const(k, v) for k, v in geo.consts().items()] + [ll_const("PAD_VALUE", fill)]
        consts += storage_const(unit)
        if isinstance(layer, ir.SumPool):
            types.append(("acc_t", ctx.type_name(layer.output)))
        cfg = ConfigStruct(f"cfg_{ident}", comment, types, consts)
        func = "nbq::maxpool2d" if isinstance(layer, ir.MaxPool) else "nbq::sumpool2d"
        call = Call(f"{func}<cfg_{ident}>", [*proc.inputs, *proc.outputs])
    info = layer_info(unit, ident, ctx, kernel=list(layer.kernel), strides=list(layer.strides), pads=list(pads),
                      width=beat)  # fmt: skip
    return Built([cfg], [call], info, unit.cycles)


# ------------------------------------------------------------------ adapters


def adapter_code(proc: Process, ctx: LayerContext) -> ProcessCode:
    """clone2, regroup, to_vec, from_vec: template arguments only, no config struct."""
    t = ctx.tensor(proc.tensor)
    ctype = ctx.type_name(proc.tensor)
    what = label(proc.tensor)
    if proc.kind == "clone":
        w = proc.in_widths[0]
        return ProcessCode([Call(f"nbq::clone2<{ctx.word_type(proc.tensor, w)}, {t.size // w}>",
                                 proc.inputs + proc.outputs)], f"clone of {what}", t.size // w)  # fmt: skip
    if proc.kind == "regroup":
        a, b = proc.in_widths[0], proc.out_width
        cycles = t.size // min(a, b) if max(a, b) % min(a, b) == 0 else t.size // a + t.size // b
        return ProcessCode([Call(f"nbq::regroup<{ctype}, {a}, {b}, {t.size}>", proc.inputs + proc.outputs)],
                           f"{what}: words of {a} -> {b} values", cycles)  # fmt: skip
    if proc.kind == "to_vec":
        return ProcessCode([Call(f"nbq::to_vec<{ctype}, {proc.out_width}, {t.size}>", proc.inputs + proc.outputs)],
                           f"input {what}: one value per transfer -> words of {proc.out_width}", t.size)  # fmt: skip
    if proc.kind == "from_vec":
        w = proc.in_widths[0]
        return ProcessCode([Call(f"nbq::from_vec<{ctype}, {w}, {t.size}>", proc.inputs + proc.outputs)],
                           f"output {what}: words of {w} -> one value per transfer", t.size)  # fmt: skip
    raise ValueError(f"unknown process kind {proc.kind}")
