"""`nbq train`: argument definitions and the command body (nbq/cli.py wires them in)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nbq.console import visible
from nbq.distribution import install_hint
from nbq.errors import NbqError

BINARY_BY_DEFAULT = ("cnv", "bcnn", "binarynet")
COMPLEX_MODELS = ("bcnn",)  # complex-valued layers: binary weights make a binary-complex network
# the builders in nbq.nn.models.BUILDERS, listed here so building the parser does not import torch
MODEL_NAMES = ("digits_cnn", "mlp", "paper_cifar", "cnv", "bcnn", "resnet18", "binarynet")


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `nbq train`."""
    parser.add_argument("--model", default="digits_cnn", metavar="NAME",
                        help=f"network builder: {', '.join(MODEL_NAMES)} [digits_cnn]")
    parser.add_argument("--dataset", default="digits",
                        help="digits (scikit-learn, offline), mnist or cifar10 (need --data-dir) [digits]")
    parser.add_argument("--data-dir", default=None,
                        help="folder with MNIST IDX files or CIFAR-10 python batches [none: digits needs none]")
    parser.add_argument("--weights", default="auto", choices=("auto", "po2", "binary", "float"),
                        help="weight arithmetic; auto: binary for cnv/bcnn/binarynet, po2 otherwise [auto]")
    parser.add_argument("--weight-bits", type=int, default=3, metavar="N",
                        help="power-of-two weight bits n (1..8) [3]")
    parser.add_argument("--act-bits", type=int, default=4, metavar="K", help="activation bits for po2 networks [4]")
    parser.add_argument("--threshold-rule", default="lsq", choices=("lsq", "authors"),
                        help="po2 thresholds: least-squares scale, or the authors' n=3 fractions [lsq]")
    parser.add_argument("--width", type=float, default=1.0, metavar="W", help="channel width multiplier [1.0]")
    parser.add_argument("--imag", default="zero", choices=("zero", "learned"),
                        help="bcnn: imaginary part of the real input image [zero]")
    parser.add_argument("--epochs", type=int, default=30, metavar="N", help="training epochs [30]")
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate, cosine-annealed [0.01]")
    parser.add_argument("--batch-size", type=int, default=64, metavar="N", help="images per batch [64]")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initialization and the batch order [0]")
    parser.add_argument("--threads", type=int, default=1, metavar="N", help="torch CPU threads [1]")
    parser.add_argument("--checkpoint-dir", default=None, metavar="DIR",
                        help="write last.pt here after every epoch [no checkpoints]")
    parser.add_argument("--weight-format", default="dq", choices=("dq", "float"),
                        help="exported weights: DequantizeLinear(int8), or float initializers [dq]")
    parser.add_argument("--complex-form", default="four_convs", choices=("four_convs", "block"),
                        help="bcnn export: four real convolutions, or one block conv [[A,-B],[B,A]] [four_convs]")
    parser.add_argument("--memory-efficient", action="store_true",
                        help="binary networks: train keeping only 1-bit packed activations, l1 batch norm, "
                             "binary weight gradients, float16 weights/gradients (Wang et al.) [off]")
    parser.add_argument("--po2-grad", action="store_true",
                        help="memory-efficient training with power-of-two gradients (sign + exponent in [-8, 7]; "
                             "implies --memory-efficient) [off]")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar (a terminal shows one on stderr; a log gets a start and an end line) "
                             "[progress shown]")
    parser.add_argument("-o", "--output", default="model.onnx",
                        help="ONNX file to write, with its .json summary and the held-out test split as "
                             "NAME_test.npz beside it [model.onnx]")

