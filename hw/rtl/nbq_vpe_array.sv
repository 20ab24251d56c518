// nbq_vpe_array: the multiplier (VPE) engine: PE lanes x SIMD integer products, adder tree, accumulator.
//
// Stream in: one beat = SIMD activations and the PE x SIMD weights that meet
// them (lane p, element s at bit (p*SIMD + s)*W_BITS), `last` on the final
// beat of a dot product.  Stream out: the PE accumulated dot products.
// Folding (how many beats make one dot product) is the caller's business.
module nbq_vpe_array #(
    parameter int PE = 2,
    parameter int SIMD = 4,
    parameter int X_BITS = 8,
    parameter bit X_SIGNED = 1'b0,
    parameter int W_BITS = 8,
    parameter int ACC_BITS = 24
) (
    input  logic                      clk,
    input  logic                      rst_n,
    input  logic                      in_valid,
    output logic                      in_ready,
    input  logic [SIMD*X_BITS-1:0]    in_x,
    input  logic [PE*SIMD*W_BITS-1:0] in_w,
    input  logic                      in_last,
    output logic                      out_valid,
    input  logic                      out_ready,
    output logic [PE*ACC_BITS-1:0]    out_acc
);
  logic [PE*ACC_BITS-1:0] sum;
  nbq_vpe_dot #(
      .PE(PE), .SIMD(SIMD), .X_BITS(X_BITS), .X_SIGNED(X_SIGNED), .W_BITS(W_BITS), .ACC_BITS(ACC_BITS)
  ) u_dot (.x(in_x), .w(in_w), .sum(sum));

  nbq_accumulator #(.LANES(PE), .ACC_BITS(ACC_BITS)) u_acc (
      .clk, .rst_n, .in_valid, .in_ready, .in_sum(sum), .in_last, .out_valid, .out_ready, .out_acc
  );
endmodule
