"""Memory guard: estimate what a compile will allocate from the IR's shapes, and refuse before allocating.

A 20 KB model can ask for 67 M threshold entries, a 16384² input for gigabytes of golden vectors; numpy
would try, and the machine would swap or the process die.  `check_graph` runs right after the import
(shapes known, nothing big allocated yet) and compares the estimate with the limit from `--max-memory`
(default: `DEFAULT_FRACTION` of physical RAM, and of the address-space limit if one is set).

The per-item byte factors are rough upper bounds of the working sets of the code that handles the
item (int64 arrays, their temporaries, and the text the generators write), not exact counts.
"""

from __future__ import annotations

import math
import os
import re
import resource
from dataclasses import dataclass

import numpy as np

from nbq import ir
from nbq.errors import NbqError

DEFAULT_FRACTION = 0.5  # of MemTotal and of RLIMIT_AS: leave room for Python, numpy and the OS
FALLBACK_LIMIT = 4 << 30  # when the platform tells neither

# bytes per item, including temporaries (see the module docstring).  Calibrated on whole compiles (peak RSS):
# 4 M and 17 M uint16 threshold entries ~70 B each; 4 M binary Dense weights ~180 B each, ResNet-18
# (11.7 M po2 weights) 1.7 GB; a 1024x1024 input 1.5 GB.  The estimate comes out 1.0-1.4x of those.
THRESHOLD_BISECTION_BYTES = 64  # left/right/mid/probe/ok/new bounds + the float64 quantizer, per entry
THRESHOLD_KEPT_BYTES = 32  # the table (int64) in graph copies + its header / memory-file text
WEIGHT_BYTES = 192  # float64 + ints + codes at import, ranges, packed words and ROM / header text
ELEMENT_BYTES = 8  # int64 reference values
GOLDEN_TEXT_BYTES = 12  # one golden value written as text
LOAD_FACTOR = 3  # reading a model: the file bytes, the parsed protobuf, the numpy arrays

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


@dataclass(frozen=True)
class Need:
    """One item of the estimate: its bytes and what it is, in words for the error message."""

    bytes: int
    what: str


@dataclass(frozen=True)
class MemoryEstimate:
    kept: list[Need]  # alive until the project is written
    peaks: list[Need]  # transient; only the largest counts

    @property
    def total(self) -> int:
        return sum(n.bytes for n in self.kept) + max((n.bytes for n in self.peaks), default=0)

    @property
    def largest(self) -> Need | None:
        return max(self.kept + self.peaks, key=lambda n: n.bytes, default=None)


def format_bytes(n: float) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{int(n)} B"


