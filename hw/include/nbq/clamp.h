// Integer clamp (ReLU is LO = 0 without HI), W values per cycle:
// out = min(max(x, LO), HI), the order of numpy.clip.  CFG provides: in_t,
// out_t, work_t (holds the input range and both bounds), W, WORDS (words per
// image), HAS_LO, HAS_HI, LO, HI.
#ifndef NBQ_CLAMP_H
#define NBQ_CLAMP_H

#include "common.h"
#include "vec.h"

namespace nbq {

template <class CFG>
void clamp(hls::stream<vec<typename CFG::in_t, CFG::W> >& in, hls::stream<vec<typename CFG::out_t, CFG::W> >& out,
           int images) {
    typedef typename CFG::work_t work_t;
    // local copies: reading a static const member by value never needs its definition
    const long long lo_value = CFG::LO;
    const long long hi_value = CFG::HI;
    const work_t lo = work_t(lo_value);
    const work_t hi = work_t(hi_value);
    const int total = images * CFG::WORDS;
    for (int i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        const vec<typename CFG::in_t, CFG::W> x = in.read();
        vec<typename CFG::out_t, CFG::W> y;
        for (int l = 0; l < CFG::W; l++) {
#pragma HLS UNROLL
            work_t v = x[l];
            if (CFG::HAS_LO && v < lo) v = lo;
            if (CFG::HAS_HI && v > hi) v = hi;
            y[l] = typename CFG::out_t(v);
        }
        out.write(y);
    }
}

}  // namespace nbq

#endif
