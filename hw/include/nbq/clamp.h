// Integer clamp (ReLU is LO = 0 without HI): out = min(max(x, LO), HI), the
// order of numpy.clip.  CFG provides: in_t, out_t, work_t (holds the input
// range and both bounds), SIZE, HAS_LO, HAS_HI, LO, HI.
#ifndef NBQ_CLAMP_H
#define NBQ_CLAMP_H

#include "common.h"

namespace nbq {

template <class CFG>
void clamp(hls::stream<typename CFG::in_t>& in, hls::stream<typename CFG::out_t>& out) {
    typedef typename CFG::work_t work_t;
    // local copies: reading a static const member by value never needs its definition
    const long long lo_value = CFG::LO;
    const long long hi_value = CFG::HI;
    const work_t lo = work_t(lo_value);
    const work_t hi = work_t(hi_value);
    for (int i = 0; i < CFG::SIZE; i++) {
#pragma HLS PIPELINE II = 1
        work_t v = in.read();
        if (CFG::HAS_LO && v < lo) v = lo;
        if (CFG::HAS_HI && v > hi) v = hi;
        out.write(typename CFG::out_t(v));
    }
}

}  // namespace nbq

#endif
