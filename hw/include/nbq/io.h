// Board-wrapper adapters between the core's typed streams and bus words.
// Packing: one value per word, in the word's low bits, sign-extended for
// signed types; AXI-Stream words set TLAST on the last value of an image.
#ifndef NBQ_IO_H
#define NBQ_IO_H

#include "axis_compat.h"
#include "common.h"

namespace nbq {

template <class T, class WORD, int SIZE>
void axis_to_stream(hls::stream<WORD>& in, hls::stream<T>& out) {
    for (int i = 0; i < SIZE; i++) {
#pragma HLS PIPELINE II = 1
        const WORD w = in.read();
        out.write(T(w.data));
    }
}

template <class T, class WORD, int SIZE>
void stream_to_axis(hls::stream<T>& in, hls::stream<WORD>& out) {
    for (int i = 0; i < SIZE; i++) {
#pragma HLS PIPELINE II = 1
        WORD w;
        w.data = in.read();
        w.keep = -1;
        w.strb = -1;
        w.last = (i == SIZE - 1);
        out.write(w);
    }
}

template <class T, class WORD, int SIZE>
void mem_to_stream(const WORD* in, hls::stream<T>& out) {
    for (int i = 0; i < SIZE; i++) {
#pragma HLS PIPELINE II = 1
        out.write(T(in[i]));
    }
}

template <class T, class WORD, int SIZE>
void stream_to_mem(hls::stream<T>& in, WORD* out) {
    for (int i = 0; i < SIZE; i++) {
#pragma HLS PIPELINE II = 1
        out[i] = WORD(in.read());
    }
}

}  // namespace nbq

#endif
