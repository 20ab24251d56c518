// Board-wrapper processes between the core's typed streams and bus words, each one pipelined
// loop over all `images`.
//
// AXI-Stream (Zynq IP): one value per word, in the word's low bits, sign-extended for signed
// types; TLAST on the last value of each image.
//
// m_axi (Alveo kernel): LANES values of LANE::width bits per bus word, value v of an image in
// lane v % LANES of word v / LANES; every image starts on a new word, the lanes after its last
// value are 0.  The memory is touched only by read_words / write_words: one sequential,
// unconditional access per cycle, the form the m_axi adapter turns into bursts; the lane
// (un)packing runs in processes of their own behind FIFOs.
#ifndef NBQ_IO_H
#define NBQ_IO_H

#include "axis_compat.h"
#include "common.h"

namespace nbq {

template <class T, class WORD, int SIZE>
void axis_to_stream(hls::stream<WORD>& in, hls::stream<T>& out, int images) {
    const int total = images * SIZE;
    for (int i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        const WORD w = in.read();
        out.write(T(w.data));
    }
}

template <class T, class WORD, int SIZE>
void stream_to_axis(hls::stream<T>& in, hls::stream<WORD>& out, int images) {
    int v = 0;  // value within the image
    const int total = images * SIZE;
    for (int i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        WORD w;
        w.data = in.read();
        w.keep = -1;
        w.strb = -1;
        w.last = v == SIZE - 1;
        out.write(w);
        v = v == SIZE - 1 ? 0 : v + 1;
    }
}

// images x WORDS bus words from memory, in order.
template <class WORD, int WORDS>
void read_words(const WORD* in, hls::stream<WORD>& out, int images) {
    const int total = images * WORDS;
    for (int i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        out.write(in[i]);
    }
}

// images x WORDS bus words to memory, in order.
template <class WORD, int WORDS>
void write_words(hls::stream<WORD>& in, WORD* out, int images) {
    const int total = images * WORDS;
    for (int i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        out[i] = in.read();
    }
}

// Bus words -> SIZE values per image, one per cycle: lane 0 of a word first (a constant shift
// moves the next lane down).  T(LANE(...)) truncates the sign-extended lane to T.
template <class T, class LANE, class WORD, int LANES, int SIZE>
void unpack_lanes(hls::stream<WORD>& in, hls::stream<T>& out, int images) {
    WORD word = 0;
    int lane = 0, v = 0;  // lane within the word, value within the image
    const int total = images * SIZE;
    for (int i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        if (lane == 0) word = in.read();
        out.write(T(LANE(word(LANE::width - 1, 0))));
        word >>= LANE::width;
        const bool last = v == SIZE - 1;
        lane = last || lane == LANES - 1 ? 0 : lane + 1;
        v = last ? 0 : v + 1;
    }
}

// SIZE values per image -> bus words; a word is written when full or at the image's last value
// (the lanes after it stay 0).  Lane l is set by a compare with the constant l: no run-time
// bit offset.  LANE(x) sign-extends a signed value.
template <class T, class LANE, class WORD, int LANES, int SIZE>
void pack_lanes(hls::stream<T>& in, hls::stream<WORD>& out, int images) {
    const int B = LANE::width;
    WORD word = 0;
    int lane = 0, v = 0;
    const int total = images * SIZE;
    for (int i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        const LANE x = LANE(in.read());
        WORD next = word;
        for (int l = 0; l < LANES; l++) {
#pragma HLS UNROLL
            if (l == lane) next(l * B + B - 1, l * B) = x;
        }
        const bool last = v == SIZE - 1;
        if (last || lane == LANES - 1) {
            out.write(next);
            word = 0;
            lane = 0;
        } else {
            word = next;
            lane++;
        }
        v = last ? 0 : v + 1;
    }
}

}  // namespace nbq

#endif
