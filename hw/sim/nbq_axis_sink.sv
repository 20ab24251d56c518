// nbq_axis_sink: simulation-only AXI-Stream slave that writes every beat it takes to a file.
//
// Each accepted beat becomes a line "<phase> <{TLAST, TDATA} hex> <cycle>" of the file named by
// plusarg +nbq_out=FILE.  When p_ready < 65536 the sink applies backpressure: ready is high in a
// cycle only when an xorshift32 draw (seeded at start) falls below p_ready / 65536.
module nbq_axis_sink #(
    parameter int W = 8
) (
    input  logic         clk,
    input  logic         start,
    input  logic         run,
    input  logic         flush,    // flush the file (end of a phase)
    input  logic [16:0]  p_ready,
    input  logic [31:0]  seed,
    input  logic [7:0]   phase,
    input  logic [63:0]  cycle,
    input  logic [W-1:0] tdata,
    input  logic         tlast,
    input  logic         tvalid,
    output logic         tready,
    output logic [31:0]  received,
    output logic [31:0]  images,   // beats with TLAST
    output logic [31:0]  stalls    // cycles valid was high while ready was held low
);
  integer fd = 0;
  logic [31:0] rng;

  initial begin
    string path;
    if ($value$plusargs("nbq_out=%s", path)) fd = $fopen(path, "w");
  end

  wire [31:0] r1 = rng ^ (rng << 13);
  wire [31:0] r2 = r1 ^ (r1 >> 17);
  wire [31:0] rng_next = r2 ^ (r2 << 5);
  assign tready = run && ({1'b0, rng[15:0]} < p_ready);

  always_ff @(posedge clk) begin
    if (start) begin
      received <= '0;
      images <= '0;
      stalls <= '0;
      rng <= seed | 32'd1;
    end else if (run) begin
      rng <= rng_next;
      if (tvalid && tready) begin
        if (fd != 0) $fwrite(fd, "%0d %h %0d\n", phase, {tlast, tdata}, cycle);
        received <= received + 1;
        if (tlast) images <= images + 1;
      end
      if (tvalid && !tready) stalls <= stalls + 1;
    end
    if (flush && fd != 0) $fflush(fd);
  end
endmodule
