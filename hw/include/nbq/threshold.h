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
// narrowest of 8/16/32/64 bits holding it); entries are compared as th_t.
//
// CFG: in_t, out_t, key_t (holds [lo - 1, hi]), th_t (holds [lo - 1, hi + 1]),
//      th_table_t; W, ROWS, CHUNKS, WORDS (words per image), STAGES, SLOTS, L,
//      OUT_LO, STEP.
#ifndef NBQ_THRESHOLD_H
#define NBQ_THRESHOLD_H

#include "common.h"
#include "vec.h"

namespace nbq {

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
               const typename CFG::th_table_t th[CFG::ROWS][CFG::SLOTS], const bool up[CFG::ROWS]) {
    const int W = CFG::W;
#pragma HLS ARRAY_PARTITION variable = th cyclic factor = W dim = 1
#pragma HLS ARRAY_PARTITION variable = th complete dim = 2
#pragma HLS ARRAY_PARTITION variable = up cyclic factor = W
    (void)W;  // read by the pragmas only
    static_assert(CFG::SLOTS == (1 << CFG::STAGES) - 1 && CFG::L <= CFG::SLOTS, "threshold table size");
    int j = 0;  // word within the pixel
    for (int i = 0; i < CFG::WORDS; i++) {
#pragma HLS PIPELINE II = 1
        const vec<typename CFG::in_t, CFG::W> x = in.read();
        vec<typename CFG::out_t, CFG::W> y;
        for (int l = 0; l < CFG::W; l++) {
#pragma HLS UNROLL
            const int row = CFG::ROWS == 1 ? 0 : j * CFG::W + l;
            y[l] = threshold_value<CFG>(x[l], th[row], up[row]);
        }
        out.write(y);
        if (++j == CFG::CHUNKS) j = 0;
    }
}

}  // namespace nbq

#endif
