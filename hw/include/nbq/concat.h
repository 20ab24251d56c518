// Channel concatenation of two streams, one whole pixel (or vector) per word:
// out = [a << SHIFT_A, b << SHIFT_B] (a's channels first).  The compiler chains
// these for more than two inputs (the running result is input a, shift 0) and
// regroups each input to one word per pixel.  CFG provides: a_t, b_t, out_t
// (the output's proven range holds every shifted value), A_W, B_W (channels),
// WORDS (pixels per image), SHIFT_A, SHIFT_B.
#ifndef NBQ_CONCAT_H
#define NBQ_CONCAT_H

#include "common.h"
#include "vec.h"

namespace nbq {

template <class CFG>
void concat2(hls::stream<vec<typename CFG::a_t, CFG::A_W> >& in_a,
             hls::stream<vec<typename CFG::b_t, CFG::B_W> >& in_b,
             hls::stream<vec<typename CFG::out_t, CFG::A_W + CFG::B_W> >& out, int images) {
    typedef typename CFG::out_t out_t;
    const int total = images * CFG::WORDS;
    for (int i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        const vec<typename CFG::a_t, CFG::A_W> a = in_a.read();
        const vec<typename CFG::b_t, CFG::B_W> b = in_b.read();
        vec<out_t, CFG::A_W + CFG::B_W> y;
        for (int l = 0; l < CFG::A_W; l++) {
#pragma HLS UNROLL
            out_t v = out_t(a[l]);
            v <<= int(CFG::SHIFT_A);
            y[l] = v;
        }
        for (int l = 0; l < CFG::B_W; l++) {
#pragma HLS UNROLL
            out_t v = out_t(b[l]);
            v <<= int(CFG::SHIFT_B);
            y[CFG::A_W + l] = v;
        }
        out.write(y);
    }
}

// Channel permutation (shuffle) of one whole pixel per word: out[c] = in[perm[0][c]] (the table is
// one row, one ROM word).  CFG provides: t (the value type), C (channels), WORDS (pixels per image).
template <class CFG>
void channel_permute(hls::stream<vec<typename CFG::t, CFG::C> >& in, hls::stream<vec<typename CFG::t, CFG::C> >& out,
                     const int perm[1][CFG::C], int images) {
    const int total = images * CFG::WORDS;
    for (int i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        const vec<typename CFG::t, CFG::C> x = in.read();
        vec<typename CFG::t, CFG::C> y;
        for (int c = 0; c < CFG::C; c++) {
#pragma HLS UNROLL
            y[c] = x[perm[0][c]];
        }
        out.write(y);
    }
}

}  // namespace nbq

#endif
