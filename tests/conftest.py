import sys
from pathlib import Path

import onnx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import netgen  # noqa: E402


@pytest.fixture
def save_model(tmp_path):
    """Write an onnx.ModelProto to a file in tmp_path and return the path."""

    def _save(model: onnx.ModelProto, name: str = "model.onnx") -> Path:
        path = tmp_path / name
        onnx.save(model, str(path))
        return path

    return _save


@pytest.fixture
def random_nets():
    """(kind, seed, model) for 24 random po2 networks: MLPs and CNNs, n in 1..5."""
    nets = []
    for seed in range(24):
        n = seed % 5 + 1
        if seed % 2:
            nets.append(("cnn", seed, netgen.random_cnn(seed, n_bits=n, binary_acts=seed % 6 == 5)))
        else:
            nets.append(("mlp", seed, netgen.random_mlp(seed, n_bits=n)))
    return nets
