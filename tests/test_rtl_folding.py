"""The folding pass (nbq.passes.folding): legal (PE, SIMD), balanced layers, budget and target rules."""

from __future__ import annotations

from pathlib import Path

import netgen
import numpy as np
import onnx
import pytest
from rtl_tb.nets import bcnn

from nbq import ir
from nbq.passes.folding import choose_folding, floor_cycles
from nbq.pipeline import lower

DEMO = Path(__file__).resolve().parent.parent / "examples" / "digits_po2_cnn.onnx"


def _work(graph: ir.Graph, layer) -> tuple[int, int, int]:
    """(pixels, OC per group, K) of a Conv/Dense."""
    if isinstance(layer, ir.Dense):
        out, k = layer.weights.ints.shape
        return 1, out, k
    oc, icg, kh, kw = layer.weights.ints.shape
    return int(np.prod(graph.tensors[layer.output].shape[1:])), oc // layer.groups, icg * kh * kw


def _check_legal(graph: ir.Graph) -> None:
    for layer in graph.layers:
        if not isinstance(layer, ir.Conv | ir.Dense):
            continue
        f = layer.folding
        pixels, ocg, k = _work(graph, layer)
        if f.complex:
            ocg, k = ocg // 2, k // 2
        assert ocg % f.pe == 0 and k % f.simd == 0, (layer.name, f)
        assert f.sf == k // f.simd
        if f.complex:  # real and imaginary words leave one after the other: >= 2 * NF cycles a pixel
            assert f.cycles == pixels * max(f.nf * f.sf, 2 * f.nf)
            assert f.macs <= f.mac_units * f.cycles
        else:
            assert f.cycles == pixels * f.nf * f.sf
            assert f.macs == f.mac_units * f.cycles


def test_demo_is_balanced_within_budget():
    graph = choose_folding(lower(DEMO))
    _check_legal(graph)
    meta = graph.meta["folding"]
    assert meta["lanes"] <= 1024 and meta["ii_cycles"] >= meta["floor_cycles"] == 100  # 10x10 padded input
    for layer in graph.layers:
        if isinstance(layer, ir.Conv):
            assert layer.folding.cycles >= 0.85 * meta["ii_cycles"], layer.folding


@pytest.mark.parametrize("target", [100, 200, 576, 5000])
def test_target_cycles_are_met_with_fewest_lanes(target):
    graph = choose_folding(lower(DEMO), target_cycles=target)
    _check_legal(graph)
    for layer in graph.layers:
        if isinstance(layer, ir.Conv | ir.Dense):
            f = layer.folding
            _pixels, ocg, k = _work(graph, layer)
            fastest = f.lanes == ocg * k  # fully unrolled: nothing faster exists
            assert f.cycles <= max(target, graph.meta["folding"]["floor_cycles"]) or fastest, f


def test_smaller_budget_means_slower_pipeline():
    fast = choose_folding(lower(DEMO), max_lanes=4096).meta["folding"]
    slow = choose_folding(lower(DEMO), max_lanes=64).meta["folding"]
    assert slow["lanes"] <= 64 < fast["lanes"]
    assert slow["ii_cycles"] > fast["ii_cycles"]


def test_complex_convolutions_are_detected(tmp_path):
    onnx.save(bcnn(0), str(tmp_path / "bcnn.onnx"))
    graph = choose_folding(lower(tmp_path / "bcnn.onnx"))
    _check_legal(graph)
    flags = [layer.folding.complex for layer in graph.layers if isinstance(layer, ir.Conv | ir.Dense)]
    assert flags == [False, True, True, False]  # the first conv sees non-binary pixels
    conv = [layer for layer in graph.layers if isinstance(layer, ir.Conv)][1]
    assert conv.folding.nf * conv.folding.pe == conv.weights.ints.shape[0] // 2
    assert conv.folding.mac_units == 4 * conv.folding.lanes
    # without detection the same layer folds as a real binary conv
    plain = choose_folding(lower(tmp_path / "bcnn.onnx"), detect_complex=False)
    assert not any(layer.folding.complex for layer in plain.layers if isinstance(layer, ir.Conv | ir.Dense))


def test_random_networks_fold_legally(tmp_path):
    for seed in range(12):
        model = netgen.random_cnn(seed, binary_acts=seed % 3 == 0) if seed % 2 else netgen.random_mlp(seed)
        onnx.save(model, str(tmp_path / "m.onnx"))
        graph = lower(tmp_path / "m.onnx")
        for layer in graph.layers:  # start unfolded (the pass pipeline may already fold)
            if isinstance(layer, ir.Conv | ir.Dense):
                layer.folding = None
        folded = choose_folding(graph, max_lanes=32)
        _check_legal(folded)
        assert folded.meta["folding"]["floor_cycles"] == floor_cycles(graph)
        assert folded.meta["folding"]["lanes"] <= 32 or all(
            layer.folding.lanes == 1 for layer in folded.layers if isinstance(layer, ir.Conv | ir.Dense))
        assert all(getattr(layer, "folding", None) is None for layer in graph.layers)  # input left untouched


@pytest.mark.parametrize("target", [None, 64, 256, 1024])
def test_complex_layers_avoid_idle_single_fold_options(target, tmp_path):
    """A complex SF = 1 fold is no faster than SF = 2 (two output words per fold), so with K >= 2 the pass
    never pays for it: every complex layer keeps SF >= 2 or runs at the rate of its cheapest option."""
    from nbq.modelgen import bcnn_nin

    onnx.save(bcnn_nin(0.125), str(tmp_path / "nin.onnx"))
    graph = choose_folding(lower(tmp_path / "nin.onnx"), target_cycles=target)
    _check_legal(graph)
    complex_layers = [la for la in graph.layers if isinstance(la, ir.Conv) and la.folding.complex]
    assert complex_layers
    for layer in complex_layers:
        f = layer.folding
        pixels, _, k = _work(graph, layer)
        if f.sf == 1 and k // 2 >= 2:
            # the same cycles with half the SIMD lanes would have been chosen instead
            assert f.simd % 2 == 1, f
