// VPE: the multiplier baseline (the n-BQ-NN paper's "VPE"), kept to reproduce
// the SVPE-vs-VPE comparison honestly.
//
// The same SIMD row as svpe.h, but every weight is stored as a WB-bit two's
// complement integer and multiplied: one multiplier per lane, bound to a DSP
// slice.  Power-of-two layers compiled with `--engine vpe` store their integer
// weights +-2^k as 16-bit integers (wider only when a 6-bit code needs more);
// integer-weight layers always use this engine at their own width.
#ifndef NBQ_VPE_H
#define NBQ_VPE_H

#include "arith.h"
#include "common.h"
#include "vec.h"

namespace nbq {

template <int WB>
struct vpe {
    static const int CODE_BITS = WB;

    template <class ACC, class X>
    static NBQ_INLINE ACC term(ap_uint<WB> code, const X& x) {
#pragma HLS INLINE
        const ap_int<WB> w = code;  // reinterpret the code as two's complement
        const ACC p = w * x;
#pragma HLS BIND_OP variable = p op = mul impl = dsp
        return p;
    }

    template <class ACC, class X, int SIMD>
    static NBQ_INLINE ACC dot(const ap_uint<WB> codes[SIMD], const vec<X, SIMD>& x) {
#pragma HLS INLINE
        return row_dot<vpe<WB>, ACC, X, SIMD>(codes, x);
    }
#ifndef __SYNTHESIS__
    // C-simulation fast path (csim_fast.h): the code as a WB-bit two's complement integer.
    static int64_t csim_weight(uint64_t c) { return ap_int<WB>(ap_uint<WB>(c)).to_int64(); }
    static int64_t csim_input(int64_t x) { return x; }
#endif
};

}  // namespace nbq

#endif
