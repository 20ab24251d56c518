"""ONNX -> ONNX rewrite: every node computable before the graph runs becomes an initializer.

A node folds when all its inputs are constants (initializers, Constant nodes or outputs of folded nodes), and
`Shape`/`Size` fold when their input's shape is static (graph input shape + onnx shape inference, the batch
dimension counted as 1 since nbq compiles one image at a time).  So weight-init subgraphs
(`ConstantOfShape`, `Mul`, `Unsqueeze`), `Transpose(W) -> MatMul` and the `Shape -> Gather -> Unsqueeze ->
Concat -> Reshape` flatten idiom reach the importer as plain constants.

Each node is evaluated by `onnx.reference.ReferenceEvaluator` on a one-node model: in the tensors' own dtypes,
as ONNX defines the op (a float32 `Mul` stays float32, exactly as ONNX Runtime computes it).

`QuantizeLinear`/`DequantizeLinear` of constants are left to the importer (it folds them exactly and checks
their scales and zero points) unless another folded node needs their value.  Random ops and ops with
subgraphs never fold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

from nbq import guard
from nbq.errors import UnsupportedModelError

MAX_FOLDED_ELEMENTS = 64 * 2**20  # one folded tensor; bigger is surely an export mistake
_IMPORTER_FOLDS = ("QuantizeLinear", "DequantizeLinear")
_NEVER = ("RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Bernoulli", "Multinomial",
          "If", "Loop", "Scan", "SequenceMap")


@dataclass
class FoldResult:
    model: onnx.ModelProto
    folded: list[str] = field(default_factory=list)  # names of the folded nodes, in graph order


class _Constants:
    """Values known before the graph runs: initializers (converted when first read), folded outputs, and the
    deferred Q/DQ results."""

    def __init__(self, model: onnx.ModelProto, opset: int):
        self.inits = {i.name: i for i in model.graph.initializer}
        self.opset = opset
        self.values: dict[str, np.ndarray] = {}
        # Q/DQ of constants, computed only if a folded node reads them: output name -> (node, label)
        self.deferred: dict[str, tuple[onnx.NodeProto, str]] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.values or name in self.inits or name in self.deferred

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.values and name in self.inits:
            self.values[name] = numpy_helper.to_array(self.inits[name])
        if name not in self.values and name in self.deferred:
            node, label = self.deferred[name]
            feeds = {n: self[n] for n in node.input if n}
            self.values.update(_evaluate(node, feeds, self.opset, label))
        return self.values[name]

    def defer(self, node: onnx.NodeProto, label: str) -> None:
        for name in node.output:
            if name:
                self.deferred[name] = (node, label)


def fold_constants(model: onnx.ModelProto, source: str, max_memory: int | None = None) -> FoldResult:
    """Return a copy of `model` with every constant-computable node replaced by an initializer."""
    g = model.graph
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=17)
    consts = _Constants(model, opset)
    shapes = _ShapesOnDemand(model)
    limit = guard.resolve_limit(max_memory)
    total = 0
    keep: list[onnx.NodeProto] = []
    folded: list[str] = []
    new_inits: list[onnx.TensorProto] = []
    for node in g.node:
        label = f"{source}: node '{node.name or node.output[0]}' ({node.op_type})"
        if node.op_type in _IMPORTER_FOLDS and all(name in consts for name in node.input if name):
            consts.defer(node, label)
            keep.append(node)
            continue
        values = _fold_node(node, consts, shapes, opset, label)
        if values is None:
            keep.append(node)
            continue
        for name, value in values.items():
            if value.size > MAX_FOLDED_ELEMENTS:
                raise UnsupportedModelError(f"{label}: folding it gives a constant of {value.size:,} values "
                                            f"(shape {list(value.shape)}), over nbq's cap of "
                                            f"{MAX_FOLDED_ELEMENTS:,}; check the shapes it is computed from")
            total += value.nbytes
            if total > limit:
                raise guard.refuse(source, total, "folding the constant subgraphs", limit,
                                   "give a model with smaller weights")
            consts.values[name] = value
            new_inits.append(numpy_helper.from_array(value, name))
        folded.append(node.name or node.output[0])
    if not folded:
        return FoldResult(model, [])
    keep = _drop_dead(keep, consts.deferred, {o.name for o in g.output})
    out = onnx.ModelProto()
    out.CopyFrom(model)
    del out.graph.node[:]
    out.graph.node.extend(keep)
    used = {name for node in keep for name in node.input} | {o.name for o in g.output}
    out.graph.initializer.extend(i for i in new_inits if i.name in used)
    return FoldResult(out, folded)


def _drop_dead(nodes: list[onnx.NodeProto], deferred: dict, outputs: set[str]) -> list[onnx.NodeProto]:
    """Drop the deferred Q/DQ nodes whose values only folded nodes read."""
    used = set(outputs)
    kept = []
    for node in reversed(nodes):
        if all(o in deferred for o in node.output if o) and not any(o in used for o in node.output):
            continue
        used.update(node.input)
        kept.append(node)
    return kept[::-1]


def _fold_node(node: onnx.NodeProto, consts: _Constants, shapes: _ShapesOnDemand, opset: int, label: str
               ) -> dict[str, np.ndarray] | None:
    """The node's output values, or None when it cannot be computed before the graph runs."""
    if node.domain not in ("", "ai.onnx") or node.op_type in _NEVER:
        return None
    if node.op_type in ("Shape", "Size") and node.input[0] not in consts:
        shape = shapes.get(node.input[0])
        return None if shape is None else {node.output[0]: _shape_value(node, shape)}
    inputs = [name for name in node.input if name]
    if not all(name in consts for name in inputs):
        return None
    feeds = {name: consts[name] for name in inputs}
    _check_generated_size(node, feeds, label)
    _check_inferred_size(node, feeds, opset, label)
    return _evaluate(node, feeds, opset, label)


