"""Read an ONNX file defensively: size, external data, opset, graph structure and tensor data are checked
before anything large is read or allocated, each failure a one-line NbqError naming the file and the
tensor or node at fault.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import onnx
from onnx import TensorProto, external_data_helper

from nbq import guard
from nbq.errors import NbqError
from nbq.frontend.qonnx_ops import is_qonnx_node

# docs/onnx-contract.md: the opsets nbq's importer (and the ONNX Runtime comparison) is written for
MIN_OPSET, MAX_OPSET = 13, 21

# bytes per element of the tensor types an initializer may have (4-bit types pack two per byte)
_ITEM_BYTES = {
    TensorProto.FLOAT: 4, TensorProto.DOUBLE: 8, TensorProto.FLOAT16: 2, TensorProto.BFLOAT16: 2,
    TensorProto.INT8: 1, TensorProto.UINT8: 1, TensorProto.INT16: 2, TensorProto.UINT16: 2,
    TensorProto.INT32: 4, TensorProto.UINT32: 4, TensorProto.INT64: 8, TensorProto.UINT64: 8,
    TensorProto.BOOL: 1,
}
_PACKED_4BIT = {getattr(TensorProto, n) for n in ("INT4", "UINT4") if hasattr(TensorProto, n)}


def load_onnx(path: str | Path, max_memory: int | None = None) -> onnx.ModelProto:
    """Read and check a model; every failure is a one-line NbqError.

    No ONNX shape inference: the importer derives every shape itself.
    """
    path = Path(path)
    if not path.exists():
        raise NbqError(f"{path}: no such file")
    if not path.is_file():
        raise NbqError(f"{path}: not a file; give a .onnx model file")
    size = path.stat().st_size
    if size == 0:
        raise NbqError(f"{path}: the file is empty; give a .onnx model file")
    guard.check_file_size(str(path), "the model file", size, max_memory)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except MemoryError:
        raise _out_of_memory(path) from None
    except Exception as exc:  # protobuf raises several types for bytes that are not a model
        raise NbqError(f"{path}: not an ONNX model (the protobuf does not parse: {type(exc).__name__}); "
                       "give a .onnx file") from None
    if not model.graph.node:
        raise NbqError(f"{path}: not an ONNX model (no graph nodes); give a .onnx file")
    check_text_fields(model, str(path))
    check_opset(model, str(path))
    _load_external_data(model, path, max_memory)
    check_tensor_data(model, str(path))
    check_structure(model, str(path))
    try:
        onnx.checker.check_model(model)
    except MemoryError:
        raise _out_of_memory(path) from None
    except Exception as exc:
        raise NbqError(f"{path}: invalid ONNX model: {_checker_message(exc)}") from None
    return model


def _checker_message(exc: Exception) -> str:
    """The checker's first line, with the node it names in its context line (the message is multi-line)."""
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    first = text.splitlines()[0].rstrip(".")
    m = re.search(r"Name: (\S*) OpType: (\S+)", text)
    if m:
        return f"node '{m.group(1)}' ({m.group(2)}): {first}; fix the model"
    return first


def _out_of_memory(path: Path) -> NbqError:
    return NbqError(f"{path}: reading the model needs more memory than available; free memory, or check the "
                    "file is the model you meant")


# ------------------------------------------------------------------ opset


def check_opset(model: onnx.ModelProto, source: str) -> None:
    versions = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    if not versions:
        raise NbqError(f"{source}: the model imports no standard ONNX opset; re-export it with opset "
                       f"{MIN_OPSET}..{MAX_OPSET}")
    version = max(versions)
    known = onnx.defs.onnx_opset_version()
    if version < MIN_OPSET or version > MAX_OPSET:
        newer = f", and newer than this onnx {onnx.__version__} knows ({known})" if version > known else ""
        raise NbqError(f"{source}: opset {version} is not supported{newer}; nbq reads opset {MIN_OPSET} to "
                       f"{MAX_OPSET} (docs/onnx-contract.md); re-export the model with one of those")


# ----------------------------------------------------------- tensor data


