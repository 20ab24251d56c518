"""docs/api.md's code blocks and examples/api_walkthrough.py run as written, from an unrelated folder."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(), re.DOTALL)


def test_docs_have_a_worked_example():
    code = "\n".join(_blocks())
    for call in ("nbq.estimate(", "nbq.compile(", ".csim(", ".cosim(", ".accuracy("):
        assert call in code, call


@pytest.mark.slow
def test_docs_api_code_blocks_run(tmp_path):
    shutil.copyfile(ROOT / "examples" / "digits_po2_cnn.onnx", tmp_path / "digits_po2_cnn.onnx")
    script = tmp_path / "doc_example.py"
    script.write_text("\n".join(_blocks()))
    res = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=900,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stdout + res.stderr
    assert re.search(r"C-sim: 50 images, bit-exact \(0 mismatches\); top-1 hardware ([\d.]+) % = reference \1 %",
                     res.stdout)
    assert re.search(r"co-sim: 10 images, bit-exact \(0 mismatches\)", res.stdout)
    assert (tmp_path / "digits_prj" / "report.json").is_file()


@pytest.mark.slow
def test_walkthrough_runs_from_an_unrelated_folder(tmp_path):
    res = subprocess.run([sys.executable, str(ROOT / "examples" / "api_walkthrough.py"), "--images", "30"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=900,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stdout + res.stderr
    assert re.search(r"C-sim: 30 images, bit-exact \(0 mismatches\); top-1 hardware ([\d.]+) % = reference \1 %",
                     res.stdout)
    assert (tmp_path / "walkthrough_prj" / "nbq_project.json").is_file()
