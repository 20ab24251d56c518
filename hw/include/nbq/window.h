// Sliding windows over a channels-last pixel stream: a streaming line buffer.
//
// Schedule (window_position).  The unit walks the zero-padded input once in raster order
// (PH x PW positions) plus one final step.  Step p reads the C / IN_BEAT words of position p
// (none at padding) into the line buffer and emits the window whose bottom-right tap is
// position p-1 - if a window ends there - as EMIT words, one word per cycle, reads and emits
// side by side: max(reads, emits, 1) cycles per step, CFG::BEATS cycles per image (the compiler
// computes it from the same rule, nbq/backends/hls/window.py).  The one-step delay means a step
// never reads the entry it writes; the line buffer keeps ROWS >= span + 1 rows for it (a power
// of two, so rows are addressed by masking, no divider).  Padding is never stored: a tap
// outside the image reads PAD_VALUE (0 for convolutions, the input's lower bound for max
// pooling, which is then the max over the padded window).  All images of a call run in one
// pipelined loop; the position restarts after the final step.
//
// Memory.  The buffer is an array of banks, mem[BANKS][DEPTH], partitioned completely on its
// first dimension, and every access names its bank with a compile-time number: unrolled loops
// run over the banks, each bank gets a run-time address (and a write enable), and run-time
// choices become multiplexers on the data, never a bank index computed at run time (a cyclic
// partition indexed at run time makes the tool assume every lane may hit every bank).  Each
// bank is read at most once and written at most once per cycle (a simple dual-port RAM).
// Two layouts:
//   * tap_unit (a convolution whose window words each hold channels of one tap: SIMD | ICG,
//     complex: SIMD | I and IN_BEAT | I): one bank per storage channel modulo
//     BANKS = lcm(word's channels, input word's channels); all lanes of a word share one
//     address.  Complex maps store channel i's real and imaginary parts next to each other
//     (storage channel 2i, 2i + 1), so a window word (SIMD real parts, then the same SIMD
//     imaginary parts) is one aligned block.
//   * grid_unit (words spanning taps: pooling, and any other convolution): banks over (row
//     mod ROWS, column mod SPAN_W, channel block lane); a cycle reads every bank, each at the
//     one column of the window that falls in it, and rotates the bank outputs into taps.
// The memory kind comes from CFG::STORAGE (common.h: storage_kind; absent = the tool picks),
// applied by a specialization of window_process with the literal BIND_STORAGE pragma in the
// function that defines the array (UG1399: pragma HLS bind_storage goes in the function
// where the variable is defined).  No DEPENDENCE pragma: the window of step p can read the
// word written one cycle earlier (the end of step p - 1), so the inter-iteration dependence is
// real (UG1399: declaring a true dependence false gives incorrect hardware); the emit is placed
// before the store so the two accesses of one iteration keep their program order.
//
// Geometry CFG: in_t; C, H, W (input), KH, KW, SH, SW (strides), DH, DW
// (dilations), PAD_T, PAD_L, PH, PW (padded size), OUT_H, OUT_W, IN_BEAT
// (channels per input word), ROWS, EMIT (words per window), BEATS, PAD_VALUE, and optionally
// STORAGE.  (CH_BANKS / COL_BANKS, if present, are not read: the layouts follow from the
// geometry.)
//
// sliding_window() feeds an MVAU (mvau.h / complex.h): each window as EMIT =
// GROUPS x SF words of CHUNK values.  ORDER 0: (group, kh, kw, channel in
// group) order, CHUNK = SIMD, ICG channels per group.  ORDER 1 (complex):
// word sf holds SIMD complex inputs (kh, kw, i) of the window - their real
// parts x_i (channel i), then their imaginary parts y_i (channel ICG + i),
// CHUNK = 2 * SIMD, ICG = complex channels.
#ifndef NBQ_WINDOW_H
#define NBQ_WINDOW_H

#include "common.h"
#include "vec.h"

