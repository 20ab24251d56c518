// Weight memories: packed codes in uint64_t words.
//
// Codes are packed 64 / BITS to a word, first code in the low bits, and no
// code straddles two words (nbq/formats.py pack_codes).  An engine's weights
// are stored fold by fold: fold f = nf * SF + sf holds the PE x SIMD codes the
// array uses in that cycle (code pe * SIMD + s; the complex engine stores the
// A codes, then the B codes), padded to WORDS whole words.  With the array
// reshaped by WORDS (ARRAY_RESHAPE cyclic in mvau.h) one fold is one ROM word,
// read in one cycle.
#ifndef NBQ_WEIGHTS_H
#define NBQ_WEIGHTS_H

#include "common.h"

namespace nbq {

template <int BITS>
struct packed_codes {
    static const int PER_WORD = 64 / BITS;

    // The idx-th code of a packed array.
    static NBQ_INLINE ap_uint<BITS> at(const uint64_t* words, int idx) {
#pragma HLS INLINE
        const uint64_t word = words[idx / PER_WORD];
        const int shift = (idx % PER_WORD) * BITS;
        return ap_uint<BITS>(word >> shift);
    }

    // All N codes of one fold (N = PE * SIMD, or 2 * PE * SIMD for the complex engine).
    template <int N>
    static NBQ_INLINE void fold(const uint64_t* words, ap_uint<BITS> codes[N]) {
#pragma HLS INLINE
        for (int i = 0; i < N; i++) {
#pragma HLS UNROLL
            codes[i] = at(words, i);
        }
    }
};

}  // namespace nbq

#endif
