"""One function per target language that turns a user-derived string into text that language reads as
data only.

Generated files carry user strings (board fields, ONNX graph/node/tensor names, file names) only where a
human needs them to recognise something; each passes through the function for its file's language here:

- comments of any language: `label` (a name, restricted characters) or `comment_text` (a sentence);
- C++: `cpp_string`;  SystemVerilog: `sv_string`;  Python: `py_string`;  JSON: `json_value`;
- TCL: `tcl_word`;  Make: `make_word`;  v++ / HLS .cfg: `cfg_value`;
- Markdown: `markdown_text`;  HTML: `html_text`.

Functions that cannot represent every string (Make, cfg) refuse instead of guessing: they raise
InternalError, because every value nbq passes them was already checked (board schema, identifiers).
"""

from __future__ import annotations

import html
import json
import re

from nbq.errors import InternalError

LABEL_LENGTH = 64
COMMENT_LENGTH = 120

# What a name may keep in a comment, README or report label: no quote, backslash, '?', '*', '$', braces,
# '#', ';', '|', backquote or angle bracket, so no target language sees it as anything but text.
_LABEL_KEEP = re.compile(r"[^A-Za-z0-9_.,:/+= -]")


def label(name: object, max_length: int = LABEL_LENGTH) -> str:
    """A user name as a human-readable label for comments: restricted characters, bounded length."""
    text = _LABEL_KEEP.sub("_", str(name))
    return text if len(text) <= max_length else text[: max_length - 3] + "..."


def comment_text(text: object, max_length: int = COMMENT_LENGTH) -> str:
    """Text safe in a line comment of C++, SystemVerilog, TCL, Make and cfg files: printable ASCII with no
    backslash (a trailing one continues the line), no '?' (C++14 trigraph '??/' is a backslash), no braces
    (TCL counts them even in comments) and no '$' or backquote."""
    cleaned = "".join("_" if not " " <= ch <= "~" or ch in "\\?{}$`" else ch for ch in str(text))
    return cleaned[:max_length]


# ------------------------------------------------------------------ C++ / SystemVerilog / Python / JSON


def _octal_escaped(text: str, keep: str) -> str:
    """Printable ASCII except quote/backslash/`keep`-excluded kept; every other byte (UTF-8) as \\ooo.
    Three-digit octal escapes end where they end (\\x would swallow following hex digits)."""
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if 0x20 <= byte <= 0x7E and ch not in '"\\' and ch not in keep:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return "".join(out)


def cpp_string(text: str) -> str:
    """A C++ string literal with the value `text` (UTF-8 bytes); '?' escaped so no trigraph forms."""
    return '"' + _octal_escaped(text, "?") + '"'


def sv_string(text: str) -> str:
    """A SystemVerilog string literal with the value `text` (octal escapes; no backquote for macros)."""
    return '"' + _octal_escaped(text, "`") + '"'


def py_string(text: str) -> str:
    """A Python string literal with the value `text` (repr of a str is one; ast.literal_eval reads it)."""
    return repr(str(text))


def json_value(value: object) -> str:
    """A JSON value; ASCII only, and '<', '>', '&' as \\u escapes so it can sit inside HTML too."""
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# ------------------------------------------------------------------ TCL / Make / cfg

def tcl_word(text: str) -> str:
    """One TCL word whose value is `text`, with no substitution: in braces when the braces inside
    balance and there is no backslash or line break, else every special character backslash-escaped."""
    text = str(text)
    if "\\" not in text and "\n" not in text and "\r" not in text and _balanced(text):
        return "{" + text + "}"
    out = []
    for ch in text:
        if ch.isalnum() and ch.isascii():
            out.append(ch)
        elif " " <= ch <= "~":
            out.append("\\" + ch)  # a backslash before punctuation or space is the character itself
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out)


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


_MAKE_WORD = re.compile(r"[A-Za-z0-9_./+][A-Za-z0-9_./+-]*")
_CFG_VALUE = re.compile(r"[A-Za-z0-9_./:\[\]+-]+")


def make_word(text: str) -> str:
    """A Makefile value that is also one shell word in a recipe: letters, digits, '_ . / + -' only (no
    '$', '#', ';', quotes, backquote, space or newline), not starting with '-'. Anything else is refused."""
    text = str(text)
    if not _MAKE_WORD.fullmatch(text):
        raise InternalError(f"{text!r} cannot be written into a Makefile (unchecked user string)")
    return text


def cfg_value(text: str) -> str:
    """A value of a v++ / Vitis HLS .cfg line (key=value): letters, digits, '_ . / : [ ] + -' only.
    Anything else (newline, '#', '=', space) is refused."""
    text = str(text)
    if not _CFG_VALUE.fullmatch(text):
        raise InternalError(f"{text!r} cannot be written into a .cfg file (unchecked user string)")
    return text


# ------------------------------------------------------------------ Markdown / HTML

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def markdown_text(text: str, max_length: int = LABEL_LENGTH) -> str:
    """Text in Markdown (also inside a table cell): one line, HTML-escaped, Markdown specials
    backslash-escaped."""
    one_line = " ".join(str(text).split())[:max_length]
    one_line = "".join(ch if ch.isprintable() else "\ufffd" for ch in one_line)
    return html.escape(_MARKDOWN_SPECIAL.sub(r"\\\1", one_line), quote=True)


def html_text(text: object) -> str:
    """Text or an attribute value in HTML."""
    return html.escape(str(text), quote=True)


# ------------------------------------------------------------------ the post-condition

LEAK_MIN_LENGTH = 6  # shorter strings ('*', 'a+b') occur in generated code by themselves
# characters that make a string act in some target language (quotes, substitution, comment and statement
# ends); names with only others ('ap_int<8>', 'x[0]') may legitimately equal a piece of generated code
_ACTIVE = frozenset("\"'\\$`{};#?\n\r")


def check_no_raw_strings(files: dict[str, str | bytes], strings: object) -> None:
    """Defense in depth: no code file (anything but .json / .html, which json.dumps / html_text write) holds a
    user string verbatim when that string has an active character (quote, '$', brace, ';', '#', '?', line
    break) or '*/' — so a future template value that forgets its escaper fails here (InternalError, exit 3)
    instead of writing an injectable file."""
    risky = {s for s in map(str, strings) if len(s) >= LEAK_MIN_LENGTH and (_ACTIVE & set(s) or "*/" in s)}
    if not risky:
        return
    for rel, content in files.items():
        if rel.endswith((".json", ".html", ".npy", ".bin", ".onnx")):  # data, not code (.onnx: quantized.onnx)
            continue
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
        leaked = next((s for s in risky if s in text), None)
        if leaked is not None:
            raise InternalError(f"{rel}: a user string reaches the file unescaped ({leaked[:40]!r})")


def user_strings(graph: object, board: object) -> list[str]:
    """Every string of a graph (nbq.ir.Graph) and a board (nbq.board_catalog.Board) that came from the user."""
    memory = getattr(board, "memory", {}) or {}
    return [getattr(graph, "name", "") or "", getattr(graph, "source", "") or "", *getattr(graph, "tensors", {}),
            *(layer.name for layer in getattr(graph, "layers", [])),
            *(str(getattr(board, f, "")) for f in ("name", "part", "platform", "description", "vivado_board_part")),
            *map(str, memory.get("default_banks") or []), str(memory.get("slr") or "")]
