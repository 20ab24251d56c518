"""report.json / report.html of a compiled project, `nbq estimate`, `nbq report` - and the page in a real browser."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "digits_po2_cnn.onnx"


def _nbq(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbq.cli", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("report")
    run = _nbq("compile", str(DEMO), "--board", "zcu102", "-o", "prj", "-q", cwd=work)
    assert run.returncode == 0, run.stderr
    return work / "prj"


def test_project_holds_the_report_and_the_folding(project):
    data = json.loads((project / "report.json").read_text())
    manifest = json.loads((project / "nbq_project.json").read_text())
    assert {"report.json", "report.html", "folding.json"} <= set(manifest["files"])
    assert data["performance"]["ii_cycles"] == manifest["pipeline"]["ii_cycles"]
    assert data["total"]["dsp"] == 0 and data["total"]["lut"] > 0  # the SVPE design uses no DSP
    assert all(0 <= data["usage"][k] <= 1 for k in ("lut", "ff", "dsp", "bram36"))
    folding = json.loads((project / "folding.json").read_text())
    convs = [la for la in data["layers"] if la["op"] == "Conv"]
    assert convs and all(folding[la["name"]]["PE"] == la["pe"] for la in convs)


def test_estimate_command_prints_the_same_numbers(project, tmp_path):
    run = _nbq("estimate", str(DEMO), "--board", "zcu102", "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    saved = json.loads((project / "report.json").read_text())
    assert data["total"] == saved["total"] and data["performance"] == saved["performance"]
    table = _nbq("estimate", str(DEMO), "--board", "u280", cwd=tmp_path)
    assert table.returncode == 0 and "cycles/image" in table.stdout and "budget" in table.stdout
    slow = _nbq("estimate", str(DEMO), "--fps", "10000", "--json", cwd=tmp_path)
    small = json.loads(slow.stdout)
    assert small["performance"]["frames_per_s"] >= 10000 and small["total"]["lut"] < data["total"]["lut"]


def test_report_command_reads_vendor_reports(project):
    syn = project / "nbq_top_prj" / "solution1" / "syn" / "report"
    syn.mkdir(parents=True, exist_ok=True)
    (syn / "csynth.xml").write_text(
        "<profile><AreaEstimates><Resources><BRAM_18K>6</BRAM_18K><DSP>0</DSP><FF>5000</FF><LUT>12345</LUT>"
        "<URAM>0</URAM></Resources></AreaEstimates></profile>")
    run = _nbq("report", "prj", cwd=project.parent)
    assert run.returncode == 0, run.stderr
    assert "Vitis HLS csynth" in run.stdout and "12,345" in run.stdout
    data = json.loads((project / "report.json").read_text())
    assert next(iter(data["measured"].values()))["bram36"] == 3
    shutil.rmtree(project / "nbq_top_prj")
    assert _nbq("report", "nowhere", cwd=project.parent).returncode == 2


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_report_page_renders_offline_in_a_browser(project, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("headless Chromium is not installed (.ci/run installs it)")
    page = (project / "report.html").read_text()
    assert "http://" not in page and "https://" not in page and "<script" not in page  # self-contained
    data = json.loads((project / "report.json").read_text())
    run = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                          (project / "report.html").as_uri()], capture_output=True, text=True, timeout=120)
    dom = run.stdout
    assert run.returncode == 0 and "</html>" in dom, run.stderr[-2000:]
    assert f"{data['performance']['ii_cycles']:,}" in dom and f"{data['performance']['frames_per_s']:,.0f}" in dom
    assert f"{data['total']['lut']:,.0f}" in dom and all(la["name"] in dom for la in data["layers"])
    shot = tmp_path / "report.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    f"--user-data-dir={tmp_path / 'profile2'}", f"--screenshot={shot}", "--window-size=1100,1400",
                    (project / "report.html").as_uri()], capture_output=True, timeout=120)
    assert shot.is_file() and shot.stat().st_size > 10_000  # a real picture, not a blank page
