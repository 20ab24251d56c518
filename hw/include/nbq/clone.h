// Stream fan-out: a tensor read by two layers (e.g. a residual Add) is copied
// into two streams, so every DATAFLOW stream has one producer and one consumer.
#ifndef NBQ_CLONE_H
#define NBQ_CLONE_H

#include "common.h"

namespace nbq {

template <class T, int SIZE>
void clone2(hls::stream<T>& in, hls::stream<T>& out_a, hls::stream<T>& out_b) {
    for (int i = 0; i < SIZE; i++) {
#pragma HLS PIPELINE II = 1
        const T v = in.read();
        out_a.write(v);
        out_b.write(v);
    }
}

// Plain copy, for a graph whose output stream is its input stream.
template <class T, int SIZE>
void copy(hls::stream<T>& in, hls::stream<T>& out) {
    for (int i = 0; i < SIZE; i++) {
#pragma HLS PIPELINE II = 1
        out.write(in.read());
    }
}

}  // namespace nbq

#endif
