// nbq_xnor_dot: PE binary dot products by XNOR and popcount.
//
// Activations and weights are bits (1 = +1, 0 = -1).  A product is +1 exactly
// when the bits agree, so a dot product over K terms is 2*popcount(XNOR) - K.
// The mask marks taps that hold a value at all: zero padding of a binary
// feature map (and zero activations) contribute nothing, so
//   dot = 2*popcount(XNOR & mask) - popcount(mask),
// which is K terms' 2*popcount - K when every tap is present.
module nbq_xnor_dot #(
    parameter int PE = 2,
    parameter int SIMD = 8,
    parameter int ACC_BITS = 8
) (
    input  logic [SIMD-1:0]       x,
    input  logic [SIMD-1:0]       mask,
    input  logic [PE*SIMD-1:0]    w,
    output logic [PE*ACC_BITS-1:0] sum
);
  localparam int CW = $clog2(SIMD + 1) + 2;  // popcount, doubled, signed

  logic [CW-1:0] k;
  nbq_popcount #(.N(SIMD), .W(CW)) u_k (.in(mask), .count(k));

  for (genvar p = 0; p < PE; p++) begin : g_pe
    logic [CW-1:0] agree;
    nbq_popcount #(.N(SIMD), .W(CW)) u_pc (.in(~(x ^ w[p*SIMD+:SIMD]) & mask), .count(agree));
    wire [CW-1:0] dot = (agree << 1) - k;
    assign sum[p*ACC_BITS+:ACC_BITS] = ACC_BITS'($signed(dot));  // |dot| <= SIMD fits by contract
  end
endmodule
