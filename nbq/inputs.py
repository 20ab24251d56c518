"""Untrusted .npy images (`nbq compile --test-input`, `nbq run --input`), refused with a one-line reason.

The header is read and judged first (format, dtype, declared size, shape against the model), so a file that
declares a huge array is refused before a byte of data is allocated. Accepted: float arrays of any width,
byte order and memory order; integer and bool arrays, taken as floats (pixel values are often saved as
uint8). Refused: complex (nbq would have to drop the imaginary part), strings, objects (pickles are never
loaded), structured / sub-array dtypes, dates, NaN / infinity, empty arrays, scalars, shapes the model does
not take, more than MAX_IMAGES images or more than `limit_bytes` as float64.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from math import prod
from pathlib import Path

import numpy as np

from nbq.errors import NbqError

LIMIT_BYTES = 256 << 20  # the images as float64 in memory; the reference and ONNX Runtime make a few copies
MAX_IMAGES = 4096
_SUPPORTED_VERSIONS = ((1, 0), (2, 0))
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class NpyHeader:
    """What a .npy file declares about its array, before the data is read."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    data_offset: int  # where the data starts in the file
    file_size: int

    @property
    def values(self) -> int:
        return prod(self.shape)

    @property
    def data_bytes(self) -> int:
        return self.values * self.dtype.itemsize


def _fail(path: str | Path, what: str) -> NbqError:
    return NbqError(f"{path}: {what}")


def _path(path: str | Path) -> Path:
    if str(path) == "":  # Path("") is "." and would be reported as a directory
        raise NbqError("'': empty file name; pass a .npy file written by numpy.save")
    return Path(path)


def _open(path: Path):
    if path.is_dir():
        raise _fail(path, "is a directory; pass a .npy file written by numpy.save")
    if not path.exists():
        raise _fail(path, "no such file; pass a .npy file written by numpy.save")
    if not path.is_file():  # a FIFO or a device could block or never end
        raise _fail(path, "is not a regular file; pass a .npy file written by numpy.save")
    try:
        return open(path, "rb")  # noqa: SIM115 - the caller closes it
    except OSError as exc:
        raise _fail(path, f"cannot be read ({exc.strerror}); check its permissions") from None


def _parse_header(path: Path | str, fp, file_size: int | None = None) -> NpyHeader:
    """The header of the .npy data in `fp` (a file, or an archive member of `file_size` bytes)."""
    start = fp.read(len(np.lib.format.MAGIC_PREFIX))
    if start.startswith(_ZIP_MAGIC):
        raise _fail(path, "is a .npz archive, not a .npy file; save the one image array with numpy.save")
    if start != np.lib.format.MAGIC_PREFIX:
        raise _fail(path, "is not a .npy file (no NUMPY header); save the images with numpy.save")
    fp.seek(0)
    try:
        version = np.lib.format.read_magic(fp)
        if version not in _SUPPORTED_VERSIONS:
            raise _fail(path, f".npy format version {version[0]}.{version[1]} is not supported (1.0 and 2.0 are); "
                        "save a plain numeric array with numpy.save")
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = read(fp)
    except NbqError:
        raise
    except Exception:  # numpy raises ValueError / SyntaxError / TypeError on a damaged header
        raise _fail(path, "has a damaged .npy header; save the images again with numpy.save") from None
    if any(int(d) < 0 for d in shape):
        raise _fail(path, f"has a damaged .npy header (negative dimension in shape {tuple(shape)}); "
                    "save the images again with numpy.save")
    size = os.fstat(fp.fileno()).st_size if file_size is None else file_size
    return NpyHeader(tuple(int(d) for d in shape), np.dtype(dtype), bool(fortran_order), fp.tell(), size)


def _check_dtype(path: str | Path, dtype: np.dtype) -> None:
    if dtype.hasobject:
        raise _fail(path, "holds Python objects (pickled data), which nbq never loads; "
                    "save a numeric array, e.g. x.astype(numpy.float32)")
    if dtype.names is not None or dtype.subdtype is not None or dtype.kind == "V":
        raise _fail(path, f"has a structured dtype ({dtype}); save one plain float array of images")
    if dtype.kind == "c":
        raise _fail(path, f"holds complex values ({dtype}); nbq takes real images, save x.real as float32 "
                    "if the imaginary part is zero")
    if dtype.kind in "SUa":
        raise _fail(path, f"holds strings ({dtype}); save the images as a float array")
    if dtype.kind in "Mm":
        raise _fail(path, f"holds dates / times ({dtype}); save the images as a float array")
    if dtype.kind not in "fiub":
        raise _fail(path, f"has dtype {dtype}, which is not a number; save the images as a float array")


