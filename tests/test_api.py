"""nbq's Python API (nbq.api, docs/api.md) and the accuracy line of compile / csim, via the API and the CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nbq
from nbq import reference
from nbq.errors import NbqError

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "digits_po2_cnn.onnx"
LINE = "C-sim: {n} images, bit-exact (0 mismatches); top-1 hardware {a} = reference {a}"


def _nbq(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "nbq.cli", *args], capture_output=True, text=True, timeout=600,
                          cwd=cwd, env=env)


def _digits(n: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None]
    return x[offset:offset + n], d.target[offset:offset + n].astype(np.int64)


def _reference_top1(x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 of nbq's reference executor computed here, independently of the testbench files."""
    from nbq.pipeline import lower

    graph = lower(DEMO)
    out = reference.run_int(graph, reference.quantize_input(graph, x.astype(np.float64)))[graph.outputs[0]]
    return float(np.mean(out.reshape(len(y), -1).argmax(axis=1) == y))


def test_import_nbq_is_light():
    code = "import sys, nbq; nbq.boards; assert 'torch' not in sys.modules and 'onnx' not in sys.modules, 1"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stderr


def test_boards_are_typed_records():
    names = {b.name: b for b in nbq.boards()}
    assert {"zcu102", "u280"} <= set(names)
    assert names["zcu102"].part == "xczu9eg-ffvb1156-2-e" and names["zcu102"].clock_mhz > 0


