"""Streaming RTL blocks vs numpy models: line buffer / sliding window, padding, thresholds, bias,
pooling, and the glue (collect, clamp, add, concat, permute, fork, FIFO, AXI-Stream adapters).

As in test_rtl_engines, every test puts its random parameterizations (>= 20 for
the engines) into one Verilator build and runs them with random bubbles and
backpressure.  The threshold model is nbq.reference's own _threshold.
"""

from __future__ import annotations

import numpy as np
import pytest
from rtl_tb.harness import Harness, Instance, Stream, pack, require_sim, stream

from nbq import ir, reference
from nbq.backends.rtl.memfiles import bias_words, signed_bits, threshold_words, write_mem
from nbq.formats import bits_for_range

N_PARAMS = 24
pytestmark = pytest.mark.usefixtures("sim_tools")


@pytest.fixture
def sim_tools():
    require_sim()


def _hs(rng) -> tuple[float, float]:
    return float(rng.choice([1.0, 0.8, 0.5, 0.3])), float(rng.choice([1.0, 0.8, 0.5, 0.3]))


def _elems(rng, bits: int, signed: bool, size) -> np.ndarray:
    lo, hi = ((-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1))
    return rng.integers(lo, hi + 1, size=size)


def _simple(module, params, ports_in, ports_out, beats_in, beats_out, rng, label="") -> Instance:
    pv, pr = _hs(rng)
    s_in = stream(True, "in", ports_in, pv)
    s_in.beats = beats_in
    s_out = stream(False, "out", ports_out, pr)
    s_out.beats = beats_out
    ports = {"in_valid": 1, "in_ready": 1, **dict(ports_in), "out_valid": 1, "out_ready": 1, **dict(ports_out)}
    return Instance(module, params, ports, {"in": s_in, "out": s_out}, label)


# ------------------------------------------------------------------ window + pad


def _window_instance(rng, i: int) -> Instance:
    c, eb = int(rng.integers(1, 4)), int(rng.integers(1, 9))
    kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    dh, dw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    h, w = span_h + int(rng.integers(0, 6)), span_w + int(rng.integers(0, 6))
    images = int(rng.integers(1, 4))
    x = _elems(rng, eb, False, (images, h, w, c))
    oh, ow = (h - span_h) // sh + 1, (w - span_w) // sw + 1
    outs = []
    for n in range(images):
        for r in range(oh):
            for q in range(ow):
                taps = [x[n, r * sh + a * dh, q * sw + b * dw] for a in range(kh) for b in range(kw)]
                outs.append(pack(np.concatenate(taps), eb))
    params = {"H": h, "W": w, "ELEMS": c, "E_BITS": eb, "KH": kh, "KW": kw, "SH": sh, "SW": sw, "DH": dh, "DW": dw}
    beats = [pack(x[n, r, q], eb) for n in range(images) for r in range(h) for q in range(w)]
    return _simple("nbq_window", params, [("in_data", c * eb)], [("out_data", kh * kw * c * eb)], beats, outs, rng,
                   f"window {i}")


def _pad_instance(rng, i: int) -> Instance:
    c, eb = int(rng.integers(1, 4)), int(rng.integers(1, 9))
    h, w = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    pads = [int(v) for v in rng.integers(0, 3, size=4)]
    fill = int(rng.integers(0, 1 << eb))
    images = int(rng.integers(1, 4))
    x = _elems(rng, eb, False, (images, h, w, c))
    xp = np.pad(x, ((0, 0), (pads[0], pads[2]), (pads[1], pads[3]), (0, 0)), constant_values=fill)
    params = {"H": h, "W": w, "ELEMS": c, "E_BITS": eb, "PAD_T": pads[0], "PAD_L": pads[1], "PAD_B": pads[2],
              "PAD_R": pads[3], "PAD_VALUE": fill}
    beats_in = [pack(px, eb) for px in x.reshape(-1, c)]
    # the pad stage runs ahead: it emits the next image's leading border before that image arrives
    ahead = pads[0] * (w + pads[1] + pads[3]) + pads[1]
    beats_out = [pack(px, eb) for px in xp.reshape(-1, c)] + [pack([fill] * c, eb)] * ahead
    return _simple("nbq_pad", params, [("in_data", c * eb)], [("out_data", c * eb)], beats_in, beats_out, rng,
                   f"pad {i}")


