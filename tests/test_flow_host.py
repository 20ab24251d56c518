"""The U280 host side without XRT: hw/host/nbq_host.h unit tests (g++, strict flags), and the
generated host/host.cpp built by `make host` against a stub XRT whose kernel is the kernel's
C model, then `make run` on the golden batch (bit-exact), a repeated batch and a corrupted golden."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from flow_tools import tool_free_env
from hls_graphs import golden, residual

from nbq.backends.hls import write_hls_project
from nbq.backends.hls.bindata import batch_bytes, read_batch_bytes
from nbq.board_catalog import load_board
from nbq.plan import plan_graph
from nbq.resources import data_dir
from nbq.sim.csim import find_hls_headers

HERE = Path(__file__).parent / "flow_host"
STRICT = ["-Wall", "-Wextra", "-Werror"]

pytestmark = pytest.mark.skipif(shutil.which("g++") is None or shutil.which("make") is None, reason="needs g++, make")


def _sanitizers() -> list[str]:
    """-fsanitize=address,undefined when this g++ can link it."""
    probe = subprocess.run(["g++", "-fsanitize=address,undefined", "-x", "c++", "-", "-o", os.devnull],
                           input="int main() { return 0; }", capture_output=True, text=True)  # fmt: skip
    return ["-fsanitize=address,undefined", "-g"] if probe.returncode == 0 else []


def test_host_library_unit_tests(tmp_path):
    exe = tmp_path / "host_lib_test"
    cmd = ["g++", "-std=c++14", *STRICT, "-pedantic", *_sanitizers(), "-I", str(data_dir("hw") / "host"),
           str(HERE / "host_lib_test.cpp"), "-o", str(exe)]  # fmt: skip
    built = subprocess.run(cmd, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    done = subprocess.run([str(exe), str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "failures=0" in done.stdout and "checks=" in done.stdout
    # the files the C++ side wrote are what the Python side (which writes tb_data/*.bin) reads
    small = read_batch_bytes((tmp_path / "small.bin").read_bytes())
    assert small.shape == (3, 7) and small[0, 0] == -128 and small[-1, -1] == 127
    wide = read_batch_bytes((tmp_path / "wide.bin").read_bytes())
    assert wide.tolist() == [[2**40, -(2**40)], [-1, 0]]
    assert batch_bytes(wide) == (tmp_path / "wide.bin").read_bytes()  # byte for byte the same format


def _fake_xrt(prj: Path, root: Path, top: str) -> Path:
    """An XILINX_XRT folder: the stub headers, and a libxrt_coreutil.a holding the kernel's C model."""
    subprocess.run([sys.executable, str(prj / "tools" / "nbq_rom_init.py")], check=True)  # the ROM initializers
    include = root / "include" / "xrt"
    include.mkdir(parents=True)
    for header in (HERE / "xrt_stub" / "xrt").glob("*.h"):
        shutil.copy(header, include / header.name)
    lib = root / "lib"
    lib.mkdir()
    common = ["g++", "-std=c++14", "-O1", *STRICT, "-isystem", str(find_hls_headers()), "-Wno-unknown-pragmas",
              "-I", str(prj / "firmware"), "-I", str(root / "include")]  # fmt: skip
    defines = [f'-DNBQ_TOP_HEADER="{top}.h"', f'-DNBQ_KERNEL_NAME="{top}_krnl"', f"-DNBQ_KERNEL={top}_krnl"]
    jobs = [
        subprocess.Popen([*common, *defines, "-c", str(HERE / "kernel_adapter.cpp"), "-o", str(lib / "adapter.o")],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
        subprocess.Popen([*common, "-c", str(prj / "firmware" / f"{top}.cpp"), "-o", str(lib / "kernel.o")],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
    ]  # fmt: skip
    for job in jobs:
        out, _ = job.communicate()
        assert job.returncode == 0, out
    subprocess.run(["ar", "rcs", str(lib / "libxrt_coreutil.a"), str(lib / "adapter.o"), str(lib / "kernel.o")],
                   check=True)  # fmt: skip
    return root


def test_make_host_and_run_with_stub_xrt(tmp_path):
    if shutil.which("ar") is None:
        pytest.skip("needs ar")
    g = residual()
    x, y = golden(g)
    prj = tmp_path / "prj"
    write_hls_project(plan_graph(g, load_board("u280")), prj, x, y, top_name="net")
    xrt = _fake_xrt(prj, tmp_path / "xrt", "net")
    (prj / "net.xclbin").write_text("stub")  # `make run` uses an existing xclbin as is
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env["XILINX_XRT"] = str(xrt)
    flags = "HOST_CXXFLAGS=-std=c++17 -O1 " + " ".join(STRICT)  # the generated host compiles warning-free

    def make(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["make", "--no-print-directory", *args, flags, f"PYTHON={sys.executable}"],
                              cwd=prj, env=env, capture_output=True, text=True)  # fmt: skip

    done = make("run", "RUN_ARGS=--repeat 3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (prj / "host" / "net_host").is_file()
    n = len(x)
    assert f"NBQ-HOST images={3 * n} mismatches=0 " in done.stdout

    # a wrong golden value is found, named, and fails the run
    gold = read_batch_bytes((prj / "tb_data" / "golden.bin").read_bytes())
    gold[1, 2] += 1
    (prj / "tb_data" / "golden.bin").write_bytes(batch_bytes(gold))
    done = make("run")
    assert done.returncode != 0
    assert f"MISMATCH image=1 index=2 expected={gold[1, 2]} got={gold[1, 2] - 1}" in done.stdout
    assert f"NBQ-HOST images={n} mismatches=1 " in done.stdout

    # bad arguments and unreadable files are one-line errors, never a pass
    exe = str(prj / "host" / "net_host")
    bad = subprocess.run([exe, "--repeat", "0"], cwd=prj, capture_output=True, text=True)
    assert bad.returncode == 2 and "--repeat takes a count" in bad.stderr
    missing = subprocess.run([exe, "--inputs", "nope.bin"], cwd=prj, capture_output=True, text=True)
    assert missing.returncode == 1 and "cannot open nope.bin" in missing.stderr
    no_xclbin = subprocess.run([exe, "--xclbin", "absent.xclbin"], cwd=prj, capture_output=True, text=True)
    assert no_xclbin.returncode == 1 and "XRT: stub: cannot open xclbin" in no_xclbin.stderr
    assert "NBQ-HOST images=0 mismatches=1" in no_xclbin.stdout
    mismatched = np.zeros((2, 3), dtype=np.int64)  # a batch of the wrong shape
    (prj / "tb_data" / "odd.bin").write_bytes(batch_bytes(mismatched))
    odd = subprocess.run([exe, "--inputs", "tb_data/odd.bin"], cwd=prj, capture_output=True, text=True)
    assert odd.returncode == 1 and "do not match the kernel" in odd.stderr


def test_make_host_without_xrt_says_so(tmp_path):
    g = residual()
    prj = tmp_path / "prj"
    write_hls_project(plan_graph(g, load_board("u280")), prj, *golden(g))
    env = tool_free_env(tmp_path / "bin")
    for target in ("host", "run"):
        done = subprocess.run(["make", "--no-print-directory", target], cwd=prj, env=env, capture_output=True,
                              text=True)  # fmt: skip
        assert done.returncode != 0
        assert done.stdout.splitlines() == [
            f"nbq: {target} needs XRT (XILINX_XRT unset or without include/xrt/xrt_kernel.h); "
            "source /opt/xilinx/xrt/setup.sh first"
        ]
