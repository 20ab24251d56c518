"""C-simulation of generated projects: every layer type, both boards, bit-exact against nbq.reference."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
from hls_graphs import (
    GraphMaker,
    boundaries,
    cnn_mixed,
    fanout,
    golden,
    mlp_binary,
    random_graph,
    residual,
    write_and_csim,
)

from nbq import reference
from nbq.backends.hls import write_hls_project
from nbq.board_catalog import load_board
from nbq.plan import plan_graph
from nbq.sim.csim import run_csim

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")


def assert_passed(res) -> None:
    assert res.passed, f"{res.problems}\n{res.first_mismatches}\n{res.log[-4000:]}"
    assert res.mismatches == 0 and res.images > 0


@pytest.mark.parametrize(
    ("make", "board"),
    [(cnn_mixed, "zcu102"), (residual, "u280"), (mlp_binary, "u280"), (fanout, "zcu102"), (boundaries, "u280")],
    ids=["cnn_mixed-zcu102", "residual-u280", "mlp_binary-u280", "fanout-zcu102", "boundaries-u280"],
)
def test_graph_is_bit_exact(make, board, tmp_path):
    # strict: the generated C++ also builds with -Wall -Wextra -Werror
    res = write_and_csim(make(), board, tmp_path / "prj", strict=True)
    assert_passed(res)
    assert res.images == 8  # 3 random + 5 adversarial


def test_every_layer_type_is_covered():
    graphs = (cnn_mixed(), residual(), mlp_binary(), fanout(), boundaries())
    ops = {type(layer).__name__ for g in graphs for layer in g.layers}
    assert ops == {"Conv", "Dense", "Threshold", "Clamp", "MaxPool", "SumPool", "Flatten", "Add"}


def test_accumulator_extremes(tmp_path):
    """6-bit po2 weights on 8-bit inputs: a 40-bit accumulator, driven exactly to both ends of its range."""
    m = GraphMaker(5, (3, 4, 5), -128, 127, "acc_edge")
    m.conv(2, (2, 3), stride=(1, 2), bits=6)
    g = m.graph()
    y = g.tensors[g.outputs[0]]
    assert y.bits >= 40
    conv = g.layers[0]
    rows = conv.weights.ints.reshape(2, -1)
    row_hi = np.where(rows > 0, rows * 127, rows * -128).sum(1) + conv.bias
    row_lo = np.where(rows > 0, rows * -128, rows * 127).sum(1) + conv.bias
    images = []
    for ch, sign in ((int(np.argmax(row_hi)), 1), (int(np.argmin(row_lo)), -1)):
        x = np.full((3, 4, 5), -128 if sign > 0 else 127, dtype=np.int64)
        w = conv.weights.ints[ch]  # (3, 2, 3): the window at output (0, 0)
        x[:, 0:2, 0:3] = np.where(w * sign > 0, 127, -128)
        images.append(x)
    x = np.stack(images)
    out = reference.run_int(g, x)[g.outputs[0]]
    assert out.max() == y.hi and out.min() == y.lo  # the proven range is tight and reached
    write_hls_project(plan_graph(g, load_board("u280")), tmp_path / "prj", x, {g.outputs[0]: out})
    assert_passed(run_csim(tmp_path / "prj"))


@pytest.mark.parametrize("seed", range(4))
def test_random_graph_is_bit_exact(seed, tmp_path):
    res = write_and_csim(random_graph(seed), ("zcu102", "u280")[seed % 2], tmp_path / "prj", n_random=4, strict=True)
    assert_passed(res)


def test_corrupted_golden_is_caught_and_binary_is_cached(tmp_path):
    prj = tmp_path / "prj"
    first = write_and_csim(mlp_binary(), "zcu102", prj)
    assert_passed(first)
    assert first.built
    golden_file = prj / "tb_data" / "golden.dat"
    lines = golden_file.read_text().splitlines()
    values = lines[1].split()
    values[2] = str(int(values[2]) + 1)
    lines[1] = " ".join(values)
    golden_file.write_text("\n".join(lines) + "\n")
    res = run_csim(prj)
    assert not res.built  # tb_data is read at run time: no rebuild
    assert not res.passed
    assert res.mismatches == 2  # the core and the board wrapper both disagree with the edited value
    assert res.first_mismatches[0].startswith("MISMATCH stage=core image=1 index=2 ")


def test_flatten_only_graph_via_makefile(tmp_path):
    """A graph with no arithmetic (input -> Flatten -> output) needs a copy process; built by `make csim`."""
    m = GraphMaker(6, (3, 2, 2), -4, 3, "copy")
    m.flatten()
    g = m.graph()
    x, y = golden(g)
    write_hls_project(plan_graph(g, load_board("zcu102")), tmp_path / "prj", x, y)
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    # PYTHON: the interpreter that has hls4ml (the Makefile asks it where ap_int.h is)
    done = subprocess.run(
        ["make", "csim", f"PYTHON={sys.executable}"], cwd=tmp_path / "prj", capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "NBQ-CSIM images=8 mismatches=0" in done.stdout
