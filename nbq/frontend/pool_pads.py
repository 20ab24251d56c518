"""Pooling windows at the border: ONNX's ceil_mode output size and AveragePool's divisors.

Pure functions on one spatial axis (or both), shared by the importer's pool handlers.
"""

from __future__ import annotations


def ceil_extra(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int) -> int:
    """Extra end padding that makes the floor-mode window count equal ONNX's ceil_mode count.

    ONNX (and ONNX Runtime): out = ceil((size + pads - kernel) / stride) + 1, minus one when the
    last window would start in the end padding (at or past size + pad_begin).
    """
    total = size + pad_begin + pad_end
    out = -(-(total - kernel) // stride) + 1
    if (out - 1) * stride >= size + pad_begin:
        out -= 1
    return max(0, (out - 1) * stride + kernel - total)


def real_counts(size: int, kernel: int, stride: int, pad_begin: int, out: int) -> list[int]:
    """Input (non-pad) cells in each of the `out` windows of one axis."""
    counts = []
    for i in range(out):
        start = i * stride - pad_begin
        counts.append(max(0, min(start + kernel, size) - max(start, 0)))
    return counts
