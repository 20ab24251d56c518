"""nbq.console.progress_bar / spinner: live and transient on a terminal, a few plain lines in a log."""

import io
import re
import threading

import pytest
from rich.console import Console

from nbq import console as nbq_console
from nbq.console import plural, progress_bar, spinner

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _terminal() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=True, width=120), buf


def _log() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=False, width=120), buf


def test_terminal_bar_shows_count_rate_and_is_cleared():
    console, buf = _terminal()
    with progress_bar("C-simulation", total=450, unit="image", console=console) as advance:
        for done in range(0, 451, 50):
            advance(done, 450)
    raw = buf.getvalue()
    text = ANSI.sub("", raw)
    assert "C-simulation" in text and "450/450" in text and "images" in text
    assert raw.rstrip("\r\n").endswith("\x1b[2K")  # transient: the last thing drawn erases the bar line


def test_terminal_bar_note_and_changing_total():
    console, buf = _terminal()
    with progress_bar("training", unit="batch", console=console) as advance:
        advance(3, 0)  # total unknown at first
        advance(7, 20, note="epoch 2/3 loss 0.125")
    text = ANSI.sub("", buf.getvalue())
    assert "7/20" in text and "epoch 2/3 loss 0.125" in text and "batches" in text


def test_log_gets_a_start_and_an_end_line_only():
    console, buf = _log()
    with progress_bar("co-simulation", total=1000, unit="image", console=console) as advance:
        for done in range(1, 1001):
            advance(done, 1000)
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[0] == "co-simulation: 1/1,000 images ..."
    assert re.fullmatch(r"co-simulation: 1,000/1,000 images in [\d.,]+ s \([\d.,]+ images/s\)", lines[1]), lines
    assert "\x1b" not in buf.getvalue()


def test_log_repeats_at_most_once_an_interval(monkeypatch):
    clock = iter(float(t) for t in range(0, 10_000, 7))  # each call to the clock moves 7 s on
    monkeypatch.setattr(nbq_console.time, "perf_counter", lambda: next(clock))
    console, buf = _log()
    with progress_bar("C-simulation", total=100, unit="image", console=console) as advance:
        for done in range(1, 101):
            advance(done, 100)
    lines = buf.getvalue().splitlines()
    # 100 calls over ~700 s: one line when counting starts, one a minute, one at the end
    assert 8 <= len(lines) <= 14, lines
    assert lines[0].endswith("...") and " in " in lines[-1]
    assert re.fullmatch(r"C-simulation: 100/100 images in [\d,]+\.\d s \(0\.1 images/s\)", lines[-1]), lines


def test_log_prints_nothing_when_the_step_fails_before_counting():
    console, buf = _log()
    with pytest.raises(ValueError), progress_bar("C-simulation", total=5, unit="image", console=console):
        raise ValueError("bad project")
    assert buf.getvalue() == ""  # the error line stays the only line


def test_log_has_no_end_line_when_the_step_raises():
    console, buf = _log()
    with pytest.raises(RuntimeError), progress_bar("C-simulation", total=5, unit="image",
                                                    console=console) as advance:
        advance(2, 5)
        raise RuntimeError("g++ crashed")
    assert buf.getvalue().splitlines() == ["C-simulation: 2/5 images ..."]


def test_disabled_shows_nothing_and_accepts_calls():
    console, buf = _terminal()
    with progress_bar("x", total=3, console=console, enabled=False) as advance:
        advance(1, 3)
        advance(2, 3, note="n")
    assert buf.getvalue() == ""


def test_advance_from_threads():
    console, buf = _log()
    with progress_bar("images", total=400, unit="image", console=console) as advance:
        threads = [threading.Thread(target=lambda k=k: [advance(k * 100 + i, 400) for i in range(1, 101)])
                   for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(buf.getvalue().splitlines()) == 2


def test_default_console_is_stderr_not_stdout(capsys):
    with progress_bar("C-simulation", total=2, unit="image") as advance:
        advance(1, 2)
        advance(2, 2)
    out, err = capsys.readouterr()
    assert out == "" and "C-simulation: 2/2 images in" in err


def test_hostile_description_is_escaped():
    console, buf = _log()
    with progress_bar("layer\n\x1b[31mforged", total=1, console=console) as advance:
        advance(1, 1)
    assert "\x1b" not in buf.getvalue() and len(buf.getvalue().splitlines()) == 2
    assert "\\n\\x1b[31mforged" in buf.getvalue()


def test_spinner_in_a_log_two_lines_and_echo_to_out():
    console, buf = _log()
    out = io.StringIO()
    with spinner("make csynth", console=console, out=out) as status:
        status.update("running")
        status.echo("INFO: [HLS 200-10] Analyzing design file")
    lines = buf.getvalue().splitlines()
    assert lines[0] == "make csynth ..." and re.fullmatch(r"make csynth: done in [\d.,]+ s", lines[1])
    assert out.getvalue() == "INFO: [HLS 200-10] Analyzing design file\n"


def test_spinner_on_a_terminal_is_transient_and_echoes_above():
    console, buf = _terminal()
    out = io.StringIO()  # stdout piped: the tool's lines go there untouched
    with spinner("g++ build", console=console, out=out) as status:
        status.update("linking")
        status.echo("a line")
    text = ANSI.sub("", buf.getvalue())
    assert "g++ build" in text and out.getvalue() == "a line\n"
    assert buf.getvalue().rstrip("\r\n").endswith("\x1b[2K")


def test_spinner_disabled_still_echoes():
    console, buf = _terminal()
    out = io.StringIO()
    with spinner("make", console=console, out=out, enabled=False) as status:
        status.update("x")
        status.echo("tool output")
    assert buf.getvalue() == "" and out.getvalue() == "tool output\n"


def test_plural():
    assert [plural(u) for u in ("image", "batch", "epoch", "pass")] == ["images", "batches", "epochs", "passes"]


def test_piped_stdout_printed_during_a_live_bar_stays_on_stdout(capsys):
    console, buf = _terminal()
    with progress_bar("C-simulation", total=2, unit="image", console=console) as advance:
        advance(1, 2)
        print("a result line")
        advance(2, 2)
    assert capsys.readouterr().out == "a result line\n" and "a result line" not in buf.getvalue()
