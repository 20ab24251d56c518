// nbq_cxnor_array: the binary complex convolution engine.
//
// Stream in: SIMD complex activations as bit vectors x (real) and y
// (imaginary) with masks, and the PE x SIMD complex weights as bit vectors a
// (real) and b (imaginary), each stored once; `last` ends a dot product.
// Stream out: 2*PE sums, PE real parts (A.x - B.y) then PE imaginary parts
// (B.x + A.y).
module nbq_cxnor_array #(
    parameter int PE = 2,
    parameter int SIMD = 8,
    parameter int ACC_BITS = 8
) (
    input  logic                     clk,
    input  logic                     rst_n,
    input  logic                     in_valid,
    output logic                     in_ready,
    input  logic [SIMD-1:0]          in_x,
    input  logic [SIMD-1:0]          in_x_mask,
    input  logic [SIMD-1:0]          in_y,
    input  logic [SIMD-1:0]          in_y_mask,
    input  logic [PE*SIMD-1:0]       in_a,
    input  logic [PE*SIMD-1:0]       in_b,
    input  logic                     in_last,
    output logic                     out_valid,
    input  logic                     out_ready,
    output logic [2*PE*ACC_BITS-1:0] out_acc
);
  logic [2*PE*ACC_BITS-1:0] sum;
  nbq_cxnor_dot #(.PE(PE), .SIMD(SIMD), .ACC_BITS(ACC_BITS)) u_dot (
      .x(in_x), .x_mask(in_x_mask), .y(in_y), .y_mask(in_y_mask), .a(in_a), .b(in_b), .sum(sum)
  );

  nbq_accumulator #(.LANES(2 * PE), .ACC_BITS(ACC_BITS)) u_acc (
      .clk, .rst_n, .in_valid, .in_ready, .in_sum(sum), .in_last, .out_valid, .out_ready, .out_acc
  );
endmodule
