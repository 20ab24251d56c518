// nbq_cxnor_dot: PE binary complex dot products from four XNOR-popcounts.
//
// Complex input h = x + iy and weight W = A + iB, all parts binary:
//   W*h = (A.x - B.y) + i (B.x + A.y),
// each real product an XNOR-popcount (nbq_xnor_dot).  A and B are stored once
// and each is used twice.  Output lanes: PE real parts, then PE imaginary parts.
module nbq_cxnor_dot #(
    parameter int PE = 2,
    parameter int SIMD = 8,
    parameter int ACC_BITS = 8
) (
    input  logic [SIMD-1:0]         x,
    input  logic [SIMD-1:0]         x_mask,
    input  logic [SIMD-1:0]         y,
    input  logic [SIMD-1:0]         y_mask,
    input  logic [PE*SIMD-1:0]      a,
    input  logic [PE*SIMD-1:0]      b,
    output logic [2*PE*ACC_BITS-1:0] sum
);
  logic [PE*ACC_BITS-1:0] ax, by, bx, ay;
  nbq_xnor_dot #(.PE(PE), .SIMD(SIMD), .ACC_BITS(ACC_BITS)) u_ax (.x(x), .mask(x_mask), .w(a), .sum(ax));
  nbq_xnor_dot #(.PE(PE), .SIMD(SIMD), .ACC_BITS(ACC_BITS)) u_by (.x(y), .mask(y_mask), .w(b), .sum(by));
  nbq_xnor_dot #(.PE(PE), .SIMD(SIMD), .ACC_BITS(ACC_BITS)) u_bx (.x(x), .mask(x_mask), .w(b), .sum(bx));
  nbq_xnor_dot #(.PE(PE), .SIMD(SIMD), .ACC_BITS(ACC_BITS)) u_ay (.x(y), .mask(y_mask), .w(a), .sum(ay));

  for (genvar p = 0; p < PE; p++) begin : g_pe
    assign sum[p*ACC_BITS+:ACC_BITS] = ax[p*ACC_BITS+:ACC_BITS] - by[p*ACC_BITS+:ACC_BITS];
    assign sum[(PE+p)*ACC_BITS+:ACC_BITS] = bx[p*ACC_BITS+:ACC_BITS] + ay[p*ACC_BITS+:ACC_BITS];
  end
endmodule
