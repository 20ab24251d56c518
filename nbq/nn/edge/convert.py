"""Turn a binary nbq.nn model into its memory-efficient training form, in place.

Walks the model in order, replacing each layer by its edge counterpart:

    QLinear / QConv2d (binary)  → EdgeLinear / EdgeConv2d
    QBatchNorm                  → L1BatchNorm (no γ; β starts at the BN's bias)
    SignAct                     → EdgeSign
    MaxPool2d (of ±1 values)    → EdgeMaxPool2d

The input quantizer, Flatten, Identity and GlobalAvgPool are kept.  A weight layer must
read either ±1 activations (after a sign, possibly pooled or flattened) or the network's
unsigned ≤ 8-bit input codes; anything else raises :class:`NbqError`.  Convert a freshly
built model: trained BatchNorm statistics are not carried over.
"""

from __future__ import annotations

from torch import nn

from nbq.errors import NbqError
from nbq.nn.edge.gradfmt import GradFormat
from nbq.nn.edge.layers import EdgeConv2d, EdgeLinear, EdgeMaxPool2d, EdgeSign, L1BatchNorm
from nbq.nn.layers import ActQuant, GlobalAvgPool, QBatchNorm, QConv2d, QLinear, SignAct

# what the next weight layer would read: the raw input, input codes, ±1 values, or anything else
_RAW, _CODES, _BINARY, _OTHER = "raw", "codes", "binary", "other"


def is_memory_efficient(model: nn.Module) -> bool:
    return bool(getattr(model, "memory_efficient", False))


def make_memory_efficient(model: nn.Module, grad_format: GradFormat | None = None) -> nn.Module:
    """Convert ``model`` (a binary network from the nbq.nn builders) in place and return it."""
    if is_memory_efficient(model):
        return model
    if not isinstance(model, nn.Sequential):
        raise NbqError("memory-efficient training converts nn.Sequential models (the nbq.nn builders)")
    walker = _Walker(grad_format or GradFormat())
    walker.convert(model)
    model.memory_efficient = True
    if isinstance(getattr(model, "nbq_info", None), dict):
        model.nbq_info = {**model.nbq_info, "training": "memory-efficient"}
    return model


class _Walker:
    def __init__(self, grad_format: GradFormat):
        self.grad_format = grad_format
        self.state = _RAW
        self.replaced: dict[nn.Module, nn.Module] = {}

    def convert(self, seq: nn.Sequential) -> None:
        for name, child in list(seq.named_children()):
            new = self.one(child)
            if new is not child:
                setattr(seq, name, new)

    def one(self, m: nn.Module) -> nn.Module:
        if isinstance(m, nn.Sequential):
            self.convert(m)
            return m
        if isinstance(m, QLinear | QConv2d):
            return self.weight_layer(m)
        if isinstance(m, QBatchNorm):
            return self.norm(m)
        if isinstance(m, SignAct):
            self.state = _BINARY
            return EdgeSign()
        if isinstance(m, nn.MaxPool2d):
            if self.state != _BINARY:
                raise NbqError("memory-efficient training pools ±1 activations only (put MaxPool after a sign)")
            return EdgeMaxPool2d(m)
        if isinstance(m, ActQuant):
            if self.state != _RAW or m.signed or m.bits > 8:
                raise NbqError("memory-efficient training takes one unsigned ≤ 8-bit input quantizer, "
                               "and sign activations elsewhere")
            self.state = _CODES
            return m
        if isinstance(m, nn.Flatten | nn.Identity):
            return m
        if isinstance(m, GlobalAvgPool):
            self.state = _OTHER
            return m
        raise NbqError(f"memory-efficient training does not support {type(m).__name__} layers; "
                       "it trains binary networks (mlp, digits_cnn, cnv, binarynet, paper_cifar)")

    def weight_layer(self, m: QLinear | QConv2d) -> nn.Module:
        if m.spec.kind != "binary":
            raise NbqError(f"memory-efficient training needs binary weights, found {m.spec.kind} "
                           f"in {type(m).__name__} (use --weights binary)")
        if self.state not in (_BINARY, _CODES):
            raise NbqError(f"{type(m).__name__} must read ±1 activations or the quantized network input")
        cls = EdgeLinear if isinstance(m, QLinear) else EdgeConv2d
        new = cls(m, self.state == _BINARY, self.grad_format)
        self.replaced[m] = new
        self.state = _OTHER
        return new

    def norm(self, m: QBatchNorm) -> L1BatchNorm:
        new = L1BatchNorm(m.num_features, m.in_step, m.sign_output)
        new.bias.data.copy_(m.bias.detach())
        if m._source is not None:
            layer, in_max = m._source
            new.attach(self.replaced.get(layer, layer), in_max)
        self.state = _OTHER
        return new
