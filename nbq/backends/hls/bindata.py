"""Binary batch files (tb_data/*.bin) for the XRT host: the format hw/host/nbq_host.h reads.

All little-endian: b"NBQB", uint32 version (1), uint32 images, uint32 values per image,
uint32 bytes per value (4 when every value fits in int32, else 8), then the values,
two's complement, one image after the other in stream order.
"""

from __future__ import annotations

import numpy as np

from nbq.errors import NbqError

MAGIC = b"NBQB"
VERSION = 1
HEADER_BYTES = 20


def batch_bytes(rows: np.ndarray) -> bytes:
    """(images, values) integers -> the file's bytes."""
    rows = np.asarray(rows, dtype=np.int64)
    if rows.ndim != 2:
        raise ValueError(f"a batch is (images, values), got shape {rows.shape}")
    small = rows.size == 0 or (rows.min() >= -(2**31) and rows.max() < 2**31)
    dtype = np.dtype("<i4") if small else np.dtype("<i8")
    header = np.array([VERSION, rows.shape[0], rows.shape[1], dtype.itemsize], dtype="<u4")
    return MAGIC + header.tobytes() + rows.astype(dtype).tobytes()


def read_batch_bytes(data: bytes) -> np.ndarray:
    """The inverse of batch_bytes: (images, values) int64."""
    if len(data) < HEADER_BYTES or data[:4] != MAGIC:
        raise NbqError("not an nbq batch file (no NBQB header)")
    version, images, values, size = np.frombuffer(data[4:HEADER_BYTES], dtype="<u4").tolist()
    if version != VERSION or size not in (4, 8):
        raise NbqError(f"unsupported nbq batch file (version {version}, {size}-byte values)")
    if len(data) != HEADER_BYTES + images * values * size:
        raise NbqError(f"nbq batch file of {len(data)} bytes does not hold {images} x {values} values")
    body = np.frombuffer(data[HEADER_BYTES:], dtype=f"<i{size}")
    return body.astype(np.int64).reshape(images, values)