def _all_tensors(model: onnx.ModelProto) -> list[tuple[onnx.TensorProto, str]]:
    """Every tensor of the model with how to name it in a message: initializers and node attributes, in
    subgraphs too (an If/Loop body may carry external data; nbq refuses those ops later, but reads first)."""
    out: list[tuple[onnx.TensorProto, str]] = []
    graphs = [model.graph]
    while graphs:
        g = graphs.pop()
        out += [(t, f"initializer '{t.name}'") for t in g.initializer]
        for node in g.node:
            for attr in node.attribute:
                label = f"node '{node.name or node.output[0]}' ({node.op_type}) attribute '{attr.name}'"
                if attr.type == onnx.AttributeProto.TENSOR:
                    out.append((attr.t, label))
                out += [(t, label) for t in attr.tensors]
                graphs += ([attr.g] if attr.type == onnx.AttributeProto.GRAPH else []) + list(attr.graphs)
    return out


def _declared_bytes(t: onnx.TensorProto, source: str, what: str) -> int:
    """Bytes the tensor's dims and type say its data takes (no allocation)."""
    if any(d < 0 for d in t.dims):
        raise NbqError(f"{source}: {what}: negative dimension in {list(t.dims)}; fix the exporter")
    count = math.prod(t.dims)
    if t.data_type in _PACKED_4BIT:
        return (count + 1) // 2
    if t.data_type not in _ITEM_BYTES:
        name = TensorProto.DataType.Name(t.data_type) if t.data_type in TensorProto.DataType.values() else t.data_type
        raise NbqError(f"{source}: {what}: tensor type {name} is not supported; use float or integer tensors")
    return count * _ITEM_BYTES[t.data_type]


