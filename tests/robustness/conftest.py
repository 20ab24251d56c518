import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness import Sandbox  # noqa: E402


@pytest.fixture
def sandbox(tmp_path) -> Sandbox:
    """A fresh sandbox (work/, home/, tmp/) for one hostile case."""
    return Sandbox(tmp_path / "sandbox")
