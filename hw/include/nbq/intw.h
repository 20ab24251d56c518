// Plain two's-complement integer weights: the multiplier (VPE) baseline.
#ifndef NBQ_INTW_H
#define NBQ_INTW_H

#include "common.h"

namespace nbq {

template <int N>
struct int_weights {
    static const int BITS = N;

    template <class ACC, class X>
    static void mac(ACC& acc, ap_uint<N> code, const X& x) {
#pragma HLS INLINE
        const ap_int<N> w = code;  // reinterpret the code as two's complement
        acc += w * x;
    }
};

}  // namespace nbq

#endif
