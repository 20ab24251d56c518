"""Training loop: fixed seeds, α schedule for power-of-two layers, progress bar, checkpoints."""

from __future__ import annotations

import random
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nbq.console import Advance, progress_bar
from nbq.nn.data import Split
from nbq.nn.edge import GradFormat, make_memory_efficient
from nbq.nn.edge.optim import make_optimizer  # re-exported: nbq.nn.trainer.make_optimizer
from nbq.nn.loss import training_loss  # re-exported: nbq.nn.trainer.training_loss
from nbq.nn.quant import AlphaSchedule, set_alpha


@dataclass
class TrainResult:
    test_accuracy: float  # evaluation form (deployed weights, exact BN), percent
    train_accuracy: float
    epochs: int
    seconds: float
    history: list[dict]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@torch.no_grad()
def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray, batch: int = 512) -> float:
    """Top-1 accuracy (percent) of the model in evaluation mode."""
    model.eval()
    correct = 0
    for i in range(0, len(x), batch):
        out = model(torch.from_numpy(x[i : i + batch]))
        correct += int((out.argmax(1).numpy() == y[i : i + batch]).sum())
    return 100.0 * correct / max(len(x), 1)


def _progress(progress: bool | Advance | None, total: int):
    """(context, advance-with-note) for `train`'s `progress` argument."""
    if progress is True:  # nbq's bar on stderr, the epoch and loss beside it
        return progress_bar("training", total=total, unit="batch"), True
    return nullcontext(progress or None), False


def train(
    model: nn.Module,
    data: Split,
    epochs: int = 30,
    lr: float = 1e-2,
    batch_size: int = 64,
    seed: int = 0,
    alpha_start: float = 0.5,
    weight_decay: float = 0.0,
    progress: bool | Advance = False,
    checkpoint_dir: str | Path | None = None,
    threads: int | None = 1,
    shift: int = 0,
    memory_efficient: bool = False,
    po2_grad: bool = False,
) -> TrainResult:
    """Train in place with Adam and a cosine learning rate; returns evaluation-form accuracies.

    ``memory_efficient=True`` (binary networks) first converts the model in place with
    :func:`nbq.nn.edge.make_memory_efficient` (packed 1-bit saved activations, ℓ1 batch
    norm, binary weight gradients, float16 weights and gradients; ``po2_grad`` makes the
    gradients power-of-two) and trains it with :class:`nbq.nn.edge.EdgeAdam`.  A model that
    is already converted trains that way too.

    α for power-of-two layers decays from ``alpha_start`` geometrically and is
    exactly 0 for the last 15% of steps, so the trained model is its deployed
    form.  ``progress``: True shows nbq's progress bar (nbq.console.progress_bar: batches, rate, time
    left, epoch and loss); a callable is called as ``progress(batches_done, batches_total)`` after every
    batch.  ``checkpoint_dir`` receives ``last.pt`` after every epoch.  One
    thread by default: small networks gain nothing from more, and on a busy
    machine oversubscribed OpenMP threads slow training down tenfold.
    """
    if threads:
        torch.set_num_threads(threads)
    seed_everything(seed)
    gen = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(data.x_train)
    y = torch.from_numpy(data.y_train)
    steps_per_epoch = max(1, -(-len(x) // batch_size))
    total = epochs * steps_per_epoch
    schedule = AlphaSchedule(total, start=alpha_start)
    if memory_efficient or po2_grad:
        make_memory_efficient(model, GradFormat(po2=po2_grad))
    opt = make_optimizer(model, lr, weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(total, 1))
    clipped = [m for m in model.modules() if hasattr(m, "clip_latent")]
    history: list[dict] = []
    shown, with_note = _progress(progress, total)
    t0 = time.perf_counter()
    step = 0
    with shown as advance:
        for epoch in range(epochs):
            model.train()
            perm = torch.randperm(len(x), generator=gen)
            loss_sum = 0.0
            for i in range(0, len(x), batch_size):
                set_alpha(model, schedule(step))
                idx = perm[i : i + batch_size]
                xb = random_shift(x[idx], shift, gen) if shift else x[idx]
                loss = training_loss(model, xb, y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                for layer in clipped:
                    layer.clip_latent()
                batch_loss = loss.item()
                loss_sum += batch_loss * len(idx)
                step += 1
                if with_note:
                    advance(step, total, note=f"epoch {epoch + 1}/{epochs} loss {batch_loss:.3f}")
                elif advance is not None:
                    advance(step, total)
            entry = {"epoch": epoch + 1, "loss": loss_sum / len(x), "alpha": schedule(step)}
            history.append(entry)
            if checkpoint_dir is not None:
                save_checkpoint(model, Path(checkpoint_dir) / "last.pt", entry)
    set_alpha(model, 0.0)
    seconds = time.perf_counter() - t0
    return TrainResult(accuracy(model, data.x_test, data.y_test), accuracy(model, data.x_train, data.y_train),
                       epochs, seconds, history)


def random_shift(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Translate every image by up to ±max_shift pixels (zero fill): cheap augmentation for small images."""
    n, _, h, w = x.shape
    pad = F.pad(x, (max_shift,) * 4)
    dy, dx = (torch.randint(0, 2 * max_shift + 1, (n,), generator=gen) for _ in range(2))
    rows = (dy[:, None] + torch.arange(h)[None])[:, None, :, None].expand(n, x.shape[1], h, w + 2 * max_shift)
    out = torch.gather(pad, 2, rows)
    cols = (dx[:, None] + torch.arange(w)[None])[:, None, None, :].expand(n, x.shape[1], h, w)
    return torch.gather(out, 3, cols)


def save_checkpoint(model: nn.Module, path: Path, info: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "info": info, "nbq": getattr(model, "nbq_info", {})}, path)


def load_checkpoint(model: nn.Module, path: str | Path) -> dict:
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(ckpt["state_dict"])
    return ckpt["info"]
