"""Untrusted .npy images for `nbq compile --test-input` and `nbq run --input`.

Each refused file: exit 2, one line naming the file and the problem, no project folder, nothing written
anywhere else. Accepted variants (Fortran order, big-endian, integers, bool, one image without N) must give
the same numbers as the plain float file. The example model takes (N, 1, 8, 8).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest
from harness import EXAMPLE, Outcome, assert_bad_input

from nbq.inputs import MAX_IMAGES

SHAPE = (1, 8, 8)
VIA = ["compile", "run"]


def _nbq(sandbox, via: str, name: str = "x.npy") -> Outcome:
    sandbox.snapshot()
    if via == "compile":
        out = sandbox.nbq("compile", str(EXAMPLE), "-o", "proj", "-q", "--test-input", name)
    else:
        out = sandbox.nbq("run", str(EXAMPLE), "--input", name)
    allowed = ("work/proj",) if via == "compile" and out.code == 0 else ()
    assert sandbox.changed(allowed=allowed) == [], f"files written:\n{out.describe()}"
    return out


def _refused(sandbox, via: str, *needles: str, name: str = "x.npy") -> None:
    out = _nbq(sandbox, via, name)
    assert_bad_input(out, name, *needles)
    assert not (sandbox.work / "proj").exists(), "a project was written for refused inputs"


def _images(n: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (n, *SHAPE)).astype(np.float32)


def _save(sandbox, x: np.ndarray, name: str = "x.npy") -> Path:
    path = sandbox.work / name
    np.save(path, x)
    return path


def _raw_npy(path: Path, header: dict, data: bytes = b"") -> None:
    """A .npy file with exactly this header dict and data (for shapes numpy would refuse to allocate)."""
    text = repr(header).encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text) + pad + 1) + text + b" " * pad + b"\n" + data)


# ------------------------------------------------------------------ refused


@pytest.mark.parametrize("via", VIA)
def test_empty_array_is_refused(sandbox, via):
    _save(sandbox, np.zeros((0, *SHAPE), np.float32))
    _refused(sandbox, via, "empty")


@pytest.mark.parametrize("via", VIA)
def test_string_array_is_refused(sandbox, via):
    _save(sandbox, np.full((2, *SHAPE), "pixel"))
    _refused(sandbox, via, "strings")


@pytest.mark.parametrize("via", VIA)
def test_nan_values_are_refused(sandbox, via):
    x = _images()
    x[1, 0, 2, 3] = np.nan
    _save(sandbox, x)
    _refused(sandbox, via, "NaN", "[1, 0, 2, 3]")


@pytest.mark.parametrize("via", VIA)
def test_infinite_values_are_refused(sandbox, via):
    x = _images()
    x[0, 0, 0, 0] = -np.inf
    _save(sandbox, x)
    _refused(sandbox, via, "infinite")


@pytest.mark.parametrize("via", VIA)
def test_float128_beyond_float64_is_refused_as_infinite(sandbox, via):
    x = _images().astype(np.longdouble)
    x[0, 0, 0, 0] = np.longdouble("1e400")  # finite in float128, inf as float64
    if not np.isfinite(x[0, 0, 0, 0]):
        pytest.skip("long double is float64 on this platform")
    _save(sandbox, x)
    _refused(sandbox, via, "infinite")


@pytest.mark.parametrize("via", VIA)
def test_complex_values_are_refused_not_truncated(sandbox, via):
    _save(sandbox, _images() + 1j * _images(seed=1))
    _refused(sandbox, via, "complex")


@pytest.mark.parametrize("via", VIA)
def test_object_array_is_refused_without_unpickling(sandbox, via):
    marker = sandbox.root / "unpickled"
    x = np.empty(2, dtype=object)
    x[:] = [_images(1), _Tripwire(str(marker))]
    np.save(sandbox.work / "x.npy", x, allow_pickle=True)
    _refused(sandbox, via, "Python objects")
    assert not marker.exists(), "the pickle was loaded"


class _Tripwire:
    """Unpickling it creates a file: proof the loader ran pickle."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("via", VIA)
def test_structured_dtype_is_refused(sandbox, via):
    _save(sandbox, np.zeros((2, *SHAPE), dtype=[("r", "f4"), ("g", "f4")]))
    _refused(sandbox, via, "structured")