namespace nbq {

enum { WINDOW_ORDER_MVAU = 0, WINDOW_ORDER_COMPLEX = 1 };

// ------------------------------------------------------------------ the schedule

// What moved at the end of a cycle.
struct window_moves {
    bool step;         // a step ended
    bool next_window;  // the window column wj advanced (a window ended at q)
    bool new_row;      // q moved to a new row: wj restarts
    bool next_column;  // the read position moved right within its row
    bool new_line;     // the read position moved to the next row, or the image ended
};

template <class G>
struct window_position {
    static const int READS = G::C / G::IN_BEAT;
    static const int SPAN_H = (G::KH - 1) * G::DH + 1;
    static const int SPAN_W = (G::KW - 1) * G::DW + 1;

    int r, c;    // padded position read in this step
    int beat;    // cycle within the step
    bool ready;  // a previous position q exists
    int qr, qc;  // q: this step emits the window ending there, if one does
    int wr, wi;  // bottom row of the next output row's windows, and that output row
    int wc, wj;  // the same for columns within row qr

    NBQ_INLINE void reset() {
#pragma HLS INLINE
        r = c = beat = qr = qc = wi = wj = 0;
        ready = false;
        wr = SPAN_H - 1;
        wc = SPAN_W - 1;
    }
    NBQ_INLINE bool real() const {
#pragma HLS INLINE
        return r >= G::PAD_T && r < G::PAD_T + G::H && c >= G::PAD_L && c < G::PAD_L + G::W;
    }
    NBQ_INLINE int reads() const {
#pragma HLS INLINE
        return real() ? READS : 0;
    }
    NBQ_INLINE int emits() const {
#pragma HLS INLINE
        const bool ends = ready && qr == wr && wi < G::OUT_H && qc == wc && wj < G::OUT_W;
        return ends ? G::EMIT : 0;
    }
    NBQ_INLINE int top() const {  // padded row of the emitted window's first tap row
#pragma HLS INLINE
        return qr - (SPAN_H - 1);
    }
    NBQ_INLINE int left() const {  // its padded column (= wj * SW)
#pragma HLS INLINE
        return qc - (SPAN_W - 1);
    }

