// nbq_axis_out: internal stream to an AXI-Stream master (Vitis-style port names).
//
// Each element is sign- or zero-extended into its own LANE-bit field of TDATA
// (LANE a whole number of bytes); TLAST marks the last of the BEATS beats of
// an image.
module nbq_axis_out #(
    parameter int ELEMS = 1,
    parameter int E_BITS = 8,
    parameter bit E_SIGNED = 1'b1,
    parameter int LANE = 8,
    parameter int BEATS = 1
) (
    input  logic                    clk,
    input  logic                    rst_n,
    input  logic                    in_valid,
    output logic                    in_ready,
    input  logic [ELEMS*E_BITS-1:0] in_data,
    output logic [ELEMS*LANE-1:0]   m_TDATA,
    output logic                    m_TVALID,
    input  logic                    m_TREADY,
    output logic                    m_TLAST
);
  localparam int BW = $clog2(BEATS + 1);
  logic [BW-1:0] beat;

  assign m_TVALID = in_valid;
  assign in_ready = m_TREADY;
  assign m_TLAST = (beat == BW'(BEATS - 1));
  for (genvar c = 0; c < ELEMS; c++) begin : g_el
    wire [E_BITS-1:0] e = in_data[c*E_BITS+:E_BITS];
    assign m_TDATA[c*LANE+:LANE] = E_SIGNED ? LANE'($signed(e)) : LANE'(e);
  end

  always_ff @(posedge clk) begin
    if (!rst_n) beat <= '0;
    else if (in_valid && m_TREADY) beat <= m_TLAST ? '0 : beat + 1'b1;
  end
endmodule
