// Max pooling (padding takes the value PAD_VALUE, the input's lower bound)
// and sum pooling (average pooling with the 1/k^2 moved into the scale),
// both row-buffered.  CFG provides: in_t, out_t (and acc_t for sum pooling),
//   IN_H IN_W C OUT_H OUT_W KH KW STRIDE_H STRIDE_W PAD_T PAD_L SPAN_H
//   (and PAD_VALUE for max pooling).
#ifndef NBQ_POOL_H
#define NBQ_POOL_H

#include "common.h"
#include "window.h"

namespace nbq {

template <class CFG>
void maxpool2d(hls::stream<typename CFG::in_t>& in, hls::stream<typename CFG::out_t>& out) {
    typedef typename CFG::in_t in_t;
    typedef row_buffer<in_t, CFG::IN_H, CFG::IN_W, CFG::C, CFG::SPAN_H> buffer;
    // every value is >= the pad value, so starting from it equals max over the padded window
    const long long pad_value = CFG::PAD_VALUE;
    const in_t pad = in_t(pad_value);

    static in_t rows[CFG::SPAN_H][CFG::IN_W][CFG::C];
    int rows_read = 0;
    for (int oh = 0; oh < CFG::OUT_H; oh++) {
        const int top = oh * CFG::STRIDE_H - CFG::PAD_T;
        rows_read = buffer::fill(in, rows, rows_read, top + CFG::SPAN_H - 1);
        for (int ow = 0; ow < CFG::OUT_W; ow++) {
            const int left = ow * CFG::STRIDE_W - CFG::PAD_L;
            for (int c = 0; c < CFG::C; c++) {
                in_t m = pad;
                for (int kh = 0; kh < CFG::KH; kh++) {
                    for (int kw = 0; kw < CFG::KW; kw++) {
#pragma HLS PIPELINE II = 1
                        const int ih = top + kh;
                        const int iw = left + kw;
                        if (ih >= 0 && ih < CFG::IN_H && iw >= 0 && iw < CFG::IN_W) {
                            const in_t v = rows[ih % CFG::SPAN_H][iw][c];
                            if (v > m) m = v;
                        }
                    }
                }
                out.write(typename CFG::out_t(m));
            }
        }
    }
    buffer::drain(in, rows_read);
}

template <class CFG>
void sumpool2d(hls::stream<typename CFG::in_t>& in, hls::stream<typename CFG::out_t>& out) {
    typedef typename CFG::in_t in_t;
    typedef typename CFG::acc_t acc_t;
    typedef row_buffer<in_t, CFG::IN_H, CFG::IN_W, CFG::C, CFG::SPAN_H> buffer;

    static in_t rows[CFG::SPAN_H][CFG::IN_W][CFG::C];
    int rows_read = 0;
    for (int oh = 0; oh < CFG::OUT_H; oh++) {
        const int top = oh * CFG::STRIDE_H;
        rows_read = buffer::fill(in, rows, rows_read, top + CFG::SPAN_H - 1);
        for (int ow = 0; ow < CFG::OUT_W; ow++) {
            const int left = ow * CFG::STRIDE_W;
            for (int c = 0; c < CFG::C; c++) {
                acc_t acc = 0;
                for (int kh = 0; kh < CFG::KH; kh++) {
                    for (int kw = 0; kw < CFG::KW; kw++) {
#pragma HLS PIPELINE II = 1
                        acc += acc_t(rows[(top + kh) % CFG::SPAN_H][left + kw][c]);
                    }
                }
                out.write(typename CFG::out_t(acc));
            }
        }
    }
    buffer::drain(in, rows_read);
}

}  // namespace nbq

#endif