    // One cycle on.
    NBQ_INLINE window_moves advance() {
#pragma HLS INLINE
        window_moves m = {false, false, false, false, false};
        const int rd = reads(), em = emits();
        const int beats = rd > em ? rd : (em > 0 ? em : 1);
        if (++beat < beats) return m;
        beat = 0;
        m.step = true;
        if (r == G::PH) {  // the final step: the next cycle starts the next image
            reset();
            m.new_row = m.new_line = true;
            return m;
        }
        if (ready) {
            if (qc == wc) {
                wc += G::SW;
                wj++;
                m.next_window = true;
            }
            if (r != qr) {  // q moves to the next row
                if (qr == wr) {
                    wr += G::SH;
                    wi++;
                }
                wc = SPAN_W - 1;
                wj = 0;
                m.new_row = true;
            }
        }
        ready = true;
        qr = r;
        qc = c;
        if (++c == G::PW) {
            c = 0;
            r++;
            m.new_line = true;
        } else {
            m.next_column = true;
        }
        return m;
    }
};

// n = div * M + mod (0 <= mod < M) for a counter that grows by constant steps: no divider.
template <int M>
struct mod_counter {
    int div, mod;
    NBQ_INLINE void reset() {
#pragma HLS INLINE
        div = mod = 0;
    }
    template <int STEP>
    NBQ_INLINE void add() {
#pragma HLS INLINE
        const int m = mod + STEP % M;
        const bool carry = m >= M;
        mod = carry ? m - M : m;
        div += STEP / M + (carry ? 1 : 0);
    }
};

// The channel block an input word writes: storage channels [base, base + W_BLK) with
// base = wdiv * BANKS + wq * W_BLK.  ORDER 0 / pooling: channels beat * IN_BEAT + l.
// Complex (tap_unit): real part of channel i -> storage channel 2i, imaginary -> 2i + 1, so the
// word (IN_BEAT | I) holds storage channels 2 (i0 + l) + part: a block of W_BLK = 2 IN_BEAT.
template <class G, int BANKS, bool COMPLEX>
struct write_block {
    static const int W_BLK = COMPLEX ? 2 * G::IN_BEAT : G::IN_BEAT;
    static const int QW = BANKS / W_BLK;  // blocks per bank row
    int wq, wdiv, part, beat;
    NBQ_INLINE void reset() {
#pragma HLS INLINE
        wq = wdiv = part = beat = 0;
    }
    NBQ_INLINE void next() {  // after a written word
#pragma HLS INLINE
        beat++;
        if (COMPLEX && beat * G::IN_BEAT == G::C / 2) {  // the imaginary parts start over at i = 0
            part = 1;
            wq = wdiv = 0;
        } else if (wq == QW - 1) {
            wq = 0;
            wdiv++;
        } else {
            wq++;
        }
    }
};

// ------------------------------------------------------------------ tap_unit

template <class G>
struct tap_unit {
    typedef typename G::in_t T;
    typedef hls::stream<vec<T, G::IN_BEAT> > in_stream;
    typedef hls::stream<vec<T, G::CHUNK> > out_stream;
    static const bool COMPLEX = G::ORDER == WINDOW_ORDER_COMPLEX;
    static const int R_BLK = G::CHUNK;  // storage channels per window word (complex: 2 SIMD)
    static const int BANKS = lcm_of<R_BLK, COMPLEX ? 2 * G::IN_BEAT : G::IN_BEAT>::value;
    static const int QR = BANKS / R_BLK;
    static const int BLOCKS = G::C / BANKS;  // bank words per pixel
    static const int DEPTH = G::ROWS * G::W * BLOCKS;
    static const int GROUPS = COMPLEX ? 1 : G::C / G::ICG;
    static const int JN = G::ICG / G::SIMD;  // window words per tap (and group)
    typedef write_block<G, BANKS, COMPLEX> wblock;
    static_assert(G::C % BANKS == 0 && G::ICG % G::SIMD == 0, "tap_unit: words hold channels of one tap");
    static_assert(!COMPLEX || (G::ICG % G::IN_BEAT == 0 && G::CHUNK == 2 * G::SIMD), "tap_unit: complex words");

    // Storage offset of lane s within the word's block.
    static NBQ_INLINE int lane_offset(int s) {
#pragma HLS INLINE
        return COMPLEX ? (s < G::SIMD ? 2 * s : 2 * (s - G::SIMD) + 1) : s;
    }

    static NBQ_INLINE int address(int ri, int ci, int block) {
#pragma HLS INLINE
        return ((ri & (G::ROWS - 1)) * G::W + ci) * BLOCKS + block;
    }

