"""The hand-written C++ engine library against nbq.formats: every weight code of the SVPE and VPE
products, the XNOR dot product, ROM rows (codes that straddle chunks), extremes."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from nbq.formats import MAX_HW_PO2_BITS, Po2Codebook, int_weight_codes
from nbq.resources import data_dir
from nbq.sim.csim import find_hls_headers

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")

XS = (0, 1, -1, 3, -7, 127, -128, 255)  # x values, incl. the 8-bit extremes
PO2_BITS = range(1, 9)
INT_BITS = (2, 5, 8, 16)
# ROM layouts (code bits, code rows, codes per row, ROM depth): one chunk, exact 64, codes straddling
# chunk boundaries, the widest (32-bit VPE) codes
ROMS = (
    (1, 3, 40, 2),
    (2, 1, 1, 1),
    (3, 2, 37, 2),
    (4, 1, 4, 2),
    (5, 1, 13, 3),
    (7, 4, 9, 2),
    (8, 8, 1, 2),
    (16, 2, 5, 2),
    (32, 1, 3, 2),
)

_PROGRAM = r"""
#include <cstdio>
#include "nbq/nbq.h"

typedef ap_int<200> wide_t;  // holds x * 2^126 for 8-bit po2 weights

template <class F>
void products(const char* kind, int n) {
    const long long xs[] = {XS};
    for (int code = 0; code < (1 << n); code++)
        for (long long x : xs) {
            const wide_t p = F::template term<wide_t>(ap_uint<F::CODE_BITS>(code), ap_int<9>(x));
            std::printf("%s %d %d %lld %s\n", kind, n, code, x, p.to_string(10).c_str());
        }
}

// All 3^4 inputs in {-1, 0, 1} against all 2^4 weight bit patterns, masked and plain.
void xnor_dots() {
    for (int w = 0; w < 16; w++)
        for (int k = 0; k < 81; k++) {
            ap_uint<1> bits[4];
            nbq::vec<ap_int<2>, 4> x;
            for (int s = 0, r = k; s < 4; s++, r /= 3) {
                bits[s] = (w >> s) & 1;
                x[s] = r % 3 - 1;
            }
            const long long m = nbq::xnor<true>::dot<ap_int<8> >(bits, x).to_int64();
            const long long p = nbq::xnor<false>::dot<ap_int<8> >(bits, x).to_int64();
            std::printf("xnor %d %d %lld %lld\n", w, k, m, p);
        }
}

// Every code of every row of a ROM, through the row extraction the engines use.
template <int B, int ROWS, int PER, int CHUNKS, int CB>
void rom_codes(int tag, const typename nbq::rom_chunk<CB>::type rom[][CHUNKS], int depth) {
    for (int f = 0; f < depth; f++) {
        ap_uint<B> codes[ROWS][PER];
        nbq::rom_row<B, ROWS, PER, CHUNKS, CB>::codes(rom[f], codes);
        for (int r = 0; r < ROWS; r++)
            for (int p = 0; p < PER; p++)
                std::printf("rom %d %d %d %llu\n", tag, f, r * PER + p, (unsigned long long)codes[r][p].to_uint64());
    }
}

