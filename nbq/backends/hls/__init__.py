"""The Vitis HLS backend: a hardware plan -> self-contained HLS C++ project (see project.py).

The names below load lazily from nbq.backends.hls.project (PEP 562), so the package module imports
none of its submodules and they may import each other without a cycle through the package.
"""

from __future__ import annotations

from nbq.lazy import lazy_exports

_EXPORTS = {"MANIFEST": "project", "project_files": "project", "write_hls_project": "project"}

__all__ = ["MANIFEST", "project_files", "write_hls_project"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
