"""Reference executor: agrees with ONNX Runtime on the float graph within one quantization step."""

import numpy as np
import onnx
import pytest

from nbq import ir, reference
from nbq.compare import compare_with_onnxruntime
from nbq.frontend.onnx_import import import_onnx
from nbq.golden import adversarial_inputs
from nbq.passes import infer_ranges
from nbq.pipeline import lower


def test_reference_matches_onnxruntime_within_one_step(random_nets, save_model):
    kinds = set()
    for kind, seed, model in random_nets:
        path = save_model(model, f"{kind}_{seed}.onnx")
        graph = lower(path)
        x_int = adversarial_inputs(graph, n_random=16, seed=seed)
        x = x_int * graph.tensors[graph.inputs[0]].scale
        report = compare_with_onnxruntime(path, x)
        assert report.max_steps <= 1.0, f"{kind} seed {seed}: {report.max_steps} steps"
        kinds.update(layer.op for layer in graph.layers)
    assert {"Conv", "Dense", "Threshold", "Flatten"} <= kinds


def test_outputs_stay_inside_proven_ranges(random_nets, save_model):
    for kind, seed, model in random_nets:
        graph = lower(save_model(model))
        values = reference.run_int(graph, adversarial_inputs(graph, 32, seed), keep_all=True)
        for name, arr in values.items():
            t = graph.tensors[name]
            assert t.lo <= arr.min() and arr.max() <= t.hi, (kind, seed, name)


def test_all_max_input_reaches_the_proven_bound():
    """With positive weights, all-max inputs must hit the accumulator bound exactly (the bound is tight)."""
    from nbq.frontend.weights import classify_weights

    w = classify_weights(np.array([[1.0, 0.5, 0.25, 1.0]]))
    g = ir.Graph("t", ["x"], ["y"], {"x": ir.Tensor("x", (4,), 1.0, -8, 7), "y": ir.Tensor("y", (1,), 0.25)},
                 [ir.Dense("d", ["x"], "y", w, np.array([3]))])
    g = infer_ranges(g)
    assert reference.run_int(g, np.full((1, 4), 7))["y"].item() == g.tensors["y"].hi
    assert reference.run_int(g, np.full((1, 4), -8))["y"].item() == g.tensors["y"].lo


def test_thresholds_equal_the_float_quantizer(random_nets, save_model):
    """The folded thresholds reproduce the float64 BN+activation+quantizer on every reachable integer."""
    for _kind, _seed, model in random_nets[:10]:
        raw = infer_ranges(import_onnx(save_model(model)))
        folded = lower(save_model(model))
        for layer in raw.layers:
            if not isinstance(layer, ir.AffineQuant):
                continue
            t = raw.tensors[layer.inputs[0]]
            x = np.arange(t.lo, t.hi + 1) if t.hi - t.lo < 200_000 else np.random.default_rng(0).integers(
                t.lo, t.hi + 1, 200_000)
            channels = layer.a.size
            xs = np.broadcast_to(x[None, :], (channels, x.size))[None]
            expect = reference.affine_quant_float(layer, xs)
            thr = next(lay for lay in folded.layers if lay.name == layer.name)
            got = reference._threshold(thr, folded, xs)
            assert np.array_equal(got, expect), layer.name


@pytest.mark.parametrize("a,b,lo,hi", [(0.3, 0.1, 0, np.inf), (-0.7, 2.0, 0, 3.0), (0.0, 1.2, -np.inf, np.inf),
                                       (0.25, 0.125, -np.inf, np.inf), (-1e-3, 0.0, -1.0, 1.0)])
def test_threshold_edge_cases_ties_negative_and_constant(a, b, lo, hi):
    from nbq.passes.thresholds import fold_thresholds

    layer = ir.AffineQuant("q", ["x"], "y", a=np.array([a]), b=np.array([b]), clamp_lo=lo, clamp_hi=hi,
                           out_scale=0.25, qmin=-8, qmax=7)
    g = ir.Graph("t", ["x"], ["y"], {"x": ir.Tensor("x", (1,), 1.0, -300, 300), "y": ir.Tensor("y", (1,), 0.25)},
                 [layer])
    folded = fold_thresholds(g)
    x = np.arange(-300, 301)[:, None]
    assert np.array_equal(reference.run_int(folded, x)["y"], reference.run_int(g, x)["y"])


def test_sign_activation_folds_to_one_threshold(save_model):
    import netgen

    model = netgen.random_cnn(5, n_bits=1, binary_acts=True)
    graph = lower(save_model(model))
    signs = [lay for lay in graph.layers if isinstance(lay, ir.Threshold) and lay.step == 2]
    assert signs and all(lay.thresholds.shape[1] == 1 and lay.out_lo == -1 for lay in signs)


def test_reference_is_deterministic_and_batch_independent(random_nets, save_model):
    _, seed, model = random_nets[1]
    graph = lower(save_model(model))
    x = adversarial_inputs(graph, 5, seed)
    batch = reference.run_int(graph, x)[graph.outputs[0]]
    single = np.concatenate([reference.run_int(graph, x[i : i + 1])[graph.outputs[0]] for i in range(len(x))])
    assert np.array_equal(batch, single)


def test_onnx_model_checker_passes_for_generated_nets(random_nets):
    for _, _, model in random_nets:
        onnx.checker.check_model(model)


@pytest.mark.parametrize("in_lo,in_hi,lo,hi", [(0, 10, 20, None), (5, 10, None, 2), (-5, 5, -2, 3), (0, 3, -1, 9)])
def test_clamp_range_with_bounds_outside_the_input(in_lo, in_hi, lo, hi):
    g = ir.Graph("t", ["x"], ["y"], {"x": ir.Tensor("x", (1,), 1.0, in_lo, in_hi), "y": ir.Tensor("y", (1,), 1.0)},
                 [ir.Clamp("c", ["x"], "y", lo=lo, hi=hi)])
    g = infer_ranges(g)
    out = reference.run_int(g, np.arange(in_lo, in_hi + 1)[:, None])["y"]
    assert (g.tensors["y"].lo, g.tensors["y"].hi) == (out.min(), out.max())


def test_threshold_with_no_levels_is_constant_and_empty_batches_work():
    """One output level (e.g. a quantizer clipped to a single value) folds to zero thresholds."""
    layer = ir.Threshold(name="t", inputs=["x"], output="y", thresholds=np.zeros((3, 0), np.int64),
                         direction=np.ones(3, np.int8), out_lo=5, step=1)
    x = np.arange(-12, 12, dtype=np.int64).reshape(2, 3, 2, 2)
    y = reference._threshold(layer, None, x)
    assert y.shape == x.shape and np.all(y == 5)
    two = ir.Threshold(name="t", inputs=["x"], output="y", thresholds=np.array([[0], [1], [2]], np.int64),
                       direction=np.array([1, -1, 1], np.int8), out_lo=-1, step=2)
    assert reference._threshold(two, None, x[:0]).shape == (0, 3, 2, 2)
    got = reference._threshold(two, None, x)
    want = np.where(np.array([1, -1, 1])[None, :, None, None] > 0, x >= np.array([0, 1, 2])[None, :, None, None],
                    x <= np.array([0, 1, 2])[None, :, None, None]) * 2 - 1
    np.testing.assert_array_equal(got, want)
