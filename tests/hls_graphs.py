"""Hand-built IR graphs for the HLS backend tests: random po2/int layers, ranges, golden data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nbq import ir, reference
from nbq.formats import Po2Codebook
from nbq.passes.folding import fold_for
from nbq.plan import plan_graph


class GraphMaker:
    """Appends layers to a single-input graph; tensor ranges come from the real range pass."""

    def __init__(self, seed: int, shape: tuple[int, ...], lo: int, hi: int, name: str = "g") -> None:
        self.rng = np.random.default_rng(seed)
        self.name = name
        self.tensors: dict[str, ir.Tensor] = {"input": ir.Tensor("input", tuple(shape), 1.0, lo, hi)}
        self.layers: list[ir.Layer] = []
        self.cur = "input"

    # ---------------------------------------------------------------- helpers

    def shape(self, name: str | None = None) -> tuple[int, ...]:
        return self.tensors[name or self.cur].shape

    def _out(self, op: str, shape: tuple[int, ...]) -> str:
        name = f"{op.lower()}{len(self.layers)}/out:0"  # un-C-like on purpose: the sanitizer must cope
        self.tensors[name] = ir.Tensor(name, tuple(int(s) for s in shape), 1.0)
        return name

    def weights(self, shape: tuple[int, ...], kind: str = "po2", bits: int = 3) -> ir.Weights:
        if kind == "po2":
            book = Po2Codebook(bits)
            codes = self.rng.integers(0, 2**bits, size=shape).astype(np.uint8)
            ints = book.int_values(codes)
            return ir.Weights("po2", bits, codes, ints, book.int_scale_exp)
        ints = self.rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), size=shape).astype(np.int64)
        codes = (ints & ((1 << bits) - 1)).astype(np.uint64)
        return ir.Weights("int", bits, codes, ints, 0)

    def _add_layer(self, layer: ir.Layer) -> str:
        self.layers.append(layer)
        self.cur = layer.output
        return layer.output

    # ---------------------------------------------------------------- layers

    def conv(self, oc, k=3, stride=1, pads=(0, 0, 0, 0), groups=1, dil=1, kind="po2", bits=3, src=None):
        src = src or self.cur
        c, h, w = self.shape(src)
        kh, kw = (k, k) if isinstance(k, int) else k
        strides = (stride, stride) if isinstance(stride, int) else stride
        dils = (dil, dil) if isinstance(dil, int) else dil
        wts = self.weights((oc, c // groups, kh, kw), kind, bits)
        bias = self.rng.integers(-20, 21, size=oc).astype(np.int64)
        oh, ow = ir.conv_output_hw((h, w), (kh, kw), strides, tuple(pads), dils)
        out = self._out("Conv", (oc, oh, ow))
        return self._add_layer(
            ir.Conv(f"conv{len(self.layers)}", [src], out, wts, bias, strides, tuple(pads), dils, groups)
        )

    def complex_conv(self, o, k=3, stride=1, pads=(0, 0, 0, 0), dil=1, src=None, bias=True):
        """Binary complex conv in block form [[A, -B], [B, A]]: 2*o real outputs from 2*i real inputs."""
        src = src or self.cur
        c, h, w = self.shape(src)
        kh, kw = (k, k) if isinstance(k, int) else k
        strides = (stride, stride) if isinstance(stride, int) else stride
        dils = (dil, dil) if isinstance(dil, int) else dil
        i = c // 2
        a, b = (self.rng.choice(np.array([-1, 1]), size=(o, i, kh, kw)) for _ in range(2))
        ints = np.concatenate([np.concatenate([a, -b], 1), np.concatenate([b, a], 1)]).astype(np.int64)
        wts = ir.Weights("po2", 1, (ints > 0).astype(np.uint8), ints, 0)
        b_vals = self.rng.integers(-9, 10, size=2 * o) if bias else np.zeros(2 * o)
        oh, ow = ir.conv_output_hw((h, w), (kh, kw), strides, tuple(pads), dils)
        out = self._out("Conv", (2 * o, oh, ow))
        return self._add_layer(ir.Conv(f"cconv{len(self.layers)}", [src], out, wts, b_vals.astype(np.int64), strides,
                                       tuple(pads), dils, 1))  # fmt: skip

    def dense(self, n_out, kind="po2", bits=3, src=None):
        src = src or self.cur
        n_in = int(np.prod(self.shape(src)))
        wts = self.weights((n_out, n_in), kind, bits)
        bias = self.rng.integers(-50, 51, size=n_out).astype(np.int64)
        return self._add_layer(ir.Dense(f"dense{len(self.layers)}", [src], self._out("Gemm", (n_out,)), wts, bias))

    def threshold(self, levels=3, out_lo=0, step=1, per_tensor=False, src=None, direction=None):
        """Random thresholds around the input range (some never / always crossed), both directions."""
        src = src or self.cur
        t = self.ranged(src)
        channels = 1 if per_tensor else self.shape(src)[0]
        th = np.sort(self.rng.integers(t.lo - 3, t.hi + 4, size=(channels, levels)), axis=1)
        if direction is None:
            direction = self.rng.choice(np.array([1, -1], dtype=np.int8), size=channels)
        direction = np.asarray(direction, dtype=np.int8)
        th = np.where(direction[:, None] == 1, th, th[:, ::-1])
        out = self._out("Threshold", self.shape(src))
        return self._add_layer(ir.Threshold(f"thr{len(self.layers)}", [src], out, th, direction, out_lo, step))

    def clamp(self, lo=0, hi=None, src=None):
        src = src or self.cur
        return self._add_layer(ir.Clamp(f"relu{len(self.layers)}", [src], self._out("Clip", self.shape(src)), lo, hi))

    def maxpool(self, k=2, stride=2, pads=(0, 0, 0, 0), src=None):
        src = src or self.cur
        c, h, w = self.shape(src)
        kk = (k, k) if isinstance(k, int) else tuple(k)
        ss = (stride, stride) if isinstance(stride, int) else tuple(stride)
        oh, ow = ir.conv_output_hw((h, w), kk, ss, tuple(pads))
        out = self._out("MaxPool", (c, oh, ow))
        return self._add_layer(ir.MaxPool(f"maxpool{len(self.layers)}", [src], out, kk, ss, tuple(pads)))

    def sumpool(self, k=2, stride=2, src=None):
        src = src or self.cur
        c, h, w = self.shape(src)
        kk = (k, k) if isinstance(k, int) else k
        ss = (stride, stride) if isinstance(stride, int) else stride
        oh, ow = ir.conv_output_hw((h, w), kk, ss, (0, 0, 0, 0))
        out = self._out("AveragePool", (c, oh, ow))
        return self._add_layer(ir.SumPool(f"sumpool{len(self.layers)}", [src], out, kk, ss))

    def identity(self, src=None):
        """A 1x1 conv with identity weights and no bias: the same values, written PE-wide once folded."""
        src = src or self.cur
        shape = self.shape(src)
        c = shape[0]
        ints = np.eye(c, dtype=np.int64)
        if len(shape) == 1:
            wts = ir.Weights("po2", 2, ints.astype(np.uint8), ints, 0)  # code 1 = +2^0
            out = self._out("Gemm", shape)
            return self._add_layer(ir.Dense(f"ident{len(self.layers)}", [src], out, wts, np.zeros(c, dtype=np.int64)))
        ints = ints.reshape(c, c, 1, 1)
        wts = ir.Weights("po2", 2, ints.astype(np.uint8), ints, 0)
        out = self._out("Conv", shape)
        return self._add_layer(ir.Conv(f"ident{len(self.layers)}", [src], out, wts, np.zeros(c, dtype=np.int64)))

    def flatten(self, src=None):
        src = src or self.cur
        out = self._out("Flatten", (int(np.prod(self.shape(src))),))
        return self._add_layer(ir.Flatten(f"flatten{len(self.layers)}", [src], out))

    def add(self, a, b, shifts=(0, 0)):
        return self._add_layer(ir.Add(f"add{len(self.layers)}", [a, b], self._out("Add", self.shape(a)), shifts))

    # ---------------------------------------------------------------- result

    def graph(self, output: str | None = None) -> ir.Graph:
        g = ir.Graph(self.name, ["input"], [output or self.cur], dict(self.tensors), list(self.layers))
        return with_ranges(g)

    def ranged(self, name: str) -> ir.Tensor:
        """The tensor `name` with its range, from the range pass over the layers so far."""
        return with_ranges(ir.Graph(self.name, ["input"], [name], dict(self.tensors), list(self.layers))).tensors[name]


# ------------------------------------------------------------ test graphs


def cnn_mixed():
    """Padded/strided/grouped convs, both-direction thresholds, padded max pool, ReLU, flatten -> dense."""
    m = GraphMaker(1, (3, 9, 8), 0, 15, "cnn_mixed")
    m.conv(4, 3, pads=(1, 1, 1, 1), bits=3)
    m.threshold(levels=3)
    m.maxpool(3, 2, pads=(1, 1, 1, 1))
    m.conv(6, 3, stride=(2, 1), pads=(1, 0, 0, 1), groups=2, bits=2)
    m.clamp(0, None)
    m.flatten()
    m.dense(10, bits=4)
    return m.graph()


def residual():
    """Residual add with shifts and a cloned tensor, dilation, depthwise int8 conv, sum pool,
    a per-feature threshold on a flattened map, int8 dense."""
    m = GraphMaker(2, (4, 8, 8), -8, 7, "residual")
    m.conv(4, 3, pads=(1, 1, 1, 1), bits=3)
    a = m.threshold(levels=7, out_lo=-3, step=2)
    m.conv(4, 3, pads=(2, 2, 2, 2), dil=2, bits=4, src=a)
    b = m.clamp(-5, 20)
    m.add(a, b, shifts=(1, 0))
    m.conv(4, 3, stride=2, pads=(0, 0, 1, 1), groups=4, kind="int", bits=8)
    m.sumpool((2, 2), 2)
    m.flatten()
    m.threshold(levels=2)
    m.dense(5, kind="int", bits=8)
    return m.graph()


def mlp_binary():
    """Binary (±1) weights with ±1 activations from a per-tensor threshold, a two-sided clamp, int16 dense."""
    m = GraphMaker(3, (20,), -128, 127, "mlp_binary")
    m.dense(16, bits=1)
    m.threshold(levels=1, out_lo=-1, step=2, per_tensor=True)
    m.dense(12, bits=1)
    m.clamp(-10, 10)
    m.dense(6, kind="int", bits=16)
    return m.graph()


def fanout():
    """The input read by two layers, Add(y, y), a bottom/right-padded max pool, a flattened graph output."""
    m = GraphMaker(4, (2, 6, 6), 0, 3, "fanout")
    a = m.conv(3, 1, bits=2)
    b = m.conv(3, 3, pads=(1, 1, 1, 1), bits=2, src="input")
    y = m.add(a, b)
    m.add(y, y, shifts=(0, 1))
    m.maxpool(2, 2, pads=(0, 0, 1, 1))
    m.flatten()
    return m.graph()


def boundaries():
    """Small ranges where boundary semantics show: threshold ties (x == t, both directions), the
    max-pool pad value (an all-min image), a two-sided clamp hit exactly at both bounds."""
    m = GraphMaker(8, (2, 5, 5), 0, 3, "boundaries")
    a = m.threshold(levels=5, direction=[1, -1])
    b = m.maxpool(3, 1, pads=(1, 1, 1, 1), src="input")
    m.add(a, b)
    m.clamp(4, 6)
    return m.graph()


def random_graph(seed: int):
    """A random small CNN or MLP over every layer kind, with a random po2 width n in 1..6."""
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(1, 7))
    signed = bool(rng.integers(0, 2))
    bits = int(rng.integers(2, 9))
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    if seed % 2:
        m = GraphMaker(seed, (int(rng.integers(4, 30)),), lo, hi, f"mlp{seed}")
        for _ in range(int(rng.integers(1, 4))):
            m.dense(int(rng.integers(2, 20)), bits=n)
            m.threshold(levels=int(rng.integers(1, 8)), out_lo=int(rng.integers(-2, 1)))
        m.dense(int(rng.integers(2, 11)), bits=n)
        return m.graph()
    c, h = int(rng.integers(1, 4)), int(rng.integers(5, 10))
    m = GraphMaker(seed, (c, h, h + int(rng.integers(-1, 2))), lo, hi, f"cnn{seed}")
    for _ in range(int(rng.integers(1, 3))):
        c_in = m.shape()[0]
        groups = int(rng.choice([g for g in (1, 2, 3) if c_in % g == 0]))
        oc = groups * int(rng.integers(1, 4))
        k = int(rng.choice([1, 2, 3]))
        pad = int(rng.integers(0, k))
        m.conv(oc, k, stride=int(rng.integers(1, 3)), pads=(pad, pad, int(rng.integers(0, k)), pad), groups=groups,
               bits=n)  # fmt: skip
        m.threshold(levels=int(rng.integers(1, 6))) if rng.integers(0, 2) else m.clamp(0, None)
        if min(m.shape()[1:]) >= 2 and rng.integers(0, 2):
            m.maxpool(2, 2) if rng.integers(0, 2) else m.sumpool(2, 2)
    m.flatten()
    m.dense(int(rng.integers(2, 8)), bits=n)
    return m.graph()


def set_folding(graph: ir.Graph, layer_name: str, pe: int, simd: int, complex_: bool | None = None) -> ir.Graph:
    """Override the folding pass's choice for one layer (tests pick random legal foldings)."""
    for layer in graph.layers:
        if layer.name == layer_name:
            if complex_ is None:
                complex_ = layer.folding.complex if layer.folding is not None else False
            layer.folding = fold_for(graph, layer, pe, simd, complex_)
            return graph
    raise KeyError(layer_name)


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def with_ranges(graph: ir.Graph) -> ir.Graph:
    """The real passes (ranges, thresholds, layout) when they exist, else a local interval pass."""
    try:
        from nbq.passes import run_passes
    except ImportError:  # pragma: no cover - only before the passes land
        return _local_ranges(graph)
    return run_passes(graph)


