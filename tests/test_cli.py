"""The command line: exit codes, one-line errors, boards, run."""

import subprocess
import sys

import numpy as np
import pytest
from netgen import random_cnn

from nbq.cli import main


def _nbq(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbq.cli", *args], capture_output=True, text=True, timeout=300)


def test_help_on_every_command():
    for cmd in ([], ["compile"], ["csim"], ["run"], ["boards"], ["train"]):
        res = _nbq(*cmd, "--help")
        assert res.returncode == 0 and "usage: nbq" in res.stdout, cmd


def test_boards_lists_both(capsys):
    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    assert "zcu102" in out and "u280" in out and "xczu9eg-ffvb1156-2-e" in out and "xcu280-fsvh2892-2L-e" in out


def test_unknown_board_lists_known_ones(tmp_path, save_model, capsys):
    path = save_model(random_cnn(1, n_bits=2))
    assert main(["compile", str(path), "--board", "zcu999", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown board 'zcu999'" in err and "u280" in err and "zcu102" in err
    assert not (tmp_path / "out").exists()


def test_board_from_yaml_path(tmp_path):
    from nbq.board_catalog import load_board

    custom = tmp_path / "myboard.yaml"
    custom.write_text("name: my\npart: xc7z020clg400-1\nplatform: none\nclock_mhz: 100\nflow: vivado\n"
                      "resources: {lut: 53200, ff: 106400, dsp: 220, bram36: 140, uram: 0}\n")
    assert load_board(str(custom)).part == "xc7z020clg400-1"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    with pytest.raises(Exception, match="missing part, platform, clock_mhz, flow, resources"):
        load_board(str(bad))


@pytest.mark.parametrize("case", ["missing", "not-onnx", "unsupported-op", "float-weights"])
def test_bad_models_give_one_line_and_no_output(case, tmp_path):
    import onnx
    from netgen import _Builder, build

    model = tmp_path / "m.onnx"
    if case == "not-onnx":
        model.write_text("hello, I am a text file\n" * 20)
    elif case in ("unsupported-op", "float-weights"):
        b = _Builder(0)
        x = b.qdq("input", -4, signed=False, bits=8)
        w = b.po2_weights((4, 8), 2) if case == "unsupported-op" else np.full((4, 8), 0.3, np.float32)
        x = b.node("Gemm", [x, b.const(w, "w")], transB=1)
        if case == "unsupported-op":
            x = b.node("Softsign", [x])
        onnx.save(build(b, (1, 8), x, "m"), str(model))
    out = tmp_path / "project"
    res = _nbq("compile", str(model), "--board", "zcu102", "-o", str(out))
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith("nbq: error: ")
    expected = {"missing": "no such file", "not-onnx": "not an ONNX model",
                "unsupported-op": "unsupported op 'Softsign'", "float-weights": "weights are not powers of two"}[case]
    assert expected in res.stderr
    assert not out.exists()


def test_run_reports_deviation_in_steps(tmp_path, save_model, capsys):
    path = save_model(random_cnn(3, n_bits=3))
    x = np.random.default_rng(0).uniform(-1, 1, size=(4, 1, 1, 1))
    from nbq.pipeline import lower

    shape = lower(path).tensors["input"].shape
    x = np.random.default_rng(0).uniform(-2, 2, size=(4,) + shape).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    assert main(["run", str(path), "--input", str(tmp_path / "x.npy")]) == 0
    out = capsys.readouterr().out
    assert "largest deviation" in out and "within one step" in out and "argmax" in out


def test_run_bad_input_shape(tmp_path, save_model, capsys):
    path = save_model(random_cnn(3, n_bits=3))
    np.save(tmp_path / "x.npy", np.zeros((2, 5)))
    assert main(["run", str(path), "--input", str(tmp_path / "x.npy")]) == 2
    assert "the model takes" in capsys.readouterr().err


def test_train_help_states_every_default():
    import argparse

    from nbq.nn.cli import add_train_arguments

    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    options = [a for a in parser._actions if a.help is not argparse.SUPPRESS and a.dest != "help"]
    assert len(options) >= 20
    for action in options:  # the other commands' convention: the default in brackets at the end
        assert action.help.rstrip().endswith("]"), action.option_strings
    assert "[digits_cnn]" in parser.format_help() and "[30]" in parser.format_help()


def test_verbose_before_or_after_the_command():
    from nbq.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["-v", "boards"]).verbose is True
    assert parser.parse_args(["boards", "--verbose"]).verbose is True
    assert parser.parse_args(["boards"]).verbose is False
    assert parser.parse_args(["--verbose", "run", "m.onnx", "--input", "x.npy"]).verbose is True


@pytest.mark.parametrize("verbose", [[], ["-v"], ["--verbose"]])
def test_compile_lists_files_only_when_verbose(tmp_path, save_model, capsys, verbose):
    import json

    path = save_model(random_cnn(2, n_bits=3))
    out = tmp_path / "prj"
    argv = ["compile", str(path), "-o", str(out)]
    assert main(verbose[:1] + argv if verbose == ["-v"] else argv + verbose) == 0
    stdout = capsys.readouterr().out
    files = json.loads((out / "nbq_project.json").read_text())["files"]
    listed = [f for f in files if f.startswith("firmware/weights/") and f in stdout]
    if verbose:
        assert "Generated project" in stdout and len(listed) >= 2
    else:
        assert "Generated project" not in stdout and not listed
        assert f"wrote {len(files)} files to {out}: HLS project, report.html" in stdout
    assert "cli.py:" not in stdout  # log lines carry the time, not a source location


def test_layer_table_columns_say_what_they_hold(save_model):
    import io

    from rich.console import Console

    from nbq.cli import _layer_table
    from nbq.pipeline import lower

    graph = lower(save_model(random_cnn(2, n_bits=3)))
    buf = io.StringIO()
    Console(file=buf, width=250).print(_layer_table(graph, "t"))
    text = buf.getvalue()
    assert "weight format" in text and "weight count" in text and "weight bits total" in text
    assert " weights " not in text and "│ weight bits │" not in text
    for layer in graph.layers:
        if hasattr(layer, "weights") and layer.weights is not None:
            w = layer.weights
            row = next(line for line in text.splitlines() if f" {layer.name} " in line)
            cells = [c.strip() for c in row.split("│")]
            assert w.format_str in cells and f"{w.ints.size:,}" in cells and f"{w.ints.size * w.bits:,}" in cells
