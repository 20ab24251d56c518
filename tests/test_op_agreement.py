"""Per op, the same compiled design on both sides: reference == HLS C-simulation == RTL co-simulation.

One tiny ONNX graph per layer kind x engine (tests/op_cases.py), compiled ONCE through the public
pipeline (nbq.pipeline.compile_model with rtl=True), then C-simulated (g++) and co-simulated (cocotb +
Verilator) on the same golden vectors: random images and the input quantizer's range extremes
(all-max, all-min, both max/min checkerboards, a random max/min pattern).  A case fails if any
output integer differs, if the reference's own outputs are constant, if a simulator checked fewer
images than were given, or if the two backends built different engines or foldings for a layer.

Cost: per case one g++ build and one Verilator build (-O0, runtime objects shared through
nbq.sim.objcache), run side by side in two threads: 3-6 s a case on an idle 2-core machine, about
twice that under load; the whole file ~75 s idle.  The six unmarked simulated cases are the quick
tier; the compile-only tests run for every case in both tiers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import op_cases
import pytest
from hls_graphs import write_ir_folding

from nbq import ir, reference
from nbq.board_catalog import load_board
from nbq.pipeline import compile_model, lower

N_RANDOM = 4
RTL_MANIFEST = Path("rtl") / "nbq_rtl.json"
HLS_MANIFEST = "nbq_project.json"


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[], onnx.ModelProto]
    engine: str  # the compile option (power-of-two layers)
    kinds: tuple[str, ...]  # what the graph must contain (KINDS below)
    engines: tuple[str, ...]  # expected engine of each Conv/Dense, graph order; "-masked": a 0 can reach the XNOR
    slow: bool = True
    board: str = "zcu102"


def _mvaus(g: ir.Graph) -> list[ir.Conv | ir.Dense]:
    return [layer for layer in g.layers if isinstance(layer, ir.Conv | ir.Dense)]


def _fold(layer: ir.Conv | ir.Dense, key: str):
    f = layer.folding
    return f[key] if isinstance(f, dict) else getattr(f, key)


def _producer_op(g: ir.Graph, layer: ir.Layer) -> str | None:
    src = g.producer(layer.inputs[0])
    return type(src).__name__ if src is not None else None


def _convs(g: ir.Graph) -> list[ir.Conv]:
    return [layer for layer in g.layers if isinstance(layer, ir.Conv)]


def _upstream(g: ir.Graph, name: str) -> set[str]:
    """Every tensor `name` is computed from (a DenseNet skip concatenates one of them with `name`)."""
    seen, todo = set(), [name]
    while todo:
        src = g.producer(todo.pop())
        for t in src.inputs if src is not None else []:
            if t not in seen:
                seen.add(t)
                todo.append(t)
    return seen


KINDS: dict[str, Callable[[ir.Graph], bool]] = {
    "conv-padded": lambda g: any(any(c.pads) for c in _convs(g)),
    "conv-strided": lambda g: any(c.strides != (1, 1) for c in _convs(g)),
    "conv-stride-2x1": lambda g: any(c.strides == (2, 1) for c in _convs(g)),
    "conv-dilated": lambda g: any(c.dilations != (1, 1) for c in _convs(g)),
    "conv-asymmetric-pads": lambda g: any(len(set(c.pads)) > 1 for c in _convs(g)),
    "conv-grouped": lambda g: any(1 < c.groups < c.weights.ints.shape[0] for c in _convs(g)),
    "conv-1x1": lambda g: any(c.weights.ints.shape[2:] == (1, 1) and c.strides == (1, 1) for c in _convs(g)),
    "conv-complex": lambda g: any(bool(_fold(c, "complex")) for c in _convs(g)),
    "dense": lambda g: any(isinstance(la, ir.Dense) for la in g.layers),
    "weights-po2": lambda g: any(m.weights.kind == "po2" and m.weights.bits > 1 for m in _mvaus(g)),
    "weights-binary": lambda g: any(m.weights.kind == "po2" and m.weights.bits == 1 for m in _mvaus(g)),
    "weights-int": lambda g: any(m.weights.kind == "int" for m in _mvaus(g)),
    "threshold-after-mvau": lambda g: any(isinstance(la, ir.Threshold) and _producer_op(g, la) in ("Conv", "Dense")
                                          for la in g.layers),
    "threshold-after-pool": lambda g: any(isinstance(la, ir.Threshold) and _producer_op(g, la) in ("MaxPool", "SumPool")
                                          for la in g.layers),
    "clamp-relu": lambda g: any(isinstance(la, ir.Clamp) and la.lo is not None and la.hi is None for la in g.layers),
    "clamp-two-sided": lambda g: any(isinstance(la, ir.Clamp) and None not in (la.lo, la.hi) for la in g.layers),
    "maxpool-padded": lambda g: any(isinstance(la, ir.MaxPool) and any(la.pads) for la in g.layers),
    "sumpool-window": lambda g: any(isinstance(la, ir.SumPool) and g.tensors[la.output].shape[1:] != (1, 1)
                                    for la in g.layers),
    "sumpool-global": lambda g: any(isinstance(la, ir.SumPool) and g.tensors[la.output].shape[1:] == (1, 1)
                                    for la in g.layers),
    "add-shifted": lambda g: any(isinstance(la, ir.Add) and any(la.shifts) for la in g.layers),
    "flatten": lambda g: any(isinstance(la, ir.Flatten) for la in g.layers),
    "concat-3-shifted": lambda g: any(isinstance(la, ir.Concat) and len(la.inputs) > 2 and any(la.shifts)
                                      for la in g.layers),
    "concat-skip": lambda g: any(isinstance(la, ir.Concat) and any(a in _upstream(g, b) for a in la.inputs
                                                                   for b in la.inputs) for la in g.layers),
    "concat-vectors": lambda g: any(isinstance(la, ir.Concat) and len(g.tensors[la.output].shape) == 1
                                    for la in g.layers),
    "concat-of-input": lambda g: any(isinstance(la, ir.Concat) and g.inputs[0] in la.inputs for la in g.layers),
    "channel-permute": lambda g: any(isinstance(la, ir.ChannelPermute) for la in g.layers),
    "maxpool-ceil": lambda g: any(isinstance(la, ir.MaxPool) and la.pads[2:] != la.pads[:2] for la in g.layers),
    "sumpool-padded": lambda g: any(isinstance(la, ir.SumPool) and any(la.pads) for la in g.layers),
}

CONV, DENSE = ("weights-po2",), ("dense", "flatten", "threshold-after-mvau")
CASES = [
    Case("conv-svpe", op_cases.conv_po2, "svpe", CONV + ("conv-padded", "conv-strided", "threshold-after-mvau"),
         ("svpe", "svpe"), slow=False),
    Case("conv-vpe", op_cases.conv_po2, "vpe", CONV + ("conv-padded", "conv-strided", "threshold-after-mvau"),
         ("vpe", "vpe"), slow=False),
    Case("conv-int-vpe", op_cases.conv_int, "svpe", ("weights-int", "conv-padded", "threshold-after-mvau"),
         ("vpe", "vpe")),
    Case("conv-xnor", op_cases.conv_xnor, "svpe", ("weights-binary", "conv-strided", "threshold-after-mvau"),
         ("svpe", "xnor")),
    Case("conv-xnor-masked", op_cases.conv_xnor_masked, "svpe", ("weights-binary", "conv-padded"),
         ("xnor-masked", "xnor-masked"), slow=False),
    Case("conv-cxnor", op_cases.conv_cxnor, "svpe", ("weights-binary", "conv-complex", "conv-padded"),
         ("cxnor-masked", "cxnor"), slow=False, board="u280"),
    Case("conv-grouped-svpe", op_cases.conv_grouped, "svpe", CONV + ("conv-grouped", "conv-padded", "conv-strided"),
         ("svpe", "svpe")),
    Case("conv-grouped-vpe", op_cases.conv_grouped, "vpe", CONV + ("conv-grouped", "conv-padded", "conv-strided"),
         ("vpe", "vpe")),
    Case("conv-window-svpe", op_cases.conv_window, "svpe",
         CONV + ("conv-stride-2x1", "conv-dilated", "conv-asymmetric-pads"), ("svpe", "svpe")),
    Case("conv-window-vpe", op_cases.conv_window, "vpe",
         CONV + ("conv-stride-2x1", "conv-dilated", "conv-asymmetric-pads"), ("vpe", "vpe")),
    Case("conv-1x1-svpe", op_cases.conv_1x1, "svpe", CONV + ("conv-1x1", "threshold-after-mvau"), ("svpe", "svpe")),
    Case("conv-1x1-vpe", op_cases.conv_1x1, "vpe", CONV + ("conv-1x1", "threshold-after-mvau"), ("vpe", "vpe")),
    Case("dense-svpe", op_cases.dense_po2, "svpe", CONV + DENSE, ("svpe", "svpe", "svpe")),
    Case("dense-vpe", op_cases.dense_po2, "vpe", CONV + DENSE, ("vpe", "vpe", "vpe")),
    Case("dense-int-vpe", op_cases.dense_int, "svpe", ("weights-int",) + DENSE, ("svpe", "vpe", "vpe")),
    Case("dense-xnor", op_cases.dense_xnor, "svpe", ("weights-binary", "clamp-two-sided") + DENSE,
         ("svpe", "xnor", "xnor-masked"), slow=False, board="u280"),
    Case("threshold-clamp-maxpool", op_cases.threshold_clamp_maxpool, "svpe",
         ("threshold-after-mvau", "threshold-after-pool", "maxpool-padded", "clamp-relu", "clamp-two-sided"),
         ("svpe", "svpe", "svpe")),
    Case("sumpool", op_cases.sumpool, "svpe", ("sumpool-window", "sumpool-global", "threshold-after-pool", "flatten"),
         ("svpe", "svpe", "svpe")),
    Case("residual-add", op_cases.residual_add, "svpe", ("add-shifted", "flatten", "threshold-after-mvau"),
         ("svpe", "svpe", "svpe")),
    Case("concat-fire", op_cases.concat_fire, "svpe", ("concat-3-shifted", "concat-skip", "threshold-after-mvau"),
         ("svpe", "svpe", "svpe", "svpe"), slow=False),
    Case("concat-mixed", op_cases.concat_mixed, "svpe", ("concat-vectors", "concat-of-input", "concat-skip", "dense"),
         ("svpe", "svpe", "svpe", "svpe", "svpe")),
    Case("shuffle-pools", op_cases.shuffle_pools, "svpe",
         ("channel-permute", "maxpool-ceil", "sumpool-padded", "threshold-after-pool"), ("svpe", "svpe", "svpe")),
]


def _params():
    return [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.slow else []) for c in CASES]


def test_cases_cover_every_kind_and_engine():
    kinds = {k for c in CASES for k in c.kinds}
    assert kinds == set(KINDS), set(KINDS) - kinds
    assert {e for c in CASES for e in c.engines} == {"svpe", "vpe", "xnor", "xnor-masked", "cxnor", "cxnor-masked"}
    assert any(not c.slow for c in CASES) and len({c.id for c in CASES}) == len(CASES)


# ------------------------------------------------------------------ golden vectors


def extreme_inputs(t: ir.Tensor, n_random: int = N_RANDOM, seed: int = 0) -> np.ndarray:
    """Integer images over the input quantizer's range: the extremes FIRST (so the co-simulation's
    bubble/backpressure phase, which replays the first images, sees them too), then random ones."""
    rng = np.random.default_rng(seed)
    checker = np.indices(t.shape).sum(axis=0) % 2 == 0
    images = [np.full(t.shape, t.hi), np.full(t.shape, t.lo), np.where(checker, t.hi, t.lo),
              np.where(checker, t.lo, t.hi), np.where(rng.integers(0, 2, t.shape) == 1, t.hi, t.lo)]
    images += list(rng.integers(t.lo, t.hi + 1, size=(n_random,) + t.shape))
    return np.stack(images).astype(np.int64)


def stream_order(y: np.ndarray, info: dict) -> np.ndarray:
    """(N, logical shape) -> (N, values) in the streams' channels-last order (RTL manifest's layout)."""
    n = y.shape[0]
    if info.get("layout") is not None:
        c, h, w = info["layout"]
        return y.reshape(n, c, h, w).transpose(0, 2, 3, 1).reshape(n, -1)
    return y.reshape(n, -1)


# ------------------------------------------------------------------ one compile per case, both simulators


@dataclass
class Design:
    case: Case
    out: Path
    graph: ir.Graph
    x_int: np.ndarray
    expected: np.ndarray  # reference outputs, (N, logical shape)
    result: object  # nbq.pipeline.CompileResult
    compile_s: float
    csim: object | None = None
    cosim: object | None = None
    sim_s: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)


class Designs:
    """Compiles each case once per module and runs both simulators once (side by side)."""

    def __init__(self, root: Path):
        self.root = root
        self.compiled: dict[str, Design] = {}
        self.simulated: set[str] = set()

    def compile(self, case: Case) -> Design:
        if case.id not in self.compiled:
            work = self.root / case.id
            work.mkdir(exist_ok=True)  # a compile that raised is retried by the next test
            model = work / f"{case.build.__name__}.onnx"
            onnx.save(case.build(), str(model))
            graph = lower(model)
            t_in = graph.tensors[graph.inputs[0]]
            x_int = extreme_inputs(t_in)
            scale = t_in.scale
            start = time.perf_counter()
            folding = write_ir_folding(graph, work / "folding.json")
            result = compile_model(model, load_board(case.board), work / "out", test_inputs=x_int * scale, rtl=True,
                                   engine=case.engine, folding=folding)
            elapsed = time.perf_counter() - start
            expected = reference.run_int(graph, x_int)[graph.outputs[0]]
            self.compiled[case.id] = Design(case, work / "out", graph, x_int, expected, result, elapsed)
        return self.compiled[case.id]

    def simulate(self, case: Case) -> Design:
        d = self.compile(case)
        if case.id not in self.simulated:
            self.simulated.add(case.id)
            from nbq.sim.cosim import run_cosim
            from nbq.sim.csim import run_csim

            start = time.perf_counter()
            with ThreadPoolExecutor(2) as pool:
                jobs = {"csim": pool.submit(run_csim, d.out), "cosim": pool.submit(run_cosim, d.out, opt="-O0")}
                for name, job in jobs.items():
                    try:
                        setattr(d, name, job.result())
                    except Exception as exc:  # reported by the test, with the other simulator's verdict
                        d.errors[name] = f"{type(exc).__name__}: {str(exc)[:2000]}"
            d.sim_s = time.perf_counter() - start
        return d


@pytest.fixture(scope="module")
def designs(tmp_path_factory) -> Designs:
    return Designs(tmp_path_factory.mktemp("op_agreement"))


@pytest.fixture(scope="module")
def sim_tools():
    from nbq.errors import ToolNotFoundError
    from nbq.sim.csim import find_hls_headers
    from nbq.sim.verilator import require_tools

    try:
        require_tools()
        find_hls_headers()
    except ToolNotFoundError as exc:
        pytest.skip(str(exc))


# ------------------------------------------------------------------ tests


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_case_graph_has_its_kinds_and_folds(case, tmp_path):
    """The lowered graph holds the layer kinds the case claims, and its MVAUs fold both ways
    (PE > 1, SIMD > 1, NF > 1 and SF > 1 each somewhere)."""
    path = tmp_path / "m.onnx"
    onnx.save(case.build(), str(path))
    g = lower(path)
    missing = [k for k in case.kinds if not KINDS[k](g)]
    assert not missing, f"{case.id}: the graph has no {missing}"
    mvaus = _mvaus(g)
    assert len(mvaus) == len(case.engines), [m.name for m in mvaus]
    for key in ("pe", "simd", "nf", "sf"):
        assert any(_fold(m, key) > 1 for m in mvaus), (key, [(m.name, m.folding) for m in mvaus])
    # on the golden vectors every layer is exercised: its output differs between images, each
    # threshold bank gives more than one level, each clamp bound clips something
    x = extreme_inputs(g.tensors[g.inputs[0]])
    values = reference.run_int(g, x, keep_all=True)
    for layer in g.layers:
        y = values[layer.output].reshape(len(x), -1)
        assert len({row.tobytes() for row in y}) > 1, f"{layer.op} {layer.name}: the same output for every image"
        assert np.unique(y).size > 1, f"{layer.op} {layer.name}: a constant output"
        if isinstance(layer, ir.Conv | ir.Dense):
            engine = case.engines[mvaus.index(layer)]
            if engine.endswith("-masked"):  # a 0 reaches the XNOR: from the data or from zero padding
                assert (values[layer.inputs[0]] == 0).any() or any(getattr(layer, "pads", ())), layer.name
        if isinstance(layer, ir.Clamp):
            v = values[layer.inputs[0]]
            assert layer.lo is None or v.min() < layer.lo, f"Clamp {layer.name}: bound {layer.lo} never clips"
            assert layer.hi is None or v.max() > layer.hi, f"Clamp {layer.name}: bound {layer.hi} never clips"


@pytest.mark.usefixtures("sim_tools")
@pytest.mark.parametrize("case", _params())
def test_reference_csim_cosim_agree(case, designs):
    d = designs.simulate(case)
    n = len(d.x_int)
    report = f"{case.id}: compile {d.compile_s:.1f} s, simulators {d.sim_s:.1f} s"
    print(report)
    # the reference is not trivially constant, and the project carries exactly our vectors
    y = d.expected
    assert np.unique(y).size > 1, f"{case.id}: the reference output is constant ({np.unique(y)})"
    assert len({row.tobytes() for row in y.reshape(n, -1)}) > 1, f"{case.id}: every image gives the same output"
    assert np.array_equal(d.result.golden_inputs, d.x_int), "the quantized test inputs are not the integers given"
    assert np.array_equal(d.result.golden_outputs[d.graph.outputs[0]], y)
    verdict = {"csim": "PASS", "cosim": "PASS"}  # one line each, then the details
    details = []
    for name, err in d.errors.items():  # a simulator raised instead of returning a result
        verdict[name] = f"FAIL: raised {err.splitlines()[0]}"
        details.append(f"{name}: {err}")
    # HLS C-simulation: its testbench compares with golden.dat; we also compare its outputs ourselves
    c = d.csim
    if c is not None:
        if not (c.passed and c.mismatches == 0 and c.images == n and not c.problems):
            first = (c.problems or c.first_mismatches or ["no verdict"])[0]
            verdict["csim"] = f"FAIL: images {c.images}/{n}, {c.mismatches} mismatches; {first}"
            details.append(f"csim log tail:\n{c.log[-1500:]}")
        else:
            from nbq.sim.csim import read_csim_outputs

            rtl = json.loads((d.out / RTL_MANIFEST).read_text())
            got = read_csim_outputs(d.out)
            want = stream_order(y, rtl["output"])
            if got.shape != want.shape or not np.array_equal(got, want):
                bad = int((got != want).sum()) if got.shape == want.shape else f"shape {got.shape} vs {want.shape}"
                verdict["csim"] = f"FAIL: tb_data/csim_outputs.dat differs from the reference ({bad})"
    # RTL co-simulation: every output integer of both phases against the reference
    o = d.cosim
    if o is not None:
        if not (o.passed and o.mismatches == 0 and o.images == n):
            first = (o.first_mismatches or ["no mismatch listed"])[0]
            verdict["cosim"] = f"FAIL: images {o.images}/{n}, {o.mismatches} mismatches; {first}"
            details.append("cosim: " + "\n  ".join(o.first_mismatches[:8]))
        golden = np.load(d.out / "rtl" / "tb" / "golden_outputs.npy")
        if not np.array_equal(golden.reshape(n, -1), y.reshape(n, -1)):
            verdict["cosim"] = "FAIL: rtl/tb/golden_outputs.npy is not the reference output"
    print(f"{case.id}: csim {verdict['csim']} | cosim {verdict['cosim']}")
    assert set(verdict.values()) == {"PASS"}, (f"{case.id}: csim {verdict['csim']}\n  cosim {verdict['cosim']}\n"
                                               + "\n".join(details))


def _manifest_layers(path: Path) -> dict[str, dict]:
    return {la["name"]: la for la in json.loads(path.read_text())["layers"]}


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])  # compiles only: all quick
def test_both_backends_build_the_same_engines(case, designs):
    """The HLS project and the RTL network compute each Conv/Dense on the expected engine, folded alike."""
    d = designs.compile(case)
    hls, rtl = _manifest_layers(d.out / HLS_MANIFEST), _manifest_layers(d.out / RTL_MANIFEST)
    wrong = []
    for layer, want in zip(_mvaus(d.graph), case.engines, strict=True):
        h, r = hls.get(layer.name, {}), rtl.get(layer.name, {})
        masked = "<true>" in str(h.get("engine_type", ""))
        got_hls = h.get("engine", "?") + ("-masked" if masked else "")
        kind = want.removesuffix("-masked")
        if got_hls != want:
            wrong.append(f"{layer.name}: HLS engine {got_hls} ({h.get('engine_type')}), expected {want}")
        if r.get("engine") != kind:
            wrong.append(f"{layer.name}: RTL engine {r.get('engine')}, expected {kind}")
        folds = {"ir": (_fold(layer, "pe"), _fold(layer, "simd")),
                 "hls": tuple(h.get("folding", {}).get(k) for k in ("pe", "simd")),
                 "rtl": (r.get("pe"), r.get("simd"))}
        if len(set(folds.values())) != 1:
            wrong.append(f"{layer.name}: (PE, SIMD) differ: {folds}")
    assert not wrong, f"{case.id} (--engine {case.engine}):\n" + "\n".join(wrong)


@pytest.mark.usefixtures("sim_tools")
def test_a_wrong_integer_fails_both_simulators(designs):
    """The checks above can fail: a corrupted weight ROM fails the RTL co-simulation, a corrupted
    golden integer fails the C-simulation (the files are restored afterwards)."""
    from nbq.sim.cosim import run_cosim
    from nbq.sim.csim import run_csim

    case = next(c for c in CASES if c.id == "conv-svpe")
    d = designs.simulate(case)
    roms = sorted((d.out / "rtl").glob("*_w.mem"))
    golden = d.out / "tb_data" / "golden.dat"
    assert roms and golden.is_file(), sorted(p.name for p in (d.out / "rtl").iterdir())
    saved = {p: p.read_text() for p in (roms[0], golden)}
    try:
        words = saved[roms[0]].split()
        words[0] = format(int(words[0], 16) ^ ((1 << 4 * len(words[0])) - 1), f"0{len(words[0])}x")
        roms[0].write_text("\n".join(words) + "\n")  # every weight of the first fold inverted
        rows = saved[golden].splitlines()
        values = rows[0].split()
        values[0] = str(int(values[0]) + 1)
        golden.write_text("\n".join([" ".join(values)] + rows[1:]) + "\n")
        bad_rtl = run_cosim(d.out, stress=False, opt="-O0")
        bad_hls = run_csim(d.out)
    finally:
        for path, text in saved.items():
            path.write_text(text)
    assert not bad_rtl.passed and bad_rtl.mismatches > 0, bad_rtl.summary()
    assert not bad_hls.passed and bad_hls.mismatches > 0, (bad_hls.mismatches, bad_hls.problems)
