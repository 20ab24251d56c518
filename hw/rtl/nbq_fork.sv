// nbq_fork: copy one stream to N consumers (a tensor read by several layers).
//
// A beat leaves the input once every output has taken it; outputs that took
// it early are remembered, so a slow consumer never makes a fast one see a
// beat twice.
module nbq_fork #(
    parameter int WIDTH = 8,
    parameter int N = 2
) (
    input  logic               clk,
    input  logic               rst_n,
    input  logic               in_valid,
    output logic               in_ready,
    input  logic [WIDTH-1:0]   in_data,
    output logic [N-1:0]       out_valid,
    input  logic [N-1:0]       out_ready,
    output logic [N*WIDTH-1:0] out_data
);
  logic [N-1:0] done;  // outputs that already took the current beat
  wire [N-1:0] taking = out_valid & out_ready;
  assign in_ready = &(done | taking);
  assign out_valid = {N{in_valid}} & ~done;
  assign out_data = {N{in_data}};

  always_ff @(posedge clk) begin
    if (!rst_n) done <= '0;
    else if (in_valid && in_ready) done <= '0;
    else done <= done | taking;
  end
endmodule
