"""The PYNQ driver copied into ZCU102 projects, driven by a fake overlay: a DMA + IP stand-in that
decodes the stream words it is sent on its own and answers with the golden outputs."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hls_graphs import cnn_mixed, golden, residual

from nbq.backends.hls import write_hls_project
from nbq.board_catalog import load_board
from nbq.plan import plan_graph


def load_driver(prj: Path):
    spec = importlib.util.spec_from_file_location(f"nbq_driver_{id(prj)}", prj / "driver" / "nbq_driver.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(params=["cnn_mixed", "residual"])
def project(request, tmp_path):
    """(project folder, driver module, inputs, golden) for an unsigned-input and a signed-input net."""
    g = {"cnn_mixed": cnn_mixed, "residual": residual}[request.param]()
    prj = tmp_path / "prj"
    write_hls_project(plan_graph(g, load_board("zcu102")), prj, *golden(g))
    driver = load_driver(prj)
    fmt = driver.load_format(prj)
    inputs = driver.read_dat(prj / "tb_data" / "inputs.dat", fmt.in_size)
    gold = driver.read_dat(prj / "tb_data" / "golden.dat", fmt.out_size)
    return prj, driver, inputs, gold


class FakeChannel:
    def __init__(self, on_transfer):
        self.on_transfer = on_transfer
        self.transfers: list[int] = []  # bytes per transfer

    def transfer(self, buf):
        assert buf.ctypes.data % 64 == 0, "the DMA (no realignment engine) needs 64-byte aligned transfers"
        assert buf.flags.c_contiguous
        self.transfers.append(buf.nbytes)
        self.on_transfer(buf)

    def wait(self):
        pass


class FakeIP:
    def __init__(self):
        self.writes: list[tuple[int, int]] = []

    def write(self, offset, value):
        self.writes.append((offset, value))


class FakeOverlay:
    """axi_dma_0 + nbq_0 of the block design: the 'hardware' maps each input image it receives
    (decoded from raw little-endian words of `word_bits`) to its golden output."""

    def __init__(self, manifest: dict, inputs: np.ndarray, gold: np.ndarray, corrupt: tuple[int, int] | None = None):
        bits = manifest["word_bits"]
        self.in_dtype = np.dtype(f"<{'i' if manifest['input']['signed'] else 'u'}{bits // 8}")
        self.out_dtype = np.dtype(f"<{'i' if manifest['output']['signed'] else 'u'}{bits // 8}")
        self.in_size, self.out_size = manifest["input"]["size"], manifest["output"]["size"]
        self.answers = {tuple(x): y for x, y in zip(inputs.tolist(), gold.tolist(), strict=True)}
        self.pending: list[int] = []
        self.done = 0
        self.corrupt = corrupt
        ip = FakeIP()
        setattr(self, manifest["zynq"]["ip_cell"], ip)
        self.ip = ip
        dma = type("DMA", (), {})()
        dma.sendchannel = FakeChannel(self._receive)
        dma.recvchannel = FakeChannel(self._answer)
        setattr(self, manifest["zynq"]["dma_cell"], dma)
        self.dma = dma

    def _receive(self, buf):
        assert self.ip.writes == [(0x00, 0x81)], "the IP must run (auto-restart) before data flows"
        self.pending += np.frombuffer(np.ascontiguousarray(buf).tobytes(), dtype=self.in_dtype).tolist()

    def _answer(self, buf):
        assert buf.nbytes == self.out_size * self.out_dtype.itemsize  # one image per S2MM transfer (TLAST)
        image, self.pending = tuple(self.pending[: self.in_size]), self.pending[self.in_size :]
        out = np.array(self.answers[image], dtype=np.int64)  # KeyError: the driver sent something else
        if self.corrupt and self.corrupt[0] == self.done:
            out[self.corrupt[1]] += 1
        buf.view(np.uint8)[:] = np.frombuffer(out.astype(self.out_dtype).tobytes(), dtype=np.uint8)
        self.done += 1


def allocate(shape, dtype):
    """Like pynq.allocate: a zeroed array at a page-aligned address."""
    dtype = np.dtype(dtype)
    raw = np.zeros(int(np.prod(shape)) * dtype.itemsize + 4096, dtype=np.uint8)
    skip = -raw.ctypes.data % 4096
    return raw[skip : skip + int(np.prod(shape)) * dtype.itemsize].view(dtype).reshape(shape)


def manifest_of(prj: Path) -> dict:
    import json

    return json.loads((prj / "nbq_project.json").read_text())


def test_driver_imports_without_pynq(project):
    _, driver, _, _ = project
    assert "pynq" not in sys.modules
    assert driver.AP_START_AUTO_RESTART == 0x81


def test_pack_and_unpack(project):
    prj, driver, inputs, gold = project
    fmt = driver.load_format(prj)
    m = manifest_of(prj)
    assert fmt.word_bits == m["word_bits"] and fmt.in_size == inputs.shape[1] and fmt.out_size == gold.shape[1]
    words = driver.pack(inputs, fmt)
    assert words.dtype.itemsize * 8 == m["word_bits"] and words.size == inputs.size
    assert np.array_equal(words.astype(np.int64).reshape(inputs.shape), inputs)
    raw = gold.astype(fmt.out_dtype)
    assert np.array_equal(driver.unpack(raw, fmt, len(gold)), gold)
    with pytest.raises(ValueError, match="range"):
        driver.pack(np.full_like(inputs, 2 ** m["word_bits"]), fmt)
    with pytest.raises(ValueError, match="expected"):
        driver.pack(inputs[:, :-1], fmt)
    with pytest.raises(ValueError, match="output words"):
        driver.unpack(raw.ravel()[:-1], fmt, len(gold))


def test_batch_through_a_fake_overlay_is_accepted(project):
    prj, driver, inputs, gold = project
    overlay = FakeOverlay(manifest_of(prj), inputs, gold)
    accel = driver.NbqAccelerator(fmt=driver.load_format(prj), overlay=overlay, allocate=allocate)
    out = io.StringIO()
    assert driver.check_batch(accel, inputs, gold, repeat=2, out=out)
    last = out.getvalue().splitlines()[-1]
    assert last.startswith(f"NBQ-PYNQ images={2 * len(inputs)} mismatches=0 seconds=") and " fps=" in last
    assert overlay.done == 2 * len(inputs) and not overlay.pending
    assert len(overlay.dma.sendchannel.transfers) == 1  # the whole batch in one MM2S transfer


def test_a_corrupted_output_is_rejected(project):
    prj, driver, inputs, gold = project
    overlay = FakeOverlay(manifest_of(prj), inputs, gold, corrupt=(2, 1))
    accel = driver.NbqAccelerator(fmt=driver.load_format(prj), overlay=overlay, allocate=allocate)
    out = io.StringIO()
    assert not driver.check_batch(accel, inputs, gold, out=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == f"MISMATCH image=2 index=1 expected={gold[2, 1]} got={gold[2, 1] + 1}"
    assert "mismatches=1 " in lines[-1]


def test_long_batches_are_split_to_the_dma_length_limit(project):
    prj, driver, inputs, gold = project
    fmt = driver.load_format(prj)
    image_bytes = fmt.in_size * fmt.in_dtype.itemsize
    per_send = driver.images_per_send(image_bytes, 4 * 64 * image_bytes)
    assert per_send == 4 * 64 and driver.images_per_send(image_bytes, 2**26 - 1) * image_bytes < 2**26
    step = 64 // math.gcd(image_bytes, 64)
    fmt = dataclasses.replace(fmt, dma_max_bytes=step * image_bytes + 1)  # `step` images a send, still aligned
    overlay = FakeOverlay(manifest_of(prj), inputs, gold)
    accel = driver.NbqAccelerator(fmt=fmt, overlay=overlay, allocate=allocate)
    batch = np.tile(inputs, (2 * step // len(inputs) + 2, 1))
    outputs, seconds = accel.run(batch)
    assert np.array_equal(outputs, np.tile(gold, (len(batch) // len(gold), 1))) and seconds >= 0
    sends = overlay.dma.sendchannel.transfers
    assert len(sends) == -(-len(batch) // step) > 1 and max(sends) <= fmt.dma_max_bytes
    assert sum(sends) == batch.size * fmt.in_dtype.itemsize
    with pytest.raises(ValueError, match="at most"):
        driver.images_per_send(image_bytes, step * image_bytes - 1)


def test_mismatch_and_rate_helpers(project):
    _, driver, _, gold = project
    count, first = driver.mismatches(np.tile(gold, (3, 1)), gold)
    assert count == 0 and first == []
    bad = np.tile(gold, (2, 1))
    bad[len(gold) + 1, 0] -= 5
    count, first = driver.mismatches(bad, gold, limit=5)
    assert count == 1 and first == [(len(gold) + 1, 0, int(gold[1, 0]), int(gold[1, 0]) - 5)]
    with pytest.raises(ValueError, match="cannot compare"):
        driver.mismatches(bad[:, :-1], gold)
    assert driver.frames_per_second(100, 0.5) == 200.0 and driver.frames_per_second(5, 0) == 0.0
    with pytest.raises(ValueError, match="not supported"):
        driver.word_dtype(12, True)


def test_driver_refuses_a_u280_project(tmp_path, project):
    _, driver, _, _ = project
    g = cnn_mixed()
    write_hls_project(plan_graph(g, load_board("u280")), tmp_path / "card", *golden(g))
    with pytest.raises(ValueError, match="not an nbq Zynq"):
        driver.load_format(tmp_path / "card")