def parse_memory(text: str) -> int:
    """'8G', '512M', '1.5GiB', '100MB' or a byte count -> bytes (binary units)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?", (text or "").strip(), re.IGNORECASE)
    if m is None:
        raise NbqError(f"--max-memory: '{text}' is not a size; write e.g. 8G, 512M or 1.5GiB")
    value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if not math.isfinite(value):
        raise NbqError(f"--max-memory: '{text}' is not a size; write e.g. 8G, 512M or 1.5GiB")
    if value < 1 << 20:
        raise NbqError(f"--max-memory: '{text}' is below 1 MiB; give a size such as 512M or 8G")
    return int(value)


def _mem_total() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def default_limit() -> int:
    """DEFAULT_FRACTION of physical RAM, and of the address-space limit (ulimit -v) when one is set."""
    candidates = []
    total = _mem_total()
    if total:
        candidates.append(int(total * DEFAULT_FRACTION))
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY and soft > 0:
        candidates.append(int(soft * DEFAULT_FRACTION))
    return min(candidates) if candidates else FALLBACK_LIMIT


def resolve_limit(limit: int | None) -> int:
    return default_limit() if limit is None else int(limit)


def refuse(source: str, needs: int, what: str, limit: int, advice: str) -> NbqError:
    return NbqError(f"{source}: {what} needs about {format_bytes(needs)}; the limit is {format_bytes(limit)} "
                    f"(--max-memory); {advice}, or raise --max-memory")


def check_file_size(source: str, what: str, size: int, limit: int | None) -> None:
    """Refuse a file (or external-data blob) whose loading alone would pass the limit, before reading it."""
    limit = resolve_limit(limit)
    if size * LOAD_FACTOR > limit:
        raise refuse(source, size * LOAD_FACTOR, f"reading {what} ({size:,} bytes, {format_bytes(size)})", limit,
                     "give a smaller model")


# ---------------------------------------------------------------- estimate


def _levels(layer: ir.AffineQuant) -> int:
    return 1 if layer.sign else max(layer.qmax - layer.qmin, 0)


def _producer_names(graph: ir.Graph) -> dict[str, str]:
    return {layer.output: layer.name for layer in graph.layers}


def _reference_workspace(layer: ir.Layer, graph: ir.Graph) -> int:
    """Elements the reference executor holds for one image while running `layer` (inputs, output, columns)."""
    ins = sum(graph.tensors[name].size for name in layer.inputs)
    out = graph.tensors[layer.output].size
    if isinstance(layer, ir.Conv):
        oc, icg, kh, kw = layer.weights.ints.shape
        _, oh, ow = graph.tensors[layer.output].shape
        return ins + 2 * out + 2 * oh * ow * icg * kh * kw * layer.groups  # im2col columns + their float copy
    if isinstance(layer, ir.MaxPool | ir.SumPool):
        return ins + out * (1 + layer.kernel[0] * layer.kernel[1])
    return ins + 2 * out


def default_images(graph: ir.Graph) -> int:
    from nbq.golden import default_random_images

    return default_random_images(graph) + 3  # + all-max, all-min, checkerboard


def estimate(graph: ir.Graph, images: int) -> MemoryEstimate:
    """Bytes the compile of `graph` will need (an unoptimised IR from the importer is enough)."""
    kept: list[Need] = []
    peaks: list[Need] = []
    producers = _producer_names(graph)
    for layer in graph.layers:
        if isinstance(layer, ir.AffineQuant):
            channels = int(np.prod(graph.tensors[layer.inputs[0]].shape[:1] or (1,)))
            entries = channels * _levels(layer)
            after = producers.get(layer.inputs[0])
            where = f"layer {layer.name}" + (f" after {after}" if after else "")
            what = f"{where}: {entries:,} threshold entries ({channels:,} channels x {_levels(layer):,} levels)"
            kept.append(Need(entries * THRESHOLD_KEPT_BYTES, what))
            peaks.append(Need(entries * THRESHOLD_BISECTION_BYTES, what))
        elif isinstance(layer, ir.Conv | ir.Dense):
            size = int(layer.weights.ints.size)
            kept.append(Need(size * WEIGHT_BYTES, f"layer {layer.name}: {size:,} weights"))
    if images > 0:
        t_in = graph.tensors[graph.inputs[0]]
        outputs = sum(graph.tensors[name].size for name in graph.outputs)
        shape = "x".join(map(str, t_in.shape))
        # the inputs, the checkerboard's index grid, the outputs, and both as text in the project
        golden = images * (t_in.size + outputs) * (ELEMENT_BYTES + GOLDEN_TEXT_BYTES) \
            + len(t_in.shape) * t_in.size * ELEMENT_BYTES
        kept.append(Need(golden, f"golden vectors: {images} images of {shape}"))
        for layer in graph.layers:
            work = images * _reference_workspace(layer, graph) * ELEMENT_BYTES
            peaks.append(Need(work, f"golden vectors: {images} images of {shape} through layer {layer.name}"))
    return MemoryEstimate(kept, peaks)


def check_graph(graph: ir.Graph, limit: int | None, images: int | None) -> MemoryEstimate:
    """Refuse (NbqError) when compiling `graph` with `images` golden images (None: the default adversarial
    set) would pass the memory limit (None: `default_limit()`)."""
    limit = resolve_limit(limit)
    est = estimate(graph, default_images(graph) if images is None else images)
    if est.total > limit:
        big = est.largest
        raise NbqError(f"{graph.source}: compiling needs about {format_bytes(est.total)} ({big.what}); the limit is "
                       f"{format_bytes(limit)} (--max-memory); reduce the activation bits, channels or input size, "
                       "or raise --max-memory")
    return est
