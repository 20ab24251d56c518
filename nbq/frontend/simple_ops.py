"""Importer handlers for the simple ops: Add, Sum, Mul/Div by a constant, Flatten/Reshape/Squeeze/Unsqueeze
(with (F, 1, 1) views of vectors), the dropped Softmax/LogSoftmax/ArgMax tail, and the ops nbq refuses
with advice (LRN; Softmax elsewhere).

Each handler takes the importer (nbq.frontend.onnx_import._Importer) and lowers one node onto the IR nbq
already has; none adds a layer kind.
"""

from __future__ import annotations

import numpy as np
import onnx

from nbq import ir
from nbq.formats import is_power_of_two
from nbq.frontend import checks
from nbq.frontend.values import Const, IntVal, Pending, Value

TAIL_OPS = ("Softmax", "LogSoftmax", "ArgMax")  # dropped when they end the graph (dropped_tail below)


def add(imp) -> None:
    node = imp.node
    imp.values[node.output[0]] = _add_values(imp, node.input[0], node.input[1], node.output[0])


def sum_(imp) -> None:
    """n-ary Sum as a chain of residual Adds, each aligning its two scales by shifts."""
    node = imp.node
    names = list(node.input)
    if not names or not all(names):
        raise imp.fail("Sum needs at least one input")
    if len(names) == 1:
        imp.values[node.output[0]] = imp.get(names[0])
        return
    acc = names[0]
    for i, name in enumerate(names[1:], start=1):
        out = node.output[0] if i == len(names) - 1 else f"{node.output[0]}_partial{i}"
        imp.values[out] = _add_values(imp, acc, name, out)
        acc = out


def _add_values(imp, a_name: str, b_name: str, out_name: str) -> Value:
    a, b = imp.get(a_name), imp.get(b_name)
    const_name, x_name = b_name, a_name
    if isinstance(a, Const):
        a, b, const_name, x_name = b, a, a_name, b_name
    if isinstance(b, Const):
        p = imp.as_pending(a)
        if p.has_clamp:
            raise imp.fail("adding a constant after an activation is not supported")
        c = channel_vector(imp, imp.float_const(const_name, "Add constant"), imp.onnx_shape(x_name),
                           f"Add constant '{const_name}'")
        c = checks.bounded_steps(imp.fail, c, imp.tensors[p.source].scale, f"Add constant '{const_name}'")
        return Pending(p.source, p.a, p.b + c, origin=p.origin or imp.node.name)
    what = f"{imp.node.op_type} '{imp.node.name}'"
    ta, tb = imp.as_int(a, what), imp.as_int(b, what)
    sa, sb = imp.tensors[ta].scale, imp.tensors[tb].scale
    if imp.tensors[ta].shape != imp.tensors[tb].shape:
        raise imp.fail(f"{imp.node.op_type} of shapes {imp.tensors[ta].shape} and {imp.tensors[tb].shape} needs "
                       "broadcasting")
    fine = min(sa, sb)
    shifts = []
    for s in (sa, sb):
        ratio = s / fine
        if not is_power_of_two(ratio) or ratio > 2.0**32:
            raise imp.fail(f"residual {imp.node.op_type} of scales {sa:g} and {sb:g}: their ratio is not a power "
                           "of two (up to 2^32)")
        shifts.append(int(np.log2(ratio)))
    out = imp.new_tensor(out_name, imp.tensors[ta].shape, fine)
    imp.add_layer(ir.Add(name=imp.layer_name(), inputs=[ta, tb], output=out, shifts=tuple(shifts)))
    return IntVal(out)


