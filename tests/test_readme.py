"""The README's usage block, run as a user would: each command in an empty folder outside the repository, with
relative paths, the `nbq` of this environment, the example model copied in; exit 0 and its key output line."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARKER = "<!-- usage:"

# what each command must print (a regex searched in stdout); the first matching rule wins
KEY_LINES = [
    ("nbq train", r"digits_cnn \(po2\) on digits: test accuracy [\d.]+% in [\d.]+s -> model\.onnx"),
    ("--csim", r"C-simulation: PASS — \d+ images bit-exact"),
    ("--cosim", r"RTL co-simulation: PASS"),
    ("nbq compile", r"compiled \d+ layers, [\d,]+ weights .* files in out/? for \S+"),
    ("nbq csim", r"C-simulation: PASS — \d+ images bit-exact"),
    ("nbq cosim", r"RTL co-simulation: PASS"),
    ("nbq build", r"NBQ-CSIM images=\d+ mismatches=0"),
    ("nbq estimate", r"[\d,]+ cycles/image .* frames/s"),
    ("nbq report", r"written: out/?report\.html"),
    ("nbq run", r"argmax agreement: \d+/\d+ images .*\n.*top-1 vs --labels: reference [\d.]+ %"),
    ("nbq boards", r"zcu102.*\n(.*\n)*.*u280|u280.*\n(.*\n)*.*zcu102"),
    ("nbq quantize", r"quantized \d+ layers .*written q\.onnx"),
]
# the fast tier runs one command of each kind that needs no project and no g++/Verilator/torch (each costs a few
# seconds of interpreter start-up on 2 cores); every other command is in the slow tier, which CI runs too
FAST = ("nbq compile model.onnx --board zcu102 -o out/", "nbq estimate", "nbq run", "nbq boards", "nbq quantize")
NEEDS_PROJECT = ("nbq csim", "nbq cosim", "nbq build", "nbq report", "out/folding.json")


def usage_commands() -> list[str]:
    """The commands of the code block after the usage marker: comments and continuation comments dropped."""
    text = README.read_text()
    assert MARKER in text, "README.md lost the usage marker that tests/test_readme.py reads"
    block = text.split(MARKER, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        command = line.split("#", 1)[0].strip()
        if command:
            commands.append(command)
    return commands


def _key(command: str) -> str:
    for needle, pattern in KEY_LINES:
        if needle in command:
            return pattern
    raise AssertionError(f"no key output line known for README command: {command}")


def _marks(command: str):
    marks = []
    if command.startswith("nbq train"):
        marks.append(pytest.mark.torch)
    if not command.startswith(FAST):
        marks.append(pytest.mark.slow)
    return marks


def _launcher() -> list[str]:
    script = Path(sys.executable).with_name("nbq")  # the venv's entry point, as a user types it
    return [str(script)] if script.is_file() else [sys.executable, "-m", "nbq.cli"]


def _float_model(path: Path) -> None:
    """A float Conv-ReLU-Gemm net on digits-shaped input, as torch.onnx.export writes one (no torch needed)."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(0, 0.5, (4, 1, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(0, 0.1, 4).astype(np.float32), "b"),
             numpy_helper.from_array(rng.normal(0, 0.2, (10, 256)).astype(np.float32), "fc"),
             numpy_helper.from_array(np.zeros(10, np.float32), "fcb")]
    nodes = [helper.make_node("Conv", ["input", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Flatten", ["r"], ["f"]),
             helper.make_node("Gemm", ["f", "fc", "fcb"], ["logits"], transB=1)]
    graph = helper.make_graph(nodes, "float", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                             ["N", 1, 8, 8])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def _images() -> tuple[np.ndarray, np.ndarray]:
    """Digits-like images: random pixels plus the range extremes, labels 0..9."""
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (64, 1, 8, 8)).astype(np.float32)
    x[0], x[1] = 0.0, 1.0
    return x, rng.integers(0, 10, 64)


def _workdir(tmp_path: Path) -> Path:
    work = tmp_path / "user"  # outside the repository; nothing in it but what a user would have
    work.mkdir()
    shutil.copy(ROOT / "examples" / "digits_po2_cnn.onnx", work / "model.onnx")
    x, y = _images()
    np.save(work / "images.npy", x[:16])
    np.save(work / "x.npy", x)
    np.save(work / "y.npy", y)
    board = (ROOT / "boards" / "zcu102.yaml").read_text()
    (work / "my_board.yaml").write_text(re.sub(r"(?m)^name: .*$", "name: my_board", board))
    _float_model(work / "float.onnx")
    return work


def _nbq(command: str, cwd: Path) -> subprocess.CompletedProcess:
    argv = shlex.split(command)
    assert argv[0] == "nbq", command
    env = {k: v for k, v in os.environ.items() if k != "NBQ_DEBUG"}
    return subprocess.run(_launcher() + argv[1:], cwd=cwd, capture_output=True, text=True, timeout=900, env=env)


@pytest.mark.parametrize("command", [pytest.param(c, marks=_marks(c), id=c[:60]) for c in usage_commands()])
def test_readme_usage_command(command, tmp_path):
    work = _workdir(tmp_path)
    if any(n in command for n in NEEDS_PROJECT):  # an earlier README command made out/: make it here
        rtl = ["--rtl"] if command.startswith("nbq cosim") else []
        setup = _nbq(" ".join(["nbq compile model.onnx -o out/ -q", *rtl]), work)
        assert setup.returncode == 0, setup.stderr
    res = _nbq(command, work)
    assert res.returncode == 0, f"{command}\nstdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
    assert re.search(_key(command), res.stdout), f"{command}: no key line in\n{res.stdout[-3000:]}"
    assert "Traceback" not in res.stderr


def test_usage_block_is_what_the_tests_run():
    commands = usage_commands()
    assert len(commands) >= 15 and all(c.startswith("nbq ") for c in commands)
    assert not [c for c in commands if "[" in c or "<" in c], "usage commands must run as written (no [optional])"
    subcommands = {shlex.split(c)[1] for c in commands}
    assert {"train", "compile", "csim", "cosim", "build", "estimate", "report", "run", "boards",
            "quantize"} <= subcommands
