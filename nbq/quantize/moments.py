"""Second moments of every weight layer's input, E[x xᵀ] and E[x] over its input vectors (Conv: the
im2col patches, one per output position; Gemm/MatMul: the feature rows), for data-aware rounding."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper

MAX_FAN_IN = 2048  # above this an (fan-in)² matrix per group is too big: plain rounding, mean correction only


@dataclass
class Moments:
    """Sums over `count` input vectors, per group of a grouped Conv (one group otherwise)."""

    count: int
    sum_x: np.ndarray  # (groups, K)
    sum_xx: np.ndarray | None  # (groups, K, K), None above MAX_FAN_IN

    def mean(self) -> np.ndarray:
        return self.sum_x / max(self.count, 1)

    def second(self) -> np.ndarray | None:
        return None if self.sum_xx is None else self.sum_xx / max(self.count, 1)


@dataclass(frozen=True)
class Window:
    """How a layer turns its input into vectors: a Conv's window, or None for Gemm/MatMul rows."""

    kernel: tuple[int, int]
    strides: tuple[int, int]
    pads: tuple[int, int, int, int]
    dilations: tuple[int, int]
    groups: int


def conv_window(node: onnx.NodeProto, weight_shape: tuple[int, ...]) -> Window:
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    pads = tuple(attrs.get("pads", (0, 0, 0, 0)))
    auto = attrs.get("auto_pad", b"NOTSET")
    if (auto.decode() if isinstance(auto, bytes) else auto) not in ("NOTSET", "VALID", ""):
        pads = None  # SAME_*: computed per input size below
    return Window(tuple(weight_shape[2:]), tuple(attrs.get("strides", (1, 1))), pads,
                  tuple(attrs.get("dilations", (1, 1))), int(attrs.get("group", 1)))


def _same_pads(hw: tuple[int, int], w: Window) -> tuple[int, int, int, int]:
    begin, end = [], []
    for i in range(2):
        out = -(-hw[i] // w.strides[i])
        total = max(0, (out - 1) * w.strides[i] + w.dilations[i] * (w.kernel[i] - 1) + 1 - hw[i])
        begin.append(total // 2)
        end.append(total - total // 2)
    return (begin[0], begin[1], end[0], end[1])


def vectors(x: np.ndarray, window: Window | None) -> np.ndarray:
    """(groups, vectors, K): im2col patches in (channel, kh, kw) order, the weight's own order."""
    x = np.asarray(x, np.float64)
    if window is None:
        return x.reshape(1, x.shape[0], -1)
    n, c, h, wd = x.shape
    pads = window.pads if window.pads is not None else _same_pads((h, wd), window)
    pt, pl, pb, pr = pads
    kh, kw = window.kernel
    (sh, sw), (dh, dw) = window.strides, window.dilations
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
    cols = np.empty((n, oh, ow, c, kh, kw))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i * dh: i * dh + sh * (oh - 1) + 1: sh, j * dw: j * dw + sw * (ow - 1) + 1: sw]
            cols[..., i, j] = patch.transpose(0, 2, 3, 1)
    g = window.groups
    cols = cols.reshape(n * oh * ow, g, c // g * kh * kw)
    return cols.transpose(1, 0, 2)


CHUNK_VALUES = 1 << 22  # im2col values per step (32 MiB as float64), so big inputs stay bounded


def accumulate(old: Moments | None, x: np.ndarray, window: Window | None) -> Moments:
    x = np.asarray(x)
    per_image = max(int(np.prod(x.shape[1:])) * (1 if window is None else window.kernel[0] * window.kernel[1]), 1)
    step = max(1, CHUNK_VALUES // per_image)
    for start in range(0, len(x), step):
        old = _add(old, vectors(x[start:start + step], window))
    return old


def _add(old: Moments | None, v: np.ndarray) -> Moments:
    sum_x = v.sum(axis=1)
    sum_xx = v.transpose(0, 2, 1) @ v if v.shape[2] <= MAX_FAN_IN else None
    if old is None:
        return Moments(v.shape[1], sum_x, sum_xx)
    both = None if sum_xx is None or old.sum_xx is None else old.sum_xx + sum_xx
    return Moments(old.count + v.shape[1], old.sum_x + sum_x, both)
