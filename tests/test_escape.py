"""One escaping function per target language: hostile strings come back unchanged through the real reader
(tclsh, make, g++, Python, JSON) where one is installed, or are refused."""

from __future__ import annotations

import ast
import html
import json
import re
import shutil
import subprocess

import pytest

from nbq.backends.escape import (
    cfg_value,
    check_no_raw_strings,
    comment_text,
    cpp_string,
    html_text,
    json_value,
    label,
    make_word,
    markdown_text,
    py_string,
    sv_string,
    tcl_word,
)
from nbq.errors import InternalError

HOSTILE = [
    'plain',
    '"; system("touch PWNED"); //',
    "*/ int x; /*",
    "line\nbreak\r\n",
    "$(shell touch PWNED)",
    "}]; exec touch PWNED; puts {",
    "[exec touch PWNED]",
    "</script><script>alert(1)</script>",
    "back\\slash\\",
    "trigraph??/",
    "{unbalanced",
    "tab\tand\x00nul\x07bel",
    "unicode ± é 漢字 \u202e",
    "`backquote` 'single' #hash ;semi",
    "",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_py_string_round_trips(text):
    assert ast.literal_eval(py_string(text)) == text


@pytest.mark.parametrize("text", HOSTILE)
def test_json_value_round_trips_and_has_no_markup(text):
    encoded = json_value(text)
    assert json.loads(encoded) == text
    assert "<" not in encoded and "\n" not in encoded and encoded.isascii()


@pytest.mark.parametrize("text", HOSTILE)
def test_html_text_has_no_markup(text):
    escaped = html_text(text)
    assert not set("<>\"'") & set(escaped)
    assert html.unescape(escaped) == text


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_text_is_one_inert_line(text):
    escaped = markdown_text(text)
    assert "\n" not in escaped and "<" not in escaped and "|" not in escaped.replace("\\|", "")
    assert "`" not in escaped.replace("\\`", "")


@pytest.mark.parametrize("text", HOSTILE)
def test_label_and_comment_text_cannot_end_a_comment_or_substitute(text):
    for out in (label(text), comment_text(text)):
        assert all(" " <= ch <= "~" for ch in out)
        for bad in ("\\", "??", "{", "}", "$", "`", "\n"):
            assert bad not in out
    assert not set("\"'*;<>#|") & set(label(text))
    assert len(label("x" * 500)) <= 64


@pytest.mark.parametrize("text", HOSTILE)
def test_cpp_string_has_no_raw_quote_backslash_or_question_mark(text):
    literal = cpp_string(text)
    body = literal[1:-1]
    assert literal[0] == literal[-1] == '"'
    assert not re.search(r'(?<!\\)"', re.sub(r"\\[0-7]{3}", "", body))
    assert "?" not in body and "\n" not in body


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_cpp_string_compiles_to_the_same_bytes(tmp_path):
    lines = [f"    std::fwrite({cpp_string(t)}, 1, sizeof({cpp_string(t)}) - 1, stdout); std::putchar(0xff);"
             for t in HOSTILE]
    src = tmp_path / "t.cpp"
    src.write_text("#include <cstdio>\nint main() {\n" + "\n".join(lines) + "\n}\n")
    exe = tmp_path / "t"
    subprocess.run(["g++", "-std=c++14", "-Werror", "-o", str(exe), str(src)], check=True, capture_output=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True).stdout
    assert out.split(b"\xff")[:-1]  # 0xff is never in UTF-8 == [t.encode() for t in HOSTILE]


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_comment_text_stays_a_comment_in_cpp14(tmp_path):
    # '??/' at the end of a // comment is a backslash under -std=c++14 (trigraphs): it would swallow the
    # next line; comment_text must not let that happen.
    lines = [f"// {comment_text(t)}\n    n++;" for t in HOSTILE]
    src = tmp_path / "c.cpp"
    end = f"\n    return n == {len(HOSTILE)} ? 0 : 1;\n}}\n"
    src.write_text("int main() {\n    int n = 0;\n" + "\n".join(lines) + end)
    exe = tmp_path / "c"
    subprocess.run(["g++", "-std=c++14", "-o", str(exe), str(src)], check=True, capture_output=True)
    assert subprocess.run([str(exe)]).returncode == 0


@pytest.mark.parametrize("text", HOSTILE)
def test_sv_string_has_no_raw_quote_backquote_or_newline(text):
    body = sv_string(text)[1:-1]
    unescaped = re.sub(r"\\[0-7]{3}", "", body)
    assert '"' not in unescaped and "`" not in unescaped and "\\" not in unescaped and "\n" not in body


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="needs tclsh")
def test_tcl_word_round_trips_through_tclsh(tmp_path, tmp_path_factory):
    texts = [t for t in HOSTILE if "\x00" not in t] + ["a b", "{}", "{a}{b}", "}{", '"quoted"', "x;y", "#c"]
    script = "".join(f"puts -nonewline [binary encode hex [encoding convertto utf-8 {tcl_word(t)}]]\nputs {{}}\n"
                      for t in texts)
    (tmp_path / "t.tcl").write_text(script, encoding="utf-8")
    out = subprocess.run(["tclsh", str(tmp_path / "t.tcl")], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert [bytes.fromhex(line).decode() for line in out.stdout.splitlines()] == texts
    assert not (tmp_path / "PWNED").exists()


def test_tcl_word_is_one_word():
    assert tcl_word("xczu9eg-ffvb1156-2-e") == "{xczu9eg-ffvb1156-2-e}"
    assert tcl_word("xilinx.com:zcu102:part0:*") == "{xilinx.com:zcu102:part0:*}"
    assert tcl_word("") == "{}"
    assert tcl_word("a b") == "{a b}"
    assert tcl_word("}]; exec x; puts {")[0] == "\\"  # unbalanced: backslash form, not braces


SAFE_WORDS = ["nbq_top", "xilinx_u280_gen3x16_xdma_1_202211_1", "/opt/xilinx/platforms/p/p.xpfm", "a+b.c"]
UNSAFE_WORDS = ["$(shell touch PWNED)", "a\nb: c", "x;touch PWNED", "a#b", "`id`", "a b", "-rf", "'q'", '"q"',
                "a$$b", ""]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_word_reads_back_through_make(tmp_path):
    lines = [f"V{i} := {make_word(t)}\n$(info [$(V{i})])\n" for i, t in enumerate(SAFE_WORDS)]
    recipe = "".join(f"\t@echo '<'$(V{i})'>'\n" for i in range(len(SAFE_WORDS)))
    (tmp_path / "Makefile").write_text("".join(lines) + "all:\n" + recipe)
    out = subprocess.run(["make", "-s", "-f", "Makefile"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines_out = out.stdout.splitlines()
    assert lines_out[: len(SAFE_WORDS)] == [f"[{t}]" for t in SAFE_WORDS]
    assert lines_out[len(SAFE_WORDS):] == [f"<{t}>" for t in SAFE_WORDS]


@pytest.mark.parametrize("text", UNSAFE_WORDS)
def test_make_word_refuses_what_make_or_the_shell_would_interpret(text):
    with pytest.raises(InternalError):
        make_word(text)


@pytest.mark.parametrize("text", ["HBM[0]", "HBM[0:31]", "SLR0", "xczu9eg-ffvb1156-2-e", "DDR[1]"])
def test_cfg_value_keeps_banks_and_parts(text):
    assert cfg_value(text) == text


@pytest.mark.parametrize("text", ["HBM[0]\nslr=x:SLR2", "a#b", "a=b", "a b", "", "HBM[0];x"])
def test_cfg_value_refuses_line_breaks_comments_and_assignments(text):
    with pytest.raises(InternalError):
        cfg_value(text)


def test_check_no_raw_strings_catches_a_leaked_name():
    name = '"; system("touch PWNED"); //'
    with pytest.raises(InternalError, match="Makefile"):
        check_no_raw_strings({"a.cpp": f"// {label(name)}\n", "Makefile": f"X := {name}\n"}, [name])


def test_check_no_raw_strings_accepts_escaped_forms_and_data_files():
    names = ['"; system("touch PWNED"); //', "$(shell touch PWNED)", "ap_int<8>", "x;y"]
    files = {"a.cpp": "".join(f"// {label(n)}\n" for n in names) + f"const char* s = {cpp_string(names[0])};\n",
             "b.h": "typedef ap_int<8> t;\nint x;y;\n",
             "c.json": json.dumps(names), "d.html": html_text(names[1])}
    check_no_raw_strings(files, names)  # short ('x;y') and inactive ('ap_int<8>') names are not looked for
    # conservative: a brace-quoted TCL word is safe but still holds the raw string, so it is refused too
    # (nbq writes names into code only as labels)
    with pytest.raises(InternalError):
        check_no_raw_strings({"b.tcl": f"set x {tcl_word(names[1])}\n"}, names)


def test_templates_refuse_a_raw_control_or_non_ascii_value():
    from nbq.backends.render import render

    with pytest.raises(InternalError, match="U\\+001B"):
        render("hls", "connectivity.cfg.j2", kernel="k\x1b[2J", board="b", platform="p", xclbin="x", xo="y",
               instance="i", sp=[], slr="")
    with pytest.raises(InternalError, match="U\\+00B1"):
        render("hls", "connectivity.cfg.j2", kernel="k", board="b±", platform="p", xclbin="x", xo="y",
               instance="i", sp=[], slr="")
    assert "nk=k:1:i" in render("hls", "connectivity.cfg.j2", kernel="k", board="b", platform="p", xclbin="x",
                                xo="y", instance="i", sp=[], slr="")
