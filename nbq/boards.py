"""Boards are data: one YAML file each in boards/ (or any path the user gives)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nbq.errors import NbqError
from nbq.resources import data_dir

_REQUIRED = ("name", "part", "platform", "clock_mhz", "flow", "resources")
_FLOWS = ("vivado", "vitis")


@dataclass(frozen=True)
class Board:
    name: str
    part: str
    platform: str
    clock_mhz: float
    flow: str  # "vivado" (IP, AXI-Stream) or "vitis" (kernel, m_axi)
    resources: dict
    memory: dict = field(default_factory=dict)
    description: str = ""
    shell: dict = field(default_factory=dict)
    budget: dict = field(default_factory=dict)  # resource -> limit (number or "70%"), see nbq.plan.budget
    vivado_board_part: str = ""  # Vivado board files (PS presets) for the block design; "" = part only
    path: str = ""

    @property
    def clock_period_ns(self) -> float:
        return 1000.0 / self.clock_mhz


def board_files() -> dict[str, Path]:
    return {p.stem: p for p in sorted(data_dir("boards").glob("*.yaml"))}


def known_boards() -> list[Board]:
    return [load_board(str(p)) for p in board_files().values()]


def load_board(name_or_path: str) -> Board:
    """A board by name (boards/NAME.yaml) or by path to a YAML file."""
    files = board_files()
    path = files.get(name_or_path)
    if path is None:
        candidate = Path(name_or_path)
        if candidate.suffix in (".yaml", ".yml") or candidate.exists():
            if not candidate.is_file():
                raise NbqError(f"board file {candidate} does not exist")
            path = candidate
        else:
            raise NbqError(
                f"unknown board '{name_or_path}'; known boards: {', '.join(files)} (or give a path to a YAML file)"
            )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise NbqError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise NbqError(f"{path}: a board file must be a YAML mapping")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise NbqError(f"{path}: board file is missing {', '.join(missing)}")
    if data["flow"] not in _FLOWS:
        raise NbqError(f"{path}: flow must be one of {', '.join(_FLOWS)}, got '{data['flow']}'")
    known = {f for f in Board.__dataclass_fields__}
    fields = {k: v for k, v in data.items() if k in known}
    return Board(**fields, path=str(path))
