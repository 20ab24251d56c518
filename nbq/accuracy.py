"""Top-1 accuracy of the hardware beside the reference's, and the bit-exact verdict, as one record / line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nbq.errors import NbqError

KINDS = {"csim": "C-sim", "cosim": "co-sim"}


@dataclass(frozen=True)
class Accuracy:
    """One verification run over labelled (or unlabelled) golden images."""

    kind: str  # "csim" or "cosim"
    images: int
    mismatches: int  # output integers that differ from the reference's
    passed: bool  # the simulator's verdict (bit-exact and nothing else went wrong)
    reference_top1: float | None  # fraction of images whose reference class is the label; None without labels
    hardware_top1: float | None  # the same for the hardware's outputs; None when they are unknown
    hardware_from: str = "outputs"  # "outputs" (read back) or "bit-exact" (equal to the reference's by the check)

    @property
    def bit_exact(self) -> bool:
        return self.passed and self.mismatches == 0

    def line(self) -> str:
        """e.g. `C-sim: 450 images, bit-exact (0 mismatches); top-1 hardware 97.3 % = reference 97.3 %`."""
        head = f"{KINDS.get(self.kind, self.kind)}: {self.images} images, "
        head += f"bit-exact ({self.mismatches} mismatches)" if self.bit_exact else \
            f"NOT bit-exact ({self.mismatches} mismatching values)"
        if self.reference_top1 is None:
            return head + "; no labels, no accuracy (pass --test-data X.npz with x and y)"
        ref = f"reference {100 * self.reference_top1:.1f} %"
        if self.hardware_top1 is None:
            return f"{head}; top-1 hardware unknown (its outputs are not kept when it mismatches), {ref}"
        sign = "=" if self.hardware_top1 == self.reference_top1 else "vs"
        return f"{head}; top-1 hardware {100 * self.hardware_top1:.1f} % {sign} {ref}"


def output_classes(manifest: dict) -> int:
    """Classes of a classifier project's output (one score each); NbqError when it is not a score vector."""
    shape = [int(d) for d in manifest["output"]["shape"]]
    if sum(d > 1 for d in shape) > 1:
        raise NbqError(f"the model's output has shape {tuple(shape)}; accuracy needs a classifier output "
                       "(one score per class)")
    return int(np.prod(shape))


def top1(scores: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose first largest score is at the label (ties: the first, as argmax)."""
    classes = np.asarray(scores).reshape(len(labels), -1).argmax(axis=1)
    return float(np.mean(classes == labels)) if len(labels) else 0.0


def read_dat(path: Path, images: int) -> np.ndarray:
    """A testbench .dat file (one image per line, stream order) -> (images, values) int64."""
    if not path.is_file():
        raise NbqError(f"{path}: missing; recompile the project with `nbq compile`")
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    data = np.array(rows, dtype=np.int64)
    if data.shape[0] < images:
        raise NbqError(f"{path}: holds {data.shape[0]} images, the run checked {images}; run the simulation again")
    return data[:images]  # a co-simulation of the first N


def measure(kind: str, project: Path, passed: bool, images: int, mismatches: int,
            labels: np.ndarray | None, hardware: np.ndarray | None) -> Accuracy:
    """The record for a run over the project's golden images: reference classes from tb_data/golden.dat,
    the hardware's from `hardware` (its outputs, stream order) or, without them, from the bit-exact check."""
    if labels is None:
        return Accuracy(kind, images, mismatches, passed, None, None)
    if len(labels) != images:
        raise NbqError(f"{len(labels)} labels for the {images} images the {KINDS[kind]} checked")
    golden = read_dat(Path(project) / "tb_data" / "golden.dat", images)
    ref = top1(golden, labels)
    if hardware is not None:
        return Accuracy(kind, images, mismatches, passed, ref, top1(hardware, labels))
    exact = passed and mismatches == 0  # every output integer equal: the same classes
    return Accuracy(kind, images, mismatches, passed, ref, ref if exact else None, "bit-exact")
