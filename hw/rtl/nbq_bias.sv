// nbq_bias: add a per-channel bias to accumulated dot products.
//
// Used where no threshold follows a Conv/Dense (e.g. the logits); before a
// threshold the compiler moves the bias into the thresholds instead.  Beats
// cycle through NF channel groups like nbq_threshold; the result is cut to
// OUT_BITS, which the range pass proved wide enough.
module nbq_bias #(
    parameter int LANES = 2,
    parameter int NF = 1,
    parameter int IN_BITS = 16,
    parameter int B_BITS = 8,
    parameter int OUT_BITS = 16,
    parameter B_FILE = ""
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
  localparam int SW = ((IN_BITS > B_BITS) ? IN_BITS : B_BITS) + 1;
  localparam int FW = (NF <= 1) ? 1 : $clog2(NF);

  logic [FW-1:0] nf;
  logic [LANES*B_BITS-1:0] bias;
  nbq_rom #(.WIDTH(LANES * B_BITS), .DEPTH(NF), .REGISTERED(1'b0), .INIT_FILE(B_FILE)) u_b (
      .clk, .en(1'b1), .addr(nf), .q(bias)
  );


  logic [LANES*OUT_BITS-1:0] result;
  for (genvar p = 0; p < LANES; p++) begin : g_lane
    wire [SW-1:0] s = SW'($signed(in_data[p*IN_BITS+:IN_BITS])) + SW'($signed(bias[p*B_BITS+:B_BITS]));
    if (SW >= OUT_BITS) begin : g_cut
      assign result[p*OUT_BITS+:OUT_BITS] = s[OUT_BITS-1:0];
      if (SW > OUT_BITS) begin : g_unused
        wire unused = &{1'b0, s[SW-1:OUT_BITS]};
      end
    end else begin : g_ext
      assign result[p*OUT_BITS+:OUT_BITS] = OUT_BITS'($signed(s));
    end
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
