// nbq_rom: constant table (weights, thresholds, biases) loaded from a $readmemh file.
//
// Why a module: one place decides how tables are inferred.  REGISTERED = 1
// gives a synchronous read (block RAM for big weight tables, one cycle of
// latency that the caller pipelines around); REGISTERED = 0 gives an
// asynchronous read (LUT ROM) for the small per-channel tables.
module nbq_rom #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 2,
    parameter bit REGISTERED = 1'b1,
    parameter INIT_FILE = ""
) (
    input  logic                                   clk,
    input  logic                                   en,
    input  logic [(DEPTH <= 1 ? 1 : $clog2(DEPTH))-1:0] addr,
    output logic [WIDTH-1:0]                       q
);
  logic [WIDTH-1:0] mem[DEPTH];

  initial begin
    if (INIT_FILE != "") $readmemh(INIT_FILE, mem);
  end

  if (REGISTERED) begin : g_sync
    always_ff @(posedge clk) begin
      if (en) q <= mem[addr];
    end
  end else begin : g_async
    // the clock and enable only matter for the synchronous variant
    wire unused = &{1'b0, clk, en};
    assign q = mem[addr];
  end
endmodule
