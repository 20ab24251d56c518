// nbq_accumulator: the back half every dot-product engine shares.
//
// Takes one beat of per-lane partial sums per cycle, registers it (so the
// products + adder tree in front have a full cycle), accumulates beats until
// `last`, then hands the LANES totals to the output register.  The first beat
// of a dot product loads instead of adding, so no cycle is spent clearing.
// ACC_BITS comes from the compiler's worst-case bound: nothing can wrap.
module nbq_accumulator #(
    parameter int LANES = 2,
    parameter int ACC_BITS = 16
) (
    input  logic                      clk,
    input  logic                      rst_n,
    input  logic                      in_valid,
    output logic                      in_ready,
    input  logic [LANES*ACC_BITS-1:0] in_sum,
    input  logic                      in_last,
    output logic                      out_valid,
    input  logic                      out_ready,
    output logic [LANES*ACC_BITS-1:0] out_acc
);
  // One enable for the whole pipeline: it moves unless a finished result is waiting.
  wire en = !out_valid || out_ready;
  assign in_ready = en;

  logic                      s1_valid, s1_last, first;
  logic [LANES*ACC_BITS-1:0] s1_sum, acc, acc_next;

  for (genvar p = 0; p < LANES; p++) begin : g_lane
    assign acc_next[p*ACC_BITS+:ACC_BITS] =
        (first ? '0 : acc[p*ACC_BITS+:ACC_BITS]) + s1_sum[p*ACC_BITS+:ACC_BITS];
  end

  always_ff @(posedge clk) begin
    if (en) begin
      s1_sum  <= in_sum;
      s1_last <= in_last;
      if (s1_valid) begin
        if (s1_last) out_acc <= acc_next;
        else acc <= acc_next;
      end
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      s1_valid  <= 1'b0;
      first     <= 1'b1;
      out_valid <= 1'b0;
    end else if (en) begin
      s1_valid  <= in_valid;
      out_valid <= s1_valid && s1_last;
      if (s1_valid) first <= s1_last;
    end
  end
endmodule
