"""Boards are data: one YAML file each in boards/ (or any path the user gives), checked by nbq.board_schema."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nbq.board_schema import read_board_file
from nbq.errors import NbqError
from nbq.resources import data_dir


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
                raise NbqError(f"board file {candidate} does not exist or is not a file; give the path to a board "
                               "YAML file (see boards/zcu102.yaml)")
            path = candidate
        else:
            raise NbqError(
                f"unknown board '{name_or_path}'; known boards: {', '.join(files)} (or give a path to a YAML file)"
            )
    data = read_board_file(path)
    return Board(**data, path=str(path))
