// Power-of-two weights: each product is a conditional negate of a left shift.
//
// Code layout (n >= 2): MSB = sign (1 = negative), low n-1 bits = m
// (0 = zero weight); the integer weight is +-2^(R-m) with R = 2^(n-1) - 1.
// n = 1 (binary): bit 1 = +1, bit 0 = -1.
#ifndef NBQ_PO2_H
#define NBQ_PO2_H

#include "common.h"

namespace nbq {

template <int N>
struct po2_weights {
    static const int BITS = N;
    static const int R = (1 << (N - 1)) - 1;  // also the mask of the low N-1 bits

    // acc += w(code) * x, without a multiplier.
    template <class ACC, class X>
    static void mac(ACC& acc, ap_uint<N> code, const X& x) {
#pragma HLS INLINE
        const int m = int(code.to_uint() & unsigned(R));
        if (m == 0) return;
        ACC term = ACC(x);
        term <<= (R - m);
        if (code[N - 1])
            acc -= term;
        else
            acc += term;
    }
};

template <>
struct po2_weights<1> {
    static const int BITS = 1;

    template <class ACC, class X>
    static void mac(ACC& acc, ap_uint<1> code, const X& x) {
#pragma HLS INLINE
        if (code[0])
            acc += ACC(x);
        else
            acc -= ACC(x);
    }
};

}  // namespace nbq

#endif
