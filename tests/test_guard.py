"""nbq.guard: sizes, the default limit, and the estimate's items for a graph."""

import numpy as np
import onnx
import pytest
from netgen import random_cnn

from nbq import guard
from nbq.errors import NbqError
from nbq.frontend.onnx_import import import_onnx


@pytest.mark.parametrize(("text", "expected"), [
    ("8G", 8 << 30), ("512M", 512 << 20), ("1.5GiB", 3 << 29), ("100MB", 100 << 20), ("2t", 2 << 40),
    (str(64 << 20), 64 << 20),
])
def test_sizes_parse_in_binary_units(text, expected):
    assert guard.parse_memory(text) == expected


@pytest.mark.parametrize("text", ["lots", "", "-1G", "8X", "1e400", "12K"])
def test_bad_sizes_are_one_line_errors(text):
    with pytest.raises(NbqError, match="--max-memory") as info:
        guard.parse_memory(text)
    assert "\n" not in str(info.value)


def test_default_limit_honours_the_address_space_limit(monkeypatch):
    monkeypatch.setattr(guard.resource, "getrlimit", lambda _r: (2 << 30, 2 << 30))
    monkeypatch.setattr(guard, "_mem_total", lambda: 64 << 30)
    assert guard.default_limit() == int((2 << 30) * guard.DEFAULT_FRACTION)
    monkeypatch.setattr(guard.resource, "getrlimit", lambda _r: (guard.resource.RLIM_INFINITY,) * 2)
    assert guard.default_limit() == int((64 << 30) * guard.DEFAULT_FRACTION)


def test_estimate_counts_thresholds_weights_and_golden_vectors(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(random_cnn(3), str(path))
    graph = import_onnx(path)
    est = guard.estimate(graph, images=4)
    whats = " | ".join(n.what for n in est.kept + est.peaks)
    quant = [lay for lay in graph.layers if lay.op == "AffineQuant"]
    for layer in quant:
        channels = graph.tensors[layer.inputs[0]].shape[0]
        levels = 1 if layer.sign else layer.qmax - layer.qmin
        assert f"{channels * levels:,} threshold entries" in whats
    assert "golden vectors: 4 images" in whats
    assert est.total > guard.estimate(graph, images=0).total  # golden images cost memory
    t_in = graph.tensors[graph.inputs[0]]
    assert est.total >= 4 * int(np.prod(t_in.shape)) * guard.ELEMENT_BYTES


def test_check_graph_refuses_with_the_largest_item(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(random_cnn(3), str(path))
    graph = import_onnx(path)
    need = guard.estimate(graph, images=4).total
    guard.check_graph(graph, need, images=4)  # exactly at the limit: fine
    with pytest.raises(NbqError, match=r"compiling needs about .* the limit is .* \(--max-memory\)"):
        guard.check_graph(graph, need - 1, images=4)


def test_memory_error_while_reading_is_not_called_a_broken_model(tmp_path, monkeypatch):
    from nbq.frontend import loading

    path = tmp_path / "m.onnx"
    onnx.save(random_cnn(1), str(path))

    def out_of_memory(*_args, **_kwargs):
        raise MemoryError

    monkeypatch.setattr(loading.onnx, "load", out_of_memory)
    with pytest.raises(NbqError, match="needs more memory than available") as info:
        import_onnx(path)
    assert "not an ONNX model" not in str(info.value)


def test_memory_error_anywhere_is_exit_2_in_one_line(tmp_path, monkeypatch, capsys):
    import nbq.pipeline
    from nbq import cli

    def out_of_memory(*_args, **_kwargs):
        raise MemoryError

    monkeypatch.setattr(nbq.pipeline, "compile_model", out_of_memory)
    path = tmp_path / "m.onnx"
    onnx.save(random_cnn(1), str(path))
    code = cli.main(["compile", str(path), "-o", str(tmp_path / "proj"), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == cli.EXIT_ERROR and len(err) == 1 and err[0].startswith("nbq: error: out of memory")
