// nbq_popcount: number of set bits of an N-bit vector, through the balanced adder tree.
module nbq_popcount #(
    parameter int N = 8,
    parameter int W = $clog2(N + 1)
) (
    input  logic [N-1:0] in,
    output logic [W-1:0] count
);
  logic [N*W-1:0] ext;
  for (genvar i = 0; i < N; i++) begin : g_ext
    assign ext[i*W+:W] = W'(in[i]);
  end
  nbq_adder_tree #(.N(N), .W(W)) u_tree (.in(ext), .sum(count));
endmodule
