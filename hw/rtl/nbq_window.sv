// nbq_window: line buffer + sliding window over a streamed H x W image.
//
// Input: one pixel (ELEMS elements) per beat, row-major, already padded.
// Output: one beat per KH x KW window, at the given stride and dilation, with
// elements ordered (kh, kw, channel) - the order of the flattened weights.
//
// How: SPAN_H-1 image rows live in one memory word per column (all rows of a
// column side by side, so a column is one read and one write).  Each accepted
// pixel pushes its column, topped by the new pixel, into a SPAN_H x SPAN_W
// shift register.  When the pixel completes a window at a stride position, a
// copy goes to the output register; the line buffer keeps streaming as long as
// no second window is waiting.
module nbq_window #(
    parameter int H = 6,
    parameter int W = 6,
    parameter int ELEMS = 1,
    parameter int E_BITS = 8,
    parameter int KH = 3,
    parameter int KW = 3,
    parameter int SH = 1,
    parameter int SW = 1,
    parameter int DH = 1,
    parameter int DW = 1
) (
    input  logic                          clk,
    input  logic                          rst_n,
    input  logic                          in_valid,
    output logic                          in_ready,
    input  logic [ELEMS*E_BITS-1:0]       in_data,
    output logic                          out_valid,
    input  logic                          out_ready,
    output logic [KH*KW*ELEMS*E_BITS-1:0] out_data
);
  localparam int P = ELEMS * E_BITS;  // bits per pixel
  localparam int SPAN_H = DH * (KH - 1) + 1;
  localparam int SPAN_W = DW * (KW - 1) + 1;
  localparam int RW = $clog2(H + SH + 1);
  localparam int CW = $clog2(W + SW + 1);

  logic [RW-1:0] r, next_r;  // current row; next row that ends windows
  logic [CW-1:0] c, next_c;  // current column; next column that ends a window
  wire ends_window = (r == next_r) && (c == next_c);
  wire out_free = !out_valid || out_ready;
  wire take = in_valid && in_ready;
  assign in_ready = !ends_window || out_free;

  // column of the window for the incoming pixel: SPAN_H-1 buffered rows, then the new pixel
  logic [SPAN_H*P-1:0] column;
  logic [SPAN_H*SPAN_W*P-1:0] win_next;  // row i, column j at (i*SPAN_W + j)*P, after this pixel

  if (SPAN_H > 1) begin : g_lines
    localparam int LW = (W <= 1) ? 1 : $clog2(W);
    logic [(SPAN_H-1)*P-1:0] lines[W];
    wire [LW-1:0] col = c[LW-1:0];  // c < W whenever a pixel is taken
    wire [(SPAN_H-1)*P-1:0] old = lines[col];
    assign column = {in_data, old};
    always_ff @(posedge clk) begin
      if (take) lines[col] <= column[SPAN_H*P-1:P];  // drop the oldest row
    end
  end else begin : g_no_lines
    assign column = in_data;
  end

  if (SPAN_W > 1) begin : g_hist
    // the SPAN_W-1 newest columns seen so far, same row-major layout
    logic [SPAN_H*(SPAN_W-1)*P-1:0] hist;
    for (genvar i = 0; i < SPAN_H; i++) begin : g_row
      assign win_next[i*SPAN_W*P+:(SPAN_W-1)*P] = hist[i*(SPAN_W-1)*P+:(SPAN_W-1)*P];
      assign win_next[(i*SPAN_W+SPAN_W-1)*P+:P] = column[i*P+:P];
    end
    always_ff @(posedge clk) begin
      if (take) begin
        for (int i = 0; i < SPAN_H; i++) begin
          hist[i*(SPAN_W-1)*P+:(SPAN_W-1)*P] <= win_next[i*SPAN_W*P+P+:(SPAN_W-1)*P];
        end
      end
    end
  end else begin : g_no_hist
    assign win_next = column;
  end

  // taps at the dilation positions, in (kh, kw, channel) order
  logic [KH*KW*P-1:0] taps;
  for (genvar i = 0; i < KH; i++) begin : g_tap_r
    for (genvar j = 0; j < KW; j++) begin : g_tap_c
      assign taps[(i*KW+j)*P+:P] = win_next[(i*DH*SPAN_W+j*DW)*P+:P];
    end
  end

  always_ff @(posedge clk) begin
    if (take && ends_window) out_data <= taps;
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      r <= '0;
      c <= '0;
      next_r <= RW'(SPAN_H - 1);
      next_c <= CW'(SPAN_W - 1);
      out_valid <= 1'b0;
    end else begin
      if (out_ready) out_valid <= 1'b0;
      if (take) begin
        if (ends_window) begin
          out_valid <= 1'b1;
          next_c <= next_c + CW'(SW);
        end
        if (c == CW'(W - 1)) begin  // end of row
          c <= '0;
          next_c <= CW'(SPAN_W - 1);
          if (r == RW'(H - 1)) begin  // end of image
            r <= '0;
            next_r <= RW'(SPAN_H - 1);
          end else begin
            r <= r + 1'b1;
            if (r == next_r) next_r <= next_r + RW'(SH);
          end
        end else begin
          c <= c + 1'b1;
        end
      end
    end
  end
endmodule
