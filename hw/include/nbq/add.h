// Residual add, W values per cycle: out = (a << SHIFT_A) + (b << SHIFT_B), both
// inputs in the same stream order and word width (the compiler regroups one
// of them if their producers' widths differ).  CFG provides: a_t, b_t, out_t,
// acc_t (the output's proven range; modular, see common.h), W, WORDS,
// SHIFT_A, SHIFT_B.
#ifndef NBQ_ADD_H
#define NBQ_ADD_H

#include "common.h"
#include "vec.h"

namespace nbq {

template <class CFG>
void add(hls::stream<vec<typename CFG::a_t, CFG::W> >& in_a, hls::stream<vec<typename CFG::b_t, CFG::W> >& in_b,
         hls::stream<vec<typename CFG::out_t, CFG::W> >& out, int images) {
    typedef typename CFG::acc_t acc_t;
    const int total = images * CFG::WORDS;
    for (int i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        const vec<typename CFG::a_t, CFG::W> a = in_a.read();
        const vec<typename CFG::b_t, CFG::W> b = in_b.read();
        vec<typename CFG::out_t, CFG::W> y;
        for (int l = 0; l < CFG::W; l++) {
#pragma HLS UNROLL
            acc_t sa = acc_t(a[l]);
            acc_t sb = acc_t(b[l]);
            sa <<= int(CFG::SHIFT_A);
            sb <<= int(CFG::SHIFT_B);
            const acc_t sum = sa + sb;
#pragma HLS BIND_OP variable = sum op = add impl = fabric
            y[l] = typename CFG::out_t(sum);
        }
        out.write(y);
    }
}

}  // namespace nbq

#endif
