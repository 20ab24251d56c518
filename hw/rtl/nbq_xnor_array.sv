// nbq_xnor_array: the binary engine: PE lanes x SIMD XNOR-popcount products, accumulator.
//
// Stream in: SIMD activation bits (1 = +1), their mask (0 = the tap is zero,
// e.g. padding), PE x SIMD weight bits (lane p, element s at bit p*SIMD + s),
// `last` on the final beat of a dot product.  Stream out: PE dot products.
module nbq_xnor_array #(
    parameter int PE = 2,
    parameter int SIMD = 8,
    parameter int ACC_BITS = 8
) (
    input  logic                   clk,
    input  logic                   rst_n,
    input  logic                   in_valid,
    output logic                   in_ready,
    input  logic [SIMD-1:0]        in_x,
    input  logic [SIMD-1:0]        in_mask,
    input  logic [PE*SIMD-1:0]     in_w,
    input  logic                   in_last,
    output logic                   out_valid,
    input  logic                   out_ready,
    output logic [PE*ACC_BITS-1:0] out_acc
);
  logic [PE*ACC_BITS-1:0] sum;
  nbq_xnor_dot #(.PE(PE), .SIMD(SIMD), .ACC_BITS(ACC_BITS)) u_dot (.x(in_x), .mask(in_mask), .w(in_w), .sum(sum));

  nbq_accumulator #(.LANES(PE), .ACC_BITS(ACC_BITS)) u_acc (
      .clk, .rst_n, .in_valid, .in_ready, .in_sum(sum), .in_last, .out_valid, .out_ready, .out_acc
  );
endmodule
