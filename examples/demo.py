"""`make demo`: the built-in digits CNN, end to end.

1. compile examples/digits_po2_cnn.onnx for the ZCU102 with the digits test set as golden vectors,
2. C-simulate the generated HLS project with g++ on every test image,
3. write the same network as streaming RTL and co-simulate it cycle by cycle (cocotb + Verilator)
   on every test image: cycles per image, frames/s at the board clock, PE utilization,
4. print the float model's, ONNX Runtime's, the reference's and the hardware's test accuracy,
   and whether C-simulation and RTL are bit-exact against the reference.

The model was produced by examples/make_digits_cnn.py (fixed seed); its training record is
examples/digits_po2_cnn.json.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from nbq.board_catalog import load_board  # noqa: E402
from nbq.compare import run_onnxruntime  # noqa: E402
from nbq.errors import NbqError  # noqa: E402
from nbq.pipeline import compile_model  # noqa: E402
from nbq.sim.csim import read_csim_outputs  # noqa: E402

MODEL = HERE / "digits_po2_cnn.onnx"
RECORD = HERE / "digits_po2_cnn.json"
OUT = ROOT / "demo_out" / "digits_zcu102"


def digits_test_set() -> tuple[np.ndarray, np.ndarray]:
    """The split the model was trained with (see the JSON record): pixels / 16, 25% stratified, seed 0."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    _, x_test, _, y_test = train_test_split(x, digits.target, test_size=0.25, random_state=0,
                                            stratify=digits.target)
    return x_test, y_test


def main() -> int:
    record = json.loads(RECORD.read_text())
    x_test, y_test = digits_test_set()
    board = load_board("zcu102")
    print(f"nbq demo: {MODEL.name} ({record.get('description', 'po2 CNN')}) on {len(y_test)} digits test images")
    start = time.perf_counter()
    result = compile_model(MODEL, board, OUT, test_inputs=x_test, csim=True, cosim=True,
                           progress=lambda msg: print(f"  … {msg}", flush=True))
    seconds = time.perf_counter() - start
    csim, cosim = result.csim, result.cosim
    graph = result.graph
    out_name = graph.outputs[0]
    reference = result.golden_outputs[out_name].reshape(len(y_test), -1)
    hardware = read_csim_outputs(OUT).reshape(reference.shape)
    ort = run_onnxruntime(MODEL, x_test, graph.meta["onnx_input"])[0].reshape(reference.shape)

    def accuracy(scores: np.ndarray) -> float:
        return 100.0 * float(np.mean(scores.argmax(axis=1) == y_test))

    bit_exact = csim.passed and np.array_equal(hardware, reference) and cosim.passed
    rows = [
        ("float model (PyTorch, before quantization)", f"{record['float_test_accuracy']:.2f}%"),
        ("exported po2 ONNX in ONNX Runtime", f"{accuracy(ort):.2f}%"),
        ("nbq reference executor (integers)", f"{accuracy(reference):.2f}%"),
        ("HLS C-simulation (g++, the hardware model)", f"{accuracy(hardware):.2f}%"),
        ("RTL co-simulation (Verilator, cycle by cycle)",
         f"{accuracy(reference):.2f}% (bit-exact)" if cosim.passed else "MISMATCH"),
    ]
    print()
    print(f"{'model':<46} test accuracy")
    for name, acc in rows:
        print(f"{name:<46} {acc}")
    print()
    print(f"project: {OUT.relative_to(ROOT)} ({len(result.files)} files, {graph.weight_count:,} weights, "
          f"board {board.name} {board.part}); compile + C-sim + RTL co-sim {seconds:.1f} s")
    print(f"RTL: {cosim.cycles_per_image:.1f} cycles/image (folding model {cosim.model_cycles}), "
          f"{cosim.frames_per_s:,.0f} frames/s at {cosim.clock_mhz:g} MHz, "
          f"PE utilization {100 * cosim.pe_utilization:.1f}%, latency {cosim.latency_cycles} cycles")
    if bit_exact:
        print(f"bit-exact: C-simulation == RTL co-simulation == reference on all {csim.images} images "
              f"({reference.size:,} output integers, 0 mismatches)")
        return 0
    print(f"NOT bit-exact: C-simulation {csim.mismatches}, RTL {cosim.mismatches} mismatching integers")
    for line in [*csim.first_mismatches[:10], *cosim.first_mismatches[:10]]:
        print("  " + line)
    return 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except NbqError as exc:
        print(f"nbq demo: error: {exc}", file=sys.stderr)
        sys.exit(2)
