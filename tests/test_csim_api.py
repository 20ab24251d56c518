"""nbq.sim.csim: header discovery, missing tools, broken builds (no full C-simulation here)."""

from __future__ import annotations

import importlib.util
import shutil

import pytest
from hls_graphs import golden, mlp_binary

from nbq.backends.hls import write_hls_project
from nbq.board_catalog import load_board
from nbq.errors import NbqError, ToolNotFoundError
from nbq.plan import plan_graph
from nbq.sim import csim


def test_headers_from_xilinx_hls(tmp_path, monkeypatch):
    (tmp_path / "include").mkdir()
    (tmp_path / "include" / "ap_int.h").write_text("")
    monkeypatch.setenv("XILINX_HLS", str(tmp_path))
    assert csim.find_hls_headers() == tmp_path / "include"


def test_headers_from_hls4ml_wheel(monkeypatch):
    if importlib.util.find_spec("hls4ml") is None:
        pytest.skip("hls4ml not installed")
    monkeypatch.delenv("XILINX_HLS", raising=False)
    path = csim.find_hls_headers()
    assert path.parts[-3:] == ("templates", "vivado", "ap_types") and (path / "hls_stream.h").is_file()


def test_no_headers_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("XILINX_HLS", raising=False)
    monkeypatch.setattr(csim.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ToolNotFoundError, match="XILINX_HLS.*hls4ml"):
        csim.find_hls_headers()


@pytest.fixture
def project(tmp_path):
    g = mlp_binary()
    write_hls_project(plan_graph(g, load_board("zcu102")), tmp_path / "prj", *golden(g))
    return tmp_path / "prj"


def test_missing_compiler(project, monkeypatch):
    monkeypatch.setenv("CXX", "/nonexistent/g++")
    with pytest.raises(ToolNotFoundError, match="not found"):
        csim.run_csim(project)


def test_not_a_project(tmp_path):
    with pytest.raises(NbqError, match="not an nbq HLS project"):
        csim.run_csim(tmp_path)


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")
def test_broken_build_is_reported(project):
    tb = project / "tb" / "nbq_top_tb.cpp"
    tb.write_text("#error deliberately broken\n" + tb.read_text())
    res = csim.run_csim(project)
    assert not res.passed and res.built
    assert res.problems[0].startswith("build failed") and "deliberately broken" in res.problems[0]
    assert "deliberately broken" in res.log
