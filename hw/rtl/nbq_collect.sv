// nbq_collect: join N consecutive beats of LANES elements into one beat.
//
// Used after an MVAU (NF neuron folds -> one pixel with every channel) and for
// Flatten (H*W pixels -> one dense input vector).  Beat i lands at element
// i*LANES (first beat lowest).  SPLIT = 2 is for the complex engine, whose
// beats carry PE real lanes then PE imaginary lanes: block h of beat i lands at
// h*(N*LANES/2) + i*LANES/2, putting all real channels before all imaginary
// ones.  The last beat goes straight to the output register, so a full
// output register does not cost a cycle: one input beat per cycle sustained.
module nbq_collect #(
    parameter int LANES = 2,
    parameter int E_BITS = 8,
    parameter int N = 2,
    parameter int SPLIT = 1
) (
    input  logic                        clk,
    input  logic                        rst_n,
    input  logic                        in_valid,
    output logic                        in_ready,
    input  logic [LANES*E_BITS-1:0]     in_data,
    output logic                        out_valid,
    input  logic                        out_ready,
    output logic [N*LANES*E_BITS-1:0]   out_data
);
  localparam int LB = LANES / SPLIT;  // lanes per block
  localparam int BB = LB * E_BITS;  // bits per block
  localparam int IW = (N <= 1) ? 1 : $clog2(N);

  logic [IW-1:0] idx;
  logic [N*LANES*E_BITS-1:0] parts, full;
  wire last = (idx == IW'(N - 1));
  wire out_free = !out_valid || out_ready;
  assign in_ready = !last || out_free;
  wire take = in_valid && in_ready;

  // `full` = the parts gathered so far with this beat placed at its position
  for (genvar i = 0; i < N; i++) begin : g_beat
    for (genvar h = 0; h < SPLIT; h++) begin : g_block
      localparam int POS = (h * N + i) * BB;
      assign full[POS+:BB] = (idx == IW'(i)) ? in_data[h*BB+:BB] : parts[POS+:BB];
    end
  end

  always_ff @(posedge clk) begin
    if (take) begin
      if (last) out_data <= full;
      else parts <= full;
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      idx <= '0;
      out_valid <= 1'b0;
    end else begin
      if (out_ready) out_valid <= 1'b0;
      if (take) begin
        idx <= last ? '0 : idx + 1'b1;
        if (last) out_valid <= 1'b1;
      end
    end
  end
endmodule
