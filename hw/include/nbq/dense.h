// Fully connected layer.  Weights are packed codes in (OUT, IN) order with IN
// in stream order (the compiler reorders columns of a flattened feature map
// from CHW to the channels-last stream).  CFG provides:
//   in_t, out_t, acc_t, bias_t, weight_format, N_IN, N_OUT, N_WORDS
#ifndef NBQ_DENSE_H
#define NBQ_DENSE_H

#include "common.h"
#include "weights.h"

namespace nbq {

template <class CFG>
void dense(hls::stream<typename CFG::in_t>& in, hls::stream<typename CFG::out_t>& out,
           const uint64_t weights[CFG::N_WORDS], const typename CFG::bias_t bias[CFG::N_OUT]) {
    typedef typename CFG::in_t in_t;
    typedef typename CFG::acc_t acc_t;
    typedef typename CFG::weight_format wf;

    static in_t x[CFG::N_IN];
    for (int i = 0; i < CFG::N_IN; i++) {
#pragma HLS PIPELINE II = 1
        x[i] = in.read();
    }
    for (int o = 0; o < CFG::N_OUT; o++) {
        acc_t acc = acc_t(bias[o]);
        for (int i = 0; i < CFG::N_IN; i++) {
#pragma HLS PIPELINE II = 1
            wf::mac(acc, packed_codes<wf::BITS>::at(weights, o * CFG::N_IN + i), x[i]);
        }
        out.write(typename CFG::out_t(acc));
    }
}

}  // namespace nbq

#endif
