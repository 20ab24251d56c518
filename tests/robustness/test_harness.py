"""The harness itself: a case that writes outside its output folder, or exceeds the memory limit, is seen."""

from harness import EXAMPLE, assert_bad_input


def test_a_good_compile_touches_only_its_output_folder(sandbox):
    sandbox.snapshot()
    out = sandbox.nbq("compile", str(EXAMPLE), "-o", "proj", "-q")
    assert out.code == 0, out.describe()
    assert sandbox.changed(allowed=("work/proj",)) == []
    assert sandbox.changed() != []  # the snapshot sees the project it wrote


def test_a_missing_model_is_one_line_exit_2(sandbox):
    out = sandbox.nbq("compile", "missing.onnx", "-o", "proj")
    assert_bad_input(out, "missing.onnx")
    assert not (sandbox.work / "proj").exists()
