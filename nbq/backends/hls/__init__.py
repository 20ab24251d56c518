"""The Vitis HLS backend: a hardware plan -> self-contained HLS C++ project (see project.py).

The names below load lazily from nbq.backends.hls.project (PEP 562), so the package module imports
none of its submodules and they may import each other without a cycle through the package.
"""

from __future__ import annotations

import importlib

_EXPORTS = {"MANIFEST": "project", "project_files": "project", "write_hls_project": "project"}

__all__ = ["MANIFEST", "project_files", "write_hls_project"]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
