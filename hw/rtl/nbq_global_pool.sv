// nbq_global_pool: max or sum of each channel over a whole N-pixel image.
//
// Why not the sliding window: a pool whose window is the whole image needs no
// line buffer, only one running value per channel.  The running value of a
// new image is loaded, not added, so images follow each other without a gap;
// the result moves to a separate output register.
module nbq_global_pool #(
    parameter int ELEMS = 2,
    parameter int N = 4,
    parameter int IN_BITS = 8,
    parameter bit IN_SIGNED = 1'b0,
    parameter int OUT_BITS = 10,
    parameter int MODE = 1
) (
    input  logic                      clk,
    input  logic                      rst_n,
    input  logic                      in_valid,
    output logic                      in_ready,
    input  logic [ELEMS*IN_BITS-1:0]  in_data,
    output logic                      out_valid,
    input  logic                      out_ready,
    output logic [ELEMS*OUT_BITS-1:0] out_data
);
  localparam int XW = ((IN_BITS + 1) > OUT_BITS) ? IN_BITS + 1 : OUT_BITS;
  localparam int IW = $clog2(N + 1);

  logic [IW-1:0] idx;
  logic [ELEMS*XW-1:0] run, next;
  wire first = (idx == '0);
  wire last = (idx == IW'(N - 1));
  wire out_free = !out_valid || out_ready;
  assign in_ready = !last || out_free;
  wire take = in_valid && in_ready;

  for (genvar c = 0; c < ELEMS; c++) begin : g_ch
    wire [IN_BITS-1:0] e = in_data[c*IN_BITS+:IN_BITS];
    wire [XW-1:0] x = IN_SIGNED ? XW'($signed(e)) : XW'(e);
    wire [XW-1:0] acc = run[c*XW+:XW];
    if (MODE == 0) begin : g_max
      assign next[c*XW+:XW] = (first || $signed(x) > $signed(acc)) ? x : acc;
    end else begin : g_sum
      assign next[c*XW+:XW] = first ? x : acc + x;
    end
  end

  always_ff @(posedge clk) begin
    if (take) begin
      run <= next;
      if (last) begin
        for (int c = 0; c < ELEMS; c++) out_data[c*OUT_BITS+:OUT_BITS] <= next[c*XW+:OUT_BITS];
      end
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      idx <= '0;
      out_valid <= 1'b0;
    end else begin
      if (out_ready) out_valid <= 1'b0;
      if (take) begin
        idx <= last ? '0 : idx + 1'b1;
        if (last) out_valid <= 1'b1;
      end
    end
  end
endmodule
