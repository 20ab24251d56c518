"""RTL backend: a hardware plan (nbq.plan) -> a streaming SystemVerilog network (hw/rtl engines, ROM tables).

write_rtl_project(plan, out_dir, golden_inputs, golden_outputs) writes out_dir/rtl/ from a hardware plan;
nbq.sim.cosim.run_cosim(out_dir) co-simulates it.

The names below load lazily from nbq.backends.rtl.project (PEP 562), so this package
module imports none of its submodules and the submodules may import from the package
(``from nbq.backends.rtl import memfiles``) without an import cycle.
"""

from __future__ import annotations

from nbq.lazy import lazy_exports

_EXPORTS = {
    "MANIFEST": "project", "RTL_DIR": "project", "build_network": "project", "project_files": "project",
    "write_rtl_project": "project",
}  # fmt: skip

__all__ = ["MANIFEST", "RTL_DIR", "build_network", "project_files", "write_rtl_project"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
