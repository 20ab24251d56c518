"""Train the demo power-of-two CNN on scikit-learn digits and export it for nbq.

    python examples/make_digits_cnn.py            # writes examples/digits_po2_cnn.{onnx,json}

Network (nbq.nn.models.digits_cnn, width 1): 4-bit input quantizer → conv3×3-16
→ BN → 4-bit activation → maxpool → conv3×3-32 → BN → 4-bit activation →
maxpool → flatten → dense-10 (bias).  Weights are 3-bit powers of two
{0, ±1, ±1/2, ±1/4}.  The same CNN with float weights and ReLU activations is
trained too, as the float baseline.  Fixed seed; about 20 s on one core.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a source checkout without installing

from nbq.nn import QuantConfig, build_model, export, load_dataset, train  # noqa: E402

SEED = 0
EPOCHS = 30
LR = 1e-2
WIDTH = 1.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", default=str(HERE / "digits_po2_cnn.onnx"), help="ONNX file to write")
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--weight-bits", type=int, default=3)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    data = load_dataset("digits")

    float_model = build_model("digits_cnn", QuantConfig.float(), data.shape, width=WIDTH, seed=SEED)
    float_res = train(float_model, data, epochs=args.epochs, lr=LR, seed=SEED)

    cfg = QuantConfig.po2(args.weight_bits, act_bits=4, input_bits=4)
    model = build_model("digits_cnn", cfg, data.shape, width=WIDTH, seed=SEED)
    res = train(model, data, epochs=args.epochs, lr=LR, seed=SEED)

    # the main file stores the codebook values as float initializers; the _dq twin stores
    # DequantizeLinear(int8) weights, which ONNX Runtime's default optimizer leaves exact
    out = Path(args.out)
    out_dq = out.with_name(out.stem + "_dq.onnx")
    example = torch.from_numpy(data.x_test[:1])
    export(model, example, out, weight_format="float")
    export(model, example, out_dq, weight_format="dq")

    # check both files in ONNX Runtime against torch's evaluation form
    import onnxruntime as ort

    with torch.no_grad():
        torch_logits = model(torch.from_numpy(data.x_test)).numpy()
    checks = {}
    for path, level in ((out, "ORT_DISABLE_ALL"), (out_dq, "ORT_ENABLE_ALL")):
        so = ort.SessionOptions()
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        logits = sess.run(None, {"input": data.x_test})[0]
        checks[path.name] = {
            "graph_optimization_level": level,
            "test_accuracy": round(100.0 * float((logits.argmax(1) == data.y_test).mean()), 2),
            "max_abs_diff_vs_torch": float(np.abs(logits - torch_logits).max()),
        }

    info = {
        "model": "digits_cnn",
        "onnx": out.name,
        "onnx_dq": out_dq.name,
        "seed": SEED,
        "epochs": args.epochs,
        "lr": LR,
        "optimizer": "Adam, cosine learning rate, batch 64",
        "split": "sklearn.datasets.load_digits; train_test_split(test_size=0.25, random_state=0, stratify=y); "
        f"{len(data.x_train)} train / {len(data.x_test)} test",
        "input": "pixels 0..16 divided by 16 (float in [0, 1]); exported as Clip(0, 15/16) -> "
        "QuantizeLinear(scale 2^-4, uint8 zero point 0) -> DequantizeLinear, so pixel p becomes the "
        "integer min(p, 15)",
        "weights": f"{args.weight_bits}-bit power of two, codebook {_levels(args.weight_bits)}; "
        f"{out.name}: float initializers holding the codebook values; {out_dq.name}: "
        "DequantizeLinear(int8 integers, scale 2^-(r-1)) of the same values",
        "activations": "4-bit unsigned, scale 2^-3 (Clip(0, 15/8) -> QuantizeLinear -> DequantizeLinear)",
        "float_test_accuracy": round(float_res.test_accuracy, 2),
        "quantized_test_accuracy": round(res.test_accuracy, 2),
        "quantized_train_accuracy": round(res.train_accuracy, 2),
        "onnxruntime": checks,
        "train_seconds": round(float_res.seconds + res.seconds, 1),
        "total_seconds": round(time.perf_counter() - t0, 1),
        "torch": torch.__version__,
    }
    out.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info, indent=2))
    return 0


def _levels(n: int) -> list[float]:
    from nbq.formats import Po2Codebook

    return [float(v) for v in Po2Codebook(n).levels()]


if __name__ == "__main__":
    raise SystemExit(main())
