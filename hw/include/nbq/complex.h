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
// CFG (complex_mvau): in_t, out_t, acc_t, bias_t (standard integer: constant
//      table), engine (cxnor<masked>); PE, SIMD, NF, SF, PIXELS, WORDS, N_WORDS,
//      OUT_C (= 2 * NF * PE; bias: real parts, then imaginary).
#ifndef NBQ_COMPLEX_H
#define NBQ_COMPLEX_H

#include "common.h"
#include "vec.h"
#include "weights.h"

namespace nbq {

template <class CFG>
void complex_mvau(hls::stream<vec<typename CFG::in_t, 2 * CFG::SIMD> >& in,
                  hls::stream<vec<typename CFG::out_t, 2 * CFG::PE> >& out, const uint64_t weights[CFG::N_WORDS],
                  const typename CFG::bias_t bias[CFG::OUT_C]) {
    typedef typename CFG::acc_t acc_t;
    typedef typename CFG::engine engine;
    typedef vec<typename CFG::in_t, 2 * CFG::SIMD> in_word;
    typedef vec<typename CFG::out_t, 2 * CFG::PE> out_word;
    const int LANES = CFG::PE * CFG::SIMD;
    const int FOLD_WORDS = CFG::WORDS;
#pragma HLS ARRAY_RESHAPE variable = weights cyclic factor = FOLD_WORDS
    (void)FOLD_WORDS;  // read by the pragma only
    static_assert(CFG::OUT_C == 2 * CFG::NF * CFG::PE, "complex outputs: real and imaginary parts");
    static_assert(CFG::N_WORDS == CFG::NF * CFG::SF * CFG::WORDS, "weight memory size");

    static in_word buffer[CFG::SF];
    acc_t re[CFG::PE], im[CFG::PE];
#pragma HLS ARRAY_PARTITION variable = re complete
#pragma HLS ARRAY_PARTITION variable = im complete

    for (int p = 0; p < CFG::PIXELS; p++) {
        for (int nf = 0; nf < CFG::NF; nf++) {
            for (int sf = 0; sf < CFG::SF; sf++) {
#pragma HLS PIPELINE II = 1
                in_word xy;
                if (nf == 0) {
                    xy = in.read();
                    buffer[sf] = xy;
                } else {
                    xy = buffer[sf];
                }
                ap_uint<1> codes[2 * LANES];  // A bits, then B bits
#pragma HLS ARRAY_PARTITION variable = codes complete
                packed_codes<1>::template fold<2 * LANES>(weights + (nf * CFG::SF + sf) * CFG::WORDS, codes);
                for (int pe = 0; pe < CFG::PE; pe++) {
#pragma HLS UNROLL
                    acc_t dre, dim;
                    engine::template dot<acc_t>(codes + pe * CFG::SIMD, codes + LANES + pe * CFG::SIMD, xy, dre, dim);
                    const int o = nf * CFG::PE + pe;
                    const acc_t re0 = sf == 0 ? acc_t(bias[o]) : re[pe];
                    const acc_t im0 = sf == 0 ? acc_t(bias[CFG::NF * CFG::PE + o]) : im[pe];
                    re[pe] = re0 + dre;
                    im[pe] = im0 + dim;
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
            }
        }
    }
}

// Per pixel: NF words of (PE real, PE imaginary) parts in -> the NF real-part words, then the NF
// imaginary-part words (channels-last order of a complex map: real parts first).
template <class T, int PE, int NF, int PIXELS>
void complex_split(hls::stream<vec<T, 2 * PE> >& in, hls::stream<vec<T, PE> >& out) {
    vec<T, PE> imag[NF];
    for (int p = 0; p < PIXELS; p++) {
        for (int t = 0; t < 2 * NF; t++) {
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
        }
    }
}

}  // namespace nbq

#endif
