// nbq_mvau: matrix-vector unit: one folded Conv/Dense layer's arithmetic.
//
// Input: one beat = one input vector (a conv window in (kh, kw, channel) order,
// or a whole dense input).  The unit holds it and walks the folding: for each
// of NF neuron folds (PE output channels at a time) it streams SF chunks of
// SIMD elements, with the matching PE x SIMD weights read from a ROM, into
// the engine, which returns the PE dot products of that fold.  While the last
// chunk of a vector issues, the next vector is loaded, so the engine gets one
// chunk every cycle across vectors: NF * SF cycles per vector, no bubbles.
//
// Grouped convolutions: the vector is regrouped to (group, tap, channel) so a
// group's SF chunks are contiguous; neuron folds NF/GROUPS of each group read
// only their group's chunks.  ENGINE 3 (binary complex) uses GROUPS = 2 for the
// real (x) and imaginary (y) halves of the channels and reads both at once.
//
// ENGINE: 0 SVPE (po2 codes, shift-add), 1 VPE (integer weights, multipliers),
// 2 XNOR (binary weights, activations in [-1, 1]), 3 complex XNOR.
// Weight ROM word at nf * SF + sf: lane p, element s at bit (p*SIMD + s)*W_BITS
// (ENGINE 3: PE*SIMD bits of A, then PE*SIMD bits of B).
module nbq_mvau #(
    parameter int ENGINE = 0,
    parameter int TAPS = 9,
    parameter int CH = 2,
    parameter int GROUPS = 1,
    parameter int X_BITS = 4,
    parameter bit X_SIGNED = 1'b0,
    parameter int W_BITS = 3,
    parameter int PE = 2,
    parameter int SIMD = 3,
    parameter int NF = 2,
    parameter int SF = 6,
    parameter int ACC_BITS = 16,
    parameter W_FILE = "",
    localparam int LANES = (ENGINE == 3) ? 2 * PE : PE
) (
    input  logic                        clk,
    input  logic                        rst_n,
    input  logic                        in_valid,
    output logic                        in_ready,
    input  logic [TAPS*CH*X_BITS-1:0]   in_data,
    output logic                        out_valid,
    input  logic                        out_ready,
    output logic [LANES*ACC_BITS-1:0]   out_acc
);
  localparam int CHG = CH / GROUPS;
  localparam int G_SEQ = (ENGINE == 3) ? 1 : GROUPS;  // groups walked one after another
  localparam int NFG = NF / G_SEQ;  // neuron folds per walked group
  localparam int CHUNK = SIMD * X_BITS;
  localparam int WB = (ENGINE >= 2) ? 1 : W_BITS;
  localparam int WORD = ((ENGINE == 3) ? 2 : 1) * PE * SIMD * WB;
  localparam int DEPTH = NF * SF;
  localparam int AW = (DEPTH <= 1) ? 1 : $clog2(DEPTH);
  localparam int SFW = $clog2(SF + 1);
  localparam int NFW = $clog2(NFG + 1);
  localparam int GW = $clog2(G_SEQ + 1);
  localparam int KW = $clog2(GROUPS * SF + 1);
  localparam int XW = (ENGINE == 0 || ENGINE == 1) ? CHUNK : (ENGINE == 2 ? 2 * SIMD : 4 * SIMD);

  // ------------------------------------------------ input vector, regrouped
  logic [TAPS*CH*X_BITS-1:0] vec, perm;
  logic vec_valid;
  for (genvar g = 0; g < GROUPS; g++) begin : g_grp
    for (genvar t = 0; t < TAPS; t++) begin : g_tap
      assign perm[(g*TAPS+t)*CHG*X_BITS+:CHG*X_BITS] = vec[(t*CH+g*CHG)*X_BITS+:CHG*X_BITS];
    end
  end

  // ------------------------------------------------ folding sequencer
  logic [SFW-1:0] sf;
  logic [NFW-1:0] nfg;
  logic [GW-1:0] gi;
  logic [KW-1:0] base;  // first chunk of the walked group: gi * SF
  logic [AW-1:0] addr;  // weight word: nf * SF + sf
  logic s0_valid, s0_last;
  logic [XW-1:0] s0_x;
  logic eng_ready;

  wire adv = !s0_valid || eng_ready;  // the engine-input register can take a chunk
  wire issue = adv && vec_valid;
  wire last_chunk = (sf == SFW'(SF - 1));
  wire last_of_vec = last_chunk && (nfg == NFW'(NFG - 1)) && (gi == GW'(G_SEQ - 1));
  assign in_ready = !vec_valid || (issue && last_of_vec);

  always_ff @(posedge clk) begin
    if (in_valid && in_ready) vec <= in_data;
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      vec_valid <= 1'b0;
      sf <= '0;
      nfg <= '0;
      gi <= '0;
      base <= '0;
      addr <= '0;
      s0_valid <= 1'b0;
    end else begin
      if (in_valid && in_ready) vec_valid <= 1'b1;
      else if (issue && last_of_vec) vec_valid <= 1'b0;
      if (adv) s0_valid <= issue;
      if (issue) begin
        addr <= (addr == AW'(DEPTH - 1)) ? '0 : addr + 1'b1;
        if (!last_chunk) begin
          sf <= sf + 1'b1;
        end else begin
          sf <= '0;
          if (nfg != NFW'(NFG - 1)) begin
            nfg <= nfg + 1'b1;
          end else begin
            nfg <= '0;
            if (gi != GW'(G_SEQ - 1)) begin
              gi <= gi + 1'b1;
              base <= base + KW'(SF);
            end else begin
              gi <= '0;
              base <= '0;
            end
          end
        end
      end
    end
  end

  // ------------------------------------------------ chunk selection (engine-specific format)
  logic [XW-1:0] x_next;
  if (ENGINE == 0 || ENGINE == 1) begin : g_int_x
    wire [KW-1:0] k = base + KW'(sf);
    assign x_next = perm[k*CHUNK+:CHUNK];
    wire unused = &{1'b0, gi};
  end else begin : g_bin_x
    // binary engines: an element in [-1, 1] becomes a sign bit (1 = +1) and a mask bit (0 = zero)
    localparam int NCH = (ENGINE == 3) ? 2 : 1;
    for (genvar h = 0; h < NCH; h++) begin : g_half
      wire [KW-1:0] k = (ENGINE == 3) ? KW'(h * SF) + KW'(sf) : base + KW'(sf);
      wire [CHUNK-1:0] chunk = perm[k*CHUNK+:CHUNK];
      for (genvar s = 0; s < SIMD; s++) begin : g_el
        wire [X_BITS-1:0] e = chunk[s*X_BITS+:X_BITS];
        wire nz = |e;
        assign x_next[2*h*SIMD+s] = nz && !(X_SIGNED && e[X_BITS-1]);
        assign x_next[(2*h+1)*SIMD+s] = nz;
      end
    end
    wire unused = &{1'b0, gi};
  end

  always_ff @(posedge clk) begin
    if (issue) begin
      s0_x <= x_next;
      s0_last <= last_chunk;
    end
  end

  logic [WORD-1:0] w_word;
  nbq_rom #(.WIDTH(WORD), .DEPTH(DEPTH), .REGISTERED(1'b1), .INIT_FILE(W_FILE)) u_w (
      .clk, .en(adv), .addr, .q(w_word)
  );

  // ------------------------------------------------ engine
  if (ENGINE == 0) begin : g_svpe
    nbq_svpe_array #(
        .PE(PE), .SIMD(SIMD), .X_BITS(X_BITS), .X_SIGNED(X_SIGNED), .W_BITS(W_BITS), .ACC_BITS(ACC_BITS)
    ) u_eng (
        .clk, .rst_n, .in_valid(s0_valid), .in_ready(eng_ready), .in_x(s0_x), .in_w(w_word),
        .in_last(s0_last), .out_valid, .out_ready, .out_acc
    );
  end else if (ENGINE == 1) begin : g_vpe
    nbq_vpe_array #(
        .PE(PE), .SIMD(SIMD), .X_BITS(X_BITS), .X_SIGNED(X_SIGNED), .W_BITS(W_BITS), .ACC_BITS(ACC_BITS)
    ) u_eng (
        .clk, .rst_n, .in_valid(s0_valid), .in_ready(eng_ready), .in_x(s0_x), .in_w(w_word),
        .in_last(s0_last), .out_valid, .out_ready, .out_acc
    );
  end else if (ENGINE == 2) begin : g_xnor
    nbq_xnor_array #(.PE(PE), .SIMD(SIMD), .ACC_BITS(ACC_BITS)) u_eng (
        .clk, .rst_n, .in_valid(s0_valid), .in_ready(eng_ready), .in_x(s0_x[SIMD-1:0]),
        .in_mask(s0_x[2*SIMD-1:SIMD]), .in_w(w_word), .in_last(s0_last), .out_valid, .out_ready, .out_acc
    );
  end else begin : g_cxnor
    nbq_cxnor_array #(.PE(PE), .SIMD(SIMD), .ACC_BITS(ACC_BITS)) u_eng (
        .clk, .rst_n, .in_valid(s0_valid), .in_ready(eng_ready),
        .in_x(s0_x[SIMD-1:0]), .in_x_mask(s0_x[2*SIMD-1:SIMD]),
        .in_y(s0_x[3*SIMD-1:2*SIMD]), .in_y_mask(s0_x[4*SIMD-1:3*SIMD]),
        .in_a(w_word[PE*SIMD-1:0]), .in_b(w_word[2*PE*SIMD-1:PE*SIMD]),
        .in_last(s0_last), .out_valid, .out_ready, .out_acc
    );
  end
endmodule
