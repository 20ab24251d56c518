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
// Schedule: one loop of images x PIXELS x NF x SF cycles under PIPELINE II=1, the fold
// counters advanced at the end of its body (an SF = 1 layer runs back to back, with no
// fill / drain per fold or pixel).
//
// Tables (defined static const by the generated per-layer wrapper, with their pragmas):
//   weights[ROM_DEPTH][ROM_CHUNKS]  row f = nf * SF + sf (weights.h), read as weights[f]
//   bias[NF][PE]                    row nf, read as bias[nf]
//
// CFG: in_t, out_t, acc_t, bias_t (a standard integer type: the bias table is
//      constant data), engine; PE, SIMD, NF, SF, PIXELS,
//      NF_GROUP (neuron folds per group), ROM_DEPTH (= NF * SF), ROM_CHUNKS,
//      ROM_CHUNK_BITS.
#ifndef NBQ_MVAU_H
#define NBQ_MVAU_H

#include "common.h"
#include "csim_fast.h"
#include "vec.h"
#include "weights.h"

namespace nbq {

#ifdef NBQ_CSIM_FAST
// mvau's schedule with native 64-bit arithmetic (csim_fast.h): the same words in the same order.
template <class CFG>
void mvau_csim(hls::stream<vec<typename CFG::in_t, CFG::SIMD> >& in,
               hls::stream<vec<typename CFG::out_t, CFG::PE> >& out,
               const typename rom_chunk<CFG::ROM_CHUNK_BITS>::type weights[CFG::ROM_DEPTH][CFG::ROM_CHUNKS],
               const typename CFG::bias_t bias[CFG::NF][CFG::PE], int images) {
    typedef typename CFG::engine engine;
    typedef rom_row<engine::CODE_BITS, CFG::PE, CFG::SIMD, CFG::ROM_CHUNKS, CFG::ROM_CHUNK_BITS> row_t;
    const int64_t* w =
        csim_weights<engine, row_t, CFG::ROM_DEPTH, CFG::PE, CFG::SIMD>::of(weights);
    static int64_t buffer[CFG::SF][CFG::SIMD];  // the current group's input words, converted once
    uint64_t acc[CFG::PE];
    int f = 0, sf = 0, nf = 0, group_fold = 0;
    const int total = images * CFG::PIXELS * CFG::NF * CFG::SF;
    for (int i = 0; i < total; i++) {
        if (group_fold == 0) {
            const vec<typename CFG::in_t, CFG::SIMD> x = in.read();
            for (int s = 0; s < CFG::SIMD; s++) buffer[sf][s] = engine::csim_input(x[s].to_int64());
        }
        const int64_t* row = w + size_t(f) * CFG::PE * CFG::SIMD;
        for (int pe = 0; pe < CFG::PE; pe++) {
            const uint64_t start = sf == 0 ? uint64_t(int64_t(bias[nf][pe])) : acc[pe];
            acc[pe] = start + csim_dot<CFG::SIMD>(row + pe * CFG::SIMD, buffer[sf]);
        }
        if (sf == CFG::SF - 1) {
            vec<typename CFG::out_t, CFG::PE> y;
            for (int pe = 0; pe < CFG::PE; pe++)
                y[pe] = typename CFG::out_t(typename CFG::acc_t(int64_t(acc[pe])));  // acc_t: mod 2^W
            out.write(y);
        }
        f = f == CFG::NF * CFG::SF - 1 ? 0 : f + 1;
        if (sf == CFG::SF - 1) {
            sf = 0;
            nf = nf == CFG::NF - 1 ? 0 : nf + 1;
            group_fold = group_fold == CFG::NF_GROUP - 1 ? 0 : group_fold + 1;
        } else {
            sf++;
        }
    }
}
#endif

template <class CFG>
void mvau(hls::stream<vec<typename CFG::in_t, CFG::SIMD> >& in, hls::stream<vec<typename CFG::out_t, CFG::PE> >& out,
          const typename rom_chunk<CFG::ROM_CHUNK_BITS>::type weights[CFG::ROM_DEPTH][CFG::ROM_CHUNKS],
          const typename CFG::bias_t bias[CFG::NF][CFG::PE], int images) {
    // Called by the generated run_* wrapper that defines the tables (weights header): inlined, the
    // wrapper is the process and the tables are locals of the function that uses them.
#pragma HLS INLINE
#ifdef NBQ_CSIM_FAST
    if (csim_fast_ok<typename CFG::acc_t, typename CFG::in_t>::value) {
        mvau_csim<CFG>(in, out, weights, bias, images);
        return;
    }
#endif
    typedef typename CFG::in_t in_t;
    typedef typename CFG::acc_t acc_t;
    typedef typename CFG::engine engine;
    typedef vec<in_t, CFG::SIMD> in_word;
    typedef rom_row<engine::CODE_BITS, CFG::PE, CFG::SIMD, CFG::ROM_CHUNKS, CFG::ROM_CHUNK_BITS> row_t;
    static_assert(CFG::NF % CFG::NF_GROUP == 0, "neuron folds must split evenly into groups");
    static_assert(CFG::ROM_DEPTH == CFG::NF * CFG::SF, "one ROM row per fold");
    const int FOLDS = CFG::NF * CFG::SF;
    const int CYCLES = CFG::PIXELS * FOLDS;

    static in_word buffer[CFG::SF];  // the current group's input words, replayed for its other folds
    acc_t acc[CFG::PE];
#pragma HLS ARRAY_PARTITION variable = acc complete
    int f = 0;           // fold = ROM row, nf * SF + sf
    int sf = 0, nf = 0;  // synapse and neuron fold
    int group_fold = 0;  // nf within its group: 0 = read the group's words from the stream
    const int total = images * CYCLES;
    for (int i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        in_word x;
        if (group_fold == 0) {
            x = in.read();
            buffer[sf] = x;
        } else {
            x = buffer[sf];
        }
        ap_uint<engine::CODE_BITS> codes[CFG::PE][CFG::SIMD];
#pragma HLS ARRAY_PARTITION variable = codes complete dim = 0
        row_t::codes(weights[f], codes);
        for (int pe = 0; pe < CFG::PE; pe++) {
#pragma HLS UNROLL
            const acc_t dot = engine::template dot<acc_t>(codes[pe], x);
            const acc_t start = sf == 0 ? acc_t(bias[nf][pe]) : acc[pe];
            const acc_t sum = start + dot;
#pragma HLS BIND_OP variable = sum op = add impl = fabric
            acc[pe] = sum;
        }
        if (sf == CFG::SF - 1) {
            vec<typename CFG::out_t, CFG::PE> y;
            for (int pe = 0; pe < CFG::PE; pe++) {
#pragma HLS UNROLL
                y[pe] = typename CFG::out_t(acc[pe]);
            }
            out.write(y);
        }
        // advance the fold counters (a pixel ends with the last fold: every counter wraps to 0)
        f = f == FOLDS - 1 ? 0 : f + 1;
        if (sf == CFG::SF - 1) {
            sf = 0;
            nf = nf == CFG::NF - 1 ? 0 : nf + 1;
            group_fold = group_fold == CFG::NF_GROUP - 1 ? 0 : group_fold + 1;
        } else {
            sf++;
        }
    }
}

}  // namespace nbq

#endif
