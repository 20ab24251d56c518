"""Mutation fuzzer: valid models and board files, mutated by hypothesis, fed to the nbq CLI in-process.

What every case must keep (the error contract in README "Errors and guarantees"):
- the exit code is 0 (it compiled) or 2 (bad input); never 3 (nbq's bug) or anything else;
- on exit 2, stderr is exactly one line `nbq: error: ...`; never a traceback;
- nothing is written outside the case's output folder;
- a compiled project holds no hostile name raw (every name passes an escaping function).

Run it in a child with an address-space limit (tests/robustness/test_fuzz.py does, with 2 GiB) so that
an unbounded allocation fails the case instead of swapping the machine:

    python tests/robustness/fuzz.py --cases 200           # what CI runs
    python bench/fuzz.py --cases 5000                     # the long run
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np
import onnx
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from onnx import numpy_helper

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
sys.path.insert(0, str(TESTS))
import netgen  # noqa: E402

from nbq.cli import main as nbq_main  # noqa: E402

# Strings a hostile model or board file carries: each would do harm if written raw into C++, TCL, Make,
# v++ cfg, Verilog, Python, Markdown/HTML or the terminal.  All contain MARK so a raw copy is found.
MARK = "PWN3D"
HOSTILE_NAMES = (
    f'x"; system("touch {MARK}"); //',
    f"*/ int {MARK} = 1; /*",
    f"a\nb $(shell touch {MARK})",
    f"}}]; exec touch {MARK}; puts {{",
    f"</script><script>{MARK}()</script>",
    f"[/][bold]{MARK}[/bold]",
    f"\x1b[2K\rok {MARK}",
    f"`touch {MARK}`",
    f"{MARK}\\",
    f"#{MARK};$@%",
)
EXTREME_INTS = (-(2**63), -(2**31), -1, 0, 1, 2, 3, 7, 2**15, 2**31 - 1, 2**31, 2**62)
EXTREME_FLOATS = (math.nan, math.inf, -math.inf, 0.0, -0.0, 1e-45, 3e38, -3e38, 0.5, 1.0, 2.0**-20)


def seed_models() -> list[onnx.ModelProto]:
    """Small valid models (MLPs and CNNs, several bit widths) that compile in well under a second."""
    return [netgen.random_mlp(1, n_bits=2), netgen.random_cnn(3, n_bits=3), netgen.random_cnn(5, n_bits=1),
            netgen.random_mlp(8, n_bits=4)]


SEEDS = [m.SerializeToString() for m in seed_models()]
BOARD = yaml.safe_load((REPO / "boards" / "zcu102.yaml").read_text())
BOARD_U280 = yaml.safe_load((REPO / "boards" / "u280.yaml").read_text())


# ------------------------------------------------------------------ mutations


def _rename(model: onnx.ModelProto, old: str, new: str) -> None:
    g = model.graph
    for node in g.node:
        node.input[:] = [new if n == old else n for n in node.input]
        node.output[:] = [new if n == old else n for n in node.output]
    for coll in (g.input, g.output, g.value_info):
        for vi in coll:
            if vi.name == old:
                vi.name = new
    for init in g.initializer:
        if init.name == old:
            init.name = new


def _mutate_initializer(model: onnx.ModelProto, data) -> str:
    inits = list(model.graph.initializer)
    if not inits:
        return "no initializer"
    init = inits[data.draw(st.sampled_from(range(len(inits))), label="initializer")]
    try:
        arr = numpy_helper.to_array(init).copy()
    except ValueError:  # an earlier mutation already broke its data
        return f"initializer {init.name}: already broken"
    how = data.draw(st.sampled_from(["value", "shape", "empty", "dtype", "truncate"]), label="how")
    if how == "value" and arr.size:
        flat = arr.reshape(-1)
        i = data.draw(st.integers(0, flat.size - 1), label="index")
        if np.issubdtype(arr.dtype, np.floating):
            flat[i] = data.draw(st.sampled_from(EXTREME_FLOATS), label="float")
        else:
            info = np.iinfo(arr.dtype)
            flat[i] = np.clip(data.draw(st.sampled_from(EXTREME_INTS), label="int"), info.min, info.max)
        new = numpy_helper.from_array(flat.reshape(arr.shape), init.name)
    elif how == "shape":
        dims = list(arr.shape) or [1]
        j = data.draw(st.integers(0, len(dims) - 1), label="dim")
        dims[j] = data.draw(st.sampled_from([0, 1, 2, dims[j] + 1, 2**31]), label="size")
        new = onnx.TensorProto()
        new.CopyFrom(init)
        del new.dims[:]
        new.dims.extend(dims)  # the data no longer matches the claimed shape
    elif how == "empty":
        new = numpy_helper.from_array(np.zeros((0,), arr.dtype), init.name)
    elif how == "dtype":
        with np.errstate(all="ignore"):  # NaN -> int64 is the point of the mutation
            cast = arr.astype(data.draw(st.sampled_from([np.float64, np.int64, np.float16])))
        new = numpy_helper.from_array(cast, init.name)
    else:
        new = onnx.TensorProto()
        new.CopyFrom(init)
        raw = new.raw_data or numpy_helper.from_array(arr).raw_data
        new.ClearField("float_data")
        new.ClearField("int32_data")
        new.ClearField("int64_data")
        new.raw_data = raw[: data.draw(st.integers(0, max(0, len(raw) - 1)), label="keep")]
    init.CopyFrom(new)
    return f"initializer {init.name}: {how}"


def _mutate_attribute(model: onnx.ModelProto, data) -> str:
    nodes = [n for n in model.graph.node if n.attribute]
    if not nodes:
        return "no attribute"
    node = nodes[data.draw(st.sampled_from(range(len(nodes))), label="node")]
    attr = node.attribute[data.draw(st.sampled_from(range(len(node.attribute))), label="attribute")]
    how = data.draw(st.sampled_from(["value", "drop", "length"]), label="how")
    if how == "drop":
        node.attribute.remove(attr)
    elif attr.type == onnx.AttributeProto.INT:
        attr.i = data.draw(st.sampled_from(EXTREME_INTS))
    elif attr.type == onnx.AttributeProto.INTS:
        values = list(attr.ints)
        if how == "length":
            values = values[: data.draw(st.integers(0, len(values)))] + [1] * data.draw(st.integers(0, 3))
        elif values:
            values[data.draw(st.integers(0, len(values) - 1))] = data.draw(st.sampled_from(EXTREME_INTS))
        del attr.ints[:]
        attr.ints.extend(values)
    elif attr.type == onnx.AttributeProto.FLOAT:
        attr.f = data.draw(st.sampled_from(EXTREME_FLOATS))
    elif attr.type == onnx.AttributeProto.STRING:
        attr.s = data.draw(st.sampled_from(HOSTILE_NAMES)).encode("utf-8", "surrogatepass")
    return f"node {node.name} attribute {attr.name}: {how}"


def _mutate_node(model: onnx.ModelProto, data) -> str:
    g = model.graph
    node = g.node[data.draw(st.sampled_from(range(len(g.node))), label="node")]
    how = data.draw(st.sampled_from(["op", "drop", "input", "duplicate"]), label="how")
    if how == "op":
        node.op_type = data.draw(st.sampled_from(["Conv", "Gemm", "MatMul", "Relu", "Clip", "Sign", "MaxPool",
                                                  "Add", "Mul", "QuantizeLinear", "Custom", ""]))
    elif how == "drop":
        g.node.remove(node)
    elif how == "input" and node.input:
        i = data.draw(st.integers(0, len(node.input) - 1))
        node.input[i] = data.draw(st.sampled_from(["", "missing", node.output[0]]))  # dangling / cycle
    else:
        copy = g.node.add()
        copy.CopyFrom(node)  # two producers of one tensor
    return f"node {node.name}: {how}"


def _mutate_io(model: onnx.ModelProto, data) -> str:
    values = list(model.graph.input) + list(model.graph.output)
    vi = values[data.draw(st.sampled_from(range(len(values))), label="value")]
    dims = vi.type.tensor_type.shape.dim
    how = data.draw(st.sampled_from(["dim", "symbolic", "rank", "elem"]), label="how")
    if how == "dim" and len(dims):
        d = dims[data.draw(st.integers(0, len(dims) - 1))]
        d.dim_value = data.draw(st.sampled_from([0, 1, 3, 2**16, 2**31 - 1]))
    elif how == "symbolic" and len(dims):
        dims[data.draw(st.integers(0, len(dims) - 1))].dim_param = data.draw(st.sampled_from(HOSTILE_NAMES))
    elif how == "rank":
        vi.type.tensor_type.shape.dim.add().dim_value = 1
    else:
        vi.type.tensor_type.elem_type = data.draw(st.sampled_from([onnx.TensorProto.DOUBLE, onnx.TensorProto.INT8,
                                                                   onnx.TensorProto.STRING, 0]))
    return f"value {vi.name}: {how}"


def _mutate_names(model: onnx.ModelProto, data) -> str:
    g = model.graph
    how = data.draw(st.sampled_from(["graph", "node", "tensor", "output"]), label="how")
    name = data.draw(st.sampled_from(HOSTILE_NAMES), label="name")
    if how == "graph":
        g.name = name
    elif how == "node":
        g.node[data.draw(st.sampled_from(range(len(g.node))), label="node")].name = name
    else:
        pool = [o.name for o in g.output] if how == "output" else [t for n in g.node for t in n.output]
        _rename(model, data.draw(st.sampled_from(pool)), name)
    return f"{how} renamed {name!r}"


def _mutate_opset(model: onnx.ModelProto, data) -> str:
    model.opset_import[0].version = data.draw(st.sampled_from([0, 1, 6, 11, 13, 19, 21, 999, -1]))
    return f"opset {model.opset_import[0].version}"


MODEL_MUTATIONS = (_mutate_initializer, _mutate_attribute, _mutate_node, _mutate_io, _mutate_names, _mutate_opset)


def mutated_model(data) -> tuple[bytes, list[str]]:
    model = onnx.ModelProto()
    model.ParseFromString(SEEDS[data.draw(st.sampled_from(range(len(SEEDS))), label="seed model")])
    done = [m(model, data) for m in data.draw(st.lists(st.sampled_from(MODEL_MUTATIONS), min_size=1, max_size=3),
                                             label="mutations")]
    blob = model.SerializeToString()
    if data.draw(st.integers(0, 9), label="corrupt bytes") == 0:  # now and then, damage the protobuf itself
        pos = data.draw(st.integers(0, len(blob) - 1))
        blob = blob[:pos] + bytes([blob[pos] ^ 0xFF]) + blob[pos + 1 :]
        done.append(f"byte {pos} flipped")
    return blob, done


BOARD_VALUES = st.one_of(st.sampled_from(EXTREME_INTS), st.sampled_from(EXTREME_FLOATS), st.sampled_from(HOSTILE_NAMES),
                         st.booleans(), st.none(), st.just([]), st.just({}), st.just(["HBM[0]", "x; y"]),
                         st.just("70%"), st.just("-5%"), st.just("1e9"))


def mutated_board(data) -> tuple[str, list[str]]:
    board = yaml.safe_load(yaml.safe_dump([BOARD, BOARD_U280][data.draw(st.integers(0, 1), label="board")]))
    done = []
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        section = data.draw(st.sampled_from([None, "resources", "memory", "budget", "shell"]), label="section")
        target = board if section is None else board.setdefault(section, {})
        if not isinstance(target, dict):
            continue
        keys = sorted(target) + ["unknown_key"]
        key = data.draw(st.sampled_from(keys), label="key")
        if data.draw(st.integers(0, 5), label="drop") == 0:
            target.pop(key, None)
            done.append(f"{section}.{key} dropped")
        else:
            target[key] = data.draw(BOARD_VALUES, label="value")
            done.append(f"{section}.{key} = {target[key]!r}")
    return yaml.safe_dump(board, allow_unicode=True), done


# ------------------------------------------------------------------ one case


def unescaped_payloads(project: Path) -> list[str]:
    """Generated files holding a hostile name (or a terminal control character) as it was given.

    JSON only has to stay valid JSON (its encoder escapes); HTML only has to escape markup; Markdown also
    table pipes, line breaks and code spans; every other file (C++, TCL, Make, cfg, SystemVerilog, Python)
    must not hold any hostile name raw."""
    found = []
    for path in sorted(p for p in project.rglob("*") if p.is_file() and not p.is_symlink()):
        blob = path.read_bytes()
        rel = str(path.relative_to(project))
        if path.suffix in (".npy", ".bin", ".o", ".dat") or b"\0" in blob[:4096]:
            continue
        if path.suffix == ".json":
            try:
                json.loads(blob)
            except ValueError:
                found.append(rel)
            continue
        active = {".html": "<", ".md": "<|\n`"}.get(path.suffix)  # what markup and tables act on
        payloads = HOSTILE_NAMES if active is None else [h for h in HOSTILE_NAMES if any(c in h for c in active)]
        for needle in [h.encode() for h in payloads] + [b"\x1b"]:
            at = blob.find(needle)
            if at >= 0:
                found.append(f"{rel}: {blob[max(0, at - 40):at + len(needle) + 20]!r}")
                break
    return found


class ContractBroken(AssertionError):
    def __init__(self, problem: str, what: list[str], argv: list[str], stderr: str) -> None:
        super().__init__(f"{problem}; mutations: {what}; nbq {' '.join(argv)}\nstderr:\n{stderr[-2000:]}")
        last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        self.kind = f"{problem} | {last[:160]}"  # groups the same bug found through many mutations
        self.example = f"mutations: {what}; nbq {' '.join(argv)}"


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def run_case(argv: list[str], work: Path, out: Path | None, what: list[str]) -> int:
    """Run nbq in-process from `work`; raise ContractBroken if the error contract is broken."""
    before = _tree(work)
    stdout, stderr = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(work)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = nbq_main(argv)
            except SystemExit as exc:  # argparse
                code = exc.code if isinstance(exc.code, int) else 2
            except BaseException:
                code = None
                traceback.print_exc()
    finally:
        os.chdir(cwd)
    err = stderr.getvalue()
    lines = [line for line in err.splitlines() if line.strip()]
    problem = None
    if code not in (0, 2):
        problem = f"exit {code}"
    elif "Traceback" in err or "Traceback" in stdout.getvalue():
        problem = "a traceback"
    elif code == 2 and not (len(lines) == 1 and lines[0].startswith("nbq: error: ")):
        problem = "not one error line"
    else:
        outside = {p for p in _tree(work) - before if out is None or not (work / p).is_relative_to(out)}
        if outside:
            problem = f"wrote outside the output folder: {sorted(outside)[:3]}"
        elif code == 0 and out is not None and out.is_dir():
            raw = unescaped_payloads(out)
            if raw:
                problem = f"a hostile name written raw into {raw[:3]}"
    if problem:
        raise ContractBroken(problem, what, argv, err)
    return code


def fuzz(cases: int, seed: int | None, collect: bool = False) -> dict[str, list[str]]:
    """Run `cases` cases; raise on the first broken contract (shrunk), or with collect=True go on and return
    the broken contracts grouped by their first line."""
    base = Path(tempfile.mkdtemp(prefix="nbq-fuzz-"))
    counter: dict = {"n": 0, "codes": {}}
    broken: dict[str, list[str]] = {}
    model_path = base / "seed_model.onnx"
    model_path.write_bytes(SEEDS[0])

    @settings(max_examples=cases, deadline=None, database=None, derandomize=seed is None,
              phases=[Phase.explicit, Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(st.data())
    def case(data) -> None:
        counter["n"] += 1
        work = base / f"case{counter['n']}"
        work.mkdir()
        try:
            if data.draw(st.integers(0, 3), label="kind") < 3:  # models, then board files
                blob, what = mutated_model(data)
                (work / "model.onnx").write_bytes(blob)
                command = data.draw(st.sampled_from(["compile", "estimate"]), label="command")
                argv = [command, "model.onnx"] + (["-o", "proj", "-q"] if command == "compile" else [])
                code = run_case(argv, work, work / "proj", what)
            else:
                text, what = mutated_board(data)
                (work / "board.yaml").write_text(text)
                argv = ["compile", str(model_path), "--board", "board.yaml", "-o", "proj", "-q"]
                code = run_case(argv, work, work / "proj", what)
        except ContractBroken as exc:
            if not collect:
                raise
            broken.setdefault(exc.kind, []).append(exc.example)
            return
        else:
            counter["codes"][code] = counter["codes"].get(code, 0) + 1
        finally:
            shutil.rmtree(work, ignore_errors=True)

    if seed is not None:
        from hypothesis import seed as hseed

        case = hseed(seed)(case)
    try:
        case()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"fuzz: {counter['n']} runs (incl. shrinking), exit codes {dict(sorted(counter['codes'].items()))}, "
          f"{sum(map(len, broken.values()))} broken contracts")
    return broken


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, help="random seed [derandomized: the same cases every run]")
    parser.add_argument("--collect", action="store_true", help="go on after a broken contract; list them all")
    args = parser.parse_args(argv)
    broken = fuzz(args.cases, args.seed, args.collect)
    for first, examples in sorted(broken.items(), key=lambda kv: -len(kv[1])):
        print(f"{len(examples):4d} x {first}\n       e.g. {examples[0]}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
