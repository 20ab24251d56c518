"""Network-level RTL: generated streaming tops co-simulated bit-exactly against nbq.reference.

* the demo po2 CNN (examples/digits_po2_cnn.onnx) and a binary complex CNN through
  nbq.sim.cosim.run_cosim: every output integer, cycles per image within 10% of
  the analytical count computed here, PE utilization >= 85% on conv layers;
* random po2 CNNs/MLPs from tests/netgen.py (strides, groups, pooling, binary
  activations), all in one Verilator build, with random bubbles/backpressure;
* every generated top lints clean under verilator --lint-only -Wall, and
  writing a project twice gives byte-identical files.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import netgen
import numpy as np
import onnx
import pytest
from rtl_tb.harness import Harness, Instance, Stream, require_sim
from rtl_tb.nets import bcnn, residual

from nbq import ir, reference
from nbq.backends.rtl.project import MANIFEST, write_rtl_project
from nbq.board_catalog import load_board
from nbq.passes.folding import choose_folding
from nbq.pipeline import adversarial_inputs, lower
from nbq.plan import plan_graph
from nbq.sim.cosim import axis_words, run_cosim, to_stream
from nbq.sim.verilator import verilator_bin_dir

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "digits_po2_cnn.onnx"
pytestmark = pytest.mark.usefixtures("sim_tools")


@pytest.fixture
def sim_tools():
    require_sim()


def analytical_ii(graph: ir.Graph) -> int:
    """Cycles per image of the slowest stage: each MVAU pixels * NF * SF, each streaming stage one beat a cycle."""
    def pixels(name: str) -> int:
        shape = graph.tensors[name].shape
        return int(np.prod(shape[1:])) if len(shape) == 3 else 1

    worst = pixels(graph.inputs[0])
    for layer in graph.layers:
        x = graph.tensors[layer.inputs[0]].shape
        if isinstance(layer, ir.Conv | ir.Dense):
            f = layer.folding
            out = pixels(layer.output) if isinstance(layer, ir.Conv) else 1
            worst = max(worst, out * f.nf * f.sf)
        if isinstance(layer, ir.Conv | ir.MaxPool) and len(x) == 3:
            pt, pl, pb, pr = layer.pads
            worst = max(worst, (x[1] + pt + pb) * (x[2] + pl + pr))
        worst = max(worst, pixels(layer.inputs[0]))
    return worst


def _cosim(graph: ir.Graph, board: str, out: Path):
    x = adversarial_inputs(graph, 8)
    y = reference.run_int(graph, x)
    write_rtl_project(plan_graph(graph, load_board(board)), out, x, y)
    return run_cosim(out, opt="-O0")


def _check(result, graph: ir.Graph) -> None:
    assert result.passed, "\n".join(result.first_mismatches)
    assert result.mismatches == 0 and result.images == 11
    model = analytical_ii(graph)
    assert abs(result.cycles_per_image - model) <= 0.10 * model, (result.cycles_per_image, model)
    convs = [layer.name for layer in graph.layers if isinstance(layer, ir.Conv)]
    for name in convs:
        assert result.layer_utilization[name] >= 0.85, (name, result.layer_utilization)


@pytest.mark.slow
def test_demo_cnn_cosim(tmp_path):
    graph = choose_folding(lower(DEMO))
    result = _cosim(graph, "zcu102", tmp_path)
    _check(result, graph)
    assert result.frames_per_s == pytest.approx(200e6 / result.cycles_per_image)
    manifest = json.loads((tmp_path / "rtl" / MANIFEST).read_text())
    assert {la["engine"] for la in manifest["layers"]} == {"svpe"}


@pytest.mark.slow
def test_binary_complex_cnn_cosim(tmp_path):
    onnx.save(bcnn(0), str(tmp_path / "bcnn.onnx"))
    graph = choose_folding(lower(tmp_path / "bcnn.onnx"))
    result = _cosim(graph, "u280", tmp_path / "out")
    _check(result, graph)
    manifest = json.loads((tmp_path / "out" / "rtl" / MANIFEST).read_text())
    engines = [la["engine"] for la in manifest["layers"]]
    assert engines == ["svpe", "cxnor", "cxnor", "xnor"]  # real first layer, complex convs, binary classifier


@pytest.mark.slow
@pytest.mark.parametrize("name", ["paper_cifar", "bcnn_nin"])
def test_paper_networks_cosim(tmp_path, name):
    """The paper's CIFAR shape (width 1/8, 3-bit po2) and the complex NIN-like BCNN as whole RTL networks:
    bit-exact on a few random/adversarial images, at the model's rate."""
    from nbq.modelgen import bcnn_nin, paper_cifar_po2

    model = paper_cifar_po2(0.125) if name == "paper_cifar" else bcnn_nin(0.125)
    onnx.save(model, str(tmp_path / "m.onnx"))
    graph = choose_folding(lower(tmp_path / "m.onnx"))
    x = adversarial_inputs(graph, 1)  # all-max, all-min, checkerboard and one random image
    write_rtl_project(plan_graph(graph, load_board("zcu102")), tmp_path / "out", x, reference.run_int(graph, x))
    result = run_cosim(tmp_path / "out", opt="-O0", stress=False)
    assert result.passed and result.images == len(x) == 4, "\n".join(result.first_mismatches)
    model_ii = analytical_ii(graph)
    assert abs(result.cycles_per_image - model_ii) <= 0.10 * model_ii, (result.cycles_per_image, model_ii)
    assert result.pe_utilization >= 0.85, result.layer_utilization
    engines = {la["engine"] for la in json.loads((tmp_path / "out" / "rtl" / MANIFEST).read_text())["layers"]}
    # BCNN: the real image layer and the classifier on pooled sums are po2/integer (svpe), the rest complex
    assert engines == ({"svpe"} if name == "paper_cifar" else {"svpe", "cxnor"}), engines


