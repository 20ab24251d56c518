"""What reaches the terminal: user strings made visible and inert, one console setup, warnings kept off stderr.

Names, paths and messages come from user files (ONNX names, board YAML, report.json, argv). Printed raw they
can forge lines (newline, carriage return, ANSI escapes), reorder text (bidi overrides) or crash rich
(markup such as ``[/x]``). Two helpers cover the two ways nbq prints:

- ``visible(text)``: plain text, every control / format character spelled out (``\\n``, ``\\x1b``, ``\\u202e``),
  bounded in length; for ``print``, rich ``Text`` objects and ``markup=False``.
- ``shown(text)``: ``visible`` plus rich-markup escaping; for interpolation into a markup string.

Long steps report through ``progress_bar`` (a count: images, batches) and ``spinner`` (no count: a g++ build,
make): live on a terminal's stderr, a few plain lines in logs, never on stdout where the results go.
"""

from __future__ import annotations

import re
import sys
import threading
import time
import unicodedata
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

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

    console = Console(highlight=False, emoji=False, log_path=False)  # console.log: time, no "cli.py:85"
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


# ------------------------------------------------------------------ progress

Advance = Callable[[int, int], None]
ECHO_LIMIT = 4000  # characters of one echoed tool line on a live terminal
LOG_INTERVAL = 60.0  # seconds between the plain progress lines of a long step in a log (not a terminal)


