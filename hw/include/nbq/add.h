// Residual add: out = (a << SHIFT_A) + (b << SHIFT_B), both inputs in the
// same stream order.  CFG provides: a_t, b_t, out_t, acc_t, SIZE, SHIFT_A, SHIFT_B.
#ifndef NBQ_ADD_H
#define NBQ_ADD_H

#include "common.h"

namespace nbq {

template <class CFG>
void add(hls::stream<typename CFG::a_t>& in_a, hls::stream<typename CFG::b_t>& in_b,
         hls::stream<typename CFG::out_t>& out) {
    typedef typename CFG::acc_t acc_t;
    const int shift_a = CFG::SHIFT_A;
    const int shift_b = CFG::SHIFT_B;
    for (int i = 0; i < CFG::SIZE; i++) {
#pragma HLS PIPELINE II = 1
        acc_t a = acc_t(in_a.read());
        acc_t b = acc_t(in_b.read());
        a <<= shift_a;
        b <<= shift_b;
        acc_t sum = a + b;
        out.write(typename CFG::out_t(sum));
    }
}

}  // namespace nbq

#endif