def _random_graphs(work: Path) -> list[ir.Graph]:
    """Six random po2 CNNs (some with binary activations), two MLPs and a residual block (fork + Add),
    folded to at most 64 lanes."""
    models = [netgen.random_cnn(s, n_bits=s % 5 + 1, binary_acts=s % 3 == 2) for s in range(101, 107)]
    models += [netgen.random_mlp(s, n_bits=s % 5 + 1) for s in range(201, 203)]
    models.append(residual(7))
    graphs = []
    for model in models:
        path = work / f"{model.graph.name}.onnx"
        onnx.save(model, str(path))
        graphs.append(choose_folding(lower(path), max_lanes=64))
    return graphs


@pytest.mark.slow
def test_random_networks_one_build(tmp_path):
    """Nine networks side by side in one simulation, streamed with bubbles and backpressure."""
    rng = np.random.default_rng(30)
    graphs = _random_graphs(tmp_path)
    sources, insts = [], []
    for i, graph in enumerate(graphs):
        x = adversarial_inputs(graph, 3, seed=i)
        y = reference.run_int(graph, x)[graph.outputs[0]]
        out = tmp_path / f"net{i}"
        write_rtl_project(plan_graph(graph, load_board("zcu102")), out, None, None, top_name=f"net{i}")
        m = json.loads((out / "rtl" / MANIFEST).read_text())
        sources.append(out / "rtl" / f"net{i}.sv")
        ins, outs = m["input"], m["output"]
        y_words = axis_words(to_stream(y, outs), outs)
        in_w, out_w = ins["elems"] * ins["lane"], outs["elems"] * outs["lane"]
        s_in = Stream(True, ("in_r_TVALID", None), ("in_r_TREADY", None), [("in_r_TDATA", in_w, 0),
                      ("in_r_TLAST", 1, 0)], axis_words(to_stream(x, ins), ins), float(rng.choice([1.0, 0.6])))
        s_out = Stream(False, ("out_r_TVALID", None), ("out_r_TREADY", None), [("out_r_TDATA", out_w, 0),
                       ("out_r_TLAST", 1, 0)], y_words, float(rng.choice([1.0, 0.5])))
        ports = {"in_r_TDATA": in_w, "in_r_TVALID": 1, "in_r_TREADY": 1, "in_r_TLAST": 1, "out_r_TDATA": out_w,
                 "out_r_TVALID": 1, "out_r_TREADY": 1, "out_r_TLAST": 1}
        insts.append(Instance(f"net{i}", {"MEM_DIR": str((out / "rtl").resolve())}, ports, {"in": s_in, "out": s_out},
                              graph.name, clock_ports=("ap_clk", "ap_rst_n")))
    h = Harness("h_nets", extra_sources=sources)
    for inst in insts:
        h.add(inst)
    h.check(tmp_path / "sim")


def _lint(rtl: Path, top: str) -> str:
    files = (rtl / "files.f").read_text().split()
    proc = subprocess.run([str(verilator_bin_dir() / "verilator"), "--lint-only", "-Wall", "--top-module", top,
                           *files], cwd=rtl, capture_output=True, text=True)
    return proc.stdout + proc.stderr if proc.returncode else ""


def test_generated_tops_lint_clean_and_deterministic(tmp_path):
    graphs = [choose_folding(lower(DEMO))] + _random_graphs(tmp_path)
    onnx.save(bcnn(1), str(tmp_path / "bcnn.onnx"))
    graphs.append(choose_folding(lower(tmp_path / "bcnn.onnx")))
    for i, graph in enumerate(graphs):
        a, b = tmp_path / f"a{i}", tmp_path / f"b{i}"
        files = write_rtl_project(plan_graph(graph, load_board("zcu102")), a, None, None)
        write_rtl_project(plan_graph(graph, load_board("zcu102")), b, None, None)
        for rel in files:
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
        assert all(p.resolve().is_relative_to(a.resolve()) for p in a.rglob("*"))
        report = _lint(a / "rtl", "nbq_top")
        assert not report, f"{graph.name}:\n{report[:3000]}"
