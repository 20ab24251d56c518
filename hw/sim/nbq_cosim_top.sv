// nbq_cosim_top: simulation-only wrapper that streams preloaded words through the network top.
//
// The network's module name comes from the macro NBQ_DUT (verilator -DNBQ_DUT=<top>).  cocotb
// sets the cfg_* inputs, pulses `start` for one cycle and waits for `done`; no per-cycle Python.
// A phase ends `cfg_drain` cycles after every word was sent and `cfg_out_beats` beats were
// received (`cycles` = that moment), or as a timeout after `cfg_max_cycles` cycles.
`ifndef NBQ_DUT
`define NBQ_DUT nbq_top
`endif
module nbq_cosim_top #(
    parameter MEM_DIR = ".",
    parameter int IN_W = 8,
    parameter int OUT_W = 8,
    parameter int DEPTH = 1024
) (
`ifdef NBQ_SV_CLOCK
    output logic        clk,  // generated here (verilator --timing): no simulator callback per edge
`else
    input  logic        clk,  // driven by cocotb's C clock
`endif
    input  logic        rst_n,
    input  logic        start,
    input  logic [7:0]  cfg_phase,
    input  logic [31:0] cfg_in_beats,
    input  logic [31:0] cfg_out_beats,
    input  logic [16:0] cfg_p_valid,
    input  logic [16:0] cfg_p_ready,
    input  logic [31:0] cfg_seed,
    input  logic [31:0] cfg_drain,
    input  logic [63:0] cfg_max_cycles,
    output logic        done,
    output logic        timed_out,
    output logic [63:0] cycles,
    output logic [63:0] first_in,
    output logic [31:0] images_out,
    output logic [31:0] bubbles,
    output logic [31:0] stalls
);
`ifdef NBQ_SV_CLOCK
  initial begin
    clk = 1'b0;
    forever #5ns clk = ~clk;
  end
`endif

  logic run, finished, flush;
  logic [63:0] cycle, finish_at;
  logic [IN_W-1:0] in_data;
  logic [OUT_W-1:0] out_data;
  logic in_last, in_valid, in_ready, out_last, out_valid, out_ready, took_first, all_sent;
  logic [31:0] sent, received;

  `NBQ_DUT #(.MEM_DIR(MEM_DIR)) dut (
      .ap_clk(clk), .ap_rst_n(rst_n),
      .in_r_TDATA(in_data), .in_r_TVALID(in_valid), .in_r_TREADY(in_ready), .in_r_TLAST(in_last),
      .out_r_TDATA(out_data), .out_r_TVALID(out_valid), .out_r_TREADY(out_ready), .out_r_TLAST(out_last)
  );

  nbq_axis_source #(.W(IN_W), .DEPTH(DEPTH)) source (
      .clk, .start, .run, .count(cfg_in_beats), .p_valid(cfg_p_valid), .seed(cfg_seed),
      .tdata(in_data), .tlast(in_last), .tvalid(in_valid), .tready(in_ready), .sent, .bubbles,
      .took_first, .all_sent
  );

  nbq_axis_sink #(.W(OUT_W)) sink (
      .clk, .start, .run, .flush(flush), .p_ready(cfg_p_ready), .seed(cfg_seed ^ 32'h9e3779b9),
      .phase(cfg_phase), .cycle, .tdata(out_data), .tlast(out_last), .tvalid(out_valid), .tready(out_ready),
      .received, .images(images_out), .stalls
  );

  logic done_q;
  always_ff @(posedge clk) done_q <= done;
  assign flush = done && !done_q;  // once per phase, the cycle after it ended

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      run <= 1'b0;
      done <= 1'b0;
      timed_out <= 1'b0;
      finished <= 1'b0;
    end else if (start) begin
      run <= 1'b1;
      done <= 1'b0;
      timed_out <= 1'b0;
      finished <= 1'b0;
      cycle <= '0;
      first_in <= '0;
    end else if (run) begin
      cycle <= cycle + 1;
      if (took_first) first_in <= cycle;
      if (!finished && all_sent && received >= cfg_out_beats) begin
        finished <= 1'b1;
        finish_at <= cycle;
        cycles <= cycle;
      end
      if (finished && cycle >= finish_at + 64'(cfg_drain)) begin
        run <= 1'b0;
        done <= 1'b1;
      end else if (!finished && cycle + 1 >= cfg_max_cycles) begin
        run <= 1'b0;
        done <= 1'b1;
        timed_out <= 1'b1;
        cycles <= cycle + 1;
      end
    end
  end
endmodule
