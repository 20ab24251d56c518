"""nbq.sim.cosim on a tiny hand-written streaming top: the SV source/sink testbench itself.

The top is a one-register pipeline stage that passes each beat through, so the golden outputs
equal the inputs; one Verilator build (a few seconds) serves every test here.  Checked: bit-exact
on random and range-extreme integers, a wrong expected integer is reported with its image, beat
and element, the stress phase really inserts bubbles and backpressure, a stuck design times out
with a clear message instead of hanging, and the progress hook ends at (all images, all images).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from rtl_tb.harness import require_sim

from nbq.sim import cosim
from nbq.sim.cosim import CosimResult, run_cosim

TOP = """
module tiny_top #(parameter MEM_DIR = ".") (
    input  logic ap_clk, input logic ap_rst_n,
    input  logic [15:0] in_r_TDATA, input logic in_r_TVALID, output logic in_r_TREADY, input logic in_r_TLAST,
    output logic [15:0] out_r_TDATA, output logic out_r_TVALID, input logic out_r_TREADY, output logic out_r_TLAST
);
  logic full;
  assign in_r_TREADY = !full || out_r_TREADY;
  assign out_r_TVALID = full;
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) full <= 1'b0;
    else if (in_r_TREADY) begin
      full <= in_r_TVALID;
      if (in_r_TVALID) {out_r_TLAST, out_r_TDATA} <= {in_r_TLAST, in_r_TDATA};
    end
  end
endmodule
"""
STREAM = {"elems": 2, "lane": 8, "bits": 8, "signed": True, "beats": 3, "pixels": True, "layout": [2, 1, 3]}
N = 12


def _cosim(root: Path, **kw) -> CosimResult:
    return run_cosim(root, opt="-O0", **kw)  # -O0: the quickest build for this tiny top


def _write_project(rtl: Path, x: np.ndarray, y: np.ndarray) -> None:
    (rtl / "tb").mkdir(parents=True, exist_ok=True)
    (rtl / "tiny_top.sv").write_text(TOP)
    np.save(rtl / "tb" / "golden_inputs.npy", x)
    np.save(rtl / "tb" / "golden_outputs.npy", y)
    manifest = {"top": "tiny_top", "sources": ["tiny_top.sv"], "input": STREAM, "output": STREAM,
                "golden": {"inputs": "tb/golden_inputs.npy", "outputs": "tb/golden_outputs.npy"},
                "model": {"ii_cycles": 3}, "clock_mhz": 100.0, "layers": []}
    (rtl / "nbq_rtl.json").write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A built project (the first run_cosim builds; the others reuse the build)."""
    require_sim()
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, size=(N, 2, 1, 3))
    x[0], x[1] = -128, 127  # range extremes: every lane's sign bit and the lane boundary
    x[2, 0], x[2, 1] = -128, 127
    root = tmp_path_factory.mktemp("tiny")
    _write_project(root / "rtl", x, x.copy())
    result = _cosim(root)
    assert result.passed, result.first_mismatches
    return root


@contextmanager
def _edited(project: Path) -> Iterator[Path]:
    """The project with its golden data / manifest editable, restored afterwards (the build is kept:
    a copy elsewhere would rebuild, as the build is keyed by the source paths)."""
    rtl = project / "rtl"
    keep = {p: p.read_bytes() for p in (rtl / "nbq_rtl.json", rtl / "tb" / "golden_outputs.npy")}
    try:
        yield project
    finally:
        for p, data in keep.items():
            p.write_bytes(data)


def test_bit_exact_and_timing_fields(project):
    seen: list[tuple[int, int]] = []
    r = _cosim(project, progress=lambda done, total: seen.append((done, total)))
    assert r.passed and r.mismatches == 0 and r.images == N and not r.built
    assert r.cycles_per_image == pytest.approx(3.0) and r.initiation_interval == 3.0
    assert r.latency_cycles == 4  # 3 input beats + the register stage
    assert r.sim_cycles > N * 3 and r.sim_seconds > 0 and r.first_mismatches == []
    assert seen and seen[-1] == (N + cosim.STRESS_IMAGES, N + cosim.STRESS_IMAGES)


def test_wrong_expected_output_is_reported_with_image_and_beat(project):
    with _edited(project) as root:
        y = np.load(root / "rtl" / "tb" / "golden_outputs.npy")
        y[5, 1, 0, 2] += 1  # image 5, channel 1 of pixel 2 -> beat 2, element 1
        np.save(root / "rtl" / "tb" / "golden_outputs.npy", y)
        r = _cosim(root)
        assert not r.passed and r.mismatches == 1, r.first_mismatches
        assert r.first_mismatches == [f"throughput: image 5 beat 2 element 1: got {y[5, 1, 0, 2] - 1}, "
                                      f"expected {y[5, 1, 0, 2]}"]


def test_stress_phase_inserts_bubbles_and_backpressure(project):
    r = _cosim(project)
    assert r.passed and r.stress_bubbles > 0 and r.stress_stalls > 0, (r.stress_bubbles, r.stress_stalls)
    calm = _cosim(project, stress=False)
    assert calm.passed and calm.stress_bubbles == 0 and calm.stress_stalls == 0
    assert r.sim_cycles > calm.sim_cycles + cosim.STRESS_IMAGES * 3  # the stalls cost cycles


def test_a_stuck_design_times_out_with_a_message(project):
    with _edited(project) as root:
        y = np.load(root / "rtl" / "tb" / "golden_outputs.npy")
        m = json.loads((root / "rtl" / "nbq_rtl.json").read_text())
        # 4 beats/image expected: the last image's 4th beat never comes
        m["output"] = {**STREAM, "beats": 4, "layout": [2, 1, 4]}
        (root / "rtl" / "nbq_rtl.json").write_text(json.dumps(m))
        np.save(root / "rtl" / "tb" / "golden_outputs.npy", np.concatenate([y, y[:, :, :, :1]], axis=3))
        r = _cosim(root, stress=False)
        assert not r.passed
        budget = cosim.max_cycles(N, 3, stress=False)
        assert f"throughput: timed out after {budget:,} cycles" in " ".join(r.first_mismatches), r.first_mismatches
