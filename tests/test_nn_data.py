"""Datasets: digits split, MNIST IDX and CIFAR-10 batches from small written files, and their errors."""

import gzip
import pickle
import struct

import numpy as np
import pytest

pytestmark = pytest.mark.torch
pytest.importorskip("torch")  # the loaders themselves need only numpy; they serve nbq.nn training

from nbq.errors import NbqError  # noqa: E402
from nbq.nn.data import load_dataset, read_idx  # noqa: E402


def write_idx(path, arr: np.ndarray, gz: bool = False, truncate: int = 0):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}
    header = bytes([0, 0, codes[arr.dtype], arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data = header + arr.tobytes()
    data = data[: len(data) - truncate]
    (gzip.open if gz else open)(path, "wb").write(data)


def make_mnist(folder, n_train=6, n_test=4, gz=False):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    sfx = ".gz" if gz else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte{sfx}", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{sfx}", rng.integers(0, 10, n, dtype=np.uint8), gz)
    return folder


def make_cifar(folder, n=3):
    rng = np.random.default_rng(1)
    sub = folder / "cifar-10-batches-py"
    sub.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 10, n))}
        with open(sub / name, "wb") as f:
            pickle.dump(batch, f)
    return sub


def test_digits_split_is_fixed():
    pytest.importorskip("sklearn")
    d = load_dataset("digits")
    assert d.x_train.shape == (1347, 1, 8, 8) and d.x_test.shape == (450, 1, 8, 8)
    assert d.x_train.min() == 0 and d.x_train.max() == 1 and np.all(d.x_train * 16 == np.rint(d.x_train * 16))
    assert np.bincount(d.y_test).min() >= 43  # stratified (the rarest class has 174 images)
    np.testing.assert_array_equal(load_dataset("digits").y_test, d.y_test)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_files(tmp_path, gz):
    d = load_dataset("mnist", make_mnist(tmp_path / "mnist", gz=gz))
    assert d.x_train.shape == (6, 1, 28, 28) and d.x_test.shape == (4, 1, 28, 28)
    assert d.y_train.dtype == np.int64 and d.x_train.max() < 1.0
    # pixels are exact multiples of 2^-8, the 8-bit input quantizer's step
    assert d.input_bits == 8 and np.all(d.x_train * 256 == np.rint(d.x_train * 256))


def test_cifar10_python_batches(tmp_path):
    make_cifar(tmp_path)
    d = load_dataset("cifar10", tmp_path)
    assert d.x_train.shape == (15, 3, 32, 32) and d.x_test.shape == (3, 3, 32, 32)


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg and msg
    return msg


def test_unknown_dataset_name():
    with pytest.raises(NbqError) as err:
        load_dataset("imagenet")
    assert "unknown dataset 'imagenet'" in _one_line(err) and "digits" in str(err.value)


def test_missing_data_folder(tmp_path):
    with pytest.raises(NbqError) as err:
        load_dataset("mnist", tmp_path / "nope")
    assert "does not exist" in _one_line(err)
    with pytest.raises(NbqError) as err:
        load_dataset("cifar10", None)
    assert "--data-dir" in _one_line(err)


def test_missing_mnist_file(tmp_path):
    folder = make_mnist(tmp_path / "m")
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(NbqError) as err:
        load_dataset("mnist", folder)
    assert "t10k-labels-idx1-ubyte" in _one_line(err)


def test_corrupted_idx_files(tmp_path):
    arr = np.zeros((3, 4, 4), np.uint8)
    write_idx(tmp_path / "cut", arr, truncate=5)
    with pytest.raises(NbqError) as err:
        read_idx(tmp_path / "cut")
    assert "corrupted IDX" in _one_line(err)
    (tmp_path / "magic").write_bytes(b"\x12\x34\x08\x03" + b"\0" * 20)
    with pytest.raises(NbqError) as err:
        read_idx(tmp_path / "magic")
    assert "bad magic" in _one_line(err)
    (tmp_path / "header").write_bytes(b"\0\0\x08\x03\0\0")
    with pytest.raises(NbqError) as err:
        read_idx(tmp_path / "header")
    assert "truncated" in _one_line(err)
    (tmp_path / "bad.gz").write_bytes(b"not gzip at all")
    with pytest.raises(NbqError) as err:
        read_idx(tmp_path / "bad.gz")
    _one_line(err)
    folder = make_mnist(tmp_path / "m")
    write_idx(folder / "train-images-idx3-ubyte", np.zeros((6, 28, 28), np.uint8), truncate=100)
    with pytest.raises(NbqError) as err:
        load_dataset("mnist", folder)
    assert "corrupted IDX" in _one_line(err)


def test_corrupted_cifar_batch(tmp_path):
    sub = make_cifar(tmp_path)
    (sub / "data_batch_3").write_bytes(b"garbage")
    with pytest.raises(NbqError) as err:
        load_dataset("cifar10", tmp_path)
    assert "data_batch_3" in _one_line(err)