def channel_vector(imp, c: np.ndarray, shape: tuple[int, ...], what: str) -> np.ndarray:
    """A constant broadcast against an (N, *shape) tensor, as one value per channel (axis 1); it must be a
    scalar or vary along the channel axis only."""
    c = np.asarray(c, dtype=np.float64)
    channels = shape[0]
    if c.size == 1:
        return np.full(channels, float(c.reshape(-1)[0]))
    full = (1, *shape)
    dims = (1,) * (len(full) - c.ndim) + c.shape if c.ndim <= len(full) else None
    ok = dims is not None and dims[1] == channels and all(d == 1 for i, d in enumerate(dims) if i != 1)
    if not ok:
        want = (channels, *[1] * (len(shape) - 1))
        raise imp.fail(f"{what} of shape {c.shape} is not a scalar or one value per channel of a tensor of shape "
                       f"(N, {', '.join(map(str, shape))}); give shape {want}")
    return c.reshape(-1).copy()


def mul_div(imp) -> None:
    """x * c or x / c for a constant c: a change of the pending multiplier (and offset), exact.

    A power-of-two c is exact anywhere (onnx_import.as_int moves it into the weight scale); any other c only
    where a quantizer follows (folded into its thresholds, as BatchNormalization is).
    """
    node = imp.node
    a, b = imp.get(node.input[0]), imp.get(node.input[1])
    const_name, x = node.input[1], a
    if node.op_type == "Mul" and isinstance(a, Const):
        const_name, x = node.input[0], b
    if not isinstance(imp.get(const_name), Const) or isinstance(x, Const):
        raise imp.fail(f"{node.op_type} needs one tensor and one constant operand"
                       + ("" if node.op_type == "Mul" else " (the divisor)"))
    p = imp.as_pending(x)
    what = f"{node.op_type} constant '{const_name}'"
    x_name = node.input[1] if const_name == node.input[0] else node.input[0]
    c = channel_vector(imp, imp.float_const(const_name, f"{node.op_type} constant"), imp.onnx_shape(x_name), what)
    checks.finite(imp.fail, c, what)
    if np.any(c == 0):
        raise imp.fail(f"{what} is 0" + (" (a division by zero)" if node.op_type == "Div" else
                                         "; the result would be a constant"))
    if p.has_clamp:
        if np.any(c < 0) or not np.all(c == c[0]):
            raise imp.fail(f"{node.op_type} by a negative or per-channel constant after an activation is not "
                           "supported; put it before Relu/Clip")
        k = float(c[0])
        lo, hi = (p.clamp_lo * k, p.clamp_hi * k) if node.op_type == "Mul" else (p.clamp_lo / k, p.clamp_hi / k)
    else:
        lo, hi = p.clamp_lo, p.clamp_hi
    a_new, b_new = (p.a * c, p.b * c) if node.op_type == "Mul" else (p.a / c, p.b / c)
    checks.finite(imp.fail, a_new, f"the multiplier after {node.op_type}")
    imp.values[node.output[0]] = Pending(p.source, a_new, b_new, lo, hi, origin=node.name or node.output[0])