    static NBQ_INLINE void run(in_stream& in, out_stream& out, T mem[BANKS][DEPTH], int images) {
#pragma HLS INLINE
        const long long pad = G::PAD_VALUE;
        const int total = images * G::BEATS;
        window_position<G> pos;
        pos.reset();
        wblock wb;
        wb.reset();
        // the window word being emitted: group g, tap (kh, kw) at offset (tr, tc) = (kh DH, kw DW),
        // word j of the tap; its storage block rb (bank word rb.div, bank group rb.mod) and the
        // group's first block gb
        int kh = 0, kw = 0, tr = 0, tc = 0, j = 0, g = 0;
        mod_counter<QR> rb, gb;
        rb.reset();
        gb.reset();
        for (int i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
            if (pos.beat < pos.emits()) {
                const int ri = pos.top() + tr - G::PAD_T, ci = pos.left() + tc - G::PAD_L;
                const bool inside = ri >= 0 && ri < G::H && ci >= 0 && ci < G::W;
                const int addr = inside ? address(ri, ci, rb.div) : 0;
                T bank[BANKS];
#pragma HLS ARRAY_PARTITION variable = bank complete
                for (int b = 0; b < BANKS; b++) {
#pragma HLS UNROLL
                    bank[b] = mem[b][addr];
                }
                vec<T, G::CHUNK> word;
                for (int s = 0; s < G::CHUNK; s++) {
#pragma HLS UNROLL
                    T v = T(pad);
                    for (int q = 0; q < QR; q++) {
#pragma HLS UNROLL
                        if (inside && q == rb.mod) v = bank[q * R_BLK + lane_offset(s)];
                    }
                    word[s] = v;
                }
                out.write(word);
                // next word: j, then kw, kh, g; the block follows (a new tap restarts at its group's)
                if (j < JN - 1) {
                    j++;
                    rb.template add<1>();
                } else {
                    j = 0;
                    if (kw < G::KW - 1) {
                        kw++;
                        tc += G::DW;
                    } else {
                        kw = tc = 0;
                        if (kh < G::KH - 1) {
                            kh++;
                            tr += G::DH;
                        } else {
                            kh = tr = 0;
                            g = g == GROUPS - 1 ? 0 : g + 1;
                            if (g == 0) {
                                gb.reset();
                            } else {
                                gb.template add<JN>();  // the next group: + ICG channels = JN words
                            }
                        }
                    }
                    rb = gb;
                }
            }
            if (pos.beat < pos.reads()) {
                const vec<T, G::IN_BEAT> x = in.read();
                const int addr = address(pos.r - G::PAD_T, pos.c - G::PAD_L, wb.wdiv);
                for (int q = 0; q < wblock::QW; q++) {
#pragma HLS UNROLL
                    for (int o = 0; o < wblock::W_BLK; o++) {
#pragma HLS UNROLL
                        const bool mine = q == wb.wq && (!COMPLEX || o % 2 == wb.part);
                        if (mine) mem[q * wblock::W_BLK + o][addr] = x[COMPLEX ? o / 2 : o];
                    }
                }
                wb.next();
            }
            const window_moves m = pos.advance();
            if (m.step) {
                wb.reset();
                kh = kw = tr = tc = j = g = 0;
                rb.reset();
                gb.reset();
            }
        }
    }
};

// ------------------------------------------------------------------ grid_unit

// Banks over (row mod ROWS, padded column mod CB, channel lane mod CHB); bank (rho, kappa, chi)
// holds, at address (column / CB) * BLOCKS + channel / CHB, the channels of the pixels in its
// rows and columns.  A cycle reads all banks at the one window column in each bank (the window's
// SPAN_W <= CB columns fall in distinct banks) and channel block `block`, then rotates the bank
// outputs into taps[KH][KW][CHB].  EMITTER (window_words, max_words, sum_words) turns them
// into the output word; it fixes CHB (every channel, or IN_BEAT lanes with the block = word).
template <class G, class EMITTER>
struct grid_unit {
    typedef typename G::in_t T;
    typedef hls::stream<vec<T, G::IN_BEAT> > in_stream;
    typedef typename EMITTER::stream_t out_stream;
    static const int CB = window_position<G>::SPAN_W;
    static const int CHB = EMITTER::CHB;
    static const int BLOCKS = G::C / CHB;
    static const int COLS = G::PW / CB + 1;
    static const int BANKS = G::ROWS * CB * CHB;
    static const int DEPTH = COLS * BLOCKS;
    typedef write_block<G, CHB, false> wblock;
    static_assert(CHB % G::IN_BEAT == 0 && G::C % CHB == 0, "grid_unit: channel lanes");

    static NBQ_INLINE int bank(int rho, int kappa, int chi) {
#pragma HLS INLINE
        return (rho * CB + kappa) * CHB + chi;
    }

