"""RTL backend: a compiled nbq graph -> a streaming SystemVerilog network (hw/rtl engines, ROM tables).

write_rtl_project(graph, board, out_dir, golden_inputs, golden_outputs) writes out_dir/rtl/;
nbq.sim.cosim.run_cosim(out_dir) co-simulates it.

The names below load lazily from nbq.backends.rtl.project (PEP 562), so this package
module imports none of its submodules and the submodules may import from the package
(``from nbq.backends.rtl import memfiles``) without an import cycle.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "MANIFEST": "project", "RTL_DIR": "project", "build_network": "project", "project_files": "project",
    "write_rtl_project": "project",
}  # fmt: skip

__all__ = ["MANIFEST", "RTL_DIR", "build_network", "project_files", "write_rtl_project"]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
