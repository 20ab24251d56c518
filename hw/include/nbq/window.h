// Row buffer for sliding windows: keeps the last SPAN input rows of a
// channels-last frame, so a window layer reads each input value exactly once.
#ifndef NBQ_WINDOW_H
#define NBQ_WINDOW_H

#include "common.h"

namespace nbq {

template <class T, int H, int W, int C, int SPAN>
struct row_buffer {
    // Read rows until row `last` (clipped to the frame) is buffered; row r
    // lives in slot r % SPAN.  Returns the new count of rows read.
    static int fill(hls::stream<T>& in, T rows[SPAN][W][C], int rows_read, int last) {
        if (last > H - 1) last = H - 1;
        for (; rows_read <= last; rows_read++) {
            const int slot = rows_read % SPAN;
            for (int w = 0; w < W; w++) {
                for (int c = 0; c < C; c++) {
#pragma HLS PIPELINE II = 1
                    rows[slot][w][c] = in.read();
                }
            }
        }
        return rows_read;
    }

    // Consume the rows no output window needed (e.g. cut off by the stride).
    static void drain(hls::stream<T>& in, int rows_read) {
        for (int r = rows_read; r < H; r++) {
            for (int i = 0; i < W * C; i++) {
#pragma HLS PIPELINE II = 1
                in.read();
            }
        }
    }
};

}  // namespace nbq

#endif
