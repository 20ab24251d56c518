"""Memory of one binary-network training step, standard vs memory-efficient (Wang et al.), and accuracy on digits.

    python bench/train_memory.py                        # ~25 min on one core; writes bench/results/train_memory.md
    python bench/train_memory.py --epochs 2 --seeds 0   # smoke run

Memory (batch 100): one training step (forward, backward, Adam step) of each network at full
width, on random data of the dataset's shape (uniform pixels quantized to 8 bits, random labels;
nothing is downloaded: memory depends on shapes only), accounted by
``nbq.nn.edge.measure_training_step``: bytes autograd saves for the backward pass (unique
storages, seen through saved-tensor hooks) + weights and buffers + gradients + optimizer state.
Standard = the nbq.nn binary model as built (float32, BatchNorm, sign STE, torch.optim.Adam);
memory-efficient = the same builder converted by ``make_memory_efficient`` (EdgeAdam).

Accuracy: the same builders on scikit-learn digits (8×8), same epochs, seeds and recipe
(Adam/EdgeAdam, lr 0.01, cosine, batch 64) for standard training, memory-efficient training
with float16 gradients, and with power-of-two gradients.  The first seed's memory-efficient
model is exported, compiled by nbq and run by the reference executor on the test set.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nbq.nn import QuantConfig, build_model, export, load_dataset, train  # noqa: E402
from nbq.nn.edge import compare_step_memory  # noqa: E402
from nbq.nn.layers import QConv2d, QLinear  # noqa: E402

# (label, builder, input shape, dataset shape, paper's ratio, topology)
MEMORY_ROWS = [
    ("MLP", "mlp", (1, 28, 28), "MNIST", 2.78, "784-256-256-10"),
    ("CNV", "cnv", (3, 32, 32), "CIFAR-10", 4.17, "2×C64, P, 2×C128, P, 2×C256, 2×FC512, FC10"),
    ("BinaryNet", "binarynet", (3, 32, 32), "CIFAR-10", 3.71,
     "2×C128, P, 2×C256, P, 2×C512, P, 2×FC1024, FC10 (padded)"),
]
# (label, builder, width) trained on digits; on 8×8 inputs CNV (padded) and BinaryNet have the same
# layer sequence (6 convs, 2 pools, 2 hidden FC), so they differ here by width only
ACCURACY_ROWS = [("MLP", "mlp", 1.0), ("digits CNN", "digits_cnn", 2.0), ("CNV", "cnv", 0.25),
                 ("BinaryNet", "binarynet", 0.25)]
MODES = {"standard": {}, "efficient": {"memory_efficient": True},
         "efficient, po2 ∂Y": {"memory_efficient": True, "po2_grad": True}}
SEEDS = (0, 1, 2)
MIB = 2**20


def activation_count(name: str, shape: tuple[int, ...], batch: int) -> tuple[int, int]:
    """(weights, pre-activations per batch): elements of every conv/linear output."""
    model = build_model(name, QuantConfig.binary(8), shape, seed=0)
    counts: list[int] = []
    hooks = [m.register_forward_hook(lambda m, i, o: counts.append(o.numel()))
             for m in model.modules() if isinstance(m, QConv2d | QLinear)]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(batch, *shape))
    for h in hooks:
        h.remove()
    weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, QConv2d | QLinear))
    return weights, sum(counts)


def memory_rows(batch: int) -> list[dict]:
    rows = []
    for label, name, shape, dataset, paper, topo in MEMORY_ROWS:
        mem = compare_step_memory(name, shape, batch=batch)
        weights, acts = activation_count(name, shape, batch)
        std, eff = mem["standard"].as_dict(), mem["memory-efficient"].as_dict()
        rows.append({"network": label, "builder": name, "input_shape": list(shape), "dataset_shape": dataset,
                     "topology": topo, "batch": batch, "weights": weights, "pre_activations": acts,
                     "standard": std, "efficient": eff, "ratio": round(std["total"] / eff["total"], 2),
                     "paper_ratio": paper})
        print(f"{label:10s} standard {std['total'] / MIB:8.2f} MiB  efficient {eff['total'] / MIB:7.2f} MiB  "
              f"ratio {std['total'] / eff['total']:.2f}x (paper {paper}x)", flush=True)
    return rows


def reference_matches(model, x: np.ndarray, tmp: Path) -> str:
    """Export, compile with nbq and compare the reference executor's integers with torch."""
    from nbq import reference
    from nbq.pipeline import lower

    path = export(model, torch.from_numpy(x[:1]), tmp)
    graph = lower(path)
    ints = reference.run(graph, x)
    (out,) = ints
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).double().numpy() / graph.tensors[out].scale
    return "yes" if np.array_equal(ints[out], np.rint(expected)) else "NO"


