"""Resource estimates of a hardware plan's RTL network, calibrated against Yosys (docs/estimates.md).

plan_resources(plan) -> PlanResources (per unit, glue, total); unit_resources(unit, plan) -> Resources.
"""

from __future__ import annotations

from nbq.estimation.resources import PlanResources, Resources, UnitResources, plan_resources, unit_resources

__all__ = ["PlanResources", "Resources", "UnitResources", "plan_resources", "unit_resources"]
