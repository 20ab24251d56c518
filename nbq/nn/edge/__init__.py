"""Memory-efficient binary network training ("training on the edge", Wang et al., arXiv 2102.04270).

A drop-in training mode for the binary networks of :mod:`nbq.nn.models`:
:func:`make_memory_efficient` converts a model in place, :class:`EdgeAdam` trains it, and
:func:`measure_training_step` accounts the memory of one step.  See docs/training.md.
"""

from nbq.nn.edge.convert import is_memory_efficient, make_memory_efficient
from nbq.nn.edge.gradfmt import GradFormat, po2_gradient
from nbq.nn.edge.layers import EdgeConv2d, EdgeLinear, EdgeMaxPool2d, EdgeSign, L1BatchNorm
from nbq.nn.edge.memory import StepMemory, compare_step_memory, measure_training_step
from nbq.nn.edge.optim import EdgeAdam
from nbq.nn.edge.packing import PackedTernary, pack_bits, unpack_bits, unpack_signs

__all__ = [
    "EdgeAdam", "EdgeConv2d", "EdgeLinear", "EdgeMaxPool2d", "EdgeSign", "GradFormat", "L1BatchNorm",
    "PackedTernary", "StepMemory", "compare_step_memory", "is_memory_efficient", "make_memory_efficient",
    "measure_training_step", "pack_bits", "po2_gradient", "unpack_bits", "unpack_signs",
]