def _images_shape(path: str | Path, shape: tuple[int, ...], expected: tuple[int, ...] | None) -> tuple[int, ...]:
    """(N, *expected) for the declared shape: a batch, one image, or a batch of flattened images."""
    if not shape:
        raise _fail(path, "holds a single number (a 0-d array); save images shaped (N, ...) or one image")
    if prod(shape) == 0:
        raise _fail(path, f"is empty (shape {shape}); save at least one image")
    if expected is None:
        return shape
    if shape == expected:
        return (1, *expected)
    if len(shape) >= 2 and (shape[1:] == expected or prod(shape[1:]) == prod(expected)):
        return (shape[0], *expected)
    takes = ", ".join(map(str, expected))
    raise _fail(path, f"holds an array of shape {shape}, the model takes (N, {takes}) or one ({takes}) image; "
                "save images of the model's input shape")


def _size(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB" if n >= 2**20 else f"{n / 2**10:,.1f} KiB"


def _check_size(path: Path, header: NpyHeader, limit_bytes: int) -> None:
    as_float = header.values * 8
    if as_float > limit_bytes:
        raise _fail(path, f"declares shape {header.shape}: {_size(as_float)} as float64, more than nbq loads "
                    f"({_size(limit_bytes)}); pass fewer images")
    if header.data_offset + header.data_bytes > header.file_size:
        raise _fail(path, f"is truncated: its header declares {header.data_bytes:,} bytes of data, the file holds "
                    f"{max(header.file_size - header.data_offset, 0):,}; save the images again")


def _check_count(path: str | Path, shape: tuple[int, ...], max_images: int) -> None:
    if shape[0] > max_images:
        raise _fail(path, f"holds {shape[0]:,} images, more than nbq takes at once ({max_images:,}); "
                    "split them into several files")


def _judge(path: Path, header: NpyHeader, expected: tuple[int, ...] | None, limit_bytes: int,
           max_images: int) -> tuple[int, ...]:
    """The images' shape (N, *expected) if the header is acceptable; NbqError otherwise."""
    _check_dtype(path, header.dtype)
    _check_size(path, header, limit_bytes)
    shape = _images_shape(path, header.shape, expected)
    _check_count(path, shape, max_images)
    return shape


def check_file(path: str | Path, expected_shape: tuple[int, ...] | None = None, limit_bytes: int = LIMIT_BYTES,
               max_images: int = MAX_IMAGES) -> NpyHeader:
    """Judge a .npy file from its header alone (no data read); raise NbqError naming the file if refused."""
    p = _path(path)
    with _open(p) as fp:
        header = _parse_header(p, fp)
    _judge(p, header, expected_shape, limit_bytes, max_images)
    return header


def load_images(path: str | Path, expected_shape: tuple[int, ...] | None = None, limit_bytes: int = LIMIT_BYTES,
                max_images: int = MAX_IMAGES) -> np.ndarray:
    """A .npy file -> float64 images (N, *expected_shape), C order; NbqError naming the file if refused.

    expected_shape: one image's shape as the model takes it (without N); None checks everything but the shape.
    """
    p = _path(path)
    with _open(p) as fp:
        shape = _judge(p, _parse_header(p, fp), expected_shape, limit_bytes, max_images)
        fp.seek(0)
        try:
            raw = np.lib.format.read_array(fp, allow_pickle=False)
        except MemoryError:
            raise _fail(p, "does not fit in memory; pass fewer images") from None
        except Exception:  # the header promised more than the data holds, or the read failed
            raise _fail(p, "could not be read to the end (truncated or damaged); save the images again") from None
    return _finite_float(p, raw).reshape(shape)


def check_images(x: np.ndarray, expected_shape: tuple[int, ...], source: str = "test inputs",
                 max_images: int = MAX_IMAGES) -> np.ndarray:
    """An in-memory array judged like a file (`source` names it in the message) -> float64 (N, *expected)."""
    x = np.asarray(x)
    _check_dtype(source, x.dtype)
    shape = _images_shape(source, tuple(x.shape), expected_shape)
    _check_count(source, shape, max_images)
    return _finite_float(source, x).reshape(shape)


def _finite_float(source: str | Path, raw: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):  # float128 beyond float64's range becomes inf, refused just below
        x = np.ascontiguousarray(raw, dtype=np.float64)
    finite = np.isfinite(x)
    if not finite.all():
        bad = np.argwhere(~finite)
        first = [int(i) for i in bad[0]]
        raise _fail(source, f"holds {len(bad):,} NaN or infinite values (first at index {first}); "
                    "replace them with finite numbers")
    return x
