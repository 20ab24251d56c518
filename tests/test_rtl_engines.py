"""Dot-product engines (SVPE, VPE, XNOR, complex XNOR): random shapes, data and handshakes vs numpy.

Each test builds one Verilator model holding >= 20 random parameterizations
side by side (see rtl_tb.harness) and streams random beats through all of
them with random bubbles and backpressure.
"""

from __future__ import annotations

import numpy as np
import pytest
from rtl_tb.harness import Harness, Instance, pack, require_sim, stream

from nbq.formats import Po2Codebook, bits_for_range

N_PARAMS = 24
pytestmark = pytest.mark.usefixtures("sim_tools")


@pytest.fixture
def sim_tools():
    require_sim()


def _handshake(rng) -> tuple[float, float]:
    return float(rng.choice([1.0, 0.8, 0.5, 0.3])), float(rng.choice([1.0, 0.8, 0.5, 0.3]))


def _x_range(rng, bits: int, signed: bool) -> tuple[int, int]:
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def _acc_bits(bound: int) -> int:
    return bits_for_range(-bound - 1, bound)[0]


def _int_array(rng, kind: str, pe: int, simd: int, seed: int):
    """Random SVPE / VPE instance: (instance, expected beats)."""
    xb = int(rng.integers(1, 9))
    xs = bool(rng.integers(0, 2)) if xb > 1 else False
    wb = int(rng.integers(1, 7)) if kind == "svpe" else int(rng.integers(2, 17))
    n_dots, folds = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    lo, hi = _x_range(rng, xb, xs)
    x = rng.integers(lo, hi + 1, size=(n_dots, folds, simd))
    if kind == "svpe":
        codes = rng.integers(0, 1 << wb, size=(n_dots, folds, pe, simd))
        ints = Po2Codebook(wb).int_values(codes)
    else:
        ints = rng.integers(-(1 << (wb - 1)), 1 << (wb - 1), size=(n_dots, folds, pe, simd))
        codes = ints & ((1 << wb) - 1)
    xmax = max(abs(lo), abs(hi))
    bound = int(np.abs(ints).astype(object).sum(axis=(1, 3)).max()) * xmax
    acc_bits = max(_acc_bits(bound), xb + 1)
    expect = np.einsum("dfps,dfs->dp", ints.astype(object), x.astype(object))
    last_at = simd * xb + pe * simd * wb
    beats = [pack(x[d, f], xb) | (pack(codes[d, f], wb) << (simd * xb)) | (int(f == folds - 1) << last_at)
             for d in range(n_dots) for f in range(folds)]
    pv, pr = _handshake(rng)
    params = {"PE": pe, "SIMD": simd, "X_BITS": xb, "X_SIGNED": xs, "W_BITS": wb, "ACC_BITS": acc_bits}
    s_in = stream(True, "in", [("in_x", simd * xb), ("in_w", pe * simd * wb), ("in_last", 1)], pv)
    s_in.beats = beats
    s_out = stream(False, "out", [("out_acc", pe * acc_bits)], pr)
    s_out.beats = [pack(expect[d], acc_bits) for d in range(n_dots)]
    ports = {"in_valid": 1, "in_ready": 1, "in_x": simd * xb, "in_w": pe * simd * wb, "in_last": 1,
             "out_valid": 1, "out_ready": 1, "out_acc": pe * acc_bits}
    return Instance(f"nbq_{kind}_array", params, ports, {"in": s_in, "out": s_out}, label=f"seed {seed}")


@pytest.mark.parametrize("kind", ["svpe", "vpe"])
def test_shift_and_multiplier_arrays(kind, tmp_path):
    rng = np.random.default_rng(1 if kind == "svpe" else 2)
    h = Harness(f"h_{kind}")
    for i in range(N_PARAMS):
        pe, simd = int(rng.integers(1, 5)), int(rng.integers(1, 9))
        h.add(_int_array(rng, kind, pe, simd, i))
    h.check(tmp_path)


def _xnor_dot(x, m, w):
    """x, m (..., S) bits, w (..., P, S) bits -> sum over S of mask * (+1 if equal else -1)."""
    agree = np.where(w == x[..., None, :], 1, -1)
    return (agree * m[..., None, :]).sum(axis=-1)


