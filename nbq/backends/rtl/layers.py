"""Per-layer netlist printers: each turns one planned unit (nbq.plan.LayerPlan) into hw/rtl instances.

Every printer takes the input stream(s) and returns the output stream.  Nothing here decides a
design: engine, ROM rows, accumulator width, threshold tables and clamp bounds come from the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nbq import ir
from nbq.backends.escape import label
from nbq.backends.rtl import memfiles
from nbq.backends.rtl.mvau import ENGINE_PARAM
from nbq.backends.rtl.netlist import Netlist, Stream
from nbq.errors import InternalError, UnsupportedModelError
from nbq.plan.records import EngineKind, HardwarePlan, LayerPlan, ThresholdTable


@dataclass
class Builder:
    graph: ir.Graph
    plan: HardwarePlan
    net: Netlist = field(default_factory=Netlist)
    layers: list[dict] = field(default_factory=list)  # manifest entries of MVAU layers

    def tensor(self, name: str) -> ir.Tensor:
        t = self.graph.tensors[name]
        if t.lo is None or t.hi is None:
            raise InternalError(f"tensor '{name}' has no proven range: the passes did not run")
        return t

    # ------------------------------------------------------------ sliding windows

    def pad(self, layer: ir.Layer, src: Stream, pads: tuple[int, int, int, int], fill: int) -> Stream:
        if not any(pads):
            return src
        c, h, w = src.layout
        pt, pl, pb, pr = pads
        hp, wp = h + pt + pb, w + pl + pr
        dst = self.net.stream(f"{layer.name}_pad", src.elems, src.bits, src.signed, hp * wp, (c, hp, wp), True)
        self.net.stage("nbq_pad", f"{layer.name}_pad", src, dst,
                       {"H": h, "W": w, "ELEMS": src.elems, "E_BITS": src.bits, "PAD_T": pt, "PAD_L": pl,
                        "PAD_B": pb, "PAD_R": pr, "PAD_VALUE": int(fill) & ((1 << src.bits) - 1)},
                       f"{layer.op} {label(layer.name)}: pad {list(pads)} with {fill}")
        return dst

    def window(self, layer: ir.Layer, src: Stream, kernel, strides, dilations, out_hw) -> Stream:
        c, h, w = src.layout
        (kh, kw), (sh, sw), (dh, dw) = kernel, strides, dilations
        if (kh, kw, sh, sw, dh, dw) == (1, 1, 1, 1, 1, 1):
            return src
        oh, ow = out_hw
        dst = self.net.stream(f"{layer.name}_win", kh * kw * c, src.bits, src.signed, oh * ow, (c, oh, ow), True)
        self.net.stage("nbq_window", f"{layer.name}_win", src, dst,
                       {"H": h, "W": w, "ELEMS": c, "E_BITS": src.bits, "KH": kh, "KW": kw, "SH": sh, "SW": sw,
                        "DH": dh, "DW": dw},
                       f"{layer.op} {label(layer.name)}: {kh}x{kw} window, stride {sh}x{sw}, dilation {dh}x{dw}")
        return dst

    # ------------------------------------------------------------ Conv / Dense

    def conv(self, p: LayerPlan, src: Stream) -> Stream:
        layer = p.layer
        x, y = self.tensor(layer.inputs[0]), self.tensor(layer.output)
        if not src.pixels or len(x.shape) != 3:
            raise UnsupportedModelError(f"Conv '{layer.name}': expected a (C, H, W) feature map input")
        oc, icg, kh, kw = layer.weights.ints.shape
        _, oh, ow = y.shape
        s = self.pad(layer, src, tuple(layer.pads), 0)
        span_h, span_w = layer.dilations[0] * (kh - 1) + 1, layer.dilations[1] * (kw - 1) + 1
        fill = (span_h - 1) * s.layout[2] + span_w - 1  # pixels of an image taken before its first window
        s = self.window(layer, s, (kh, kw), layer.strides, layer.dilations, (oh, ow))
        per_window = p.fold.nf * p.fold.sf
        if s is not src and fill > 2 * per_window:
            # A fast MVAU would sit idle while the window fills at the start of each image: queue enough
            # windows to cover those fill cycles.
            s = self.net.fifo(f"{layer.name}_win", s, -(-fill // per_window) + 2)
        groups = 2 if p.engine.kind == EngineKind.CXNOR else layer.groups
        return self._mvau(p, s, kh * kw, x.shape[0], groups, oh * ow, (oc, oh, ow), True)

    def dense(self, p: LayerPlan, src: Stream) -> Stream:
        if src.pixels and src.beats > 1:
            src = self.gather(p.layer, src)
        n_in = p.layer.weights.ints.shape[1]
        if src.elems != n_in:
            raise UnsupportedModelError(f"Dense '{p.name}': {n_in} inputs but its input stream has {src.elems}")
        return self._mvau(p, src, 1, n_in, 1, 1, None, False)

    def _mvau(self, p: LayerPlan, src: Stream, taps: int, ch: int, groups: int, pixels: int, out_layout,
              out_pixels: bool) -> Stream:
        layer, fold, engine = p.layer, p.fold, p.engine
        pe, simd, nf, sf = fold.pe, fold.simd, fold.nf, fold.sf
        cplx = engine.kind == EngineKind.CXNOR
        lanes = 2 * pe if cplx else pe
        oc = layer.weights.ints.shape[0]
        if nf * lanes != oc or taps * ch // groups != sf * simd:
            raise InternalError(f"layer '{layer.name}': the planned folding {fold} does not fit the layer")
        ident = self.net.names.add(f"m_{layer.name}")
        acc_bits = p.acc.bits
        w_file = self.net.mem(f"{ident}_w.mem", p.rom.row_words, p.rom.row_bits)
        acc_s = self.net.stream(f"{layer.name}_acc", lanes, acc_bits, True, pixels * nf)
        self.net.stage("nbq_mvau", f"{layer.name}_mvau", src, acc_s,
                       {"ENGINE": ENGINE_PARAM[engine.kind], "TAPS": taps, "CH": ch, "GROUPS": groups,
                        "X_BITS": src.bits, "X_SIGNED": src.signed, "W_BITS": engine.code_bits, "PE": pe,
                        "SIMD": simd, "NF": nf, "SF": sf, "ACC_BITS": acc_bits, "W_FILE": w_file},
                       f"{layer.op} {label(layer.name)}: {engine.kind} engine, PE {pe} x SIMD {simd}, "
                       f"NF {nf} x SF {sf}, {layer.weights.format_str.replace('±', '+-')} weights",
                       out_data="out_acc")
        chan = lane_channels(nf, pe, cplx, oc)
        thr = p.threshold_layer
        if thr is not None:
            out_t = self.tensor(thr.output)
            lane_s = self.net.stream(f"{thr.name}_lanes", lanes, out_t.bits, out_t.signed, pixels * nf)
            self._threshold_unit(thr, p.threshold, acc_s, lane_s, nf, chan)
            name, final = thr.name, out_t
        else:
            y = self.tensor(layer.output)
            lane_s = self.net.stream(f"{layer.name}_lanes", lanes, y.bits, y.signed, pixels * nf)
            bias = p.bias
            b_bits = memfiles.signed_bits(int(bias.min(initial=0)), int(bias.max(initial=0)))
            b_file = self.net.mem(f"{ident}_b.mem", memfiles.bias_words(bias[chan], b_bits), lanes * b_bits)
            self.net.stage("nbq_bias", f"{layer.name}_bias", acc_s, lane_s,
                           {"LANES": lanes, "NF": nf, "IN_BITS": acc_bits, "B_BITS": b_bits, "OUT_BITS": y.bits,
                            "B_FILE": b_file}, f"{layer.op} {label(layer.name)}: bias")
            name, final = layer.name, y
        self.layers.append({
            "name": layer.name, "op": layer.op, "engine": str(engine.kind), "pe": pe, "simd": simd, "nf": nf,
            "sf": sf, "lanes": fold.lanes, "mac_units": fold.mac_units, "macs": fold.macs, "cycles": p.cycles,
            "acc_bits": acc_bits, "fused_threshold": thr.name if thr is not None else None,
            "rom": {"depth": p.rom.depth, "width": p.rom.row_bits, "memory": str(p.rom.memory)},
        })  # fmt: skip
        if nf == 1 and not cplx:
            out = lane_s
            out.layout, out.pixels, out.beats = out_layout, out_pixels, pixels
            return out
        out = self.net.stream(f"{name}_out", oc, final.bits, final.signed, pixels, out_layout, out_pixels)
        self.net.stage("nbq_collect", f"{name}_collect", lane_s, out,
                       {"LANES": lanes, "E_BITS": final.bits, "N": nf, "SPLIT": 2 if cplx else 1},
                       f"{layer.op} {label(layer.name)}: {nf} neuron folds -> one beat")
        return out

    # ------------------------------------------------------------ thresholds

    def _threshold_unit(self, thr: ir.Threshold, table: ThresholdTable, src: Stream, dst: Stream, nf: int,
                        chan: np.ndarray) -> None:
        """The planned table on beats of LANES values, lane p of fold f being channel chan[f, p]."""
        t_bits = memfiles.signed_bits(table.key_lo - 1, table.key_hi + 1)
        levels = table.levels
        t_file = self.net.mem(f"{self.net.names.add('t_' + thr.name)}.mem",
                              memfiles.threshold_words(table.rows[chan], table.up[chan], t_bits),
                              chan.shape[1] * (levels * t_bits + 1))
        self.net.stage("nbq_threshold", f"{thr.name}_thr", src, dst,
                       {"LANES": chan.shape[1], "NF": nf, "IN_BITS": src.bits, "IN_SIGNED": src.signed, "L": levels,
                        "T_BITS": t_bits, "OUT_BITS": dst.bits, "OUT_LO": table.out_lo, "STEP": table.step,
                        "T_FILE": t_file},
                       f"Threshold {label(thr.name)}: {levels} levels, out = {table.out_lo} + {table.step} * crossed")

    def threshold(self, p: LayerPlan, src: Stream) -> Stream:
        layer = p.layer
        y = self.tensor(layer.output)
        table = p.threshold
        if table.channels != src.elems and not (src.pixels and table.channels == src.layout[0]):
            raise InternalError(f"Threshold '{layer.name}': {table.channels} rows for beats of {src.elems} values")
        dst = self.net.like(f"{layer.name}_out", src, bits=y.bits, signed=y.signed)
        self._threshold_unit(layer, table, src, dst, 1, np.arange(src.elems)[None, :])
        return dst

    # ------------------------------------------------------------ elementwise, pooling, reshaping

    def clamp(self, p: LayerPlan, src: Stream) -> Stream:
        layer = p.layer
        y = self.tensor(layer.output)
        dst = self.net.like(f"{layer.name}_out", src, bits=y.bits, signed=y.signed)
        lo, hi = p.clamp
        self.net.stage("nbq_clamp", f"{layer.name}_clamp", src, dst,
                       {"ELEMS": src.elems, "IN_BITS": src.bits, "IN_SIGNED": src.signed, "OUT_BITS": y.bits,
                        "HAS_LO": lo is not None, "LO": lo if lo is not None else 0, "HAS_HI": hi is not None,
                        "HI": hi if hi is not None else 0},
                       f"Clamp {label(layer.name)}: [{layer.lo}, {layer.hi}]")
        return dst

    def pool(self, p: LayerPlan, src: Stream) -> Stream:
        layer = p.layer
        y = self.tensor(layer.output)
        if not src.pixels:
            raise UnsupportedModelError(f"{layer.op} '{layer.name}': expected a (C, H, W) feature map input")
        c, h, w = src.layout
        _, oh, ow = y.shape
        pads = tuple(getattr(layer, "pads", (0, 0, 0, 0)))
        mode = 0 if isinstance(layer, ir.MaxPool) else 1
        if p.global_pool:
            dst = self.net.stream(f"{layer.name}_out", c, y.bits, y.signed, 1, (c, 1, 1), True)
            self.net.stage("nbq_global_pool", f"{layer.name}_gpool", src, dst,
                           {"ELEMS": c, "N": h * w, "IN_BITS": src.bits, "IN_SIGNED": src.signed,
                            "OUT_BITS": y.bits, "MODE": mode}, f"{layer.op} {label(layer.name)}: over the whole map")
            return dst
        s = self.pad(layer, src, pads, p.fill)
        s = self.window(layer, s, layer.kernel, layer.strides, (1, 1), (oh, ow))
        dst = self.net.stream(f"{layer.name}_out", c, y.bits, y.signed, oh * ow, (c, oh, ow), True)
        taps = layer.kernel[0] * layer.kernel[1]
        self.net.stage("nbq_pool", f"{layer.name}_pool", s, dst,
                       {"ELEMS": c, "TAPS": taps, "IN_BITS": src.bits, "IN_SIGNED": src.signed, "OUT_BITS": y.bits,
                        "MODE": mode},
                       f"{layer.op} {label(layer.name)}: {'max' if mode == 0 else 'sum'} of {taps} taps")
        return dst

    def gather(self, layer: ir.Layer, src: Stream) -> Stream:
        """All pixels of a map -> one vector beat, in stream (h, w, c) order."""
        dst = self.net.stream(f"{layer.name}_vec", src.elems * src.beats, src.bits, src.signed, 1, src.layout, False)
        self.net.stage("nbq_collect", f"{layer.name}_gather", src, dst,
                       {"LANES": src.elems, "E_BITS": src.bits, "N": src.beats, "SPLIT": 1},
                       f"{layer.op} {label(layer.name)}: {src.beats} pixels -> one vector")
        return dst

    def flatten(self, layer: ir.Flatten, src: Stream) -> Stream:
        if not src.pixels:
            return src
        if src.beats > 1:
            return self.gather(layer, src)
        return Stream(src.name, src.elems, src.bits, src.signed, 1, src.layout, False)  # same wires, a vector now

    def add(self, layer: ir.Add, a: Stream, b: Stream) -> Stream:
        y = self.tensor(layer.output)
        if a.elems != b.elems or a.beats != b.beats:
            raise UnsupportedModelError(f"Add '{layer.name}': its inputs stream differently")
        dst = self.net.like(f"{layer.name}_out", a, bits=y.bits, signed=y.signed)
        sa, sb = (int(s) for s in layer.shifts)
        self.net.add("nbq_add", f"{layer.name}_add",
                     {"ELEMS": a.elems, "A_BITS": a.bits, "A_SIGNED": a.signed, "B_BITS": b.bits,
                      "B_SIGNED": b.signed, "SHIFT_A": sa, "SHIFT_B": sb, "OUT_BITS": y.bits},
                     [("clk", "ap_clk"), ("rst_n", "ap_rst_n"),
                      ("a_valid", f"{a.name}_valid"), ("a_ready", f"{a.name}_ready"), ("a_data", f"{a.name}_data"),
                      ("b_valid", f"{b.name}_valid"), ("b_ready", f"{b.name}_ready"), ("b_data", f"{b.name}_data"),
                      ("out_valid", f"{dst.name}_valid"), ("out_ready", f"{dst.name}_ready"),
                      ("out_data", f"{dst.name}_data")],
                     f"Add {label(layer.name)}: (a << {sa}) + (b << {sb})")
        return dst


def lane_channels(nf: int, pe: int, complex_: bool, oc: int) -> np.ndarray:
    """(NF, LANES): the output channel of lane p in neuron fold f (complex: real lanes, then imaginary)."""
    f = np.arange(nf)[:, None]
    p = np.arange(pe)[None, :]
    real = f * pe + p
    return np.concatenate([real, oc // 2 + real], axis=1) if complex_ else real
