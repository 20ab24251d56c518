"""The training loss, shared by the training loop (nbq.nn.trainer) and the memory accounting (nbq.nn.edge.memory)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def training_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the model's logits times ``model.logit_scale``.

    Binary classifiers output integer sums of ±1 products (up to ±fan-in): the loss sees them
    divided by a fixed temperature; argmax, the deployed output and the export are unchanged.
    """
    return F.cross_entropy(model(x) * float(getattr(model, "logit_scale", 1.0)), y)