def test_window_and_pad(tmp_path):
    rng = np.random.default_rng(10)
    h = Harness("h_window")
    for i in range(N_PARAMS):
        h.add(_window_instance(rng, i))
        h.add(_pad_instance(rng, i))
    h.check(tmp_path)


# ------------------------------------------------------------------ threshold + bias


def _threshold_instance(rng, i: int, work) -> Instance:
    lanes, nf = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    ib, signed = int(rng.integers(2, 13)), bool(rng.integers(0, 2))
    levels = int(rng.integers(1, 8))
    channels = lanes * nf
    lo, hi = ((-(1 << (ib - 1)), (1 << (ib - 1)) - 1) if signed else (0, (1 << ib) - 1))
    th = np.sort(rng.integers(lo - 2, hi + 3, size=(channels, levels)), axis=1)
    direction = rng.choice(np.array([1, -1], dtype=np.int8), size=channels)
    th = np.where(direction[:, None] == 1, th, th[:, ::-1])
    out_lo, step = int(rng.integers(-3, 3)), int(rng.integers(1, 4))
    layer = ir.Threshold("t", ["x"], "y", th, direction, out_lo, step)
    pixels = int(rng.integers(1, 6))
    x = rng.integers(lo, hi + 1, size=(pixels, channels))
    k = min(channels, levels)
    x[0, :k] = np.clip(th[np.arange(k), np.arange(k)], lo, hi)  # ties: x equal to a threshold
    y = reference._threshold(layer, None, x)
    th_c = np.clip(th, lo - 1, hi + 1)
    t_bits = signed_bits(lo - 1, hi + 1)
    ob = bits_for_range(out_lo, out_lo + step * levels)[0]
    mem = write_mem(work / f"th{i}.mem", threshold_words(th_c.reshape(nf, lanes, levels),
                                                        (direction == 1).reshape(nf, lanes), t_bits),
                    lanes * (levels * t_bits + 1))
    params = {"LANES": lanes, "NF": nf, "IN_BITS": ib, "IN_SIGNED": signed, "L": levels, "T_BITS": t_bits,
              "OUT_BITS": ob, "OUT_LO": out_lo, "STEP": step, "T_FILE": str(mem)}
    beats_in = [pack(x[n, f * lanes:(f + 1) * lanes], ib) for n in range(pixels) for f in range(nf)]
    beats_out = [pack(y[n, f * lanes:(f + 1) * lanes], ob) for n in range(pixels) for f in range(nf)]
    return _simple("nbq_threshold", params, [("in_data", lanes * ib)], [("out_data", lanes * ob)], beats_in,
                   beats_out, rng, f"threshold {i}")


def _bias_instance(rng, i: int, work) -> Instance:
    lanes, nf = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    ib, bb = int(rng.integers(2, 20)), int(rng.integers(1, 12))
    x = _elems(rng, ib, True, (int(rng.integers(1, 5)), nf, lanes))
    b = _elems(rng, bb, True, (nf, lanes))
    y = x + b[None]
    ob = signed_bits(int(y.min()), int(y.max()))
    mem = write_mem(work / f"b{i}.mem", bias_words(b, bb), lanes * bb)
    params = {"LANES": lanes, "NF": nf, "IN_BITS": ib, "B_BITS": bb, "OUT_BITS": ob, "B_FILE": str(mem)}
    return _simple("nbq_bias", params, [("in_data", lanes * ib)], [("out_data", lanes * ob)],
                   [pack(v, ib) for v in x.reshape(-1, lanes)], [pack(v, ob) for v in y.reshape(-1, lanes)],
                   rng, f"bias {i}")


def test_threshold_and_bias(tmp_path):
    rng = np.random.default_rng(11)
    h = Harness("h_threshold")
    for i in range(N_PARAMS):
        h.add(_threshold_instance(rng, i, tmp_path))
        h.add(_bias_instance(rng, i, tmp_path))
    h.check(tmp_path)


# ------------------------------------------------------------------ pooling


