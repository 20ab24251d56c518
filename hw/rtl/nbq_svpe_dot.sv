// nbq_svpe_dot: PE shift-add dot products of SIMD activations with po2 weight codes.
//
// The SVPE of n-BQ-NN without its DSPs: a power-of-two weight is a code
// (MSB sign, low n-1 bits magnitude index m; m = 0 is zero) whose integer value
// is +-2^(R-m), R = 2^(n-1)-1 (nbq.formats).  So each product is the activation
// shifted left by R-m, conditionally negated: no multiplier anywhere.  n = 1 is
// the sign codebook (1 = +1): a conditional negate only.
//
// Cheap negation: -v = ~v + 1, so each product enters the adder tree as v or
// ~v (an XOR per bit) and the +1s of a lane are added once, as the count of
// its negative products.  Products and tree are only as wide as a sum of
// SIMD products can get (TW bits, at most ACC_BITS; two's complement sums are
// exact modulo 2^width, and the true sum fits).
module nbq_svpe_dot #(
    parameter int PE = 2,
    parameter int SIMD = 4,
    parameter int X_BITS = 8,
    parameter bit X_SIGNED = 1'b0,
    parameter int W_BITS = 3,
    parameter int ACC_BITS = 16
) (
    input  logic [SIMD*X_BITS-1:0]    x,
    input  logic [PE*SIMD*W_BITS-1:0] w,
    output logic [PE*ACC_BITS-1:0]    sum
);
  localparam int R = (1 << (W_BITS - 1)) - 1;  // number of non-zero magnitudes
  localparam int MW = (W_BITS > 1) ? W_BITS - 1 : 1;
  localparam int PW = X_BITS + ((R > 1) ? R : 1);  // a shifted activation, signed
  localparam int TW0 = PW + $clog2(SIMD) + 1;  // any sum of SIMD products
  localparam int TW = (TW0 < ACC_BITS) ? TW0 : ACC_BITS;
  localparam int NW = $clog2(SIMD + 1) + 1;  // count of negative products, signed

  logic [SIMD*TW-1:0] xe;  // activations, sign- or zero-extended
  for (genvar s = 0; s < SIMD; s++) begin : g_ext
    wire [X_BITS-1:0] xs = x[s*X_BITS+:X_BITS];
    if (X_SIGNED) begin : g_s
      assign xe[s*TW+:TW] = TW'($signed(xs));
    end else begin : g_u
      assign xe[s*TW+:TW] = TW'(xs);
    end
  end

  for (genvar p = 0; p < PE; p++) begin : g_pe
    logic [SIMD*TW-1:0] term;
    logic [SIMD-1:0] neg;
    for (genvar s = 0; s < SIMD; s++) begin : g_simd
      wire [W_BITS-1:0] code = w[(p*SIMD+s)*W_BITS+:W_BITS];
      wire [TW-1:0] xs = xe[s*TW+:TW];
      wire [TW-1:0] mag;
      if (W_BITS == 1) begin : g_sign
        assign mag = xs;
        assign neg[s] = !code[0];
      end else begin : g_shift
        wire [MW-1:0] m = code[W_BITS-2:0];
        wire [MW-1:0] sh = MW'(R) - m;  // left shift R - m
        assign mag = (m == '0) ? '0 : (xs << sh);
        assign neg[s] = code[W_BITS-1] && (m != '0);
      end
      assign term[s*TW+:TW] = mag ^ {TW{neg[s]}};  // -v = ~v + 1; the +1 comes from the count below
    end
    logic [TW-1:0] total;
    logic [NW-1:0] n_neg;
    nbq_adder_tree #(.N(SIMD), .W(TW)) u_tree (.in(term), .sum(total));
    nbq_popcount #(.N(SIMD), .W(NW)) u_neg (.in(neg), .count(n_neg));
    wire [TW-1:0] lane = total + TW'(n_neg);
    assign sum[p*ACC_BITS+:ACC_BITS] = ACC_BITS'($signed(lane));
  end
endmodule
