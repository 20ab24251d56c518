"""Datasets: scikit-learn digits (offline), MNIST (IDX files) and CIFAR-10 (python batches).

Every loader returns a :class:`Split` of float32 images (N, C, H, W) in [0, 1]
and int64 labels.  Nothing is downloaded: MNIST and CIFAR-10 are read from the
standard files in ``--data-dir``; problems give one-line :class:`NbqError`s.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nbq.errors import NbqError

DIGITS_SPLIT = {"test_size": 0.25, "random_state": 0, "stratify": "y"}
DATASETS = ("digits", "mnist", "cifar10")


@dataclass
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    description: str
    input_bits: int = 8  # pixels are exact multiples of 2^-input_bits (the input quantizer's scale)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def load_digits_split() -> Split:
    """sklearn digits, pixels 0..16 divided by 16, split 75/25 stratified with random_state=0.

    With the default 4-bit input quantizer (scale 2^-4, clipped to 15/16) the
    pixel values 0..15 are exact and 16 saturates to 15.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None]
    y = d.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    return Split(xtr, ytr, xte, yte, 10, "sklearn digits 8x8, /16, train_test_split(0.25, random_state=0, stratify)", 4)


# ------------------------------------------------------------------- MNIST

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (optionally .gz); NbqError if it is malformed or truncated."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as err:
        raise NbqError(f"cannot read IDX file {path}: {err}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES or data[3] == 0:
        raise NbqError(f"{path} is not an IDX file (bad magic number)")
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise NbqError(f"{path} is a truncated IDX file (header cut short)")
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    dtype = np.dtype(_IDX_TYPES[data[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    body = data[4 + 4 * ndim :]
    if len(body) != expected:
        raise NbqError(f"{path} is a corrupted IDX file: header says {expected} data bytes, found {len(body)}")
    return np.frombuffer(body, dtype=dtype).reshape(dims)


def _find(folder: Path, names: list[str]) -> Path:
    for name in names:
        for cand in (folder / name, folder / (name + ".gz")):
            if cand.is_file():
                return cand
    raise NbqError(f"MNIST file {names[0]} (or .gz) not found in {folder}")


def load_mnist(data_dir: str | Path) -> Split:
    folder = _data_folder(data_dir, "mnist")
    parts = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        imgs = read_idx(_find(folder, [f"{prefix}-images-idx3-ubyte", f"{prefix}-images.idx3-ubyte"]))
        labels = read_idx(_find(folder, [f"{prefix}-labels-idx1-ubyte", f"{prefix}-labels.idx1-ubyte"]))
        if imgs.ndim != 3 or labels.ndim != 1 or len(imgs) != len(labels):
            raise NbqError(f"MNIST {split} images {imgs.shape} and labels {labels.shape} do not match")
        parts[split] = ((imgs.astype(np.float32) / 256.0)[:, None], labels.astype(np.int64))
    return Split(*parts["train"], *parts["test"], 10, f"MNIST IDX from {folder}, pixels /256")


# ---------------------------------------------------------------- CIFAR-10


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise NbqError(f"CIFAR-10 batch {path.name} not found in {path.parent}")
    try:
        with open(path, "rb") as f:
            d = pickle.load(f, encoding="bytes")
        data = np.asarray(d[b"data"], dtype=np.uint8)
        labels = np.asarray(d[b"labels"], dtype=np.int64)
    except Exception as err:  # pickle raises many kinds
        raise NbqError(f"{path} is not a CIFAR-10 python batch ({type(err).__name__})") from None
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise NbqError(f"{path} is not a CIFAR-10 python batch: data {data.shape}, labels {labels.shape}")
    return (data.reshape(-1, 3, 32, 32).astype(np.float32) / 256.0), labels


def load_cifar10(data_dir: str | Path) -> Split:
    folder = _data_folder(data_dir, "cifar10")
    sub = folder / "cifar-10-batches-py"
    folder = sub if sub.is_dir() else folder
    train = [_cifar_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
    xte, yte = _cifar_batch(folder / "test_batch")
    return Split(np.concatenate([t[0] for t in train]), np.concatenate([t[1] for t in train]), xte, yte, 10,
                 f"CIFAR-10 python batches from {folder}, pixels /256")


def _data_folder(data_dir: str | Path | None, name: str) -> Path:
    if data_dir is None:
        raise NbqError(f"dataset {name} needs --data-dir pointing at its files")
    folder = Path(data_dir)
    if not folder.is_dir():
        raise NbqError(f"data folder {folder} does not exist")
    return folder


def load_dataset(name: str, data_dir: str | Path | None = None) -> Split:
    """Load a dataset by name: digits, mnist or cifar10."""
    key = name.lower().replace("-", "")
    if key == "digits":
        return load_digits_split()
    if key == "mnist":
        return load_mnist(data_dir)
    if key == "cifar10":
        return load_cifar10(data_dir)
    raise NbqError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
