"""Locate the data folders (templates/, hw/, boards/) in a source tree or an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """templates, hw or boards: the repository's top-level folder, else the copy shipped in the wheel."""
    for candidate in (_PACKAGE.parent / name, _PACKAGE / "_data" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"nbq data folder '{name}' not found next to {_PACKAGE}; reinstall nbq")
