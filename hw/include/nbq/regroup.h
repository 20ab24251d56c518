// Word-width converters between streams of the same values.
//
// to_vec / from_vec connect the core's one-value-per-transfer ports to its
// internal word streams; regroup changes the width of a stream (e.g. a layer
// that writes PE-wide words feeding a dense layer that reads SIMD-wide words).
// SIZE is the number of values per image; every width divides it.  Gathering
// (OUT a multiple of IN) and splitting (IN a multiple of OUT) run at one word
// of the wider side per IN/OUT ratio cycles, i.e. at the narrow side's rate;
// other ratios go through a small shift buffer, one read or one write per
// cycle.  Each is one pipelined loop over all `images` (a word never spans two
// images, so every counter is back at 0 at an image boundary).
#ifndef NBQ_REGROUP_H
#define NBQ_REGROUP_H

#include "common.h"
#include "vec.h"

namespace nbq {

template <class T, int W, int SIZE>
void to_vec(hls::stream<T>& in, hls::stream<vec<T, W> >& out, int images) {
    static_assert(SIZE % W == 0, "whole words");
    vec<T, W> word;
    int l = 0;
    const int total = images * SIZE;
    for (int i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        word[l] = in.read();
        if (++l == W) {
            out.write(word);
            l = 0;
        }
    }
}

template <class T, int W, int SIZE>
void from_vec(hls::stream<vec<T, W> >& in, hls::stream<T>& out, int images) {
    static_assert(SIZE % W == 0, "whole words");
    vec<T, W> word;
    int l = 0;
    const int total = images * SIZE;
    for (int i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        if (l == 0) word = in.read();
        out.write(word[l]);
        if (++l == W) l = 0;
    }
}

template <class T, int IN, int OUT, int SIZE>
void regroup(hls::stream<vec<T, IN> >& in, hls::stream<vec<T, OUT> >& out, int images) {
    static_assert(SIZE % IN == 0 && SIZE % OUT == 0, "whole words");
    if (OUT % IN == 0) {  // gather OUT / IN input words into one
        vec<T, OUT> word;
        int part = 0;
        for (int i = 0; i < images * (SIZE / IN); i++) {
#pragma HLS PIPELINE II = 1
            const vec<T, IN> x = in.read();
            for (int l = 0; l < IN; l++) {
#pragma HLS UNROLL
                word[part * IN + l] = x[l];
            }
            if (++part == OUT / IN) {
                out.write(word);
                part = 0;
            }
        }
    } else if (IN % OUT == 0) {  // split each input word into IN / OUT
        vec<T, IN> x;
        int part = 0;
        for (int i = 0; i < images * (SIZE / OUT); i++) {
#pragma HLS PIPELINE II = 1
            if (part == 0) x = in.read();
            vec<T, OUT> word;
            for (int l = 0; l < OUT; l++) {
#pragma HLS UNROLL
                word[l] = x[part * OUT + l];
            }
            out.write(word);
            if (++part == IN / OUT) part = 0;
        }
    } else {  // any other ratio: a shift buffer of IN + OUT values, write whenever OUT are held
        T held[IN + OUT];
#pragma HLS ARRAY_PARTITION variable = held complete
        int n = 0;
        for (int i = 0; i < images * (SIZE / IN + SIZE / OUT); i++) {
#pragma HLS PIPELINE II = 1
            if (n >= OUT) {
                vec<T, OUT> word;
                for (int l = 0; l < OUT; l++) {
#pragma HLS UNROLL
                    word[l] = held[l];
                }
                for (int l = 0; l < IN; l++) {
#pragma HLS UNROLL
                    held[l] = held[l + OUT];
                }
                out.write(word);
                n -= OUT;
            } else {
                const vec<T, IN> x = in.read();
                for (int l = 0; l < IN; l++) {
#pragma HLS UNROLL
                    held[n + l] = x[l];
                }
                n += IN;
            }
        }
    }
}

}  // namespace nbq

#endif
