"""Hostile names and messages on the console: rich markup, control characters, forged lines, huge names.

Every user string nbq prints (ONNX names, paths, error messages) must come out inert and visible: markup
printed as text, newlines / ESC / CR / bidi overrides spelled out, long names cut, and an error still one
line. Generated files holding these names are the escaping part's concern (tests/test_escape.py), not here.
"""

from __future__ import annotations

import warnings

import pytest
from harness import EXAMPLE, Outcome, assert_bad_input
from hostile_names import renamed_example
from hypothesis import given, settings
from hypothesis import strategies as st

from nbq import cli
from nbq.console import shown, visible
from nbq.errors import NbqError

FORGED = "\n\x1b[32mok\x1b[0m all tests passed"


def _clean(out: Outcome) -> str:
    """Both streams, asserted free of raw control characters and of crashes."""
    text = out.stdout + out.stderr
    assert "Traceback" not in text and "internal error" not in text, out.describe()
    for raw in ("\x1b", "\r", "\u202e", "\u200b", "\ufeff"):
        assert raw not in text, f"raw {raw!r} printed:\n{out.describe()}"
    return text


def _no_forged_line(text: str, word: str = "ok") -> None:
    assert not [line for line in text.splitlines() if line.lstrip().startswith(word)], text


def _compile(sandbox, payload: str, *extra: str) -> Outcome:
    model = renamed_example(sandbox.work / "m.onnx", payload)
    sandbox.snapshot()
    out = sandbox.nbq("compile", model.name, "-o", "proj", *extra)
    assert sandbox.changed(allowed=("work/proj",)) == [], out.describe()
    return out


def test_compile_closing_tag_in_names_is_printed_not_parsed(sandbox):
    out = _compile(sandbox, "[/x]a[/")
    assert out.code == 0, out.describe()
    _clean(out)
    assert "conv[/x]a[/" in out.stdout, out.describe()  # the layer table shows the name as it is
    assert "compiled 8 layers" in out.stdout


def test_compile_bold_tag_in_names_is_printed_literally(sandbox):
    out = _compile(sandbox, "[bold]B[/bold]")
    assert out.code == 0, out.describe()
    _clean(out)
    assert "fc[bold]B[/bold]" in out.stdout, out.describe()


def test_estimate_link_tag_in_names_is_printed_literally(sandbox):
    model = renamed_example(sandbox.work / "m.onnx", "[link=https://evil.example/]L[/link]")
    out = sandbox.nbq("estimate", model.name)
    assert out.code == 0, out.describe()
    _clean(out)
    assert "fc[link=https://evil.example/]L[/link]" in out.stdout, out.describe()


def test_compile_newline_and_ansi_in_names_cannot_forge_a_line(sandbox):
    out = _compile(sandbox, FORGED)
    assert out.code == 0, out.describe()
    text = _clean(out)
    _no_forged_line(text)
    assert "fc\\n\\x1b[32mok\\x1b[0m" in out.stdout, out.describe()  # shown, spelled out


def test_compile_carriage_return_in_names_cannot_overwrite_a_line(sandbox):
    out = _compile(sandbox, "\rcompiled 0 layers")
    assert out.code == 0, out.describe()
    _clean(out)
    assert "fc\\rcompiled 0 layers" in out.stdout, out.describe()


def test_estimate_10000_character_name_is_cut(sandbox):
    model = renamed_example(sandbox.work / "m.onnx", "L" * 10_000)
    out = sandbox.nbq("estimate", model.name)
    assert out.code == 0, out.describe()
    _clean(out)
    assert "L" * 10_000 not in out.stdout and "chars)" in out.stdout, out.describe()
    assert len(out.stdout) < 30_000, len(out.stdout)  # 6 layers x 10,000 characters would be 60,000+


def test_estimate_bidi_override_and_zero_width_are_spelled_out(sandbox):
    model = renamed_example(sandbox.work / "m.onnx", "\u202eevil\u200b\ufeff")
    out = sandbox.nbq("estimate", model.name)
    assert out.code == 0, out.describe()
    _clean(out)
    assert "fc\\u202eevil\\u200b\\ufeff" in out.stdout, out.describe()


@pytest.mark.parametrize("command", ["estimate", "compile"])
def test_non_utf8_onnx_names_are_refused_in_one_line(sandbox, command):
    model = renamed_example(sandbox.work / "m.onnx", "Q" * 9)
    model.write_bytes(model.read_bytes().replace(b"Q" * 9, b"\xff\xfe\x1b[31mok"))  # same length; protobuf: bytes
    sandbox.snapshot()
    out = sandbox.nbq(command, "m.onnx", *(["-o", "proj"] if command == "compile" else []))
    assert_bad_input(out, "m.onnx", "not valid UTF-8", "\\xff\\xfe\\x1b[31mok")
    _clean(out)
    assert sandbox.changed() == []


def test_estimate_json_keeps_hostile_names_escaped(sandbox):
    model = renamed_example(sandbox.work / "m.onnx", FORGED)
    out = sandbox.nbq("estimate", model.name, "--json")
    assert out.code == 0, out.describe()
    _no_forged_line(_clean(out))
    assert "\\u001b[32mok" in out.stdout  # JSON's own escape


def test_run_hostile_output_name_is_shown_escaped(sandbox):
    import numpy as np

    model = renamed_example(sandbox.work / "m.onnx", "[/x]" + FORGED)
    np.save(sandbox.work / "x.npy", np.random.default_rng(0).uniform(0, 1, (2, 1, 8, 8)).astype(np.float32))
    sandbox.snapshot()
    out = sandbox.nbq("run", model.name, "--input", "x.npy")
    assert out.code == 0, out.describe()
    _no_forged_line(_clean(out))
    assert "logits[/x]\\n\\x1b[32mok" in out.stdout, out.describe()
    assert "within one step" in out.stdout
    assert sandbox.changed() == [], "nbq run wrote files"


