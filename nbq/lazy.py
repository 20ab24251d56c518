"""Lazy package exports (PEP 562): a package names its API without importing its submodules.

So a package's modules may import each other (and the package) without an import cycle, and
importing a light part of nbq does not load a heavy one (torch for nbq.nn).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """(__getattr__, __dir__) for `package`, loading exports[name] = submodule on first use."""
    namespace = importlib.import_module(package).__dict__

    def getattr_(name: str) -> object:
        if name in exports:
            value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def dir_() -> list[str]:
        return sorted({*namespace, *exports})

    return getattr_, dir_
