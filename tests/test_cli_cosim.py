"""`nbq compile --rtl/--cosim` and `nbq cosim`: the RTL network from the CLI, bit-exact."""

from pathlib import Path

import pytest

from nbq.cli import main

pytestmark = pytest.mark.slow
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits_po2_cnn.onnx"


def test_compile_with_cosim_then_cosim_command(tmp_path, capsys):
    out = tmp_path / "prj"
    assert main(["compile", str(EXAMPLE), "--board", "zcu102", "-o", str(out), "--cosim", "-q"]) == 0
    text = capsys.readouterr().out
    assert "RTL co-simulation: PASS" in text and "0 mismatches" in text and "cycles/image" in text
    assert (out / "rtl").is_dir() and (out / "nbq_project.json").is_file()
    assert main(["cosim", str(out)]) == 0
    assert "PE utilization" in capsys.readouterr().out
    # waveforms: only the first images by default, the file is named
    assert main(["cosim", str(out), "--waves", "--images", "2"]) == 0
    text = capsys.readouterr().out
    vcd = out / "rtl" / "sim_run" / "dump.vcd"
    assert "2 images, 0 mismatches" in text and "waveforms:" in text and vcd.is_file()
    data = vcd.read_bytes()
    assert data.startswith(b"$version") and b"ap_clk" in data[:100_000] and b"$enddefinitions" in data
    last_time = max(int(line[1:]) for line in data[-20_000:].splitlines() if line[:1] == b"#" and line[1:].isdigit())
    assert last_time >= 2 * 128 * 10_000  # ps: at least two images' worth of 10 ns cycles were traced
    assert main(["cosim", str(out), "--images", "0"]) == 2


def test_cosim_without_rtl_is_a_one_line_error(tmp_path, capsys):
    out = tmp_path / "prj"
    assert main(["compile", str(EXAMPLE), "--board", "u280", "-o", str(out), "-q"]) == 0
    capsys.readouterr()
    assert main(["cosim", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--rtl" in err
