// nbq_add: residual join: out = (a << SHIFT_A) + (b << SHIFT_B), elementwise.
//
// Both input streams must present a beat; the shifts put both operands on the
// finer of their two scales (decided by the compiler).
module nbq_add #(
    parameter int ELEMS = 2,
    parameter int A_BITS = 8,
    parameter bit A_SIGNED = 1'b1,
    parameter int B_BITS = 8,
    parameter bit B_SIGNED = 1'b1,
    parameter int SHIFT_A = 0,
    parameter int SHIFT_B = 0,
    parameter int OUT_BITS = 9
) (
    input  logic                      clk,
    input  logic                      rst_n,
    input  logic                      a_valid,
    output logic                      a_ready,
    input  logic [ELEMS*A_BITS-1:0]   a_data,
    input  logic                      b_valid,
    output logic                      b_ready,
    input  logic [ELEMS*B_BITS-1:0]   b_data,
    output logic                      out_valid,
    input  logic                      out_ready,
    output logic [ELEMS*OUT_BITS-1:0] out_data
);
  wire en = !out_valid || out_ready;
  wire both = a_valid && b_valid;
  assign a_ready = en && b_valid;
  assign b_ready = en && a_valid;

  logic [ELEMS*OUT_BITS-1:0] result;
  for (genvar c = 0; c < ELEMS; c++) begin : g_el
    wire [A_BITS-1:0] ae = a_data[c*A_BITS+:A_BITS];
    wire [B_BITS-1:0] be = b_data[c*B_BITS+:B_BITS];
    wire [OUT_BITS-1:0] av = A_SIGNED ? OUT_BITS'($signed(ae)) : OUT_BITS'(ae);
    wire [OUT_BITS-1:0] bv = B_SIGNED ? OUT_BITS'($signed(be)) : OUT_BITS'(be);
    assign result[c*OUT_BITS+:OUT_BITS] = (av << SHIFT_A) + (bv << SHIFT_B);
  end

  always_ff @(posedge clk) begin
    if (en && both) out_data <= result;
  end

  always_ff @(posedge clk) begin
    if (!rst_n) out_valid <= 1'b0;
    else if (en) out_valid <= both;
  end
endmodule
