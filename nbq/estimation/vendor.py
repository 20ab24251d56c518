"""Read the AMD tools' own numbers when a user has them: Vitis HLS csynth.xml and Vivado utilization reports.

Only the totals nbq estimates are read (LUT, FF, DSP, BRAM36, URAM); BRAM_18K counts are halved.
Files are searched for inside the project folder only.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

MAX_BYTES = 64 * 2**20  # a report larger than this is not a report


def _small(path: Path) -> bool:
    try:
        return path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_BYTES
    except OSError:
        return False


def read_csynth(path: Path) -> dict[str, float] | None:
    """Vitis HLS csynth.xml: AreaEstimates/Resources of the top."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return None
    res = root.find("AreaEstimates/Resources")
    if res is None:
        return None

    def value(tag: str) -> float:
        node = res.find(tag)
        try:
            return float(node.text) if node is not None and node.text else 0.0
        except ValueError:
            return 0.0

    return {"lut": value("LUT"), "ff": value("FF"), "dsp": value("DSP") or value("DSP48E"),
            "bram36": value("BRAM_18K") / 2, "uram": value("URAM")}


_ROWS = {"lut": ("CLB LUTs", "Slice LUTs"), "ff": ("CLB Registers", "Slice Registers"), "dsp": ("DSPs",),
         "bram36": ("Block RAM Tile",), "uram": ("URAM",)}


def read_utilization(path: Path) -> dict[str, float] | None:
    """Vivado report_utilization text: the 'Used' column of the summary rows."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    out: dict[str, float] = {}
    for key, names in _ROWS.items():
        for name in names:
            m = re.search(rf"^\|\s*{re.escape(name)}\*?\s*\|\s*([\d.]+)\s*\|", text, re.M)
            if m:
                out[key] = float(m.group(1))
                break
    return out if "lut" in out else None


def vendor_reports(project: Path) -> dict[str, dict[str, float]]:
    """{source description: totals} for every csynth.xml and utilization report found in the project."""
    found: dict[str, dict[str, float]] = {}
    root = Path(project)
    for path in sorted(root.rglob("csynth.xml")):
        if _small(path) and (data := read_csynth(path)) is not None:
            found[f"Vitis HLS csynth ({path.relative_to(root)})"] = data
    for path in sorted(root.rglob("*utilization*.rpt")):
        if _small(path) and (data := read_utilization(path)) is not None:
            found[f"Vivado utilization ({path.relative_to(root)})"] = data
    return found