def test_error_path_with_newline_markup_and_escape_is_one_line(sandbox):
    out = sandbox.nbq("compile", "no\n[red]ok\x1b[31m.onnx", "-o", "proj")
    assert_bad_input(out, "no\\n[red]ok\\x1b[31m.onnx")
    _no_forged_line(_clean(out))
    assert not (sandbox.work / "proj").exists()


def test_error_path_with_undecodable_byte_is_spelled_out(sandbox):
    out = sandbox.nbq("estimate", "bad\udcff.onnx")  # argv byte 0xff, not UTF-8
    assert_bad_input(out, "bad\\udcff.onnx")
    _clean(out)


def test_error_with_10000_character_path_is_one_bounded_line(sandbox):
    out = sandbox.nbq("estimate", "m" * 10_000 + ".onnx")
    assert_bad_input(out)
    assert len(out.stderr) < 1_200, len(out.stderr)


def test_compile_output_folder_with_markup_in_summary(sandbox):
    sandbox.snapshot()
    out = sandbox.nbq("compile", str(EXAMPLE), "-o", "proj[/x][bold]")
    assert out.code == 0, out.describe()
    _clean(out)
    assert "files in proj[/x][bold] for zcu102" in out.stdout, out.describe()
    assert out.stdout.count("proj[/x][bold]") >= 2  # the "wrote N files to" line too
    assert sandbox.changed(allowed=("work/proj[/x][bold]",)) == []


def test_piped_output_has_no_colour_codes_even_when_colour_is_allowed(sandbox):
    out = sandbox.nbq("compile", str(EXAMPLE), "-o", "proj", NO_COLOR="", TERM="xterm-256color")
    assert out.code == 0, out.describe()
    _clean(out)  # no ESC: stdout is a pipe
    assert "compiled 8 layers" in out.stdout


def test_usage_error_is_one_line_not_the_usage_block(sandbox):
    out = sandbox.nbq("compile")
    assert_bad_input(out, "required", "-o/--output", "nbq compile --help")


def test_invalid_option_value_with_escape_is_one_line(sandbox):
    out = sandbox.nbq("compile", str(EXAMPLE), "-o", "proj", "--engine", FORGED)
    assert_bad_input(out, "--engine", "invalid choice")
    _no_forged_line(_clean(out))
    assert not (sandbox.work / "proj").exists()


# ------------------------------------------------------------ in process: main's warnings and error line


def _patched(monkeypatch, body) -> None:
    monkeypatch.setattr(cli, "cmd_boards", body)  # build_parser binds the module attribute


def test_warning_before_an_error_leaves_only_the_error_line(monkeypatch, capsys):
    def body(_args):
        warnings.warn("overflow encountered in multiply", RuntimeWarning, stacklevel=1)
        raise NbqError("m.onnx: node 'fc': bad weights; fix them")

    _patched(monkeypatch, body)
    assert cli.main(["boards"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == ["nbq: error: m.onnx: node 'fc': bad weights; fix them"], err


def test_warning_in_a_successful_run_becomes_one_note_and_noise_is_silenced(monkeypatch, capsys):
    def body(_args):
        for _ in range(3):
            warnings.warn("invalid value\nencountered\x1b[31m", RuntimeWarning, stacklevel=1)
        warnings.warn("this API is deprecated", DeprecationWarning, stacklevel=1)
        return 0

    _patched(monkeypatch, body)
    assert cli.main(["boards"]) == 0
    err = capsys.readouterr().err
    assert err.splitlines() == ["nbq: note: invalid value\\nencountered\\x1b[31m (RuntimeWarning)"], err


@pytest.mark.parametrize("message", ["a\nb", "[/x] \x1b[2J", "\r\u2028\u2029x"], ids=["newline", "ansi", "separators"])
def test_error_message_with_control_characters_stays_one_line(monkeypatch, capsys, message):
    def body(_args):
        raise NbqError(message)

    _patched(monkeypatch, body)
    assert cli.main(["boards"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nbq: error: ") and visible(message) in err, repr(err)


# ------------------------------------------------------------ the escaping functions themselves

_HOSTILE_TEXT = st.text(alphabet=st.sampled_from(list("ab[]/\\=@#\n\r\t\x1b\x00\x7f\x9b\u202e\u200b\ufeff\u2028\udcff "
                                                       "éλ中🙂")), max_size=300)


@given(text=_HOSTILE_TEXT, limit=st.integers(30, 400))
@settings(max_examples=300, deadline=None)
def test_visible_is_one_bounded_line_of_printable_characters(text, limit):
    import unicodedata

    out = visible(text, limit)
    assert len(out) <= limit
    assert all(unicodedata.category(ch)[0] != "C" and ch not in "\u2028\u2029" for ch in out), repr(out)
    if len(text) <= limit // 5:  # short enough never to be cut (an escape is at most 10 characters for 1)
        assert "chars)" not in out or "chars)" in text


@given(text=_HOSTILE_TEXT)
@settings(max_examples=300, deadline=None)
def test_shown_renders_as_exactly_the_visible_text(text):
    from rich.text import Text

    # as nbq uses it, between tags: never a MarkupError, never a lost or added character
    assert Text.from_markup(f"[bold]{shown(text)}[/bold]!", emoji=False).plain == visible(text) + "!"
