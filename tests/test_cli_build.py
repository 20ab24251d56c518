"""`nbq build` output: make's lines on stdout, a spinner (terminal) or a start and an end line (log) on stderr."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flow_tools import fake_tool, tool_free_env
from hls_graphs import golden, mlp_binary

from nbq.backends.hls import write_hls_project
from nbq.board_catalog import load_board
from nbq.cli import main
from nbq.plan import plan_graph

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")

# a Vitis HLS stand-in that talks, as the real one does, on stdout and stderr
TALKING_VITIS_HLS = """
echo "INFO: [HLS 200-10] Running csynth"
echo "WARNING: [HLS 207-5292] unused parameter" >&2
prj=$(sed -n 's/^open_project //p' run_hls.tcl)
mkdir -p "$prj/solution1/syn/report"
exit ${FAKE_HLS_EXIT:-0}
"""


def _project(tmp_path: Path, monkeypatch) -> Path:
    g = mlp_binary()
    prj = tmp_path / "prj"
    write_hls_project(plan_graph(g, load_board("zcu102")), prj, *golden(g), top_name="net")
    for key, value in tool_free_env(tmp_path / "bin", FAKE_LOG=str(tmp_path / "calls.log")).items():
        monkeypatch.setenv(key, value)
    fake_tool(tmp_path / "bin", "vitis_hls", TALKING_VITIS_HLS)
    return prj


def test_build_streams_make_to_stdout_and_frames_it_on_stderr(tmp_path, capfd, monkeypatch):
    prj = _project(tmp_path, monkeypatch)
    assert main(["build", str(prj), "--target", "csynth"]) == 0
    out, err = capfd.readouterr()
    assert "INFO: [HLS 200-10] Running csynth" in out and "WARNING: [HLS 207-5292] unused parameter" in out
    lines = err.splitlines()
    assert lines[0] == f"make csynth in {prj} ..." and len(lines) == 2, lines
    assert lines[1].startswith(f"make csynth in {prj}: done in ") and lines[1].endswith(" s")


def test_build_failure_says_so_on_both_lines(tmp_path, capfd, monkeypatch):
    prj = _project(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_HLS_EXIT", "3")
    assert main(["build", str(prj), "--target", "csynth"]) == 1
    out, err = capfd.readouterr()
    assert "Running csynth" in out
    lines = err.splitlines()
    assert lines[1].startswith(f"make csynth in {prj}: failed (exit code 2) in "), lines
    assert lines[-1] == "nbq: make csynth failed (exit code 2)"
