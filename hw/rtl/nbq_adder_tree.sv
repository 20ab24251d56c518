// nbq_adder_tree: balanced sum of N signed W-bit values (combinational).
//
// Why a balanced tree: a linear chain of N adders is N deep; pairing values
// level by level keeps the depth at ceil(log2 N), which is what lets a wide
// SIMD dot product close timing.  Every node is W bits: callers size W from
// the worst-case bound of the whole sum, which also bounds every partial sum
// (and two's complement sums are exact modulo 2^W anyway).
module nbq_adder_tree #(
    parameter int N = 4,
    parameter int W = 8
) (
    input  logic [N*W-1:0] in,
    output logic [W-1:0]   sum
);
  localparam int LEVELS = (N <= 1) ? 0 : $clog2(N);

  for (genvar l = 0; l <= LEVELS; l++) begin : g_lvl
    localparam int CNT = (N + (1 << l) - 1) >> l;  // nodes on this level
    logic [CNT*W-1:0] v;
    if (l == 0) begin : g_leaves
      assign v = in;
    end else begin : g_sums
      localparam int PREV = (N + (1 << (l - 1)) - 1) >> (l - 1);
      for (genvar i = 0; i < CNT; i++) begin : g_node
        if (2 * i + 1 < PREV) begin : g_pair
          assign v[i*W+:W] = g_lvl[l-1].v[2*i*W+:W] + g_lvl[l-1].v[(2*i+1)*W+:W];
        end else begin : g_odd  // the odd one out moves up a level unchanged
          assign v[i*W+:W] = g_lvl[l-1].v[2*i*W+:W];
        end
      end
    end
  end
  assign sum = g_lvl[LEVELS].v;
endmodule
