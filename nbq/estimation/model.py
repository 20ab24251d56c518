"""The resource model of one hw/rtl module instance: structural features x coefficients fitted to Yosys.

A `Part` is one instance the RTL backend places (module name, its integer parameters, and what
synthesis can see of its constant tables).  `features(part)` turns it into a few counts per
resource class - LUT and FF - that the module's RTL makes proportional to its cost (for an SVPE
MVAU: bits of the variable shift terms, bits of the adder tree, accumulator bits, ROM columns,
input-selection mux bits, ...); `part_resources` multiplies them by the coefficients that
bench/calibrate_resources.py fitted to Yosys runs (nbq/estimation/calibration.json).  DSPs, block
RAMs and LUT-RAM sites are not fitted: they follow Yosys's mapping rules (nbq.estimation.memory)
and the DSP48E2 operand widths exactly.

Why these features: every module is a handful of arrays of identical bit slices (a shift mux per
product bit, a full adder per tree bit, a comparator bit per threshold bit, a flip-flop per
register bit), so its LUTs and FFs are sums of slice counts; the coefficients absorb how many
slices abc packs into one LUT6 + carry.  Constant tables matter: synthesis folds constant
weights into the datapath, so the weight features count varying, constant and zero products
separately (nbq.estimation.tables).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from nbq.estimation import memory
from nbq.estimation.tables import TableStats, WeightStats

ENGINE_NAMES = {0: "svpe", 1: "vpe", 2: "xnor", 3: "cxnor"}


def clog2(n: int) -> int:
    """SystemVerilog $clog2."""
    return 0 if n <= 1 else (int(n) - 1).bit_length()


@dataclass
class Part:
    module: str
    params: dict  # integer parameters (file names left out)
    weights: WeightStats | None = None  # nbq_mvau
    table: TableStats | None = None  # nbq_threshold / nbq_bias table

    @property
    def key(self) -> str:
        """Calibration key: the module, and the engine for an MVAU."""
        if self.module == "nbq_mvau":
            return f"nbq_mvau/{ENGINE_NAMES[self.params['ENGINE']]}"
        return self.module


@dataclass
class Fixed:
    """Resources that follow mapping rules exactly (not fitted)."""

    dsp: int = 0
    bram36: float = 0.0
    lutram: int = 0  # LUT6 sites used as memory


@dataclass
class Features:
    lut: dict = field(default_factory=dict)
    ff: dict = field(default_factory=dict)
    fixed: Fixed = field(default_factory=Fixed)


# ---------------------------------------------------------------- shared pieces

def _rom_sync(t: TableStats | None, depth: int, width: int) -> tuple[dict, float, float]:
    """A registered-read ROM (nbq_rom REGISTERED=1, or a table read at a registered address):
    (LUT features, FFs, RAMB36) as Yosys maps it.  In logic, a surviving column is a function of the
    address bits (and of the register's enable): one LUT up to ~16 words, more per address bit, and
    one more level of LUTs per 64 words beyond 64."""
    cols = t.cols if t is not None else width
    if depth <= 2:  # a constant, or a column that is an address bit (or its complement)
        return {}, float(min(cols, width)) if depth == 2 else 0.0, 0.0
    if memory.rom_in_bram(depth, width):
        return {}, 0.0, memory.bram_fit(depth, width).bram36
    feats = {"rom": float(cols), "rom_abits": float(cols * clog2(depth)),
             "rom_deep": cols * max(0.0, depth / 64 - 1)}
    return feats, float(min(cols, width)), 0.0


def _ram_async(depth: int, width: int) -> tuple[int, float]:
    """An asynchronous-read RAM (FIFO, line buffer): (LUT-RAM sites, FFs if it stays in flip-flops)."""
    if memory.ram_in_lutram(depth, width):
        return memory.lutram_fit(depth, width).sites, 0.0
    return 0, float(depth * width)


# ---------------------------------------------------------------- the MVAU

def _mvau(p: dict, w: WeightStats | None) -> Features:
    eng = p["ENGINE"]
    pe, simd, nf, sf = p["PE"], p["SIMD"], p["NF"], p["SF"]
    xb, wb, acc = p["X_BITS"], p["W_BITS"], p["ACC_BITS"]
    taps, ch, groups = p["TAPS"], p["CH"], p.get("GROUPS", 1)
    cplx = eng == 3
    lanes_out = 2 * pe if cplx else pe
    lanes = pe * simd
    chunk = simd * xb
    xw = chunk if eng <= 1 else (2 * simd if eng == 2 else 4 * simd)
    wbits = 1 if eng >= 2 else wb
    word = (2 if cplx else 1) * lanes * wbits
    depth = nf * sf
    n_chunks = (2 if cplx else groups) * sf  # chunks the selection mux picks from
    g_seq = 1 if cplx else groups
    ctrl = clog2(sf + 1) + clog2(nf // g_seq + 1) + clog2(g_seq + 1) + clog2(groups * sf + 1) + clog2(depth)
    if w is None:  # no table contents known: every product varies
        w = WeightStats(TableStats(depth, word, word), lanes * (4 if cplx else 1), 0, 0)
    rom_lut, rom_ff, rom_b36 = _rom_sync(w.table, depth, word)
    folds = sf > 1  # the accumulator adds (else every beat is a whole dot product)
    f = Features()
    f.fixed.bram36 = rom_b36
    # front end, shared by the engines
    f.lut.update(rom_lut)
    f.lut["select"] = chunk * (n_chunks - 1) if n_chunks > 1 else 0.0
    f.lut["ctrl"] = ctrl
    f.lut["one"] = 1.0
    f.ff["vec"] = taps * ch * xb
    f.ff["stage"] = xw + (1 if folds else 0) + rom_ff
    f.ff["ctrl"] = ctrl + 2
    if eng <= 1:
        if eng == 0:  # shift-add: a product is a shift by one of R amounts and a conditional negate
            r = (1 << (wb - 1)) - 1
            pw = xb + (r if r > 1 else 1)
        else:  # multipliers: the DSP48E2 makes the product, the LUTs add them up
            r, pw = 1, xb + wb + 1
            # Yosys infers the DSPs before it maps the ROM, so a weight only counts as a constant when
            # the ROM has a single word (then 0 and +-2^k fold into shifts); otherwise every product is a DSP
            mults = lanes if depth >= 2 else w.const_dsp_lanes
            f.fixed.dsp = mults * _dsp_per_product(xb + 1, wb)
        tw = min(pw + clog2(simd) + 1, acc)
        pw = min(pw, tw)
        live = lanes - w.zero_lanes
        general = depth > 2  # two folds: a weight is one of two codes, selected by one register bit
        f.lut["term"] = w.var_lanes * pw if general else 0.0
        f.lut["term_shift"] = w.var_lanes * pw * max(0, r - 1) if general and eng == 0 else 0.0
        f.lut["term2"] = 0.0 if general else w.var_lanes * pw
        f.lut["term_const"] = w.const_lanes * pw
        f.lut["tree"] = max(0, live - pe) * tw
        f.lut["lane"] = pe * tw
        f.lut["acc"] = lanes_out * acc if folds else 0.0
        s1 = lanes_out * tw
    else:  # XNOR-popcount (complex: four per lane)
        cw = clog2(simd + 1) + 2
        dots = 4 if cplx else 1
        f.lut["decode"] = (2 if cplx else 1) * simd * xb  # sign and non-zero bits of each element
        f.lut["popcount"] = dots * lanes + (2 if cplx else 1) * simd
        f.lut["dot"] = dots * pe * cw + (2 * pe * acc if cplx else 0)
        f.lut["acc"] = lanes_out * acc if folds else 0.0
        s1 = lanes_out * min(acc, cw + (1 if cplx else 0))
    f.ff["s1"] = s1
    f.ff["acc"] = lanes_out * acc * (2 if folds else 1)
    return f


def _dsp_per_product(a_bits: int, b_bits: int) -> int:
    """DSP48E2 per signed a x b product (27 x 18 multiplier; Yosys's mul2dsp splits wider ones)."""
    a, b = max(a_bits, b_bits), min(a_bits, b_bits)
    if a <= 27 and b <= 18:
        return 1
    return math.ceil(a / 26) * math.ceil(b / 17)


# ---------------------------------------------------------------- streaming units

def _window(p: dict) -> Features:
    pix = p["ELEMS"] * p["E_BITS"]
    kh, kw, sh, sw = p["KH"], p["KW"], p.get("SH", 1), p.get("SW", 1)
    dh, dw = p.get("DH", 1), p.get("DW", 1)
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    ctrl = 2 * clog2(p["H"] + sh + 1) + 2 * clog2(p["W"] + sw + 1)
    f = Features()
    line_w = (span_h - 1) * pix
    sites, ff_mem = _ram_async(p["W"], line_w) if span_h > 1 else (0, 0.0)
    f.fixed.lutram = sites
    f.lut["line_mux"] = line_w * max(0, math.ceil(p["W"] / 64) - 1)  # read mux across LUT-RAM banks
    f.lut["line_ff"] = ff_mem and line_w * p["W"] / 4  # a flip-flop line buffer's read mux
    f.lut["ctrl"] = ctrl
    f.lut["one"] = 1.0
    f.ff["regs"] = span_h * (span_w - 1) * pix + kh * kw * pix + ff_mem
    f.ff["ctrl"] = ctrl + 1
    return f


def _pad(p: dict) -> Features:
    pix = p["ELEMS"] * p["E_BITS"]
    hp, wp = p["H"] + p.get("PAD_T", 1) + p.get("PAD_B", 1), p["W"] + p.get("PAD_L", 1) + p.get("PAD_R", 1)
    ctrl = clog2(hp + 1) + clog2(wp + 1)
    f = Features()
    f.lut["data"] = pix
    f.lut["ctrl"] = ctrl
    f.lut["one"] = 1.0
    f.ff["data"] = pix
    f.ff["ctrl"] = ctrl + 1
    return f


def _threshold(p: dict, t: TableStats | None) -> Features:
    lanes, nf, levels = p["LANES"], p["NF"], p["L"]
    cw = max(p["IN_BITS"] + 1, p["T_BITS"])
    f = Features()
    cmp_bits = lanes * levels * cw
    rom_lut, rom_ff, f.fixed.bram36 = _rom_sync(t, nf, lanes * (levels * p["T_BITS"] + 1))
    f.lut.update(rom_lut)
    f.ff["rom"] = rom_ff
    f.lut["cmp_var"] = cmp_bits if nf > 1 else 0.0
    f.lut["cmp_const"] = cmp_bits if nf == 1 else 0.0
    f.lut["count"] = lanes * levels
    out_bits = _varying_bits([p.get("OUT_LO", 0) + p.get("STEP", 1) * n for n in range(levels + 1)], p["OUT_BITS"])
    f.lut["out"] = lanes * out_bits
    f.lut["one"] = 1.0
    f.ff["data"] = lanes * out_bits
    f.ff["ctrl"] = clog2(nf) + 1
    return f


def _varying_bits(values: list[int], bits: int) -> int:
    """How many of the `bits` low bits differ between the values (the rest are constants synthesis drops)."""
    mask = (1 << bits) - 1
    vs = [v & mask for v in values]
    return sum(1 for b in range(bits) if len({(v >> b) & 1 for v in vs}) > 1)


def _bias(p: dict, t: TableStats | None) -> Features:
    lanes, nf = p["LANES"], p["NF"]
    sw = max(p["IN_BITS"], p["B_BITS"]) + 1
    add = lanes * min(sw, p["OUT_BITS"])
    f = Features()
    rom_lut, rom_ff, f.fixed.bram36 = _rom_sync(t, nf, lanes * p["B_BITS"])
    f.lut.update(rom_lut)
    f.ff["rom"] = rom_ff
    f.lut["add_var"] = add if nf > 1 else 0.0
    f.lut["add_const"] = add if nf == 1 else 0.0
    f.lut["one"] = 1.0
    f.ff["data"] = lanes * p["OUT_BITS"]
    f.ff["ctrl"] = clog2(nf) + 1
    return f


def _collect(p: dict) -> Features:
    beat = p["LANES"] * p["E_BITS"]
    n = p["N"]
    f = Features()
    f.lut["mux"] = n * beat if n > 1 else 0.0
    f.lut["ctrl"] = clog2(n)
    f.lut["one"] = 1.0
    f.ff["data"] = 2 * n * beat  # the parts register keeps all N slots, and the output register
    f.ff["ctrl"] = clog2(n) + 1
    return f


def _pool(p: dict) -> Features:
    xw = max(p["IN_BITS"] + 1, p["OUT_BITS"])
    ops = p["ELEMS"] * (p["TAPS"] - 1)  # two-input max (compare + select) or add per channel and tap
    f = Features()
    narrow = xw <= 3  # a max of 1- or 2-bit values is plain logic, no comparator chains
    f.lut["max_bits"] = ops * xw if p["MODE"] == 0 and not narrow else 0.0
    f.lut["max_narrow"] = ops * xw if p["MODE"] == 0 and narrow else 0.0
    f.lut["sum_bits"] = ops * xw if p["MODE"] != 0 else 0.0
    f.lut["one"] = 1.0
    f.ff["data"] = p["ELEMS"] * p["OUT_BITS"]
    f.ff["ctrl"] = 1.0
    return f


def _global_pool(p: dict) -> Features:
    xw = max(p["IN_BITS"] + 1, p["OUT_BITS"])
    iw = clog2(p["N"] + 1)
    ops = p["ELEMS"] * xw
    f = Features()
    f.lut["max"] = ops if p["MODE"] == 0 else 0.0
    f.lut["sum"] = ops if p["MODE"] != 0 else 0.0
    f.lut["ctrl"] = iw
    f.lut["one"] = 1.0
    f.ff["data"] = p["ELEMS"] * (xw + p["OUT_BITS"])
    f.ff["ctrl"] = iw + 1
    return f


def _clamp(p: dict) -> Features:
    xw = max(p["IN_BITS"], p["OUT_BITS"]) + 2
    f = Features()
    f.lut["lo"] = p["ELEMS"] * xw * int(p.get("HAS_LO", 1))
    f.lut["hi"] = p["ELEMS"] * xw * int(p.get("HAS_HI", 0))
    f.lut["out"] = p["ELEMS"] * p["OUT_BITS"] * int(p.get("HAS_HI", 0))
    f.lut["one"] = 1.0
    f.ff["data"] = p["ELEMS"] * p["OUT_BITS"]
    f.ff["ctrl"] = 1.0
    return f


def _add(p: dict) -> Features:
    f = Features()
    f.lut["add"] = p["ELEMS"] * p["OUT_BITS"]
    f.lut["one"] = 1.0
    f.ff["data"] = p["ELEMS"] * p["OUT_BITS"]
    f.ff["ctrl"] = 1.0
    return f


def _concat(p: dict) -> Features:
    """Sign extension and shifts are wiring; the output register holds the joined beat."""
    f = Features()
    f.lut["one"] = 1.0
    f.ff["data"] = (p["A_ELEMS"] + p["B_ELEMS"]) * p["OUT_BITS"]
    f.ff["ctrl"] = 1.0
    return f


def _fifo(p: dict) -> Features:
    depth, width = max(2, p["DEPTH"]), p["WIDTH"]
    ctrl = 2 * (1 if depth <= 2 else clog2(depth)) + clog2(depth + 1)
    sites, ff_mem = _ram_async(depth, width)
    f = Features()
    f.fixed.lutram = sites
    banks = math.ceil(depth / 64)
    f.lut["mem_mux"] = width * (banks - 1) if sites else width * depth / 4
    f.lut["ctrl"] = ctrl
    f.lut["one"] = 1.0
    f.ff["mem"] = ff_mem
    f.ff["ctrl"] = ctrl
    return f


def _fork(p: dict) -> Features:
    f = Features()
    f.lut["n"] = p["N"]
    f.lut["one"] = 1.0
    f.ff["n"] = p["N"]
    return f


def _axis_out(p: dict) -> Features:
    bw = clog2(p.get("BEATS", 1) + 1)
    f = Features()
    f.lut["ctrl"] = bw if p.get("BEATS", 1) > 1 else 0.0
    f.lut["one"] = 1.0 if p.get("BEATS", 1) > 1 else 0.0
    f.ff["ctrl"] = bw if p.get("BEATS", 1) > 1 else 0.0
    return f


def features(part: Part) -> Features:
    p, m = part.params, part.module
    if m == "nbq_mvau":
        return _mvau(p, part.weights)
    if m == "nbq_window":
        return _window(p)
    if m == "nbq_pad":
        return _pad(p)
    if m == "nbq_threshold":
        return _threshold(p, part.table)
    if m == "nbq_bias":
        return _bias(p, part.table)
    if m == "nbq_collect":
        return _collect(p)
    if m == "nbq_pool":
        return _pool(p)
    if m == "nbq_global_pool":
        return _global_pool(p)
    if m == "nbq_clamp":
        return _clamp(p)
    if m == "nbq_add":
        return _add(p)
    if m == "nbq_concat":
        return _concat(p)
    if m == "nbq_permute":
        return Features()  # wiring only
    if m == "nbq_fifo":
        return _fifo(p)
    if m == "nbq_fork":
        return _fork(p)
    if m == "nbq_axis_out":
        return _axis_out(p)
    if m == "nbq_axis_in":
        return Features()  # wiring only
    raise KeyError(f"no resource model for module {m}")
