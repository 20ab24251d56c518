"""The Vitis/Vivado Makefile targets and `nbq build` on a machine without AMD tools (a PATH that
holds none), and with stand-in tools that log how they are called."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from flow_tools import FAKE_VITIS_HLS, FAKE_VPP, fake_tool, tool_free_env
from hls_graphs import golden, mlp_binary

from nbq.backends.hls import write_hls_project
from nbq.board_catalog import load_board
from nbq.build import check_target, missing_requirement
from nbq.cli import main
from nbq.errors import NbqError, ToolNotFoundError
from nbq.plan import plan_graph

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
PLATFORM = load_board("u280").platform


def project(tmp_path: Path, board: str, name: str = "prj") -> Path:
    g = mlp_binary()
    write_hls_project(plan_graph(g, load_board(board)), tmp_path / name, *golden(g), top_name="net")
    return tmp_path / name


def make(prj: Path, target: str, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", target, *args], cwd=prj, env=env, capture_output=True,
                          text=True)  # fmt: skip


# ------------------------------------------------------------------ make, tools absent

MISSING = {
    "u280": {
        "xo": "nbq: xo needs Vitis HLS (vitis_hls or v++) on PATH;",
        "export": "nbq: export needs Vitis HLS (vitis_hls or v++) on PATH;",
        "xclbin": "nbq: xclbin needs Vitis v++ on PATH;",
        "csynth": "nbq: csynth needs Vitis HLS (vitis_hls or v++ on PATH);",
        "host": "nbq: host needs XRT",
        "run": "nbq: run needs XRT",
    },
    "zcu102": {
        "ip": "nbq: ip needs Vitis HLS (vitis_hls or v++) on PATH;",
        "bitstream": "nbq: bitstream needs Vivado (vivado) on PATH;",
        "cosim": "nbq: cosim needs Vitis HLS",
    },
}


@pytest.mark.parametrize("board", ["u280", "zcu102"])
def test_make_targets_without_tools_fail_with_one_line(board, tmp_path):
    prj = project(tmp_path, board)
    env = tool_free_env(tmp_path / "bin")
    before = sorted(p.name for p in prj.iterdir())
    for target, message in MISSING[board].items():
        done = make(prj, target, env)
        assert done.returncode != 0, target
        lines = done.stdout.splitlines()
        assert len(lines) == 1 and lines[0].startswith(message), (target, done.stdout)
        assert "settings64.sh" in lines[0] or "xrt/setup.sh" in lines[0]
    assert sorted(p.name for p in prj.iterdir()) == before  # nothing was started


# ------------------------------------------------------------------ make, stand-in tools


def fake_env(tmp_path: Path, **extra: str) -> dict:
    env = tool_free_env(tmp_path / "bin", FAKE_LOG=str(tmp_path / "calls.log"), **extra)
    return env


def calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def test_make_xclbin_runs_hls_export_then_the_vpp_link(tmp_path):
    prj = project(tmp_path, "u280")
    env = fake_env(tmp_path)
    fake_tool(tmp_path / "bin", "vitis_hls", FAKE_VITIS_HLS)
    fake_tool(tmp_path / "bin", "v++", FAKE_VPP)
    done = make(prj, "xclbin", env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert calls(tmp_path) == [
        "vitis_hls -f run_hls.tcl [steps=csynth export]",
        f"v++ -l -t hw --platform {PLATFORM} --config connectivity.cfg -o net.xclbin net.xo [steps=]",
    ]
    assert (prj / "net.xo").is_file() and (prj / "net.xclbin").is_file()
    assert make(prj, "xclbin", env).returncode == 0 and len(calls(tmp_path)) == 2  # up to date: nothing reruns

    # hardware emulation and a different platform are variables away
    done = make(prj, "xclbin", env, "TARGET=hw_emu", "PLATFORM=my_platform")
    assert done.returncode == 0
    assert calls(tmp_path)[-1].startswith("v++ -l -t hw_emu --platform my_platform --config connectivity.cfg "
                                          "-o net.hw_emu.xclbin net.xo")  # fmt: skip


def test_make_xo_with_vpp_only_uses_the_unified_flow(tmp_path):
    prj = project(tmp_path, "u280")
    env = fake_env(tmp_path)
    fake_tool(tmp_path / "bin", "v++", "mkdir -p net_hls/net_hls && touch net_hls/net_hls/net_krnl.xo\n" + FAKE_VPP)
    done = make(prj, "xo", env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert calls(tmp_path) == ["v++ -c --mode hls --config hls_config.cfg --work_dir net_hls [steps=]"]
    assert (prj / "net.xo").is_file()


def test_make_bitstream_exports_the_ip_then_runs_vivado(tmp_path):
    prj = project(tmp_path, "zcu102")
    env = fake_env(tmp_path)
    fake_tool(tmp_path / "bin", "vitis_hls", FAKE_VITIS_HLS)
    fake_tool(tmp_path / "bin", "vivado")
    done = make(prj, "bitstream", env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert calls(tmp_path) == [
        "vitis_hls -f run_hls.tcl [steps=csynth export]",
        "vivado -mode batch -notrace -source vivado/block_design.tcl -log vivado/vivado.log "
        "-journal vivado/vivado.jou -tclargs ip_repo 4 [steps=]",
    ]
    assert (prj / "ip_repo" / "component.xml").is_file()
    assert make(prj, "bitstream", env, "VIVADO_JOBS=8").returncode == 0  # the IP is not exported again
    assert calls(tmp_path)[2:] == [calls(tmp_path)[1].replace("ip_repo 4", "ip_repo 8")]


def test_a_failing_tool_fails_the_target(tmp_path):
    prj = project(tmp_path, "u280")
    env = fake_env(tmp_path, FAKE_VPP_EXIT="3")
    fake_tool(tmp_path / "bin", "vitis_hls", FAKE_VITIS_HLS)
    fake_tool(tmp_path / "bin", "v++", FAKE_VPP)
    assert make(prj, "xclbin", env).returncode != 0


# ------------------------------------------------------------------ nbq build


def test_nbq_build_csim_works(tmp_path, capfd):
    prj = project(tmp_path, "zcu102")
    assert main(["build", str(prj), "--target", "csim"]) == 0
    out = capfd.readouterr().out
    assert f"NBQ-CSIM images={len(golden(mlp_binary())[0])} mismatches=0" in out


def test_nbq_build_refuses_targets_of_the_other_flow(tmp_path, capfd):
    prj = project(tmp_path, "u280")
    assert main(["build", str(prj), "--target", "bitstream"]) == 2
    err = capfd.readouterr().err.splitlines()
    assert err == ["nbq: error: target 'bitstream' is not part of this vitis project (u280); "
                   "valid targets: csim, csynth, cosim, xo, xclbin, host, run"]  # fmt: skip
    zynq = project(tmp_path, "zcu102", "zynq")
    assert main(["build", str(zynq), "--target", "xclbin"]) == 2
    assert "valid targets: csim, csynth, cosim, ip, bitstream" in capfd.readouterr().err
    assert main(["build", str(tmp_path / "nowhere"), "--target", "csim"]) == 2
    assert "not an nbq project" in capfd.readouterr().err


@pytest.mark.parametrize(
    ("board", "target", "message"),
    [
        ("u280", "xclbin", "nbq: error: `make xclbin` needs v++ on PATH; source <Vitis>/settings64.sh first"),
        ("u280", "xo", "nbq: error: `make xo` needs vitis_hls or v++ on PATH; source <Vitis>/settings64.sh first"),
        ("u280", "host", "nbq: error: `make host` needs $XILINX_XRT set to an install folder; "
                         "source /opt/xilinx/xrt/setup.sh first"),
        ("zcu102", "bitstream", "nbq: error: `make bitstream` needs vivado on PATH; "
                                "source <Vivado>/settings64.sh first"),
        ("zcu102", "ip", "nbq: error: `make ip` needs vitis_hls or v++ on PATH; source <Vitis>/settings64.sh first"),
    ],
)  # fmt: skip
def test_nbq_build_reports_a_missing_tool_before_make(board, target, message, tmp_path, capfd, monkeypatch):
    prj = project(tmp_path, board)
    for key, value in tool_free_env(tmp_path / "bin").items():
        monkeypatch.setenv(key, value)
    for key in [k for k in os.environ if k.startswith("XILINX_")]:
        monkeypatch.delenv(key)
    assert main(["build", str(prj), "--target", target]) == 2
    out, err = capfd.readouterr()
    assert err.splitlines() == [message]
    assert out == ""  # make never ran


def test_nbq_build_runs_make_and_reports_its_result(tmp_path, capfd, monkeypatch):
    prj = project(tmp_path, "u280")
    for key, value in fake_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    fake_tool(tmp_path / "bin", "vitis_hls", FAKE_VITIS_HLS)
    fake_tool(tmp_path / "bin", "v++", FAKE_VPP)
    assert main(["build", str(prj), "--target", "xclbin"]) == 0
    assert calls(tmp_path)[-1].startswith(f"v++ -l -t hw --platform {PLATFORM} --config connectivity.cfg")
    capfd.readouterr()
    (prj / "net.xclbin").unlink()
    monkeypatch.setenv("FAKE_VPP_EXIT", "4")
    assert main(["build", str(prj), "--target", "xclbin"]) == 1
    assert "nbq: make xclbin failed (exit code 2)" in capfd.readouterr().err


def test_requirements_follow_missing_products_and_tool_variables(tmp_path):
    zynq = project(tmp_path, "zcu102")
    bin_dir = tmp_path / "bin"
    env = tool_free_env(bin_dir)
    vivado = fake_tool(bin_dir, "vivado")
    # vivado alone is not enough while the IP still has to be exported ...
    assert missing_requirement(zynq, "bitstream", env).startswith("`make ip` needs vitis_hls or v++")
    (zynq / "ip_repo").mkdir()
    (zynq / "ip_repo" / "component.xml").write_text("<ip/>")
    assert missing_requirement(zynq, "bitstream", env) is None  # ... and is once it has been
    # VIVADO=/some/path/vivado is honoured like make honours it
    vivado.rename(tmp_path / "vivado-2024.1")
    assert missing_requirement(zynq, "bitstream", env) is not None
    assert missing_requirement(zynq, "bitstream", {**env, "VIVADO": str(tmp_path / "vivado-2024.1")}) is None

    u280 = project(tmp_path, "u280", "card")
    assert "$XILINX_XRT" in missing_requirement(u280, "run", env)
    xrt = tmp_path / "xrt"
    xrt.mkdir()
    assert missing_requirement(u280, "run", {**env, "XILINX_XRT": str(xrt)}).startswith("`make xclbin` needs v++")
    (u280 / "net.xclbin").write_text("x")
    assert missing_requirement(u280, "run", {**env, "XILINX_XRT": str(xrt)}) is None
    with pytest.raises(ToolNotFoundError, match="runs make"):
        check_target(u280, "csim", {"PATH": str(tmp_path / "empty")})
    with pytest.raises(NbqError, match="valid targets"):
        check_target(u280, "export", env)  # an alias in the Makefile, not a build target


def test_cli_help_lists_build(capsys):
    with pytest.raises(SystemExit):
        main(["build", "--help"])
    out = capsys.readouterr().out
    assert "--target TARGET" in out and "xclbin" in out and "bitstream" in out
    assert sys.executable  # nbq build passes it to make as PYTHON (hls4ml's ap_int.h for csim)
