// nbq_concat: channel concatenation of two streams: out = {b << SHIFT_B, a << SHIFT_A}
// (a's elements in the low bits, so a's channels come first).
//
// Both input streams must present a beat (one pixel or vector each); the compiler
// chains instances for more inputs (the running result as a, SHIFT_A = 0).  Each
// element is sign- or zero-extended to OUT_BITS, then shifted onto the finest scale.
module nbq_concat #(
    parameter int A_ELEMS = 2,
    parameter int A_BITS = 8,
    parameter bit A_SIGNED = 1'b1,
    parameter int B_ELEMS = 2,
    parameter int B_BITS = 8,
    parameter bit B_SIGNED = 1'b1,
    parameter int SHIFT_A = 0,
    parameter int SHIFT_B = 0,
    parameter int OUT_BITS = 9
) (
    input  logic                                  clk,
    input  logic                                  rst_n,
    input  logic                                  a_valid,
    output logic                                  a_ready,
    input  logic [A_ELEMS*A_BITS-1:0]             a_data,
    input  logic                                  b_valid,
    output logic                                  b_ready,
    input  logic [B_ELEMS*B_BITS-1:0]             b_data,
    output logic                                  out_valid,
    input  logic                                  out_ready,
    output logic [(A_ELEMS+B_ELEMS)*OUT_BITS-1:0] out_data
);
  wire en = !out_valid || out_ready;
  wire both = a_valid && b_valid;
  assign a_ready = en && b_valid;
  assign b_ready = en && a_valid;

  logic [(A_ELEMS+B_ELEMS)*OUT_BITS-1:0] result;
  for (genvar c = 0; c < A_ELEMS; c++) begin : g_a
    wire [A_BITS-1:0] e = a_data[c*A_BITS+:A_BITS];
    wire [OUT_BITS-1:0] v = A_SIGNED ? OUT_BITS'($signed(e)) : OUT_BITS'(e);
    assign result[c*OUT_BITS+:OUT_BITS] = v << SHIFT_A;
  end
  for (genvar c = 0; c < B_ELEMS; c++) begin : g_b
    wire [B_BITS-1:0] e = b_data[c*B_BITS+:B_BITS];
    wire [OUT_BITS-1:0] v = B_SIGNED ? OUT_BITS'($signed(e)) : OUT_BITS'(e);
    assign result[(A_ELEMS+c)*OUT_BITS+:OUT_BITS] = v << SHIFT_B;
  end

  always_ff @(posedge clk) begin
    if (en && both) out_data <= result;
  end

  always_ff @(posedge clk) begin
    if (!rst_n) out_valid <= 1'b0;
    else if (en) out_valid <= both;
  end
endmodule
