// Reduction trees shared by the engines: a balanced adder tree, a popcount and the
// product-engine row (row_dot).
//
// Both are explicit balanced binary trees, so the synthesized depth is ceil(log2 N) adders
// whatever the tool's expression balancing does.  Every tree node is a local variable holding
// one sum, bound to fabric (LUT + carry chain) by BIND_OP: UG1399 binds the operation whose
// result is assigned to the named variable, so the pragma names the node, never an array or
// a pointer.  The engines built on them use no DSP slice.
#ifndef NBQ_ARITH_H
#define NBQ_ARITH_H

#include "common.h"
#include "vec.h"

namespace nbq {

// Sum of v[LO] .. v[LO + N - 1] in T (modular: see common.h): the two halves' sums, added in
// one node.  Unrolled by the template recursion: N - 1 adders, ceil(log2 N) deep.
template <class T, int LO, int N>
struct adder_tree_node {
    static NBQ_INLINE T sum(const T v[]) {
#pragma HLS INLINE
        const T left = adder_tree_node<T, LO, N / 2>::sum(v);
        const T right = adder_tree_node<T, LO + N / 2, N - N / 2>::sum(v);
        const T node = left + right;
#pragma HLS BIND_OP variable = node op = add impl = fabric
        return node;
    }
};
template <class T, int LO>
struct adder_tree_node<T, LO, 1> {
    static NBQ_INLINE T sum(const T v[]) {
#pragma HLS INLINE
        return v[LO];
    }
};

template <class T, int N>
struct adder_tree {
    static NBQ_INLINE T sum(const T v[N]) {
#pragma HLS INLINE
        return adder_tree_node<T, 0, N>::sum(v);
    }
};

// Number of true values among N flags, as an unsigned count of count_bits<N>
// bits: the same balanced tree over the flags.
template <int N>
struct popcount {
    typedef ap_uint<count_bits<N>::value> count_t;

    static NBQ_INLINE count_t of(const bool bits[N]) {
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
NBQ_INLINE ACC row_dot(const ap_uint<ENGINE::CODE_BITS> codes[SIMD], const vec<X, SIMD>& x) {
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
