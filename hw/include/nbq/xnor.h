// Binary engines: XNOR + popcount, real (xnor) and complex (cxnor).
//
// Weights are one bit (1 = +1, 0 = -1).  An activation in [-1, 1] becomes two
// bits: its sign (x > 0) and whether it is non-zero.  The dot product of SIMD
// lanes is
//     dot = 2 * popcount(XNOR(w, sign) & valid) - popcount(valid),
// which is 2 * popcount - K when every lane holds +-1 (MASKED = false: the
// compiler proved the input is a sign threshold's output and the window has no
// zero padding).  With MASKED = true a 0 - zero padding, or a value the range
// allows - contributes nothing, so the engine is exact for any input in [-1, 1].
//
// Complex (Peng et al. / BCNN): input h = x + iy and weight W = A + iB,
//     W (*) h = (A(*)x - B(*)y) + i (B(*)x + A(*)y),
// four XNOR-popcount dot products over the same weight bits A and B (stored
// once) and the same x and y bits.
#ifndef NBQ_XNOR_H
#define NBQ_XNOR_H

#include "arith.h"
#include "common.h"
#include "vec.h"

namespace nbq {

// The signed dot product of SIMD weight bits with the SIMD activations x[OFF] .. x[OFF + SIMD - 1]
// in [-1, 1] (OFF: where the lanes start in the input word).
template <bool MASKED, int SIMD>
struct bipolar_dot {
    typedef ap_int<count_bits<SIMD>::value + 2> dot_t;  // holds -SIMD .. SIMD

    template <int OFF, class X, int N>
    static NBQ_INLINE dot_t of(const ap_uint<1> w[SIMD], const vec<X, N>& x) {
#pragma HLS INLINE
        static_assert(OFF + SIMD <= N, "lanes inside the word");
        bool agree[SIMD], valid[SIMD];
#pragma HLS ARRAY_PARTITION variable = agree complete
#pragma HLS ARRAY_PARTITION variable = valid complete
        for (int s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
            const X v = x[OFF + s];
            const bool nonzero = v != 0;
            valid[s] = MASKED ? nonzero : true;
            agree[s] = (w[s] == 1) == (v > 0) && valid[s];  // XNOR of weight and sign bits
        }
        const dot_t ones = popcount<SIMD>::of(agree);
        const dot_t n = MASKED ? dot_t(popcount<SIMD>::of(valid)) : dot_t(SIMD);
        return dot_t(ones + ones - n);
    }
};

template <bool MASKED>
struct xnor {
    static const int CODE_BITS = 1;

    template <class ACC, class X, int SIMD>
    static NBQ_INLINE ACC dot(const ap_uint<1> codes[SIMD], const vec<X, SIMD>& x) {
#pragma HLS INLINE
        return ACC(bipolar_dot<MASKED, SIMD>::template of<0>(codes, x));
    }
#ifndef __SYNTHESIS__
    // C-simulation fast path (csim_fast.h): bipolar_dot is the sum over lanes of weight * input with
    // weight +-1 and input +1 (x > 0), 0 (a masked zero) or -1 (otherwise, also an unmasked 0).
    static int64_t csim_weight(uint64_t c) { return c & 1 ? 1 : -1; }
    static int64_t csim_input(int64_t x) { return x > 0 ? 1 : (MASKED && x == 0 ? 0 : -1); }
#endif
};

template <bool MASKED>
struct cxnor {
    static const int CODE_BITS = 1;

    // xy holds the SIMD real parts x, then the SIMD imaginary parts y (window.h, complex order).
    template <class ACC, class X, int SIMD2>
    static NBQ_INLINE void dot(const ap_uint<1> a[SIMD2 / 2], const ap_uint<1> b[SIMD2 / 2], const vec<X, SIMD2>& xy,
                               ACC& re, ACC& im) {
#pragma HLS INLINE
        const int SIMD = SIMD2 / 2;
        typedef bipolar_dot<MASKED, SIMD> d;
        const typename d::dot_t ax = d::template of<0>(a, xy), by = d::template of<SIMD>(b, xy);
        const typename d::dot_t bx = d::template of<0>(b, xy), ay = d::template of<SIMD>(a, xy);
        re = ACC(ax - by);
        im = ACC(bx + ay);
    }
#ifndef __SYNTHESIS__
    // C-simulation fast path (csim_fast.h): bipolar_dot is the sum over lanes of weight * input with
    // weight +-1 and input +1 (x > 0), 0 (a masked zero) or -1 (otherwise, also an unmasked 0).
    static int64_t csim_weight(uint64_t c) { return c & 1 ? 1 : -1; }
    static int64_t csim_input(int64_t x) { return x > 0 ? 1 : (MASKED && x == 0 ? 0 : -1); }
#endif
};

}  // namespace nbq

#endif
