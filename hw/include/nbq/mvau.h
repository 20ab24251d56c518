// MVAU: the folded matrix-vector unit behind every Conv and Dense layer.
//
// A PE x SIMD array of one engine (CFG::engine: svpe<n>, vpe<w> or xnor<m>)
// computes PE output channels at once from SIMD inputs per cycle.  Per output
// pixel (a Dense layer has one) the input vector of K values arrives as SF
// SIMD-wide words (a window from window.h in (tap, channel) order, or a dense
// input in stream order) and the unit runs NF x SF cycles: neuron fold nf
// accumulates channels nf*PE .. nf*PE+PE-1 over the SF words and writes them
// as one PE-wide word.  Input words are read during the first fold of their
// group and replayed from a small buffer for the others (grouped convs: the
// window holds GROUPS x SF words, fold nf uses group nf / NF_GROUP).
//
// Each PE row adds its SIMD-lane dot product to an accumulator started at the
// bias; the accumulator has the width of the layer's proven output range
// (CFG::acc_t, modular - see common.h), so the sum is exact and never wider
// than the range the compiler proved.
//
// CFG: in_t, out_t, acc_t, bias_t (a standard integer type: the bias table is
//      constant data), engine; PE, SIMD, NF, SF, PIXELS,
//      NF_GROUP (neuron folds per group), WORDS (uint64 words per fold),
//      N_WORDS (= NF * SF * WORDS), OUT_C (= NF * PE).
#ifndef NBQ_MVAU_H
#define NBQ_MVAU_H

#include "common.h"
#include "vec.h"
#include "weights.h"

namespace nbq {

template <class CFG>
void mvau(hls::stream<vec<typename CFG::in_t, CFG::SIMD> >& in, hls::stream<vec<typename CFG::out_t, CFG::PE> >& out,
          const uint64_t weights[CFG::N_WORDS], const typename CFG::bias_t bias[CFG::OUT_C]) {
    typedef typename CFG::in_t in_t;
    typedef typename CFG::acc_t acc_t;
    typedef typename CFG::engine engine;
    typedef vec<in_t, CFG::SIMD> in_word;
    const int BITS = engine::CODE_BITS;
    const int FOLD_WORDS = CFG::WORDS;
    const int PE = CFG::PE;
#pragma HLS ARRAY_RESHAPE variable = weights cyclic factor = FOLD_WORDS
#pragma HLS ARRAY_PARTITION variable = bias cyclic factor = PE
    (void)FOLD_WORDS;  // read by the pragmas only
    (void)PE;
    static_assert(CFG::NF % CFG::NF_GROUP == 0, "neuron folds must split evenly into groups");
    static_assert(CFG::N_WORDS == CFG::NF * CFG::SF * CFG::WORDS, "weight memory size");

    static in_word buffer[CFG::SF];  // the current group's input words, replayed for its other folds
    acc_t acc[CFG::PE];
#pragma HLS ARRAY_PARTITION variable = acc complete

    for (int p = 0; p < CFG::PIXELS; p++) {
        int group_fold = 0;  // nf within its group: 0 = read the group's words from the stream
        for (int nf = 0; nf < CFG::NF; nf++) {
            for (int sf = 0; sf < CFG::SF; sf++) {
#pragma HLS PIPELINE II = 1
                in_word x;
                if (group_fold == 0) {
                    x = in.read();
                    buffer[sf] = x;
                } else {
                    x = buffer[sf];
                }
                ap_uint<BITS> codes[CFG::PE * CFG::SIMD];
#pragma HLS ARRAY_PARTITION variable = codes complete
                packed_codes<BITS>::template fold<CFG::PE * CFG::SIMD>(weights + (nf * CFG::SF + sf) * CFG::WORDS,
                                                                        codes);
                for (int pe = 0; pe < CFG::PE; pe++) {
#pragma HLS UNROLL
                    const acc_t dot = engine::template dot<acc_t>(codes + pe * CFG::SIMD, x);
                    const acc_t start = sf == 0 ? acc_t(bias[nf * CFG::PE + pe]) : acc[pe];
                    acc[pe] = start + dot;
                }
                if (sf == CFG::SF - 1) {
                    vec<typename CFG::out_t, CFG::PE> y;
                    for (int pe = 0; pe < CFG::PE; pe++) {
#pragma HLS UNROLL
                        y[pe] = typename CFG::out_t(acc[pe]);
                    }
                    out.write(y);
                }
            }
            if (++group_fold == CFG::NF_GROUP) group_fold = 0;
        }
    }
}

}  // namespace nbq

#endif
