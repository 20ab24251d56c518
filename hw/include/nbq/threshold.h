// Multi-threshold activation: out = OUT_LO + STEP * (number of thresholds
// crossed); a threshold t is crossed when x >= t (up[c]) or x <= t (!up[c]).
// This is BatchNorm + quantizer folded into integers.  CFG provides:
//   in_t, out_t, th_t, PIXELS, C, L, OUT_LO, STEP
#ifndef NBQ_THRESHOLD_H
#define NBQ_THRESHOLD_H

#include "common.h"

namespace nbq {

template <class CFG>
void threshold(hls::stream<typename CFG::in_t>& in, hls::stream<typename CFG::out_t>& out,
               const typename CFG::th_t th[CFG::C][CFG::L], const bool up[CFG::C]) {
    const long long out_lo = CFG::OUT_LO;
    const long long step = CFG::STEP;
    for (int p = 0; p < CFG::PIXELS; p++) {
        for (int c = 0; c < CFG::C; c++) {
#pragma HLS PIPELINE II = 1
            const typename CFG::in_t x = in.read();
            int crossed = 0;
            for (int l = 0; l < CFG::L; l++) {
                if (up[c] ? (x >= th[c][l]) : (x <= th[c][l])) crossed++;
            }
            out.write(typename CFG::out_t(out_lo + step * crossed));
        }
    }
}

}  // namespace nbq

#endif