    static NBQ_INLINE void run(in_stream& in, out_stream& out, T mem[BANKS][DEPTH], int images) {
#pragma HLS INLINE
        const long long pad = G::PAD_VALUE;
        const int total = images * G::BEATS;
        window_position<G> pos;
        pos.reset();
        wblock wb;
        wb.reset();
        mod_counter<CB> wcol;  // the read position's padded column
        mod_counter<CB> lcol;  // the emitted window's left column (wj * SW)
        wcol.reset();
        lcol.reset();
        for (int i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
            if (pos.beat < pos.emits()) {
                const int top = pos.top(), left = pos.left();
                const int block = EMITTER::block(pos.beat);
                T val[G::ROWS][CB][CHB];
#pragma HLS ARRAY_PARTITION variable = val complete dim = 0
                for (int kappa = 0; kappa < CB; kappa++) {
#pragma HLS UNROLL
                    // the window column in bank kappa: left + ((kappa - left) mod CB)
                    const int addr = (lcol.div + (kappa < lcol.mod ? 1 : 0)) * BLOCKS + block;
                    for (int rho = 0; rho < G::ROWS; rho++) {
#pragma HLS UNROLL
                        for (int chi = 0; chi < CHB; chi++) {
#pragma HLS UNROLL
                            val[rho][kappa][chi] = mem[bank(rho, kappa, chi)][addr];
                        }
                    }
                }
                T taps[G::KH][G::KW][CHB];
#pragma HLS ARRAY_PARTITION variable = taps complete dim = 0
                for (int kh = 0; kh < G::KH; kh++) {
#pragma HLS UNROLL
                    const int row = top + kh * G::DH;
                    const bool row_in = row >= G::PAD_T && row < G::PAD_T + G::H;
                    for (int kw = 0; kw < G::KW; kw++) {
#pragma HLS UNROLL
                        const int col = left + kw * G::DW;
                        const bool in_image = row_in && col >= G::PAD_L && col < G::PAD_L + G::W;
                        const int k = lcol.mod + kw * G::DW;
                        const int kappa = k >= CB ? k - CB : k;
                        for (int chi = 0; chi < CHB; chi++) {
#pragma HLS UNROLL
                            taps[kh][kw][chi] = in_image ? val[row & (G::ROWS - 1)][kappa][chi] : T(pad);
                        }
                    }
                }
                EMITTER::word(out, taps, pos.beat);
            }
            if (pos.beat < pos.reads()) {
                const vec<T, G::IN_BEAT> x = in.read();
                const int rho_w = pos.r & (G::ROWS - 1);
                const int addr = wcol.div * BLOCKS + wb.wdiv;
                for (int rho = 0; rho < G::ROWS; rho++) {
#pragma HLS UNROLL
                    for (int kappa = 0; kappa < CB; kappa++) {
#pragma HLS UNROLL
                        for (int q = 0; q < wblock::QW; q++) {
#pragma HLS UNROLL
                            for (int o = 0; o < G::IN_BEAT; o++) {
#pragma HLS UNROLL
                                if (rho == rho_w && kappa == wcol.mod && q == wb.wq)
                                    mem[bank(rho, kappa, q * G::IN_BEAT + o)][addr] = x[o];
                            }
                        }
                    }
                }
                wb.next();
            }
            const window_moves m = pos.advance();
            if (m.step) wb.reset();
            if (m.new_line) {
                wcol.reset();
            } else if (m.next_column) {
                wcol.template add<1>();
            }
            if (m.new_row) {
                lcol.reset();
            } else if (m.next_window) {
                lcol.template add<G::SW>();
            }
        }
    }
};

// ------------------------------------------------------------------ the process, per memory kind

// UNIT::run's pipelined loop inlined into a function that defines the buffer with its pragmas.
template <class UNIT, int STORAGE>
struct window_process;

template <class UNIT>
struct window_process<UNIT, STORAGE_AUTO> {
    static void run(typename UNIT::in_stream& in, typename UNIT::out_stream& out, int images) {
        static typename UNIT::T mem[UNIT::BANKS][UNIT::DEPTH];
#pragma HLS ARRAY_PARTITION variable = mem complete dim = 1
        UNIT::run(in, out, mem, images);
    }
};
template <class UNIT>
struct window_process<UNIT, STORAGE_LUTRAM> {
    static void run(typename UNIT::in_stream& in, typename UNIT::out_stream& out, int images) {
        static typename UNIT::T mem[UNIT::BANKS][UNIT::DEPTH];
#pragma HLS ARRAY_PARTITION variable = mem complete dim = 1
#pragma HLS BIND_STORAGE variable = mem type = ram_s2p impl = lutram
        UNIT::run(in, out, mem, images);
    }
};
template <class UNIT>
struct window_process<UNIT, STORAGE_BRAM> {
    static void run(typename UNIT::in_stream& in, typename UNIT::out_stream& out, int images) {
        static typename UNIT::T mem[UNIT::BANKS][UNIT::DEPTH];
#pragma HLS ARRAY_PARTITION variable = mem complete dim = 1
#pragma HLS BIND_STORAGE variable = mem type = ram_s2p impl = bram
        UNIT::run(in, out, mem, images);
    }
};
template <class UNIT>
struct window_process<UNIT, STORAGE_URAM> {
    static void run(typename UNIT::in_stream& in, typename UNIT::out_stream& out, int images) {
        static typename UNIT::T mem[UNIT::BANKS][UNIT::DEPTH];
#pragma HLS ARRAY_PARTITION variable = mem complete dim = 1
#pragma HLS BIND_STORAGE variable = mem type = ram_s2p impl = uram
        UNIT::run(in, out, mem, images);
    }
};

// ------------------------------------------------------------------ convolution windows

// Lane s of window word b: its tap and channel (compile-time b and s; see the file comment).
template <class G>
NBQ_INLINE void window_lane(int b, int s, int& tap, int& ch) {
#pragma HLS INLINE
    if (G::ORDER == WINDOW_ORDER_COMPLEX) {
        const int part = s / G::SIMD;  // 0: real parts, 1: imaginary parts
        const int k = b * G::SIMD + s % G::SIMD;
        tap = k / G::ICG;
        ch = part * G::ICG + k % G::ICG;
    } else {
        const int per_group = G::KH * G::KW * G::ICG;
        const int k = b * G::CHUNK + s;
        const int g = k / per_group;
        const int kk = k % per_group;
        tap = kk / G::ICG;
        ch = g * G::ICG + kk % G::ICG;
    }
}

// grid_unit emitter of sliding_window: every channel is a lane (CHB = C); lane s of word b is
// wired to its tap and channel for each of the EMIT words, and the run-time word number picks.
template <class G>
struct window_words {
    typedef typename G::in_t T;
    typedef hls::stream<vec<T, G::CHUNK> > stream_t;
    static const int CHB = G::C;

