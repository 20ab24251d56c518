"""Folding pass: choose (PE, SIMD) for every Conv/Dense layer so the streaming layers are balanced.

A layer folded to PE output channels x SIMD inputs per cycle needs

    cycles = pixels * (OC / PE) * (K / SIMD),   K = KH * KW * IC / groups (Dense: K = inputs, pixels = 1)

per image, with PE dividing OC / groups and SIMD dividing K.  Since cycles =
work / (PE * SIMD), a layer's speed depends only on its lane count PE * SIMD.
In a dataflow pipeline every layer waits for the slowest, so lanes beyond what
the slowest layer needs are wasted.

The rule:
1. floor = the most beats any stage must move per image at one beat per
   cycle (padded input of each sliding window, pixels of each map): no
   folding can beat it.
2. With target_cycles given, T = max(target_cycles, floor).  Otherwise T0 is
   the smallest achievable cycle count >= floor whose layers fit in max_lanes
   lanes in total, and T is the smallest achievable count in [T0, 2 * T0] at
   which every balanced layer (the Conv layers; the Dense layers if there is
   no Conv) runs at least min_utilization of the pipeline's initiation
   interval - else the count in that range with the best worst-case
   utilization.  (Coarse layers, e.g. a conv with few output pixels, only
   offer a few speeds; a slightly slower pipeline can be far better balanced.)
3. Each layer takes the fewest lanes with cycles <= T; among equal lane
   counts the smallest PE (fewer output beats, narrower threshold units).

Binary convolutions whose weights have the complex block form
[[A, -B], [B, A]] over binary inputs are marked complex: their PE counts
complex output channels (two real ones each) and SIMD complex inputs, and
one complex lane does four binary products (A and B stored once).  A complex
fold's real and imaginary parts leave as two words, so such a layer takes
pixels * max(NF * SF, 2 * NF) cycles: SF = 1 foldings are no faster than SF = 2.

The result goes on each layer as `layer.folding`, an `ir.Fold` record (PE, SIMD, NF, SF,
pixels, cycles, complex) that the hardware plan (nbq.plan) reads; and on graph.meta["folding"]:
target_cycles, floor_cycles, ii_cycles (the slowest layer or the floor), lanes.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from nbq import ir

DEFAULT_MAX_LANES = 1024
DEFAULT_MIN_UTILIZATION = 0.85


@dataclass(frozen=True)
class _Work:
    layer: ir.Conv | ir.Dense
    pixels: int
    oc: int  # output channels folded by PE (complex: complex channels)
    oc_group: int  # PE must divide this
    k: int  # SIMD must divide this
    complex_: bool

    @property
    def work(self) -> int:
        return self.pixels * self.oc * self.k

    @cached_property
    def options(self) -> list[tuple[int, int, int]]:
        """(lanes, pe, simd) for every legal folding, fewest lanes first, then smallest PE."""
        pes = [d for d in range(1, self.oc_group + 1) if self.oc_group % d == 0]
        simds = [d for d in range(1, self.k + 1) if self.k % d == 0]
        return sorted((pe * simd, pe, simd) for pe in pes for simd in simds)

    @cached_property
    def _neg_cycles(self) -> list[int]:
        return [-self.cycles(pe, simd) for _, pe, simd in self.options]  # real: more lanes, fewer cycles

    def cycles(self, pe: int, simd: int) -> int:
        """Cycles per image.  A complex fold emits its PE real and PE imaginary parts as two words, so
        a pixel takes at least 2 * NF cycles even when SF = 1."""
        if self.complex_:
            nf, sf = self.oc // pe, self.k // simd
            return self.pixels * max(nf * sf, 2 * nf)
        return self.work // (pe * simd)

    def best(self, target: int) -> tuple[int, int, int]:
        """(lanes, pe, simd) with the fewest lanes meeting `target` cycles (the fastest option otherwise)."""
        if self.complex_:  # cycles are not monotone in the lane count: scan
            fits = [o for o in self.options if self.cycles(o[1], o[2]) <= target]
            return fits[0] if fits else min(self.options, key=lambda o: (self.cycles(o[1], o[2]), o))
        i = bisect_left(self._neg_cycles, -target)
        return self.options[min(i, len(self.options) - 1)]

    def best_cycles(self, target: int) -> int:
        _, pe, simd = self.best(target)
        return self.cycles(pe, simd)


def is_complex_conv(layer: ir.Conv, x: ir.Tensor) -> bool:
    """Binary conv over binary inputs whose weights are [[A, -B], [B, A]] (real form of a complex conv)."""
    w = layer.weights
    if w.kind != "po2" or w.bits != 1 or layer.groups != 1 or x.lo is None or x.lo < -1 or x.hi > 1:
        return False
    ints = np.asarray(w.ints)
    oc, ic = ints.shape[:2]
    if oc % 2 or ic % 2:
        return False
    o, i = oc // 2, ic // 2
    return bool(np.array_equal(ints[:o, :i], ints[o:, i:]) and np.array_equal(ints[:o, i:], -ints[o:, :i]))


def _work(graph: ir.Graph, layer: ir.Conv | ir.Dense, detect_complex: bool) -> _Work:
    if isinstance(layer, ir.Dense):
        out, k = layer.weights.ints.shape
        return _Work(layer, 1, out, out, k, False)
    oc, icg, kh, kw = layer.weights.ints.shape
    pixels = int(np.prod(graph.tensors[layer.output].shape[1:]))
    if detect_complex and is_complex_conv(layer, graph.tensors[layer.inputs[0]]):
        return _Work(layer, pixels, oc // 2, oc // 2, kh * kw * icg // 2, True)
    return _Work(layer, pixels, oc, oc // layer.groups, kh * kw * icg, False)


def _fold(w: _Work, pe: int, simd: int) -> ir.Fold:
    return ir.Fold(pe=pe, simd=simd, nf=w.oc // pe, sf=w.k // simd, pixels=w.pixels, cycles=w.cycles(pe, simd),
                   complex=w.complex_)


def fold_for(graph: ir.Graph, layer: ir.Conv | ir.Dense, pe: int, simd: int, complex_: bool | None = None) -> ir.Fold:
    """The Fold record of `layer` at (pe, simd) - e.g. a folding a user or a test chooses by hand.

    complex_: None = detect the block form (as the pass does), False = fold as a real convolution.
    """
    w = _work(graph, layer, complex_ is not False)
    if complex_ and not w.complex_:
        raise ValueError(f"layer '{layer.name}' is not a complex convolution")
    if pe < 1 or simd < 1 or w.oc_group % pe or w.k % simd:
        raise ValueError(f"layer '{layer.name}': PE={pe}, SIMD={simd} do not divide {w.oc_group} and {w.k}")
    return _fold(w, pe, simd)


def floor_cycles(graph: ir.Graph) -> int:
    """Most beats any streaming stage moves per image (one pixel or vector per beat, one beat per cycle)."""
    def beats(name: str) -> int:
        shape = graph.tensors[name].shape
        return int(np.prod(shape[1:])) if len(shape) == 3 else 1

    most = max((beats(n) for n in graph.inputs), default=1)
    for layer in graph.layers:
        x = graph.tensors[layer.inputs[0]]
        if isinstance(layer, ir.Conv | ir.MaxPool | ir.SumPool) and len(x.shape) == 3:
            pads = getattr(layer, "pads", (0, 0, 0, 0))
            most = max(most, (x.shape[1] + pads[0] + pads[2]) * (x.shape[2] + pads[1] + pads[3]))
        for name in layer.inputs:
            most = max(most, beats(name))
    return most


def _candidates(works: list[_Work], floor: int) -> list[int]:
    return sorted({floor} | {c for w in works for _, pe, simd in w.options if (c := w.cycles(pe, simd)) >= floor})


def candidate_cycles(graph: ir.Graph, detect_complex: bool = True) -> list[int]:
    """Every cycles-per-image target that some legal folding reaches exactly (ascending, from the floor)."""
    works = [_work(graph, layer, detect_complex) for layer in graph.layers if isinstance(layer, ir.Conv | ir.Dense)]
    return _candidates(works, floor_cycles(graph))


def choose_folding(
    graph: ir.Graph,
    target_cycles: int | None = None,
    max_lanes: int = DEFAULT_MAX_LANES,
    min_utilization: float = DEFAULT_MIN_UTILIZATION,
    detect_complex: bool = True,
) -> ir.Graph:
    """Return a copy of `graph` with `folding` set on every Conv/Dense (rule in the module docstring)."""
    g = graph.copy()
    works = [_work(g, layer, detect_complex) for layer in g.layers if isinstance(layer, ir.Conv | ir.Dense)]
    floor = floor_cycles(g)
    if not works:
        g.meta["folding"] = {"target_cycles": floor, "floor_cycles": floor, "ii_cycles": floor, "lanes": 0}
        return g
    balanced = [w for w in works if isinstance(w.layer, ir.Conv)] or works

    def ii(target: int) -> int:
        return max([floor] + [w.best_cycles(target) for w in works])

    def worst_util(target: int) -> float:
        period = ii(target)
        return min(w.work / (w.best(target)[0] * period) for w in balanced)

    candidates = _candidates(works, floor)
    if target_cycles is not None:
        target = max(int(target_cycles), floor)
    else:
        fits = [t for t in candidates if sum(w.best(t)[0] for w in works) <= max_lanes]
        t0 = fits[0] if fits else candidates[-1]
        window = [t for t in candidates if t0 <= t <= 2 * t0]
        good = [t for t in window if worst_util(t) >= min_utilization]
        target = good[0] if good else max(window, key=lambda t: (worst_util(t), -t))
    total = 0
    for w in works:
        lanes, pe, simd = w.best(target)
        total += lanes
        w.layer.folding = _fold(w, pe, simd)
    g.meta["folding"] = {"target_cycles": target, "floor_cycles": floor, "ii_cycles": ii(target), "lanes": total}
    return g
