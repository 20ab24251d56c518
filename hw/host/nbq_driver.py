"""PYNQ driver for an nbq accelerator on a Zynq UltraScale+ board (copied into ZCU102 projects).

On the board, from the project folder (after `make bitstream` on the build machine):

    python3 driver/nbq_driver.py                      # the golden batch from tb_data/, checked
    python3 driver/nbq_driver.py --repeat 100         # the same batch 100 times over, for frames/s

It loads the overlay (the .bit with its .hwh), starts the nbq IP in auto-restart mode, sends the
test images through the AXI DMA (MM2S), receives one output packet per image (S2MM; the IP sets
TLAST on each image's last value), compares the outputs bit for bit with tb_data/golden.dat and
prints frames/s.  Everything it needs to know about the IP comes from ../nbq_project.json.

pynq is imported only when an overlay is loaded, so the pure parts (reading tb_data, packing
values into stream words, unpacking, checking) run anywhere; tests drive them with a fake overlay.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROJECT_DIR = Path(__file__).resolve().parent.parent
CONTROL_OFFSET = 0x00
AP_START_AUTO_RESTART = 0x81  # ap_ctrl_hs: bit 0 ap_start, bit 7 auto_restart
ALIGN = 64  # every DMA transfer starts on a 64-byte boundary: the DMA has no realignment engine


@dataclass(frozen=True)
class StreamFormat:
    """The IP's interface, from the project manifest."""

    in_size: int  # values per input image
    out_size: int  # values per output image
    word_bits: int  # bits per AXI-Stream word (one value per word)
    in_signed: bool
    out_signed: bool
    ip_cell: str  # block-design cell names, i.e. overlay attributes
    dma_cell: str
    dma_max_bytes: int  # the DMA's longest transfer
    bitstream: str  # relative to the project folder

    @property
    def in_dtype(self) -> np.dtype:
        return word_dtype(self.word_bits, self.in_signed)

    @property
    def out_dtype(self) -> np.dtype:
        return word_dtype(self.word_bits, self.out_signed)


def load_format(project_dir: Path = PROJECT_DIR) -> StreamFormat:
    manifest = json.loads((Path(project_dir) / "nbq_project.json").read_text())
    if manifest.get("flow") != "vivado" or "zynq" not in manifest:
        raise ValueError(f"{project_dir} is not an nbq Zynq (vivado flow) project")
    zynq = manifest["zynq"]
    return StreamFormat(
        in_size=int(manifest["input"]["size"]),
        out_size=int(manifest["output"]["size"]),
        word_bits=int(manifest["word_bits"]),
        in_signed=bool(manifest["input"]["signed"]),
        out_signed=bool(manifest["output"]["signed"]),
        ip_cell=zynq["ip_cell"],
        dma_cell=zynq["dma_cell"],
        dma_max_bytes=int(zynq["dma_max_bytes"]),
        bitstream=zynq["bitstream"],
    )


def word_dtype(bits: int, signed: bool) -> np.dtype:
    """One stream word as a little-endian numpy integer: the DMA buffer is an array of them."""
    if bits not in (8, 16, 32, 64):
        raise ValueError(f"stream words of {bits} bits are not supported (8, 16, 32 or 64)")
    return np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")


def read_dat(path: Path, values: int) -> np.ndarray:
    """A tb_data/*.dat file: one image per line, values in stream order -> (images, values) int64."""
    rows = [line.split() for line in Path(path).read_text().splitlines() if line.strip()]
    for n, row in enumerate(rows):
        if len(row) != values:
            raise ValueError(f"{path}: image {n} has {len(row)} values, expected {values}")
    return np.array(rows, dtype=np.int64).reshape(len(rows), values)


def pack(images: np.ndarray, fmt: StreamFormat) -> np.ndarray:
    """(images, in_size) integers -> the MM2S buffer contents (one word per value, sign-extended)."""
    images = np.asarray(images, dtype=np.int64)
    if images.ndim != 2 or images.shape[1] != fmt.in_size:
        raise ValueError(f"expected (images, {fmt.in_size}) inputs, got shape {images.shape}")
    info = np.iinfo(fmt.in_dtype)
    if images.size and (images.min() < info.min or images.max() > info.max):
        raise ValueError(f"input values leave the {fmt.in_dtype} range of the stream words")
    return images.astype(fmt.in_dtype).ravel()


def unpack(words: np.ndarray, fmt: StreamFormat, n_images: int) -> np.ndarray:
    """The S2MM buffer contents -> (images, out_size) int64."""
    words = np.asarray(words).view(fmt.out_dtype).ravel()
    if words.size != n_images * fmt.out_size:
        raise ValueError(f"{words.size} output words, {n_images} images need {n_images * fmt.out_size}")
    return words.astype(np.int64).reshape(n_images, fmt.out_size)


def mismatches(got: np.ndarray, golden: np.ndarray, limit: int = 20) -> tuple[int, list[tuple[int, int, int, int]]]:
    """(count, first `limit` as (image, index, expected, got)); image n is checked against golden n % len."""
    golden = np.asarray(golden, dtype=np.int64)
    got = np.asarray(got, dtype=np.int64)
    if got.ndim != 2 or golden.ndim != 2 or got.shape[1] != golden.shape[1] or len(golden) == 0:
        raise ValueError(f"cannot compare outputs {got.shape} with golden {golden.shape}")
    expected = golden[np.arange(len(got)) % len(golden)]
    bad = np.argwhere(got != expected)
    first = [(int(n), int(i), int(expected[n, i]), int(got[n, i])) for n, i in bad[:limit]]
    return len(bad), first


