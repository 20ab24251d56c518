"""The way a new user meets nbq: a wheel built from the checkout, installed into a fresh venv, driven from an
unrelated folder with relative paths.

Slow tier: the venv installs nbq's dependencies with pip (from the index, or the machine's pip cache).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HLS_HEADERS = "hls4ml==1.3.0"  # the Makefile's open-source ap_int/hls_stream headers, installed without deps
# what setuptools says when the package configuration is wrong; pip's own index notes are not the build's
BUILD_WARNINGS = re.compile(r"BuildBackendWarning|SetuptoolsDeprecationWarning|SetuptoolsWarning|is absent from")

pytestmark = pytest.mark.slow


def _user_env() -> dict[str, str]:
    """A user's shell: no PYTHONPATH or venv of the test run pointing back at the checkout."""
    return {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}


def _run(cmd: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=_user_env())
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _source_copy(dest: Path) -> Path:
    """The checkout's tracked files (what a fresh clone holds), so the build leaves nothing in the work tree."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: cannot tell which files a fresh clone would hold")
    for name in filter(None, listed.stdout.split("\0")):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """bin/ of a fresh venv holding the wheel with the sim extra."""
    base = tmp_path_factory.mktemp("wheel")
    src = _source_copy(base / "src")
    wheels = base / "dist"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(wheels), "."], cwd=src)
    log = built.stdout + built.stderr
    assert not BUILD_WARNINGS.search(log), f"the wheel build warns:\n{log}"
    (wheel,) = wheels.glob("nbq_fpga-*.whl")
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bindir = env_dir / "bin"
    _run([str(bindir / "python"), "-m", "pip", "install", "-q", f"{wheel}[sim]"], cwd=base)
    _run([str(bindir / "python"), "-m", "pip", "install", "-q", "--no-deps", HLS_HEADERS], cwd=base)
    return bindir


def test_wheel_compiles_simulates_and_cosimulates_from_an_unrelated_folder(installed, tmp_path):
    work = tmp_path / "user"
    (work / "models").mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "digits_po2_cnn.onnx", work / "models" / "cnn.onnx")
    nbq = str(installed / "nbq")

    version = _run([nbq, "--version"], cwd=work).stdout
    assert re.fullmatch(r"nbq \d+\.\d+\.\d+\S*\n", version), version

    where = _run([str(installed / "python"), "-c", "import nbq; print(nbq.__file__)"], cwd=work).stdout
    assert str(installed.parent) in where, f"nbq imported from {where.strip()}, not from the fresh venv"

    _run([nbq, "compile", "models/cnn.onnx", "--board", "zcu102", "--rtl", "-o", "out/cnn"], cwd=work)
    assert (work / "out" / "cnn" / "report.json").is_file()
    csim = _run([nbq, "csim", "out/cnn"], cwd=work)
    assert re.search(r"bit-exact|\b0 mismatches", csim.stdout + csim.stderr), csim.stdout + csim.stderr
    cosim = _run([nbq, "cosim", "out/cnn", "--images", "3"], cwd=work)
    assert re.search(r"bit-exact|\b0 mismatches", cosim.stdout + cosim.stderr), cosim.stdout + cosim.stderr
    written = {p.relative_to(work).parts[0] for p in work.rglob("*")}
    assert written == {"models", "out"}, f"nbq wrote outside its output folder: {sorted(written)}"