def run_train(ns: argparse.Namespace) -> int:
    """Train, export ONNX and a JSON summary; NbqError for bad names, folders or files."""
    if ns.model not in MODEL_NAMES:
        raise NbqError(f"unknown model {ns.model!r}; choose one of {', '.join(MODEL_NAMES)}")
    try:
        import torch
    except ImportError:
        raise NbqError(f"nbq train needs PyTorch (torch==2.13.0 CPU): {install_hint('train')}") from None
    from nbq.nn.data import load_dataset
    from nbq.nn.exporter import export
    from nbq.nn.models import QuantConfig, build_model
    from nbq.nn.trainer import train

    efficient = ns.memory_efficient or ns.po2_grad
    binary_default = ns.model in BINARY_BY_DEFAULT or efficient
    kind = ns.weights if ns.weights != "auto" else ("binary" if binary_default else "po2")
    if efficient and kind != "binary":
        raise NbqError("--memory-efficient trains binary networks only (--weights binary)")
    data = load_dataset(ns.dataset, ns.data_dir)
    if kind == "po2":
        if not 1 <= ns.weight_bits <= 8:
            raise NbqError(f"--weight-bits must be 1..8, got {ns.weight_bits}")
        if ns.threshold_rule == "authors" and ns.weight_bits != 3:
            raise NbqError("--threshold-rule authors exists for --weight-bits 3 only")
        cfg = QuantConfig.po2(ns.weight_bits, ns.act_bits, data.input_bits, ns.threshold_rule)
    elif kind == "binary":
        cfg = QuantConfig.binary(data.input_bits)
    else:
        cfg = QuantConfig.float(data.input_bits)
    options = {"imag": ns.imag} if ns.model == "bcnn" else {}
    model = build_model(ns.model, cfg, data.shape, data.num_classes, ns.width, seed=ns.seed, **options)
    result = train(model, data, epochs=ns.epochs, lr=ns.lr, batch_size=ns.batch_size, seed=ns.seed,
                   progress=not ns.no_progress, checkpoint_dir=ns.checkpoint_dir, threads=ns.threads,
                   memory_efficient=efficient, po2_grad=ns.po2_grad)
    out = export(model, torch.from_numpy(data.x_test[:1]), ns.output, ns.complex_form, ns.weight_format)
    arithmetic = f"{kind}-complex" if ns.model in COMPLEX_MODELS else kind  # what the network computes
    summary = {
        "model": ns.model, "dataset": ns.dataset, "weights": arithmetic, "config": cfg.describe(),
        "width": ns.width, "epochs": ns.epochs, "seed": ns.seed, "split": data.description,
        "training": _training_mode(ns),
        "test_accuracy": round(result.test_accuracy, 2), "train_accuracy": round(result.train_accuracy, 2),
        "train_seconds": round(result.seconds, 1), "onnx": str(out),
    }
    test_npz = write_test_split(out, data.x_test, data.y_test)
    summary["test_data"] = str(test_npz)
    Path(out).with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    mode = "" if not efficient else ", " + _training_mode(ns)
    print(f"{ns.model} ({arithmetic}{mode}) on {ns.dataset}: test accuracy {result.test_accuracy:.2f}% "
          f"in {result.seconds:.1f}s -> {visible(out)}; held-out test split ({len(data.y_test)} images) -> "
          f"{visible(test_npz)}")
    return 0


def test_split_path(onnx_path: str | Path) -> Path:
    """m.onnx -> m_test.npz beside it."""
    p = Path(onnx_path)
    return p.with_name(f"{p.stem}_test.npz")


def write_test_split(onnx_path: str | Path, x, y) -> Path:
    """The held-out split as `nbq compile --test-data` reads it: x (N, C, H, W) float32 as the model takes it,
    y int64 labels; at most nbq.inputs.MAX_IMAGES images (the first ones) so the file is always accepted."""
    import numpy as np

    from nbq.inputs import MAX_IMAGES

    path = test_split_path(onnx_path)
    np.savez(path, x=np.asarray(x[:MAX_IMAGES], dtype=np.float32), y=np.asarray(y[:MAX_IMAGES], dtype=np.int64))
    return path


def _training_mode(ns: argparse.Namespace) -> str:
    if ns.po2_grad:
        return "memory-efficient, po2 gradients"
    return "memory-efficient" if ns.memory_efficient else "standard"