    static NBQ_INLINE int block(int) {
#pragma HLS INLINE
        return 0;
    }
    static NBQ_INLINE void word(stream_t& out, const T taps[G::KH][G::KW][G::C], int b) {
#pragma HLS INLINE
        vec<T, G::CHUNK> word;
        for (int s = 0; s < G::CHUNK; s++) {
#pragma HLS UNROLL
            T v = taps[0][0][0];
            for (int e = 0; e < G::EMIT; e++) {
#pragma HLS UNROLL
                int tap, ch;
                window_lane<G>(e, s, tap, ch);
                if (e == b) v = taps[tap / G::KW][tap % G::KW][ch];
            }
            word[s] = v;
        }
        out.write(word);
    }
};

// Does a convolution's window fit tap_unit (every word within one tap, aligned blocks)?
template <class G>
struct window_aligned {
    static const bool value = G::ORDER == WINDOW_ORDER_COMPLEX
                                  ? G::ICG % G::SIMD == 0 && G::ICG % G::IN_BEAT == 0
                                  : G::ICG % G::SIMD == 0;
};

template <class G, bool ALIGNED = window_aligned<G>::value>
struct window_unit {
    typedef tap_unit<G> type;
};
template <class G>
struct window_unit<G, false> {
    typedef grid_unit<G, window_words<G> > type;
};

template <class G>
void sliding_window(hls::stream<vec<typename G::in_t, G::IN_BEAT> >& in,
                    hls::stream<vec<typename G::in_t, G::CHUNK> >& out, int images) {
#pragma HLS INLINE
    static_assert(G::C % G::IN_BEAT == 0, "an input word never crosses a pixel");
    static_assert((G::ROWS & (G::ROWS - 1)) == 0 && G::ROWS > (G::KH - 1) * G::DH + 1, "line buffer rows");
    window_process<typename window_unit<G>::type, storage_of<G>::value>::run(in, out, images);
}

}  // namespace nbq

#endif