def frames_per_second(frames: int, seconds: float) -> float:
    return frames / seconds if seconds > 0 else 0.0


class NbqAccelerator:
    """The nbq IP behind an AXI DMA.  `overlay`/`allocate` default to pynq's (tests pass fakes)."""

    def __init__(self, bitfile: str | Path | None = None, *, fmt: StreamFormat | None = None,
                 overlay=None, allocate=None):  # fmt: skip
        self.fmt = fmt or load_format()
        if overlay is None:
            import pynq  # only on the board

            overlay = pynq.Overlay(str(bitfile or PROJECT_DIR / self.fmt.bitstream))
            allocate = allocate or pynq.allocate
        if allocate is None:
            raise ValueError("give `allocate` together with a custom overlay")
        self.overlay, self.allocate = overlay, allocate
        self.dma = getattr(overlay, self.fmt.dma_cell)
        self.ip = getattr(overlay, self.fmt.ip_cell)
        self.ip.write(CONTROL_OFFSET, AP_START_AUTO_RESTART)  # take image after image as they stream in

    def run(self, images: np.ndarray) -> tuple[np.ndarray, float]:
        """(images, in_size) -> ((images, out_size) outputs, seconds spent moving and computing)."""
        words = pack(images, self.fmt)
        n_images, in_size, out_size = len(images), self.fmt.in_size, self.fmt.out_size
        in_item, out_item = self.fmt.in_dtype.itemsize, self.fmt.out_dtype.itemsize
        out_stride = -(-out_size * out_item // ALIGN) * ALIGN // out_item  # one aligned slot per image
        in_buf = self.allocate(shape=(words.size,), dtype=self.fmt.in_dtype)
        out_buf = self.allocate(shape=(n_images, out_stride), dtype=self.fmt.out_dtype)
        in_buf[:] = words
        _sync(in_buf, "flush")
        per_send = images_per_send(in_size * in_item, self.fmt.dma_max_bytes)
        start = time.perf_counter()
        for first in range(0, n_images, per_send):  # MM2S: as many images per transfer as the DMA takes
            last = min(first + per_send, n_images)
            self.dma.sendchannel.transfer(in_buf[first * in_size : last * in_size])
            for n in range(first, last):  # S2MM stops at each TLAST: one transfer per image
                self.dma.recvchannel.transfer(out_buf[n, :out_size])
                self.dma.recvchannel.wait()
            self.dma.sendchannel.wait()
        seconds = time.perf_counter() - start
        _sync(out_buf, "invalidate")
        outputs = unpack(np.array(out_buf[:, :out_size]), self.fmt, n_images)
        for buf in (in_buf, out_buf):
            if hasattr(buf, "freebuffer"):
                buf.freebuffer()
        return outputs, seconds


def images_per_send(image_bytes: int, max_bytes: int) -> int:
    """Images per MM2S transfer: within the DMA's length limit, and a multiple of the count that
    keeps the next transfer's start 64-byte aligned."""
    step = ALIGN // math.gcd(image_bytes, ALIGN)
    fit = max_bytes // image_bytes // step * step
    if fit == 0:
        raise ValueError(f"the DMA moves at most {max_bytes} bytes, less than {step} images of {image_bytes} bytes")
    return fit


def _sync(buf, how: str) -> None:
    method = getattr(buf, how, None)  # cache maintenance on pynq buffers; plain arrays have none
    if method is not None:
        method()


def check_batch(accel: NbqAccelerator, inputs: np.ndarray, golden: np.ndarray, repeat: int = 1,
                out=sys.stdout) -> bool:  # fmt: skip
    """Run `inputs` (repeated) through the accelerator, report mismatches and frames/s; True if bit-exact."""
    batch = np.tile(np.asarray(inputs, dtype=np.int64), (repeat, 1))
    outputs, seconds = accel.run(batch)
    count, first = mismatches(outputs, golden)
    for image, index, expected, got in first:
        print(f"MISMATCH image={image} index={index} expected={expected} got={got}", file=out)
    print(f"NBQ-PYNQ images={len(batch)} mismatches={count} seconds={seconds:.6f} "
          f"fps={frames_per_second(len(batch), seconds):.1f}", file=out)  # fmt: skip
    return count == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the nbq golden batch on the board and check it.")
    parser.add_argument("--bit", help="overlay bitstream (its .hwh must sit next to it) [from nbq_project.json]")
    parser.add_argument("--project", default=str(PROJECT_DIR), help="the nbq project folder [%(default)s]")
    parser.add_argument("--repeat", type=int, default=1, help="send the batch this many times, for timing [1]")
    args = parser.parse_args(argv)
    project = Path(args.project)
    fmt = load_format(project)
    inputs = read_dat(project / "tb_data" / "inputs.dat", fmt.in_size)
    golden = read_dat(project / "tb_data" / "golden.dat", fmt.out_size)
    accel = NbqAccelerator(args.bit or project / fmt.bitstream, fmt=fmt)
    return 0 if check_batch(accel, inputs, golden, max(1, args.repeat)) else 1


if __name__ == "__main__":
    sys.exit(main())
