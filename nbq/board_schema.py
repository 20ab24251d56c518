"""The board YAML schema: read a board file defensively and check every field before anything uses it.

Board fields end up in TCL, Makefiles, .cfg files and C++ (see nbq.backends.escape), so identifiers are
matched against strict patterns, numbers must be finite and in range, free text must be printable, and
unknown keys are refused (a typo would otherwise silently drop a setting).  Every problem is one
NbqError naming the file and the field.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from nbq.errors import NbqError

MAX_FILE_BYTES = 1 << 20
MAX_TEXT = 200
MAX_LIST = 16
MAX_RESOURCE = 10**8  # more than any FPGA has of anything; keeps float arithmetic exact
FLOWS = ("vivado", "vitis")

NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
PART = re.compile(r"x[acq][a-z0-9]{2,24}(-[A-Za-z0-9]{1,16}){1,4}")  # xczu9eg-ffvb1156-2-e, xcu280-fsvh2892-2L-e
PLATFORM = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_.+/-]{0,159}")  # a platform name or a path to its .xpfm
_SEG = r"[A-Za-z0-9_.-]{1,64}"
BOARD_PART = re.compile(rf"{_SEG}:{_SEG}:{_SEG}:(\*|[0-9][0-9.]{{0,15}})")  # xilinx.com:zcu102:part0:3.4
BANK = re.compile(r"(HBM|DDR|PLRAM|HOST)\[[0-9]{1,2}(:[0-9]{1,2})?\]")  # HBM[0], DDR[1], HBM[0:31]
SLR = re.compile(r"SLR[0-9]")
BUS_BITS = (64, 128, 256, 512, 1024)
HP_PORT_BITS = (32, 64, 128)
RESOURCE_KEYS = ("lut", "ff", "dsp", "bram36", "uram")
PERCENT = re.compile(r"([0-9]{1,3}(\.[0-9]{1,6})?)\s*%")


class _Bad(Exception):
    """A field's problem, before the file and field path are known."""


Check = Callable[[object], object]


