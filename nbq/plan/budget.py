"""The resource budget a design must fit: the board's resources, less its shell, times a usable fraction.

Defaults follow FINN's platform convention: at most 70 % of the LUTs and 80 % of the DSPs, block RAMs and
UltraRAMs (and 70 % of the flip-flops) that the board leaves to the design.  A board YAML may set its own
fractions or absolute limits under `budget:`, and the user overrides any limit with
`--budget lut=200000,dsp=768,bram=60%`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from nbq.board_catalog import Board
from nbq.errors import NbqError

DEFAULT_FRACTIONS = {"lut": 0.70, "ff": 0.70, "dsp": 0.80, "bram36": 0.80, "uram": 0.80}
ALIASES = {"lut": "lut", "luts": "lut", "ff": "ff", "ffs": "ff", "dsp": "dsp", "dsps": "dsp", "bram": "bram36",
           "bram36": "bram36", "uram": "uram"}
NAMES = {"lut": "LUTs", "ff": "flip-flops", "dsp": "DSPs", "bram36": "BRAM36", "uram": "URAMs"}


@dataclass(frozen=True)
class Budget:
    lut: float
    ff: float
    dsp: float
    bram36: float
    uram: float

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def available(board: Board) -> dict[str, float]:
    """What the board leaves to a design: its resources less what its shell (platform) takes."""
    out = {}
    for key in DEFAULT_FRACTIONS:
        total = float(board.resources.get(key, 0) or 0)
        out[key] = max(total - float((board.shell or {}).get(key, 0) or 0), 0.0)
    return out


def _limit(text: str, key: str, avail: float, where: str) -> float:
    text = str(text).strip()
    try:
        if text.endswith("%"):
            value = float(text[:-1]) / 100 * avail
        else:
            value = float(text)
    except ValueError:
        raise NbqError(f"{where}: '{key}={text}' is not a number or a percentage (e.g. {key}=50%)") from None
    if not math.isfinite(value) or value < 0:
        raise NbqError(f"{where}: '{key}={text}' must be a non-negative number or percentage")
    return value


def parse_budget(text: str | None) -> dict[str, str]:
    """'lut=200000,dsp=768,bram=60%' -> {'lut': '200000', 'dsp': '768', 'bram36': '60%'}."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = part.partition("=")
        key = ALIASES.get(key.strip().lower())
        if not sep or key is None or not value.strip():
            raise NbqError(f"--budget: '{part}' is not RESOURCE=LIMIT with RESOURCE one of lut, ff, dsp, bram, uram "
                           "(e.g. --budget lut=200000,dsp=768,bram=60%)")
        out[key] = value.strip()
    return out


def board_budget(board: Board, overrides: dict[str, str] | None = None) -> Budget:
    """The budget for `board`: the YAML's `budget:` entries, then the user's overrides, else the defaults."""
    avail = available(board)
    limits = {key: DEFAULT_FRACTIONS[key] * avail[key] for key in DEFAULT_FRACTIONS}
    for key, value in (getattr(board, "budget", None) or {}).items():
        name = ALIASES.get(str(key).lower())
        if name is None:
            raise NbqError(f"{board.path or board.name}: budget.{key}: unknown resource (lut, ff, dsp, bram, uram)")
        limits[name] = _limit(value, name, avail[name], f"{board.path or board.name}: budget")
    for key, value in (overrides or {}).items():
        limits[key] = _limit(value, key, avail[key], "--budget")
    return Budget(**limits)