@pytest.mark.parametrize("via", VIA)
def test_datetime_array_is_refused(sandbox, via):
    _save(sandbox, np.zeros((2, *SHAPE), dtype="datetime64[s]"))
    _refused(sandbox, via, "dates")


@pytest.mark.parametrize("via", VIA)
def test_zero_dimensional_array_is_refused(sandbox, via):
    _save(sandbox, np.array(0.5))
    _refused(sandbox, via, "0-d")


@pytest.mark.parametrize("via", VIA)
def test_wrong_rank_is_refused(sandbox, via):
    _save(sandbox, np.zeros((2, 5), np.float32))
    _refused(sandbox, via, "(2, 5)", "(N, 1, 8, 8)")


@pytest.mark.parametrize("via", VIA)
def test_wrong_image_shape_is_refused(sandbox, via):
    _save(sandbox, np.zeros((2, 1, 8, 7), np.float32))
    _refused(sandbox, via, "(2, 1, 8, 7)", "the model takes")


@pytest.mark.parametrize("via", VIA)
def test_huge_declared_shape_is_refused_before_loading(sandbox, via):
    # 10^12 float64 values declared, 64 bytes present: reading it would need 8 TB
    _raw_npy(sandbox.work / "x.npy", {"descr": "<f8", "fortran_order": False, "shape": (10**10, 1, 10, 10)},
             b"\0" * 64)
    _refused(sandbox, via, "MiB")


@pytest.mark.parametrize("via", VIA)
def test_too_many_images_are_refused(sandbox, via):
    _save(sandbox, np.zeros((MAX_IMAGES + 1, *SHAPE), np.uint8))
    _refused(sandbox, via, f"{MAX_IMAGES + 1:,} images", "split")


@pytest.mark.parametrize("via", VIA)
def test_truncated_file_is_refused(sandbox, via):
    path = _save(sandbox, _images(4))
    path.write_bytes(path.read_bytes()[:-100])
    _refused(sandbox, via, "truncated")


@pytest.mark.parametrize("via", VIA)
def test_damaged_header_is_refused(sandbox, via):
    path = _save(sandbox, _images(2))
    data = bytearray(path.read_bytes())
    data[10:20] = b"}{)(garbag"
    path.write_bytes(bytes(data))
    _refused(sandbox, via, "damaged")


@pytest.mark.parametrize("via", VIA)
def test_negative_dimension_in_header_is_refused(sandbox, via):
    _raw_npy(sandbox.work / "x.npy", {"descr": "<f4", "fortran_order": False, "shape": (-1, 1, 8, 8)}, b"\0" * 256)
    _refused(sandbox, via, "negative dimension")


@pytest.mark.parametrize("via", VIA)
def test_text_file_is_refused(sandbox, via):
    (sandbox.work / "x.npy").write_text("0.1, 0.2, 0.3\n")
    _refused(sandbox, via, "not a .npy file")


@pytest.mark.parametrize("via", VIA)
def test_npz_archive_is_refused(sandbox, via):
    np.savez(sandbox.work / "x.npz", images=_images())
    _refused(sandbox, via, ".npz", name="x.npz")


@pytest.mark.parametrize("via", VIA)
def test_directory_is_refused(sandbox, via):
    (sandbox.work / "x.npy").mkdir()
    _refused(sandbox, via, "is a directory")


@pytest.mark.parametrize("via", VIA)
def test_missing_file_is_refused(sandbox, via):
    _refused(sandbox, via, "no such file")


@pytest.mark.parametrize("via", VIA)
def test_empty_file_name_is_refused_not_ignored(sandbox, via):
    out = _nbq(sandbox, via, "")
    assert_bad_input(out, "empty file name")
    assert not (sandbox.work / "proj").exists()


@pytest.mark.parametrize("via", VIA)
def test_fifo_is_refused_without_blocking(sandbox, via):
    sandbox.snapshot()  # before the FIFO: the snapshot reads every file and would block on it
    os.mkfifo(sandbox.work / "x.npy")
    args = ("compile", str(EXAMPLE), "-o", "proj", "--test-input") if via == "compile" else ("run", str(EXAMPLE),
                                                                                            "--input")
    out = sandbox.nbq(*args, "x.npy", timeout=60)
    (sandbox.work / "x.npy").unlink()
    assert_bad_input(out, "x.npy", "not a regular file")
    assert sandbox.changed() == [], out.describe()