def accuracy_rows(epochs: int, seeds: list[int], tmp: Path) -> list[dict]:
    data = load_dataset("digits")
    rows = []
    for label, name, width in ACCURACY_ROWS:
        row = {"network": label, "builder": name, "width": width, "epochs": epochs, "seeds": list(seeds)}
        for mode, options in MODES.items():
            accs, train_accs, secs = [], [], []
            for seed in seeds:
                model = build_model(name, QuantConfig.binary(), data.shape, width=width, seed=seed)
                res = train(model, data, epochs=epochs, lr=1e-2, seed=seed, **options)
                accs.append(round(res.test_accuracy, 2))
                train_accs.append(round(res.train_accuracy, 2))
                secs.append(res.seconds)
                if mode == "efficient" and seed == seeds[0]:
                    row["reference_equals_torch"] = reference_matches(model, data.x_test, tmp)
            row[mode] = {"test_accuracy": accs, "train_accuracy": train_accs, "mean": round(float(np.mean(accs)), 2),
                         "std": round(float(np.std(accs)), 2), "train_seconds": round(float(np.mean(secs)), 1)}
            print(f"{label:10s} {mode:18s} {np.mean(accs):6.2f}% {accs} ({np.mean(secs):.1f}s per run)", flush=True)
        rows.append(row)
    tmp.unlink(missing_ok=True)
    return rows


def _mib(b: int) -> str:
    return f"{b / MIB:.2f}"


