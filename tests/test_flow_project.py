"""The board-flow files of a generated project, checked by parsing: Makefile targets and commands,
connectivity.cfg, the block-design Tcl, the XRT host, batch files, the manifest and the README."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hls_graphs import cnn_mixed, golden, residual

from nbq.backends.hls import project_files, write_hls_project
from nbq.backends.hls.bindata import batch_bytes, read_batch_bytes
from nbq.board_catalog import load_board
from nbq.errors import NbqError
from nbq.plan import plan_graph
from nbq.resources import data_dir

VITIS_TARGETS = ["csim", "csynth", "cosim", "xo", "xclbin", "host", "run"]
VIVADO_TARGETS = ["csim", "csynth", "cosim", "ip", "bitstream"]


def write(graph, out: Path, board: str = "u280", top: str = "net") -> Path:
    write_hls_project(plan_graph(graph, load_board(board)), out, *golden(graph), top_name=top)
    return out


def parse_makefile(text: str) -> tuple[dict[str, str], dict[str, list[str]], list[str]]:
    """(variables, target -> recipe lines, .PHONY targets) of a Makefile (enough for ours)."""
    variables: dict[str, str] = {}
    rules: dict[str, list[str]] = {}
    current: list[str] = []
    phony: list[str] = []
    lines = text.replace("\\\n", " ").splitlines()  # join continuation lines
    for line in lines:
        if line.startswith("\t"):
            current.append(line.strip())
            continue
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = re.match(r"^([A-Za-z_]+)\s*(\?=|:=|=)\s*(.*)$", line)
        if m:
            variables[m.group(1)] = m.group(3).strip()
            continue
        m = re.match(r"^([^:=#]+):(?!=)(.*)$", line)
        if m:
            names = m.group(1).split()
            if names == [".PHONY"]:
                phony += m.group(2).split()
                continue
            current = []
            for name in names:
                rules[name] = current
    return variables, rules, phony


def read(prj: Path, name: str) -> str:
    return (prj / name).read_text()


# ------------------------------------------------------------------ Makefile


@pytest.mark.parametrize("board", ["u280", "zcu102"])
def test_makefile_targets_per_board(board, tmp_path):
    b = load_board(board)
    prj = write(cnn_mixed(), tmp_path / "prj", board)
    variables, rules, phony = parse_makefile(read(prj, "Makefile"))
    manifest = json.loads(read(prj, "nbq_project.json"))
    names = [t["name"] for t in manifest["targets"]]
    expected = VITIS_TARGETS if b.flow == "vitis" else VIVADO_TARGETS
    assert names == expected
    for name in [*names, "export", "clean"]:
        assert name in rules and name in phony, name
    foreign = set(VITIS_TARGETS + VIVADO_TARGETS) - set(expected)
    assert not foreign & set(rules), foreign & set(rules)  # no target of the other flow
    header = read(prj, "Makefile").split("\nTOP :=")[0]
    for t in manifest["targets"]:
        assert f"make {t['name']}" in header and t["what"] in header
    assert variables["TOP"] == "net"
    # the csim recipe is untouched: g++ with the ap_int headers as -isystem
    assert any("-isystem $(HLS_INCLUDE)" in line for line in rules["$(CSIM_BIN)"])


def test_vitis_makefile_commands(tmp_path):
    b = load_board("u280")
    prj = write(cnn_mixed(), tmp_path / "prj", "u280")
    variables, rules, _ = parse_makefile(read(prj, "Makefile"))
    assert variables["PLATFORM"] == b.platform == "xilinx_u280_gen3x16_xdma_1_202211_1"
    assert variables["TARGET"] == "hw" and variables["XO"] == "net.xo" and variables["KERNEL"] == "net_krnl"
    assert variables["XCLBIN"] == "$(TOP)$(if $(filter hw,$(TARGET)),,.$(TARGET)).xclbin"  # net.xclbin for hw
    (link,) = rules["$(XCLBIN)"]
    assert link.split() == ["$(VPP)", "-l", "-t", "$(TARGET)", "--platform", "$(PLATFORM)", "--config",
                            "connectivity.cfg", "$(VPP_LINK_FLAGS)", "-o", "$@", "$(XO)"]  # fmt: skip
    assert rules["xclbin"][0].startswith("@$(call need,$(VPP),")  # tool check before anything runs
    assert rules["xo"][0].startswith("@$(call need,$(VITIS_HLS) $(VPP),")
    export = " ".join(rules["$(XO)"])
    assert "$(HLS_EXPORT)" in export and "-name '*.xo'" in export
    assert 'NBQ_STEPS="csynth export" $(VITIS_HLS) -f run_hls.tcl' in variables["HLS_EXPORT"]
    assert "$(VPP) -c --mode hls --config hls_config.cfg" in variables["HLS_EXPORT"]
    (build,) = rules["$(HOST_BIN)"]
    assert "-isystem $(XILINX_XRT)/include" in build and "-lxrt_coreutil" in build and "host/host.cpp" in build
    assert variables["HOST_BIN"] == "host/net_host" and "-std=c++17" in variables["HOST_CXXFLAGS"]
    assert "$(XILINX_XRT)/include/xrt/xrt_kernel.h" in variables["XRT_CHECK"]
    run = " ".join(rules["run"])
    assert "$(XRT_CHECK)" in run and "--xclbin $(XCLBIN) --inputs tb_data/inputs.bin --golden tb_data/golden.bin" in run


def test_vivado_makefile_commands(tmp_path):
    prj = write(cnn_mixed(), tmp_path / "prj", "zcu102")
    variables, rules, _ = parse_makefile(read(prj, "Makefile"))
    assert variables["BITSTREAM"] == "overlay/net.bit" and variables["IP_REPO"] == "ip_repo"
    assert rules["bitstream"][0].startswith("@$(call need,$(VIVADO),")
    assert "$(MAKE) --no-print-directory ip" in rules["bitstream"][1]
    vivado = rules["bitstream"][2].split()
    assert vivado[:4] == ["$(VIVADO)", "-mode", "batch", "-notrace"]
    assert vivado[vivado.index("-source") + 1] == "vivado/block_design.tcl"
    assert vivado[vivado.index("-tclargs") + 1 :] == ["$(IP_REPO)", "$(VIVADO_JOBS)"]
    copy = " ".join(rules["$(IP_REPO)/component.xml"])
    assert "-path '*/impl/ip/component.xml'" in copy and "cp -r" in copy


# ------------------------------------------------------------------ U280: connectivity, kernel, host


def connectivity_entries(text: str) -> list[tuple[str, str]]:
    section = None
    entries = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            section = line
            continue
        assert section == "[connectivity]", line
        key, value = line.split("=", 1)
        entries.append((key, value))
    return entries


def test_connectivity_cfg(tmp_path):
    prj = write(residual(), tmp_path / "prj", "u280")
    entries = connectivity_entries(read(prj, "connectivity.cfg"))
    assert entries == [
        ("nk", "net_krnl:1:net_krnl_1"),
        ("sp", "net_krnl_1.m_axi_gmem0:HBM[0]"),
        ("sp", "net_krnl_1.m_axi_gmem1:HBM[1]"),
        ("slr", "net_krnl_1:SLR0"),
    ]
    cpp = read(prj, "firmware/net.cpp")
    for bundle in ("gmem0", "gmem1"):  # the ports connectivity.cfg names exist on the kernel
        assert f"mode=m_axi port={'in' if bundle == 'gmem0' else 'out'} offset=slave bundle={bundle}" in cpp
    m = json.loads(read(prj, "nbq_project.json"))
    assert m["vitis"]["banks"] == {"m_axi_gmem0": "HBM[0]", "m_axi_gmem1": "HBM[1]"}
    assert m["vitis"]["platform"] == load_board("u280").platform and m["vitis"]["kernel"] == "net_krnl"


def test_custom_vitis_board_without_banks(tmp_path):
    """Board data only: no default_banks -> v++ picks; bus_bits 512 -> 512-bit words; bad widths refused."""
    text = (data_dir("boards") / "u280.yaml").read_text()
    text = re.sub(r"  default_banks:.*\n|  slr:.*\n", "", text).replace("bus_bits: 256", "bus_bits: 512")
    (tmp_path / "card.yaml").write_text(text.replace("name: u280", "name: card"))
    board = load_board(str(tmp_path / "card.yaml"))
    g = cnn_mixed()
    files = project_files(plan_graph(g, board), *golden(g))
    assert connectivity_entries(files["connectivity.cfg"]) == [("nk", "nbq_top_krnl:1:nbq_top_krnl_1")]
    assert "v++ picks the banks" in files["connectivity.cfg"]
    assert "typedef ap_uint<512> nbq_word_t;" in files["firmware/parameters.h"]
    (tmp_path / "bad.yaml").write_text(text.replace("bus_bits: 512", "bus_bits: 300"))
    with pytest.raises(NbqError, match="bus_bits"):
        project_files(plan_graph(g, load_board(str(tmp_path / "bad.yaml"))), *golden(g))


def test_kernel_bus_words_and_host_constants(tmp_path):
    prj = write(residual(), tmp_path / "prj", "u280")
    m = json.loads(read(prj, "nbq_project.json"))
    bus = m["bus"]
    lanes = 256 // m["word_bits"]
    assert bus == {"lane_bits": m["word_bits"], "word_bits": 256, "lanes": lanes,
                   "in_words_per_image": -(-m["input"]["size"] // lanes),
                   "out_words_per_image": -(-m["output"]["size"] // lanes)}  # fmt: skip
    params = read(prj, "firmware/parameters.h")
    assert "typedef ap_uint<256> nbq_word_t;" in params and f"static const int NBQ_LANES = {lanes};" in params
    assert f"static const int NBQ_IN_WORDS = {bus['in_words_per_image']};" in params
    host = read(prj, "host/host.cpp")
    for call in ("xrt::device device(", "device.load_xclbin(", "xrt::kernel kernel(device, uuid, KERNEL_NAME)",
                 "xrt::bo in_bo(device, in_bytes.size(), kernel.group_id(0))", "kernel.group_id(1)",
                 "in_bo.sync(XCL_BO_SYNC_BO_TO_DEVICE)", "out_bo.sync(XCL_BO_SYNC_BO_FROM_DEVICE)", "xrt::run",
                 "call.wait()", "ERT_CMD_STATE_COMPLETED", '#include "nbq_host.h"',
                 '#include "xrt/xrt_kernel.h"'):  # fmt: skip
        assert call in host, call
    assert 'KERNEL_NAME = "net_krnl"' in host and 'opt.xclbin = "net.xclbin"' in host
    signed = ["true" if m[k]["signed"] else "false" for k in ("input", "output")]
    assert f"IN_FORMAT = {{{m['word_bits']}, 256, {signed[0]}}}" in host
    assert f"OUT_FORMAT = {{{m['word_bits']}, 256, {signed[1]}}}" in host
    assert f"IN_SIZE = {m['input']['size']};" in host and f"OUT_SIZE = {m['output']['size']};" in host
    assert read(prj, "host/nbq_host.h") == (data_dir("hw") / "host" / "nbq_host.h").read_text()


def test_batch_files_hold_the_golden_vectors(tmp_path):
    prj = write(residual(), tmp_path / "prj", "u280")
    for name in ("inputs", "golden"):
        dat = np.array([ln.split() for ln in read(prj, f"tb_data/{name}.dat").splitlines()], dtype=np.int64)
        data = (prj / f"tb_data/{name}.bin").read_bytes()
        assert data[:4] == b"NBQB" and data[16] == 4  # int32 values: they fit
        assert np.array_equal(read_batch_bytes(data), dat)
    wide = np.array([[2**40, -1], [-(2**35), 7]])
    assert read_batch_bytes(batch_bytes(wide)).tolist() == wide.tolist()
    assert batch_bytes(wide)[16] == 8
    with pytest.raises(NbqError, match="does not hold"):
        read_batch_bytes(batch_bytes(wide)[:-1])


# ------------------------------------------------------------------ ZCU102: block design, IP name, driver


def test_block_design_tcl(tmp_path):
    b = load_board("zcu102")
    prj = write(cnn_mixed(), tmp_path / "prj", "zcu102")
    tcl = read(prj, "vivado/block_design.tcl")
    m = json.loads(read(prj, "nbq_project.json"))
    vlnv = "nbq:hls:net_axis:1.0"
    assert m["zynq"]["ip_vlnv"] == vlnv
    assert f"set part {{{b.part}}}" in tcl and f"set ip_vlnv {{{vlnv}}}" in tcl
    assert "set board_part_pattern {xilinx.com:zcu102:part0:*}" in tcl
    for step in ("create_project -force", "create_bd_design", "xilinx.com:ip:zynq_ultra_ps_e",
                 'apply_board_preset "1"', "CONFIG.PSU__USE__M_AXI_GP0 {1}", "CONFIG.PSU__USE__S_AXI_GP2 {1}",
                 "M_AXI_HPM0_FPD", "S_AXI_HP0_FPD", "xilinx.com:ip:axi_dma", "CONFIG.c_include_sg {0}",
                 "M_AXIS_MM2S", "S_AXIS_S2MM", "xilinx.com:ip:smartconnect", "xilinx.com:ip:proc_sys_reset",
                 "pl_clk0", "pl_resetn0", "assign_bd_address", "validate_bd_design", "make_wrapper",
                 "launch_runs impl_1 -to_step write_bitstream", "wait_on_run impl_1", "write_hw_platform",
                 "get_ipdefs -all $ip_vlnv", "ip_repo_paths"):  # fmt: skip
        assert step in tcl, step
    assert f"set clock_mhz {b.clock_mhz:g}" in tcl and f"set stream_bits {m['word_bits']}" in tcl
    assert "set hp_bits 128" in tcl  # memory.hp_port_bits
    assert f"create_bd_cell -type ip -vlnv $ip_vlnv {m['zynq']['ip_cell']}" in tcl
    assert f"xilinx.com:ip:axi_dma {m['zynq']['dma_cell']}" in tcl
    for product in (m["zynq"]["bitstream"], m["zynq"]["hwh"], m["zynq"]["xsa"]):
        assert product in tcl
    assert m["zynq"]["hwh"] == m["zynq"]["bitstream"][:-4] + ".hwh"  # PYNQ: same base name
    assert tcl.count("{") == tcl.count("}") and tcl.count("[") == tcl.count("]")
    # the VLNV the block design asks for is the one both HLS front ends export
    hls_tcl, cfg = read(prj, "run_hls.tcl"), read(prj, "hls_config.cfg")
    assert "export_design -format ip_catalog -vendor nbq -library hls -ipname net_axis -version 1.0" in hls_tcl
    for line in ("package.ip.vendor=nbq", "package.ip.library=hls", "package.ip.name=net_axis",
                 "package.ip.version=1.0"):  # fmt: skip
        assert line in cfg.splitlines()


def test_block_design_without_board_files(tmp_path):
    text = (data_dir("boards") / "zcu102.yaml").read_text()
    (tmp_path / "zu.yaml").write_text(re.sub(r"vivado_board_part:.*\n", "", text))
    g = cnn_mixed()
    files = project_files(plan_graph(g, load_board(str(tmp_path / "zu.yaml"))), *golden(g))
    assert "set board_part_pattern {}" in files["vivado/block_design.tcl"]


def test_driver_and_manifest_agree(tmp_path):
    prj = write(cnn_mixed(), tmp_path / "prj", "zcu102")
    assert read(prj, "driver/nbq_driver.py") == (data_dir("hw") / "host" / "nbq_driver.py").read_text()
    m = json.loads(read(prj, "nbq_project.json"))
    assert m["zynq"]["dma_max_bytes"] == 2**26 - 1 and "CONFIG.c_sg_length_width {26}" in read(
        prj, "vivado/block_design.tcl"
    )
    assert "TLAST" in m["packing"] and "one value" in m["packing"]


# ------------------------------------------------------------------ README, manifest, determinism


@pytest.mark.parametrize("board", ["u280", "zcu102"])
def test_readme_and_manifest_list_the_targets(board, tmp_path):
    prj = write(cnn_mixed(), tmp_path / "prj", board)
    readme = read(prj, "README.md")
    m = json.loads(read(prj, "nbq_project.json"))
    for t in m["targets"]:
        row = next(ln for ln in readme.splitlines() if ln.startswith(f"| `{t['name']}` |"))
        for tool in "|".join(t["tools"]).split("|"):
            assert tool in row, (t["name"], tool)
    for f in m["files"]:
        if "/" in f and not f.startswith(("firmware/", "tb")):
            assert f"`{f}`" in readme, f  # the board-flow files are described
    assert m["packing"] in readme


def test_flow_files_are_deterministic(tmp_path):
    g = cnn_mixed()
    for board in ("u280", "zcu102"):
        a = project_files(plan_graph(g, load_board(board)), *golden(g))
        b = project_files(plan_graph(g, load_board(board)), *golden(g))
        assert a == b
        assert all(isinstance(v, bytes) for k, v in a.items() if k.endswith(".bin"))
