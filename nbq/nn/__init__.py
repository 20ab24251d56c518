"""nbq.nn: train power-of-two (n-BQ-NN), binary and binary-complex networks in PyTorch, export ONNX.

Needs the ``train`` extra (torch).  Nothing outside nbq.nn imports torch, and
names here load lazily, so ``nbq.nn.cli`` and ``nbq.nn.data`` import without it.
"""

from __future__ import annotations

from nbq.lazy import lazy_exports

_EXPORTS = {
    "Split": "data", "load_dataset": "data",
    "export": "exporter", "to_onnx": "exporter",
    "ActQuant": "layers", "GlobalAvgPool": "layers", "QBatchNorm": "layers", "QConv2d": "layers",
    "QLinear": "layers", "SignAct": "layers", "WeightSpec": "layers",
    "ComplexConv2d": "complex", "LearnedImag": "complex",
    "make_memory_efficient": "edge",
    "BUILDERS": "models", "QuantConfig": "models", "build_model": "models",
    "AlphaSchedule": "quant", "quantize_po2": "quant", "reconstructed_weight": "quant", "set_alpha": "quant",
    "TrainResult": "trainer", "accuracy": "trainer", "seed_everything": "trainer", "train": "trainer",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
