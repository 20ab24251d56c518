// Reduction trees shared by the engines: a balanced adder tree, a popcount and the
// product-engine row (row_dot).
//
// Both are written as explicit balanced binary trees, so the synthesized depth
// is ceil(log2 N) adders whatever the tool's expression balancing does.  Adders are bound to fabric (LUT + carry chain): the
// engines built on them must not use DSP slices.
#ifndef NBQ_ARITH_H
#define NBQ_ARITH_H

#include "common.h"
#include "vec.h"

namespace nbq {

// Sum of N values of type T, in T (modular: see common.h), reduced in place
// pairwise: level `stride` adds v[i + stride] into v[i], so the unrolled loops
// are a balanced tree of N - 1 adders, ceil(log2 N) deep.  v is overwritten.
template <class T, int N>
struct adder_tree {
    static NBQ_INLINE T sum(T* v) {
#pragma HLS INLINE
#pragma HLS BIND_OP variable = v op = add impl = fabric
        for (int stride = 1; stride < N; stride *= 2) {
#pragma HLS UNROLL
            for (int i = 0; i + stride < N; i += 2 * stride) {
#pragma HLS UNROLL
                v[i] += v[i + stride];
            }
        }
        return v[0];
    }
};

// Number of true values among N flags, as an unsigned count of count_bits<N>
// bits: the same balanced tree over the flags.
template <int N>
struct popcount {
    typedef ap_uint<count_bits<N>::value> count_t;

    static NBQ_INLINE count_t of(const bool* bits) {
#pragma HLS INLINE
        count_t counts[N];
#pragma HLS ARRAY_PARTITION variable = counts complete
        for (int i = 0; i < N; i++) {
#pragma HLS UNROLL
            counts[i] = bits[i] ? 1 : 0;
        }
        return adder_tree<count_t, N>::sum(counts);
    }
};

// One PE row of a product engine: sum_s ENGINE::term(codes[s], x[s]) through the
// adder tree.  SVPE and VPE differ only in `term` (shift-negate vs multiply).
template <class ENGINE, class ACC, class X, int SIMD>
NBQ_INLINE ACC row_dot(const ap_uint<ENGINE::CODE_BITS>* codes, const vec<X, SIMD>& x) {
#pragma HLS INLINE
    ACC terms[SIMD];
#pragma HLS ARRAY_PARTITION variable = terms complete
    for (int s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
        terms[s] = ENGINE::template term<ACC>(codes[s], x[s]);
    }
    return adder_tree<ACC, SIMD>::sum(terms);
}

}  // namespace nbq

#endif
