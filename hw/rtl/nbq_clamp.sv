// nbq_clamp: elementwise integer clamp (ReLU is LO = 0 without HI).
module nbq_clamp #(
    parameter int ELEMS = 2,
    parameter int IN_BITS = 8,
    parameter bit IN_SIGNED = 1'b1,
    parameter int OUT_BITS = 8,
    parameter bit HAS_LO = 1'b1,
    parameter int LO = 0,
    parameter bit HAS_HI = 1'b0,
    parameter int HI = 0
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
  localparam int XW = ((IN_BITS > OUT_BITS) ? IN_BITS : OUT_BITS) + 2;


  logic [ELEMS*OUT_BITS-1:0] result;
  for (genvar c = 0; c < ELEMS; c++) begin : g_el
    wire [IN_BITS-1:0] e = in_data[c*IN_BITS+:IN_BITS];
    wire signed [XW-1:0] x = IN_SIGNED ? XW'($signed(e)) : XW'(e);
    wire signed [XW-1:0] lo = XW'(LO);
    wire signed [XW-1:0] hi = XW'(HI);
    wire signed [XW-1:0] a = (HAS_LO && x < lo) ? lo : x;
    wire signed [XW-1:0] b = (HAS_HI && a > hi) ? hi : a;
    assign result[c*OUT_BITS+:OUT_BITS] = b[OUT_BITS-1:0];
    wire unused = &{1'b0, b[XW-1:OUT_BITS]};
  end

  nbq_stage_reg #(.W(ELEMS*OUT_BITS)) u_reg (
      .clk, .rst_n, .in_valid, .in_ready, .in_data(result), .out_valid, .out_ready, .out_data
  );
endmodule
