"""Bit packing: 8 booleans per byte (uint8), and ternary gradients as two packed bit planes.

Bit i of a flattened tensor lives in byte i // 8 at bit position 7 - i % 8 (most
significant bit first, like ``numpy.packbits``).  A packed tensor of n values
holds exactly ceil(n / 8) bytes in its own storage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

_SHIFTS = torch.tensor([7, 6, 5, 4, 3, 2, 1, 0], dtype=torch.uint8)


def pack_bits(mask: torch.Tensor) -> torch.Tensor:
    """Booleans (any shape) -> uint8 tensor of ceil(numel / 8) bytes, MSB first."""
    flat = mask.reshape(-1).to(torch.uint8)
    pad = (-flat.numel()) % 8
    if pad:
        flat = torch.cat([flat, flat.new_zeros(pad)])
    # each byte is the sum of its bits times 2^(7-i): an exact integer below 256
    weights = torch.bitwise_left_shift(torch.ones(8, dtype=torch.int32), _SHIFTS.to(torch.int32))
    return (flat.view(-1, 8).to(torch.int32) * weights).sum(1).to(torch.uint8)


def unpack_bits(packed: torch.Tensor, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
    """Inverse of :func:`pack_bits`: a bool tensor of ``shape``."""
    n = math.prod(shape)
    bits = torch.bitwise_and(torch.bitwise_right_shift(packed[:, None], _SHIFTS), 1)
    return bits.reshape(-1)[:n].view(tuple(shape)).bool()


def unpack_signs(packed: torch.Tensor, shape: torch.Size | tuple[int, ...],
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Packed bits (1 = non-negative) -> ±1 of ``dtype``."""
    return torch.where(unpack_bits(packed, shape), 1.0, -1.0).to(dtype)


@dataclass
class PackedTernary:
    """A tensor with values in {-scale, 0, +scale}: a sign plane and a non-zero plane, 1 bit each."""

    positive: torch.Tensor  # packed: value > 0
    nonzero: torch.Tensor  # packed: value != 0
    shape: tuple[int, ...]
    scale: float

    @classmethod
    def from_sums(cls, sums: torch.Tensor, scale: float) -> PackedTernary:
        """scale·sign(sums), with sign(0) = 0."""
        return cls(pack_bits(sums > 0), pack_bits(sums != 0), tuple(sums.shape), float(scale))

    def dense(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        sign = unpack_signs(self.positive, self.shape, dtype)
        return sign * unpack_bits(self.nonzero, self.shape) * self.scale

    @property
    def nbytes(self) -> int:
        return self.positive.untyped_storage().nbytes() + self.nonzero.untyped_storage().nbytes()
