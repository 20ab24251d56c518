// C-simulation fast path of the MVAU engines (g++ only: nothing here is seen by synthesis).
//
// The engines' arithmetic is modular in the accumulator type (common.h): every product, shift,
// negation and sum is taken mod 2^W with W = acc_t's width.  For W <= 64 the same value mod 2^W
// comes out of native 64-bit arithmetic that wraps mod 2^64 (uint64_t: no signed overflow) and
// one conversion to acc_t at the end, since reduction mod 2^W commutes with + - * when 2^W
// divides 2^64.  So with integer weights decoded once per table (ENGINE::csim_weight) and each
// input word converted once (ENGINE::csim_input), a PE row is a native dot product; the values
// written are identical to the ap_int path's.  Compile with -DNBQ_CSIM_APINT to use the
// ap_int path (what synthesis sees) in C-simulation too.
#ifndef NBQ_CSIM_FAST_H
#define NBQ_CSIM_FAST_H

#include <vector>

#include "common.h"

namespace nbq {

#if !defined(__SYNTHESIS__) && !defined(NBQ_CSIM_APINT)
#define NBQ_CSIM_FAST 1

// Whether the fast path is exact for acc_t ACC and input values X (both ap_[u]int of <= 64 bits).
template <class ACC, class X>
struct csim_fast_ok {
    static const bool value = ACC::width <= 64 && X::width <= 64;
};

// A weight table decoded to integer weights: w[(f * ROWS + r) * PER + p] for code (r, p) of ROM row f.
// Decoded on first use and kept (the table is a static const of the calling process, so its address
// identifies it for the whole run).
template <class ENGINE, class ROW, int DEPTH, int ROWS, int PER>
struct csim_weights {
    template <class CHUNK, int CHUNKS>
    static const int64_t* of(const CHUNK table[DEPTH][CHUNKS]) {
        static std::vector<int64_t> w;
        static const void* from = 0;
        if (from != static_cast<const void*>(table)) {
            w.assign(size_t(DEPTH) * ROWS * PER, 0);
            for (int f = 0; f < DEPTH; f++) {
                ap_uint<ENGINE::CODE_BITS> codes[ROWS][PER];
                ROW::codes(table[f], codes);
                for (int r = 0; r < ROWS; r++)
                    for (int p = 0; p < PER; p++)
                        w[(size_t(f) * ROWS + r) * PER + p] = ENGINE::csim_weight(codes[r][p].to_uint64());
            }
            from = table;
        }
        return w.data();
    }
};

// sum_s w[s] * x[s] mod 2^64.
template <int N>
static inline uint64_t csim_dot(const int64_t* w, const int64_t* x) {
    uint64_t sum = 0;
    for (int s = 0; s < N; s++) sum += uint64_t(w[s]) * uint64_t(x[s]);
    return sum;
}
#endif

}  // namespace nbq

#endif
