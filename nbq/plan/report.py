"""The plan's numbers as plain records for manifests and READMEs: one cycle model, shown everywhere."""

from __future__ import annotations

from nbq.plan.records import HardwarePlan


def stage_table(plan: HardwarePlan) -> list[dict]:
    """Every stage of the cycle model: {"layer", "stage", "cycles"} (input and output ports included)."""
    rows = [{"layer": plan.graph.inputs[0], "stage": "input", "cycles": plan.input_beats}]
    for p in plan.layers:
        rows += [{"layer": p.name, "stage": s.name, "cycles": s.cycles} for s in p.stages]
    rows.append({"layer": plan.graph.outputs[0], "stage": "output", "cycles": plan.output_beats})
    return rows


def performance(plan: HardwarePlan) -> dict:
    """Cycles per image, frames/s and GOP/s at the board clock (the numbers co-simulation checks)."""
    slowest = max(stage_table(plan), key=lambda r: r["cycles"])
    return {
        "clock_mhz": plan.clock_mhz,
        "ii_cycles": plan.ii_cycles,
        "frames_per_s": round(plan.frames_per_s, 3),
        "gops": round(plan.gops, 3),
        "macs_per_image": plan.macs,
        "lanes": plan.lanes,
        "slowest": f"{slowest['layer']} ({slowest['stage']})",
    }


def rom_table(plan: HardwarePlan) -> list[dict]:
    """Per weight ROM: depth, width, useful and stored bits, memory kind."""
    return [{"layer": p.name, "depth": p.rom.depth, "width": p.rom.row_bits, "useful_bits": p.rom.useful_bits,
             "storage_bits": p.rom.storage_bits, "memory": str(p.rom.memory)} for p in plan.mvaus]
