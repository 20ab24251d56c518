"""The Jinja environment for generated files: templates hold layout, Python computes every value."""

from __future__ import annotations

import re
from functools import cache

import jinja2

from nbq.errors import InternalError
from nbq.resources import data_dir

# Every value a template prints is nbq-made code or an escaped string (nbq.backends.escape): printable
# ASCII, tabs and line breaks only.  A control character or non-ASCII text means a raw user string got in.
_PLAIN = re.compile(r"[\t\n\x20-\x7e]*")


def _finalize(value: object) -> object:
    if isinstance(value, str) and not _PLAIN.fullmatch(value):
        bad = next(ch for ch in value if not _PLAIN.fullmatch(ch))
        raise InternalError(f"a template value holds U+{ord(bad):04X}: an unescaped string (use nbq.backends.escape)")
    return value


@cache
def environment(kind: str) -> jinja2.Environment:
    """The environment for templates/<kind>/ (e.g. "hls"); undefined variables are errors."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates") / kind)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        finalize=_finalize,
    )


def render(kind: str, template: str, **context: object) -> str:
    return environment(kind).get_template(template).render(**context)
