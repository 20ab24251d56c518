// Weight memories: one ROM row per fold, stored as a 2-D array of chunks.
//
// An engine's weights are stored fold by fold: row f = nf * SF + sf holds the N codes the array
// uses in that cycle (N = PE * SIMD, code pe * SIMD + s; the complex engine stores the PE * SIMD
// A codes, then the B codes), code i at bits [i * BITS, (i + 1) * BITS) of the row.  The row's
// FB = N * BITS bits are cut into ROM_CHUNKS = ceil(FB / 64) chunks of CB = ceil(FB / ROM_CHUNKS)
// <= 64 bits (chunk c = row bits [c * CB, (c + 1) * CB), the last one's top bits 0); a code may
// straddle two chunks.  The generated ROM is
//     static const typename nbq::rom_chunk<CB>::type w[ROM_DEPTH][ROM_CHUNKS]
// reshaped completely in its second dimension where it is defined, so a row is one ROM word read
// in one cycle by an array index (never a pointer offset).
//
// The chunk type is ap_uint<CB> for synthesis (a CB-bit ROM word slice) and uint64_t for
// C-simulation: g++ needs minutes for a large aggregate initializer of ap_uint and half a
// second for one of uint64_t; the values are the same (each chunk < 2^CB).
#ifndef NBQ_WEIGHTS_H
#define NBQ_WEIGHTS_H

#include "common.h"

namespace nbq {

template <int CB>
struct rom_chunk {
#ifdef __SYNTHESIS__
    typedef ap_uint<CB> type;
#else
    typedef uint64_t type;
#endif
};

// The codes of one ROM row as ROWS x PER codes (code i = r * PER + p at out[r][p]: PE rows of SIMD
// codes; the complex engine's 2 * PE rows hold A, then B).  Code i spans at most two chunks
// (BITS <= CB, see nbq.plan.records.Rom), so it is sliced from the concatenation of its (at most
// two) chunks at compile-time offsets: wiring only, and narrow ap_uint work in C-simulation.
template <int BITS, int ROWS, int PER, int CHUNKS, int CB>
struct rom_row {
    typedef typename rom_chunk<CB>::type chunk_t;
    static_assert(BITS <= CB && ROWS * PER * BITS <= CHUNKS * CB, "ROM row layout");

    static NBQ_INLINE void codes(const chunk_t row[CHUNKS], ap_uint<BITS> out[ROWS][PER]) {
#pragma HLS INLINE
#ifndef __SYNTHESIS__
        // C-simulation: chunk_t is uint64_t holding < 2^CB, so the same bits come from native shifts
        // (a 128-bit ap_uint concatenation per code was most of a C-simulation's time).
        for (int i = 0; i < ROWS * PER; i++) {
            const int lo = i * BITS, c = lo / CB, off = lo % CB;
            uint64_t bits = uint64_t(row[c]) >> off;
            if (off + BITS > CB && c + 1 < CHUNKS) bits |= uint64_t(row[c + 1]) << (CB - off);  // 0 < CB - off < 64
            out[i / PER][i % PER] = ap_uint<BITS>(bits);  // keeps the low BITS bits
        }
#else
        for (int r = 0; r < ROWS; r++) {
#pragma HLS UNROLL
            for (int p = 0; p < PER; p++) {
#pragma HLS UNROLL
                const int lo = (r * PER + p) * BITS;
                const int c = lo / CB;
                const int next = c + 1 < CHUNKS ? c + 1 : c;  // a code never reads past the last chunk
                const ap_uint<2 * CB> pair = (ap_uint<CB>(row[next]), ap_uint<CB>(row[c]));
                out[r][p] = ap_uint<BITS>(pair >> (lo % CB));
            }
        }
#endif
    }
};

}  // namespace nbq

#endif
