// 2-D convolution (groups, strides, zero padding, dilations), row-buffered.
//
// Weights are packed codes in (OC, KH, KW, IC/groups) order, so one output
// channel's window is a contiguous run of codes.  CFG provides:
//   in_t, out_t, acc_t, bias_t, weight_format (po2_weights<n> / int_weights<n>)
//   IN_H IN_W IN_C OUT_H OUT_W OUT_C KH KW STRIDE_H STRIDE_W PAD_T PAD_L
//   DIL_H DIL_W IN_C_PER_GROUP OUT_C_PER_GROUP SPAN_H N_WORDS
#ifndef NBQ_CONV_H
#define NBQ_CONV_H

#include "common.h"
#include "weights.h"
#include "window.h"

namespace nbq {

template <class CFG>
void conv2d(hls::stream<typename CFG::in_t>& in, hls::stream<typename CFG::out_t>& out,
            const uint64_t weights[CFG::N_WORDS], const typename CFG::bias_t bias[CFG::OUT_C]) {
    typedef typename CFG::in_t in_t;
    typedef typename CFG::acc_t acc_t;
    typedef typename CFG::weight_format wf;
    typedef row_buffer<in_t, CFG::IN_H, CFG::IN_W, CFG::IN_C, CFG::SPAN_H> buffer;
    const int window = CFG::KH * CFG::KW * CFG::IN_C_PER_GROUP;

    static in_t rows[CFG::SPAN_H][CFG::IN_W][CFG::IN_C];
    int rows_read = 0;
    for (int oh = 0; oh < CFG::OUT_H; oh++) {
        const int top = oh * CFG::STRIDE_H - CFG::PAD_T;
        rows_read = buffer::fill(in, rows, rows_read, top + CFG::SPAN_H - 1);
        for (int ow = 0; ow < CFG::OUT_W; ow++) {
            const int left = ow * CFG::STRIDE_W - CFG::PAD_L;
            for (int oc = 0; oc < CFG::OUT_C; oc++) {
                const int c0 = (oc / CFG::OUT_C_PER_GROUP) * CFG::IN_C_PER_GROUP;
                int wi = oc * window;
                acc_t acc = acc_t(bias[oc]);
                for (int kh = 0; kh < CFG::KH; kh++) {
                    const int ih = top + kh * CFG::DIL_H;
                    const bool row_ok = ih >= 0 && ih < CFG::IN_H;
                    for (int kw = 0; kw < CFG::KW; kw++) {
                        const int iw = left + kw * CFG::DIL_W;
                        const bool ok = row_ok && iw >= 0 && iw < CFG::IN_W;
                        for (int ic = 0; ic < CFG::IN_C_PER_GROUP; ic++) {
#pragma HLS PIPELINE II = 1
                            // padding contributes zero: skip the product
                            if (ok)
                                wf::mac(acc, packed_codes<wf::BITS>::at(weights, wi),
                                        rows[ih % CFG::SPAN_H][iw][c0 + ic]);
                            wi++;
                        }
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
