// Pooling on the streaming line buffer of window.h, IN_BEAT channels in parallel.
//
// maxpool2d / sumpool2d: for every output pixel, C / IN_BEAT output words,
// each reducing the KH x KW taps of IN_BEAT channels in one cycle (max, or an
// adder tree).  Max pooling pads with PAD_VALUE, the input's lower bound, so
// the max over the padded window equals ONNX's; sum pooling (average pooling
// with the divisor moved into the scale) pads with 0.  Words keep their width.
//
// global_sumpool: a kernel covering the whole map (GlobalAveragePool) needs no
// line buffer, just C accumulators: the last pixel's words are written as they
// are summed.
//
// The 2-D pools run on window.h's grid_unit line buffer (every tap of a word in one cycle), so
// they take its memory kind (CFG::STORAGE) too.  Each call is one pipelined loop over `images`.
//
// CFG (2-D): the window geometry of window.h (EMIT = C / IN_BEAT), out_t, and
//   acc_t for sum pooling.  CFG (global): in_t, out_t, acc_t, C, PIXELS, IN_BEAT.
#ifndef NBQ_POOL_H
#define NBQ_POOL_H

#include "arith.h"
#include "common.h"
#include "vec.h"
#include "window.h"

namespace nbq {

// Emitters for grid_unit (window.h): the line buffer's lanes are the IN_BEAT channels of a word
// (CHB = IN_BEAT) and window word b reads channel block b, so output lane l reduces taps[.][.][l].
template <class CFG>
struct max_words {
    typedef typename CFG::in_t T;
    typedef hls::stream<vec<typename CFG::out_t, CFG::IN_BEAT> > stream_t;
    static const int CHB = CFG::IN_BEAT;

    static NBQ_INLINE int block(int b) {
#pragma HLS INLINE
        return b;
    }
    static NBQ_INLINE void word(stream_t& out, const T taps[CFG::KH][CFG::KW][CFG::IN_BEAT], int) {
#pragma HLS INLINE
        const long long pad = CFG::PAD_VALUE;
        vec<typename CFG::out_t, CFG::IN_BEAT> word;
        for (int l = 0; l < CFG::IN_BEAT; l++) {
#pragma HLS UNROLL
            T m = T(pad);  // <= every value, so starting here is the max over the padded window
            for (int kh = 0; kh < CFG::KH; kh++) {
#pragma HLS UNROLL
                for (int kw = 0; kw < CFG::KW; kw++) {
#pragma HLS UNROLL
                    const T v = taps[kh][kw][l];
                    if (v > m) m = v;
                }
            }
            word[l] = typename CFG::out_t(m);
        }
        out.write(word);
    }
};

template <class CFG>
struct sum_words {
    typedef typename CFG::in_t T;
    typedef typename CFG::acc_t acc_t;
    typedef hls::stream<vec<typename CFG::out_t, CFG::IN_BEAT> > stream_t;
    static const int CHB = CFG::IN_BEAT;

    static NBQ_INLINE int block(int b) {
#pragma HLS INLINE
        return b;
    }
    static NBQ_INLINE void word(stream_t& out, const T taps[CFG::KH][CFG::KW][CFG::IN_BEAT], int) {
#pragma HLS INLINE
        vec<typename CFG::out_t, CFG::IN_BEAT> word;
        for (int l = 0; l < CFG::IN_BEAT; l++) {
#pragma HLS UNROLL
            acc_t terms[CFG::KH * CFG::KW];
#pragma HLS ARRAY_PARTITION variable = terms complete
            for (int t = 0; t < CFG::KH * CFG::KW; t++) {
#pragma HLS UNROLL
                terms[t] = acc_t(taps[t / CFG::KW][t % CFG::KW][l]);
            }
            word[l] = typename CFG::out_t(adder_tree<acc_t, CFG::KH * CFG::KW>::sum(terms));
        }
        out.write(word);
    }
};

template <class CFG>
void maxpool2d(hls::stream<vec<typename CFG::in_t, CFG::IN_BEAT> >& in,
               hls::stream<vec<typename CFG::out_t, CFG::IN_BEAT> >& out, int images) {
#pragma HLS INLINE
    static_assert(CFG::EMIT == CFG::C / CFG::IN_BEAT, "one output word per input word of a pixel");
    window_process<grid_unit<CFG, max_words<CFG> >, storage_of<CFG>::value>::run(in, out, images);
}

template <class CFG>
void sumpool2d(hls::stream<vec<typename CFG::in_t, CFG::IN_BEAT> >& in,
               hls::stream<vec<typename CFG::out_t, CFG::IN_BEAT> >& out, int images) {
#pragma HLS INLINE
    static_assert(CFG::EMIT == CFG::C / CFG::IN_BEAT, "one output word per input word of a pixel");
    window_process<grid_unit<CFG, sum_words<CFG> >, storage_of<CFG>::value>::run(in, out, images);
}

template <class CFG>
void global_sumpool(hls::stream<vec<typename CFG::in_t, CFG::IN_BEAT> >& in,
                    hls::stream<vec<typename CFG::out_t, CFG::IN_BEAT> >& out, int images) {
    typedef typename CFG::acc_t acc_t;
    const int WORDS = CFG::C / CFG::IN_BEAT;
    static_assert(CFG::C % CFG::IN_BEAT == 0, "an input word never crosses a pixel");
    static acc_t acc[WORDS][CFG::IN_BEAT];
#pragma HLS ARRAY_PARTITION variable = acc complete dim = 2
    int j = 0, p = 0;  // word within the pixel, pixel
    const int total = images * CFG::PIXELS * WORDS;
    for (int i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        const vec<typename CFG::in_t, CFG::IN_BEAT> x = in.read();
        vec<typename CFG::out_t, CFG::IN_BEAT> y;
        for (int l = 0; l < CFG::IN_BEAT; l++) {
#pragma HLS UNROLL
            const acc_t sum = (p == 0 ? acc_t(0) : acc[j][l]) + acc_t(x[l]);
#pragma HLS BIND_OP variable = sum op = add impl = fabric
            acc[j][l] = sum;
            y[l] = typename CFG::out_t(sum);
        }
        if (p == CFG::PIXELS - 1) out.write(y);
        if (j == WORDS - 1) {
            j = 0;
            p = p == CFG::PIXELS - 1 ? 0 : p + 1;
        } else {
            j++;
        }
    }
}

}  // namespace nbq

#endif
