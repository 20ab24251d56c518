// nbq_pool: reduce each window from nbq_window to one pixel: max or sum per channel.
//
// MODE 0: max (MaxPool; the window's padding was filled with the input's
// lowest value, so it never wins).  MODE 1: sum (SumPool, the exact form of
// average pooling; the 1/k^2 lives in the tensor scale).  Window elements are
// in (tap, channel) order.
module nbq_pool #(
    parameter int ELEMS = 2,
    parameter int TAPS = 4,
    parameter int IN_BITS = 8,
    parameter bit IN_SIGNED = 1'b0,
    parameter int OUT_BITS = 8,
    parameter int MODE = 0
) (
    input  logic                        clk,
    input  logic                        rst_n,
    input  logic                        in_valid,
    output logic                        in_ready,
    input  logic [TAPS*ELEMS*IN_BITS-1:0] in_data,
    output logic                        out_valid,
    input  logic                        out_ready,
    output logic [ELEMS*OUT_BITS-1:0]   out_data
);
  localparam int XW = ((IN_BITS + 1) > OUT_BITS) ? IN_BITS + 1 : OUT_BITS;  // signed working width


  logic [ELEMS*OUT_BITS-1:0] result;
  for (genvar c = 0; c < ELEMS; c++) begin : g_ch
    logic [TAPS*XW-1:0] v;
    for (genvar t = 0; t < TAPS; t++) begin : g_tap
      wire [IN_BITS-1:0] e = in_data[(t*ELEMS+c)*IN_BITS+:IN_BITS];
      assign v[t*XW+:XW] = IN_SIGNED ? XW'($signed(e)) : XW'(e);
    end
    logic [XW-1:0] r;
    if (MODE == 0) begin : g_max
      always_comb begin
        r = v[XW-1:0];
        for (int t = 1; t < TAPS; t++) begin
          if ($signed(v[t*XW+:XW]) > $signed(r)) r = v[t*XW+:XW];
        end
      end
    end else begin : g_sum
      nbq_adder_tree #(.N(TAPS), .W(XW)) u_sum (.in(v), .sum(r));
    end
    assign result[c*OUT_BITS+:OUT_BITS] = r[OUT_BITS-1:0];
    if (XW > OUT_BITS) begin : g_unused
      wire unused = &{1'b0, r[XW-1:OUT_BITS]};
    end
  end

  nbq_stage_reg #(.W(ELEMS*OUT_BITS)) u_reg (
      .clk, .rst_n, .in_valid, .in_ready, .in_data(result), .out_valid, .out_ready, .out_data
  );
endmodule
