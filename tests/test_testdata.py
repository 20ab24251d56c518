"""nbq.testdata: labelled test data (.npz, .npy + labels) is untrusted input, refused in one line naming the field."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from nbq.errors import NbqError
from nbq.testdata import check_classes, from_arrays, load_test_data

SHAPE = (1, 8, 8)


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_npz_round_trip_keeps_values_and_labels(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.random((7, *SHAPE)).astype(np.float32)
    y = rng.integers(0, 10, 7)
    data = load_test_data(_npz(tmp_path / "t.npz", x=x, y=y), expected_shape=SHAPE)
    assert data.images == 7 and data.y.dtype == np.int64
    np.testing.assert_array_equal(data.x, x.astype(np.float64))
    np.testing.assert_array_equal(data.y, y)
    first = data.first(3)
    assert first.images == 3 and first.y.tolist() == y[:3].tolist()


def test_npy_with_labels_file(tmp_path):
    x = np.zeros((4, 64), np.uint8)  # flattened uint8 images are taken as floats of the model's shape
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.array([0.0, 1.0, 2.0, 3.0]))  # whole-number floats are labels too
    data = load_test_data(tmp_path / "x.npy", tmp_path / "y.npy", SHAPE)
    assert data.x.shape == (4, *SHAPE) and data.y.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("arrays, field, words", [
    ({"x": np.zeros((3, *SHAPE))}, "", "no array 'y'"),
    ({"y": np.zeros(3, int)}, "", "no array 'x'"),
    ({"x": np.zeros((3, 2, 2)), "y": np.zeros(3, int)}, "[x]", "shape (3, 2, 2)"),
    ({"x": np.full((3, *SHAPE), np.nan), "y": np.zeros(3, int)}, "[x]", "NaN"),
    ({"x": np.zeros((3, *SHAPE), complex), "y": np.zeros(3, int)}, "[x]", "complex"),
    ({"x": np.zeros((3, *SHAPE)), "y": np.zeros(4, int)}, "[y]", "4 labels for 3 images"),
    ({"x": np.zeros((3, *SHAPE)), "y": np.zeros((3, 2), int)}, "[y]", "shape (3, 2)"),
    ({"x": np.zeros((3, *SHAPE)), "y": np.array([0.5, 1, 2])}, "[y]", "whole numbers"),
    ({"x": np.zeros((3, *SHAPE)), "y": np.array(["a", "b", "c"])}, "[y]", "strings"),
    ({"x": np.zeros((3, *SHAPE)), "y": np.array([0, None, 1], dtype=object)}, "[y]", "pickled"),
    ({"x": np.array([[1], None], dtype=object), "y": np.zeros(2, int)}, "[x]", "pickled"),
])
def test_bad_npz_is_refused_naming_file_and_field(tmp_path, arrays, field, words):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(NbqError) as info:
        load_test_data(path, expected_shape=SHAPE)
    msg = str(info.value)
    assert msg.startswith(f"{path}{field}:") and words in msg and "\n" not in msg


def test_not_a_zip_damaged_member_and_labels_with_npz(tmp_path):
    fake = tmp_path / "fake.npz"
    fake.write_bytes(b"not a zip at all")
    with pytest.raises(NbqError, match="not a readable .npz"):
        load_test_data(fake)
    damaged = tmp_path / "damaged.npz"
    with zipfile.ZipFile(damaged, "w") as z:
        z.writestr("x.npy", b"\x93NUMPY garbage")
        z.writestr("y.npy", b"")
    with pytest.raises(NbqError, match=r"damaged.npz\[x\]"):
        load_test_data(damaged)
    good = _npz(tmp_path / "g.npz", x=np.zeros((2, *SHAPE)), y=np.zeros(2, int))
    with pytest.raises(NbqError, match="drop --labels"):
        load_test_data(good, tmp_path / "y.npy")
    with pytest.raises(NbqError, match="no such file"):
        load_test_data(tmp_path / "missing.npz")


def test_huge_declared_member_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as z:  # a header that declares 40 GB of images, with no data behind it
        with z.open("x.npy", "w") as fp:
            np.lib.format.write_array_header_1_0(fp, {"descr": "<f8", "fortran_order": False,
                                                      "shape": (5_000_000, 1, 32, 32)})
        z.writestr("y.npy", b"")
    with pytest.raises(NbqError, match=r"huge.npz\[x\]: declares shape"):
        load_test_data(path)


def test_labels_must_be_classes_of_the_model():
    data = from_arrays(np.zeros((3, *SHAPE)), [0, 9, 10], SHAPE)
    check_classes(data, 11)
    with pytest.raises(NbqError, match="label 10 at index 2 is not a class of the model"):
        check_classes(data, 10)
    with pytest.raises(NbqError, match="test data y: 2 labels for 3 images"):
        from_arrays(np.zeros((3, *SHAPE)), [0, 1], SHAPE)
    with pytest.raises(NbqError, match="must be a whole number of at least 1"):
        data.first(0)
