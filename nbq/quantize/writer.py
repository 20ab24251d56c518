"""Write the quantized model: the float graph with weights as DequantizeLinear of integers, per-channel
factors as BatchNormalization, and Clip → QuantizeLinear → DequantizeLinear at every point — the form
nbq's importer reads (docs/onnx-contract.md)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from nbq.quantize.graph import QuantPlan, WeightLayer
from nbq.quantize.scales import ActScale, QuantWeights


class _Names:
    def __init__(self, model: onnx.ModelProto):
        g = model.graph
        self.used = {n for node in g.node for n in (*node.input, *node.output, node.name)}
        self.used |= {i.name for i in g.initializer} | {i.name for i in g.input} | {o.name for o in g.output}

    def new(self, hint: str) -> str:
        name, i = hint, 1
        while name in self.used:
            name, i = f"{hint}_{i}", i + 1
        self.used.add(name)
        return name


def write_quantized(plan: QuantPlan, weights: dict[int, QuantWeights], scales: dict[str, ActScale]
                    ) -> onnx.ModelProto:
    src = plan.model.graph
    names = _Names(plan.model)
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def const(hint: str, value: np.ndarray) -> str:
        name = names.new(hint)
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    rename: dict[str, str] = {}

    def quantizer(tensor: str) -> None:
        a = scales[tensor]
        base = f"{tensor}/nbq_q"
        zp = const(f"{base}/zero_point", np.array(0, np.uint8 if a.unsigned else np.int8))
        s = const(f"{base}/scale", np.array(a.scale, np.float32))
        x = tensor
        if (a.qmin, a.qmax) not in ((0, 255), (-128, 127)):  # fewer bits than the container: narrow first
            lo = const(f"{base}/min", np.array(a.qmin * a.scale, np.float32))
            hi = const(f"{base}/max", np.array(a.qmax * a.scale, np.float32))
            x = names.new(f"{base}/clipped")
            nodes.append(helper.make_node("Clip", [tensor, lo, hi], [x], name=names.new(f"{base}/Clip")))
        q = names.new(f"{base}/int")
        nodes.append(helper.make_node("QuantizeLinear", [x, s, zp], [q], name=names.new(f"{base}/QuantizeLinear")))
        out = names.new(f"{base}/out")
        nodes.append(helper.make_node("DequantizeLinear", [q, s, zp], [out],
                                      name=names.new(f"{base}/DequantizeLinear")))
        rename[tensor] = out

    layers = {layer.node: layer for layer in plan.weights}
    replaced = {layer.weight for layer in plan.weights}
    if plan.point(plan.input_name) is not None:
        quantizer(plan.input_name)
    for index, node in enumerate(src.node):
        new = onnx.NodeProto()
        new.CopyFrom(node)
        new.input[:] = [rename.get(n, n) for n in node.input]
        if index in layers:
            replaced |= _weight_layer(new, layers[index], weights[index], plan.constants, const, names, nodes)
        else:
            nodes.append(new)
        for out in node.output:
            if plan.point(out) is not None:
                quantizer(out)
    used = {n for node in nodes for n in node.input}
    kept = [i for i in src.initializer if i.name in used or i.name not in replaced]
    graph = helper.make_graph(nodes, src.name, list(src.input), list(src.output), kept + inits)
    model = helper.make_model(graph, opset_imports=list(plan.model.opset_import),
                              producer_name="nbq quantize", producer_version="0.1")
    model.ir_version = plan.model.ir_version
    return model


def _weight_layer(node: onnx.NodeProto, layer: WeightLayer, qw: QuantWeights, values: dict[str, np.ndarray],
                  const, names: _Names, nodes: list[onnx.NodeProto]) -> set[str]:
    """Emit the layer with DequantizeLinear(int weights); with per-channel factors, the factor and the bias
    go into a BatchNormalization(scale=factor, B=bias, mean=0, var=1, epsilon=0) right after it."""
    base = node.name or node.output[0]
    ints = qw.ints
    dtype = np.int8 if np.abs(ints).max(initial=0) <= 127 else np.int32
    q = const(f"{layer.weight}/nbq_int", ints.astype(dtype))
    s = const(f"{layer.weight}/nbq_step", np.array(qw.step, np.float32))
    zp = const(f"{layer.weight}/nbq_zero_point", np.array(0, dtype))
    w = names.new(f"{layer.weight}/nbq_dq")
    nodes.append(helper.make_node("DequantizeLinear", [q, s, zp], [w], name=names.new(f"{base}/weight_dq")))
    node.input[1] = w
    replaced = {layer.weight}
    channels = qw.factor.size
    bias = np.zeros(channels)
    has_bias = len(node.input) > 2 and bool(node.input[2])
    if has_bias:
        raw = np.asarray(values[node.input[2]], np.float64).reshape(-1)  # (F,), (1, F) or a scalar
        bias = np.broadcast_to(raw, (channels,)).copy()
        replaced.add(node.input[2])
        del node.input[2]
    bias = bias + qw.bias_shift
    if not layer.per_channel:  # the float bias stays on the layer (MatMul has none: no correction then)
        if node.op_type != "MatMul" and (has_bias or np.any(bias != 0)):
            node.input.append(const(f"{base}/nbq_bias", bias.astype(np.float32)))
        nodes.append(node)
        return replaced
    out = node.output[0]
    acc = names.new(f"{out}/nbq_acc")
    node.output[0] = acc
    nodes.append(node)
    params = [const(f"{base}/nbq_factor/{k}", v.astype(np.float32)) for k, v in
              (("scale", qw.factor), ("B", bias), ("mean", np.zeros(channels)), ("var", np.ones(channels)))]
    nodes.append(helper.make_node("BatchNormalization", [acc, *params], [out], name=names.new(f"{base}/nbq_factor"),
                                  epsilon=0.0))
    return replaced