def test_estimate_is_what_the_cli_prints(tmp_path):
    report = nbq.estimate(DEMO, board="zcu102", fps=100_000)
    res = _nbq("estimate", str(DEMO), "--fps", "100000", "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == report.data
    assert report.ii_cycles == report.data["performance"]["ii_cycles"] and report.frames_per_s >= 100_000
    assert report.board == "zcu102" and report.layers and set(report.total) == {"lut", "ff", "dsp", "bram36", "uram"}


def test_errors_are_the_cli_messages(tmp_path):
    with pytest.raises(NbqError) as api_error:
        nbq.compile(DEMO, board="nosuchboard", out=tmp_path / "p")
    res = _nbq("compile", str(DEMO), "--board", "nosuchboard", "-o", "p", cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.strip() == f"nbq: error: {api_error.value}"
    with pytest.raises(NbqError, match="not an nbq project"):
        nbq.open_project(tmp_path)
    with pytest.raises(NbqError, match="images=N"):
        nbq.compile(DEMO, out=tmp_path / "p", images=3)


def test_compile_open_and_report_without_simulating(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = _digits(5)
    project = nbq.compile(DEMO, out="prj", test_data=(x, y), rtl=True)
    assert (tmp_path / "prj" / "rtl").is_dir() and project.labels.tolist() == y.tolist()
    again = nbq.open_project("prj")
    assert again.settings == project.settings and again.settings.model == str(DEMO)
    assert again.report == project.estimate() and again.report.model == DEMO.name
    assert again.labels.tolist() == y.tolist()
    assert again.manifest["tb_images"] == 5
    with pytest.raises(NbqError, match="first N of the test data"):
        again.csim(images=2)
    with pytest.raises(NbqError, match=r"test data y: 4 labels for 5 images"):
        nbq.compile(DEMO, out="prj", test_data=(x, y[:4]))
    np.savez("wrong.npz", x=np.zeros((3, 2, 2)), y=np.zeros(3, int))
    with pytest.raises(NbqError, match=r"^wrong.npz\[x\]: holds an array of shape \(3, 2, 2\), the model takes"):
        nbq.compile(DEMO, out="prj", test_data="wrong.npz")
    with pytest.raises(NbqError, match="label 10 at index 0 is not a class"):
        nbq.compile(DEMO, out="prj2", test_data=(x, np.full(5, 10)))


def test_project_without_recorded_settings_cannot_be_rebuilt(tmp_path):
    from nbq.board_catalog import load_board
    from nbq.pipeline import compile_model

    compile_model(DEMO, load_board("zcu102"), tmp_path / "old")  # as an nbq before the API wrote it
    old = nbq.open_project(tmp_path / "old")
    assert old.settings is None and old.labels is None and old.report.model == DEMO.name
    with pytest.raises(NbqError, match="did not record how; compile it again"):
        old.csim(test_data=_digits(3))


@pytest.fixture(scope="module")
def cli_project(tmp_path_factory):
    """`nbq compile m.onnx -o prj --test-data m_test.npz --csim` in an unrelated folder, relative paths."""
    folder = tmp_path_factory.mktemp("user")
    shutil.copyfile(DEMO, folder / "m.onnx")
    x, y = _digits(40, offset=1000)
    np.savez(folder / "m_test.npz", x=x, y=y)
    res = _nbq("compile", "m.onnx", "-o", "prj", "--test-data", "m_test.npz", "--csim", "-q", cwd=folder)
    return folder, res, x, y


def test_compile_prints_hardware_and_reference_accuracy(cli_project):
    folder, res, x, y = cli_project
    assert res.returncode == 0, res.stderr
    acc = f"{100 * _reference_top1(x, y):.1f} %"
    assert LINE.format(n=40, a=acc) in res.stdout


def test_csim_of_the_project_again_reports_accuracy(cli_project):
    folder, _res, x, y = cli_project
    run = nbq.open_project(folder / "prj").csim()  # the cached testbench binary: no rebuild
    assert run.passed and run.accuracy.images == 40 and run.accuracy.hardware_from == "outputs"
    assert run.accuracy.hardware_top1 == run.accuracy.reference_top1 == _reference_top1(x, y)
    res = _nbq("csim", "prj", cwd=folder)
    assert res.returncode == 0 and LINE.format(n=40, a=f"{100 * _reference_top1(x, y):.1f} %") in res.stdout


def test_bad_test_data_on_the_cli_is_one_line_exit_2(cli_project, monkeypatch, capsys):
    from nbq.cli import main

    folder = cli_project[0]
    monkeypatch.chdir(folder)
    np.savez("bad.npz", x=np.zeros((3, 1, 8, 8)), y=np.zeros(2, int))
    for args, words in ((["compile", "m.onnx", "-o", "prj2", "--test-data", "bad.npz"], "bad.npz[y]: 2 labels for 3"),
                        (["csim", "prj", "--test-data", "bad.npz"], "bad.npz[y]: 2 labels for 3"),
                        (["csim", "prj", "--images", "3"], "first N of the test data"),
                        (["compile", "m.onnx", "-o", "prj2", "--labels", "y.npy"], "--labels goes with --test-data"),
                        (["cosim", "prj"], "no RTL in this project")):
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("nbq: error: ") and err.count("\n") == 1 and words in err, (args, err)
    assert not (folder / "prj2").exists()


def test_train_split_file_is_what_test_data_reads(tmp_path):
    from nbq.nn.cli import write_test_split
    from nbq.testdata import load_test_data

    x, y = _digits(30)
    path = write_test_split(tmp_path / "m.onnx", x, y)
    assert path == tmp_path / "m_test.npz"
    data = load_test_data(path, expected_shape=(1, 8, 8))
    np.testing.assert_array_equal(data.x, x.astype(np.float64))
    np.testing.assert_array_equal(data.y, y)


@pytest.mark.slow
def test_train_then_compile_with_its_test_split_and_cosim(tmp_path):
    """The issue's acceptance: `nbq train -o m.onnx`, then `nbq compile m.onnx --test-data m_test.npz --cosim`."""
    pytest.importorskip("torch")
    from nbq.nn.data import load_digits_split

    res = _nbq("train", "--epochs", "1", "--no-progress", "-o", "m.onnx", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    split = load_digits_split()
    with np.load(tmp_path / "m_test.npz", allow_pickle=False) as z:
        np.testing.assert_array_equal(z["x"], split.x_test)
        np.testing.assert_array_equal(z["y"], split.y_test)
    assert json.loads((tmp_path / "m.json").read_text())["test_data"] == "m_test.npz"
    res = _nbq("compile", "m.onnx", "-o", "prj", "--test-data", "m_test.npz", "--cosim", "-q", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    n = len(split.y_test)
    m = re.search(rf"co-sim: {n} images, bit-exact \(0 mismatches\); top-1 hardware ([\d.]+) % = reference \1 %",
                  res.stdout)
    assert m is not None, res.stdout
    trained = json.loads((tmp_path / "m.json").read_text())["test_accuracy"]
    # the reference computes what the trainer measured (float fake-quantization: a few images may round apart)
    assert abs(float(m.group(1)) - trained) <= 1.0


def test_api_names_survive_importing_every_submodule():
    """A submodule named like an API call would replace it on import (compile, boards, estimate were modules)."""
    code = ("import importlib, pkgutil, nbq\n"
            "for m in pkgutil.walk_packages(nbq.__path__, 'nbq.'):\n"
            "    if not m.name.startswith('nbq.nn'):  # torch: slow to load, and not an API name\n"
            "        importlib.import_module(m.name)\n"
            "import types\n"
            "bad = [n for n in ('compile', 'boards', 'estimate', 'open_project') "
            "if isinstance(getattr(nbq, n), types.ModuleType) or not callable(getattr(nbq, n))]\n"
            "assert not bad, bad\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
