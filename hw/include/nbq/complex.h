// Binary complex convolution engine (BCNN; accelerator of Peng et al., ASAP 2021).
//
// A complex feature map with I complex channels travels as a real map of 2I
// channels, real parts first ([x_0 .. x_{I-1}, y_0 .. y_{I-1}]), and a complex
// convolution with weights W = A + iB is the real convolution with block
// weights [[A, -B], [B, A]].  This unit computes it with the four XNOR-popcount
// products of cxnor (xnor.h), A and B stored once (each fold word holds the
// PE x SIMD bits of A, then those of B: half the bits of the real form).
//
// Folding is in complex units: PE complex output channels, SIMD complex
// inputs (window.h in complex order delivers SIMD x values, then the SIMD y
// values of the same taps and channels), NF = O / PE, SF = K / SIMD with
// K = KH * KW * I.  Fold nf yields outputs nf*PE .. +PE-1, real and imaginary
// parts, as one 2*PE-wide word (real parts in lanes 0..PE-1): NF x SF cycles
// per pixel.  complex_split, a process of its own, puts them in stream order -
// the PE-wide words of all real parts, then those of the imaginary parts - in
// 2 x NF cycles per pixel, so it is hidden behind the engine whenever SF >= 2.
//
// Schedule: like mvau.h, one pipelined loop over images x PIXELS x NF x SF (complex_mvau) and
// images x PIXELS x 2NF (complex_split) cycles.
//
// Tables (defined static const by the generated per-layer wrapper, with their pragmas):
//   weights[ROM_DEPTH][ROM_CHUNKS]  row f = nf * SF + sf: the PE x SIMD A bits, then the B bits
//   bias[NF][2 * PE]                row nf: the PE real parts' biases, then the imaginary parts'
//
// CFG (complex_mvau): in_t, out_t, acc_t, bias_t (standard integer: constant
//      table), engine (cxnor<masked>); PE, SIMD, NF, SF, PIXELS, ROM_DEPTH (= NF * SF),
//      ROM_CHUNKS, ROM_CHUNK_BITS.
#ifndef NBQ_COMPLEX_H
#define NBQ_COMPLEX_H

#include "common.h"
#include "csim_fast.h"
#include "vec.h"
#include "weights.h"

