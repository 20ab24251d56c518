"""nbq from Python, notebook style: estimate, compile, C-simulate and measure the hardware's accuracy.

Uses the shipped examples/digits_po2_cnn.onnx (always, so it runs without torch) and the scikit-learn digits
test split it was trained against (nbq.nn.data, numpy + scikit-learn only). Writes ./walkthrough_prj.
Run: python examples/api_walkthrough.py [--images N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbq
from nbq.nn.data import load_digits_split

MODEL = Path(__file__).resolve().parent / "digits_po2_cnn.onnx"


def main(images: int) -> int:
    # 1. the boards nbq knows, and what the model costs on one of them before anything is generated
    print("boards:", ", ".join(f"{b.name} ({b.part})" for b in nbq.boards()))
    est = nbq.estimate(MODEL, board="zcu102")
    print(f"estimate: {est.ii_cycles} cycles/image, {est.frames_per_s:,.0f} frames/s, "
          f"{est.total['lut']:,.0f} LUTs, {est.total['dsp']:.0f} DSPs")

    # 2. compile with labelled test images as the golden vectors (a relative output folder)
    split = load_digits_split()
    project = nbq.compile(MODEL, board="zcu102", out="walkthrough_prj", test_data=(split.x_test, split.y_test),
                          images=images)
    print(f"project: {project.path} ({project.report.mode}, {project.report.frames_per_s:,.0f} frames/s)")

    # 3. C-simulate: the bit-exact verdict and the hardware's top-1 beside the reference's
    run = project.csim()
    print(run.line())

    # 4. the same project reopened later, as a notebook would after a restart
    again = nbq.open_project("walkthrough_prj")
    print("recorded verdict:", again.report.verification["csim"])
    return 0 if run.passed and run.accuracy.hardware_top1 == run.accuracy.reference_top1 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100, help="test images to check [100]")
    raise SystemExit(main(parser.parse_args().images))
