// nbq_axis_source: simulation-only AXI-Stream master that plays words preloaded with $readmemh.
//
// The words file (path in plusarg +nbq_in=FILE, one hex word per line, {TLAST, TDATA}) is read
// once; each phase replays words 0 .. count-1.  When p_valid < 65536 the source inserts bubbles:
// before each beat it shows valid only when an xorshift32 draw (seeded at start) falls below
// p_valid / 65536.  A shown beat is held until taken (AXI-Stream rules).
module nbq_axis_source #(
    parameter int W = 8,
    parameter int DEPTH = 1024
) (
    input  logic         clk,
    input  logic         start,    // one-cycle pulse: rewind, reseed
    input  logic         run,      // high while the phase runs
    input  logic [31:0]  count,    // words to send this phase
    input  logic [16:0]  p_valid,  // 65536 = always valid
    input  logic [31:0]  seed,
    output logic [W-1:0] tdata,
    output logic         tlast,
    output logic         tvalid,
    input  logic         tready,
    output logic [31:0]  sent,
    output logic [31:0]  bubbles,  // cycles a word was waiting but valid was held low
    output logic         took_first,  // the first word was accepted this cycle
    output logic         all_sent
);
  localparam int AW = DEPTH > 1 ? $clog2(DEPTH) : 1;
  logic [W:0] mem[DEPTH];
  logic [31:0] rng;
  logic show;

  initial begin
    string path;
    if ($value$plusargs("nbq_in=%s", path)) $readmemh(path, mem);
  end

  wire draw = {1'b0, rng[15:0]} < p_valid;
  wire [31:0] r1 = rng ^ (rng << 13);
  wire [31:0] r2 = r1 ^ (r1 >> 17);
  wire [31:0] rng_next = r2 ^ (r2 << 5);
  wire [31:0] seed0 = seed | 32'd1;
  wire [31:0] s1 = seed0 ^ (seed0 << 13);
  wire [31:0] s2 = s1 ^ (s1 >> 17);
  wire [31:0] rng_next0 = s2 ^ (s2 << 5);
  wire taken = show && tready;
  wire [31:0] next_idx = taken ? sent + 1 : sent;
  wire more = next_idx < count;

  assign {tlast, tdata} = mem[sent[AW-1:0]];
  assign tvalid = show;
  assign took_first = taken && sent == 0;
  assign all_sent = sent >= count;

  always_ff @(posedge clk) begin
    if (start) begin
      sent <= '0;
      show <= count != 0 && {1'b0, seed0[15:0]} < p_valid;  // the first beat can show in cycle 0
      bubbles <= '0;
      rng <= rng_next0;
    end else if (run) begin
      rng <= rng_next;
      sent <= next_idx;
      if (!show || taken) begin
        show <= more && draw;
        if (more && !draw) bubbles <= bubbles + 1;
      end
    end else begin
      show <= 1'b0;
    end
  end
endmodule