def check_tensor_data(model: onnx.ModelProto, source: str) -> None:
    """Every tensor holds exactly as many values as its dims claim (before numpy is asked to reshape it)."""
    for t, what in _all_tensors(model):
        declared = _declared_bytes(t, source, what)
        count = math.prod(t.dims)
        if t.HasField("raw_data"):
            held, expected, unit = len(t.raw_data), declared, "bytes"
        else:
            field = onnx.helper.tensor_dtype_to_field(t.data_type)
            held = len(getattr(t, field))
            expected, unit = ((count + 1) // 2 if t.data_type in _PACKED_4BIT else count), "values"
        if held != expected:
            raise NbqError(f"{source}: {what}: dims {list(t.dims)} claim {expected:,} {unit} of data but the "
                           f"tensor holds {held:,}; the file is damaged or the exporter wrote wrong dims")


# ---------------------------------------------------------- external data


def _load_external_data(model: onnx.ModelProto, path: Path, max_memory: int | None) -> None:
    folder = path.parent.resolve()
    external = [(t, what) for t, what in _all_tensors(model) if external_data_helper.uses_external_data(t)]
    total = 0
    for t, what in external:
        total += _check_external(t, what, folder, str(path), max_memory)
    if external:
        guard.check_file_size(str(path), "the model's external data", total, max_memory)
        try:
            external_data_helper.load_external_data_for_model(model, str(folder))
        except MemoryError:
            raise _out_of_memory(path) from None
        except OSError as exc:
            raise NbqError(f"{path}: cannot read the external data ({exc.strerror or exc}); check the files "
                           "next to the model") from None


def _int_entry(value: str, key: str, source: str, what: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise NbqError(f"{source}: {what}: external-data {key} '{value}' is not a byte count; fix the exporter")
    return number


def _check_external(t: onnx.TensorProto, what: str, folder: Path, source: str, max_memory: int | None) -> int:
    """Check one tensor's external-data entry against the real file; returns the bytes it will read."""
    info = {e.key: e.value for e in t.external_data}
    location = info.get("location", "")
    if not location:
        raise NbqError(f"{source}: {what}: external data without a location; re-save the model with its data")
    target = Path(location)
    resolved = (folder / target).resolve()
    if target.is_absolute() or not resolved.is_relative_to(folder):
        raise NbqError(f"{source}: {what}: external data '{location}' is outside the model's folder {folder}; "
                       "nbq reads data files only next to the model")
    if not resolved.exists():
        raise NbqError(f"{source}: {what}: external data file '{location}' is missing (looked in {folder}); "
                       "copy it next to the model")
    if not resolved.is_file():
        raise NbqError(f"{source}: {what}: external data '{location}' is not a regular file")
    size = os.stat(resolved).st_size
    offset = _int_entry(info.get("offset", "0"), "offset", source, what)
    length = _int_entry(info["length"], "length", source, what) if "length" in info else max(size - offset, 0)
    if offset + length > size:
        raise NbqError(f"{source}: {what}: external data '{location}' is {size:,} bytes, too short for "
                       f"{length:,} bytes at offset {offset:,}; the data file is truncated or not this model's")
    guard.check_file_size(source, f"{what} from external data '{location}'", length, max_memory)
    declared = _declared_bytes(t, source, what)
    if length != declared:
        raise NbqError(f"{source}: {what}: external data '{location}' gives {length:,} bytes "
                       f"({guard.format_bytes(length)}), its dims {list(t.dims)} need {declared:,}; "
                       "the data file is not this model's")
    return length


# -------------------------------------------------------------- structure


def check_text_fields(message, source: str, where: str = "model") -> None:
    """Every string field (names, op types, attribute names, ...) is valid UTF-8.

    The protobuf runtime hands back a string field holding invalid UTF-8 as bytes, which nothing
    downstream expects: refuse it here, naming the field."""
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        if field.type == field.TYPE_STRING:
            for i, v in enumerate(values):
                if not isinstance(v, str):
                    at = f"{where}.{field.name}" + (f"[{i}]" if field.is_repeated else "")
                    raise NbqError(f"{source}: {at} '{repr(bytes(v))[2:-1]}' is not valid UTF-8 text; "
                                   "fix the exporter")
        elif field.type == field.TYPE_MESSAGE:
            for i, v in enumerate(values):
                check_text_fields(v, source, f"{where}.{field.name}" + (f"[{i}]" if len(values) > 1 else ""))


def _node_label(node: onnx.NodeProto) -> str:
    return f"node '{node.name or (node.output[0] if node.output else '?')}' ({node.op_type})"


def check_structure(model: onnx.ModelProto, source: str) -> None:
    """Known ops, unique tensor names, every input produced before it is read (no cycles, no dangling)."""
    g = model.graph
    defined: dict[str, str] = {}
    for value in g.input:
        defined.setdefault(value.name, f"graph input '{value.name}'")
    for init in g.initializer:
        if init.name in defined and not defined[init.name].startswith("graph input"):
            raise NbqError(f"{source}: initializer '{init.name}' is defined twice; tensor names must be unique")
        defined[init.name] = f"initializer '{init.name}'"
    produced_later = {out: node for node in g.node for out in node.output if out}
    for node in g.node:
        label = _node_label(node)
        if is_qonnx_node(node.domain, node.op_type):
            pass  # QONNX / Brevitas quantizers: nbq.frontend.qonnx_ops
        elif node.domain not in ("", "ai.onnx"):
            raise NbqError(f"{source}: {label}: op '{node.op_type}' of domain '{node.domain}' is not supported; "
                           "nbq compiles standard ONNX ops (docs/onnx-contract.md)")
        elif not onnx.defs.has(node.op_type):
            raise NbqError(f"{source}: {label}: '{node.op_type}' is not an ONNX op; nbq compiles standard ONNX "
                           "ops (docs/onnx-contract.md)")
        for name in node.input:
            if not name or name in defined:
                continue
            later = produced_later.get(name)
            if later is not None:
                raise NbqError(f"{source}: {label}: input '{name}' is produced later, by {_node_label(later)} "
                               "(a cycle, or nodes out of order); ONNX graphs must be acyclic and sorted")
            raise NbqError(f"{source}: {label}: input '{name}' is not produced by any node, initializer or graph "
                           "input; fix the exporter")
        for name in node.output:
            if not name:
                continue
            if name in defined:
                raise NbqError(f"{source}: {label}: output '{name}' is already defined by {defined[name]}; "
                               "tensor names must be unique")
            defined[name] = _node_label(node)