def _binary_array(rng, complex_: bool, seed: int):
    pe, simd = int(rng.integers(1, 5)), int(rng.integers(1, 33))
    n_dots, folds = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    parts = 2 if complex_ else 1
    x = rng.integers(0, 2, size=(parts, n_dots, folds, simd))
    # masks: mostly ones, sometimes sparse (padding taps)
    m = (rng.random((parts, n_dots, folds, simd)) < rng.choice([1.0, 0.8, 0.5])).astype(np.int64)
    w = rng.integers(0, 2, size=(parts, n_dots, folds, pe, simd))
    lanes = 2 * pe if complex_ else pe
    acc_bits = _acc_bits(2 * folds * simd)
    if complex_:
        ax, by = _xnor_dot(x[0], m[0], w[0]), _xnor_dot(x[1], m[1], w[1])
        bx, ay = _xnor_dot(x[0], m[0], w[1]), _xnor_dot(x[1], m[1], w[0])
        expect = np.concatenate([(ax - by).sum(axis=1), (bx + ay).sum(axis=1)], axis=-1)
        fields = [("in_x", simd), ("in_x_mask", simd), ("in_y", simd), ("in_y_mask", simd), ("in_a", pe * simd),
                  ("in_b", pe * simd), ("in_last", 1)]
    else:
        expect = _xnor_dot(x[0], m[0], w[0]).sum(axis=1)
        fields = [("in_x", simd), ("in_mask", simd), ("in_w", pe * simd), ("in_last", 1)]
    beats = []
    for d in range(n_dots):
        for f in range(folds):
            vals = []
            for p in range(parts):
                vals += [(pack(x[p, d, f], 1), simd), (pack(m[p, d, f], 1), simd)]
            vals += [(pack(w[p, d, f], 1), pe * simd) for p in range(parts)]
            vals.append((int(f == folds - 1), 1))
            word, shift = 0, 0
            for v, width in vals:
                word |= v << shift
                shift += width
            beats.append(word)
    pv, pr = _handshake(rng)
    s_in = stream(True, "in", fields, pv)
    s_in.beats = beats
    s_out = stream(False, "out", [("out_acc", lanes * acc_bits)], pr)
    s_out.beats = [pack(expect[d], acc_bits) for d in range(n_dots)]
    ports = {"in_valid": 1, "in_ready": 1, **dict(fields), "out_valid": 1, "out_ready": 1, "out_acc": lanes * acc_bits}
    module = "nbq_cxnor_array" if complex_ else "nbq_xnor_array"
    return Instance(module, {"PE": pe, "SIMD": simd, "ACC_BITS": acc_bits}, ports, {"in": s_in, "out": s_out},
                    label=f"seed {seed}")


@pytest.mark.parametrize("complex_", [False, True], ids=["xnor", "complex"])
def test_binary_arrays(complex_, tmp_path):
    rng = np.random.default_rng(3 if complex_ else 4)
    h = Harness("h_cxnor" if complex_ else "h_xnor")
    for i in range(N_PARAMS):
        h.add(_binary_array(rng, complex_, i))
    h.check(tmp_path)


LINT_VARIANTS = {
    "nbq_mvau": ["-GENGINE=1", "-GENGINE=2", "-GENGINE=3 -GGROUPS=2", "-GGROUPS=2 -GNF=2 -GSF=3"],
    "nbq_svpe_dot": ["-GW_BITS=1", "-GW_BITS=6 -GACC_BITS=40", "-GSIMD=1"],
    "nbq_window": ["-GKH=1 -GKW=1", "-GKW=2 -GDH=2 -GH=9", "-GSH=2 -GSW=3 -GW=7"],
    "nbq_collect": ["-GSPLIT=2", "-GN=1"],
    "nbq_pool": ["-GMODE=1 -GOUT_BITS=10", "-GIN_SIGNED=1"],
    "nbq_concat": ["-GA_ELEMS=3 -GB_ELEMS=1 -GA_SIGNED=0 -GSHIFT_A=2 -GOUT_BITS=12"],
    "nbq_permute": ["-GELEMS=4 -GE_BITS=3 -GIDX_BITS=2 -GPERM=8'hd8"],
}


def test_library_lints_clean():
    """Every hw/rtl module passes verilator --lint-only -Wall at its defaults and a few other shapes."""
    import subprocess

    from rtl_tb.harness import RTL_DIR

    from nbq.sim.verilator import verilator_bin_dir

    sources = [str(p) for p in sorted(RTL_DIR.glob("*.sv"))]
    problems = []
    for path in sorted(RTL_DIR.glob("*.sv")):
        for variant in [""] + LINT_VARIANTS.get(path.stem, []):
            proc = subprocess.run([str(verilator_bin_dir() / "verilator"), "--lint-only", "-Wall", "--top-module",
                                   path.stem, *variant.split(), *sources], capture_output=True, text=True)
            if proc.returncode:
                problems.append(f"{path.stem} {variant}: {proc.stderr[:800]}")
    assert not problems, "\n".join(problems)
