"""The C-simulation fast paths: native 64-bit MVAU arithmetic, native ROM row decoding, the
precompiled engine library and the progress hook.

The fast path (hw/include/nbq/csim_fast.h) must give the same integers as the ap_int path synthesis
sees: checked against nbq.reference at the widest accumulator the compiler makes (62 bits, driven to
both ends of its proven range; random configurations of every engine: test_engine_arrays.py), and
the ap_int path itself is still built and run in C-simulation with -DNBQ_CSIM_APINT.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from hls_graphs import GraphMaker, cnn_mixed, golden, mlp_binary

from nbq import reference
from nbq.backends.hls import write_hls_project
from nbq.board_catalog import load_board
from nbq.plan import plan_graph
from nbq.resources import data_dir
from nbq.sim import csim, csim_pch
from nbq.sim.csim import find_hls_headers, read_csim_outputs, run_csim

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")


@pytest.fixture(autouse=True)
def pch_cache(tmp_path_factory, monkeypatch):
    """One precompiled-header cache for this module's tests, not the user's."""
    cache = tmp_path_factory.getbasetemp() / "nbq-pch-cache"
    monkeypatch.setenv("NBQ_OBJCACHE_DIR", str(cache))
    monkeypatch.delenv("NBQ_CSIM_PCH", raising=False)
    return cache


def _extreme_images(g) -> np.ndarray:
    """Two images driving the first output channel with the largest reachable value to the top and
    the one with the smallest to the bottom of its range (the window at output (0, 0))."""
    conv = g.layers[0]
    lo, hi = g.tensors[g.inputs[0]].lo, g.tensors[g.inputs[0]].hi
    rows = conv.weights.ints.reshape(conv.weights.ints.shape[0], -1)
    top = np.where(rows > 0, rows * hi, rows * lo).sum(1) + conv.bias
    bottom = np.where(rows > 0, rows * lo, rows * hi).sum(1) + conv.bias
    shape = g.tensors[g.inputs[0]].shape
    images = []
    for ch, sign in ((int(np.argmax(top)), 1), (int(np.argmin(bottom)), -1)):
        x = np.full(shape, lo if sign > 0 else hi, dtype=np.int64)
        w = conv.weights.ints[ch]
        kh, kw = w.shape[1:]
        x[:, :kh, :kw] = np.where(w * sign > 0, hi, lo)
        images.append(x)
    rng = np.random.default_rng(1)
    images += [rng.integers(lo, hi, size=shape, endpoint=True) for _ in range(2)]
    return np.stack(images)


@pytest.mark.slow
def test_widest_accumulators_are_exact(tmp_path):
    """6-bit po2 weights (up to 2^30) on 30-bit inputs: a 62-bit accumulator, the widest the compiler
    allows, on the native path, driven exactly to both ends of its range."""
    m = GraphMaker(5, (3, 4, 5), -(2**29), 2**29 - 1, "acc62")
    m.conv(2, (2, 3), stride=(1, 2), bits=6)
    g = m.graph()
    y = g.tensors[g.outputs[0]]
    assert y.bits == 62
    x = _extreme_images(g)
    out = reference.run_int(g, x)[g.outputs[0]]
    assert out.max() == y.hi and out.min() == y.lo  # the proven range is tight and reached
    write_hls_project(plan_graph(g, load_board("u280")), tmp_path / "prj", x, {g.outputs[0]: out})
    res = run_csim(tmp_path / "prj")
    assert res.passed, f"{res.problems}\n{res.first_mismatches}\n{res.log[-3000:]}"
    got = read_csim_outputs(tmp_path / "prj")  # stream order: compared value by value by the testbench
    assert got.max() == y.hi and got.min() == y.lo


@pytest.mark.slow
@pytest.mark.parametrize("make", [cnn_mixed, mlp_binary], ids=["cnn_mixed", "mlp_binary"])
def test_apint_path_still_builds_and_matches(make, tmp_path):
    """-DNBQ_CSIM_APINT: C-simulation of the ap_int arithmetic synthesis sees, bit-exact too."""
    g = make()
    write_hls_project(plan_graph(g, load_board("zcu102")), tmp_path / "prj", *golden(g))
    prj = tmp_path / "prj"
    fast = run_csim(prj)
    assert fast.passed, fast.problems
    exe = prj / "csim_build" / "apint"
    ok, log = csim._build(prj, ["firmware/nbq_top.cpp", "tb/nbq_top_tb.cpp"], "firmware",
                          [*csim.BASE_FLAGS, "-DNBQ_CSIM_APINT"], exe, 2)  # fmt: skip
    assert ok, log[-3000:]
    done = subprocess.run([str(exe)], cwd=prj, capture_output=True, text=True)
    assert done.returncode == 0 and "mismatches=0" in done.stdout, done.stdout[-2000:]


_ROM_HARNESS = r"""
#include <cstdio>
#include <cstdlib>
#include "nbq/weights.h"

