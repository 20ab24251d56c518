// nbq_threshold: per-channel multi-threshold activation (BatchNorm + quantizer, folded).
//
// out = OUT_LO + STEP * (number of thresholds crossed), where threshold t is
// crossed when x >= t (direction bit 1) or x <= t (direction bit 0) - exactly
// nbq.reference._threshold.  Comparisons only: no multiplier (STEP is a
// constant, applied as shifts and adds).
//
// A beat holds LANES values; beats cycle through NF channel groups (the
// neuron folds of the MVAU in front, or NF = 1 for a whole pixel), so the
// table row for a beat is its fold index.  Table word per fold: for lane p,
// L thresholds of T_BITS (two's complement), then the direction bit.
module nbq_threshold #(
    parameter int LANES = 2,
    parameter int NF = 1,
    parameter int IN_BITS = 8,
    parameter bit IN_SIGNED = 1'b1,
    parameter int L = 3,
    parameter int T_BITS = 9,
    parameter int OUT_BITS = 2,
    parameter int OUT_LO = 0,
    parameter int STEP = 1,
    parameter T_FILE = ""
) (
    input  logic                      clk,
    input  logic                      rst_n,
    input  logic                      in_valid,
    output logic                      in_ready,
    input  logic [LANES*IN_BITS-1:0]  in_data,
    output logic                      out_valid,
    input  logic                      out_ready,
    output logic [LANES*OUT_BITS-1:0] out_data
);
  localparam int ROW = L * T_BITS + 1;
  localparam int CW = ((IN_BITS + 1) > T_BITS) ? IN_BITS + 1 : T_BITS;  // signed compare width
  localparam int NW = $clog2(L + 1);
  localparam int FW = (NF <= 1) ? 1 : $clog2(NF);

  function automatic logic [OUT_BITS-1:0] times_step(input logic [NW-1:0] n);
    logic [OUT_BITS-1:0] acc;
    acc = '0;
    for (int b = 0; b < 31; b++) begin
      if (((STEP >> b) & 1) != 0) acc = acc + (OUT_BITS'(n) << b);
    end
    times_step = acc;
  endfunction

  logic [FW-1:0] nf;
  logic [LANES*ROW-1:0] row;
  nbq_rom #(.WIDTH(LANES * ROW), .DEPTH(NF), .REGISTERED(1'b0), .INIT_FILE(T_FILE)) u_t (
      .clk, .en(1'b1), .addr(nf), .q(row)
  );


  logic [LANES*OUT_BITS-1:0] result;
  for (genvar p = 0; p < LANES; p++) begin : g_lane
    wire [IN_BITS-1:0] xv = in_data[p*IN_BITS+:IN_BITS];
    wire signed [CW-1:0] x = IN_SIGNED ? CW'($signed(xv)) : CW'(xv);
    wire up = row[p*ROW+L*T_BITS];
    logic [L-1:0] crossed;
    for (genvar l = 0; l < L; l++) begin : g_level
      wire signed [CW-1:0] t = CW'($signed(row[p*ROW+l*T_BITS+:T_BITS]));
      assign crossed[l] = up ? (x >= t) : (x <= t);
    end
    logic [NW-1:0] n;
    nbq_popcount #(.N(L), .W(NW)) u_n (.in(crossed), .count(n));
    assign result[p*OUT_BITS+:OUT_BITS] = OUT_BITS'(OUT_LO) + times_step(n);
  end

  nbq_stage_reg #(.W(LANES*OUT_BITS)) u_reg (
      .clk, .rst_n, .in_valid, .in_ready, .in_data(result), .out_valid, .out_ready, .out_data
  );

  // the table row of the next beat: its neuron fold
  always_ff @(posedge clk) begin
    if (!rst_n) nf <= '0;
    else if (in_valid && in_ready) nf <= (nf == FW'(NF - 1)) ? '0 : nf + 1'b1;
  end
endmodule
