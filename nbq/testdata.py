"""Untrusted test data with labels (`--test-data X.npz` or `.npy` + `--labels Y.npy`), judged like nbq.inputs.

A .npz archive holds `x` (images as the model takes them) and `y` (integer class labels), as `nbq train`
writes beside its ONNX file. Each member's .npy header is judged before its data is read (nbq.inputs'
rules for `x`; `y` must be one integer label per image); pickles are never loaded. Messages name the file
and the field, e.g. `m_test.npz[y]: ...`.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nbq import inputs
from nbq.errors import NbqError

MAX_MEMBERS = 64  # an archive with more entries than that is not a test split


@dataclass(frozen=True)
class TestData:
    """Float images (N, ...) and, when given, their integer labels (N,)."""

    __test__ = False  # not a pytest class

    x: np.ndarray
    y: np.ndarray | None
    source: str  # the file (or "test data" for arrays) that messages name

    @property
    def x_name(self) -> str:
        """How messages about the images name them: `file.npz[x]`, `file.npy` or `test data x`."""
        if self.source == "test data":
            return "test data x"
        return f"{self.source}[x]" if self.y is not None and self.source.lower().endswith(".npz") else self.source

    @property
    def images(self) -> int:
        return int(self.x.shape[0])

    def first(self, n: int | None) -> TestData:
        """The first `n` images (all when n is None)."""
        if n is None:
            return self
        check_count(n)
        return TestData(self.x[:n], None if self.y is None else self.y[:n], self.source)


def check_count(n: int, flag: str = "--images") -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise NbqError(f"{flag} must be a whole number of at least 1, got {n!r}")


def load_test_data(path: str | Path, labels: str | Path | None = None,
                   expected_shape: tuple[int, ...] | None = None) -> TestData:
    """A .npz with x and y, or a .npy of images (+ `labels`, a .npy) -> TestData; NbqError naming file/field."""
    p = Path(path)
    if str(path) == "":
        raise NbqError("'': empty file name; pass a .npz with arrays x and y (numpy.savez) or a .npy of images")
    if p.suffix.lower() == ".npz" or _is_zip(p):
        if labels is not None:
            raise NbqError(f"{p}: a .npz holds its labels as y; drop --labels (it is for a .npy of images)")
        x, y = _load_npz(p, expected_shape)
    else:
        x = inputs.load_images(p, expected_shape)
        y = _load_labels_npy(Path(labels)) if labels is not None else None
    if y is not None:
        y = _check_labels(f"{labels}" if labels is not None else f"{p}[y]", y, x.shape[0])
    return TestData(x, y, str(p))


def from_arrays(x, y=None, expected_shape: tuple[int, ...] | None = None) -> TestData:
    """In-memory images and labels judged like a file ("test data x" / "test data y" in messages)."""
    x = np.asarray(x)
    shape = expected_shape if expected_shape is not None else tuple(x.shape[1:])
    xs = inputs.check_images(x, shape, "test data x")
    ys = None
    if y is not None:
        ys = np.asarray(y)
        inputs._check_dtype("test data y", ys.dtype)
        ys = _check_labels("test data y", ys, xs.shape[0])
    return TestData(xs, ys, "test data")


def check_classes(data: TestData, classes: int) -> None:
    """Labels must name one of the model's `classes` outputs."""
    if data.y is None:
        return
    bad = np.flatnonzero((data.y < 0) | (data.y >= classes))
    if bad.size:
        i = int(bad[0])
        raise NbqError(f"{data.source}: label {int(data.y[i])} at index {i} is not a class of the model "
                       f"(0..{classes - 1}); pass labels of this model's classes")


def _is_zip(path: Path) -> bool:
    try:
        with open(path, "rb") as fp:
            return fp.read(4) == b"PK\x03\x04"
    except OSError:
        return False  # nbq.inputs reports the file as it is


def _load_npz(path: Path, expected_shape: tuple[int, ...] | None) -> tuple[np.ndarray, np.ndarray]:
    inputs._open(path).close()  # the same one-line refusals for a folder, a missing or unreadable file
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise NbqError(f"{path}: not a readable .npz archive; save it with numpy.savez(path, x=images, "
                       "y=labels)") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise NbqError(f"{path}: holds {len(infos)} arrays; a test split holds two (x and y)")
        members = {info.filename.removesuffix(".npy"): info for info in infos}
        for key in ("x", "y"):
            if key not in members:
                have = ", ".join(sorted(members)) or "nothing"
                raise NbqError(f"{path}: no array '{key}' (it holds {have}); save it with numpy.savez(path, "
                               "x=images, y=labels)")
        x = _read_member(archive, members["x"], f"{path}[x]", expected_shape)
        y = _read_member(archive, members["y"], f"{path}[y]", None)
    return x, y


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str,
                 expected_shape: tuple[int, ...] | None) -> np.ndarray:
    try:
        with archive.open(info) as fp:
            header = inputs._parse_header(name, fp, info.file_size)
            if name.endswith("[y]"):
                _judge_labels_header(name, header)
            else:
                shape = inputs._judge(name, header, expected_shape, inputs.LIMIT_BYTES, inputs.MAX_IMAGES)
        with archive.open(info) as fp:
            raw = np.lib.format.read_array(fp, allow_pickle=False)
    except NbqError:
        raise
    except Exception:  # a damaged archive member (CRC, truncation, bad compression)
        raise NbqError(f"{name}: could not be read (damaged archive member); save the file again") from None
    if name.endswith("[y]"):
        return raw
    return inputs._finite_float(name, raw).reshape(shape)


def _judge_labels_header(name: str, header: inputs.NpyHeader) -> None:
    inputs._check_dtype(name, header.dtype)
    if header.values > inputs.MAX_IMAGES * 16 or header.data_offset + header.data_bytes > header.file_size:
        raise NbqError(f"{name}: declares {header.values:,} labels in {header.file_size:,} bytes; "
                       "save one integer label per image")


def _load_labels_npy(path: Path) -> np.ndarray:
    header = inputs.check_file(path, None, inputs.LIMIT_BYTES, inputs.MAX_IMAGES)
    _judge_labels_header(str(path), header)
    with open(path, "rb") as fp:
        return np.lib.format.read_array(fp, allow_pickle=False)


def _check_labels(name: str, y: np.ndarray, images: int) -> np.ndarray:
    """One whole-number label per image -> int64 (N,)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise NbqError(f"{name}: labels of shape {y.shape}; save one integer class label per image, shape (N,)")
    if len(y) != images:
        raise NbqError(f"{name}: {len(y):,} labels for {images:,} images; save one label per image")
    if y.dtype.kind == "f":
        finite = np.isfinite(y)
        if not finite.all() or (y != np.round(y)).any():
            raise NbqError(f"{name}: labels must be whole numbers (class indices), found "
                           f"{y[~finite | (y != np.round(y))][0]}; save integer labels")
    elif y.dtype.kind not in "iub":
        raise NbqError(f"{name}: labels of dtype {y.dtype}; save integer class labels")
    return y.astype(np.int64)
