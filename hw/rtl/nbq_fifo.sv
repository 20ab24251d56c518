// nbq_fifo: first-word-fall-through FIFO between streaming stages.
//
// Why: every layer of the network runs at its own pace (folding, row fills,
// image boundaries); FIFOs absorb the jitter so no layer waits on another
// within an image.  in_ready depends only on the occupancy register, never on
// out_ready, so FIFOs also cut the combinational ready chains between layers.
// DEPTH >= 2 keeps one beat per cycle through the FIFO.
module nbq_fifo #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 2
) (
    input  logic             clk,
    input  logic             rst_n,
    input  logic             in_valid,
    output logic             in_ready,
    input  logic [WIDTH-1:0] in_data,
    output logic             out_valid,
    input  logic             out_ready,
    output logic [WIDTH-1:0] out_data
);
  localparam int AW = (DEPTH <= 2) ? 1 : $clog2(DEPTH);
  localparam int CW = $clog2(DEPTH + 1);
  localparam logic [AW-1:0] LAST = AW'(DEPTH - 1);

  logic [WIDTH-1:0] mem[DEPTH];
  logic [AW-1:0] rd, wr;
  logic [CW-1:0] count;

  wire push = in_valid && in_ready;
  wire pop = out_valid && out_ready;

  assign in_ready  = count != CW'(DEPTH);
  assign out_valid = count != '0;
  assign out_data  = mem[rd];

  always_ff @(posedge clk) begin
    if (push) mem[wr] <= in_data;
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      rd <= '0;
      wr <= '0;
      count <= '0;
    end else begin
      if (push) wr <= (wr == LAST) ? '0 : wr + 1'b1;
      if (pop) rd <= (rd == LAST) ? '0 : rd + 1'b1;
      if (push && !pop) count <= count + 1'b1;
      else if (pop && !push) count <= count - 1'b1;
    end
  end
endmodule