def _pool_instance(rng, i: int) -> Instance:
    c, taps = int(rng.integers(1, 4)), int(rng.integers(1, 10))
    ib, signed, mode = int(rng.integers(1, 9)), bool(rng.integers(0, 2)), int(rng.integers(0, 2))
    signed = signed and ib > 1
    x = _elems(rng, ib, signed, (int(rng.integers(1, 6)), taps, c))
    y = x.max(axis=1) if mode == 0 else x.sum(axis=1)
    lo, hi = ((-(1 << (ib - 1)), (1 << (ib - 1)) - 1) if signed else (0, (1 << ib) - 1))
    ob = ib if mode == 0 else bits_for_range(taps * lo, taps * hi)[0]
    params = {"ELEMS": c, "TAPS": taps, "IN_BITS": ib, "IN_SIGNED": signed, "OUT_BITS": ob, "MODE": mode}
    return _simple("nbq_pool", params, [("in_data", taps * c * ib)], [("out_data", c * ob)],
                   [pack(v, ib) for v in x.reshape(x.shape[0], -1)], [pack(v, ob) for v in y], rng, f"pool {i}")


def _global_pool_instance(rng, i: int) -> Instance:
    c, n = int(rng.integers(1, 4)), int(rng.integers(1, 10))
    ib, signed, mode = int(rng.integers(2, 9)), bool(rng.integers(0, 2)), int(rng.integers(0, 2))
    images = int(rng.integers(1, 4))
    x = _elems(rng, ib, signed, (images, n, c))
    y = x.max(axis=1) if mode == 0 else x.sum(axis=1)
    lo, hi = ((-(1 << (ib - 1)), (1 << (ib - 1)) - 1) if signed else (0, (1 << ib) - 1))
    ob = ib if mode == 0 else bits_for_range(n * lo, n * hi)[0]
    params = {"ELEMS": c, "N": n, "IN_BITS": ib, "IN_SIGNED": signed, "OUT_BITS": ob, "MODE": mode}
    return _simple("nbq_global_pool", params, [("in_data", c * ib)], [("out_data", c * ob)],
                   [pack(v, ib) for v in x.reshape(-1, c)], [pack(v, ob) for v in y], rng, f"global pool {i}")


def test_pooling(tmp_path):
    rng = np.random.default_rng(12)
    h = Harness("h_pool")
    for i in range(N_PARAMS):
        h.add(_pool_instance(rng, i))
        h.add(_global_pool_instance(rng, i))
    h.check(tmp_path)


# ------------------------------------------------------------------ glue and AXI-Stream adapters


