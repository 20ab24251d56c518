// Pooling on the streaming line buffer of window.h, IN_BEAT channels in parallel.
//
// maxpool2d / sumpool2d: for every output pixel, C / IN_BEAT output words,
// each reducing the KH x KW taps of IN_BEAT channels in one cycle (max, or an
// adder tree).  Max pooling pads with PAD_VALUE, the input's lower bound, so
// the max over the padded window equals ONNX's; sum pooling (average pooling
// with 1/k^2 moved into the scale) has no padding.  Words keep their width.
//
// global_sumpool: a kernel covering the whole map (GlobalAveragePool) needs no
// line buffer, just C accumulators: the last pixel's words are written as they
// are summed.
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

// Emitters for window_schedule: output word b of a window = IN_BEAT channels, each reduced over the taps.
template <class CFG>
struct max_words {
    typedef typename CFG::in_t T;
    typedef hls::stream<vec<typename CFG::out_t, CFG::IN_BEAT> > stream_t;

    static NBQ_INLINE void word(stream_t& out, T rows[CFG::ROWS][CFG::W][CFG::C], int top, int left, int b) {
#pragma HLS INLINE
        const long long pad = CFG::PAD_VALUE;
        vec<typename CFG::out_t, CFG::IN_BEAT> word;
        for (int l = 0; l < CFG::IN_BEAT; l++) {
#pragma HLS UNROLL
            T m = T(pad);  // <= every value, so starting here is the max over the padded window
            for (int kh = 0; kh < CFG::KH; kh++) {
                for (int kw = 0; kw < CFG::KW; kw++) {
                    const T v = window_value<CFG>(rows, top, left, kh, kw, b * CFG::IN_BEAT + l);
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

    static NBQ_INLINE void word(stream_t& out, T rows[CFG::ROWS][CFG::W][CFG::C], int top, int left, int b) {
#pragma HLS INLINE
        vec<typename CFG::out_t, CFG::IN_BEAT> word;
        for (int l = 0; l < CFG::IN_BEAT; l++) {
#pragma HLS UNROLL
            acc_t taps[CFG::KH * CFG::KW];
#pragma HLS ARRAY_PARTITION variable = taps complete
            for (int t = 0; t < CFG::KH * CFG::KW; t++) {
                taps[t] = acc_t(window_value<CFG>(rows, top, left, t / CFG::KW, t % CFG::KW, b * CFG::IN_BEAT + l));
            }
            word[l] = typename CFG::out_t(adder_tree<acc_t, CFG::KH * CFG::KW>::sum(taps));
        }
        out.write(word);
    }
};

template <class CFG>
void maxpool2d(hls::stream<vec<typename CFG::in_t, CFG::IN_BEAT> >& in,
               hls::stream<vec<typename CFG::out_t, CFG::IN_BEAT> >& out) {
    static_assert(CFG::EMIT == CFG::C / CFG::IN_BEAT, "one output word per input word of a pixel");
    window_schedule<CFG, max_words<CFG> >(in, out);
}

template <class CFG>
void sumpool2d(hls::stream<vec<typename CFG::in_t, CFG::IN_BEAT> >& in,
               hls::stream<vec<typename CFG::out_t, CFG::IN_BEAT> >& out) {
    static_assert(CFG::EMIT == CFG::C / CFG::IN_BEAT, "one output word per input word of a pixel");
    window_schedule<CFG, sum_words<CFG> >(in, out);
}

template <class CFG>
void global_sumpool(hls::stream<vec<typename CFG::in_t, CFG::IN_BEAT> >& in,
                    hls::stream<vec<typename CFG::out_t, CFG::IN_BEAT> >& out) {
    typedef typename CFG::acc_t acc_t;
    const int WORDS = CFG::C / CFG::IN_BEAT;
    static_assert(CFG::C % CFG::IN_BEAT == 0, "an input word never crosses a pixel");
    static acc_t acc[WORDS][CFG::IN_BEAT];
#pragma HLS ARRAY_PARTITION variable = acc complete dim = 2
    for (int p = 0; p < CFG::PIXELS; p++) {
        for (int j = 0; j < WORDS; j++) {
#pragma HLS PIPELINE II = 1
            const vec<typename CFG::in_t, CFG::IN_BEAT> x = in.read();
            vec<typename CFG::out_t, CFG::IN_BEAT> y;
            for (int l = 0; l < CFG::IN_BEAT; l++) {
#pragma HLS UNROLL
                const acc_t sum = (p == 0 ? acc_t(0) : acc[j][l]) + acc_t(x[l]);
                acc[j][l] = sum;
                y[l] = typename CFG::out_t(sum);
            }
            if (p == CFG::PIXELS - 1) out.write(y);
        }
    }
}

}  // namespace nbq

#endif