namespace nbq {

#ifdef NBQ_CSIM_FAST
// complex_mvau's schedule with native 64-bit arithmetic (csim_fast.h): the same words in the same order.
template <class CFG>
void complex_mvau_csim(hls::stream<vec<typename CFG::in_t, 2 * CFG::SIMD> >& in,
                       hls::stream<vec<typename CFG::out_t, 2 * CFG::PE> >& out,
                       const typename rom_chunk<CFG::ROM_CHUNK_BITS>::type weights[CFG::ROM_DEPTH][CFG::ROM_CHUNKS],
                       const typename CFG::bias_t bias[CFG::NF][2 * CFG::PE], int images) {
    typedef typename CFG::engine engine;
    typedef typename CFG::acc_t acc_t;
    const int PE = CFG::PE, SIMD = CFG::SIMD;
    typedef rom_row<1, 2 * CFG::PE, CFG::SIMD, CFG::ROM_CHUNKS, CFG::ROM_CHUNK_BITS> row_t;
    const int64_t* w = csim_weights<engine, row_t, CFG::ROM_DEPTH, 2 * CFG::PE, CFG::SIMD>::of(weights);
    static int64_t buffer[CFG::SF][2 * CFG::SIMD];  // x inputs, then y inputs, converted once
    uint64_t re[CFG::PE], im[CFG::PE];
    int f = 0, sf = 0, nf = 0;
    const int total = images * CFG::PIXELS * CFG::NF * CFG::SF;
    for (int i = 0; i < total; i++) {
        if (nf == 0) {
            const vec<typename CFG::in_t, 2 * CFG::SIMD> xy = in.read();
            for (int s = 0; s < 2 * SIMD; s++) buffer[sf][s] = engine::csim_input(xy[s].to_int64());
        }
        const int64_t* row = w + size_t(f) * 2 * PE * SIMD;  // PE rows of A, then PE rows of B
        const int64_t *x = buffer[sf], *y = buffer[sf] + SIMD;
        for (int pe = 0; pe < PE; pe++) {
            const int64_t *a = row + pe * SIMD, *b = row + (PE + pe) * SIMD;
            const uint64_t re0 = sf == 0 ? uint64_t(int64_t(bias[nf][pe])) : re[pe];
            const uint64_t im0 = sf == 0 ? uint64_t(int64_t(bias[nf][PE + pe])) : im[pe];
            re[pe] = re0 + csim_dot<CFG::SIMD>(a, x) - csim_dot<CFG::SIMD>(b, y);
            im[pe] = im0 + csim_dot<CFG::SIMD>(b, x) + csim_dot<CFG::SIMD>(a, y);
        }
        if (sf == CFG::SF - 1) {
            vec<typename CFG::out_t, 2 * CFG::PE> out_word;
            for (int pe = 0; pe < PE; pe++) {
                out_word[pe] = typename CFG::out_t(acc_t(int64_t(re[pe])));  // acc_t: mod 2^W
                out_word[PE + pe] = typename CFG::out_t(acc_t(int64_t(im[pe])));
            }
            out.write(out_word);
        }
        f = f == CFG::NF * CFG::SF - 1 ? 0 : f + 1;
        if (sf == CFG::SF - 1) {
            sf = 0;
            nf = nf == CFG::NF - 1 ? 0 : nf + 1;
        } else {
            sf++;
        }
    }
}
#endif

template <class CFG>
void complex_mvau(hls::stream<vec<typename CFG::in_t, 2 * CFG::SIMD> >& in,
                  hls::stream<vec<typename CFG::out_t, 2 * CFG::PE> >& out,
                  const typename rom_chunk<CFG::ROM_CHUNK_BITS>::type weights[CFG::ROM_DEPTH][CFG::ROM_CHUNKS],
                  const typename CFG::bias_t bias[CFG::NF][2 * CFG::PE], int images) {
    // Called by the generated run_* wrapper that defines the tables (weights header): inlined, the
    // wrapper is the process and the tables are locals of the function that uses them.
#pragma HLS INLINE
#ifdef NBQ_CSIM_FAST
    if (csim_fast_ok<typename CFG::acc_t, typename CFG::in_t>::value) {
        complex_mvau_csim<CFG>(in, out, weights, bias, images);
        return;
    }
#endif
    typedef typename CFG::acc_t acc_t;
    typedef typename CFG::engine engine;
    typedef vec<typename CFG::in_t, 2 * CFG::SIMD> in_word;
    typedef vec<typename CFG::out_t, 2 * CFG::PE> out_word;
    typedef rom_row<1, 2 * CFG::PE, CFG::SIMD, CFG::ROM_CHUNKS, CFG::ROM_CHUNK_BITS> row_t;
    static_assert(CFG::ROM_DEPTH == CFG::NF * CFG::SF, "one ROM row per fold");
    const int FOLDS = CFG::NF * CFG::SF;
    const int CYCLES = CFG::PIXELS * FOLDS;

    static in_word buffer[CFG::SF];
    acc_t re[CFG::PE], im[CFG::PE];
#pragma HLS ARRAY_PARTITION variable = re complete
#pragma HLS ARRAY_PARTITION variable = im complete
    int f = 0, sf = 0, nf = 0;
    const int total = images * CYCLES;
    for (int i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        in_word xy;
        if (nf == 0) {
            xy = in.read();
            buffer[sf] = xy;
        } else {
            xy = buffer[sf];
        }
        ap_uint<1> codes[2 * CFG::PE][CFG::SIMD];  // rows 0 .. PE-1: A, rows PE .. 2PE-1: B
#pragma HLS ARRAY_PARTITION variable = codes complete dim = 0
        row_t::codes(weights[f], codes);
        for (int pe = 0; pe < CFG::PE; pe++) {
#pragma HLS UNROLL
            acc_t dre, dim;
            engine::template dot<acc_t>(codes[pe], codes[CFG::PE + pe], xy, dre, dim);
            const acc_t re0 = sf == 0 ? acc_t(bias[nf][pe]) : re[pe];
            const acc_t im0 = sf == 0 ? acc_t(bias[nf][CFG::PE + pe]) : im[pe];
            const acc_t re1 = re0 + dre;
#pragma HLS BIND_OP variable = re1 op = add impl = fabric
            const acc_t im1 = im0 + dim;
#pragma HLS BIND_OP variable = im1 op = add impl = fabric
            re[pe] = re1;
            im[pe] = im1;
        }
        if (sf == CFG::SF - 1) {
            out_word y;
            for (int pe = 0; pe < CFG::PE; pe++) {
#pragma HLS UNROLL
                y[pe] = typename CFG::out_t(re[pe]);
                y[CFG::PE + pe] = typename CFG::out_t(im[pe]);
            }
            out.write(y);
        }
        f = f == FOLDS - 1 ? 0 : f + 1;
        if (sf == CFG::SF - 1) {
            sf = 0;
            nf = nf == CFG::NF - 1 ? 0 : nf + 1;
        } else {
            sf++;
        }
    }
}

// Per pixel: NF words of (PE real, PE imaginary) parts in -> the NF real-part words, then the NF
// imaginary-part words (channels-last order of a complex map: real parts first).
template <class T, int PE, int NF, int PIXELS>
void complex_split(hls::stream<vec<T, 2 * PE> >& in, hls::stream<vec<T, PE> >& out, int images) {
    vec<T, PE> imag[NF];
    int t = 0;  // cycle within the pixel: t < NF passes real parts, the rest replays imaginary ones
    const int total = images * PIXELS * 2 * NF;
    for (int i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        vec<T, PE> y;
        if (t < NF) {
            const vec<T, 2 * PE> both = in.read();
            for (int pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
                y[pe] = both[pe];
                imag[t][pe] = both[PE + pe];
            }
        } else {
            y = imag[t - NF];
        }
        out.write(y);
        t = t == 2 * NF - 1 ? 0 : t + 1;
    }
}

}  // namespace nbq

#endif