def _shape_value(node: onnx.NodeProto, shape: tuple[int, ...]) -> np.ndarray:
    if node.op_type == "Size":
        return np.array(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    rank = len(shape)
    start, end = attrs.get("start", 0), attrs.get("end", rank)
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = min(max(end + rank if end < 0 else end, 0), rank)
    return np.array(shape[start:end], dtype=np.int64)


class _ShapesOnDemand:
    """Static shapes of the graph's tensors (the inputs' batch dimension set to 1), inferred once, on the first
    `Shape`/`Size` of a computed tensor (inference copies the model, so only when needed)."""

    def __init__(self, model: onnx.ModelProto):
        self.model = model
        self.shapes: dict[str, tuple[int, ...]] | None = None

    def get(self, name: str) -> tuple[int, ...] | None:
        if self.shapes is None:
            self.shapes = _static_shapes(self.model)
        return self.shapes.get(name)


def _static_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    inits = {i.name for i in copy.graph.initializer}
    for value in copy.graph.input:
        dims = value.type.tensor_type.shape.dim
        if value.name not in inits and dims and not dims[0].HasField("dim_value"):
            dims[0].Clear()
            dims[0].dim_value = 1
    try:
        inferred = shape_inference.infer_shapes(copy, strict_mode=False, data_prop=True)
    except Exception:  # inference is only a help: without it, Shape simply does not fold
        inferred = copy
    shapes = {}
    for value in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        t = value.type.tensor_type
        if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
            shapes[value.name] = tuple(int(d.dim_value) for d in t.shape.dim)
    return shapes


def _too_big(count: int, node: onnx.NodeProto, label: str) -> None:
    if count > MAX_FOLDED_ELEMENTS:
        raise UnsupportedModelError(f"{label}: folding it would make a constant of {count:,} values, over nbq's "
                                    f"cap of {MAX_FOLDED_ELEMENTS:,}; check the shape it is given")


def _check_generated_size(node: onnx.NodeProto, feeds: dict[str, np.ndarray], label: str) -> None:
    """Refuse, before evaluating, the ops whose output size comes from an input's values."""
    ins = [feeds.get(name) if name else None for name in node.input]
    try:
        if node.op_type == "ConstantOfShape":
            _too_big(int(np.prod(ins[0].astype(object))), node, label)
        elif node.op_type == "Expand":
            shape = np.broadcast_shapes(ins[0].shape, tuple(int(d) for d in ins[1].reshape(-1)))
            _too_big(int(np.prod(shape, dtype=object)), node, label)
        elif node.op_type == "Tile":
            _too_big(ins[0].size * int(np.prod(ins[1].astype(object))), node, label)
        elif node.op_type == "Range":
            start, limit, delta = (float(v.reshape(())) for v in ins[:3])
            _too_big(int(max(np.ceil((limit - start) / delta), 0)) if delta else 0, node, label)
    except (ValueError, TypeError, AttributeError, OverflowError, IndexError):
        return  # malformed: the evaluator names the problem


_SMALL = 4096  # inputs up to this size are given to shape inference as values (shapes, pads, repeats, ...)


def _check_inferred_size(node: onnx.NodeProto, feeds: dict[str, np.ndarray], opset: int, label: str) -> None:
    """Refuse before evaluating when ONNX shape inference already gives an output over the cap (Pad, OneHot,
    Resize, ... whose size comes from an input's values)."""
    small = {n: v for n, v in feeds.items() if v.size <= _SMALL}
    try:
        graph = helper.make_graph(
            [node], "size",
            [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
             for n, v in feeds.items() if n not in small],
            [helper.make_empty_tensor_value_info(n) for n in node.output if n],
            [numpy_helper.from_array(v, n) for n, v in small.items()],
        )
        inferred = shape_inference.infer_shapes(_one_node(graph, opset), strict_mode=False, data_prop=True)
    except Exception:  # only a help: the evaluator and the check after it still apply
        return
    for value in inferred.graph.output:
        t = value.type.tensor_type
        if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
            _too_big(int(np.prod([d.dim_value for d in t.shape.dim], dtype=object)), node, label)


def _evaluate(node: onnx.NodeProto, feeds: dict[str, np.ndarray], opset: int, label: str
              ) -> dict[str, np.ndarray]:
    from onnx.reference import ReferenceEvaluator

    graph = helper.make_graph(
        [node], "fold",
        [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
         for name, v in feeds.items()],
        [helper.make_empty_tensor_value_info(name) for name in node.output if name],
    )
    try:
        try:
            results = ReferenceEvaluator(_one_node(graph, opset)).run(None, feeds)
        except Exception as exc:
            # the evaluator implements some ops only from a later version (DequantizeLinear from 19) whose
            # semantics extend the earlier ones: use the newest it has
            if "No implementation for operator" not in str(exc):
                raise
            results = ReferenceEvaluator(_one_node(graph, onnx.defs.onnx_opset_version())).run(None, feeds)
    except MemoryError:
        raise UnsupportedModelError(f"{label}: folding it needs more memory than available") from None
    except Exception as exc:  # the evaluator raises many kinds for inputs ONNX does not allow
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnsupportedModelError(f"{label}: cannot compute it from its constant inputs ({first[:200]}); "
                                    "check the node's inputs and attributes") from None
    names = [name for name in node.output if name]
    return {name: np.asarray(value) for name, value in zip(names, results, strict=True)}


def _one_node(graph: onnx.GraphProto, opset: int) -> onnx.ModelProto:
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