@pytest.mark.parametrize("via", VIA)
def test_format_version_3_is_refused(sandbox, via):
    with open(sandbox.work / "x.npy", "wb") as fp:
        np.lib.format.write_array(fp, _images(), version=(3, 0))
    _refused(sandbox, via, "version 3.0")


# ------------------------------------------------------------------ accepted, same numbers


def _result(sandbox, via: str, out: Outcome) -> str:
    """What a run computed: the printed integers (run) or the golden input vectors (compile)."""
    assert out.code == 0, out.describe()
    assert out.stderr == "", out.describe()
    if via == "run":
        return out.stdout
    return (sandbox.work / "proj" / "tb_data" / "inputs.dat").read_text()


def _same_as_plain(sandbox, via: str, variant: np.ndarray, plain: np.ndarray) -> None:
    _save(sandbox, plain)
    expected = _result(sandbox, via, _nbq(sandbox, via))
    if via == "compile":
        import shutil

        shutil.rmtree(sandbox.work / "proj")
    _save(sandbox, variant)
    assert _result(sandbox, via, _nbq(sandbox, via)) == expected


@pytest.mark.parametrize("via", VIA)
def test_fortran_order_gives_the_same_numbers(sandbox, via):
    x = _images()
    _same_as_plain(sandbox, via, np.asfortranarray(x), x)


@pytest.mark.parametrize("via", VIA)
def test_big_endian_gives_the_same_numbers(sandbox, via):
    x = _images()
    _same_as_plain(sandbox, via, x.astype(">f8"), x)


@pytest.mark.parametrize("via", VIA)
def test_integers_are_taken_as_floats(sandbox, via):
    x = np.random.default_rng(2).integers(-1, 3, (3, *SHAPE)).astype(np.int16)
    _same_as_plain(sandbox, via, x, x.astype(np.float32))


@pytest.mark.parametrize("via", VIA)
def test_bool_is_taken_as_floats(sandbox, via):
    x = np.random.default_rng(3).integers(0, 2, (3, *SHAPE)).astype(bool)
    _same_as_plain(sandbox, via, x, x.astype(np.float32))


@pytest.mark.parametrize("via", VIA)
def test_one_image_without_batch_dimension(sandbox, via):
    x = _images(1)
    _same_as_plain(sandbox, via, x[0], x)


def test_run_on_valid_input_leaves_home_and_tmp_empty(sandbox):
    _save(sandbox, _images())
    out = _nbq(sandbox, "run")  # asserts nothing changed anywhere
    assert out.code == 0 and "within one step" in out.stdout, out.describe()
    for sub in ("home", "tmp"):
        assert list((sandbox.root / sub).iterdir()) == [], f"{sub}/ written by nbq run (ONNX Runtime telemetry?)"


def test_compile_with_test_input_leaves_home_and_tmp_empty(sandbox):
    _save(sandbox, _images())
    out = _nbq(sandbox, "compile")
    assert out.code == 0, out.describe()
    for sub in ("home", "tmp"):
        assert list((sandbox.root / sub).iterdir()) == [], f"{sub}/ written by nbq compile"


# ------------------------------------------------------------------ the loader in process


def test_loader_limit_is_judged_from_the_header(tmp_path):
    from nbq.errors import NbqError
    from nbq.inputs import load_images

    path = tmp_path / "x.npy"
    np.save(path, _images(2))  # 128 values: 1.0 KiB as float64
    with pytest.raises(NbqError, match=r"x\.npy: declares shape \(2, 1, 8, 8\): 1\.0 KiB .*\(0\.5 KiB\)"):
        load_images(path, SHAPE, limit_bytes=512)
    with pytest.raises(NbqError, match=r"holds 2 images, more than nbq takes at once \(1\)"):
        load_images(path, SHAPE, max_images=1)


def test_loader_returns_c_ordered_float64_images_of_the_model_shape(tmp_path):
    from nbq.inputs import load_images

    x = np.arange(2 * 64, dtype=">i4").reshape(2, 64)  # flattened images, big-endian integers
    np.save(tmp_path / "x.npy", np.asfortranarray(x))
    got = load_images(tmp_path / "x.npy", SHAPE)
    assert got.dtype == np.float64 and got.flags.c_contiguous and got.shape == (2, *SHAPE)
    assert np.array_equal(got.reshape(2, 64), x.astype(np.float64))
