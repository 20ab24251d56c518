"""nbq_mvau (folded matrix-vector unit) with all four engines, grouped convolutions and the ROM layout
planned by nbq.plan and printed by the RTL backend (nbq.backends.rtl.mvau), vs numpy; random folding,
data and handshakes."""

from __future__ import annotations

import numpy as np
import pytest
from rtl_tb.harness import Harness, Instance, pack, require_sim, stream

from nbq.backends.rtl import memfiles
from nbq.backends.rtl.mvau import CXNOR, SVPE, VPE, XNOR, weight_rom
from nbq.formats import Po2Codebook
from nbq.plan.arith import acc_range

N_PARAMS = 24
pytestmark = pytest.mark.usefixtures("sim_tools")


@pytest.fixture
def sim_tools():
    require_sim()


def _divisor(rng, n: int) -> int:
    return int(rng.choice([d for d in range(1, n + 1) if n % d == 0]))


def _binary_x(rng, size):
    """Activations in [-1, 1]: mostly +-1, some zeros (padding); as 2-bit two's complement."""
    return rng.choice([-1, 1, 0], size=size, p=[0.4, 0.4, 0.2])


def _instance(rng, i: int, work) -> Instance:
    engine = int(rng.integers(0, 4))
    taps = int(rng.choice([1, 2, 4, 9]))
    n_vec = int(rng.integers(1, 4))
    if engine == CXNOR:
        ci, co = int(rng.integers(1, 4)), int(rng.integers(1, 4))  # complex channels
        groups, ch, k = 2, 2 * ci, taps * ci
        pe, simd = _divisor(rng, co), _divisor(rng, k)
        a_bits = rng.integers(0, 2, size=(co, k))
        b_bits = rng.integers(0, 2, size=(co, k))
        xb, xs = 2, True
        v = _binary_x(rng, (n_vec, taps, ch))
        x, y = v[:, :, :ci].reshape(n_vec, -1), v[:, :, ci:].reshape(n_vec, -1)
        a, b = 2 * a_bits - 1, 2 * b_bits - 1
        real = x @ a.T - y @ b.T
        imag = x @ b.T + y @ a.T
        nf, lanes = co // pe, 2 * pe
        acc = acc_range(np.concatenate([a, b], axis=1), -1, 1, None, 1)
        outs = [np.concatenate([real[n, f * pe:(f + 1) * pe], imag[n, f * pe:(f + 1) * pe]])
                for n in range(n_vec) for f in range(nf)]
        words, width = weight_rom(a_bits, CXNOR, 1, pe, simd, b_codes=b_bits)
        w_bits = 1
    else:
        groups = int(rng.integers(1, 4)) if engine != CXNOR else 1
        chg = int(rng.integers(1, 4))
        ch, ocg = groups * chg, int(rng.integers(1, 5))
        oc, k = groups * ocg, taps * chg
        pe, simd = _divisor(rng, ocg), _divisor(rng, k)
        if engine == SVPE:
            w_bits = int(rng.integers(1, 7))
            xb = int(rng.integers(1, 9))
            xs = bool(rng.integers(0, 2)) and xb > 1
            codes = rng.integers(0, 1 << w_bits, size=(oc, k))
            ints = Po2Codebook(w_bits).int_values(codes)
        elif engine == VPE:
            w_bits = int(rng.integers(2, 13))
            xb = int(rng.integers(1, 9))
            xs = bool(rng.integers(0, 2)) and xb > 1
            ints = rng.integers(-(1 << (w_bits - 1)), 1 << (w_bits - 1), size=(oc, k))
            codes = ints & ((1 << w_bits) - 1)
        else:
            w_bits, xb, xs = 1, 2, True
            codes = rng.integers(0, 2, size=(oc, k))
            ints = 2 * codes - 1
        if engine == XNOR:
            v = _binary_x(rng, (n_vec, taps, ch))
        else:
            lo, hi = ((-(1 << (xb - 1)), (1 << (xb - 1)) - 1) if xs else (0, (1 << xb) - 1))
            v = rng.integers(lo, hi + 1, size=(n_vec, taps, ch))
        res = np.zeros((n_vec, oc), dtype=object)
        for o in range(oc):
            g = o // ocg
            res[:, o] = (v[:, :, g * chg:(g + 1) * chg].reshape(n_vec, -1).astype(object) * ints[o].astype(object)
                         ).sum(axis=1)
        nf, lanes = oc // pe, pe
        xlo, xhi = (int(v.min()), int(v.max())) if engine != XNOR else (-1, 1)
        acc = acc_range(ints, min(xlo, 0), max(xhi, 0), None, 1)
        outs = [res[n, f * pe:(f + 1) * pe] for n in range(n_vec) for f in range(nf)]
        words, width = weight_rom(codes, engine, w_bits, pe, simd)
    acc_bits = max(acc.bits, 2)
    sf = (taps * ch // groups) // simd
    mem = memfiles.write_mem(work / f"w{i}.mem", words, width)
    params = {"ENGINE": engine, "TAPS": taps, "CH": ch, "GROUPS": groups, "X_BITS": xb, "X_SIGNED": xs,
              "W_BITS": w_bits, "PE": pe, "SIMD": simd, "NF": nf, "SF": sf, "ACC_BITS": acc_bits, "W_FILE": str(mem)}
    pv, pr = float(rng.choice([1.0, 0.7, 0.3])), float(rng.choice([1.0, 0.7, 0.3]))
    s_in = stream(True, "in", [("in_data", taps * ch * xb)], pv)
    s_in.beats = [pack(vec.ravel(), xb) for vec in v]
    s_out = stream(False, "out", [("out_acc", lanes * acc_bits)], pr)
    s_out.beats = [pack(o, acc_bits) for o in outs]
    ports = {"in_valid": 1, "in_ready": 1, "in_data": taps * ch * xb, "out_valid": 1, "out_ready": 1,
             "out_acc": lanes * acc_bits}
    return Instance("nbq_mvau", params, ports, {"in": s_in, "out": s_out}, f"mvau {i} engine {engine}")


def test_mvau_all_engines(tmp_path):
    rng = np.random.default_rng(20)
    h = Harness("h_mvau")
    engines = set()
    for i in range(N_PARAMS + 8):
        inst = _instance(rng, i, tmp_path)
        engines.add(inst.params["ENGINE"])
        h.add(inst)
    assert engines == {SVPE, VPE, XNOR, CXNOR}
    h.check(tmp_path)
