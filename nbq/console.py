"""What reaches the terminal: user strings made visible and inert, one console setup, warnings kept off stderr.

Names, paths and messages come from user files (ONNX names, board YAML, report.json, argv). Printed raw they
can forge lines (newline, carriage return, ANSI escapes), reorder text (bidi overrides) or crash rich
(markup such as ``[/x]``). Two helpers cover the two ways nbq prints:

- ``visible(text)``: plain text, every control / format character spelled out (``\\n``, ``\\x1b``, ``\\u202e``),
  bounded in length; for ``print``, rich ``Text`` objects and ``markup=False``.
- ``shown(text)``: ``visible`` plus rich-markup escaping; for interpolation into a markup string.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

NAME_LIMIT = 200  # characters of one user string in a line
CELL_LIMIT = 60  # in a table cell, where long names would wrap into many rows
ERROR_LIMIT = 1000  # the whole error line
MAX_NOTES = 5
_MARKER_ROOM = 24  # "…(+1,234,567,890 chars)"

# control, format (bidi overrides, zero-width), surrogate (undecodable argv bytes), private, unassigned,
# line / paragraph separators: nothing a name needs, everything a forger uses
_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    if unicodedata.category(ch) not in _UNSAFE:
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: object, limit: int = NAME_LIMIT) -> str:
    """`text` on one line with control characters spelled out, at most `limit` characters (a longer one is cut
    and says how many characters it hides)."""
    raw = str(text)
    pieces = [_escape_char(ch) for ch in raw[: limit + 1]]  # escapes only lengthen: limit + 1 chars suffice
    if sum(map(len, pieces)) <= limit and len(raw) <= limit:
        return "".join(pieces)
    room = max(limit - _MARKER_ROOM, 1)
    out: list[str] = []
    length = 0
    for piece in pieces:
        if length + len(piece) > room:
            break
        out.append(piece)
        length += len(piece)
    return "".join(out) + f"…(+{len(raw) - len(out):,} chars)"


def shown(text: object, limit: int = NAME_LIMIT) -> str:
    """`visible(text)` escaped for a rich markup string, so ``[bold]`` in a name prints as itself.

    For use between tags or before more markup (``f"[bold]{shown(name)}[/bold]"``): trailing backslashes are
    doubled so they cannot escape the tag that follows. rich.markup.escape is not exact: it drops the
    backslash of a literal ``\\[`` and of a second trailing backslash.
    """
    return _escape_markup(visible(text, limit))


_TAG_LIKE = re.compile(r"\[[a-z#/@][^[]*?]")  # what rich.markup reads as a tag (its RE_TAGS)


def _escape_markup(text: str) -> str:
    out: list[str] = []
    run = 0  # backslashes seen just before the current character
    for i, ch in enumerate(text):
        if ch == "\\":
            run += 1
            continue
        if ch == "[":
            # rich: 2k+1 backslashes before a tag give k backslashes and the tag as text; before any other
            # "[" it drops exactly one backslash
            out.append("\\" * (2 * run + 1 if _TAG_LIKE.match(text, i) else run + 1))
        else:
            out.append("\\" * run)
        out.append(ch)
        run = 0
    out.append("\\" * (2 * run))
    return "".join(out)


def cell(text: object, limit: int = CELL_LIMIT):
    """A rich Text for a table cell or title holding a user string (never parsed as markup)."""
    from rich.text import Text

    return Text(visible(text, limit))


def make_console():
    """The stdout console: no syntax highlighting or emoji codes in user strings; no ANSI codes when piped."""
    from rich.console import Console

    console = Console(highlight=False, emoji=False)
    if not console.is_terminal:  # logs and pipes: don't squeeze tables into 80 columns
        console.width = 160
    return console


def error_line(kind: str, message: object) -> str:
    """``nbq: <kind>: <message>`` as exactly one line, whatever the message holds."""
    return f"nbq: {kind}: {visible(message, ERROR_LIMIT)}"


# ------------------------------------------------------------------ warnings

# library noise about its own API, not about the user's model or data
_SILENCED = (DeprecationWarning, PendingDeprecationWarning, FutureWarning, ImportWarning, ResourceWarning)


@dataclass
class Warnings:
    """Python warnings raised during one command, kept instead of printed."""

    caught: list[warnings.WarningMessage]

    def notes(self) -> list[str]:
        """One `nbq: note:` line per distinct useful warning (at most MAX_NOTES)."""
        seen: list[str] = []
        for w in self.caught:
            if issubclass(w.category, _SILENCED):
                continue
            text = f"{w.message} ({w.category.__name__})"
            if text not in seen:
                seen.append(text)
        lines = [error_line("note", text) for text in seen[:MAX_NOTES]]
        if len(seen) > MAX_NOTES:
            lines.append(error_line("note", f"{len(seen) - MAX_NOTES} more warnings not shown"))
        return lines


@contextmanager
def captured_warnings() -> Iterator[Warnings]:
    """Record every warning raised inside (once per place) so none reaches stderr on its own."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        yield Warnings(caught)
