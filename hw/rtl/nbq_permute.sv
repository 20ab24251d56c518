// nbq_permute: channel permutation (shuffle) within a beat: out element c = in element PERM[c].
//
// Pure wiring, no register: PERM packs the source index of output element c at bits
// [c*IDX_BITS +: IDX_BITS].
module nbq_permute #(
    parameter int ELEMS = 2,
    parameter int E_BITS = 8,
    parameter int IDX_BITS = 1,
    parameter logic [ELEMS*IDX_BITS-1:0] PERM = 2'b10  // default: swap the two elements
) (
    input  logic                    in_valid,
    output logic                    in_ready,
    input  logic [ELEMS*E_BITS-1:0] in_data,
    output logic                    out_valid,
    input  logic                    out_ready,
    output logic [ELEMS*E_BITS-1:0] out_data
);
  assign out_valid = in_valid;
  assign in_ready  = out_ready;
  for (genvar c = 0; c < ELEMS; c++) begin : g_el
    localparam int SRC = int'(PERM[c*IDX_BITS+:IDX_BITS]);
    assign out_data[c*E_BITS+:E_BITS] = in_data[SRC*E_BITS+:E_BITS];
  end
endmodule
