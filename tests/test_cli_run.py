"""`nbq run`: a summary instead of every prediction; the full list with -v / --json; top-1 with --labels."""

import json
from pathlib import Path

import numpy as np
import pytest

from nbq.cli import main
from nbq.compare import Comparison
from nbq.run_summary import WORST_SHOWN, summarize

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits_po2_cnn.onnx"


def _comparison(ref: np.ndarray, ort: np.ndarray, scale: float = 0.5) -> Comparison:
    return Comparison({"y": ref}, {"y_onnx": ort}, {"y": scale}, float(np.abs(ref * scale - ort).max() / scale))


def test_summary_counts_agreement_ties_and_worst_images():
    rng = np.random.default_rng(1)
    ref = rng.integers(-50, 50, size=(40, 10))
    ref[:, 3] = 200  # class 3 everywhere, by a wide margin
    ref[11, 5] = 100
    ort = ref * 0.5
    ort[7, 3] += 0.25  # half a step off, same class
    ort[11, 5] = 150.0  # ORT picks class 5 (150 > 100): a real disagreement, |50 - 150| / 0.5 = 200 steps off
    ref[20, 8] = 200  # a tie in the reference (3 and 8), broken towards 3
    ort[20] = ref[20] * 0.5
    ort[20, 8] += 0.1  # ORT prefers 8, a fifth of a step away
    s = summarize(_comparison(ref, ort))
    assert (s.images, s.agree, s.ties) == (40, 38, 1)
    assert s.agreement == pytest.approx(38 / 40)
    assert [w.index for w in s.worst[:3]] == [11, 7, 20]
    assert s.worst[0].steps == pytest.approx(200.0) and s.worst[0].ort_class == 5 and s.worst[0].reference_class == 3
    assert s.worst[1].steps == pytest.approx(0.5) and len(s.worst) == WORST_SHOWN
    assert s.reference_top1 is None


def test_summary_top1_against_labels():
    ref = np.eye(4, dtype=np.int64)[[0, 1, 2, 3, 0, 1]] * 8
    labels = np.array([0, 1, 2, 0, 0, 2])
    s = summarize(_comparison(ref, ref * 0.5), labels)
    assert s.reference_top1 == pytest.approx(4 / 6) and s.ort_top1 == pytest.approx(4 / 6)


def _digits(tmp_path, n: int = 120):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(n, 1, 8, 8)).astype(np.float32)
    x[:3] = 0.0  # range extremes: all dark, all bright
    x[3:6] = 1.0
    np.save(tmp_path / "x.npy", x)
    return tmp_path / "x.npy", x


def test_run_prints_a_few_lines_not_every_prediction(tmp_path, capsys):
    xpath, _ = _digits(tmp_path)
    assert main(["run", str(EXAMPLE), "--input", str(xpath)]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) <= 6, out
    assert "120 images" in out and "argmax agreement: 120/120 images (100.00 %)" in out
    assert "largest deviation 0.000 quantization steps" in out and "within one step" in out
    assert "argmax: [" not in out  # the per-image list is -v's


def test_run_verbose_lists_predictions_before_the_summary(tmp_path, capsys):
    xpath, _ = _digits(tmp_path, 8)
    assert main(["run", str(EXAMPLE), "--input", str(xpath), "-v"]) == 0
    out = capsys.readouterr().out
    assert "integers (scale" in out and "argmax: [" in out
    assert out.index("argmax: [") < out.index("argmax agreement")


def test_run_labels_top1_matches_onnxruntime(tmp_path, capsys):
    from nbq.compare import run_onnxruntime

    xpath, x = _digits(tmp_path)
    ort_cls = run_onnxruntime(EXAMPLE, x, "input")[0].reshape(len(x), -1).argmax(axis=1)
    labels = ort_cls.copy()
    labels[:30] = (labels[:30] + 1) % 10  # a quarter wrong by construction
    np.save(tmp_path / "y.npy", labels)
    assert main(["run", str(EXAMPLE), "--input", str(xpath), "--labels", str(tmp_path / "y.npy")]) == 0
    out = capsys.readouterr().out
    assert "top-1 vs --labels: reference 75.00 %, ONNX Runtime 75.00 %" in out


def test_run_json_has_every_image(tmp_path, capsys):
    from nbq.compare import run_onnxruntime

    xpath, x = _digits(tmp_path, 30)
    assert main(["run", str(EXAMPLE), "--input", str(xpath), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["agrees"] is True and data["summary"]["images"] == 30 and len(data["images"]) == 30
    ort_cls = run_onnxruntime(EXAMPLE, x, "input")[0].reshape(len(x), -1).argmax(axis=1)
    assert [im["ort_class"] for im in data["images"]] == ort_cls.tolist()
    assert all(im["steps"] == 0.0 for im in data["images"]) and "outputs" not in data


@pytest.mark.parametrize("labels,message", [
    (np.zeros(7, np.int64), "holds labels of shape (7,), expected (120,)"),
    (np.full(120, -1), "non-negative integers"),
])
def test_run_bad_labels_one_line(tmp_path, labels, message, capsys):
    xpath, _ = _digits(tmp_path)
    np.save(tmp_path / "y.npy", labels)
    assert main(["run", str(EXAMPLE), "--input", str(xpath), "--labels", str(tmp_path / "y.npy")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "y.npy" in err


def test_run_json_into_a_closed_pipe_stops_quietly(tmp_path):
    import subprocess
    import sys

    xpath, _ = _digits(tmp_path, 2000)  # ~180 KB of JSON: more than a pipe holds, so the write must fail
    proc = subprocess.Popen([sys.executable, "-m", "nbq.cli", "run", str(EXAMPLE), "--input", str(xpath), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()  # the reader takes one line and leaves, as `| head -1` does
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and first.strip() == b"{"
    assert err == "", err  # no "internal error: BrokenPipeError", no traceback
