// Sliding windows over a channels-last pixel stream: a streaming line buffer.
//
// window_schedule() walks the zero-padded input once in raster order (PH x PW
// positions) plus one final step.  Step p reads the C / IN_BEAT words of
// position p (none at padding) into the line buffer and hands the window whose
// bottom-right tap is position p-1 - if a window ends there - to an emitter
// (a policy class: EMIT::word(out, buffer, top, left, b) writes word b of it),
// EMIT words of it, one word per cycle, reads and emits side by side:
// max(reads, emits, 1) cycles per step, CFG::BEATS cycles per image (the
// compiler computes it from the same rule).  The one-step delay lets a step
// read and emit at once without the emitted window depending on the word being
// read; the line buffer keeps ROWS >= span + 1 rows for it (a power of two, so
// rows are addressed by masking, no divider).  Padding is never stored: a tap
// outside the image reads PAD_VALUE (0 for convolutions, the input's lower
// bound for max pooling, which is then the max over the padded window).
//
// Memory: the buffer's rows are separate memories, its channels CH_BANKS
// cyclic banks and its columns COL_BANKS banks (the compiler picks them so a
// word is written and a window word read in one cycle: SIMD-aligned channels,
// or every channel and the KW columns of a kernel row when a word spans taps).
// The reads and the write of a step never touch the same entry (see above).
//
// Geometry CFG: in_t; C, H, W (input), KH, KW, SH, SW (strides), DH, DW
// (dilations), PAD_T, PAD_L, PH, PW (padded size), OUT_H, OUT_W, IN_BEAT
// (channels per input word), ROWS, EMIT (words per window), BEATS, CH_BANKS,
// COL_BANKS, PAD_VALUE.
//
// sliding_window() feeds an MVAU (mvau.h / complex.h): each window as EMIT =
// GROUPS x SF words of CHUNK values.  ORDER 0: (group, kh, kw, channel in
// group) order, CHUNK = SIMD, ICG channels per group.  ORDER 1 (complex):
// word sf holds SIMD complex inputs (kh, kw, i) of the window - their real
// parts x_i (channel i), then their imaginary parts y_i (channel ICG + i),
// CHUNK = 2 * SIMD, ICG = complex channels.
#ifndef NBQ_WINDOW_H
#define NBQ_WINDOW_H

#include "common.h"
#include "vec.h"

