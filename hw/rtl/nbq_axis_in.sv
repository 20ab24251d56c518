// nbq_axis_in: AXI-Stream slave (Vitis-style <port>_TDATA/_TVALID/_TREADY/_TLAST)
// to an internal stream.
//
// Each element sits in its own LANE-bit field of TDATA (LANE a whole number of
// bytes, so a host writes plain int8/int16 arrays); only the low E_BITS of a
// field are used.  One beat = one pixel (channels) or one vector.  TLAST is
// not needed - image boundaries follow from the beat count - and is ignored.
module nbq_axis_in #(
    parameter int ELEMS = 1,
    parameter int E_BITS = 8,
    parameter int LANE = 8
) (
    input  logic [ELEMS*LANE-1:0]   s_TDATA,
    input  logic                    s_TVALID,
    output logic                    s_TREADY,
    input  logic                    s_TLAST,
    output logic                    out_valid,
    input  logic                    out_ready,
    output logic [ELEMS*E_BITS-1:0] out_data
);
  assign out_valid = s_TVALID;
  assign s_TREADY = out_ready;
  for (genvar c = 0; c < ELEMS; c++) begin : g_el
    assign out_data[c*E_BITS+:E_BITS] = s_TDATA[c*LANE+:E_BITS];
    if (LANE > E_BITS) begin : g_unused
      wire unused = &{1'b0, s_TDATA[c*LANE+E_BITS+:LANE-E_BITS]};
    end
  end
  wire unused_last = &{1'b0, s_TLAST};
endmodule
