"""Small torch versions of well-known architectures, exported with torch.onnx.export as common tools do.

SqueezeNet-style (fire modules: squeeze 1x1, expand 1x1 + 3x3, Concat), DenseNet-style (dense block: Concat
of the input and a conv's output; transition with AveragePool) and ResNet-50-style (bottleneck blocks with
residual Add, GlobalAveragePool, Flatten, Gemm, final Softmax), each with BatchNorm, small widths and 8x8 or
16x16 inputs so they quantize and compile in seconds. Untrained (seeded) weights: the tests check structure
and exactness, not accuracy; BatchNorm statistics are set to non-trivial values so folding matters.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def conv_bn_relu(cin: int, cout: int, k: int, stride: int = 1, relu: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, nn.ReLU()) if relu else nn.Sequential(*layers)


class Fire(nn.Module):
    def __init__(self, cin: int, squeeze: int, expand: int):
        super().__init__()
        self.squeeze = conv_bn_relu(cin, squeeze, 1)
        self.expand1 = conv_bn_relu(squeeze, expand, 1)
        self.expand3 = conv_bn_relu(squeeze, expand, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze(x)
        return torch.cat([self.expand1(s), self.expand3(s)], 1)


class SqueezeNetLike(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.stem = conv_bn_relu(1, 16, 3)
        self.pool = nn.MaxPool2d(2)
        self.fire1, self.fire2 = Fire(16, 4, 8), Fire(16, 4, 8)
        self.head = conv_bn_relu(16, classes, 1)
        self.gap = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fire2(self.fire1(self.pool(self.stem(x))))
        return torch.flatten(self.gap(self.head(x)), 1)


class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int):
        super().__init__()
        self.conv = conv_bn_relu(cin, growth, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.conv(x)], 1)


class DenseNetLike(nn.Module):
    def __init__(self, classes: int = 10, growth: int = 4):
        super().__init__()
        self.stem = conv_bn_relu(1, 8, 3)
        self.block1 = nn.Sequential(DenseLayer(8, growth), DenseLayer(8 + growth, growth))
        self.transition = nn.Sequential(conv_bn_relu(8 + 2 * growth, 8, 1), nn.AvgPool2d(2))
        self.block2 = nn.Sequential(DenseLayer(8, growth), DenseLayer(8 + growth, growth))
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8 + 2 * growth, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block2(self.transition(self.block1(self.stem(x))))
        return self.fc(torch.flatten(self.gap(x), 1))


class Bottleneck(nn.Module):
    def __init__(self, cin: int, mid: int, cout: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(conv_bn_relu(cin, mid, 1), conv_bn_relu(mid, mid, 3, stride),
                                  conv_bn_relu(mid, cout, 1, relu=False))
        self.shortcut = (conv_bn_relu(cin, cout, 1, stride, relu=False) if stride != 1 or cin != cout
                         else nn.Identity())
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


class ResNetLike(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.stem = conv_bn_relu(1, 8, 3)
        self.pool = nn.MaxPool2d(2)
        self.layer1 = nn.Sequential(Bottleneck(8, 4, 16), Bottleneck(16, 4, 16))
        self.layer2 = Bottleneck(16, 8, 32, stride=2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer2(self.layer1(self.pool(self.stem(x))))
        return torch.softmax(self.fc(torch.flatten(self.gap(x), 1)), dim=1)


MODELS = {"squeezenet": (SqueezeNetLike, (1, 8, 8)), "densenet": (DenseNetLike, (1, 8, 8)),
          "resnet50": (ResNetLike, (1, 16, 16))}


def build(name: str, seed: int = 0) -> nn.Module:
    """The model `name` of MODELS, seeded, with random BatchNorm statistics, in eval mode."""
    cls, _shape = MODELS[name]
    torch.manual_seed(seed)
    model = cls()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    return model.eval()


EXPORTERS = ("legacy", "legacy-unfolded", "dynamo")


def export(model: nn.Module, shape: tuple[int, ...], path: str | Path, opset: int = 13,
           exporter: str = "legacy") -> Path:
    """torch.onnx.export as tools usually call it, in eval mode:
    legacy           the TorchScript exporter with constant folding and a dynamic batch axis;
    legacy-unfolded  the same without constant folding (weight/shape subgraphs stay in the graph), batch 1;
    dynamo           torch.export-based exporter (torch's default; BN fused, ReduceMean pooling, opset 18+)."""
    path = Path(path)
    x = torch.zeros(1, *shape)
    names = {"input_names": ["input"], "output_names": ["output"]}
    if exporter == "dynamo":
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):  # it narrates every step
            torch.onnx.export(model, (x,), str(path), dynamo=True, **names)
    else:
        dynamic = {"input": {0: "batch"}, "output": {0: "batch"}} if exporter == "legacy" else None
        torch.onnx.export(model, x, str(path), opset_version=opset, dynamo=False,
                          do_constant_folding=exporter == "legacy", dynamic_axes=dynamic, **names)
    return path


def export_named(name: str, folder: str | Path, seed: int = 0, opset: int = 13, exporter: str = "legacy") -> Path:
    _cls, shape = MODELS[name]
    return export(build(name, seed), shape, Path(folder) / f"{name}_{exporter}.onnx", opset, exporter)
