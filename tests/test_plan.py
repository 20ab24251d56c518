"""The hardware plan (nbq.plan): one design decided once, the same numbers wherever they are shown."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from nbq import ir, reference
from nbq.board_catalog import load_board
from nbq.errors import InternalError, NbqError
from nbq.modelgen import paper_cifar_po2
from nbq.pipeline import design, lower
from nbq.plan import EngineKind, MemoryKind, plan_hardware
from nbq.plan.arith import threshold_table
from nbq.plan.memory import memory_kind
from nbq.plan.records import Rom

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "digits_po2_cnn.onnx"


def test_engine_option_reaches_every_po2_layer():
    graph = lower(DEMO)
    for option, kind in (("svpe", EngineKind.SVPE), ("vpe", EngineKind.VPE)):
        plan = plan_hardware(graph, load_board("zcu102"), option)
        assert [p.engine.kind for p in plan.mvaus] == [kind] * 3
        if option == "vpe":  # the paper's baseline: 16-bit multiplier weights
            assert all(p.engine.code_bits == 16 and p.rom.code_bits == 16 for p in plan.mvaus)
    with pytest.raises(NbqError, match="unknown engine"):
        plan_hardware(graph, load_board("zcu102"), "dsp")


def test_thresholds_are_fused_into_the_mvau_by_a_pass():
    graph = lower(DEMO)
    plan = plan_hardware(graph, load_board("zcu102"))
    convs = [p for p in plan.mvaus if isinstance(p.layer, ir.Conv)]
    assert all(p.threshold_layer is not None and p.bias is None for p in convs)  # bias moved into the table
    assert not any(isinstance(p.layer, ir.Threshold) for p in plan.layers)
    for p in convs:  # the pass marked both ends
        assert p.layer.fused_threshold == p.threshold_layer.name and p.threshold_layer.fused_into == p.name
    assert plan.layer("fc").bias is not None  # the last Dense has no threshold after it


def test_fused_table_with_bias_equals_the_reference():
    """x + b crossing t  <=>  x crossing t - b: the planned table on the raw accumulator gives the reference."""
    rng = np.random.default_rng(3)
    th = np.sort(rng.integers(-40, 40, size=(5, 7)), axis=1)
    layer = ir.Threshold("t", ["x"], "y", th, np.array([1, -1, 1, 1, -1], dtype=np.int8), out_lo=-3, step=2)
    layer.thresholds[[1, 4]] = layer.thresholds[[1, 4]][:, ::-1]  # descending rows for direction -1
    bias = rng.integers(-9, 9, size=5)
    acc = rng.integers(-60, 60, size=(200, 5))
    table = threshold_table(layer, 5, -60, 59, bias=bias)
    want = reference._threshold(layer, None, acc + bias)
    key = acc[:, :, None]
    crossed = np.where(table.up[None, :, None], key >= table.rows[None], key <= table.rows[None])
    assert np.array_equal(table.out_lo + table.step * crossed.sum(axis=2), want)


def test_rom_rows_pack_densely_and_round_trip():
    rng = np.random.default_rng(0)
    for bits, n in ((3, 1), (3, 7), (1, 130), (16, 5), (5, 13)):
        codes = rng.integers(0, 1 << bits, size=(9, n)).astype(np.uint64)
        rom = Rom.of(codes, bits, MemoryKind.BRAM)
        assert rom.chunk_bits <= 64 and rom.storage_bits - rom.useful_bits < rom.depth * rom.chunks
        for row, words in zip(codes, rom.row_words(), strict=True):  # codes straddle chunks: read them back
            assert [(words >> (i * bits)) & ((1 << bits) - 1) for i in range(n)] == row.tolist()


@pytest.mark.parametrize("model", ["demo", "cifar"])
def test_rom_storage_within_ten_percent(model, tmp_path):
    if model == "demo":
        path = DEMO
    else:
        path = tmp_path / "cifar.onnx"
        onnx.save(paper_cifar_po2(1.0), str(path))
    plan = plan_hardware(lower(path), load_board("u280"))
    big = [p.rom for p in plan.mvaus if p.rom.useful_bits > 4096]
    assert big and all(rom.storage_bits <= 1.1 * rom.useful_bits for rom in big)


def test_memory_kind_rules():
    assert memory_kind(16, 8, False, fifo=True) == MemoryKind.SRL
    assert memory_kind(64, 512, True) == MemoryKind.LUTRAM  # shallow: LUTs beat a mostly empty BRAM
    assert memory_kind(4096, 72, True) == MemoryKind.URAM
    assert memory_kind(4096, 72, True, rom=True) == MemoryKind.BRAM  # UltraScale+ URAM has no initial contents
    assert memory_kind(4096, 72, False) == MemoryKind.BRAM  # the ZCU102 has no URAM
    assert memory_kind(1024, 8, True) == MemoryKind.BRAM  # narrow words waste a URAM


def test_backends_refuse_a_graph_without_a_plan():
    from nbq.backends.hls import project_files as hls_files
    from nbq.backends.rtl import project_files as rtl_files

    graph = lower(DEMO)
    for files in (hls_files, rtl_files):
        with pytest.raises(InternalError, match="plan"):
            files(graph, None, None)


def test_one_cycle_count_and_frame_rate_everywhere(tmp_path):
    """README, nbq_project.json and rtl/nbq_rtl.json of one project show one cycle count and one frames/s."""
    for board in ("zcu102", "u280"):
        out = tmp_path / board
        subprocess.run([sys.executable, "-m", "nbq.cli", "compile", str(DEMO), "--board", board, "-o", board,
                        "--rtl", "-q"], cwd=tmp_path, check=True)  # fmt: skip
        plan = design(DEMO, load_board(board)).plan  # the same folding to the board's budget
        hls = json.loads((out / "nbq_project.json").read_text())["pipeline"]
        rtl = json.loads((out / "rtl" / "nbq_rtl.json").read_text())["model"]
        readme = (out / "README.md").read_text()
        cycles, fps = re.search(r"\| pipeline \| (\d+) cycles per image .*?: ([\d,]+) images/s at (\d+) MHz",
                                readme).groups()[:2]
        assert hls["ii_cycles"] == rtl["ii_cycles"] == int(cycles) == plan.ii_cycles
        assert hls["frames_per_s"] == pytest.approx(rtl["frames_per_s"]) == pytest.approx(plan.frames_per_s)
        assert int(fps.replace(",", "")) == round(plan.frames_per_s)
        assert hls["clock_mhz"] == rtl["clock_mhz"] == load_board(board).clock_mhz
