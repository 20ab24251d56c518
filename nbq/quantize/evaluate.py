"""Top-1 accuracy of the float and the quantized model in ONNX Runtime, and how often they agree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from nbq.errors import NbqError
from nbq.inputs import load_images
from nbq.quantize.calibrate import run_model


@dataclass(frozen=True)
class Accuracy:
    images: int
    float_top1: float  # fractions in 0..1
    quant_top1: float
    agreement: float  # images where both models pick the same class


def load_labels(path: str | Path, images: int) -> np.ndarray:
    """A .npy of `images` non-negative integer class labels, shape (N,) or (N, 1) -> int64 (N,)."""
    y = load_images(path)  # the header, dtype, size and finiteness checks of any nbq .npy input
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != images:
        raise NbqError(f"{path}: holds labels of shape {y.shape}, expected ({images},): one class index per image")
    if np.any(y != np.rint(y)) or np.any(y < 0):
        raise NbqError(f"{path}: labels must be non-negative integers (class indices)")
    return y.astype(np.int64)


def _top1(output: np.ndarray) -> np.ndarray:
    if output.dtype.kind in "iu":  # the model ends in ArgMax: the classes themselves
        return output.reshape(output.shape[0], -1)[:, 0]
    return output.reshape(output.shape[0], -1).argmax(axis=1)


def accuracy(float_model: onnx.ModelProto, quant_model: onnx.ModelProto, source: str, input_name: str,
             x: np.ndarray, y: np.ndarray) -> Accuracy:
    pf = _top1(run_model(float_model, source, x, input_name)[0])
    pq = _top1(run_model(quant_model, source, x, input_name)[0])
    return Accuracy(len(y), float(np.mean(pf == y)), float(np.mean(pq == y)), float(np.mean(pf == pq)))