namespace nbq {

enum { WINDOW_ORDER_MVAU = 0, WINDOW_ORDER_COMPLEX = 1 };

// Tap (kh, kw), channel ch of the window with top-left padded position (top, left).
template <class G>
NBQ_INLINE typename G::in_t window_value(typename G::in_t rows[G::ROWS][G::W][G::C], int top, int left, int kh,
                                         int kw, int ch) {
#pragma HLS INLINE
    const int r = top + kh * G::DH - G::PAD_T;
    const int c = left + kw * G::DW - G::PAD_L;
    const long long pad = G::PAD_VALUE;
    if (r < 0 || r >= G::H || c < 0 || c >= G::W) return typename G::in_t(pad);
    return rows[r & (G::ROWS - 1)][c][ch];
}

template <class G, class EMIT>
void window_schedule(hls::stream<vec<typename G::in_t, G::IN_BEAT> >& in, typename EMIT::stream_t& out) {
    typedef typename G::in_t T;
    static_assert(G::C % G::IN_BEAT == 0, "an input word never crosses a pixel");
    static_assert((G::ROWS & (G::ROWS - 1)) == 0 && G::ROWS > (G::KH - 1) * G::DH + 1, "line buffer rows");
    const int READS = G::C / G::IN_BEAT;
    const int SPAN_H = (G::KH - 1) * G::DH + 1;
    const int SPAN_W = (G::KW - 1) * G::DW + 1;

    const int CH_BANKS = G::CH_BANKS;
    const int COL_BANKS = G::COL_BANKS;
    static T rows[G::ROWS][G::W][G::C];
#pragma HLS ARRAY_PARTITION variable = rows complete dim = 1
#pragma HLS ARRAY_PARTITION variable = rows cyclic factor = COL_BANKS dim = 2
#pragma HLS ARRAY_PARTITION variable = rows cyclic factor = CH_BANKS dim = 3
#pragma HLS DEPENDENCE variable = rows inter false
    (void)CH_BANKS;  // read by the pragmas only
    (void)COL_BANKS;

    int r = 0, c = 0, beat = 0;  // the position being read (padded coordinates) and the cycle within its step
    bool ready = false;          // the previous position q exists
    int qr = 0, qc = 0;          // q, whose window (if any) this step emits
    int wr = SPAN_H - 1, wi = 0;  // bottom row of the next output row's windows, and that output row
    int wc = SPAN_W - 1, wj = 0;  // the same for columns within row qr
    for (int i = 0; i < G::BEATS; i++) {
#pragma HLS PIPELINE II = 1
        const bool real = r >= G::PAD_T && r < G::PAD_T + G::H && c >= G::PAD_L && c < G::PAD_L + G::W;
        const int reads = real ? READS : 0;
        const bool ends = ready && qr == wr && wi < G::OUT_H && qc == wc && wj < G::OUT_W;
        const int emits = ends ? G::EMIT : 0;
        const int beats = reads > emits ? reads : (emits > 0 ? emits : 1);
        if (beat < reads) {
            const vec<T, G::IN_BEAT> word = in.read();
            for (int l = 0; l < G::IN_BEAT; l++) {
#pragma HLS UNROLL
                rows[(r - G::PAD_T) & (G::ROWS - 1)][c - G::PAD_L][beat * G::IN_BEAT + l] = word[l];
            }
        }
        if (beat < emits) EMIT::word(out, rows, qr - (SPAN_H - 1), qc - (SPAN_W - 1), beat);
        if (++beat == beats) {  // step done: q <- p, p <- p + 1
            beat = 0;
            if (ready) {
                if (qc == wc) {
                    wc += G::SW;
                    wj++;
                }
                if (r != qr) {  // q moves to the next row
                    if (qr == wr) {
                        wr += G::SH;
                        wi++;
                    }
                    wc = SPAN_W - 1;
                    wj = 0;
                }
            }
            ready = true;
            qr = r;
            qc = c;
            if (++c == G::PW) {
                c = 0;
                r++;
            }
        }
    }
}

// Value of lane s of window word b: its tap and channel (static ORDER, see the file comment).
template <class G>
NBQ_INLINE void window_lane(int b, int s, int& tap, int& ch) {
#pragma HLS INLINE
    if (G::ORDER == WINDOW_ORDER_COMPLEX) {
        const int part = s / G::SIMD;  // 0: real parts, 1: imaginary parts
        const int k = b * G::SIMD + s % G::SIMD;
        tap = k / G::ICG;
        ch = part * G::ICG + k % G::ICG;
    } else {
        const int per_group = G::KH * G::KW * G::ICG;
        const int k = b * G::CHUNK + s;
        const int g = k / per_group;
        const int kk = k % per_group;
        tap = kk / G::ICG;
        ch = g * G::ICG + kk % G::ICG;
    }
}

// The emitter of sliding_window: word b of a window, CHUNK taps/channels side by side.
template <class G>
struct window_words {
    typedef typename G::in_t T;
    typedef hls::stream<vec<T, G::CHUNK> > stream_t;

    static NBQ_INLINE void word(stream_t& out, T rows[G::ROWS][G::W][G::C], int top, int left, int b) {
#pragma HLS INLINE
        vec<T, G::CHUNK> word;
        for (int s = 0; s < G::CHUNK; s++) {
#pragma HLS UNROLL
            int tap, ch;
            window_lane<G>(b, s, tap, ch);
            word[s] = window_value<G>(rows, top, left, tap / G::KW, tap % G::KW, ch);
        }
        out.write(word);
    }
};

template <class G>
void sliding_window(hls::stream<vec<typename G::in_t, G::IN_BEAT> >& in,
                    hls::stream<vec<typename G::in_t, G::CHUNK> >& out) {
    window_schedule<G, window_words<G> >(in, out);
}

}  // namespace nbq

#endif