def _show(value: object) -> str:
    """A short picture of a value for a message (never the whole of a big structure)."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def number(lo: float, hi: float, unit: str = "") -> Check:
    def check(value: object) -> float:
        if not _is_number(value) or not math.isfinite(value) or not lo < value <= hi:
            raise _Bad(f"must be a number in ({lo:g}, {hi:g}]{' ' + unit if unit else ''}, got {_show(value)}")
        return value

    return check


def integer(lo: int, hi: int) -> Check:
    def check(value: object) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise _Bad(f"must be a whole number from {lo} to {hi:,}, got {_show(value)}")
        return value

    return check


def one_of(choices: tuple) -> Check:
    def check(value: object) -> object:
        if isinstance(value, bool) or value not in choices:
            raise _Bad(f"must be one of {', '.join(map(str, choices))}, got {_show(value)}")
        return value

    return check


def matching(pattern: re.Pattern, example: str) -> Check:
    def check(value: object) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise _Bad(f"must look like {example} (letters, digits and a few separators), got {_show(value)}")
        return value

    return check


def text(value: object) -> str:
    if not isinstance(value, str):
        raise _Bad(f"must be text, got {_show(value)}")
    if len(value) > MAX_TEXT:
        raise _Bad(f"is {len(value)} characters long; keep it under {MAX_TEXT}")
    bad = next((ch for ch in value if not ch.isprintable()), None)
    if bad is not None:
        raise _Bad(f"contains the control or format character U+{ord(bad):04X} (use printable text)")
    return value


def list_of(item: Check, lo: int = 0, hi: int = MAX_LIST) -> Check:
    def check(value: object) -> list:
        if not isinstance(value, list) or not lo <= len(value) <= hi:
            raise _Bad(f"must be a list of {lo} to {hi} entries, got {_show(value)}")
        out = []
        for i, entry in enumerate(value):
            try:
                out.append(item(entry))
            except _Bad as exc:
                raise _Bad(f"entry {i} {exc}") from None
        return out

    return check


@dataclass(frozen=True)
class Key:
    check: Check
    required: bool = False


def mapping(keys: dict[str, Key]) -> Check:
    """A mapping with exactly these keys (the required ones present, no others)."""

    def check(value: object) -> dict:
        if not isinstance(value, dict):
            raise _Bad(f"must be a mapping (key: value lines), got {_show(value)}")
        for key in value:
            if not isinstance(key, str):
                raise _Bad(f"has a key {_show(key)} that is not a name")
            if key not in keys:
                close = difflib.get_close_matches(key, keys, n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(keys)}"
                raise _Bad(f"unknown key '{key[:40]}'", key, hint)
        missing = [k for k, spec in keys.items() if spec.required and k not in value]
        if missing:
            raise _Bad(f"is missing {', '.join(missing)}", "", f"add {missing[0]}: (see boards/zcu102.yaml)")
        out = {}
        for key, entry in value.items():
            try:
                out[key] = keys[key].check(entry)
            except _Bad as exc:
                raise _Bad(*_nested(key, exc)) from None
        return out

    return check


def _nested(key: str, exc: _Bad) -> tuple:
    """Prefix the field path of an error raised one level down."""
    message, field, hint = (*exc.args, "", "")[:3]
    return message, f"{key}.{field}" if field else key, hint


def budget_limit(value: object) -> object:
    if _is_number(value):
        if not math.isfinite(value) or value < 0 or value > MAX_RESOURCE:
            raise _Bad(f"must be a non-negative count or a percentage like 70%, got {_show(value)}")
        return value
    if isinstance(value, str):
        m = PERCENT.fullmatch(value.strip())
        if m and float(m.group(1)) <= 100:
            return value.strip()
    raise _Bad(f"must be a non-negative count or a percentage from 0% to 100%, got {_show(value)}")


RESOURCES = mapping({
    "lut": Key(integer(0, MAX_RESOURCE), True), "ff": Key(integer(0, MAX_RESOURCE), True),
    "dsp": Key(integer(0, MAX_RESOURCE), True), "bram36": Key(integer(0, MAX_RESOURCE), True),
    "uram": Key(integer(0, MAX_RESOURCE)), "slr": Key(integer(1, 8)),
})  # fmt: skip
SHELL = mapping({k: Key(integer(0, MAX_RESOURCE)) for k in RESOURCE_KEYS})
MEMORY = mapping({
    "kind": Key(text), "interfaces": Key(list_of(text)), "hbm_banks": Key(integer(0, 64)),
    "default_banks": Key(list_of(matching(BANK, "HBM[0] or DDR[1]"), 1, 2)), "bus_bits": Key(one_of(BUS_BITS)),
    "slr": Key(matching(SLR, "SLR0")), "hp_port_bits": Key(one_of(HP_PORT_BITS)),
})  # fmt: skip
BUDGET_KEYS = ("lut", "luts", "ff", "ffs", "dsp", "dsps", "bram", "bram36", "uram")
BUDGET = mapping({k: Key(budget_limit) for k in BUDGET_KEYS})
BOARD = mapping({
    "name": Key(matching(NAME, "zcu102 (lowercase, up to 32 characters)"), True),
    "description": Key(text),
    "part": Key(matching(PART, "xczu9eg-ffvb1156-2-e"), True),
    "platform": Key(matching(PLATFORM, "xilinx_u280_gen3x16_xdma_1_202211_1 or /path/to/it.xpfm"), True),
    "clock_mhz": Key(number(0, 1000, "MHz"), True),
    "flow": Key(one_of(FLOWS), True),
    "vivado_board_part": Key(matching(BOARD_PART, "xilinx.com:zcu102:part0:*")),
    "resources": Key(RESOURCES, True),
    "memory": Key(MEMORY),
    "shell": Key(SHELL),
    "budget": Key(BUDGET),
})  # fmt: skip


# ------------------------------------------------------------------ the file


class _Loader(yaml.SafeLoader):
    """SafeLoader without anchors/aliases (no alias bombs; a board needs none) or duplicate keys."""

    def compose_node(self, parent, index):  # noqa: ANN001, ANN201 (PyYAML's signature)
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(None, None, "anchors and aliases (*name) are not allowed",
                                       event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):  # noqa: ANN001, ANN201
        seen = set()
        for key_node, _ in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key in seen:
                raise yaml.MarkedYAMLError(None, None, f"duplicate key '{str(key)[:40]}'", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_board_file(path: Path) -> dict:
    """The checked contents of a board YAML file (a dict whose values have the schema's types)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise NbqError(f"{path}: board file is {size:,} bytes; a board file is a few lines (limit "
                           f"{MAX_FILE_BYTES:,} bytes)")
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)  # st_size lies for /proc files: never read more than the limit
        if len(raw) > MAX_FILE_BYTES:
            raise NbqError(f"{path}: board file is over {MAX_FILE_BYTES:,} bytes; a board file is a few lines")
    except OSError as exc:
        raise NbqError(f"{path}: cannot read the board file ({exc.strerror}); check the path") from None
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NbqError(f"{path}: not UTF-8 text (byte {exc.start}); save the board file as UTF-8") from None
    try:
        data = yaml.load(source, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise NbqError(f"{path}: not valid YAML{where} ({exc.problem or exc.context}); fix the file") from None
    except RecursionError:
        raise NbqError(f"{path}: not valid YAML (nested too deeply); a board file is a flat mapping") from None
    except (yaml.YAMLError, ValueError) as exc:
        first = (str(exc).splitlines() or ["too deeply nested"])[0][:80]
        raise NbqError(f"{path}: not valid YAML ({first}); fix the file") from None
    try:
        checked = BOARD(data)
        _check_shell(checked)
    except _Bad as exc:
        message, field, hint = (*exc.args, "", "")[:3]
        hint = hint or "fix the board file (see boards/zcu102.yaml)"
        raise NbqError(f"{path}: {field + ': ' if field else ''}{message}; {hint}") from None
    return checked


def _check_shell(data: dict) -> None:
    resources = data["resources"]
    for key, used in data.get("shell", {}).items():
        if used > resources.get(key, 0):
            raise _Bad(f"takes {used:,} but the board has {resources.get(key, 0):,}", f"shell.{key}",
                       "the shell cannot take more than resources gives")