def render(mem: list[dict], acc: list[dict], epochs: int, seeds: list[int]) -> str:
    lines = [
        "# Memory-efficient binary training (Wang et al.): memory and accuracy",
        "",
        f"Written by `bench/train_memory.py` (torch {torch.__version__}, {platform.machine()}, one thread).",
        "",
        f"## Memory of one training step, batch {mem[0]['batch']}",
        "",
        "Measured, not modelled: one step (forward, backward, Adam step) on random data of the dataset's "
        "shape (8-bit quantized uniform pixels, random labels; nothing downloaded).  *saved* = bytes "
        "autograd keeps for the backward pass (unique storages via saved-tensor hooks, parameters "
        "excluded); *weights* include BN statistics; *grads* = `.grad` + packed binary gradients; "
        "*optim.* = optimizer state.  MiB = 2^20 bytes.",
        "",
        "| network (shape) | weights | pre-act. / batch | standard: saved / weights / grads / optim. = total MiB "
        "| efficient: saved / weights / grads / optim. = total MiB | measured ratio | paper's ratio |",
        "|---|---:|---:|---|---|---:|---:|",
    ]
    for r in mem:
        parts = [" / ".join(_mib(d[k]) for k in ("saved", "weights", "gradients", "optimizer"))
                 + f" = **{_mib(d['total'])}**" for d in (r["standard"], r["efficient"])]
        lines.append(f"| {r['network']} ({r['dataset_shape']} {'×'.join(map(str, r['input_shape']))}; "
                     f"{r['topology']}) | {r['weights']:,} | {r['pre_activations']:,} | {parts[0]} | {parts[1]} | "
                     f"**{r['ratio']:.2f}×** | {r['paper_ratio']:.2f}× |")
    per_act = ", ".join(f"{r['network']} {r['standard']['saved'] / r['pre_activations']:.1f} → "
                        f"{r['efficient']['saved'] / r['pre_activations']:.2f}" for r in mem)
    lines += [
        "",
        f"Saved bytes per pre-activation (standard → efficient): {per_act}.  Standard PyTorch training of a "
        "BNN keeps several float32 copies of every activation (the conv/linear input, the BatchNorm input, "
        "the sign's input, the max-pool input plus int64 indices) and a float32 copy of the binarized "
        "weights; the efficient mode keeps 3 bits per hidden unit (sign(x̂) for the ℓ1 BN, the straight-"
        "through mask, the next layer's input sign), 1 bit per max-pool input, one byte per 8-bit input "
        "code, σ per channel.  Weights go from float32 to float16, gradients of binary weights from "
        "float32 to 2 bits (sign and non-zero planes), Adam's two moments from float32 to float16.",
        "",
        "Where the ratios differ from the paper's: activations dominate the convolutional networks, and "
        "the measured baseline holds 3–4 float32 copies of each, so CNV and BinaryNet save more than the "
        "paper reports; the paper's ratios come from its own accounting (its baseline and its treatment "
        "of the backward pass's working buffers), which this table does not reproduce.  Transient "
        "buffers (the gradient flowing backward, one layer's temporaries) are not counted in either mode.",
        "",
        f"## Accuracy on scikit-learn digits ({epochs} epochs, seeds {', '.join(map(str, seeds))})",
        "",
        "Same builder, epochs, seeds and recipe (lr 0.01, cosine, batch 64) for every column; 450 test "
        "images.  *efficient* = float16 ∂Y, *po2 ∂Y* = power-of-two ∂Y (sign + exponent in [−8, 7], "
        "per-tensor shift).  *reference == torch*: the first seed's memory-efficient model, exported and "
        "compiled by nbq, gives exactly torch's integers in the reference executor.",
        "",
        "| network (width) | standard % | efficient % | efficient, po2 ∂Y % | Δ efficient − standard | "
        "train % (std / eff / po2) | s/run (std / eff / po2) | reference == torch |",
        "|---|---:|---:|---:|---:|---|---|---|",
    ]
    for r in acc:
        cells = [f"{r[m]['mean']:.2f} ± {r[m]['std']:.2f}" for m in MODES]
        secs = " / ".join(f"{r[m]['train_seconds']:.1f}" for m in MODES)
        fit = " / ".join(f"{np.mean(r[m]['train_accuracy']):.1f}" for m in MODES)
        gap = r["efficient"]["mean"] - r["standard"]["mean"]
        lines.append(f"| {r['network']} ({r['builder']} {r['width']:g}) | {' | '.join(cells)} | {gap:+.2f} | "
                     f"{fit} | {secs} | {r.get('reference_equals_torch', '-')} |")
    unfit = [r["network"] for r in acc if np.mean(r["standard"]["train_accuracy"]) < 90]
    if unfit:
        lines += ["", f"Standard training did not fit the training set for {', '.join(unfit)} (train accuracy "
                  "column; per seed below): with real-valued weight gradients through six BatchNorm + sign "
                  "layers, Adam at lr 0.01 is unstable across seeds on digits, while the efficient mode "
                  "(binary weight gradients, γ-free ℓ1 BN) trains the same networks reliably.  The gap there "
                  "is the standard recipe's shortfall, not a cost of the efficient mode."]
    lines += ["", "Per seed: " + "; ".join(
        f"{r['network']}: " + ", ".join(f"{m} {'/'.join(f'{a:.2f}' for a in r[m]['test_accuracy'])}" for m in MODES)
        for r in acc) + ".", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "train_memory.md"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    mem = memory_rows(args.batch)
    acc = accuracy_rows(args.epochs, args.seeds, out.parent / "_train_memory_model.onnx")
    out.write_text(render(mem, acc, args.epochs, args.seeds))
    out.with_suffix(".json").write_text(json.dumps({"memory": mem, "accuracy": acc}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
