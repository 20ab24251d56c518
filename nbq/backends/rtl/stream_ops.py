"""RTL printers of the stream-shaping layers: Concat (a chain of nbq_concat) and ChannelPermute (nbq_permute)."""

from __future__ import annotations

from nbq import ir
from nbq.backends.escape import label
from nbq.backends.rtl.layers import Builder
from nbq.backends.rtl.netlist import Stream
from nbq.errors import UnsupportedModelError


def concat(b: Builder, layer: ir.Concat, srcs: list[Stream]) -> Stream:
    """Inputs 0 and 1 join first; each further input joins the running result (shift 0 on that side)."""
    y = b.tensor(layer.output)
    if len(srcs) < 2 or len({s.beats for s in srcs}) != 1 or len({s.pixels for s in srcs}) != 1:
        raise UnsupportedModelError(f"Concat '{layer.name}': its inputs stream differently")
    if sum(s.elems for s in srcs) != y.shape[0]:
        raise UnsupportedModelError(f"Concat '{layer.name}': {sum(s.elems for s in srcs)} input channels per beat, "
                                    f"{y.shape[0]} output channels")
    a, shift_a = srcs[0], int(layer.shifts[0])
    for k in range(1, len(srcs)):
        s = srcs[k]
        elems = a.elems + s.elems
        layout = (elems,) + tuple(y.shape[1:]) if a.pixels else None
        dst = b.net.stream(f"{layer.name}_cat{k}", elems, y.bits, y.signed, a.beats, layout, a.pixels)
        shift_b = int(layer.shifts[k])
        b.net.add("nbq_concat", f"{layer.name}_cat{k}",
                  {"A_ELEMS": a.elems, "A_BITS": a.bits, "A_SIGNED": a.signed, "B_ELEMS": s.elems,
                   "B_BITS": s.bits, "B_SIGNED": s.signed, "SHIFT_A": shift_a, "SHIFT_B": shift_b,
                   "OUT_BITS": y.bits},
                  [("clk", "ap_clk"), ("rst_n", "ap_rst_n"),
                   ("a_valid", f"{a.name}_valid"), ("a_ready", f"{a.name}_ready"), ("a_data", f"{a.name}_data"),
                   ("b_valid", f"{s.name}_valid"), ("b_ready", f"{s.name}_ready"), ("b_data", f"{s.name}_data"),
                   ("out_valid", f"{dst.name}_valid"), ("out_ready", f"{dst.name}_ready"),
                   ("out_data", f"{dst.name}_data")],
                  f"Concat {label(layer.name)}: [{a.elems} << {shift_a}, {s.elems} << {shift_b}] channels")
        a, shift_a = dst, 0
    return a


def permute(b: Builder, layer: ir.ChannelPermute, src: Stream) -> Stream:
    c = src.elems
    if sorted(layer.perm) != list(range(c)):
        raise UnsupportedModelError(f"ChannelPermute '{layer.name}': not a permutation of the {c} channels per beat")
    idx_bits = max(1, (c - 1).bit_length())
    packed = sum(int(p) << (i * idx_bits) for i, p in enumerate(layer.perm))
    dst = b.net.like(f"{layer.name}_out", src)
    b.net.stage("nbq_permute", f"{layer.name}_perm", src, dst,
                {"ELEMS": c, "E_BITS": src.bits, "IDX_BITS": idx_bits, "PERM": f"{{{c * idx_bits}'h{packed:x}}}"},
                f"ChannelPermute {label(layer.name)}: {c} channels", clocked=False)
    return dst