def _collect_instance(rng, i):
    split = int(rng.integers(1, 3))
    lanes = split * int(rng.integers(1, 4))
    eb, n = int(rng.integers(1, 9)), int(rng.integers(1, 6))
    x = _elems(rng, eb, False, (int(rng.integers(1, 4)), n, lanes))
    if split == 1:
        y = x.reshape(x.shape[0], -1)
    else:  # block h of beat i -> h*(N*LANES/2) + i*LANES/2
        y = x.reshape(x.shape[0], n, 2, lanes // 2).transpose(0, 2, 1, 3).reshape(x.shape[0], -1)
    return _simple("nbq_collect", {"LANES": lanes, "E_BITS": eb, "N": n, "SPLIT": split},
                   [("in_data", lanes * eb)], [("out_data", n * lanes * eb)],
                   [pack(v, eb) for v in x.reshape(-1, lanes)], [pack(v, eb) for v in y], rng, f"collect {i}")


def _clamp_instance(rng, i):
    c, ib, signed = int(rng.integers(1, 4)), int(rng.integers(2, 10)), bool(rng.integers(0, 2))
    lo_in, hi_in = ((-(1 << (ib - 1)), (1 << (ib - 1)) - 1) if signed else (0, (1 << ib) - 1))
    has_lo, has_hi = bool(rng.integers(0, 2)), bool(rng.integers(0, 2))
    lo = int(rng.integers(lo_in, hi_in + 1))
    hi = int(rng.integers(lo, hi_in + 1))
    x = rng.integers(lo_in, hi_in + 1, size=(int(rng.integers(1, 6)), c))
    y = np.clip(x, lo if has_lo else None, hi if has_hi else None)
    ob = signed_bits(int(y.min()), int(y.max()))
    params = {"ELEMS": c, "IN_BITS": ib, "IN_SIGNED": signed, "OUT_BITS": ob, "HAS_LO": has_lo, "LO": lo,
              "HAS_HI": has_hi, "HI": hi}
    return _simple("nbq_clamp", params, [("in_data", c * ib)], [("out_data", c * ob)], [pack(v, ib) for v in x],
                   [pack(v, ob) for v in y], rng, f"clamp {i}")


def _fifo_instance(rng, i):
    wd, depth = int(rng.integers(1, 20)), int(rng.integers(2, 9))
    x = _elems(rng, wd, False, int(rng.integers(1, 30)))
    return _simple("nbq_fifo", {"WIDTH": wd, "DEPTH": depth}, [("in_data", wd)], [("out_data", wd)],
                   [int(v) for v in x], [int(v) for v in x], rng, f"fifo {i}")


def _add_instance(rng, i):
    c = int(rng.integers(1, 4))
    ab, bb = int(rng.integers(2, 9)), int(rng.integers(2, 9))
    sa, sb = int(rng.integers(0, 3)), int(rng.integers(0, 3))
    asg, bsg = bool(rng.integers(0, 2)), bool(rng.integers(0, 2))
    n = int(rng.integers(1, 6))
    a, b = _elems(rng, ab, asg, (n, c)), _elems(rng, bb, bsg, (n, c))
    y = (a << sa) + (b << sb)
    ob = signed_bits(int(y.min()), int(y.max()))
    pa, pb, pr = (float(rng.choice([1.0, 0.6, 0.3])) for _ in range(3))
    s_a = Stream(True, ("a_valid", None), ("a_ready", None), [("a_data", c * ab, 0)], [pack(v, ab) for v in a], pa)
    s_b = Stream(True, ("b_valid", None), ("b_ready", None), [("b_data", c * bb, 0)], [pack(v, bb) for v in b], pb)
    s_o = stream(False, "out", [("out_data", c * ob)], pr)
    s_o.beats = [pack(v, ob) for v in y]
    ports = {"a_valid": 1, "a_ready": 1, "a_data": c * ab, "b_valid": 1, "b_ready": 1, "b_data": c * bb,
             "out_valid": 1, "out_ready": 1, "out_data": c * ob}
    params = {"ELEMS": c, "A_BITS": ab, "A_SIGNED": asg, "B_BITS": bb, "B_SIGNED": bsg, "SHIFT_A": sa,
              "SHIFT_B": sb, "OUT_BITS": ob}
    return Instance("nbq_add", params, ports, {"a": s_a, "b": s_b, "out": s_o}, f"add {i}")


def _concat_instance(rng, i):
    ca, cb = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    ab, bb = int(rng.integers(1, 9)), int(rng.integers(1, 9))
    sa, sb = int(rng.integers(0, 3)), int(rng.integers(0, 3))
    asg, bsg = bool(rng.integers(0, 2)), bool(rng.integers(0, 2))
    n = int(rng.integers(1, 6))
    a, b = _elems(rng, ab, asg, (n, ca)), _elems(rng, bb, bsg, (n, cb))
    y = np.concatenate([a << sa, b << sb], axis=1)
    ob = signed_bits(int(y.min()), int(y.max())) if y.min() < 0 else bits_for_range(0, int(y.max()))[0]
    pa, pb, pr = (float(rng.choice([1.0, 0.6, 0.3])) for _ in range(3))
    s_a = Stream(True, ("a_valid", None), ("a_ready", None), [("a_data", ca * ab, 0)], [pack(v, ab) for v in a], pa)
    s_b = Stream(True, ("b_valid", None), ("b_ready", None), [("b_data", cb * bb, 0)], [pack(v, bb) for v in b], pb)
    s_o = stream(False, "out", [("out_data", (ca + cb) * ob)], pr)
    s_o.beats = [pack(v, ob) for v in y]
    ports = {"a_valid": 1, "a_ready": 1, "a_data": ca * ab, "b_valid": 1, "b_ready": 1, "b_data": cb * bb,
             "out_valid": 1, "out_ready": 1, "out_data": (ca + cb) * ob}
    params = {"A_ELEMS": ca, "A_BITS": ab, "A_SIGNED": asg, "B_ELEMS": cb, "B_BITS": bb, "B_SIGNED": bsg,
              "SHIFT_A": sa, "SHIFT_B": sb, "OUT_BITS": ob}
    return Instance("nbq_concat", params, ports, {"a": s_a, "b": s_b, "out": s_o}, f"concat {i}")


def _permute_instance(rng, i):
    c, eb = int(rng.integers(1, 8)), int(rng.integers(1, 9))
    perm = rng.permutation(c)
    idx = max(1, (c - 1).bit_length())
    x = _elems(rng, eb, False, (int(rng.integers(1, 8)), c))
    params = {"ELEMS": c, "E_BITS": eb, "IDX_BITS": idx, "PERM": sum(int(p) << (k * idx) for k, p in enumerate(perm))}
    inst = _simple("nbq_permute", params, [("in_data", c * eb)], [("out_data", c * eb)],
                   [pack(v, eb) for v in x], [pack(v[perm], eb) for v in x], rng, f"permute {i}")
    inst.clocked = False
    return inst


def _fork_instance(rng, i):
    wd, n = int(rng.integers(1, 12)), int(rng.integers(1, 4))
    x = [int(v) for v in _elems(rng, wd, False, int(rng.integers(1, 12)))]
    streams = {"in": Stream(True, ("in_valid", None), ("in_ready", None), [("in_data", wd, 0)], x,
                            float(rng.choice([1.0, 0.5])))}
    for j in range(n):
        streams[f"o{j}"] = Stream(False, ("out_valid", j), ("out_ready", j), [("out_data", wd, j * wd)], x,
                                  float(rng.choice([1.0, 0.7, 0.3])))
    ports = {"in_valid": 1, "in_ready": 1, "in_data": wd, "out_valid": n, "out_ready": n, "out_data": n * wd}
    return Instance("nbq_fork", {"WIDTH": wd, "N": n}, ports, streams, f"fork {i}")


def _axis_instances(rng, i):
    c, eb = int(rng.integers(1, 4)), int(rng.integers(1, 17))
    lane = 8 if eb <= 8 else 16
    signed = bool(rng.integers(0, 2))
    beats_per_image, images = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    x = _elems(rng, eb, signed, (images * beats_per_image, c))
    # AXI-Stream in: lanes of LANE bits (upper bits are don't-care) -> packed elements
    junk = rng.integers(0, 1 << (lane - eb), size=x.shape) if lane > eb else np.zeros_like(x)
    tdata = [pack((v & ((1 << eb) - 1)) | (j << eb), lane) for v, j in zip(x, junk, strict=True)]
    last = [int(k % beats_per_image == beats_per_image - 1) for k in range(len(x))]
    pv, pr = _hs(rng)
    s_in = Stream(True, ("s_TVALID", None), ("s_TREADY", None), [("s_TDATA", c * lane, 0), ("s_TLAST", 1, 0)],
                  [t | (lst << (c * lane)) for t, lst in zip(tdata, last, strict=True)], pv)
    s_out = stream(False, "out", [("out_data", c * eb)], pr)
    s_out.beats = [pack(v, eb) for v in x]
    ports_in = {"s_TDATA": c * lane, "s_TVALID": 1, "s_TREADY": 1, "s_TLAST": 1, "out_valid": 1, "out_ready": 1,
                "out_data": c * eb}
    axis_in = Instance("nbq_axis_in", {"ELEMS": c, "E_BITS": eb, "LANE": lane}, ports_in, {"in": s_in, "out": s_out},
                       f"axis_in {i}", clocked=False)
    # AXI-Stream out: packed elements -> sign/zero-extended lanes with TLAST every BEATS beats
    ext = [pack(v, lane) if signed else pack(v & ((1 << eb) - 1), lane) for v in x]
    s_in2 = stream(True, "in", [("in_data", c * eb)], pv)
    s_in2.beats = [pack(v, eb) for v in x]
    s_out2 = Stream(False, ("m_TVALID", None), ("m_TREADY", None), [("m_TDATA", c * lane, 0), ("m_TLAST", 1, 0)],
                    [e | (lst << (c * lane)) for e, lst in zip(ext, last, strict=True)], pr)
    ports_out = {"in_valid": 1, "in_ready": 1, "in_data": c * eb, "m_TDATA": c * lane, "m_TVALID": 1, "m_TREADY": 1,
                 "m_TLAST": 1}
    axis_out = Instance("nbq_axis_out", {"ELEMS": c, "E_BITS": eb, "E_SIGNED": signed, "LANE": lane,
                                         "BEATS": beats_per_image}, ports_out, {"in": s_in2, "out": s_out2},
                        f"axis_out {i}")
    return axis_in, axis_out


def test_glue_and_axis(tmp_path):
    rng = np.random.default_rng(13)
    h = Harness("h_glue")
    for i in range(N_PARAMS):
        for inst in _axis_instances(rng, i):  # the AXI-Stream wrappers: 24 parameterizations each
            h.add(inst)
        if i < 8:  # the glue between engines
            for inst in (_collect_instance(rng, i), _clamp_instance(rng, i), _fifo_instance(rng, i),
                         _add_instance(rng, i), _fork_instance(rng, i), _concat_instance(rng, i),
                         _permute_instance(rng, i)):
                h.add(inst)
    h.check(tmp_path)
