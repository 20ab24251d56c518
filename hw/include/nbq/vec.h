// nbq::vec<T, N>: one stream word, N values of type T side by side.
//
// Value i of a word is v[i]; for a feature map word j of a pixel holds
// channels j*N .. j*N+N-1.  In synthesis a struct on an hls::stream is
// aggregated into one FIFO word of N * T::width bits (value 0 in the low bits),
// and the array inside is fully partitioned, so all N values move and are
// processed in the same cycle.
#ifndef NBQ_VEC_H
#define NBQ_VEC_H

#include "common.h"

namespace nbq {

template <class T, int N>
struct vec {
    T v[N];

    NBQ_INLINE T& operator[](int i) {
#pragma HLS INLINE
        return v[i];
    }
    NBQ_INLINE const T& operator[](int i) const {
#pragma HLS INLINE
        return v[i];
    }
};

}  // namespace nbq

#endif
