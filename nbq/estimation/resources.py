"""Resource estimate of a hardware plan's RTL network: per unit, glue and total, calibrated against Yosys.

    from nbq.estimation import plan_resources
    est = plan_resources(plan)          # PlanResources
    est.total.lut, est.units["conv_1"].dsp, est.glue.lutram

Counts are what Yosys `synth_xilinx -family xcup` gives for nbq's RTL (nbq/backends/rtl): the
calibration source we can run without vendor tools (docs/estimates.md says how a Vivado report
differs).  Conventions:

* `lut` is every LUT the design occupies: LUTs as logic PLUS LUTs as memory (Vivado's "CLB LUTs");
  `lutram` is the memory part of it (LUT RAM sites of FIFOs and line buffers, SRLs).
* `bram36` counts RAMB36 blocks, a RAMB18 as 0.5; `uram` URAM288 blocks (Yosys maps none: ROMs
  cannot go to URAM there, see nbq.estimation.memory).
* `dsp` DSP48E2 slices: one per VPE product lane whose weight varies (a constant power-of-two
  weight becomes a shift), none for the shift-add and XNOR engines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from nbq.estimation.model import Part, features
from nbq.plan.records import HardwarePlan, LayerPlan

COEFF_FILE = "calibration.json"


@dataclass(frozen=True)
class Resources:
    lut: float = 0.0  # all LUTs: logic + memory
    ff: float = 0.0
    dsp: int = 0
    lutram: float = 0.0  # LUTs used as memory (included in lut)
    bram36: float = 0.0  # RAMB36 blocks; a RAMB18 counts 0.5
    uram: int = 0

    def __add__(self, other: Resources) -> Resources:
        if not isinstance(other, Resources):
            return NotImplemented
        return Resources(self.lut + other.lut, self.ff + other.ff, self.dsp + other.dsp,
                         self.lutram + other.lutram, self.bram36 + other.bram36, self.uram + other.uram)

    def __radd__(self, other):  # sum() starts from 0
        return self if other == 0 else self.__add__(other)

    def scaled(self, k: float) -> Resources:
        """k copies (or a fraction) of these resources; DSP and URAM rounded up."""
        import math

        return Resources(self.lut * k, self.ff * k, math.ceil(self.dsp * k - 1e-9), self.lutram * k,
                         self.bram36 * k, math.ceil(self.uram * k - 1e-9))

    def rounded(self) -> Resources:
        return Resources(round(self.lut), round(self.ff), self.dsp, round(self.lutram), self.bram36, self.uram)

    def as_dict(self) -> dict:
        return {"lut": round(self.lut), "ff": round(self.ff), "dsp": int(self.dsp), "lutram": round(self.lutram),
                "bram36": float(self.bram36), "uram": int(self.uram)}


@dataclass(frozen=True)
class UnitResources:
    """One planned unit: its resources and the hw/rtl instances they come from."""

    name: str
    resources: Resources
    parts: tuple[tuple[str, Resources], ...]  # (module, resources) per instance


@dataclass(frozen=True)
class PlanResources:
    units: dict[str, UnitResources]  # layer name -> its unit
    glue: Resources  # FIFOs and forks between units, AXI-Stream adapters
    glue_parts: tuple[tuple[str, Resources], ...]
    total: Resources
    calibration: str  # which coefficients (hw/rtl fingerprint of the calibration run)

    def unit(self, name: str) -> Resources:
        return self.units[name].resources

    def as_dict(self) -> dict:
        return {"total": self.total.as_dict(), "glue": self.glue.as_dict(),
                "units": {n: u.resources.as_dict() for n, u in self.units.items()}, "calibration": self.calibration}


@lru_cache(maxsize=4)
def load_coefficients(path: str | None = None) -> dict:
    """The fitted coefficients (nbq/estimation/calibration.json, or another file of the same form)."""
    from pathlib import Path

    p = Path(path) if path else Path(__file__).with_name(COEFF_FILE)
    return json.loads(p.read_text())


def part_resources(part: Part, coeffs: dict | None = None) -> Resources:
    """One hw/rtl instance: fitted LUT/FF features plus the rule-based DSP, block RAM and LUT RAM."""
    coeffs = coeffs or load_coefficients()
    f = features(part)
    c = coeffs["modules"].get(part.key)
    if c is None and not (f.lut or f.ff):
        c = {"lut": {}, "ff": {}}  # wiring only (nbq_axis_in)
    if c is None:
        raise KeyError(f"no calibration for {part.key}: rerun bench/calibrate_resources.py")
    logic = sum(c["lut"].get(k, 0.0) * v for k, v in f.lut.items())
    ff = sum(c["ff"].get(k, 0.0) * v for k, v in f.ff.items())
    lutram = float(f.fixed.lutram)
    return Resources(lut=logic + lutram, ff=ff, dsp=int(f.fixed.dsp), lutram=lutram, bram36=f.fixed.bram36)


def _sum(parts: list[Part], coeffs: dict) -> tuple[Resources, tuple[tuple[str, Resources], ...]]:
    each = tuple((p.module, part_resources(p, coeffs)) for p in parts)
    return sum((r for _m, r in each), Resources()), each


def unit_resources(unit: LayerPlan, plan: HardwarePlan, coeffs: dict | None = None) -> Resources:
    """What the RTL backend instantiates for one planned unit (pad, window, MVAU with its weight ROM,
    bias or threshold table, collect, pool, ...), without the FIFO after it (that is glue)."""
    from nbq.estimation.parts import network_parts

    return _sum(network_parts(plan).units[unit.name], coeffs or load_coefficients())[0]


def plan_resources(plan: HardwarePlan, coeffs: dict | None = None) -> PlanResources:
    from nbq.estimation.parts import network_parts

    coeffs = coeffs or load_coefficients()
    net = network_parts(plan)
    units = {}
    for name, parts in net.units.items():
        res, each = _sum(parts, coeffs)
        units[name] = UnitResources(name, res, each)
    glue, glue_each = _sum(net.glue, coeffs)
    total = sum((u.resources for u in units.values()), Resources()) + glue
    return PlanResources(units, glue, glue_each, total, str(coeffs.get("rtl", "")))
