// nbq_stage_reg: the output register of a one-beat-per-cycle streaming stage.
//
// Why one module: the elementwise stages (bias, clamp, threshold, pool) each
// compute their result combinationally from the input beat and register it
// here.  A beat moves when the register is empty or being read, so the stage
// runs at full rate without bubbles and backpressure passes straight through.
module nbq_stage_reg #(
    parameter int W = 8
) (
    input  logic         clk,
    input  logic         rst_n,
    input  logic         in_valid,
    output logic         in_ready,
    input  logic [W-1:0] in_data,
    output logic         out_valid,
    input  logic         out_ready,
    output logic [W-1:0] out_data
);
  assign in_ready = !out_valid || out_ready;

  always_ff @(posedge clk) begin
    if (in_ready && in_valid) out_data <= in_data;
  end

  always_ff @(posedge clk) begin
    if (!rst_n) out_valid <= 1'b0;
    else if (in_ready) out_valid <= in_valid;
  end
endmodule