int main() {
PRODUCTS
PACKS
    xnor_dots();
    return 0;
}
"""


def _rom_codes(bits: int, n: int, depth: int) -> list[list[int]]:
    return [[(f * 7919 + i * 2654435761) % (1 << bits) for i in range(n)] for f in range(depth)]


def _rom_chunks(codes: list[list[int]], bits: int) -> tuple[list[list[int]], int, int]:
    """The HLS ROM format, packed here independently of nbq.plan: code i at row bits [i*bits, (i+1)*bits),
    ceil(row_bits / 64) chunks of ceil(row_bits / chunks) bits."""
    row_bits = len(codes[0]) * bits
    chunks = -(-row_bits // 64)
    cb = -(-row_bits // chunks)
    rows = []
    for row in codes:
        value = sum(c << (i * bits) for i, c in enumerate(row))
        rows.append([(value >> (k * cb)) & ((1 << cb) - 1) for k in range(chunks)])
    return rows, chunks, cb


@pytest.fixture(scope="module")
def library_output(tmp_path_factory) -> list[str]:
    tmp = tmp_path_factory.mktemp("hls_library")
    products = [f'    products<nbq::svpe<{n}> >("po2", {n});' for n in PO2_BITS]
    products += [f'    products<nbq::vpe<{n}> >("int", {n});' for n in INT_BITS]
    packs = []
    for tag, (bits, rows, per, depth) in enumerate(ROMS):
        chunked, chunks, cb = _rom_chunks(_rom_codes(bits, rows * per, depth), bits)
        body = ", ".join("{" + ", ".join(f"{w:#x}ULL" for w in row) + "}" for row in chunked)
        packs.append(
            f"    {{ static const nbq::rom_chunk<{cb}>::type w[{depth}][{chunks}] = {{{body}}}; "
            f"rom_codes<{bits}, {rows}, {per}, {chunks}, {cb}>({tag}, w, {depth}); }}"
        )
    source = (
        _PROGRAM.replace("XS", ", ".join(f"{x}LL" for x in XS))
        .replace("PRODUCTS", "\n".join(products))
        .replace("PACKS", "\n".join(packs))
    )
    (tmp / "lib_test.cpp").write_text(source)
    include = data_dir("hw") / "include"
    cmd = ["g++", "-std=c++14", "-O1", "-Wall", "-Wextra", "-Werror", "-Wno-unknown-pragmas",
           "-isystem", str(find_hls_headers()), "-I", str(include), "lib_test.cpp", "-o", "lib_test"]  # fmt: skip
    build = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(tmp / "lib_test")], capture_output=True, text=True, check=True)
    return run.stdout.splitlines()


def _po2_int(n: int, code: int) -> int:
    """The integer weight of a code, from the layout in nbq.formats (also beyond MAX_HW_PO2_BITS)."""
    if n == 1:
        return 1 if code & 1 else -1
    r = 2 ** (n - 1) - 1
    m = code & r
    w = 0 if m == 0 else 2 ** (r - m)
    return -w if code >> (n - 1) else w


def test_po2_layout_helper_matches_formats():
    for n in range(1, MAX_HW_PO2_BITS + 1):
        codes = np.arange(2**n)
        assert Po2Codebook(n).int_values(codes).tolist() == [_po2_int(n, int(c)) for c in codes]


def test_po2_products_are_shifts_of_the_codebook(library_output):
    seen = 0
    for line in library_output:
        if not line.startswith("po2 "):
            continue
        _, n, code, x, acc = line.split()
        assert int(acc) == _po2_int(int(n), int(code)) * int(x), line
        seen += 1
    assert seen == sum(2**n for n in PO2_BITS) * len(XS)


def test_int_products_are_twos_complement(library_output):
    seen = 0
    for line in library_output:
        if not line.startswith("int "):
            continue
        _, n, code, x, acc = line.split()
        bits = int(n)
        w = int(code) - (1 << bits) if int(code) >> (bits - 1) else int(code)
        assert int(int_weight_codes(np.array([w]), bits)[0]) == int(code)
        assert int(acc) == w * int(x), line
        seen += 1
    assert seen == sum(2**n for n in INT_BITS) * len(XS)


def test_rom_rows_give_back_their_codes(library_output):
    got: dict[int, list[list[int]]] = {}
    for line in library_output:
        if line.startswith("rom "):
            tag, f, _, code = (int(v) for v in line.split()[1:])
            rows = got.setdefault(tag, [])
            if f == len(rows):
                rows.append([])
            rows[f].append(code)
    for tag, (bits, rows, per, depth) in enumerate(ROMS):
        assert got[tag] == _rom_codes(bits, rows * per, depth), (bits, rows, per)


def test_rom_packer_matches_the_plan():
    """The packer above and nbq.plan's Rom.chunk_words (what the compiler prints) agree."""
    from nbq.plan.records import MemoryKind, Rom

    for bits, rows, per, depth in ROMS:
        codes = _rom_codes(bits, rows * per, depth)
        rom = Rom.of(np.array(codes, dtype=np.uint64), bits, MemoryKind.LUTRAM)
        chunked, chunks, cb = _rom_chunks(codes, bits)
        assert (rom.chunks, rom.chunk_bits) == (chunks, cb)
        assert rom.chunk_words().tolist() == chunked, (bits, rows, per)


def test_xnor_dot_products(library_output):
    """2 * popcount(XNOR) - K on +-1 inputs; the masked engine is exact on {-1, 0, 1} (0 contributes nothing)."""
    seen = 0
    for line in library_output:
        if not line.startswith("xnor "):
            continue
        _, w, k, masked, plain = (int(v) if v.lstrip("-").isdigit() else v for v in line.split())
        bits = [(w >> s) & 1 for s in range(4)]
        x = [(k // 3**s) % 3 - 1 for s in range(4)]
        weights = [1 if b else -1 for b in bits]
        assert masked == sum(wv * xv for wv, xv in zip(weights, x, strict=True)), line
        if 0 not in x:
            assert plain == masked, line
        seen += 1
    assert seen == 16 * 81
