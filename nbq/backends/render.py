"""The Jinja environment for generated files: templates hold layout, Python computes every value."""

from __future__ import annotations

from functools import cache

import jinja2

from nbq.resources import data_dir


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
    )


def render(kind: str, template: str, **context: object) -> str:
    return environment(kind).get_template(template).render(**context)