def _reshape_target(imp, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The per-image shape a Reshape gives an (N, *shape) tensor (N counted as 1): 0 copies the input's
    dimension (unless allowzero=1), -1 takes the rest; the batch dimension must stay."""
    name = imp.node.input[1]
    target = imp.const(name, "Reshape shape")
    if target.dtype.kind not in "iu" or target.ndim != 1:
        raise imp.fail(f"Reshape shape '{name}' must be a 1-D int64 tensor, got {target.dtype} {target.shape}")
    full, dims = (1, *shape), [int(d) for d in target]
    allow_zero = imp.attrs().get("allowzero", 0)
    if not allow_zero:
        dims = [full[i] if d == 0 and i < len(full) else d for i, d in enumerate(dims)]
    size = int(np.prod(full))
    if dims.count(-1) > 1 or any(d < -1 for d in dims):
        raise imp.fail(f"Reshape shape {list(map(int, target))} is not a valid ONNX shape")
    if -1 in dims:
        known = int(np.prod([d for d in dims if d != -1]))
        if known == 0 or size % known:
            raise imp.fail(f"Reshape of {_nshape(shape)} to {list(map(int, target))}: the sizes do not divide")
        dims[dims.index(-1)] = size // known
    if int(np.prod(dims)) != size or not dims or dims[0] != 1:
        raise imp.fail(f"Reshape of {_nshape(shape)} to {list(map(int, target))} changes the batch dimension or "
                       "the size; nbq reshapes each image on its own")
    return tuple(dims[1:])


def _nshape(shape: tuple[int, ...]) -> str:
    return f"(N, {', '.join(map(str, shape))})"


def _axes(imp, rank_of) -> list[int]:
    """Squeeze/Unsqueeze axes (input or attribute), normalised for the rank rank_of(len(axes)); never the
    batch dimension."""
    name = imp.opt_input(1)
    raw = imp.const(name, f"{imp.node.op_type} axes") if name else imp.attrs().get("axes")
    if raw is None:
        raise imp.fail(f"{imp.node.op_type} without axes would also act on the batch dimension; give axes")
    axes = [int(a) for a in np.asarray(raw).reshape(-1)]
    rank = rank_of(len(axes))
    if any(not -rank <= a < rank for a in axes):
        raise imp.fail(f"{imp.node.op_type} axes {axes} are outside a rank-{rank} tensor")
    axes = sorted(a % rank for a in axes)
    if 0 in axes or len(set(axes)) != len(axes):
        raise imp.fail(f"{imp.node.op_type} axes {axes} repeat or include the batch dimension (axis 0)")
    return axes


def _target(imp, shape: tuple[int, ...]) -> tuple[int, ...]:
    op, rank = imp.node.op_type, len(shape) + 1
    if op == "Flatten":
        axis = checks.int_attr(imp.fail, imp.attrs(), "axis", 1, -rank, rank)
        if (axis + rank if axis < 0 else axis) != 1:
            raise imp.fail(f"Flatten with axis={axis} on a rank-{rank} input is not supported; nbq flattens "
                           "each image (axis=1)")
        return (int(np.prod(shape)),)
    if op == "Reshape":
        return _reshape_target(imp, shape)
    full = [1, *shape]
    if op == "Squeeze":
        axes = _axes(imp, lambda _n: rank)
        if any(full[a] != 1 for a in axes):
            raise imp.fail(f"Squeeze axes {axes} of {_nshape(shape)} are not all of size 1")
        return tuple(d for i, d in enumerate(full) if i not in axes)[1:]
    axes = _axes(imp, lambda n: rank + n)
    out, rest = [], iter(full)
    for i in range(len(full) + len(axes)):
        out.append(1 if i in axes else next(rest))
    return tuple(out[1:])


def flatten(imp) -> None:
    """Flatten / Reshape / Squeeze / Unsqueeze that keep the stream order: the identity, (C, H, W) ->
    (C*H*W,), (C, 1, 1) -> (C,) and a vector (F,) -> (F, 1, 1) (a view for 1x1 Convs)."""
    node = imp.node
    x_value = imp.get(node.input[0])
    ir_shape = imp.shape_of(x_value)
    shape = imp.onnx_shape(node.input[0])
    features = int(np.prod(shape))
    target = _target(imp, shape)
    if target == tuple(ir_shape):
        imp.values[node.output[0]] = x_value
        return
    if len(ir_shape) == 1 and target == (features, 1, 1):
        imp.values[node.output[0]] = x_value
        imp.views[node.output[0]] = target
        return
    if target != (features,):
        raise imp.fail(f"{node.op_type} of {_nshape(shape)} to {_nshape(target)} is not a shape nbq streams; nbq "
                       "reshapes only to the same shape, to (N, -1), and (N, F) <-> (N, F, 1, 1)")
    pending = isinstance(x_value, Pending)
    src = x_value.source if pending else imp.as_int(x_value)
    t = imp.tensors[src]
    out = imp.new_tensor(node.output[0], (features,), t.scale)
    imp.add_layer(ir.Flatten(name=imp.layer_name(), inputs=[src], output=out))
    if pending:
        per_channel = features // shape[0]
        imp.values[node.output[0]] = Pending(out, np.repeat(x_value.a, per_channel), np.repeat(x_value.b, per_channel),
                                             x_value.clamp_lo, x_value.clamp_hi, origin=x_value.origin)
    else:
        imp.values[node.output[0]] = IntVal(out)


# ops that act per value (or per channel), so an (F, 1, 1) view passes through them unchanged
_ELEMENTWISE = ("BatchNormalization", "Relu", "Clip", "QuantizeLinear", "DequantizeLinear", "Sign", "Mul", "Div",
                "Add", "Sum", "Identity", "Dropout")
_VIEW_READERS = _ELEMENTWISE + ("Conv", "GlobalAveragePool", "Flatten", "Reshape", "Squeeze", "Unsqueeze")


def check_views(imp) -> None:
    """Before a node: an (F, 1, 1) view goes only where nbq can treat it as the vector it is."""
    node = imp.node
    views = {imp.views[n] for n in node.input if n in imp.views}
    if not views:
        return
    if node.op_type not in _VIEW_READERS:
        raise imp.fail(f"{node.op_type} on the {_nshape(next(iter(views)))} map reshaped from a vector is not "
                       "supported; nbq supports 1x1 Conv, BatchNormalization, activations and quantizers there")
    tensors = [n for n in node.input if n and not isinstance(imp.get(n), Const)]
    if node.op_type in ("Add", "Sum") and (len(views) > 1 or any(n not in imp.views for n in tensors)):
        raise imp.fail(f"{node.op_type} of a reshaped {_nshape(next(iter(views)))} map and a tensor of another "
                       "shape needs broadcasting")


def propagate_view(imp) -> None:
    node = imp.node
    if node.op_type in _ELEMENTWISE and node.input and node.input[0] in imp.views:
        imp.views[node.output[0]] = imp.views[node.input[0]]
    elif node.op_type in _ELEMENTWISE and len(node.input) > 1 and node.input[1] in imp.views:
        imp.views[node.output[0]] = imp.views[node.input[1]]


def lrn(imp) -> None:
    raise imp.fail("LRN (local response normalization) is not supported; train with BatchNormalization instead "
                   "(it folds into the quantizer's thresholds)")


def tail_op(imp) -> None:
    raise imp.fail(f"{imp.node.op_type} is supported only at the end of the graph (nbq then outputs the scores "
                   "before it); move it out of the model")


def dropped_tail(graph: onnx.GraphProto) -> tuple[list[str], list[tuple[str, str]], set[int]]:
    """Softmax / LogSoftmax / ArgMax chains that end the graph: the design outputs the scores before them
    (argmax unchanged).  Returns (the ONNX tensor each graph output becomes, [(op, node name)], indices of
    the dropped nodes in graph.node)."""
    nodes = list(graph.node)
    producer = {out: i for i, node in enumerate(nodes) for out in node.output if out}
    readers: dict[str, list[int]] = {}
    for i, node in enumerate(nodes):
        for name in node.input:
            readers.setdefault(name, []).append(i)
    graph_outputs = [o.name for o in graph.output]
    names, dropped, skipped = [], [], set()
    for out in graph_outputs:
        cur, chain = out, []
        while cur in producer:
            i = producer[cur]
            node = nodes[i]
            if node.op_type not in TAIL_OPS or not node.input or i in skipped:
                break
            if any(r not in skipped for r in readers.get(cur, [])) or (cur != out and cur in graph_outputs):
                break
            skipped.add(i)
            chain.append((node.op_type, node.name or node.output[0]))
            cur = node.input[0]
        dropped.extend(chain[::-1])  # in graph order
        names.append(cur)
    return names, dropped, skipped
