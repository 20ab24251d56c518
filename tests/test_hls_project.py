"""The generated project: files per board, manifest, weights, test data, determinism, safe writes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hls_graphs import GraphMaker, cnn_mixed, fanout, golden, mlp_binary, residual

from nbq import ir, reference
from nbq.backends.hls import project_files, write_hls_project
from nbq.backends.hls.romfile import rom_tool
from nbq.board_catalog import load_board
from nbq.errors import InternalError, NbqError, UnsupportedModelError
from nbq.formats import Po2Codebook, int_weight_values
from nbq.golden import default_random_images
from nbq.plan import plan_graph
from nbq.plan.layout import stream_order

LIBRARY = {
    "add.h", "arith.h", "axis_compat.h", "clamp.h", "clone.h", "common.h", "complex.h", "concat.h", "csim_fast.h",
    "io.h", "mvau.h", "nbq.h", "pool.h", "regroup.h", "svpe.h", "threshold.h", "vec.h", "vpe.h", "weights.h",
    "window.h", "xnor.h",
}  # fmt: skip


def write(graph: ir.Graph, out_dir: Path, board: str = "zcu102", **kwargs) -> list[Path]:
    x, y = golden(graph)
    return write_hls_project(plan_graph(graph, load_board(board)), out_dir, x, y, **kwargs)


@pytest.mark.parametrize("board", ["zcu102", "u280"])
def test_file_list(board, tmp_path):
    files = write(cnn_mixed(), tmp_path / "prj", board)
    expected = {
        "Makefile", "README.md", "hls_config.cfg", "nbq_project.json", "run_hls.tcl",
        "firmware/nbq_top.cpp", "firmware/nbq_top.h", "firmware/parameters.h",
        "firmware/weights/conv0.h", "firmware/weights/conv3.h",  # thr1 is fused into conv0's unit
        "firmware/weights/dense6.h", "tb/nbq_top_tb.cpp", "tb_data/inputs.dat", "tb_data/golden.dat",
        "firmware/rom/w_conv0.bin", "firmware/rom/w_conv3.bin", "firmware/rom/w_dense6.bin",  # packed ROMs
        "tools/nbq_rom_init.py",  # writes their initializers
    } | {f"firmware/nbq/{h}" for h in LIBRARY}  # fmt: skip
    if board == "u280":  # board-flow files (tests/test_flow_project.py checks their contents)
        expected |= {"connectivity.cfg", "host/host.cpp", "host/nbq_host.h", "tb_data/inputs.bin", "tb_data/golden.bin"}
    else:
        expected |= {"vivado/block_design.tcl", "driver/nbq_driver.py"}
    assert files == sorted(Path(f) for f in expected)
    on_disk = sorted(p.relative_to(tmp_path / "prj") for p in (tmp_path / "prj").rglob("*") if p.is_file())
    assert on_disk == files
    assert [p.name for p in tmp_path.iterdir()] == ["prj"]  # no temporary folders left behind


@pytest.mark.parametrize("board", ["zcu102", "u280"])
def test_board_flow_files(board, tmp_path):
    b = load_board(board)
    write(cnn_mixed(), tmp_path / "prj", board, top_name="net")
    prj = tmp_path / "prj"
    tcl, cfg, cpp = ((prj / f).read_text() for f in ("run_hls.tcl", "hls_config.cfg", "firmware/net.cpp"))
    make, header = (prj / "Makefile").read_text(), (prj / "firmware/net.h").read_text()
    assert f"set_part {{{b.part}}}" in tcl
    assert f"create_clock -period {1000 / b.clock_mhz:.3f}" in tcl
    for step in ("open_project", "set_top", "add_files -tb", "open_solution", "csim_design", "csynth_design",
                 "cosim_design", "export_design"):  # fmt: skip
        assert step in tcl
    assert "2022.x-2024.1" in tcl
    assert f"part={b.part}" in cfg and f"flow_target={b.flow}" in cfg
    assert "syn.file=firmware/net.cpp" in cfg and "tb.file=tb/net_tb.cpp" in cfg and "clock=" in cfg
    assert "package.output.format=" in cfg and "syn.output.format" in cfg
    for target in ("csim:", "csynth:", "cosim:", "export:"):
        assert target in make
    assert "#pragma HLS DATAFLOW" in cpp
    if b.flow == "vivado":
        assert "set_top net_axis" in tcl and "export_design -format ip_catalog" in tcl
        assert "void net_axis(hls::stream<axis_word>& in, hls::stream<axis_word>& out)" in header
        assert "mode=axis port=in" in cpp and "mode=s_axilite port=return" in cpp
    else:
        assert "set_top net_krnl" in tcl and "export_design -format xo" in tcl
        assert 'extern "C" void net_krnl(const nbq_word_t* in, nbq_word_t* out, int n_images)' in header
        for bundle in ("bundle=gmem0", "bundle=gmem1", "bundle=control"):
            assert bundle in cpp


def test_manifest(tmp_path):
    files = write(residual(), tmp_path / "prj", "u280")
    m = json.loads((tmp_path / "prj" / "nbq_project.json").read_text())
    assert m["top"] == "nbq_top" and m["wrapper"] == "nbq_top_krnl"
    assert (m["board"], m["part"], m["flow"], m["clock_mhz"]) == ("u280", "xcu280-fsvh2892-2L-e", "vitis", 300)
    assert m["files"] == [str(f) for f in files]
    assert [layer["op"] for layer in m["layers"]] == [
        "Conv",  # with its Threshold fused (nbq.passes.fusion)
        "Conv",
        "Clamp",
        "Add",
        "Conv",
        "SumPool",
        "Threshold",
        "Dense",
    ]  # fmt: skip (Flatten is free on a stream and has no process)
    conv = m["layers"][0]
    assert conv["fused_threshold"] and conv["stages"]["threshold"] == conv["stages"]["mvau"] // conv["folding"]["sf"]
    assert conv["format"] == "po2-3b" and conv["shape"] == [4, 8, 8] and conv["weights"] == 4 * 4 * 9
    assert conv["type"] == f"{'int' if conv['signed'] else 'uint'}{conv['bits']}"
    assert m["input"]["stream_shape"] == [8, 8, 4] and m["tb_images"] == 8


def test_deterministic(tmp_path):
    g = residual()
    a = write(g, tmp_path / "a", "u280")
    write(g, tmp_path / "b", "u280")
    for rel in a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def _array(text: str, name: str, files: dict | None = None) -> list[int]:
    body = re.search(rf"{name}(?:\[\d+\])+ = \{{(.*?)\}};", text, re.S).group(1)
    include = re.search(r'#include "\.\./rom/(\w+)\.inc"', body)
    if include:  # a packed ROM: its initializer as the project's build step writes it
        body = rom_tool().initializer(files[f"firmware/rom/{include.group(1)}.bin"])
    return [int(v.rstrip("UL"), 0) for v in re.findall(r"-?0x[0-9a-f]+ULL|-?\d+(?:LL)?", body)]


def _config(params: str, name: str) -> tuple[dict[str, int], str]:
    body = re.search(rf"struct {name} {{(.*?)\n}};", params, re.S).group(1)
    consts = {k: int(v) for k, v in re.findall(r"static const int (\w+) = (-?\d+);", body)}
    return consts, re.search(r"typedef (.*) engine;", body).group(1)


def _decoded(layer: ir.Conv | ir.Dense, files: dict, ident: str) -> np.ndarray:
    """The weight matrix (rows = outputs, columns in window / stream order) read back from the folds."""
    chunks = _array(files[f"firmware/weights/{ident}.h"], f"w_{ident}", files)
    cfg, engine = _config(files["firmware/parameters.h"], f"cfg_{ident}")
    pe, simd, nf, sf, depth, n_chunks, cb = (cfg[k] for k in ("PE", "SIMD", "NF", "SF", "ROM_DEPTH", "ROM_CHUNKS",
                                                              "ROM_CHUNK_BITS"))
    assert depth == nf * sf and len(chunks) == depth * n_chunks
    kind, bits = re.match(r"nbq::(\w+)<(\w+)>", engine).groups()
    bits = 1 if kind == "xnor" else int(bits)
    rows = [sum(c << (j * cb) for j, c in enumerate(chunks[r * n_chunks:(r + 1) * n_chunks])) for r in range(depth)]
    folds = np.array([[(row >> (i * bits)) & ((1 << bits) - 1) for i in range(pe * simd)] for row in rows],
                     dtype=np.uint64)
    if kind == "svpe":
        ints = Po2Codebook(bits).int_values(folds)
    elif kind == "vpe":
        ints = int_weight_values(folds, bits)
    else:
        ints = np.where(folds == 1, 1, -1)
    return ints.reshape(nf, sf, pe, simd).transpose(0, 2, 1, 3).reshape(nf * pe, sf * simd)


def test_weight_headers_decode_to_the_integer_weights(tmp_path):
    """Packed codes in the headers, read back with nbq.formats fold by fold, give Weights.ints."""
    for graph in (cnn_mixed(), residual(), mlp_binary()):
        plan = plan_graph(graph, load_board("zcu102"))
        files = project_files(plan, *golden(graph))
        checked = 0
        for layer in graph.layers:
            if not isinstance(layer, ir.Conv | ir.Dense):
                continue
            ints = layer.weights.ints
            got = _decoded(layer, files, layer.name)
            if isinstance(layer, ir.Conv):  # columns in window order (kh, kw, channel in group)
                want = ints.transpose(0, 2, 3, 1).reshape(ints.shape[0], -1)
            else:  # columns in stream order: flattened maps travel channels-last
                # (in these graphs the last Dense reads the Flatten, in residual through a Threshold)
                flat = [f for f in graph.layers if isinstance(f, ir.Flatten)]
                chw = graph.tensors[flat[0].inputs[0]].shape if flat and layer is graph.layers[-1] else None
                order = stream_order(chw) if chw else np.arange(ints.shape[1])
                want = ints[:, order]
            assert got.tolist() == want.tolist(), layer.name
            fused = plan.layer(layer.name).threshold_layer is not None  # the bias moved into the thresholds
            bias = [0] * len(layer.bias) if fused else layer.bias.tolist()
            assert _array(files[f"firmware/weights/{layer.name}.h"], f"b_{layer.name}") == bias
            checked += 1
        assert checked >= 2


def test_testbench_data_is_in_stream_order(tmp_path):
    g = cnn_mixed()
    x, y = golden(g)
    write_hls_project(plan_graph(g, load_board("zcu102")), tmp_path / "prj", x, y)
    lines = (tmp_path / "prj/tb_data/inputs.dat").read_text().splitlines()
    assert len(lines) == len(x)
    assert [int(v) for v in lines[0].split()] == x[0].transpose(1, 2, 0).ravel().tolist()  # HWC
    gold = (tmp_path / "prj/tb_data/golden.dat").read_text().splitlines()
    assert [int(v) for v in gold[-1].split()] == y[g.outputs[0]][-1].tolist()


def test_missing_golden_data_is_generated(tmp_path):
    g = mlp_binary()
    write_hls_project(plan_graph(g, load_board("zcu102")), tmp_path / "prj", None, None)
    x = np.array(
        [[int(v) for v in ln.split()] for ln in (tmp_path / "prj/tb_data/inputs.dat").read_text().splitlines()]
    )
    y = np.array(
        [[int(v) for v in ln.split()] for ln in (tmp_path / "prj/tb_data/golden.dat").read_text().splitlines()]
    )
    t = g.tensors["input"]
    n_random = default_random_images(g)  # then all-max, all-min, checkerboard
    assert len(x) == n_random + 3 and x[n_random].min() == t.hi and x[n_random + 1].max() == t.lo
    assert y.tolist() == reference.run_int(g, x)[g.outputs[0]].tolist()


def test_rewrite_replaces_a_previous_project(tmp_path):
    prj = tmp_path / "prj"
    write(cnn_mixed(), prj)
    (prj / "csim_build").mkdir()
    (prj / "csim_build" / "stale.o").write_text("x")
    files = write(mlp_binary(), prj, top_name="other")
    assert sorted(p.relative_to(prj) for p in prj.rglob("*") if p.is_file()) == files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prj"]


def test_refuses_to_overwrite_foreign_folders(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(NbqError, match="not an nbq project"):
        write(cnn_mixed(), foreign)
    assert (foreign / "thesis.tex").read_text() == "precious"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(NbqError, match="not a folder"):
        write(cnn_mixed(), a_file)
    (tmp_path / "empty").mkdir()
    write(cnn_mixed(), tmp_path / "empty")  # an empty folder is fine
    assert (tmp_path / "empty" / "nbq_project.json").is_file()


def test_failed_write_leaves_no_half_project(tmp_path, monkeypatch):
    prj = tmp_path / "prj"
    write(cnn_mixed(), prj)
    before = (prj / "firmware/parameters.h").read_bytes()
    original, calls = Path.write_bytes, []

    def flaky(self, data):
        calls.append(self)
        if len(calls) == 5:
            raise OSError("disk full")
        return original(self, data)

    for target in (prj, tmp_path / "new"):  # replacing a project, and writing a new one
        calls.clear()
        monkeypatch.setattr(Path, "write_bytes", flaky)
        with pytest.raises(NbqError, match=r"cannot write there \(disk full\)"):
            write(mlp_binary(), target)
        monkeypatch.undo()
        assert (prj / "firmware/parameters.h").read_bytes() == before  # the old project is untouched
        assert sorted(p.name for p in tmp_path.iterdir()) == ["prj"]  # no half project, no temp folder


def test_unsupported_graphs_are_clear_errors(tmp_path):
    board = load_board("zcu102")
    g = cnn_mixed()
    for bad in ("my top", "a__b", "int", "cfg_net", "nbq"):
        with pytest.raises(NbqError, match="C identifier"):
            project_files(plan_graph(g, board), None, None, top_name=bad)
    aq = g.copy()
    t = aq.layers[1]
    aq.layers[1] = ir.AffineQuant(t.name, t.inputs, t.output, np.ones(4), np.zeros(4))
    with pytest.raises(UnsupportedModelError, match="AffineQuant.*passes"):
        project_files(plan_graph(aq, board), *golden(g))
    no_range = g.copy()
    no_range.tensors[no_range.layers[2].output].lo = None
    with pytest.raises(InternalError, match="no proven range"):  # planning needs the passes: nbq's bug
        project_files(plan_graph(no_range, board), *golden(g))
    two_outputs = g.copy()
    two_outputs.outputs.append(two_outputs.layers[0].output)
    with pytest.raises(UnsupportedModelError, match="one graph input and one output"):
        project_files(plan_graph(two_outputs, board), None, None)
    with pytest.raises(NbqError, match="leave the input range"):
        project_files(plan_graph(g, board), np.full((1, 3, 9, 8), 99), None)


def test_stream_names_stay_unique_when_tensor_names_collide():
    g = fanout()  # the input feeds two layers: clone branches s_input_0, s_input_1
    old = g.layers[0].output
    g.tensors["input_0"] = g.tensors.pop(old)
    g.tensors["input_0"].name = "input_0"
    for layer in g.layers:
        layer.inputs = ["input_0" if name == old else name for name in layer.inputs]
        layer.output = "input_0" if layer.output == old else layer.output
    cpp = project_files(plan_graph(g, load_board("zcu102")), *golden(g))["firmware/nbq_top.cpp"]
    streams = re.findall(r"hls::stream<nbq::vec<\w+, \d+>> (\w+)\(", cpp)
    assert "s_input_0" in streams and len(streams) == len(set(streams)) >= 4


def test_dead_layers_are_pruned():
    m = GraphMaker(7, (6,), 0, 7, "dead")
    live = m.dense(4)
    m.dense(3, src="input")  # never reaches the output
    g = m.graph(output=live)
    files = project_files(plan_graph(g, load_board("zcu102")), *golden(g))
    assert "firmware/weights/dense1.h" not in files
    assert [layer["name"] for layer in json.loads(files["nbq_project.json"])["layers"]] == ["dense0"]


def test_resnet18_sized_graph_writes(tmp_path):
    """~11.7 M po2 weights: the project is written (its time is measured by bench/compile_time.py)."""
    pytest.importorskip("onnx")
    import onnx

    from nbq.frontend.onnx_import import import_onnx
    from nbq.modelgen import resnet18_po2
    from nbq.passes import run_passes

    path = tmp_path / "resnet.onnx"
    onnx.save(resnet18_po2(), str(path))
    g = run_passes(import_onnx(path))
    assert g.weight_count > 11_000_000
    x = np.zeros((1,) + g.tensors[g.inputs[0]].shape, dtype=np.int64)
    y = {g.outputs[0]: np.zeros((1,) + g.tensors[g.outputs[0]].shape, dtype=np.int64)}
    files = write_hls_project(plan_graph(g, load_board("u280")), tmp_path / "prj", x, y)
    assert len([f for f in files if f.parts[:2] == ("firmware", "weights")]) >= 20


def test_vitis_targets_explain_a_missing_vitis(tmp_path):
    if shutil.which("make") is None or shutil.which("vitis_hls") or shutil.which("v++"):
        pytest.skip("needs make, and no Vitis on PATH")
    write(mlp_binary(), tmp_path / "prj")
    for target in ("csynth", "cosim", "export"):
        done = subprocess.run(["make", target], cwd=tmp_path / "prj", capture_output=True, text=True)
        assert done.returncode != 0
        assert f"nbq: {target} needs Vitis HLS" in done.stdout and "make csim" in done.stdout
