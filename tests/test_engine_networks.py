"""Whole networks on the engines: the n-BQ-NN paper's CIFAR network (Table I, reduced width) and a
complex NIN-like BCNN, for both boards, C-simulated bit-exactly (strict warnings) against the
reference on 8 random images plus all-max, all-min and a checkerboard; and one model built on
SVPE and on VPE arrays from the command line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from nbq.board_catalog import load_board
from nbq.cli import main
from nbq.modelgen import bcnn_nin, paper_cifar_po2
from nbq.pipeline import compile_model
from nbq.sim.csim import read_csim_outputs, run_csim

pytestmark = [pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed"), pytest.mark.slow]

NETWORKS = {"paper_cifar": lambda: paper_cifar_po2(width=0.125), "bcnn_nin": lambda: bcnn_nin(width=0.125)}


def _engines(prj) -> dict[str, str]:
    manifest = json.loads((prj / "nbq_project.json").read_text())
    return {layer["name"]: layer["engine"] for layer in manifest["layers"] if "engine" in layer}


@pytest.mark.parametrize("board", ["zcu102", "u280"])
@pytest.mark.parametrize("net", sorted(NETWORKS))
def test_network_is_bit_exact(net, board, tmp_path, save_model):
    prj = tmp_path / "prj"
    result = compile_model(save_model(NETWORKS[net]()), load_board(board), prj)
    res = run_csim(prj, strict=True)  # -Wall -Wextra -Werror
    assert res.passed, f"{res.problems}\n{res.first_mismatches}\n{res.log[-3000:]}"
    assert res.images == len(result.golden_inputs) == 11  # 8 random + all-max, all-min, checkerboard
    engines = _engines(prj)
    if net == "paper_cifar":
        assert set(engines.values()) == {"svpe"} and len(engines) == 9
    else:  # first layer: binary weights on the 8-bit image; then complex convs; fc on the pooled sums
        values = list(engines.values())
        assert values[0] == "svpe" and values[1:-1] == ["cxnor"] * 7 and values[-1] == "svpe"
    manifest = json.loads((prj / "nbq_project.json").read_text())
    assert manifest["engine"] == "svpe" and manifest["pipeline"]["ii_cycles"] > 0
    assert "nbq::vpe<" not in (prj / "firmware" / "parameters.h").read_text()  # no multiplier anywhere


def test_svpe_and_vpe_from_one_model(tmp_path, save_model, capsys):
    model = save_model(paper_cifar_po2(width=0.0625, input_hw=16))
    outputs = {}
    for engine in ("svpe", "vpe"):
        prj = tmp_path / engine
        code = main(["compile", str(model), "--board", "zcu102", "-o", str(prj), "--engine", engine, "--csim", "-q"])
        assert code == 0, capsys.readouterr().out
        assert set(_engines(prj).values()) == {engine}
        params = (prj / "firmware" / "parameters.h").read_text()
        assert ("nbq::vpe<16>" in params) == (engine == "vpe") and ("nbq::svpe<3>" in params) == (engine == "svpe")
        assert json.loads((prj / "nbq_project.json").read_text())["engine"] == engine
        outputs[engine] = read_csim_outputs(prj)
    assert np.array_equal(outputs["svpe"], outputs["vpe"])  # the same integers, with and without multipliers