def stderr_console():
    """The console progress displays draw on: stderr, so stdout holds only results (and pipes stay clean)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, emoji=False, log_path=False)


def plural(unit: str) -> str:
    """"image" -> "images", "batch" -> "batches" (the units progress counts in)."""
    return unit + ("es" if unit.endswith(("s", "x", "sh", "tch")) else "s")  # "epoch" -> "epochs"


def _rate(done: int, seconds: float, unit: str) -> str:
    return f"{done / seconds:,.1f} {plural(unit)}/s" if seconds > 0 and done else f"- {plural(unit)}/s"


@dataclass
class _PlainLog:
    """Progress in a log: a line when counting starts, at most one a LOG_INTERVAL, and one at the end."""

    description: str
    unit: str
    write: Callable[[str], None]
    started: float = field(default_factory=lambda: time.perf_counter())
    last_line: float | None = None
    done: int = 0
    total: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def advance(self, done: int, total: int | None) -> None:
        with self.lock:
            self.done, self.total = max(self.done, done), total  # threads may report out of order
            now = time.perf_counter()
            if self.last_line is None:
                self.last_line = now
                self.write(f"{self.description}: {self._count()} ...")
            elif now - self.last_line >= LOG_INTERVAL:
                self.last_line = now
                self.write(f"{self.description}: {self._count()}, {_rate(done, now - self.started, self.unit)}")

    def finish(self) -> None:
        seconds = time.perf_counter() - self.started
        self.write(f"{self.description}: {self._count()} in {seconds:,.1f} s "
                   f"({_rate(self.done, seconds, self.unit)})")

    def _count(self) -> str:
        total = f"/{self.total:,}" if self.total else ""
        return f"{self.done:,}{total} {plural(self.unit)}"


def _rate_column(unit: str):
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task):
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.1f}/s" if speed else "", style="progress.data.speed")

    return Rate(table_column=_no_wrap())


def _no_wrap():
    """A progress column that is cut rather than wrapped into a second line on a narrow terminal."""
    from rich.table import Column

    return Column(no_wrap=True, overflow="ellipsis")


@contextmanager
def progress_bar(description: str, total: int | None = None, unit: str = "item", *, enabled: bool = True,
                 console=None) -> Iterator[Advance]:
    """Show the progress of a counted step; yields ``advance(done, total)``, a plain callable.

    Use::

        with progress_bar("C-simulation", total=len(images), unit="image") as advance:
            run_csim(project, progress=advance)      # the library calls advance(done, total)

    ``done`` is the absolute count so far (not an increment); ``total`` may change between calls (a count
    known only once the step has started), and None or 0 means unknown. ``advance`` is cheap and thread-safe:
    call it for every item. An optional ``note=`` keyword (``advance(3, 10, note="loss 0.12")``) is shown
    beside the bar on a terminal.

    On a terminal (``console``, default stderr, ``is_terminal``) a transient bar shows the count, rate and
    time left and disappears when the step ends, so the result lines printed afterwards stand alone. In a log
    (not a terminal) it writes plain lines: one when counting starts, at most one a minute while it runs,
    one at the end with the time and rate; none when the step raises. ``enabled=False`` (``--quiet``,
    ``--no-progress``) shows nothing.
    """
    if not enabled:
        yield lambda done, total, note=None: None
        return
    console = stderr_console() if console is None else console
    name = visible(description)
    if not console.is_terminal:
        log = _PlainLog(name, unit, lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True))
        yield lambda done, total, note=None: log.advance(done, total)
        if log.last_line is not None:
            log.finish()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}", markup=False, table_column=_no_wrap()), BarColumn(bar_width=24),
               MofNCompleteColumn(table_column=_no_wrap()), TextColumn(plural(unit), table_column=_no_wrap()),
               _rate_column(unit), TimeRemainingColumn(table_column=_no_wrap()),
               TextColumn("{task.fields[note]}", markup=False, table_column=_no_wrap()))
    # stdout printed while the bar is live goes above it only when stdout is that terminal too; piped, it
    # stays on stdout (rich would send it to the bar's stderr)
    shared = bool(getattr(sys.stdout, "isatty", lambda: False)())
    with Progress(*columns, console=console, transient=True, redirect_stdout=shared) as bar:
        task = bar.add_task(name, total=total or None, note="")

        def advance(done: int, total: int | None, note: str | None = None) -> None:
            fields = {} if note is None else {"note": visible(note, CELL_LIMIT)}
            bar.update(task, completed=done, total=total or None, **fields)

        yield advance


@dataclass
class Spinner:
    """The handle `spinner` yields: ``update(message)`` replaces the status text; ``echo(line)`` prints a line
    of the step's own output (a tool's log) above the spinner, or plainly in a log."""

    update: Callable[[str], None]
    echo: Callable[[str], None]
    outcome: str = "done"  # the log's end line: "<step>: <outcome> in 12.3 s" (set it when the step failed)


@contextmanager
def spinner(description: str, *, enabled: bool = True, console=None, out=None) -> Iterator[Spinner]:
    """A step without a count (a g++ or Verilator build, a make target): a spinner with the elapsed time.

    Use::

        with spinner("g++ build of the C-simulation") as status:
            build(project, progress=status.update)   # status.update("linking") changes the text

    On a terminal (``console``, default stderr) it is transient like `progress_bar`; in a log it writes one
    line at the start and one with the elapsed time at the end (none when the step raises). ``echo(line)``
    writes a line of the step's output to ``out`` (default stdout), above a live spinner when both are the
    same terminal.
    """
    console = stderr_console() if console is None else console
    out = sys.stdout if out is None else out

    def plain(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    name = visible(description)
    if not enabled:
        yield Spinner(lambda _msg: None, plain)
        return
    if not console.is_terminal:
        def log(line: str) -> None:
            console.print(line, markup=False, highlight=False, soft_wrap=True)

        started = time.perf_counter()
        log(f"{name} ...")
        handle = Spinner(lambda _msg: None, plain)
        yield handle
        log(f"{name}: {visible(handle.outcome)} in {time.perf_counter() - started:,.1f} s")
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    shared = bool(getattr(out, "isatty", lambda: False)())  # stdout on the same terminal: print through rich
    with Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), TimeElapsedColumn(),
                  console=console, transient=True, redirect_stdout=False, redirect_stderr=False) as bar:
        task = bar.add_task(name, total=None)

        def echo(line: str) -> None:
            if shared:  # a tool's line as text: its escapes spelled out, never moving rich's cursor
                bar.console.print(visible(line, ECHO_LIMIT), markup=False, highlight=False, soft_wrap=True)
            else:
                plain(line)

        yield Spinner(lambda msg: bar.update(task, description=f"{name}: {visible(msg)}"), echo)