// The synthesis decoding: the code sliced from the concatenation of its (at most two) chunks.
template <int BITS, int ROWS, int PER, int CHUNKS, int CB>
static int check(unsigned seed) {
    typedef nbq::rom_row<BITS, ROWS, PER, CHUNKS, CB> row_t;
    std::srand(seed);
    int bad = 0;
    for (int trial = 0; trial < 200; trial++) {
        uint64_t row[CHUNKS];
        for (int c = 0; c < CHUNKS; c++) {
            uint64_t v = 0;
            for (int k = 0; k < 4; k++) v = (v << 16) ^ uint64_t(std::rand() & 0xffff);
            if (trial == 0) v = ~uint64_t(0);  // all ones: every bit of every chunk set
            row[c] = CB == 64 ? v : v & ((uint64_t(1) << CB) - 1);
        }
        const int used = ROWS * PER * BITS;  // bits past the last code are 0, as the compiler packs them
        if (used < CHUNKS * CB) {
            const int c = used / CB, off = used % CB;
            row[c] &= off == 0 ? 0 : (uint64_t(1) << off) - 1;
            for (int k = c + 1; k < CHUNKS; k++) row[k] = 0;
        }
        ap_uint<BITS> got[ROWS][PER];
        row_t::codes(row, got);
        for (int i = 0; i < ROWS * PER; i++) {
            const int lo = i * BITS, c = lo / CB, next = c + 1 < CHUNKS ? c + 1 : c;
            const ap_uint<2 * CB> pair = (ap_uint<CB>(row[next]), ap_uint<CB>(row[c]));
            const ap_uint<BITS> want = ap_uint<BITS>(pair >> (lo % CB));
            if (got[i / PER][i % PER] != want) bad++;
        }
    }
    return bad;
}

int main() {
    int bad = check<3, 16, 96, 72, 64>(1) + check<1, 4, 5, 1, 20>(2) + check<5, 3, 7, 2, 53>(3) +
              check<6, 2, 11, 3, 44>(4) + check<16, 3, 4, 3, 64>(5) + check<7, 5, 3, 2, 53>(6) +
              check<2, 1, 1, 1, 2>(7);
    std::printf("bad=%d\n", bad);
    return bad != 0;
}
"""


def test_native_rom_decoding_matches_the_concatenation(tmp_path):
    src = tmp_path / "rom.cpp"
    src.write_text(_ROM_HARNESS)
    include = data_dir("hw") / "include"
    exe = tmp_path / "rom"
    subprocess.run(["g++", "-std=c++14", "-O1", "-Wno-unknown-pragmas", "-isystem", str(find_hls_headers()),
                    "-I", str(include), str(src), "-o", str(exe)], check=True)  # fmt: skip
    done = subprocess.run([str(exe)], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "bad=0", done.stdout


def test_progress_hook_and_precompiled_header(tmp_path, monkeypatch):
    pch_cache = tmp_path / "cache"  # empty: this test's build compiles the header
    monkeypatch.setenv("NBQ_OBJCACHE_DIR", str(pch_cache))
    g = mlp_binary()
    x = np.concatenate([golden(g)[0]] * 3)  # 24 images: three chunks
    y = reference.run_int(g, x)
    prj = tmp_path / "prj"
    write_hls_project(plan_graph(g, load_board("zcu102")), prj, x, y)
    calls = []
    res = run_csim(prj, progress=lambda done, total: calls.append((done, total)))
    assert res.passed and res.images == 24, res.problems
    assert calls and calls[-1] == (24, 24) and all(b >= a for a, b in zip(calls, calls[1:], strict=False))
    assert "NBQ-CSIM-PROGRESS" not in res.log
    gch = list((pch_cache / "csim-pch").glob("*/nbq/nbq.h.gch"))
    assert len(gch) == 1  # compiled once, then reused by the next build
    assert "-include" in res.log and str(gch[0])[:-4] in res.log
    stamp = gch[0].stat().st_mtime_ns
    shutil.rmtree(prj / "csim_build")
    again = run_csim(prj)
    assert again.passed and again.built and gch[0].stat().st_mtime_ns == stamp


def test_without_or_with_a_broken_precompiled_header(tmp_path, monkeypatch):
    g = mlp_binary()
    prj = tmp_path / "prj"
    write_hls_project(plan_graph(g, load_board("zcu102")), prj, *golden(g))
    monkeypatch.setenv("NBQ_CSIM_PCH", "off")
    res = run_csim(prj)
    assert res.passed and "-include" not in res.log
    # a library copy g++ cannot precompile: the build goes on without it (and fails on its own if it must)
    monkeypatch.delenv("NBQ_CSIM_PCH")
    pch = csim_pch.precompiled_library(shutil.which("g++"), list(csim.BASE_FLAGS), find_hls_headers(), tmp_path)
    assert pch.args == []  # no nbq.h there
    broken = tmp_path / "lib"
    broken.mkdir()
    (broken / "nbq.h").write_text("#error not a library\n")
    pch = csim_pch.precompiled_library(shutil.which("g++"), list(csim.BASE_FLAGS), find_hls_headers(), broken)
    assert pch.args == [] and "not a library" in pch.log
