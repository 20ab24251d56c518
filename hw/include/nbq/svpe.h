// SVPE: the shift-add processing element of n-BQ-NN, without a multiplier.
//
// One SIMD row of the PE x SIMD array: SIMD products, each a conditional
// negate of a left shift of the activation, summed by an adder tree.
//
// Code layout (n >= 2, nbq/formats.py): MSB = sign (1 = negative), low n-1
// bits = m, 0 meaning a zero weight; the integer weight is +-2^(R-m) with
// R = 2^(n-1) - 1, so the product is +-(x << (R - m)).  n = 1 (binary
// weights on multi-bit activations): bit 1 = +1, bit 0 = -1, a conditional
// negate only.  Shifts and negations are done in the accumulator type ACC
// (modular, see common.h); no '*' touches a weight and every adder is bound to
// fabric, so the array uses no DSP slice.
#ifndef NBQ_SVPE_H
#define NBQ_SVPE_H

#include "arith.h"
#include "common.h"
#include "vec.h"

namespace nbq {

template <int N>
struct svpe {
    static const int CODE_BITS = N;
    static const int R = (1 << (N - 1)) - 1;  // also the mask of the magnitude bits

    // One product: 0, or +-(x << (R - m)).
    template <class ACC, class X>
    static NBQ_INLINE ACC term(ap_uint<N> code, const X& x) {
#pragma HLS INLINE
        const unsigned c = code.to_uint();
        const unsigned m = c & unsigned(R);
        ACC t = 0;
        if (m != 0) {  // unrolled, the branches are multiplexers
            t = ACC(x);
            t <<= int(R - m);
            if (c >> (N - 1)) {
                ACC neg = 0;
                neg -= t;
#pragma HLS BIND_OP variable = neg op = sub impl = fabric
                t = neg;
            }
        }
        return t;
    }

    // sum_s w(codes[s]) * x[s] for one PE row.
    template <class ACC, class X, int SIMD>
    static NBQ_INLINE ACC dot(const ap_uint<N> codes[SIMD], const vec<X, SIMD>& x) {
#pragma HLS INLINE
        return row_dot<svpe<N>, ACC, X, SIMD>(codes, x);
    }
#ifndef __SYNTHESIS__
    // C-simulation fast path (csim_fast.h): term = weight * x with the integer weight +-2^(R-m).
    static int64_t csim_weight(uint64_t c) {
        const unsigned m = unsigned(c) & unsigned(R);
        if (m == 0) return 0;
        const uint64_t mag = uint64_t(1) << (R - m);  // R - m < 64 for N <= 7 (codes have at most 6 bits)
        return (c >> (N - 1)) & 1 ? int64_t(0 - mag) : int64_t(mag);
    }
    static int64_t csim_input(int64_t x) { return x; }
#endif
};

template <>
struct svpe<1> {
    static const int CODE_BITS = 1;

    template <class ACC, class X>
    static NBQ_INLINE ACC term(ap_uint<1> code, const X& x) {
#pragma HLS INLINE
        ACC t = ACC(x);
        if (!code[0]) {
            ACC neg = 0;
            neg -= t;
#pragma HLS BIND_OP variable = neg op = sub impl = fabric
            t = neg;
        }
        return t;
    }

    template <class ACC, class X, int SIMD>
    static NBQ_INLINE ACC dot(const ap_uint<1> codes[SIMD], const vec<X, SIMD>& x) {
#pragma HLS INLINE
        return row_dot<svpe<1>, ACC, X, SIMD>(codes, x);
    }
#ifndef __SYNTHESIS__
    static int64_t csim_weight(uint64_t c) { return c & 1 ? 1 : -1; }
    static int64_t csim_input(int64_t x) { return x; }
#endif
};

}  // namespace nbq

#endif
