"""C-simulation from relative paths and other folders; a build failure is nbq's (exit 3, the compiler's line),
never a FAIL verdict; manifest values that would reach g++'s command line are checked (exit 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from harness import EXAMPLE, Sandbox, assert_bad_input

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """One generated project of the example (not C-simulated), copied into each case."""
    box = Sandbox(tmp_path_factory.mktemp("built"))
    out = box.nbq("compile", str(EXAMPLE), "-o", "proj", "-q")
    assert out.code == 0, out.describe()
    return box.work / "proj"


def _project(sandbox: Sandbox, built: Path) -> Path:
    dst = sandbox.work / "proj"
    shutil.copytree(built, dst, symlinks=True)
    return dst


def test_compile_with_relative_output_and_csim_passes(sandbox):
    sandbox.snapshot()
    out = sandbox.nbq("compile", str(EXAMPLE), "-o", "proj", "--csim", "-q")
    assert out.code == 0, out.describe()
    assert "C-simulation: PASS" in out.stdout
    assert (sandbox.work / "proj" / "csim_build").is_dir()
    assert sandbox.changed(allowed=("work/proj",)) == []


def test_csim_of_a_relative_project_from_another_folder(sandbox, built):
    _project(sandbox, built)
    elsewhere = sandbox.root / "elsewhere"
    elsewhere.mkdir()
    sandbox.snapshot()
    out = sandbox.nbq("csim", "../work/proj", cwd=elsewhere)
    assert out.code == 0, out.describe()
    assert "C-simulation: PASS" in out.stdout and "11 images" in out.stdout
    assert sandbox.changed(allowed=("work/proj",)) == []  # the build stays inside the project


def test_broken_generated_source_is_a_build_failure_not_a_verdict(sandbox, built):
    proj = _project(sandbox, built)
    for src in ("firmware/nbq_top.cpp", "tb/nbq_top_tb.cpp"):  # fatal at once: the case stays fast
        path = proj / src
        path.write_text('#include "nbq_missing_header.h"\n' + path.read_text())
    sandbox.snapshot()
    out = sandbox.nbq("csim", "proj")
    assert out.code == 3, out.describe()
    assert "FAIL" not in out.stdout + out.stderr and "Traceback" not in out.stderr
    lines = out.error_lines
    assert len(lines) == 1 and lines[0].startswith("nbq: internal error: "), out.describe()
    assert "C-simulation build failed" in lines[0] and "nbq_missing_header.h" in lines[0]
    assert "error:" in lines[0]  # the compiler's own diagnostic
    assert "csim_build/build.log" in lines[0] and (proj / "csim_build" / "build.log").is_file()
    rom_inits = tuple(f"work/proj/firmware/rom/{p.stem}.inc" for p in (proj / "firmware" / "rom").glob("*.bin"))
    assert rom_inits  # the weight ROM initializers (declared build outputs) are all it writes besides csim_build
    assert sandbox.changed(allowed=("work/proj/csim_build", *rom_inits)) == []
    verification = json.loads((proj / "report.json").read_text()).get("verification", {})
    assert verification.get("csim") is None  # no verdict recorded


def _hostile(sandbox: Sandbox, built: Path, edit) -> tuple[Path, object]:
    proj = _project(sandbox, built)
    manifest = json.loads((proj / "nbq_project.json").read_text())
    edit(manifest, proj)
    (proj / "nbq_project.json").write_text(json.dumps(manifest))
    sandbox.snapshot()
    return proj, sandbox.nbq("csim", "proj")


def _refused_before_gxx(sandbox: Sandbox, proj: Path, out, *needles: str) -> None:
    assert_bad_input(out, "nbq_project.json", *needles)
    assert not (proj / "csim_build").exists()  # g++ never ran
    assert sandbox.changed() == []
    assert not list(sandbox.root.rglob("PWNED*"))


def _set_source(value: str):
    def edit(manifest: dict, _proj: Path) -> None:
        manifest["csim"]["sources"][1] = value
    return edit


@pytest.mark.parametrize("value", [
    "@evil",
    "-wrapper=/usr/bin/touch,PWNED",
    "../../etc/passwd",
    "/etc/passwd",
    "firmware/missing.cpp",
    "",
], ids=["response-file", "wrapper-option", "dotdot-escape", "absolute", "missing-file", "empty"])
def test_hostile_csim_source_is_refused(sandbox, built, value):
    if value == "@evil":
        (sandbox.work / "evil").write_text("-wrapper=/usr/bin/touch,PWNED\n")
    proj, out = _hostile(sandbox, built, _set_source(value))
    _refused_before_gxx(sandbox, proj, out, "csim.sources[1]")


def test_source_symlinked_outside_the_project_is_refused(sandbox, built):
    outside = sandbox.root / "outside.cpp"
    outside.write_text("int main() { return 0; }\n")

    def edit(manifest: dict, proj: Path) -> None:
        (proj / "tb" / "link_tb.cpp").symlink_to(outside)
        manifest["csim"]["sources"][1] = "tb/link_tb.cpp"

    proj, out = _hostile(sandbox, built, edit)
    _refused_before_gxx(sandbox, proj, out, "csim.sources[1]", "outside the project")


def test_sources_that_are_not_a_list_are_refused(sandbox, built):
    def edit(manifest: dict, _proj: Path) -> None:
        manifest["csim"]["sources"] = "firmware/nbq_top.cpp -wrapper=/usr/bin/touch,PWNED"

    proj, out = _hostile(sandbox, built, edit)
    _refused_before_gxx(sandbox, proj, out, "csim.sources")


def test_hostile_include_option_is_refused(sandbox, built):
    def edit(manifest: dict, _proj: Path) -> None:
        manifest["csim"]["include"] = "-wrapper=/usr/bin/touch,PWNED"

    proj, out = _hostile(sandbox, built, edit)
    _refused_before_gxx(sandbox, proj, out, "csim.include")


def test_top_name_that_escapes_the_build_folder_is_refused(sandbox, built):
    def edit(manifest: dict, _proj: Path) -> None:
        manifest["top"] = "../../PWNED"

    proj, out = _hostile(sandbox, built, edit)
    _refused_before_gxx(sandbox, proj, out, "top")


def test_build_folder_symlinked_outside_is_refused(sandbox, built):
    proj = _project(sandbox, built)
    outside = sandbox.root / "outside"
    outside.mkdir()
    (proj / "csim_build").symlink_to(outside)
    sandbox.snapshot()
    out = sandbox.nbq("csim", "proj")
    assert_bad_input(out, "csim_build")
    assert list(outside.iterdir()) == [] and sandbox.changed() == []


def _verilator_ready() -> bool:
    from nbq.errors import ToolNotFoundError
    from nbq.sim.verilator import require_tools

    try:
        require_tools()
    except ToolNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _verilator_ready(), reason="Verilator/cocotb not installed")
def test_broken_rtl_is_a_cosim_build_failure_not_a_verdict(sandbox):
    out = sandbox.nbq("compile", str(EXAMPLE), "-o", "proj", "--rtl", "-q")
    assert out.code == 0, out.describe()
    with (sandbox.work / "proj" / "rtl" / "nbq_top.sv").open("a") as f:
        f.write("module broken(; endmodule\n")  # Verilator stops at the parse: the case stays fast
    sandbox.snapshot()
    out = sandbox.nbq("cosim", "proj")
    assert out.code == 3, out.describe()
    assert "FAIL" not in out.stdout + out.stderr and "Traceback" not in out.stderr
    lines = out.error_lines
    assert len(lines) == 1 and lines[0].startswith("nbq: internal error: "), out.describe()
    assert "Verilator build of nbq_top failed" in lines[0] and "%Error" in lines[0] and "nbq_top.sv" in lines[0]
    assert "build.log" in lines[0]
    assert sandbox.changed(allowed=("work/proj/rtl/sim_build", "home/.cache")) == []


def test_missing_golden_data_is_a_project_error_not_a_verdict(sandbox, built):
    proj = _project(sandbox, built)
    (proj / "tb_data" / "golden.dat").unlink()
    sandbox.snapshot()
    out = sandbox.nbq("csim", "proj")
    assert_bad_input(out, "golden.dat", "missing")
    assert "FAIL" not in out.stdout and not (proj / "csim_build").exists()
    assert sandbox.changed() == []
