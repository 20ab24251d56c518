"""`nbq run` in numbers: per-image agreement of the reference with ONNX Runtime, the worst images, top-1."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from nbq.compare import Comparison

WORST_SHOWN = 5


@dataclass(frozen=True)
class ImageResult:
    index: int
    steps: float  # largest |reference * scale - ORT| / scale over this image's output values
    reference_class: int  # argmax of the first output's reference integers
    ort_class: int  # argmax of ONNX Runtime's floats for the same output


@dataclass(frozen=True)
class RunSummary:
    images: int
    output: str  # the output whose argmax is compared (the first)
    max_steps: float
    agree: int  # images where both pick the same class
    ties: int  # of the others: ORT's class has the reference's top score too (a tie the reference breaks first)
    worst: list[ImageResult]  # the WORST_SHOWN largest deviations, largest first
    reference_top1: float | None = None  # fractions in 0..1, with labels
    ort_top1: float | None = None

    @property
    def agreement(self) -> float:
        return self.agree / self.images if self.images else 1.0

    def as_dict(self) -> dict:
        data = asdict(self)
        data["agreement"] = self.agreement
        return data


def _per_image_steps(ref: np.ndarray, ort: np.ndarray, scale: float) -> np.ndarray:
    n = ref.shape[0]
    diff = np.abs(ref.astype(np.float64) * scale - np.asarray(ort, np.float64).reshape(ref.shape)) / scale
    return diff.reshape(n, -1).max(axis=1)


def _classes(values: np.ndarray) -> np.ndarray:
    flat = values.reshape(values.shape[0], -1)
    return flat.argmax(axis=1) if flat.shape[1] > 1 else np.zeros(flat.shape[0], np.int64)


def per_image(report: Comparison) -> list[ImageResult]:
    """Every image's deviation (over all outputs) and both classes of the first output."""
    names = list(report.outputs_int)
    steps = None
    for name, ort in zip(names, report.outputs_ort.values(), strict=True):
        s = _per_image_steps(report.outputs_int[name], ort, report.scales[name])
        steps = s if steps is None else np.maximum(steps, s)
    first = names[0]
    ref_cls = _classes(report.outputs_int[first])
    ort_cls = _classes(np.asarray(next(iter(report.outputs_ort.values()))).reshape(report.outputs_int[first].shape))
    return [ImageResult(i, float(steps[i]), int(ref_cls[i]), int(ort_cls[i])) for i in range(len(ref_cls))]


def summarize(report: Comparison, labels: np.ndarray | None = None) -> RunSummary:
    results = per_image(report)
    first = next(iter(report.outputs_int))
    ref = report.outputs_int[first].reshape(len(results), -1)
    agree = sum(r.reference_class == r.ort_class for r in results)
    ties = sum(r.reference_class != r.ort_class and ref[r.index, r.ort_class] == ref[r.index, r.reference_class]
               for r in results)
    worst = sorted(results, key=lambda r: (-r.steps, r.index))[:WORST_SHOWN]
    top1 = {}
    if labels is not None:
        top1 = {"reference_top1": float(np.mean([r.reference_class == y for r, y in zip(results, labels,
                                                                                       strict=True)])),
                "ort_top1": float(np.mean([r.ort_class == y for r, y in zip(results, labels, strict=True)]))}
    return RunSummary(len(results), first, report.max_steps, agree, ties, worst, **top1)