def _local_ranges(graph: ir.Graph) -> ir.Graph:
    g = graph.copy()
    for layer in g.layers:
        x = g.tensors[layer.inputs[0]]
        out = g.tensors[layer.output]
        if isinstance(layer, ir.Conv | ir.Dense):
            lo, hi = (min(x.lo, 0), max(x.hi, 0)) if isinstance(layer, ir.Conv) and any(layer.pads) else (x.lo, x.hi)
            rows = layer.weights.ints.reshape(layer.weights.ints.shape[0], -1)
            pos, neg = np.where(rows > 0, rows, 0).sum(1), np.where(rows < 0, rows, 0).sum(1)
            out.lo = int((pos * lo + neg * hi + layer.bias).min())
            out.hi = int((pos * hi + neg * lo + layer.bias).max())
        elif isinstance(layer, ir.Threshold):
            out.lo, out.hi = layer.out_lo, layer.out_lo + layer.step * layer.thresholds.shape[1]
        elif isinstance(layer, ir.Clamp):
            lo = x.lo if layer.lo is None else max(x.lo, layer.lo)
            hi = x.hi if layer.lo is None else max(x.hi, layer.lo)
            out.lo, out.hi = (lo, hi) if layer.hi is None else (min(lo, layer.hi), min(hi, layer.hi))
        elif isinstance(layer, ir.SumPool):
            k = layer.kernel[0] * layer.kernel[1]
            out.lo, out.hi = k * x.lo, k * x.hi
        elif isinstance(layer, ir.Add):
            b = g.tensors[layer.inputs[1]]
            sa, sb = layer.shifts
            out.lo, out.hi = (x.lo << sa) + (b.lo << sb), (x.hi << sa) + (b.hi << sb)
        else:
            out.lo, out.hi = x.lo, x.hi
    return g


