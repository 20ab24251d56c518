// Stream fan-out: a tensor read by two layers (e.g. a residual Add) is copied
// into two streams, so every DATAFLOW stream has one producer and one consumer.
// WORD is the stream's word type (nbq::vec), WORDS the words per image.
#ifndef NBQ_CLONE_H
#define NBQ_CLONE_H

#include "common.h"

namespace nbq {

template <class WORD, int WORDS>
void clone2(hls::stream<WORD>& in, hls::stream<WORD>& out_a, hls::stream<WORD>& out_b, int images) {
    const int total = images * WORDS;
    for (int i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        const WORD v = in.read();
        out_a.write(v);
        out_b.write(v);
    }
}

}  // namespace nbq

#endif
