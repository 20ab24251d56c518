"""Per-layer netlist builders: each turns one IR layer (plus a fused Threshold) into hw/rtl instances.

Every builder takes the input stream(s) and returns the output stream, and
records the stage's cycles per image (one beat per cycle per stage; the MVAU
NF * SF cycles per input vector) for the analytical cycle model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nbq import ir
from nbq.backends.rtl import memfiles
from nbq.backends.rtl.mvau import (
    CXNOR,
    ENGINE_NAMES,
    acc_range,
    code_bits,
    conv_matrix,
    engine_for,
    hw_codes,
    weight_rom,
)
from nbq.backends.rtl.netlist import Netlist, Stream
from nbq.errors import UnsupportedModelError


@dataclass
class Builder:
    graph: ir.Graph
    net: Netlist = field(default_factory=Netlist)
    stages: list[dict] = field(default_factory=list)  # cycle model: {"layer", "stage", "cycles"}
    layers: list[dict] = field(default_factory=list)  # manifest entries of MVAU layers

    def tensor(self, name: str) -> ir.Tensor:
        t = self.graph.tensors[name]
        if t.lo is None or t.hi is None:
            raise UnsupportedModelError(f"tensor '{name}' has no proven range; run the nbq passes first")
        return t

    def cost(self, layer: ir.Layer, stage: str, cycles: int) -> None:
        self.stages.append({"layer": layer.name, "stage": stage, "cycles": int(cycles)})

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
                       f"{layer.op} {layer.name}: pad {list(pads)} with {fill}")
        self.cost(layer, "pad", hp * wp)
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
                       f"{layer.op} {layer.name}: {kh}x{kw} window, stride {sh}x{sw}, dilation {dh}x{dw}")
        self.cost(layer, "window", h * w)
        return dst

    # ------------------------------------------------------------ Conv / Dense

    def conv(self, layer: ir.Conv, src: Stream, thr: ir.Threshold | None) -> Stream:
        x, y = self.tensor(layer.inputs[0]), self.tensor(layer.output)
        if not src.pixels or len(x.shape) != 3:
            raise UnsupportedModelError(f"Conv '{layer.name}': expected a (C, H, W) feature map input")
        oc, icg, kh, kw = layer.weights.ints.shape
        _, oh, ow = y.shape
        s = self.pad(layer, src, tuple(layer.pads), 0)
        span_h, span_w = layer.dilations[0] * (kh - 1) + 1, layer.dilations[1] * (kw - 1) + 1
        fill = (span_h - 1) * s.layout[2] + span_w - 1  # pixels of an image taken before its first window
        s = self.window(layer, s, (kh, kw), layer.strides, layer.dilations, (oh, ow))
        fold = _folding(layer)
        per_window = fold["nf"] * fold["sf"]
        if s is not src and fill > 2 * per_window:
            # A fast MVAU would sit idle while the window fills at the start of each image: queue enough
            # windows to cover those fill cycles.
            s = self.net.fifo(f"{layer.name}_win", s, -(-fill // per_window) + 2)
        cplx = bool(fold.get("complex"))
        engine = engine_for(layer.weights, x.lo, x.hi, cplx)
        codes = hw_codes(layer.weights, engine)
        if engine == CXNOR:
            o, i = oc // 2, icg // 2
            a, b = conv_matrix(codes[:o, :i]), conv_matrix(codes[o:, :i])
            words, width = weight_rom(a, engine, 1, fold["pe"], fold["simd"], b_codes=b)
            groups = 2
        else:
            words, width = weight_rom(conv_matrix(codes), engine, code_bits(layer.weights, engine),
                                      fold["pe"], fold["simd"])
            groups = layer.groups
        acc = acc_range(conv_matrix(layer.weights.ints), x.lo, x.hi)
        return self._mvau(layer, s, thr, engine, kh * kw, x.shape[0], groups, words, width, acc, oh * ow,
                          (oc, oh, ow), True)

    def dense(self, layer: ir.Dense, src: Stream, thr: ir.Threshold | None) -> Stream:
        x = self.tensor(layer.inputs[0])
        if src.pixels and src.beats > 1:
            src = self.gather(layer, src)
        n_out, n_in = layer.weights.ints.shape
        if src.elems != n_in:
            raise UnsupportedModelError(f"Dense '{layer.name}': {n_in} inputs but its input stream has {src.elems}")
        order = stream_order(src.layout) if src.layout is not None else np.arange(n_in)
        engine = engine_for(layer.weights, x.lo, x.hi)
        codes = hw_codes(layer.weights, engine)[:, order]
        words, width = weight_rom(codes, engine, code_bits(layer.weights, engine), _folding(layer)["pe"],
                                  _folding(layer)["simd"])
        acc = acc_range(layer.weights.ints, x.lo, x.hi)
        return self._mvau(layer, src, thr, engine, 1, n_in, 1, words, width, acc, 1, None, False)

    def _mvau(self, layer, src: Stream, thr, engine: int, taps: int, ch: int, groups: int, words, width: int,
              acc, pixels: int, out_layout, out_pixels: bool) -> Stream:
        fold = _folding(layer)
        pe, simd, nf, sf = fold["pe"], fold["simd"], fold["nf"], fold["sf"]
        cplx = engine == CXNOR
        lanes = 2 * pe if cplx else pe
        oc = layer.weights.ints.shape[0]
        if nf * lanes != oc or taps * ch // groups != sf * simd:
            raise UnsupportedModelError(f"layer '{layer.name}': folding {fold} does not fit the layer")
        x = self.tensor(layer.inputs[0])
        ident = self.net.names.add(f"m_{layer.name}")
        acc_bits = max(acc.bits, x.bits + 1, 2)
        w_file = self.net.mem(f"{ident}_w.mem", words, width)
        acc_s = self.net.stream(f"{layer.name}_acc", lanes, acc_bits, True, pixels * nf)
        self.net.stage("nbq_mvau", f"{layer.name}_mvau", src, acc_s,
                       {"ENGINE": engine, "TAPS": taps, "CH": ch, "GROUPS": groups, "X_BITS": src.bits,
                        "X_SIGNED": src.signed, "W_BITS": 1 if engine >= 2 else layer.weights.bits, "PE": pe,
                        "SIMD": simd, "NF": nf, "SF": sf, "ACC_BITS": acc_bits, "W_FILE": w_file},
                       f"{layer.op} {layer.name}: {ENGINE_NAMES[engine]} engine, PE {pe} x SIMD {simd}, "
                       f"NF {nf} x SF {sf}, {layer.weights.format_str.replace('±', '+-')} weights",
                       out_data="out_acc")
        self.cost(layer, "mvau", pixels * nf * sf)
        chan = lane_channels(nf, pe, cplx, oc)
        bias = np.zeros(oc, dtype=np.int64) if layer.bias is None else np.asarray(layer.bias, np.int64).ravel()
        if thr is not None:
            out_t = self.tensor(thr.output)
            lane_s = self.net.stream(f"{thr.name}_lanes", lanes, out_t.bits, out_t.signed, pixels * nf)
            self._threshold_unit(thr, acc_s, lane_s, nf, chan, self.tensor(layer.output), bias, (acc.lo, acc.hi))
            name, final = thr.name, out_t
        else:
            y = self.tensor(layer.output)
            lane_s = self.net.stream(f"{layer.name}_lanes", lanes, y.bits, y.signed, pixels * nf)
            b_bits = memfiles.signed_bits(int(bias.min(initial=0)), int(bias.max(initial=0)))
            b_file = self.net.mem(f"{ident}_b.mem", memfiles.bias_words(bias[chan], b_bits), lanes * b_bits)
            self.net.stage("nbq_bias", f"{layer.name}_bias", acc_s, lane_s,
                           {"LANES": lanes, "NF": nf, "IN_BITS": acc_bits, "B_BITS": b_bits, "OUT_BITS": y.bits,
                            "B_FILE": b_file}, f"{layer.op} {layer.name}: bias")
            self.cost(layer, "bias", pixels * nf)
            name, final = layer.name, y
        self.layers.append({
            "name": layer.name, "op": layer.op, "engine": ENGINE_NAMES[engine], "pe": pe, "simd": simd, "nf": nf,
            "sf": sf, "lanes": pe * simd, "mac_units": int(fold["mac_units"]), "macs": int(fold["macs"]),
            "cycles": pixels * nf * sf,
            "acc_bits": acc_bits, "fused_threshold": thr.name if thr is not None else None,
        })  # fmt: skip
        if nf == 1 and not cplx:
            out = lane_s
            out.layout, out.pixels, out.beats = out_layout, out_pixels, pixels
            return out
        out = self.net.stream(f"{name}_out", oc, final.bits, final.signed, pixels, out_layout, out_pixels)
        self.net.stage("nbq_collect", f"{name}_collect", lane_s, out,
                       {"LANES": lanes, "E_BITS": final.bits, "N": nf, "SPLIT": 2 if cplx else 1},
                       f"{layer.op} {layer.name}: {nf} neuron folds -> one beat")
        self.cost(layer, "collect", pixels * nf)
        return out

    # ------------------------------------------------------------ thresholds

    def _threshold_unit(self, thr: ir.Threshold, src: Stream, dst: Stream, nf: int, chan: np.ndarray,
                        x: ir.Tensor, bias: np.ndarray, acc_range_: tuple[int, int]) -> None:
        """Thresholds on beats of LANES values, lane p of fold f being channel chan[f, p].

        A bias still to be added to the input is moved into the thresholds (x + b >= t <=> x >= t - b).
        """
        channels = int(chan.max()) + 1
        th, up, out_lo = threshold_table(thr, channels, x.lo, x.hi)
        th = th - bias[:, None]
        lo, hi = acc_range_
        th = np.clip(th, lo - 1, hi + 1)  # every comparison keeps its result on [lo, hi]
        t_bits = memfiles.signed_bits(lo - 1, hi + 1)
        levels = th.shape[1]
        t_file = self.net.mem(f"{self.net.names.add('t_' + thr.name)}.mem",
                              memfiles.threshold_words(th[chan], up[chan], t_bits),
                              chan.shape[1] * (levels * t_bits + 1))
        self.net.stage("nbq_threshold", f"{thr.name}_thr", src, dst,
                       {"LANES": chan.shape[1], "NF": nf, "IN_BITS": src.bits, "IN_SIGNED": src.signed, "L": levels,
                        "T_BITS": t_bits, "OUT_BITS": dst.bits, "OUT_LO": out_lo, "STEP": int(thr.step),
                        "T_FILE": t_file},
                       f"Threshold {thr.name}: {levels} levels, out = {out_lo} + {thr.step} * crossed")
        self.cost(thr, "threshold", src.beats)

    def threshold(self, layer: ir.Threshold, src: Stream) -> Stream:
        x, y = self.tensor(layer.inputs[0]), self.tensor(layer.output)
        rows = np.asarray(layer.thresholds).shape[0]
        if rows not in (1, src.elems) and not (src.pixels and rows == src.layout[0]):
            raise UnsupportedModelError(f"Threshold '{layer.name}': {rows} rows for beats of {src.elems} values")
        dst = self.net.like(f"{layer.name}_out", src, bits=y.bits, signed=y.signed)
        chan = np.arange(src.elems)[None, :]
        if rows == 1:
            chan = np.zeros_like(chan)
        elif not src.pixels and src.layout is not None:  # per-feature rows of a flattened map
            chan = stream_order(src.layout)[None, :]
        self._threshold_unit(layer, src, dst, 1, chan, x, np.zeros(max(rows, 1), np.int64), (x.lo, x.hi))
        return dst

    # ------------------------------------------------------------ elementwise, pooling, reshaping

    def clamp(self, layer: ir.Clamp, src: Stream) -> Stream:
        x, y = self.tensor(layer.inputs[0]), self.tensor(layer.output)
        dst = self.net.like(f"{layer.name}_out", src, bits=y.bits, signed=y.signed)
        lo = layer.lo is not None and layer.lo > x.lo
        hi = layer.hi is not None and layer.hi < x.hi
        self.net.stage("nbq_clamp", f"{layer.name}_clamp", src, dst,
                       {"ELEMS": src.elems, "IN_BITS": src.bits, "IN_SIGNED": src.signed, "OUT_BITS": y.bits,
                        "HAS_LO": lo, "LO": layer.lo if lo else 0, "HAS_HI": hi, "HI": layer.hi if hi else 0},
                       f"Clamp {layer.name}: [{layer.lo}, {layer.hi}]")
        self.cost(layer, "clamp", src.beats)
        return dst

    def pool(self, layer: ir.MaxPool | ir.SumPool, src: Stream) -> Stream:
        x, y = self.tensor(layer.inputs[0]), self.tensor(layer.output)
        if not src.pixels:
            raise UnsupportedModelError(f"{layer.op} '{layer.name}': expected a (C, H, W) feature map input")
        c, h, w = src.layout
        _, oh, ow = y.shape
        pads = tuple(getattr(layer, "pads", (0, 0, 0, 0)))
        mode = 0 if isinstance(layer, ir.MaxPool) else 1
        if tuple(layer.kernel) == (h, w) and not any(pads) and (oh, ow) == (1, 1):
            dst = self.net.stream(f"{layer.name}_out", c, y.bits, y.signed, 1, (c, 1, 1), True)
            self.net.stage("nbq_global_pool", f"{layer.name}_gpool", src, dst,
                           {"ELEMS": c, "N": h * w, "IN_BITS": src.bits, "IN_SIGNED": src.signed,
                            "OUT_BITS": y.bits, "MODE": mode}, f"{layer.op} {layer.name}: over the whole map")
            self.cost(layer, "global_pool", h * w)
            return dst
        s = self.pad(layer, src, pads, x.lo)
        s = self.window(layer, s, layer.kernel, layer.strides, (1, 1), (oh, ow))
        dst = self.net.stream(f"{layer.name}_out", c, y.bits, y.signed, oh * ow, (c, oh, ow), True)
        taps = layer.kernel[0] * layer.kernel[1]
        self.net.stage("nbq_pool", f"{layer.name}_pool", s, dst,
                       {"ELEMS": c, "TAPS": taps, "IN_BITS": src.bits, "IN_SIGNED": src.signed, "OUT_BITS": y.bits,
                        "MODE": mode}, f"{layer.op} {layer.name}: {'max' if mode == 0 else 'sum'} of {taps} taps")
        self.cost(layer, "pool", oh * ow)
        return dst

    def gather(self, layer: ir.Layer, src: Stream) -> Stream:
        """All pixels of a map -> one vector beat, in stream (h, w, c) order."""
        dst = self.net.stream(f"{layer.name}_vec", src.elems * src.beats, src.bits, src.signed, 1, src.layout, False)
        self.net.stage("nbq_collect", f"{layer.name}_gather", src, dst,
                       {"LANES": src.elems, "E_BITS": src.bits, "N": src.beats, "SPLIT": 1},
                       f"{layer.op} {layer.name}: {src.beats} pixels -> one vector")
        self.cost(layer, "gather", src.beats)
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
                     f"Add {layer.name}: (a << {sa}) + (b << {sb})")
        self.cost(layer, "add", a.beats)
        return dst


def _folding(layer: ir.Conv | ir.Dense) -> dict:
    if not layer.folding:
        raise UnsupportedModelError(f"layer '{layer.name}' has no folding; run nbq.passes.folding.choose_folding")
    return layer.folding


def lane_channels(nf: int, pe: int, complex_: bool, oc: int) -> np.ndarray:
    """(NF, LANES): the output channel of lane p in neuron fold f (complex: real lanes, then imaginary)."""
    f = np.arange(nf)[:, None]
    p = np.arange(pe)[None, :]
    real = f * pe + p
    return np.concatenate([real, oc // 2 + real], axis=1) if complex_ else real


def stream_order(layout: tuple[int, int, int]) -> np.ndarray:
    """order[s] = logical (c, h, w) flat index of the value at stream position s (channels-last)."""
    c, h, w = layout
    return np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).ravel()


def threshold_table(layer: ir.Threshold, channels: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(thresholds (channels, L), up (channels,), out_lo) with levels no input in [lo, hi] can change dropped.

    A level that no channel can ever cross adds nothing; one every channel always crosses adds `step`
    to out_lo.  (Folded quantizers often carry many levels beyond their clamp.)
    """
    th = np.asarray(layer.thresholds, dtype=np.int64)
    if th.ndim == 1:
        th = th[:, None]
    up = np.broadcast_to(np.asarray(layer.direction).ravel() == 1, (th.shape[0],))
    if th.shape[0] == 1 and channels > 1:
        th, up = np.repeat(th, channels, axis=0), np.repeat(up, channels)
    elif th.shape[0] != channels:
        raise UnsupportedModelError(f"Threshold '{layer.name}': {th.shape[0]} rows for {channels} channels")
    never = np.where(up[:, None], th > hi, th < lo).all(axis=0)
    always = np.where(up[:, None], th <= lo, th >= hi).all(axis=0)
    out_lo = int(layer.out_lo) + int(layer.step) * int(always.sum())
    keep = ~(never | always)
    th = th[:, keep]
    if th.shape[1] == 0:  # a constant output: one threshold nobody crosses
        th = np.where(up, hi + 1, lo - 1)[:, None].astype(np.int64)
    if int(layer.step) < 1:
        raise UnsupportedModelError(f"Threshold '{layer.name}': step {layer.step} < 1 is not supported")
    return th, up.copy(), out_lo
