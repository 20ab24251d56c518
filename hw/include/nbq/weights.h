// Unpacking weight codes: 64 / BITS codes per uint64_t word, first code in the
// low bits, no code straddles two words (see nbq/formats.py pack_codes).
#ifndef NBQ_WEIGHTS_H
#define NBQ_WEIGHTS_H

#include "common.h"

namespace nbq {

template <int BITS>
struct packed_codes {
    static const int PER_WORD = 64 / BITS;

    // The idx-th code of a packed array.
    static ap_uint<BITS> at(const uint64_t* words, int idx) {
#pragma HLS INLINE
        const uint64_t word = words[idx / PER_WORD];
        const int shift = (idx % PER_WORD) * BITS;
        return ap_uint<BITS>(word >> shift);
    }
};

}  // namespace nbq

#endif