def sample_inputs(graph: ir.Graph, n_random: int = 3, seed: int = 0) -> np.ndarray:
    """Random images plus adversarial ones: all-min, all-max, alternating, random extremes."""
    t = graph.tensors[graph.inputs[0]]
    rng = np.random.default_rng(seed)
    shape = (1,) + tuple(t.shape)
    alt = np.arange(t.size).reshape(shape) % 2
    batches = [
        rng.integers(t.lo, t.hi, size=(n_random,) + tuple(t.shape), endpoint=True),
        np.full(shape, t.lo),
        np.full(shape, t.hi),
        np.where(alt == 0, t.hi, t.lo),
        np.where(alt == 0, t.lo, t.hi),
        np.where(rng.integers(0, 2, size=shape) == 1, t.hi, t.lo),
    ]
    return np.concatenate(batches).astype(np.int64)


def golden(graph: ir.Graph, n_random: int = 3, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    x = sample_inputs(graph, n_random, seed)
    return x, reference.run_int(graph, x)


def write_and_csim(graph: ir.Graph, board_name: str, out_dir: Path, n_random: int = 3, **csim_kwargs):
    """Write the project with golden data from the reference, run C-simulation, return the result."""
    from nbq.backends.hls import write_hls_project
    from nbq.board_catalog import load_board
    from nbq.sim.csim import run_csim

    x, y = golden(graph, n_random)
    write_hls_project(plan_graph(graph, load_board(board_name)), out_dir, x, y)
    return run_csim(out_dir, **csim_kwargs)


def write_ir_folding(graph: ir.Graph, path: Path) -> Path:
    """A folding file (`nbq compile --folding`) holding the graph's own folding: the tests fold by rule, not
    by the board's budget, so their layers keep PE, SIMD, NF and SF > 1 where the case needs it."""
    import json

    entries = {la.name: {"PE": la.folding.pe, "SIMD": la.folding.simd} for la in graph.layers
               if isinstance(la, ir.Conv | ir.Dense) and la.folding is not None}
    path.write_text(json.dumps(entries))
    return path
