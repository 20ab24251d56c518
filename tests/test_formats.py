import numpy as np
import pytest

from nbq import formats
from nbq.formats import Po2Codebook


@pytest.mark.parametrize("n", range(1, 9))
def test_codebook_roundtrip_and_integer_form(n):
    book = Po2Codebook(n)
    levels = book.levels()
    assert levels.size == (2 if n == 1 else 2**n - 1)
    assert np.abs(levels).max() == 1.0
    codes = book.encode(levels)
    assert codes.max() < 2**n
    assert np.array_equal(book.decode(codes), levels)
    # the hardware integers times 2^-(r-1) give the codebook values exactly
    if n <= formats.MAX_HW_PO2_BITS:
        assert np.array_equal(book.int_values(codes) * 2.0**book.int_scale_exp, levels)
    else:
        with pytest.raises(ValueError, match="hardware supports"):
            book.int_values(codes)


def test_codebook_n3_matches_paper():
    assert sorted(Po2Codebook(3).levels()) == [-1, -0.5, -0.25, 0, 0.25, 0.5, 1]
    assert Po2Codebook(3).r == 3


def test_codebook_rejects_values_outside():
    with pytest.raises(ValueError):
        Po2Codebook(3).encode(np.array([0.125]))
    with pytest.raises(ValueError):
        Po2Codebook(1).encode(np.array([0.0]))


def test_code_layout_sign_and_binary_convention():
    assert Po2Codebook(1).encode(np.array([1.0, -1.0])).tolist() == [1, 0]
    book = Po2Codebook(3)
    assert book.encode(np.array([0.0, 1.0, 0.5, -1.0])).tolist() == [0, 1, 2, 0b101]


@pytest.mark.parametrize("n", range(1, 6))
def test_fit_po2_finds_smallest_n(n):
    rng = np.random.default_rng(n)
    levels = Po2Codebook(n).levels()
    w = rng.choice(levels, size=200)
    w[:len(levels)] = levels  # every level present, so n is the smallest
    fit = formats.fit_po2(w * 2.0**-3)
    assert (fit.n, fit.scale_exp) == (n, -3)


def test_fit_po2_rejects_non_powers():
    assert formats.fit_po2(np.array([0.5, 0.3])) is None
    assert formats.fit_po2(np.array([1.0, 2.0**-200])) is None  # spread needs more than 8 bits


def test_fit_int():
    fit = formats.fit_int(np.array([3, -5, 7]) * 0.25)
    assert (fit.bits, fit.scale_exp) == (4, -2)
    assert formats.fit_int(np.array([0.1])) is None  # 0.1 needs a 53-bit mantissa
    assert formats.fit_int(np.array([1, 2**20])) is None  # too wide for 16 bits


def test_bits_for_range():
    assert formats.bits_for_range(0, 1) == (1, False)
    assert formats.bits_for_range(0, 255) == (8, False)
    assert formats.bits_for_range(-128, 127) == (8, True)
    assert formats.bits_for_range(-129, 0) == (9, True)
    assert formats.bits_for_range(-1, 1) == (2, True)


def test_round_half_even_and_saturate():
    q = formats.quantize(np.array([0.5, 1.5, 2.5, -0.5, 100.0, -100.0]), 1.0, -4, 7)
    assert q.tolist() == [0, 2, 2, 0, 7, -4]


@pytest.mark.parametrize("bits", [1, 3, 5, 8, 13])
def test_pack_unpack(bits):
    rng = np.random.default_rng(bits)
    codes = rng.integers(0, 2**bits, size=1001)
    words = formats.pack_codes(codes, bits)
    assert words.size == -(-1001 // (64 // bits))
    assert np.array_equal(formats.unpack_codes(words, bits, 1001), codes)
