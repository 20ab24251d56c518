"""QONNX / Brevitas ops: Quant (IntQuant), BipolarQuant, Trunc, MultiThreshold, and the QCDQ Clip.

Semantics follow qonnx 1.0 (qonnx/custom_op/general/*.py):

* Quant:  q = R(clip(x / scale + zp, min_int, max_int)) - zp, out = q * scale, with min/max_int from
  (bitwidth, signed, narrow); a signed 1-bit Quant is bipolar (x / scale + zp >= 0 -> +1, else -1).
  Clipping an integer range before a monotone rounding equals clipping after it, so on a computed tensor
  a Quant is an AffineQuant (the threshold pass folds it into integer thresholds, any rounding mode).
* BipolarQuant:  out = scale * (x >= 0 ? +1 : -1).
* Trunc (v1 and v2, after an average pool):  an AffineQuant on the exact integer window sum.
* MultiThreshold:  out = out_scale * #(thresholds t with x >= t) + out_bias -> an nbq Threshold layer.
* QCDQ: QuantizeLinear -> Clip -> DequantizeLinear; the Clip narrows the integer range.

Handlers take the importer (nbq.frontend.onnx_import._Importer) and are registered into its table by
`register`; this module never imports onnx_import (which imports it), nor does nbq.frontend.loading's use of
`is_qonnx_node` pull the importer in.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nbq import ir
from nbq.formats import is_power_of_two
from nbq.frontend import checks
from nbq.frontend.values import Const, FloatIn, IntVal, Pending, Quantized
from nbq.rounding import ROUNDING, round_with

# the domains QONNX ops are exported in (qonnx's own, FINN's older name, Brevitas' older name)
QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas")
QONNX_OPS = ("Quant", "IntQuant", "BipolarQuant", "Trunc", "MultiThreshold")
MAX_ACT_BITS = 16  # activation quantizers become 2^bits - 1 thresholds per channel


def is_qonnx_node(domain: str, op_type: str) -> bool:
    return domain in QONNX_DOMAINS and op_type in QONNX_OPS


# ------------------------------------------------------------------ parameters


def _int_range(signed: bool, narrow: bool, bits: int) -> tuple[int, int]:
    """qonnx min_int / max_int."""
    if signed:
        return -(2 ** (bits - 1)) + int(narrow), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1 - int(narrow)


def _flag(imp, name: str, default: int) -> bool:
    return bool(checks.int_attr(imp.fail, imp.attrs(), name, default, 0, 1))


def _rounding(imp, default: str = "ROUND") -> str:
    raw = imp.attrs().get("rounding_mode", default)
    mode = (raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)).upper()
    if mode not in ROUNDING:
        raise imp.fail(f"rounding_mode {mode!r} is not one of {', '.join(ROUNDING)}; re-export with one of them")
    return mode


def _input(imp, index: int, what: str) -> tuple[str, np.ndarray]:
    if len(imp.node.input) <= index or not imp.node.input[index]:
        raise imp.fail(f"the {what} input (input {index}) is missing")
    name = imp.node.input[index]
    return name, imp.float_const(name, f"{imp.node.op_type} {what}")


def _bits(imp, index: int, what: str = "bit width", hi: int = 32) -> int:
    name, value = _input(imp, index, what)
    value = checks.scalar(imp.fail, value, f"{what} '{name}'")
    bits = float(value)
    if bits != int(bits) or not 1 <= bits <= hi:
        raise imp.fail(f"{what} '{name}' = {bits:g} must be an integer in 1..{hi}")
    return int(bits)


def _po2_scale(imp, index: int, per_tensor: bool) -> tuple[str, np.ndarray]:
    """A checked power-of-two scale (every element)."""
    name, scale = _input(imp, index, "scale")
    what = f"{imp.node.op_type} scale '{name}'"
    scale = checks.scale(imp.fail, scale, what)
    if np.any(scale < checks.MIN_SCALE) or np.any(scale > checks.MAX_SCALE):
        raise imp.fail(f"{what} = {scale.reshape(-1)[0]:g} is outside 2^-100..2^100; check the exported scale")
    bad = [float(s) for s in scale.reshape(-1) if not is_power_of_two(float(s))]
    if bad:
        raise imp.fail(f"{what} = {bad[0]:g} is not a power of two; nbq needs power-of-two scales "
                       "(Brevitas: a *FixedPoint quantizer, or restrict_scaling_type=POWER_OF_TWO)")
    if per_tensor and scale.size != 1:
        raise imp.fail(f"{what} has shape {scale.shape}; activations need one scale per tensor")
    return name, scale


def _zero_point(imp, index: int) -> None:
    if len(imp.node.input) <= index or not imp.node.input[index]:
        return
    name, zp = _input(imp, index, "zero point")
    checks.finite(imp.fail, zp, f"zero point '{name}'")
    if np.any(zp != 0):
        raise imp.fail(f"zero point '{name}' is {zp.reshape(-1)[0]:g}; nbq supports zero point 0 only "
                       "(a symmetric or unsigned quantizer)")


def _broadcast(imp, w: np.ndarray, scale: np.ndarray, name: str) -> np.ndarray:
    try:
        np.broadcast_shapes(w.shape, scale.shape)
    except ValueError:
        raise imp.fail(f"scale '{name}' of shape {scale.shape} does not broadcast to the weight's {w.shape}") from None
    if np.broadcast_shapes(w.shape, scale.shape) != w.shape:
        raise imp.fail(f"scale '{name}' of shape {scale.shape} is larger than the weight's {w.shape}")
    return scale


# ------------------------------------------------------------------ activations


def _level(bound: float, scale: float, qmin: int, qmax: int, rounding: str) -> int:
    """R(bound / scale) limited to [qmin, qmax] (no division of an infinite or huge bound)."""
    if bound <= qmin * scale:
        return qmin
    if bound >= qmax * scale:
        return qmax
    return int(round_with(bound / scale, rounding))


def _activation(imp, x, scale: float, qmin: int, qmax: int, rounding: str, sign: bool = False) -> None:
    """A quantizer on a computed tensor (or the graph input): an AffineQuant, folded to thresholds later."""
    out_name = imp.node.output[0]
    if isinstance(x, FloatIn):
        if sign or rounding not in ("ROUND", "HALF_EVEN"):
            raise imp.fail("the graph input's quantizer must round half to even (rounding_mode ROUND) with at "
                           "least 2 bits; nbq's host side quantizes the input that way")
        name = imp.new_tensor(x.name, x.shape, scale)
        t = imp.tensors[name]
        t.lo = _level(x.clip_lo, scale, qmin, qmax, rounding)
        t.hi = _level(x.clip_hi, scale, qmin, qmax, rounding)
        imp.input_name = name
        imp.values[out_name] = IntVal(name)
        return
    if not isinstance(x, Pending | IntVal):
        raise imp.fail(f"{imp.node.op_type} input '{imp.node.input[0]}' must be the graph input or a "
                       "Conv/Gemm/pool result")
    p = imp.as_pending(x)
    if p.clamp_lo > p.clamp_hi:
        raise imp.fail(f"the clip range [{p.clamp_lo:g}, {p.clamp_hi:g}] is empty")
    src = imp.tensors[p.source]
    name = imp.new_tensor(out_name, src.shape, scale)
    if not sign:  # a clamp before the quantizer narrows its levels (R is monotone: no value changes)
        qmin, qmax = (_level(p.clamp_lo, scale, qmin, qmax, rounding),
                      _level(p.clamp_hi, scale, qmin, qmax, rounding))
    imp.add_layer(ir.AffineQuant(name=imp.layer_name(), inputs=[p.source], output=name, a=p.a, b=p.b,
                                 clamp_lo=p.clamp_lo, clamp_hi=p.clamp_hi, out_scale=scale,
                                 qmin=qmin, qmax=qmax, sign=sign, rounding=rounding))
    imp.values[out_name] = IntVal(name)


# ------------------------------------------------------------------ handlers


def _quant(imp) -> None:
    node = imp.node
    if len(node.input) != 4:
        raise imp.fail(f"{node.op_type} needs 4 inputs (x, scale, zeropt, bitwidth), got {len(node.input)}")
    x = imp.get(node.input[0])
    signed, narrow = _flag(imp, "signed", 1), _flag(imp, "narrow", 0)
    rounding = _rounding(imp)
    is_weight = isinstance(x, Const)
    s_name, scale = _po2_scale(imp, 1, per_tensor=not is_weight)
    _zero_point(imp, 2)
    bits = _bits(imp, 3, hi=32 if is_weight else MAX_ACT_BITS)  # constants: weights or (32-bit) biases
    bipolar = bits == 1 and signed
    if not bipolar and bits == 1 and narrow:
        raise imp.fail("an unsigned narrow 1-bit Quant has the single level 0; use 2 or more bits")
    qmin, qmax = _int_range(signed, narrow, bits)
    if is_weight:
        w = checks.finite(imp.fail, checks.non_empty(imp.fail, np.asarray(x.value, np.float64),
                                                     f"weight '{node.input[0]}'"), f"weight '{node.input[0]}'")
        s = _broadcast(imp, w, scale, s_name)
        if bipolar:
            q = np.where(w / s >= 0, 1.0, -1.0)
        else:
            q = round_with(np.clip(w / s, qmin, qmax), rounding)
        imp.values[node.output[0]] = Const(q * s)
        return
    _activation(imp, x, float(scale.reshape(())), -1 if bipolar else qmin, 1 if bipolar else qmax, rounding,
                sign=bipolar)


def _bipolar_quant(imp) -> None:
    node = imp.node
    if len(node.input) != 2:
        raise imp.fail(f"BipolarQuant needs 2 inputs (x, scale), got {len(node.input)}")
    x = imp.get(node.input[0])
    is_weight = isinstance(x, Const)
    s_name, scale = _po2_scale(imp, 1, per_tensor=not is_weight)
    if is_weight:
        w = checks.finite(imp.fail, checks.non_empty(imp.fail, np.asarray(x.value, np.float64),
                                                     f"weight '{node.input[0]}'"), f"weight '{node.input[0]}'")
        s = _broadcast(imp, w, scale, s_name)
        imp.values[node.output[0]] = Const(np.where(w >= 0, 1.0, -1.0) * s)
        return
    _activation(imp, x, float(scale.reshape(())), -1, 1, "ROUND", sign=True)


def _trunc(imp) -> None:
    """Trunc v1 (5 inputs) or v2 (6 inputs) on an exact integer tensor (e.g. an average pool's window sum)."""
    node = imp.node
    if len(node.input) not in (5, 6):
        raise imp.fail(f"Trunc needs 5 (v1) or 6 (v2) inputs, got {len(node.input)}")
    x = imp.get(node.input[0])
    if isinstance(x, Pending) and not np.all(x.a == imp.tensors[x.source].scale):
        raise imp.fail("Trunc input must be an exact integer tensor (quantize before the pooling)")
    tensor = imp.as_int(x, f"Trunc '{node.name}'")
    t = imp.tensors[tensor]
    s_name, scale = _po2_scale(imp, 1, per_tensor=True)
    scale = float(scale.reshape(()))
    _zero_point(imp, 2)
    rounding = _rounding(imp, "FLOOR")
    ratio = t.scale / scale  # the integers x / scale, exact only for an integer ratio
    if ratio < 1 or not is_power_of_two(ratio):
        raise imp.fail(f"Trunc scale '{s_name}' = {scale:g} is not the input's step {t.scale:g} times 2^-k "
                       "(k >= 0); x / scale must be an exact integer (pool windows of 2^k pixels)")
    in_bits = _bits(imp, 3, "input bit width", 64)
    if len(node.input) == 5:  # v1: floor(n / 2^(in - out)) at the same scale, no clamp
        out_bits = _bits(imp, 4, "output bit width", 64)
        if out_bits > in_bits:
            raise imp.fail(f"Trunc output bit width {out_bits} exceeds the input's {in_bits}")
        shift = 2.0 ** (in_bits - out_bits)
        qmin = int(round_with(-(2.0**in_bits) / shift, rounding))
        qmax = int(round_with(2.0**in_bits / shift, rounding))
        out_scale = scale
    else:  # v2: clip(R(n / trunc_scale)) at output_scale
        _, out_scale = _po2_scale(imp, 4, per_tensor=True)
        out_scale = float(out_scale.reshape(()))
        out_bits = _bits(imp, 5, "output bit width", MAX_ACT_BITS)
        shift = 2.0 ** np.round(np.log2(out_scale / scale))
        qmin, qmax = _int_range(_flag(imp, "signed", 1), _flag(imp, "narrow", 0), out_bits)
    if qmax - qmin >= 2**MAX_ACT_BITS:
        raise imp.fail(f"Trunc to {qmax - qmin + 1} levels; nbq folds up to 2^{MAX_ACT_BITS} levels")
    channels = t.shape[0]
    name = imp.new_tensor(node.output[0], t.shape, out_scale)
    imp.add_layer(ir.AffineQuant(name=imp.layer_name(), inputs=[tensor], output=name, a=np.full(channels, ratio),
                                 b=np.zeros(channels), out_scale=float(shift), qmin=qmin, qmax=qmax,
                                 rounding=rounding))
    imp.values[node.output[0]] = IntVal(name)


_THRESHOLD_LIMIT = 2**31  # thresholds beyond the accumulator's reach become "never"/"always" (clipped)


def _multi_threshold(imp) -> None:
    node = imp.node
    attrs = imp.attrs()
    layout = attrs.get("data_layout", b"")
    layout = layout.decode(errors="replace") if isinstance(layout, bytes) else str(layout)
    if layout not in ("", "NCHW", "NC"):
        raise imp.fail(f"data_layout {layout!r}: nbq reads channels-first tensors (NCHW or NC); convert the "
                       "graph back to NCHW")
    if len(node.input) != 2:
        raise imp.fail(f"MultiThreshold needs 2 inputs (x, thresholds), got {len(node.input)}")
    tensor = imp.as_int(imp.get(node.input[0]), f"MultiThreshold '{node.name}'")
    t = imp.tensors[tensor]
    channels = t.shape[0]
    th_name, th = _input(imp, 1, "thresholds")
    if th.ndim != 2 or th.shape[0] not in (1, channels) or th.shape[1] < 1:
        raise imp.fail(f"thresholds '{th_name}' have shape {th.shape}; expected ({channels}, levels) or (1, levels)")
    if np.any(np.isnan(th)):
        raise imp.fail(f"thresholds '{th_name}' hold NaN; give numbers")
    out_scale = checks.float_attr(imp.fail, attrs, "out_scale", 1.0)
    out_bias = checks.float_attr(imp.fail, attrs, "out_bias", 0.0)
    if not is_power_of_two(out_scale):
        raise imp.fail(f"out_scale {out_scale:g} is not a positive power of two")
    lo = out_bias / out_scale
    if lo != np.round(lo) or abs(lo) > 2**31:
        raise imp.fail(f"out_bias {out_bias:g} is not a whole number of out_scale {out_scale:g} steps")
    # x = n * s crosses t  <=>  n >= ceil(t / s); float64 quotient checked against the product both ways
    s = t.scale
    with np.errstate(invalid="ignore", over="ignore"):
        k = np.ceil(np.clip(th / s, -_THRESHOLD_LIMIT, _THRESHOLD_LIMIT))
        k = np.where((k - 1) * s >= th, k - 1, k)
        k = np.where(k * s < th, k + 1, k)
    k = np.sort(np.broadcast_to(k, (channels, th.shape[1])), axis=1).astype(np.int64)
    name = imp.new_tensor(node.output[0], t.shape, out_scale)
    imp.add_layer(ir.Threshold(name=imp.layer_name(), inputs=[tensor], output=name, thresholds=k,
                               direction=np.ones(channels, np.int8), out_lo=int(lo), step=1))
    imp.values[node.output[0]] = IntVal(name)


# ------------------------------------------------------------------ QCDQ


def _qcdq_clip(base_clip: Callable) -> Callable:
    """Clip that also narrows a QuantizeLinear's integers (QCDQ) or clips folded integer weights."""

    def clip(imp) -> None:
        x = imp.get(imp.node.input[0])
        if not isinstance(x, Quantized | Const):
            base_clip(imp)
            return
        bounds = []
        for index, attr, default in ((1, "min", -np.inf), (2, "max", np.inf)):
            name = imp.opt_input(index)
            value = default if name is None else float(checks.scalar(
                imp.fail, imp.float_const(name, f"Clip {attr}"), f"Clip {attr} '{name}'"))
            if np.isfinite(value) and value != np.round(value):
                raise imp.fail(f"Clip {attr} {value:g} on quantized integers must be a whole number")
            bounds.append(value)
        lo, hi = bounds
        if lo > hi:
            raise imp.fail(f"Clip min {lo:g} is above its max {hi:g}; swap them")
        out = imp.node.output[0]
        if isinstance(x, Const):
            if x.value.dtype.kind not in "iu":
                base_clip(imp)  # a float constant: the standard handler explains
                return
            imp.values[out] = Const(np.clip(x.value, lo, hi).astype(np.int64))
            return
        # x.qmin/qmax exclude the zero point; the Clip bounds include it
        qmin = int(max(x.qmin, lo - x.zero_point)) if np.isfinite(lo) else x.qmin
        qmax = int(min(x.qmax, hi - x.zero_point)) if np.isfinite(hi) else x.qmax
        if qmin > qmax:
            raise imp.fail(f"Clip [{lo:g}, {hi:g}] leaves no level of the quantizer's range")
        imp.values[out] = Quantized(x.of, x.scale, x.zero_point, qmin, qmax, x.node)
        imp.elem_types.pop(out, None)

    return clip


# ------------------------------------------------------------------ Transpose of quantized weights


def _const_transpose(base: Callable | None) -> Callable:
    """Transpose of a constant: Brevitas' TorchScript export writes Quant(W) -> Transpose -> MatMul, which the
    constant folder cannot fold (it does not evaluate QONNX ops)."""

    def transpose(imp) -> None:
        x = imp.get(imp.node.input[0])
        if not isinstance(x, Const):
            if base is not None:
                base(imp)
                return
            raise imp.fail("Transpose of a computed tensor is not supported (only of a constant weight); "
                           "export without it")
        ndim = x.value.ndim
        perm = imp.attrs().get("perm", list(range(ndim))[::-1])
        if sorted(int(p) for p in perm) != list(range(ndim)):
            raise imp.fail(f"attribute 'perm' = {list(perm)} is not a permutation of the {ndim} axes")
        imp.values[imp.node.output[0]] = Const(np.transpose(x.value, [int(p) for p in perm]))

    return transpose


# ------------------------------------------------------------------ registration


def register(handlers: dict[str, Callable], domains: dict[str, tuple[str, ...]]) -> None:
    """Add the QONNX handlers to the importer's table (and the domains their op names live in)."""
    for op, handler in (("Quant", _quant), ("IntQuant", _quant), ("BipolarQuant", _bipolar_quant),
                        ("Trunc", _trunc), ("MultiThreshold", _multi_threshold)):
        handlers[op] = handler
        domains[op] = QONNX_DOMAINS
    handlers["Clip"] = _qcdq_clip(handlers["Clip"])
    handlers["Transpose"] = _const_transpose(handlers.get("Transpose"))
