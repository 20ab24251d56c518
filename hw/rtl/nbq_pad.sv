// nbq_pad: surround each streamed H x W image with a border of constant pixels.
//
// Why a separate stage: the sliding window then only ever sees a plain
// (pre-padded) image and needs no edge cases.  Border pixels are generated
// here at one per cycle without waiting for input; interior pixels are passed
// through.  Pixels are ELEMS elements of E_BITS bits, channels-last.
module nbq_pad #(
    parameter int H = 4,
    parameter int W = 4,
    parameter int ELEMS = 1,
    parameter int E_BITS = 8,
    parameter int PAD_T = 1,
    parameter int PAD_L = 1,
    parameter int PAD_B = 1,
    parameter int PAD_R = 1,
    parameter logic [E_BITS-1:0] PAD_VALUE = '0
) (
    input  logic                    clk,
    input  logic                    rst_n,
    input  logic                    in_valid,
    output logic                    in_ready,
    input  logic [ELEMS*E_BITS-1:0] in_data,
    output logic                    out_valid,
    input  logic                    out_ready,
    output logic [ELEMS*E_BITS-1:0] out_data
);
  localparam int HP = H + PAD_T + PAD_B;
  localparam int WP = W + PAD_L + PAD_R;
  localparam int RW = $clog2(HP + 1);
  localparam int CW = $clog2(WP + 1);

  logic [RW-1:0] r;
  logic [CW-1:0] c;
  wire interior = (r >= RW'(PAD_T)) && (r < RW'(PAD_T + H)) && (c >= CW'(PAD_L)) && (c < CW'(PAD_L + W));
  wire en = !out_valid || out_ready;
  wire load = en && (!interior || in_valid);  // a pixel enters the output register
  assign in_ready = en && interior;

  always_ff @(posedge clk) begin
    if (load) out_data <= interior ? in_data : {ELEMS{PAD_VALUE}};
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      r <= '0;
      c <= '0;
      out_valid <= 1'b0;
    end else begin
      if (en) out_valid <= load;
      if (load) begin
        if (c == CW'(WP - 1)) begin
          c <= '0;
          r <= (r == RW'(HP - 1)) ? '0 : r + 1'b1;
        end else begin
          c <= c + 1'b1;
        end
      end
    end
  end
endmodule
