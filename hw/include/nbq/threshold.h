// Multi-threshold activation unit: BatchNorm + activation + quantizer folded
// into per-channel integer thresholds, W channels per cycle.
//
// out = OUT_LO + STEP * crossed, where a threshold t is crossed when x >= t
// (up[row]) or x <= t (!up[row]).  Each row holds its L thresholds sorted
// ascending and padded to SLOTS = 2^STAGES - 1 entries with a value above every
// input, and the unit counts them with a branchless binary search:
//     pos = 0; for k = STAGES-1 .. 0: if (key >= th[pos + 2^k - 1]) pos += 2^k
// so pos = #{t <= key}; up rows use key = x, down rows key = x - 1 and
// crossed = L - pos (= #{t >= x}).  That is STAGES = ceil(log2(L + 1))
// comparators per value in a pipelined chain (8 for the 255 levels of an 8-bit
// activation, instead of 255); stage k picks among its 2^k candidate entries,
// so the table is stored once and read through per-stage multiplexers.
//
// Lane l of word j of a pixel is channel j * W + l (ROWS = C rows, CHUNKS =
// C / W words per pixel); a per-tensor threshold has ROWS = 1 for every lane.
// Vectors (dense outputs) are one pixel of C = length channels.
//
// The table is constant data of a standard integer type (th_table_t, the
// narrowest of 8/16/32/64 bits holding it); entries are compared as th_t.  It is
// laid out as one row per word of a pixel, so word j reads row j (an index, never a
// bank chosen at run time):
//     th[TH_ROWS][TH_LANES][SLOTS], up[TH_ROWS][TH_LANES]
// with TH_ROWS = CHUNKS and TH_LANES = W (per tensor: 1 and 1), defined static const by
// the generated per-layer wrapper with every dimension but the first reshaped.
//
// CFG: in_t, out_t, key_t (holds [lo - 1, hi]), th_t (holds [lo - 1, hi + 1]),
//      th_table_t; W, ROWS, CHUNKS, WORDS (words per image), STAGES, SLOTS, L,
//      OUT_LO, STEP.
#ifndef NBQ_THRESHOLD_H
#define NBQ_THRESHOLD_H

#include "common.h"
#include "vec.h"

namespace nbq {

// The table's shape for CFG (per tensor: one row, one lane).
template <class CFG>
struct threshold_shape {
    static const int ROWS = CFG::ROWS == 1 ? 1 : CFG::CHUNKS;
    static const int LANES = CFG::ROWS == 1 ? 1 : CFG::W;
};

template <class CFG>
NBQ_INLINE typename CFG::out_t threshold_value(const typename CFG::in_t& x, const typename CFG::th_table_t th[CFG::SLOTS],
                                               bool up) {
#pragma HLS INLINE
    typedef typename CFG::key_t key_t;
    const key_t key = up ? key_t(x) : key_t(x - 1);
    int pos = 0;
    for (int k = CFG::STAGES - 1; k >= 0; k--) {
#pragma HLS UNROLL
        const int step = 1 << k;
        if (key >= typename CFG::th_t(th[pos + step - 1])) pos += step;
    }
    const int crossed = up ? pos : CFG::L - pos;
    const long long out_lo = CFG::OUT_LO;
    const long long step = CFG::STEP;
    return typename CFG::out_t(out_lo + step * crossed);
}

template <class CFG>
void threshold(hls::stream<vec<typename CFG::in_t, CFG::W> >& in, hls::stream<vec<typename CFG::out_t, CFG::W> >& out,
               const typename CFG::th_table_t th[threshold_shape<CFG>::ROWS][threshold_shape<CFG>::LANES][CFG::SLOTS],
               const bool up[threshold_shape<CFG>::ROWS][threshold_shape<CFG>::LANES], int images) {
    // Called by the generated run_* wrapper that defines the tables (weights header): inlined, the
    // wrapper is the process and the tables are locals of the function that uses them.
#pragma HLS INLINE
    static_assert(CFG::SLOTS == (1 << CFG::STAGES) - 1 && CFG::L <= CFG::SLOTS, "threshold table size");
    static_assert(CFG::ROWS == 1 || CFG::ROWS == CFG::CHUNKS * CFG::W, "one table row per channel");
    const bool shared = CFG::ROWS == 1;
    int j = 0;  // word within the pixel = table row
    const int total = images * CFG::WORDS;
    for (int i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        const vec<typename CFG::in_t, CFG::W> x = in.read();
        const int row = shared ? 0 : j;
        vec<typename CFG::out_t, CFG::W> y;
        for (int l = 0; l < CFG::W; l++) {
#pragma HLS UNROLL
            const int lane = shared ? 0 : l;
            y[l] = threshold_value<CFG>(x[l], th[row][lane], up[row][lane]);
        }
        out.write(y);
        j = j == CFG::CHUNKS - 1 ? 0 : j + 1;
    }
}

}  // namespace nbq

#endif
