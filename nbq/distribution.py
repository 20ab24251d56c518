"""What nbq is called on a package index, its version, and how to install one of its extras.

The import package and the command are `nbq`; the distribution is `nbq-fpga`, because `nbq` on PyPI is an
unrelated project: an install hint that said `pip install nbq[sim]` would fetch that project.
"""

from __future__ import annotations

DISTRIBUTION = "nbq-fpga"
__version__ = "0.2.0"  # read by pyproject.toml ([tool.setuptools.dynamic]): the one place the version lives


def install_hint(extra: str | None = None) -> str:
    """The command that installs nbq with `extra`, for messages: from the index, or from a checkout."""
    spec = f"{DISTRIBUTION}[{extra}]" if extra else DISTRIBUTION
    local = f".[{extra}]" if extra else "."
    return f"pip install '{spec}' (from a checkout of nbq: pip install -e '{local}')"
