"""The hardware plan: one typed description per layer that both backends print (see build.py)."""

from nbq.plan.build import beats, live_layers, plan_graph, plan_hardware
from nbq.plan.engine import ENGINE_OPTIONS, check_engine_option
from nbq.plan.records import (
    AccRange,
    Buffer,
    Engine,
    EngineKind,
    HardwarePlan,
    LayerPlan,
    MemoryKind,
    Rom,
    Stage,
    ThresholdTable,
)

__all__ = [
    "ENGINE_OPTIONS", "AccRange", "Buffer", "Engine", "EngineKind", "HardwarePlan", "LayerPlan", "MemoryKind",
    "Rom", "Stage", "ThresholdTable", "beats", "check_engine_option", "live_layers", "plan_graph", "plan_hardware",
]
