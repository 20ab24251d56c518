// nbq_vpe_dot: PE multiply-add dot products (the VPE baseline of n-BQ-NN).
//
// Same array shape as nbq_svpe_dot but with real signed multipliers on
// two's-complement integer weights, so resource and speed comparisons
// between the shift-add SVPE and a DSP-based VPE are like for like.  The adder
// tree is as wide as a sum of SIMD products can get (at most ACC_BITS).
module nbq_vpe_dot #(
    parameter int PE = 2,
    parameter int SIMD = 4,
    parameter int X_BITS = 8,
    parameter bit X_SIGNED = 1'b0,
    parameter int W_BITS = 8,
    parameter int ACC_BITS = 24
) (
    input  logic [SIMD*X_BITS-1:0]    x,
    input  logic [PE*SIMD*W_BITS-1:0] w,
    output logic [PE*ACC_BITS-1:0]    sum
);
  localparam int PW = X_BITS + W_BITS + 1;
  localparam int TW0 = PW + $clog2(SIMD) + 1;
  localparam int TW = (TW0 < ACC_BITS) ? TW0 : ACC_BITS;

  for (genvar p = 0; p < PE; p++) begin : g_pe
    logic [SIMD*TW-1:0] prod;
    for (genvar s = 0; s < SIMD; s++) begin : g_simd
      wire [X_BITS-1:0] xs = x[s*X_BITS+:X_BITS];
      wire signed [X_BITS:0] xv = {X_SIGNED & xs[X_BITS-1], xs};  // one bit more: unsigned stays positive
      wire signed [W_BITS-1:0] wv = w[(p*SIMD+s)*W_BITS+:W_BITS];
      wire signed [PW-1:0] pr = xv * wv;
      if (TW < PW) begin : g_cut  // exact modulo 2^TW, and the sums fit
        assign prod[s*TW+:TW] = pr[TW-1:0];
        wire unused = &{1'b0, pr[PW-1:TW]};
      end else begin : g_ext
        assign prod[s*TW+:TW] = TW'(pr);
      end
    end
    logic [TW-1:0] total;
    nbq_adder_tree #(.N(SIMD), .W(TW)) u_tree (.in(prod), .sum(total));
    assign sum[p*ACC_BITS+:ACC_BITS] = ACC_BITS'($signed(total));
  end
endmodule
